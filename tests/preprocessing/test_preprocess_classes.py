"""Multi-class labels in preprocessing (``preprocess.label_policy: classes``) and the configuration checks."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from own_data import msd_dataset, nifti, png, png_folder, vessel_classes_png
from PIL import Image

from segpipe.datasets.cases import load_case
from segpipe.errors import ConfigError, InputError
from segpipe.preprocessing.preprocess import LabelPolicy, preprocess_dataset
from segpipe.preprocessing.resampling import resample_labels, resample_mask

CLASSES = LabelPolicy("classes")


def test_the_classes_policy_keeps_the_label_values_and_records_the_class_names(tmp_path):
    data = vessel_classes_png(tmp_path / "data", n_train=5)
    manifest = preprocess_dataset(data, tmp_path / "out", label_policy=CLASSES)
    fingerprint = json.loads((tmp_path / "out" / "fingerprint.json").read_text())
    assert fingerprint["classes"] == ["artery", "vein"] and fingerprint["label_policy"]["mode"] == "classes"
    assert fingerprint["binarised_labels"] == []
    for case in manifest.cases:
        label = load_case(tmp_path / "out" / case.data).labels["label"]
        raw = np.asarray(Image.open(case.labels["label"]))
        assert np.array_equal(label, raw) and set(np.unique(label)) == {0, 1, 2}


def test_the_strict_policy_still_refuses_multi_class_labels(tmp_path):
    data = vessel_classes_png(tmp_path / "data", n_train=3)
    with pytest.raises(InputError, match="label_policy"):
        preprocess_dataset(data, tmp_path / "out")


def test_classes_without_names_are_named_by_their_values(tmp_path):
    data = png_folder(tmp_path / "data", n_labelled=3, n_unlabelled=0)
    for index in range(3):  # a second class in the lower half
        path = data / "labels" / f"img{index:02d}.png"
        label = np.asarray(Image.open(path)) // 255
        label[20:, :] *= 2
        png(path, label)
    preprocess_dataset(data, tmp_path / "out", label_policy=CLASSES)
    assert json.loads((tmp_path / "out" / "fingerprint.json").read_text())["classes"] == ["1", "2"]


def test_class_values_that_are_not_consecutive_are_an_error_naming_the_fix(tmp_path):
    data = msd_dataset(tmp_path / "data", n_train=3, n_test=0, classes=2)
    document = json.loads((data / "dataset.json").read_text())
    document["labels"] = {"background": 0, "class1": 1, "class3": 3}
    (data / "dataset.json").write_text(json.dumps(document))
    for index in range(3):  # relabel class 2 as 3
        path = data / "labelsTr" / f"case_{index:03d}.nii.gz"
        label = np.asarray(nib.load(path).dataobj)
        nifti(path, np.where(label == 2, 3, label).astype(np.uint8))
    with pytest.raises(InputError) as error:
        preprocess_dataset(data, tmp_path / "out", label_policy=CLASSES)
    assert "1, 2, ..., K" in str(error.value) and "consecutive" in error.value.fix
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_label_with_non_integer_values_is_named_under_the_classes_policy(tmp_path):
    data = msd_dataset(tmp_path / "data", n_train=3, n_test=0, classes=2)
    path = data / "labelsTr" / "case_001.nii.gz"
    nifti(path, np.asarray(nib.load(path).dataobj).astype(np.float32) * 0.5)
    with pytest.raises(InputError, match="case_001.nii.gz: values .* are not class values"):
        preprocess_dataset(data, tmp_path / "out", label_policy=CLASSES)


def test_resampling_a_label_map_keeps_each_class_and_a_binary_mask_as_before():
    labels = np.zeros((20, 20), np.uint8)
    labels[4:8, 2:18], labels[10:18, 8:12] = 1, 2
    resampled = resample_labels(labels, (10, 10))
    assert set(np.unique(resampled)) == {0, 1, 2}
    assert (resampled[2:4, 1:9] == 1).all() and (resampled[5:9, 4:6] == 2).all()
    binary = (labels == 1).astype(np.uint8)
    assert np.array_equal(resample_labels(binary, (7, 9)), resample_mask(binary, (7, 9)))


def test_the_config_check_names_train_output_and_the_boundary_term_for_classes(make_config):
    with pytest.raises(ConfigError) as error:
        make_config({"preprocess": {"label_policy": "classes"}})
    assert "'train.output'" in str(error.value) and "set 'train.output: softmax'" in str(error.value)
    boundary = {"losses": {"dice_boundary": {"terms": [{"name": "dice_ce"}, {"name": "boundary"}]}},
                "experiments": {"losses": ["dice_boundary"]}}
    with pytest.raises(ConfigError, match="boundary term.*label_policy' is classes"):
        make_config({"preprocess": {"label_policy": "classes", "distance_maps": True}, "train": {"output": "softmax"},
                     **boundary})
    with pytest.raises(ConfigError, match="'photo.source: null'"):
        make_config({"preprocess": {"label_policy": "classes"}, "train": {"output": "softmax"},
                     "photo": {"source": "skimage:brick"}})
    make_config({"preprocess": {"label_policy": "classes"}, "train": {"output": "softmax"}})
