"""Own data in the layouts users have: MSD / nnU-Net dataset.json, a plain image folder, TopoMortar's."""

import json
import shutil

import numpy as np
import pytest
from own_data import msd_dataset, png, png_folder

from segpipe.datasets.layout import read_dataset
from segpipe.errors import InputError


def test_nnunet_v2_dataset_json_is_read_as_it_is(tmp_path):
    root = msd_dataset(tmp_path / "Dataset001_Toy", n_train=5, n_test=2, channels=2, classes=2)
    manifest = read_dataset(root)
    assert (manifest.dimensions, manifest.channels, manifest.source_layout) == (3, 2, "nnunet")
    assert manifest.label_names == {"background": 0, "class1": 1, "class2": 2}
    assert manifest.label_types == ["label"]
    splits = {case.case_id: case.split for case in manifest.cases}
    assert sorted(splits.values()).count("test") == 3  # 1 held-out labelled + 2 unlabelled imagesTs
    assert [s for c, s in splits.items() if c in ("case_005", "case_006")] == ["test", "test"]
    assert {"train", "val"} <= set(splits.values())
    first = manifest.case("case_000")
    assert first.image.endswith("case_000_0000.nii.gz") and first.image_files[1].endswith("case_000_0001.nii.gz")
    assert not manifest.case("case_006").labels and manifest.case("case_000").labels["label"].endswith("labelsTr/case_000.nii.gz")
    assert read_dataset(root).cases == manifest.cases  # deterministic


def test_msd_v1_dataset_json_with_4d_images(tmp_path):
    root = msd_dataset(tmp_path / "Task02_Toy", n_train=4, n_test=1, channels=2, version=1)
    manifest = read_dataset(root)
    assert (manifest.channels, manifest.label_names) == (2, {"background": 0, "class1": 1})
    assert manifest.case("case_000").image_files == [str(root / "imagesTr" / "case_000.nii.gz")]
    assert len(manifest.cases) == 5


def test_nnunet_problems_are_listed_at_once(tmp_path):
    root = msd_dataset(tmp_path / "d", n_train=4, n_test=0, channels=2)
    (root / "imagesTr" / "case_001_0001.nii.gz").unlink()
    (root / "labelsTr" / "case_002.nii.gz").unlink()
    (root / "imagesTr" / "notes.nii.gz").write_bytes(b"")
    document = json.loads((root / "dataset.json").read_text())
    document["numTraining"] = 7
    (root / "dataset.json").write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    for expected in ("case_001_0001.nii.gz: channel 1 of case case_001 is missing",
                     "labelsTr/case_002.nii.gz: label of training case case_002 is missing",
                     "notes.nii.gz: not named CASE_XXXX.nii.gz", "numTraining is 7, but imagesTr holds 4 cases"):
        assert expected in message


def test_plain_image_folder_with_labels_or_masks(tmp_path):
    root = png_folder(tmp_path / "mine", n_labelled=6, n_unlabelled=1, label_dir="masks", rgb=True)
    manifest = read_dataset(root)
    assert (manifest.dimensions, manifest.channels, manifest.source_layout) == (2, 3, "folder")
    assert len(manifest.select(split="train")) == 4 and len(manifest.select(split="val")) == 1
    assert [c.case_id for c in manifest.select(split="test") if not c.labels] == ["img06"]
    assert len([c for c in manifest.select(split="test") if c.labels]) == 1


def test_plain_folder_problems_name_each_file(tmp_path):
    root = png_folder(tmp_path / "mine", n_labelled=3, n_unlabelled=0)
    (root / "images" / "photo.jpg").write_bytes(b"")
    png(root / "labels" / "orphan.png", np.zeros((4, 4)))
    (root / "images" / ".DS_Store").write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_dataset(root)
    message = str(caught.value)
    assert "photo.jpg: unsupported file type '.jpg'" in message and "orphan.png: label without an image" in message
    assert "DS_Store" not in message


def test_topomortar_misnamed_label_folder_is_an_error(tmp_path):
    from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset

    spec = MortarSpec(image_size=32, n_train=2, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=0)
    root = generate_mortar_dataset(spec, tmp_path / "dataset")
    shutil.move(root / "train" / "noisy", root / "train" / "noisy_labels")
    with pytest.raises(InputError, match=r"train/noisy_labels: unknown folder in train/"):
        read_dataset(root)


def test_unknown_folder_is_an_error_naming_it(tmp_path):
    (tmp_path / "scans").mkdir()
    (tmp_path / "readme.txt").write_text("")
    with pytest.raises(InputError) as caught:
        read_dataset(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message and "readme.txt, scans/" in message and "docs/own-data.md" in message


def test_nnunet_channel_files_are_stacked_by_preprocessing(tmp_path):
    from segpipe.datasets.cases import load_case
    from segpipe.preprocessing.preprocess import preprocess_dataset

    root = msd_dataset(tmp_path / "d", n_train=4, n_test=1, channels=2)
    manifest = preprocess_dataset(root, tmp_path / "out", normalisation="none")
    case = load_case(tmp_path / "out" / manifest.case("case_000").data)
    assert case.image.shape == (2, 8, 12, 12)
    np.testing.assert_allclose(case.image[1] - case.image[0], 1.0, atol=1e-4)
    assert case.geometry.spacing == pytest.approx((0.8, 0.8, 1.5))


def test_dataset_signature_follows_every_file(tmp_path):
    import os

    from segpipe.datasets.signature import dataset_signature

    root = png_folder(tmp_path / "mine", n_labelled=3, n_unlabelled=0)
    first = dataset_signature(root)
    assert first.startswith("6 files") and dataset_signature(root) == first
    (root / ".hidden").write_text("x")
    assert dataset_signature(root) == first
    label = root / "labels" / "img01.png"
    os.utime(label, ns=(label.stat().st_atime_ns, label.stat().st_mtime_ns + 1))
    assert dataset_signature(root) != first and dataset_signature(tmp_path / "none") == "missing"
