"""Atomic checkpoints and RNG capture."""

import random

import numpy as np
import torch

from segpipe.training.checkpoint import (
    capture_rng_state,
    delete_checkpoints,
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


class Planted:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (exec, ("open('PLANTED_RAN', 'w').write('yes')",))


def test_foreign_newer_files_are_skipped_and_kept_and_run_no_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    save_checkpoint(tmp_path, 1, {"iteration": 1})
    (tmp_path / "checkpoint_00000002.pt").write_bytes(b"garbage")
    torch.save([1, 2, 3], tmp_path / "checkpoint_00000003.pt")
    torch.save({"format": "segpipe-checkpoint", "version": 1, "planted": Planted()}, tmp_path / "checkpoint_00000004.pt")
    state = load_latest_checkpoint(tmp_path)
    assert state is not None and state["iteration"] == 1  # the newest checkpoint that is ours
    assert not (tmp_path / "PLANTED_RAN").exists()
    assert capsys.readouterr().err.count("skipping") == 3
    delete_checkpoints(tmp_path)
    assert [p.name for p in list_checkpoints(tmp_path)] == [f"checkpoint_0000000{i}.pt" for i in (2, 3, 4)]
    assert load_latest_checkpoint(tmp_path) is None


def test_rng_state_round_trip():
    seed_everything(3)
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
