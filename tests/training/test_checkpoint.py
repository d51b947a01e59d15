"""Atomic checkpoints and RNG capture."""

import random

import numpy as np
import pytest
import torch

from segpipe.errors import InputError
from segpipe.training.checkpoint import (
    capture_rng_state,
    list_checkpoints,
    load_latest_checkpoint,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)


def test_keeps_newest_and_loads_latest(tmp_path):
    for iteration in (10, 20, 30):
        save_checkpoint(tmp_path, iteration, {"iteration": iteration}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_00000020.pt", "checkpoint_00000030.pt"]
    assert load_latest_checkpoint(tmp_path)["iteration"] == 30


def test_partial_temporary_file_is_ignored(tmp_path):
    save_checkpoint(tmp_path, 5, {"iteration": 5})
    (tmp_path / ".checkpoint_00000010.tmp-999.pt").write_bytes(b"half written")
    assert load_latest_checkpoint(tmp_path)["iteration"] == 5


def test_empty_directory_has_no_checkpoint(tmp_path):
    assert load_latest_checkpoint(tmp_path / "absent") is None


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint_00000001.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="delete this file"):
        load_latest_checkpoint(tmp_path)


def test_rng_state_round_trip():
    seed_everything(3)
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
