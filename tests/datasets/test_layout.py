"""Dataset layouts: TopoMortar's and dataset.json, read into a Manifest; every problem reported."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from segpipe.datasets.layout import read_dataset, write_dataset_json
from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset
from segpipe.errors import InputError
from segpipe.io.images import Geometry, write_image

RGB = np.zeros((3, 8, 8), dtype=np.uint8)
MASK = np.zeros((8, 8), dtype=np.uint8)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    spec = MortarSpec(image_size=32, n_train=3, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=1)
    return generate_mortar_dataset(spec, tmp_path_factory.mktemp("layout") / "dataset")


def _topomortar(root: Path, splits: dict, small: dict | None = None, types: str | None = None,
                labels: dict[str, tuple[str, ...]] | None = None) -> Path:
    """A TopoMortar-layout directory holding the images named in ``splits`` and their labels."""
    labels = labels or {"train": ("accurate", "noisy"), "val": ("accurate",), "test": ("accurate",)}
    root.mkdir(parents=True)
    (root / "splits.yaml").write_text(yaml.safe_dump({1: splits}))
    if small is not None:
        (root / "splits_small.yaml").write_text(yaml.safe_dump({1: small}))
    if types is not None:
        (root / "dataset_types.txt").write_text(types)
    for split, entries in splits.items():
        for entry in entries:
            name = Path(entry).name
            write_image(root / split / "images" / name, RGB)
            for label_type in labels[split]:
                write_image(root / split / label_type / name, MASK)
    return root


def test_synthetic_mortar_reads_back(synthetic):
    manifest = read_dataset(synthetic)
    assert (manifest.dimensions, manifest.channels) == (2, 3)
    assert manifest.label_types == ["accurate", "noisy", "pseudo"]
    assert [c.case_id for c in manifest.cases] == [f"{i:03d}" for i in range(1, 12)]
    assert [c.case_id for c in manifest.training_cases("small")] == ["001"]
    assert len(manifest.training_cases("large")) == 3
    assert manifest.groups() == ["indistr", "angles", "colors", "graffiti", "objects", "occlusion", "shadows"]
    val, test = manifest.case("004"), manifest.case("006")
    assert set(val.labels) == {"accurate", "noisy", "pseudo"} and set(test.labels) == {"accurate"}
    assert Path(test.image).is_absolute() and Path(test.labels["accurate"]).is_file()


def test_a_renamed_dataset_directory_still_reads(synthetic, tmp_path):
    renamed = Path(shutil.copytree(synthetic, tmp_path / "topomortar_copy"))
    manifest = read_dataset(renamed)
    assert all(Path(c.image).parent.parent.parent == renamed for c in manifest.cases)


def test_real_topomortar_conventions(tmp_path):
    """Shuffled training list, small subset, dataset_types.txt groups (as in TopoMortar's files)."""
    train = [f"dataset/train/images/{i:03d}.png" for i in (3, 1, 2)]
    splits = {"test": ["dataset/test/images/005.png", "dataset/test/images/006.png"], "train": train,
              "val": ["dataset/val/images/004.png"]}
    types = "ID,group\n001,indistr\n002,indistr\n003,indistr\n004,indistr\n005,indistr\n006,occlusion\n"
    root = _topomortar(tmp_path / "dataset", splits, small={**splits, "train": train[:2]}, types=types)
    manifest = read_dataset(root)
    assert [c.case_id for c in manifest.cases] == ["001", "002", "003", "004", "005", "006"]
    assert {c.case_id for c in manifest.training_cases("small")} == {"003", "001"}
    assert manifest.case("006").group == "occlusion" and manifest.groups() == ["indistr", "occlusion"]
    assert manifest.label_types == ["accurate", "noisy"]
    assert set(manifest.case("004").labels) == {"accurate"}


def test_optional_files_default_sensibly(tmp_path):
    root = _topomortar(tmp_path / "d", {"train": ["d/train/images/001.png"], "test": ["d/test/images/002.png"]})
    manifest = read_dataset(root)
    assert {c.group for c in manifest.cases} == {"indistr"} and not manifest.training_cases("small")


def test_every_topomortar_problem_is_listed(tmp_path):
    splits = {"train": ["dataset/train/images/001.png", "dataset/train/images/002.png", "dataset/oops/003.png"],
              "val": ["dataset/val/images/004.png"], "test": ["dataset/test/images/005.png"]}
    types = "ID,group\n001,indistr\n002,indistr\n004,graffitti\n"
    root = _topomortar(tmp_path / "dataset", splits, small={"train": ["dataset/train/images/009.png"]}, types=types)
    (root / "train" / "images" / "002.png").unlink()
    (root / "train" / "noisy" / "001.png").unlink()
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    for expected in (
        "'dataset/oops/003.png' is not of the form <dir>/train/images/<file>",
        "train/images/002.png: image listed in splits.yaml is missing",
        "train/noisy/001.png: noisy label of case 001 is missing",
        "line 4: unknown group 'graffitti' of case 004",
        "dataset_types.txt: case 005 has no line",
        "splits_small.yaml: training case 009 is not a training case",
    ):
        assert expected in message
    assert "6 problems" in message


def test_directory_without_a_layout_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no dataset.json, no splits.yaml"):
        read_dataset(tmp_path)
    with pytest.raises(InputError, match="dataset directory not found"):
        read_dataset(tmp_path / "nope")


GEOMETRY = Geometry((0.5, 0.5, 1.2), (1.0, 2.0, 3.0), tuple(np.eye(3).ravel()))


def _generic(root: Path, cases: list[dict], **fields) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    document = {"name": "toy", "dimensions": 3, "channels": 1, "label_types": ["accurate"], "cases": cases, **fields}
    (root / "dataset.json").write_text(json.dumps(document))
    return root


def test_generic_layout_reads_volumes(tmp_path):
    volume = np.zeros((4, 5, 6), dtype=np.float32)
    for name in ("a", "b", "c"):
        write_image(tmp_path / "images" / f"{name}.nii.gz", volume, GEOMETRY)
        write_image(tmp_path / "labels" / f"{name}.nii.gz", volume.astype(np.uint8), GEOMETRY)
    root = _generic(tmp_path, [
        {"id": "c", "split": "test", "group": "noisy_scanner", "image": "images/c.nii.gz"},
        {"id": "a", "split": "train", "image": "images/a.nii.gz", "labels": {"accurate": "labels/a.nii.gz"}, "small": True},
        {"id": "b", "split": "val", "image": "images/b.nii.gz", "labels": {"accurate": "labels/b.nii.gz"}},
    ])
    manifest = read_dataset(root)
    assert (manifest.name, manifest.dimensions, manifest.channels) == ("toy", 3, 1)
    assert [c.case_id for c in manifest.cases] == ["a", "b", "c"]
    assert manifest.case("a").small and manifest.case("c").group == "noisy_scanner" and not manifest.case("c").labels
    assert manifest.case("b").labels["accurate"] == str(tmp_path / "labels" / "b.nii.gz")


def test_generic_extra_files_are_checked_and_written_back(tmp_path):
    volume = np.zeros((4, 5, 6), dtype=np.float32)
    write_image(tmp_path / "images" / "a.nii.gz", volume, GEOMETRY)
    write_image(tmp_path / "labels" / "a.nii.gz", volume.astype(np.uint8), GEOMETRY)
    (tmp_path / "a_points.csv").write_text("x,y,z\n1,2,3\n")
    root = _generic(tmp_path, [
        {"id": "a", "split": "train", "image": "images/a.nii.gz", "labels": {"accurate": "labels/a.nii.gz"},
         "files": {"points": "a_points.csv"}},
        {"id": "b", "split": "test", "image": "images/a.nii.gz", "files": {"points": "b_points.csv", "bad role": "x"}},
    ])
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    assert "cases/1/files: 'bad role' does not match" in message
    document = json.loads((root / "dataset.json").read_text())
    del document["cases"][1]["files"]["bad role"]
    (root / "dataset.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="b_points.csv: points file of case b is missing"):
        read_dataset(root)
    document["cases"][1]["files"] = {}
    (root / "dataset.json").write_text(json.dumps(document))
    manifest = read_dataset(root)
    assert manifest.case("a").files == {"points": str(tmp_path / "a_points.csv")} and manifest.case("b").files == {}

    write_dataset_json(tmp_path / "copy", manifest)  # absolute paths: reads back from anywhere
    assert read_dataset(tmp_path / "copy").cases == manifest.cases


def test_dataset_json_wins_over_splits_yaml(tmp_path, synthetic):
    root = Path(shutil.copytree(synthetic, tmp_path / "both"))
    _generic(root, [{"id": "x", "split": "test", "image": "test/images/006.png"}], dimensions=2, channels=3)
    assert [c.case_id for c in read_dataset(root).cases] == ["x"]


def test_generic_schema_errors_are_all_listed(tmp_path):
    root = _generic(tmp_path, [{"id": "a", "split": "training", "image": "a.nii.gz"}, {"id": "b", "split": "test"}],
                    dimensions=4)
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    assert "dimensions: 4 is not one of [2, 3]" in message
    assert "cases/0/split: 'training' is not one of ['train', 'val', 'test']" in message
    assert "cases/1: 'image' is a required property" in message


def test_generic_file_problems_are_all_listed(tmp_path):
    write_image(tmp_path / "present.nii.gz", np.zeros((2, 2, 2), dtype=np.float32))
    root = _generic(tmp_path, [
        {"id": "a", "split": "train", "image": "missing.nii.gz", "labels": {"accurate": "gone.nii.gz"}},
        {"id": "a", "split": "val", "image": "present.nii.gz", "labels": {"vessel": "present.nii.gz"}},
        {"id": "c", "split": "train", "image": "slice.png"},
        {"id": "d", "split": "test", "image": "scan.dcm"},
    ])
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    for expected in (
        "missing.nii.gz: image of case a is missing",
        "gone.nii.gz: accurate label of case a is missing",
        "case a: identifier used twice",
        "label types ['vessel'] are not in label_types ['accurate']",
        "case c: image 'slice.png' cannot hold a 3D volume",
        "case c: training case lacks labels ['accurate']",
        "case d: image 'scan.dcm' has an unsupported type",
    ):
        assert expected in message


def test_generic_invalid_json_is_a_clear_error(tmp_path):
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_dataset(tmp_path)
