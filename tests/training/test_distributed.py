"""Data-parallel training (segpipe.training.distributed): two gloo processes against one process.

The network normalises with InstanceNorm (the default), whose statistics are per sample and thus
the same whichever process holds the sample; BatchNorm would normalise each process's share with
its own statistics (SyncBatchNorm, which would not, needs CUDA), and is refused for several CPU
processes. Weights are compared through the networks' outputs: the bias of a convolution that
feeds an InstanceNorm has no effect on the output and a gradient of pure rounding noise, which
AdamW's normalised step turns into visible but meaningless weight differences.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import tiny_config

from segpipe.datasets.lookup import load_manifest_case
from segpipe.datasets.manifest import Manifest
from segpipe.errors import ConfigError
from segpipe.inference.sliding_window import predict_probability
from segpipe.networks.model_file import load_model
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case
from segpipe.training.segmentation import train

RUN = "unet.dice_ce.accurate.large.plain.s0"
#: 12 iterations of 4 samples, checkpoints after 5 and 10, validation after 6 and 12.
SETTINGS = {"train": {"batch_size": 4, "iterations": 12, "checkpoint_every": 5, "validate_every": 6}}
LOG_VALUES = ["loss", "loss_dice_ce", "lr"]


def two_process_config(path: Path) -> Path:
    """Write :data:`SETTINGS` with two training processes to ``path``."""
    path.write_text(yaml.safe_dump(tiny_config({**SETTINGS, "train": {**SETTINGS["train"], "distributed": {"processes": 2}}})))
    return path


def segpipe_train(config: Path, manifest: Path, out: Path, threads: int = 2) -> subprocess.CompletedProcess[str]:
    """``segpipe train`` in a subprocess (its workers split ``threads``)."""
    command = [sys.executable, "-m", "segpipe.cli", "train", "--config", str(config), "--manifest", str(manifest),
               "--run", RUN, "--out", str(out), "--threads", str(threads), "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory, dataset_2d: Path) -> Path:
    """Run directory of the one-process reference run; its checkpoints (5, 10) are kept for resuming."""
    out = tmp_path_factory.mktemp("one_process")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch("segpipe.training.loop.shutil.rmtree"):  # keep the checkpoints that training removes at the end
            train(tiny_config(SETTINGS), dataset_2d, RUN, out, show_progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory, dataset_2d: Path) -> tuple[Path, str]:
    """Run directory and stderr of the same run in two gloo processes, one thread each."""
    root = tmp_path_factory.mktemp("two_processes")
    result = segpipe_train(two_process_config(root / "config.yaml"), dataset_2d, root / "run")
    assert result.returncode == 0, result.stderr
    return root / "run", result.stderr


def validation_outputs(run_dir: Path, manifest_path: Path) -> np.ndarray:
    """Foreground probabilities of the run's model on every validation image."""
    network, info = load_model(run_dir / "model.pt")
    cases = Manifest.load(manifest_path).select(split="val")
    return np.stack([
        predict_probability(network, load_manifest_case(manifest_path, case).image, info.network,
                            patch_size=info.patch_size)
        for case in cases
    ])


def test_two_processes_follow_the_one_process_trajectory(one_process, two_processes, dataset_2d):
    run_dir, stderr = two_processes
    assert "Traceback" not in stderr
    single, double = (pd.read_csv(d / "train_log.csv") for d in (one_process, run_dir))
    assert double["iteration"].tolist() == list(range(1, 13))
    np.testing.assert_allclose(double[LOG_VALUES], single[LOG_VALUES], rtol=1e-5)
    assert double["val_dice"].notna().tolist() == single["val_dice"].notna().tolist()
    np.testing.assert_allclose(double["val_dice"].dropna(), single["val_dice"].dropna(), atol=1e-3)
    assert not single["loss"].iloc[1:].eq(single["loss"].iloc[0]).all()  # the loss moves: the comparison means something
    np.testing.assert_allclose(validation_outputs(run_dir, dataset_2d), validation_outputs(one_process, dataset_2d),
                               atol=1e-4)
    assert not (run_dir / "checkpoints").exists()
    assert sorted(path.name for path in run_dir.iterdir()) == ["model.pt", "train_log.csv"]  # rank 0 wrote, once


