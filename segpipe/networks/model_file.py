"""``model.pt``: trained weights plus everything inference needs to use them.

The file is a ``torch.save`` dictionary holding plain data only (no pickled classes), so it loads
with ``torch.load(weights_only=True)``::

    {"format": "segpipe-model", "version": 1, "state_dict": ..., "network": NetworkSpec.to_dict(),
     "patch_size": [..] or None, "normalisation": "zscore", "run_id": "...", "label_type": "...",
     "iterations": N, "segpipe_version": "..."}
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from segpipe import __version__
from segpipe.errors import InputError
from segpipe.io.atomic import write_atomically
from segpipe.networks.factory import NetworkSpec, build_network

FORMAT = "segpipe-model"
VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    """What a trained model expects and how it was trained.

    Attributes
    ----------
    network
        Architecture, dimension, channels and output mode.
    patch_size
        Training patch size (inference then uses a sliding window of this size), or ``None`` when
        the model was trained on whole images.
    normalisation
        Intensity normalisation of the images it was trained on (``preprocess.normalisation``).
    run_id
        Identifier of the training run.
    label_type
        Label type it was trained on.
    iterations
        Number of training iterations.
    """

    network: NetworkSpec
    patch_size: tuple[int, ...] | None
    normalisation: str
    run_id: str
    label_type: str
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-data representation stored in ``model.pt``."""
        return {
            "network": self.network.to_dict(),
            "patch_size": None if self.patch_size is None else list(self.patch_size),
            "normalisation": self.normalisation,
            "run_id": self.run_id,
            "label_type": self.label_type,
            "iterations": self.iterations,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Inverse of :meth:`to_dict`."""
        patch = data["patch_size"]
        return cls(
            network=NetworkSpec.from_dict(data["network"]),
            patch_size=None if patch is None else tuple(int(p) for p in patch),
            normalisation=data["normalisation"],
            run_id=data["run_id"],
            label_type=data["label_type"],
            iterations=int(data["iterations"]),
        )


def save_model(path: str | PathLike[str], network: torch.nn.Module, info: ModelInfo) -> Path:
    """Write the network's weights and ``info`` to ``path``, atomically.

    Parameters
    ----------
    path
        Destination (``RUN_DIR/model.pt``).
    network
        Trained network (its weights are copied to the CPU).
    info
        Description stored beside the weights.
    """
    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "segpipe_version": __version__, "state_dict": state, **info.to_dict()}
    return write_atomically(path, lambda temporary: torch.save(payload, temporary))


def load_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """Read ``model.pt`` and return the network (in eval mode, on ``device``) with its description.

    Raises
    ------
    InputError
        If the file is missing or was not written by :func:`save_model`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", where=path, fix="train the run first: `segpipe train ... --out RUN_DIR`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"cannot read the model file ({type(exc).__name__}: {exc})", where=path,
            fix="delete it and train the run again",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError("not a segpipe model file", where=path, fix="pass the model.pt written by `segpipe train`")
    if payload.get("version") != VERSION:
        raise InputError(
            f"model format version {payload.get('version')} is not supported (expected {VERSION})", where=path,
            fix="train the run again with this segpipe version",
        )
    info = ModelInfo.from_dict(payload)
    network = build_network(info.network)
    network.load_state_dict(payload["state_dict"])
    return network.to(device).eval(), info
