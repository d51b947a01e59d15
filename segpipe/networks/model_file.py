"""``model.pt``: the one model-file format, for every network segpipe trains.

A trained segmentation network (MONAI UNet or DynUNet) and a trained HybridGNet are written the same
way: a ``torch.save`` dictionary of plain data only (no pickled classes), read back with
``torch.load(weights_only=True)``, so that loading a planted or foreign file runs no code::

    {"format": "segpipe-model", "version": 2, "segpipe_version": "...", "state_dict": {...},
     "network": {"name": "unet" | "dynunet" | "hybridgnet", ...},   # the spec that rebuilds it
     "run_id": "...", "label_type": "...", "iterations": N,
     "patch_size": [..] or None, "normalisation": "zscore" or None}

``network`` is :meth:`NetworkSpec.to_dict` for MONAI networks and :meth:`HybridGNetSpec.to_dict`
(architecture and landmark template) for HybridGNet, whose weights include the mean training
shape (its shape prior and the landmark evaluation's baseline).
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
from segpipe.networks.factory import NetworkSpec
from segpipe.networks.hybridgnet import HybridGNetSpec

FORMAT = "segpipe-model"
VERSION = 2


def spec_from_dict(data: dict[str, Any], *, source: str = "model file") -> NetworkSpec | HybridGNetSpec:
    """The network spec a model file's ``network`` entry describes."""
    if data.get("name") == HybridGNetSpec.name:
        return HybridGNetSpec.from_dict(data, source=source)
    return NetworkSpec.from_dict(data)


@dataclass(frozen=True)
class ModelInfo:
    """What a trained model is and how it was trained.

    Attributes
    ----------
    network
        The spec that rebuilds the network (architecture, dimension, channels, output mode; for
        HybridGNet the landmark template too).
    run_id
        Identifier of the training run.
    label_type
        Label type it was trained on (``"landmarks"`` for HybridGNet).
    iterations
        Number of training iterations.
    patch_size
        Training patch size (inference then uses a sliding window of this size), or ``None`` when
        the model was trained on whole images.
    normalisation
        Intensity normalisation of the images it was trained on (``preprocess.normalisation``);
        ``None`` when the network prepares its own input (HybridGNet).
    """

    network: NetworkSpec | HybridGNetSpec
    run_id: str
    label_type: str
    iterations: int
    patch_size: tuple[int, ...] | None = None
    normalisation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data representation stored in ``model.pt``."""
        return {
            "network": self.network.to_dict(),
            "run_id": self.run_id,
            "label_type": self.label_type,
            "iterations": self.iterations,
            "patch_size": None if self.patch_size is None else list(self.patch_size),
            "normalisation": self.normalisation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model file") -> ModelInfo:
        """Inverse of :meth:`to_dict`."""
        patch = data["patch_size"]
        return cls(
            network=spec_from_dict(data["network"], source=source),
            run_id=data["run_id"],
            label_type=data["label_type"],
            iterations=int(data["iterations"]),
            patch_size=None if patch is None else tuple(int(p) for p in patch),
            normalisation=data["normalisation"],
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

    Only plain data is unpickled (``weights_only=True``): a file that is not ours is refused
    without running any of its code.

    Raises
    ------
    InputError
        If the file is missing, unreadable, or was not written by :func:`save_model` of this version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", where=path, fix="train the run first (`segpipe train` or `segpipe train-landmarks`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"cannot read the model file safely ({type(exc).__name__}: {exc})", where=path,
            fix="delete it and train the run again",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError("not a segpipe model file", where=path, fix="pass the model.pt written by `segpipe train`")
    if payload.get("version") != VERSION:
        raise InputError(
            f"model format version {payload.get('version')} is not supported (expected {VERSION})", where=path,
            fix="train the run again with this segpipe version",
        )
    try:
        info = ModelInfo.from_dict(payload, source=str(path))
        network = info.network.build()
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"the model file is incomplete or does not fit its network ({type(exc).__name__}: {exc})", where=path,
            fix="delete it and train the run again",
        ) from exc
    return network.to(device).eval(), info


def load_segmentation_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """:func:`load_model` for a segmentation network (MONAI UNet or DynUNet); another model is a clear error."""
    network, info = load_model(path, device)
    if not isinstance(info.network, NetworkSpec):
        raise InputError(
            f"this is a {info.network.name} model, not a segmentation network", where=path,
            fix="decode it with `segpipe decode --model`, or pass a model.pt written by `segpipe train`",
        )
    return network, info


def load_landmark_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """:func:`load_model` for a HybridGNet; another model is a clear error."""
    network, info = load_model(path, device)
    if not isinstance(info.network, HybridGNetSpec):
        raise InputError(
            f"this is a {info.network.name} segmentation network, not a HybridGNet", where=path,
            fix="predict with it using `segpipe predict`, or pass a model.pt written by `segpipe train-landmarks`",
        )
    return network, info