def test_resume_a_one_process_checkpoint_with_two_processes(one_process, tmp_path, dataset_2d):
    run_dir = tmp_path / "run"
    shutil.copytree(one_process / "checkpoints", run_dir / "checkpoints")
    result = segpipe_train(two_process_config(tmp_path / "config.yaml"), dataset_2d, run_dir)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(f"resuming {RUN} from iteration 10 of 12") == 1  # rank 0 only
    single, resumed = (pd.read_csv(d / "train_log.csv").drop(columns="seconds") for d in (one_process, run_dir))
    pd.testing.assert_frame_equal(resumed.iloc[:10], single.iloc[:10])  # restored from the checkpoint
    np.testing.assert_allclose(resumed[LOG_VALUES].iloc[10:], single[LOG_VALUES].iloc[10:], rtol=1e-5)
    np.testing.assert_allclose(validation_outputs(run_dir, dataset_2d), validation_outputs(one_process, dataset_2d),
                               atol=1e-4)


def test_user_error_in_a_worker_is_reported_once(tmp_path, dataset_2d):
    dataset = tmp_path / "preprocessed"
    shutil.copytree(dataset_2d.parent, dataset)
    case = Manifest.load(dataset / "manifest.json").training_cases("large")[1]
    (dataset / case.data).write_bytes(b"not an npz file")  # each worker loads the training cases
    result = segpipe_train(two_process_config(tmp_path / "config.yaml"), dataset / "manifest.json", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("segpipe train: error:") == 1 and case.data in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 6, "distributed": {"processes": 4}}, "'train.batch_size' (6) is not a multiple of"),
        ({"distributed": {"backend": "nccl"}}, "'train.distributed.backend' is 'nccl', which needs CUDA"),
        ({"distributed": {"processes": 2}, "network": {"norm": "batch"}}, "only on GPUs"),
    ],
)
def test_settings_that_cannot_work_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tiny_config({"train": overrides})


def test_batch_norm_on_a_cpu_found_by_auto_is_refused(tmp_path, dataset_2d):
    if torch.cuda.is_available():
        pytest.skip("'auto' resolves to CUDA here")
    config = tiny_config({"train": {"device": "auto", "distributed": {"processes": 2}, "network": {"norm": "batch"}}})
    with pytest.raises(ConfigError, match="only on GPUs"):
        train(config, dataset_2d, RUN, tmp_path, show_progress=False)


def test_started_by_torchrun_is_refused(tmp_path, dataset_2d, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="segpipe starts its training processes itself"):
        train(tiny_config(SETTINGS), dataset_2d, RUN, tmp_path, show_progress=False)


def test_shards_of_the_processes_make_up_the_batch():
    rng = np.random.default_rng(0)
    cases = [make_training_case(str(i), rng.standard_normal((1, 24, 24)).astype(np.float32),
                                (rng.random((24, 24)) < 0.1).astype(np.uint8), {}, (16, 16)) for i in range(3)]
    settings = SamplingSettings(batch_size=6, patch_size=(16, 16), divisor=4)
    whole = BatchSource(cases, settings, (16, 16), 3)[7]
    shards = [BatchSource(cases, settings, (16, 16), 3, slots=range(rank, 6, 3))[7] for rank in range(3)]
    for key, value in whole.items():
        assert all(shard[key].shape[0] == 2 for shard in shards)
        for rank, shard in enumerate(shards):
            assert torch.equal(shard[key], value[rank::3])
    with pytest.raises(ValueError, match="not a non-empty subset"):
        BatchSource(cases, settings, (16, 16), 3, slots=[6])
