"""Landmark training, augmentation, decoding and evaluation: end to end on small synthetic data."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from segpipe.cli import main
from segpipe.config import validate_config
from segpipe.datasets.landmarks import TEMPLATE_FILE, read_landmarks
from segpipe.datasets.layout import DATASET_JSON, read_dataset
from segpipe.datasets.synthetic.chest import ChestSynthConfig, generate_chest_dataset
from segpipe.evaluation.evaluate import evaluate
from segpipe.evaluation.landmarks import evaluate_decoded, landmark_errors
from segpipe.experiments.grid import RunSpec
from segpipe.inference.decode import decode_dataset
from segpipe.inference.predictions import PredictionSet
from segpipe.io.images import Geometry, read_image, read_mask, write_image
from segpipe.networks.graph import default_template
from segpipe.networks.model_file import load_landmark_model
from segpipe.topology import betti_numbers
from segpipe.training.checkpoint import list_checkpoints
from segpipe.training.landmark_augmentation import apply_affine, random_affine, random_intensity
from segpipe.training.landmarks import train_landmarks

SMALL_MODEL = {"image_size": 64, "encoder_channels": [8, 16, 32, 32], "graph_channels": 16, "latent_size": 32}


def small_config(**train):
    return validate_config({
        "decode": {
            "synthetic": {"image_size": 64, "n_train": 40, "n_val": 4, "n_test": 8},
            "model": SMALL_MODEL,
            "train": {"iterations": 300, "checkpoint_every": 100, "learning_rate": 0.002, "device": "cpu", **train},
        }
    })


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("chest")
    generate_chest_dataset(out, default_template(), ChestSynthConfig(image_size=64, n_train=40, n_val=4, n_test=8))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset, one_thread):
    run = tmp_path_factory.mktemp("run")
    model = train_landmarks(small_config(), dataset, run, progress=False)
    return run, model


def _blob_centre(image, guess, radius=5):
    """Intensity-weighted centre (x, y) of the blob near ``guess`` (pixel coordinates)."""
    x0, y0 = int(round(guess[0])), int(round(guess[1]))
    window = image[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    rows, cols = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(cols * window).sum(), (rows * window).sum()]) / window.sum()


def test_affine_augmentation_moves_landmarks_with_the_image():
    torch.manual_seed(4)
    size = 96
    landmarks = torch.tensor([[[0.3, 0.35], [0.62, 0.4], [0.5, 0.7]]])
    rows, cols = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size))
    for u, v in landmarks[0].numpy():
        x, y = u * size - 0.5, v * size - 0.5
        image += np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 1.5**2))
    forward = random_affine(1, rotation_deg=25, scale=0.2, translation=0.08)
    assert not torch.allclose(forward[0, :, :2], torch.eye(2))
    warped, moved = apply_affine(torch.as_tensor(image, dtype=torch.float32)[None, None], landmarks, forward)
    for u, v in moved[0].numpy():
        expected = np.array([u * size - 0.5, v * size - 0.5])
        np.testing.assert_allclose(_blob_centre(warped[0, 0].numpy(), expected), expected, atol=0.25)


def test_identity_affine_changes_nothing():
    images, landmarks = torch.rand(2, 1, 16, 16), torch.rand(2, 5, 2)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
    warped, moved = apply_affine(images, landmarks, identity)
    torch.testing.assert_close(warped, images)
    torch.testing.assert_close(moved, landmarks)


def test_intensity_augmentation_keeps_shape_and_order():
    torch.manual_seed(0)
    images = torch.linspace(0, 1, 64).view(1, 1, 8, 8).repeat(3, 1, 1, 1)
    changed = random_intensity(images, 0.2)
    assert changed.shape == images.shape and not torch.equal(changed, images)
    assert torch.all(changed.flatten(1).diff(dim=1) >= 0), "a monotone change keeps the intensity order"
    assert torch.equal(random_intensity(images, 0.0), images)


def test_training_beats_the_mean_shape_baseline(trained, dataset, tmp_path):
    run, model_path = trained
    with open(run / "train_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == ("iteration", "loss", "loss_landmark", "loss_interim", "loss_kl", "lr", "seconds", "val_mse_px2")
    validated = [r for r in rows if r["val_mse_px2"]]
    assert len(rows) == 300 and [int(r["iteration"]) for r in validated] == [100, 200, 300]
    assert float(validated[-1]["val_mse_px2"]) < float(validated[0]["val_mse_px2"])
    assert main(["decode", "--config", str(_config_file(tmp_path)), "--model", str(model_path), "--dataset", str(dataset),
                 "--out", str(tmp_path / "decoded"), "--threads", "1"]) == 0
    summary = json.loads(evaluate_decoded(tmp_path / "decoded", dataset, tmp_path / "scores").read_text())["groups"]
    for group in ("indistr", "occluded"):
        ours, baseline = summary[group]["hybridgnet"], summary[group]["mean_shape"]
        assert ours["cases"] == baseline["cases"] == 8
        assert ours["mse_px2"] < baseline["mse_px2"], group
    assert summary["indistr"]["hybridgnet"]["mse_px2"] < 0.5 * summary["indistr"]["mean_shape"]["mse_px2"]
    with open(tmp_path / "scores" / "landmarks.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * 16  # methods x cases

    # The masks are predictions directories that `segpipe evaluate` scores against each organ's labels.
    read_dataset(dataset).save(tmp_path / "manifest.json")
    config = small_config() | {"evaluate": {"label_type": None, "metrics": ["dice", "hd95", "betti"]}}
    for organ in default_template().names:
        predictions = PredictionSet.load(tmp_path / "decoded" / "predictions" / organ)
        assert RunSpec.parse(predictions.run_id) == RunSpec("hybridgnet", "landmarks", organ, "large", "plain", 0)
        scores = pd.read_csv(evaluate(config, tmp_path / "manifest.json", predictions.directory, tmp_path / f"{organ}.csv"))
        assert len(scores) == 16 and set(scores["reference"]) == {organ}
        assert scores[scores["group"] == "indistr"]["dice"].mean() > 0.8
        assert (scores[["betti0_error", "betti1_error"]] == 0).all().all(), "filled rings: one component, no hole"


def _config_file(tmp_path, **train):
    path = tmp_path / "config.yaml"
    config = small_config(**train)
    path.write_text(yaml.safe_dump({"decode": config["decode"]}))
    return path


def test_decoded_masks_are_rings_with_the_image_geometry(trained, dataset, tmp_path):
    """Decode NIfTI copies of the test images: masks keep spacing/origin and are one hole-free component."""
    _, model_path = trained
    raw = json.loads((dataset / DATASET_JSON).read_text())
    geometry = Geometry(spacing=(0.7, 0.4), origin=(-3.0, 12.0), direction=(1.0, 0.0, 0.0, 1.0))
    cases = []
    for case in raw["cases"]:
        if case["split"] == "test" and case["group"] == "indistr":
            image = read_image(dataset / case["image"]).array[0]
            write_image(tmp_path / "data" / f"{case['id']}.nii.gz", image, geometry)
            files = {"landmarks": str(dataset / case["files"]["landmarks"])}  # absolute paths are allowed
            cases.append({**case, "image": f"{case['id']}.nii.gz", "labels": {}, "files": files})
    (tmp_path / "data" / DATASET_JSON).write_text(json.dumps({**raw, "cases": cases}))
    (tmp_path / "data" / TEMPLATE_FILE).write_bytes((dataset / TEMPLATE_FILE).read_bytes())

    decoded = json.loads(decode_dataset(model_path, tmp_path / "data", tmp_path / "out", seed=3).read_text())
    assert len(decoded["cases"]) == 8
    for entry in decoded["cases"]:
        points = read_landmarks(tmp_path / "out" / entry["landmarks"], default_template())
        assert np.all((points > -0.5) & (points < 63.5))
    for organ, relative in decoded["predictions"].items():
        predictions = PredictionSet.load(tmp_path / "out" / relative)
        assert predictions.run_id == f"hybridgnet.landmarks.{organ}.large.plain.s3" and len(predictions.cases) == 8
        for predicted in predictions.cases:
            mask, mask_geometry = read_mask(predicted.mask)
            assert predicted.mask.name.endswith("_mask.nii.gz") and mask.shape == (64, 64)
            assert mask_geometry.matches(geometry)
            assert set(np.unique(mask)) <= {0, 1}
            np.testing.assert_array_equal(read_image(predicted.probability).array[0], mask.astype(np.float32))
            assert tuple(betti_numbers(mask)) == (1, 0), f"{organ} of {predicted.case_id}"


def test_resume_after_kill_matches_an_uninterrupted_run(dataset, tmp_path, one_thread):
    config = _config_file(tmp_path, iterations=120, checkpoint_every=10)
    command = [sys.executable, "-m", "segpipe.cli", "train-landmarks", "--config", str(config), "--dataset", str(dataset),
               "--out", str(tmp_path / "killed"), "--threads", "1", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not list_checkpoints(tmp_path / "killed" / "checkpoints"):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    interrupted_at = int(list_checkpoints(tmp_path / "killed" / "checkpoints")[-1].stem.split("_")[1])
    assert interrupted_at < 120 and not (tmp_path / "killed" / "model.pt").exists()

    settings = small_config(iterations=120, checkpoint_every=10)
    resumed = load_landmark_model(train_landmarks(settings, dataset, tmp_path / "killed", progress=False))[0].state_dict()
    straight = load_landmark_model(train_landmarks(settings, dataset, tmp_path / "straight", progress=False))[0].state_dict()
    for name, value in straight.items():
        torch.testing.assert_close(resumed[name], value, msg=name)
    with open(tmp_path / "killed" / "train_log.csv", newline="") as handle:
        assert [int(r["iteration"]) for r in csv.DictReader(handle)] == list(range(1, 121))


def test_changed_settings_start_over(dataset, tmp_path, one_thread, capsys):
    with mock.patch("segpipe.training.loop.shutil.rmtree"):  # keep the checkpoints of the first run
        train_landmarks(small_config(iterations=3, checkpoint_every=1), dataset, tmp_path, progress=False)
        assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["checkpoint_00000001.pt", "checkpoint_00000002.pt"]
        train_landmarks(small_config(iterations=2, checkpoint_every=1, learning_rate=0.01), dataset, tmp_path, progress=False)
    assert "written with other settings or data; starting over" in capsys.readouterr().err
    with open(tmp_path / "train_log.csv", newline="") as handle:
        assert [int(r["iteration"]) for r in csv.DictReader(handle)] == [1, 2]
    assert load_landmark_model(tmp_path / "model.pt")[1].iterations == 2


def test_cli_errors_are_clean(tmp_path, dataset, capsys):
    config = _config_file(tmp_path)
    assert main(["decode", "--config", str(config), "--model", str(tmp_path / "none.pt"), "--dataset", str(dataset),
                 "--out", str(tmp_path / "out")]) == 2
    assert "model file not found" in capsys.readouterr().err
    (tmp_path / "garbage.pt").write_bytes(b"not a model")
    assert main(["decode", "--config", str(config), "--model", str(tmp_path / "garbage.pt"), "--dataset", str(dataset),
                 "--out", str(tmp_path / "out")]) == 2
    assert "cannot read the model file" in capsys.readouterr().err
    assert main(["evaluate-decode", "--config", str(config), "--decoded", str(tmp_path), "--dataset", str(dataset),
                 "--out", str(tmp_path / "scores")]) == 2
    assert "run `segpipe decode` first" in capsys.readouterr().err


def test_landmark_errors_follow_gaggions_definition():
    errors = landmark_errors(np.array([[3.0, 4.0], [0.0, 0.0]]), np.zeros((2, 2)))
    assert errors["mse_px2"] == pytest.approx((9 + 16) / 4)
    assert errors["mean_distance_px"] == pytest.approx(2.5)
