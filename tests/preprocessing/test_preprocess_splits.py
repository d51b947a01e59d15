"""Splits that later stages need are checked when the data set is preprocessed, before any training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from segpipe.cli import main
from segpipe.io.images import Geometry, write_image


def _dataset(root: Path, splits: list[str]) -> Path:
    """A dataset.json data set of 2D grey cases, one per entry of ``splits``."""
    rng = np.random.default_rng(0)
    cases = []
    for index, split in enumerate(splits):
        label = np.zeros((16, 16), np.uint8)
        label[4:10, 3:12] = 1
        write_image(root / "images" / f"{index}.nii.gz", rng.normal(0, 1, (16, 16)).astype(np.float32), Geometry.identity(2))
        write_image(root / "labels" / f"{index}.nii.gz", label, Geometry.identity(2))
        cases.append({"id": str(index), "split": split, "image": f"images/{index}.nii.gz",
                      "labels": {"accurate": f"labels/{index}.nii.gz"}})
    (root / "dataset.json").write_text(json.dumps(
        {"name": "tiny", "dimensions": 2, "channels": 1, "label_types": ["accurate"], "cases": cases}))
    return root


@pytest.mark.parametrize(("predicted", "splits", "missing"), [
    (["test"], ["train", "train", "val"], "test"),
    (["test", "val"], ["train", "test"], "val"),
])
def test_a_predicted_split_without_cases_is_an_error_before_training(tmp_path, capsys, predicted, splits, missing):
    # Issue 18.10: an empty test split failed only at `segpipe predict`, after a full training.
    dataset = _dataset(tmp_path / "data", splits)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"predict": {"splits": predicted}}))
    status = main(["preprocess", "--config", str(config), "--dataset", str(dataset), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"the data set has no cases in split '{missing}'" in err and "predict.splits" in err
    assert "fix:" in err and not (tmp_path / "out" / "manifest.json").exists()


def test_predicted_splits_with_cases_preprocess(tmp_path, capsys):
    dataset = _dataset(tmp_path / "data", ["train", "test"])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"predict": {"splits": ["test"]}}))
    assert main(["preprocess", "--config", str(config), "--dataset", str(dataset), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "manifest.json").is_file()
