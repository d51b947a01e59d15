"""The trained HybridGNet file: weights plus everything needed to decode without the config.

``model.pt`` holds the architecture, the landmark template and the weights (which include the
mean training shape, the model's shape prior and the evaluation's baseline); it is written
atomically.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from segpipe.errors import InputError
from segpipe.io.atomic import write_atomically
from segpipe.networks.graph import GraphTemplate
from segpipe.networks.hybridgnet import HybridGNet, HybridGNetConfig

_FORMAT = "segpipe-hybridgnet-1"


@dataclass
class TrainedModel:
    """A HybridGNet ready to decode.

    Attributes
    ----------
    model
        The network, in evaluation mode.
    iterations
        Training iterations done.
    """

    model: HybridGNet
    iterations: int

    @property
    def mean_shape(self) -> np.ndarray:
        """``(n, 2)`` mean normalised landmarks of the training set (the model's shape prior)."""
        return self.model.mean_shape.detach().cpu().double().numpy()


def save_model(path: str | PathLike[str], model: HybridGNet, iterations: int) -> Path:
    """Write ``model`` with its template and architecture, atomically."""
    state = {
        "format": _FORMAT,
        "config": model.config.to_dict(),
        "template": model.template.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "iterations": int(iterations),
    }
    return write_atomically(path, lambda temporary: torch.save(state, temporary))


def load_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> TrainedModel:
    """Read a file written by :func:`save_model`.

    Raises
    ------
    InputError
        If the file is missing or not a segpipe HybridGNet model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", where=path, fix="run `segpipe train-landmarks` first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("format") != _FORMAT:
            raise KeyError("format")
        template = GraphTemplate.from_dict(state["template"], source=str(path))
        model = HybridGNet(template, HybridGNetConfig(**state["config"]))
        model.load_state_dict(state["state_dict"])
    except (KeyError, RuntimeError, AttributeError, TypeError, ValueError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise InputError(
            f"not a HybridGNet model written by segpipe ({type(exc).__name__}: {exc})",
            where=path,
            fix="pass the model.pt written by `segpipe train-landmarks`",
        ) from exc
    return TrainedModel(model.to(device).eval(), int(state["iterations"]))
