"""Where networks run: the one turn of a ``device`` setting into a torch device."""

from __future__ import annotations

import torch

from segpipe.errors import ConfigError

#: Values of every ``device`` setting.
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(setting: str, *, key: str) -> torch.device:
    """Turn a ``device`` setting (``auto``, ``cpu``, ``cuda``) into a torch device.

    ``auto`` picks CUDA when it is available.

    Parameters
    ----------
    setting
        The setting's value.
    key
        The setting's key (``train.device``, ``predict.device``, ``decode.train.device``), for messages.

    Raises
    ------
    ConfigError
        If ``cuda`` is asked for on a machine without a CUDA device, or the value is unknown.
    """
    if setting not in DEVICES:
        raise ConfigError(f"'{key}' is {setting!r}", fix=f"use one of: {', '.join(DEVICES)}")
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"'{key}' is 'cuda' but no CUDA device is available", fix=f"set '{key}' to 'auto' or 'cpu'")
    return torch.device(setting)
