"""Training: outputs, losses and their extras hooks, deterministic batches, resume after kill -9, errors."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import TINY, merge

from segpipe.cli import main
from segpipe.datasets.cases import load_case, save_case
from segpipe.datasets.manifest import Manifest
from segpipe.errors import ConfigError
from segpipe.networks.model_file import load_model
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case
from segpipe.training.checkpoint import list_checkpoints, save_checkpoint
from segpipe.training.losses import LossTerm, Progress, TermContext, build_loss, register_term
from segpipe.training.losses.registry import TERMS
from segpipe.training.segmentation import train

RUN = "unet.dice_ce.accurate.large.plain.s0"


def test_train_writes_log_and_model(tmp_path, dataset_2d, make_config, one_thread):
    config = make_config()
    model_path = train(config, dataset_2d, RUN, tmp_path, show_progress=False)
    assert model_path == tmp_path / "model.pt"
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert list(log.columns) == ["iteration", "loss", "loss_dice_ce", "lr", "seconds", "val_dice"]
    assert log["iteration"].tolist() == list(range(1, 13))
    assert np.allclose(log["loss"], log["loss_dice_ce"])  # one term of weight 1
    assert log["lr"].iloc[0] == pytest.approx(0.01) and log["lr"].is_monotonic_decreasing  # poly decay
    assert log["val_dice"].notna().tolist() == [i in (6, 12) for i in range(1, 13)]
    assert log["val_dice"].dropna().between(0, 1).all() and (log["seconds"] > 0).all()
    assert not (tmp_path / "checkpoints").exists()  # removed once training completed
    network, info = load_model(model_path)
    assert (info.run_id, info.label_type, info.iterations, info.patch_size) == (RUN, "accurate", 12, (16, 16))
    assert (info.network.dimensions, info.network.in_channels, info.network.output) == (2, 3, "sigmoid")
    assert info.normalisation == "zscore"
    assert not network.training


def test_softmax_whole_image_3d(tmp_path, dataset_3d, make_config, one_thread):
    config = make_config({"train": {"output": "softmax", "patch_size": None, "iterations": 3, "validate_every": None,
                                    "network": {"name": "dynunet"}, "lr_schedule": "cosine", "optimizer": "sgd"}})
    train(config, dataset_3d, "dynunet.dice_ce.noisy.small.plain.s1", tmp_path, show_progress=False)
    network, info = load_model(tmp_path / "model.pt")
    assert (info.network.dimensions, info.network.in_channels, info.network.out_channels) == (3, 1, 2)
    assert info.patch_size is None and info.label_type == "noisy"
    assert network(torch.zeros(1, 1, 20, 24, 28)).shape == (1, 2, 20, 24, 28)
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert log["val_dice"].notna().tolist() == [False, False, True]  # only at the end


def test_softmax_matches_sigmoid_on_equivalent_logits():
    """softmax over (0, x) equals sigmoid(x): the region terms must agree between the output modes."""
    logits = torch.randn(2, 1, 8, 8)
    label = (torch.rand(2, 1, 8, 8) > 0.5).float()
    batch, progress = {"label": label}, Progress(1, 10)
    losses = {"mix": {"terms": [{"name": "dice_ce"}, {"name": "dice", "weight": 2.0}, {"name": "ce", "weight": 0.5}]}}
    sigmoid = build_loss("mix", losses, TermContext("sigmoid", 2, "accurate"))(logits, batch, progress)
    softmax = build_loss("mix", losses, TermContext("softmax", 2, "accurate"))(torch.cat([torch.zeros_like(logits), logits], 1), batch, progress)
    assert sigmoid.terms == pytest.approx(softmax.terms, rel=1e-5)
    assert float(sigmoid.total) == pytest.approx(sigmoid.terms["dice_ce"] + 2 * sigmoid.terms["dice"] + 0.5 * sigmoid.terms["ce"], rel=1e-6)
    assert sigmoid.weights == {"dice_ce": 1.0, "dice": 2.0, "ce": 0.5}


def test_loss_definition_errors():
    context = TermContext("sigmoid", 2, "accurate")
    with pytest.raises(ConfigError, match="(?s)unknown option.*'sigma'.*allowed options: batch, include_background, smooth"):
        build_loss("x", {"x": {"terms": [{"name": "dice", "sigma": 1}]}}, context)
    with pytest.raises(ConfigError, match="not defined under 'losses'"):
        build_loss("missing", {"x": {"terms": [{"name": "dice"}]}}, context)
    with pytest.raises(ConfigError, match="registered terms"):
        build_loss("x", {"x": {"terms": [{"name": "nope"}]}}, context)
    with pytest.raises(ConfigError, match="non-negative number"):
        build_loss("x", {"x": {"terms": [{"name": "dice", "weight": -1}]}}, context)
    repeated = build_loss("x", {"x": {"terms": [{"name": "dice"}, {"name": "dice", "batch": True}]}}, context)
    assert repeated.keys == ["dice", "dice_2"]


class _ExtrasProbe(LossTerm):
    """A test term that exercises both CPU hooks and checks what reaches the loss."""

    name = "test_extras_probe"
    requires = ("probe_case", "probe_sample")
    seen: list[dict[str, torch.Tensor]] = []

    def __init__(self, context: TermContext, *, factor: float = 2.0) -> None:
        super().__init__(context)
        self.factor = factor

    def case_extras(self, case, label: np.ndarray) -> dict[str, np.ndarray]:
        return {"probe_case": label.astype(np.float32) * self.factor}  # on the case grid; cropped with the label

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"probe_sample": np.array([sample["label"].sum()], dtype=np.float32)}

    def forward(self, logits, batch, progress):
        type(self).seen.append({key: value.clone() for key, value in batch.items()} | {"progress": progress})
        return logits.mean() * 0  # adds nothing to the loss (a term with weight 0 would not be called)


@pytest.fixture
def probe_term():
    register_term(_ExtrasProbe)
    _ExtrasProbe.seen = []
    yield _ExtrasProbe
    TERMS.unregister(_ExtrasProbe.name)


def test_loss_extras_hooks_reach_the_batch(tmp_path, dataset_2d, make_config, probe_term, one_thread):
    config = make_config({"train": {"iterations": 3, "validate_every": None}})
    # the schema lists the built-in terms only: add the test's term after validation
    config["losses"]["probe"] = {"terms": [{"name": "dice_ce"}, {"name": "test_extras_probe", "weight": 1.0, "factor": 3.0}]}
    train(config, dataset_2d, "unet.probe.accurate.large.plain.s0", tmp_path, show_progress=False)
    assert [batch["progress"] for batch in probe_term.seen] == [Progress(i, 3) for i in (1, 2, 3)]
    for batch in probe_term.seen:
        assert batch["probe_case"].shape == batch["label"].shape == (2, 1, 16, 16)
        assert torch.equal(batch["probe_case"], batch["label"] * 3.0)  # cropped and flipped like the label
        assert torch.equal(batch["probe_sample"][:, 0], batch["label"].sum(dim=(1, 2, 3)))
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert "loss_test_extras_probe" in log.columns and np.allclose(log["loss"], log["loss_dice_ce"])


def _cases(shape=(30, 34), count=3, density=0.03):
    rng = np.random.default_rng(1)
    return [
        make_training_case(str(i), rng.standard_normal((1, *shape)).astype(np.float32),
                           (rng.random(shape) < density).astype(np.uint8), {}, (16, 16))
        for i in range(count)
    ]


def test_batches_depend_only_on_seed_and_iteration():
    settings = SamplingSettings(batch_size=4, patch_size=(16, 16), divisor=4)
    first, second = BatchSource(_cases(), settings, (16, 16), 7), BatchSource(_cases(), settings, (16, 16), 7)
    later = second[9]  # drawn out of order, after nothing else
    assert all(torch.equal(first[9][key], later[key]) for key in later)
    assert not torch.equal(first[9]["image"], first[10]["image"])
    assert not torch.equal(first[9]["image"], BatchSource(_cases(), settings, (16, 16), 8)[9]["image"])


def test_foreground_oversampling_centres_patches_on_foreground():
    settings = SamplingSettings(batch_size=3, patch_size=(16, 16), divisor=4, foreground_oversampling=0.34)
    assert settings.forced_foreground == 1
    source = BatchSource(_cases(shape=(64, 64), density=0.002), settings, (16, 16), 0)
    forced = [source[i]["label"][2].sum().item() for i in range(1, 40)]
    assert min(forced) > 0  # the last sample of every batch contains foreground
    free = [source[i]["label"][0].sum().item() for i in range(1, 40)]
    assert min(free) == 0  # sparse foreground: uniform crops often miss it


def _segpipe(*args: str) -> list[str]:
    return [sys.executable, "-m", "segpipe.cli", *args]


def test_kill_9_then_rerun_resumes_and_matches_uninterrupted(tmp_path, dataset_2d, config_file, one_thread):
    overrides = {"train": {"iterations": 150, "batch_size": 4, "patch_size": [32, 32], "checkpoint_every": 10,
                           "validate_every": 40}}
    config = config_file(overrides)
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    command = _segpipe("train", "--config", str(config), "--manifest", str(dataset_2d), "--run", RUN,
                       "--out", str(killed_dir), "--threads", "1", "--no-progress")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list_checkpoints(killed_dir / "checkpoints") and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    assert process.poll() is None, "training ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "model.pt").exists() and not (killed_dir / "train_log.csv").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    iteration = int(resumed.stderr.split("resuming " + RUN + " from iteration ")[1].split()[0])
    assert 10 <= iteration < 150 and iteration % 10 == 0

    train(yaml.safe_load(config.read_text()), dataset_2d, RUN, clean_dir, show_progress=False)
    weights = torch.load(killed_dir / "model.pt", weights_only=True)["state_dict"]
    reference = torch.load(clean_dir / "model.pt", weights_only=True)["state_dict"]
    assert weights.keys() == reference.keys()
    assert all(torch.equal(weights[key], reference[key]) for key in weights)
    logs = [pd.read_csv(d / "train_log.csv").drop(columns="seconds") for d in (killed_dir, clean_dir)]
    pd.testing.assert_frame_equal(*logs)


def test_checkpoint_from_other_settings_is_discarded(tmp_path, dataset_2d, make_config, one_thread, capsys):
    config = make_config({"train": {"iterations": 20}})
    checkpoints = tmp_path / "checkpoints"
    save_checkpoint(checkpoints, 10, {"iteration": 10, "fingerprint": "other settings"})
    train(config, dataset_2d, RUN, tmp_path, show_progress=False)
    assert "written with other settings or data; starting over" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "train_log.csv")) == 20


def test_changed_training_data_is_not_resumed(tmp_path, dataset_2d, make_config, one_thread, capsys):
    """Checkpoints carry checksums of the preprocessed training cases: new labels mean a new run."""
    data = tmp_path / "data"
    shutil.copytree(dataset_2d.parent, data)
    config = make_config({"train": {"iterations": 20, "checkpoint_every": 10}})
    with mock.patch("segpipe.training.loop.shutil.rmtree"):  # keep the checkpoint of iteration 10
        train(config, data / "manifest.json", RUN, tmp_path / "run", show_progress=False)
        train(config, data / "manifest.json", RUN, tmp_path / "run", show_progress=False)
    assert "resuming " + RUN + " from iteration 10" in capsys.readouterr().err  # same data: resumed
    case = next(c for c in Manifest.load(data / "manifest.json").training_cases("large"))
    stored = load_case(data / case.data)
    stored.labels["accurate"] = 1 - stored.labels["accurate"]  # labels replaced, preprocessed again
    save_case(data / case.data, stored)
    train(config, data / "manifest.json", RUN, tmp_path / "run", show_progress=False)
    assert "written with other settings or data; starting over" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("run", "overrides", "message"),
    [
        ("dice_ce.accurate.large", {}, "malformed run identifier"),
        ("unet.dice_ce.accurate.large.fancy.s0", {}, "framework 'fancy'"),
        ("unet.other.accurate.large.plain.s0", {}, "loss 'other' is not defined"),
        ("unet.dice_ce.accurate.medium.plain.s0", {}, "training set 'medium'"),
        (RUN, {"train": {"patch_size": [15, 16]}}, "not divisible by 4"),
        (RUN, {"train": {"patch_size": [16, 16, 16]}}, "has 3 values but the images are 2-D"),
        (RUN, {"train": {"network": {"strides": [2]}}}, "one stride per down-sampling step"),
    ],
)
def test_bad_run_or_settings_are_clear_errors(tmp_path, dataset_2d, capsys, run, overrides, message):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(merge(TINY, overrides)))  # `segpipe train` validates it
    status = main(["train", "--config", str(config), "--manifest", str(dataset_2d), "--run", run,
                   "--out", str(tmp_path / "run"), "--threads", "1"])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "model.pt").exists()


def test_label_type_missing_from_manifest(tmp_path, dataset_2d, config_file, capsys):
    manifest = Manifest.load(dataset_2d)
    manifest.label_types = ["accurate"]
    narrowed = manifest.save(dataset_2d.parent / "narrowed_manifest.json")
    status = main(["train", "--config", str(config_file()), "--manifest", str(narrowed),
                   "--run", "unet.dice_ce.pseudo.large.plain.s0", "--out", str(tmp_path), "--threads", "1"])
    assert status == 2 and "trains on 'pseudo' labels, but the manifest has only accurate" in capsys.readouterr().err


def test_training_without_validation_cases_says_so(tmp_path, dataset_2d, make_config, capsys, one_thread):
    # Issue 18.10: a data set without validation cases trained without validation and without a word.
    manifest = Manifest.load(dataset_2d)
    manifest.cases = [dataclasses.replace(case, split="train") if case.split == "val" else case for case in manifest.cases]
    no_val = manifest.save(dataset_2d.parent / "no_val_manifest.json")
    train(make_config({"train": {"iterations": 2}}), no_val, RUN, tmp_path / "run", show_progress=False)
    err = capsys.readouterr().err
    assert f"segpipe train: warning: {no_val}: the manifest has no validation cases (split 'val')" in err
    assert "training runs without validation" in err and "fix:" in err
    assert (tmp_path / "run" / "model.pt").is_file()


def test_missing_manifest_is_a_clear_error(tmp_path, config_file, capsys):
    status = main(["train", "--config", str(config_file()), "--manifest", str(tmp_path / "nope.json"), "--run", RUN,
                   "--out", str(tmp_path), "--threads", "1"])
    assert status == 2 and "manifest not found" in capsys.readouterr().err


def test_data_loader_workers_do_not_change_the_result(tmp_path, dataset_2d, make_config, one_thread):
    logs = []
    for workers in (0, 2):
        config = make_config({"train": {"iterations": 6, "num_workers": workers, "validate_every": None}})
        train(config, dataset_2d, RUN, tmp_path / str(workers), show_progress=False)
        logs.append(pd.read_csv(tmp_path / str(workers) / "train_log.csv").drop(columns="seconds"))
    pd.testing.assert_frame_equal(*logs)
