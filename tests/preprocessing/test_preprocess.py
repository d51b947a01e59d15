"""Preprocessing: fingerprint values, normalisation, validation listing every file, idempotence."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from segpipe.cli import main
from segpipe.datasets.cases import load_case
from segpipe.datasets.manifest import Manifest
from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset
from segpipe.errors import InputError
from segpipe.io.images import Geometry, write_image
from segpipe.preprocessing.preprocess import normalise, preprocess_dataset

# Array axes (row, column) have spacing (2.0, 0.5) mm: ITK order (x, y) = (0.5, 2.0).
GEOMETRY = Geometry((0.5, 2.0), (10.0, -4.0), (1.0, 0.0, 0.0, 1.0))


def _square_label(shape, top, left, side) -> np.ndarray:
    label = np.zeros(shape, dtype=np.uint8)
    label[top:top + side, left:left + side] = 1
    return label


def _tiny_dataset(root: Path) -> dict:
    """Three 2D grey cases in the dataset.json layout with hand-checkable statistics."""
    rng = np.random.default_rng(0)
    images = {
        "a": rng.normal(100, 20, (12, 10)).astype(np.float32),
        "b": rng.normal(50, 5, (12, 10)).astype(np.float32),
        "c": rng.normal(80, 10, (16, 14)).astype(np.float32),
    }
    labels = {
        "a": _square_label((12, 10), 2, 2, 5),  # 5x5 square: EDT max 3 voxels, 1.5 mm along columns
        "b": _square_label((12, 10), 0, 0, 2) * 255,  # stored as 0/255
        "c": _square_label((16, 14), 4, 4, 7),  # 7x7: EDT max 4 voxels, 2 mm
    }
    cases = []
    for (case_id, image), split in zip(images.items(), ("train", "val", "test")):
        write_image(root / "images" / f"{case_id}.nii.gz", image, GEOMETRY)
        write_image(root / "labels" / f"{case_id}.nii.gz", labels[case_id].astype(np.uint8), GEOMETRY)
        cases.append({"id": case_id, "split": split, "group": "indistr" if split != "test" else "blurry",
                      "image": f"images/{case_id}.nii.gz", "labels": {"accurate": f"labels/{case_id}.nii.gz"},
                      "small": split == "train"})
    (root / "dataset.json").write_text(json.dumps(
        {"name": "tiny", "dimensions": 2, "channels": 1, "label_types": ["accurate"], "cases": cases}))
    return {"images": images, "labels": labels}


@pytest.fixture
def tiny(tmp_path):
    truth = _tiny_dataset(tmp_path / "data")
    return tmp_path / "data", truth


def test_fingerprint_values_on_a_hand_made_dataset(tiny, tmp_path):
    root, truth = tiny
    preprocess_dataset(root, tmp_path / "out", normalisation="none")
    fp = json.loads((tmp_path / "out" / "fingerprint.json").read_text())
    assert fp["dataset"] == {"name": "tiny", "dimensions": 2, "channels": 1, "cases": 3, "label_types": ["accurate"]}
    assert fp["counts"] == {"test": {"blurry": 1}, "train": {"indistr": 1}, "val": {"indistr": 1}}
    assert fp["small_training_set"] == 1
    assert fp["shapes"] == {"median": [12.0, 10.0], "min": [12.0, 10.0], "max": [16.0, 14.0]}
    assert fp["spacings"]["median"] == [2.0, 0.5]  # array order (row, column)
    everything = np.concatenate([image.ravel() for image in truth["images"].values()]).astype(np.float64)
    inside = np.concatenate([truth["images"][k][truth["labels"][k] > 0] for k in truth["images"]]).astype(np.float64)
    for statistics, values in ((fp["intensity"]["overall"][0], everything), (fp["intensity"]["foreground"][0], inside)):
        assert statistics["mean"] == pytest.approx(values.mean())
        assert statistics["std"] == pytest.approx(values.std())
        assert (statistics["min"], statistics["max"]) == pytest.approx((values.min(), values.max()))
        assert statistics["percentile_00_5"] == pytest.approx(np.percentile(values, 0.5))
        assert statistics["percentile_99_5"] == pytest.approx(np.percentile(values, 99.5))
        assert statistics["median"] == pytest.approx(np.median(values))
    accurate = fp["labels"]["accurate"]
    assert accurate["values_found"] == [0.0, 1.0, 255.0]
    assert accurate["foreground_fraction"] == pytest.approx((25 + 4 + 49) / (120 + 120 + 224))
    assert accurate["largest_radius_voxels"] == 4.0 and accurate["largest_radius_mm"] == 2.0
    assert fp["cases"]["a"]["radius_voxels"]["accurate"] == 3.0
    assert fp["cases"]["b"]["foreground_fraction"]["accurate"] == pytest.approx(4 / 120)


def test_outputs_manifest_and_cases(tiny, tmp_path):
    root, truth = tiny
    manifest = preprocess_dataset(root, tmp_path / "out", normalisation="zscore")
    loaded = Manifest.load(tmp_path / "out" / "manifest.json")
    assert loaded == manifest and [c.data for c in loaded.cases] == ["cases/a.npz", "cases/b.npz", "cases/c.npz"]
    case = load_case(tmp_path / "out" / loaded.case("b").data)
    assert case.image.dtype == np.float32 and case.image.shape == (1, 12, 10)
    np.testing.assert_array_equal(case.labels["accurate"], truth["labels"]["b"] // 255)
    assert case.labels["accurate"].dtype == np.uint8 and case.geometry.matches(GEOMETRY)


@pytest.mark.parametrize("method", ["zscore", "minmax", "percentile", "none"])
def test_normalisation_per_image_and_channel(method):
    rng = np.random.default_rng(1)
    image = np.stack([rng.normal(100, 30, (20, 20)), rng.exponential(5, (20, 20)), np.full((20, 20), 7.0)])
    result = normalise(image, method)
    assert result.dtype == np.float32 and result.shape == image.shape
    for channel in range(2):
        raw, out = image[channel], result[channel].astype(np.float64)
        if method == "zscore":
            assert out.mean() == pytest.approx(0, abs=1e-6) and out.std() == pytest.approx(1, rel=1e-5)
            np.testing.assert_allclose(out, (raw - raw.mean()) / raw.std(), rtol=1e-5, atol=1e-5)
        elif method == "minmax":
            np.testing.assert_allclose(out, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
        elif method == "percentile":
            low, high = np.percentile(raw, [0.5, 99.5])
            np.testing.assert_allclose(out, (np.clip(raw, low, high) - low) / (high - low), atol=1e-6)
            assert out.min() == 0 and out.max() == pytest.approx(1)
        else:
            np.testing.assert_allclose(out, raw, rtol=1e-6)
    expected_constant = 7.0 if method == "none" else 0.0
    np.testing.assert_array_equal(result[2], expected_constant)


def _bad_dataset(root: Path) -> None:
    """Five train cases: one good and one per problem kind."""
    good = np.arange(36, dtype=np.float32).reshape(6, 6)
    label = _square_label((6, 6), 1, 1, 3)
    files = {
        "good": (good, label, GEOMETRY),
        "nonbinary": (good, label * 2, GEOMETRY),
        "shape": (good, np.zeros((5, 6), np.uint8), GEOMETRY),
        "geometry": (good, label, Geometry((0.7, 2.0), (10.0, -4.0), (1.0, 0.0, 0.0, 1.0))),
        "nan": (np.where(good > 30, np.nan, good).astype(np.float32), np.where(label > 0, np.nan, 0).astype(np.float32), GEOMETRY),
    }
    cases = []
    for case_id, (image, mask, label_geometry) in files.items():
        write_image(root / f"{case_id}_image.nii.gz", image, GEOMETRY)
        write_image(root / f"{case_id}_label.nii.gz", mask, label_geometry)
        cases.append({"id": case_id, "split": "train", "image": f"{case_id}_image.nii.gz",
                      "labels": {"accurate": f"{case_id}_label.nii.gz"}})
    (root / "dataset.json").write_text(json.dumps(
        {"name": "bad", "dimensions": 2, "channels": 1, "label_types": ["accurate"], "cases": cases}))


@pytest.mark.parametrize("threads", [1, 2])
def test_validation_lists_every_offending_file(tmp_path, threads):
    _bad_dataset(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # an earlier run's results are left as they were (issue 18.7)
    with pytest.raises(InputError) as caught:
        preprocess_dataset(tmp_path / "data", out, threads=threads)
    message = str(caught.value)
    assert "5 problems in 4 of 5 cases" in message
    for expected in (
        "nonbinary_label.nii.gz: values {0, 2} are not binary",
        "shape_label.nii.gz: label shape (5, 6) differs from its image's (6, 6)",
        "geometry_label.nii.gz: label geometry (spacing (0.7, 2), origin (10, -4)",
        "nan_image.nii.gz: 5 NaN and 0 infinite values in the image",
        "nan_label.nii.gz: 9 NaN values in the label",
    ):
        assert expected in message
    assert "good" not in message
    assert (out / "manifest.json").read_text() == "{}" and not (out / "fingerprint.json").exists()
    assert not list(out.glob("cases/*.npz"))


def test_rerun_is_idempotent_and_removes_stale_cases(tiny, tmp_path):
    root, _ = tiny
    out = tmp_path / "out"
    preprocess_dataset(root, out)
    first = {name: (out / name).read_bytes() for name in ("manifest.json", "fingerprint.json", "cases/a.npz")}
    (out / "cases" / "old.npz").write_bytes(b"stale")
    (out / "cases" / ".a.tmp-4242.npz").write_bytes(b"half-written by a killed run")
    preprocess_dataset(root, out)
    assert {name: (out / name).read_bytes() for name in first} == first
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["a.npz", "b.npz", "c.npz"]


def test_parallel_and_serial_runs_agree(tiny, tmp_path):
    root, _ = tiny
    preprocess_dataset(root, tmp_path / "serial", threads=1)
    preprocess_dataset(root, tmp_path / "parallel", threads=2)
    for name in ("manifest.json", "fingerprint.json", "cases/c.npz"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "parallel" / name).read_bytes()


def test_cli_on_synthetic_mortar(tmp_path, capsys):
    spec = MortarSpec(image_size=32, n_train=2, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=1)
    dataset = generate_mortar_dataset(spec, tmp_path / "mortar")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"preprocess": {"normalisation": "percentile"}}))
    out = tmp_path / "pre"
    assert main(["preprocess", "--config", str(config), "--dataset", str(dataset), "--out", str(out), "--threads", "1"]) == 0
    manifest = Manifest.load(out / "manifest.json")
    train = load_case(out / manifest.case("001").data)
    assert set(train.labels) == {"accurate", "noisy", "pseudo"} and train.image.shape == (3, 32, 32)
    assert 0 <= train.image.min() and train.image.max() <= 1
    assert set(load_case(out / manifest.case("005").data).labels) == {"accurate"}
    fp = json.loads((out / "fingerprint.json").read_text())
    assert fp["labels"]["accurate"]["values_found"] == [0.0, 255.0] and fp["normalisation"] == "percentile"
    assert len(fp["intensity"]["overall"]) == 3
    # a broken label makes the CLI print the listing and exit 2
    write_image(dataset / "train" / "noisy" / "002.png", np.full((32, 32), 7, np.uint8))
    assert main(["preprocess", "--config", str(config), "--dataset", str(dataset), "--out", str(out), "--threads", "1"]) == 2
    assert "noisy/002.png: values {7} are not binary" in capsys.readouterr().err
