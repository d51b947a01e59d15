"""Training checkpoints: written atomically, found again after a crash, loaded without unpickling code.

A checkpoint is a ``torch.save`` dictionary of plain data (tensors, numbers, strings, lists and
dictionaries; random generator states are stored as such) marked with :data:`FORMAT`, written to a
temporary file and moved into place, so a run killed at any moment (even ``kill -9`` during the
write) leaves the previous checkpoint intact. It is read back with ``torch.load(weights_only=True)``:
a planted file runs no code. :func:`load_latest_checkpoint` returns the newest checkpoint that is
ours; newer files that are not (unreadable, foreign, truncated) are reported and left alone, so a
stray file never costs the valid checkpoints.
"""

from __future__ import annotations

import random
import re
import sys
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.io.atomic import write_atomically

#: The checkpoint directory inside a run directory.
CHECKPOINT_DIR = "checkpoints"
#: Marker of segpipe's checkpoints.
FORMAT = "segpipe-checkpoint"
VERSION = 1
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
        Plain data (state dicts, :func:`capture_rng_state`, numbers, lists, strings).
    keep
        How many checkpoints to keep, newest first (at least 1).
    """
    payload = {"format": FORMAT, "version": VERSION, **state}
    path = write_atomically(checkpoint_path(directory, iteration), lambda temporary: torch.save(payload, temporary))
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


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``path`` if segpipe wrote it (this version), else None. Never unpickles code."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
        return None
    return state


def load_latest_checkpoint(directory: str | PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The newest checkpoint in ``directory`` that segpipe wrote, or None when there is none.

    Newer files that are not segpipe checkpoints (unreadable, truncated, foreign, of another
    version) are named on standard error and skipped; they are not deleted.
    """
    for path in reversed(list_checkpoints(directory)):
        state = read_checkpoint(path, map_location)
        if state is not None:
            return state
        print(f"segpipe: skipping {path}: not a checkpoint of this segpipe version (unreadable, foreign or "
              "truncated); resuming from an older one if there is one", file=sys.stderr)
    return None


def delete_checkpoints(directory: str | PathLike[str]) -> None:
    """Delete the segpipe checkpoints in ``directory`` (files that are not ours are left alone)."""
    for path in list_checkpoints(directory):
        if read_checkpoint(path) is not None:
            path.unlink()


def capture_rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's random generators, as plain data."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generators captured by :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
