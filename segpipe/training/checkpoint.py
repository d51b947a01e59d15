"""Training checkpoints: written atomically, found again after a crash.

A checkpoint is a ``torch.save`` dictionary written to a temporary file and moved into place, so a
run killed at any moment (even ``kill -9`` during the write) leaves the previous checkpoint intact.
Trainers resume from :func:`load_latest_checkpoint`.
"""

from __future__ import annotations

import random
import re
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.errors import InputError
from segpipe.io.atomic import write_atomically

_NAME = re.compile(r"^checkpoint_(\d+)\.pt$")


def checkpoint_path(directory: str | PathLike[str], iteration: int) -> Path:
    """Path of the checkpoint taken after ``iteration`` iterations."""
    return Path(directory) / f"checkpoint_{iteration:08d}.pt"


def save_checkpoint(directory: str | PathLike[str], iteration: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as the checkpoint of ``iteration`` and delete all but the newest ``keep``.

    Parameters
    ----------
    directory
        Checkpoint directory (created if needed).
    iteration
        Number of completed iterations; orders checkpoints.
    state
        Anything ``torch.save`` accepts (model and optimizer state dicts, RNG states, ...).
    keep
        How many checkpoints to keep, newest first (at least 1).
    """
    path = write_atomically(checkpoint_path(directory, iteration), lambda temporary: torch.save(state, temporary))
    for old in list_checkpoints(directory)[:-max(1, keep)]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | PathLike[str]) -> list[Path]:
    """Checkpoints in ``directory``, oldest first (temporary files are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found)]


def load_latest_checkpoint(directory: str | PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load the newest checkpoint in ``directory``, or return ``None`` when there is none.

    Raises
    ------
    InputError
        If the newest checkpoint cannot be read (it was not written by segpipe).
    """
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        return None
    newest = checkpoints[-1]
    try:
        return torch.load(newest, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise InputError(
            f"cannot read checkpoint ({exc})", where=newest, fix="delete this file to resume from the previous checkpoint"
        ) from exc


def capture_rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's random generators."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generators captured by :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
