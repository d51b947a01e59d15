"""Evaluation of multi-class predictions: every metric per class (one vs rest), and its mean over the classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from own_data import png, vessel_classes_png
from PIL import Image

from segpipe.errors import InputError
from segpipe.evaluation.evaluate import evaluate
from segpipe.evaluation.metrics import get_metric, metric_of_column, split_class_column
from segpipe.inference.predictions import PredictedCase, write_index
from segpipe.preprocessing.preprocess import LabelPolicy, preprocess_dataset

RUN = "unet.dice_ce.label.large.plain.s0"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """The preprocessed manifest of a two-class data set (artery 1, vein 2)."""
    root = tmp_path_factory.mktemp("classes")
    return preprocess_dataset(vessel_classes_png(root / "data"), root / "out", label_policy=LabelPolicy("classes")), root


def write_predictions(directory, manifest, drop: int) -> None:
    """Predictions that are the reference label maps without class ``drop``, with one-hot class probabilities."""
    directory.mkdir()
    cases = []
    for case in manifest.select(split="test"):
        label = np.asarray(Image.open(case.labels["label"]))
        prediction = np.where(label == drop, 0, label).astype(np.uint8)
        mask, probability = directory / f"{case.case_id}_mask.png", directory / f"{case.case_id}_prob.tif"
        png(mask, prediction)
        channels = np.stack([(prediction == k) for k in (1, 2)], axis=-1).astype(np.float32)
        tifffile.imwrite(probability, channels, photometric="minisblack", planarconfig="contig", extrasamples=["unspecified"])
        cases.append(PredictedCase(case.case_id, mask, probability, case.split, case.group))
    write_index(directory, RUN, 0.5, cases)


def test_every_metric_is_computed_per_class_and_averaged_over_the_classes(manifest, tmp_path, make_config):
    manifest, root = manifest
    write_predictions(tmp_path / "predictions", manifest, drop=2)
    config = make_config({"evaluate": {"metrics": ["dice", "betti", "diagram_distances"], "label_type": "label"}})
    frame = pd.read_csv(evaluate(config, root / "out" / "manifest.json", tmp_path / "predictions", tmp_path / "m.csv"))
    metric_columns = list(frame.columns[frame.columns.get_loc("reference") + 1:])
    assert metric_columns[:6] == ["dice", "dice_artery", "dice_vein", "betti0_error", "betti0_error_artery",
                                  "betti0_error_vein"]
    assert len(metric_columns) == 3 * (len(get_metric("dice").columns) + len(get_metric("betti").columns)
                                       + len(get_metric("diagram_distances").columns))
    assert (frame["dice_artery"] == 1).all() and (frame["dice_vein"] == 0).all() and (frame["dice"] == 0.5).all()
    assert (frame["betti0_error_artery"] == 0).all() and (frame["betti0_error_vein"] == 1).all()
    assert (frame["betti0_error"] == 0.5).all()
    assert (frame["bottleneck0_artery"] == 0).all() and (frame["bottleneck0_vein"] > 0).all()


def test_a_prediction_with_a_value_that_is_no_class_is_named(manifest, tmp_path, make_config):
    manifest, root = manifest
    write_predictions(tmp_path / "predictions", manifest, drop=2)
    first = manifest.select(split="test")[0]
    png(tmp_path / "predictions" / f"{first.case_id}_mask.png", np.full((32, 32), 7, np.uint8))
    with pytest.raises(InputError) as error:
        evaluate(make_config({"evaluate": {"metrics": ["dice"], "label_type": "label"}}), root / "out" / "manifest.json",
                 tmp_path / "predictions", tmp_path / "m.csv")
    assert f"{first.case_id}_mask.png" in str(error.value) and "1..2 (artery, vein)" in str(error.value)


def test_class_columns_belong_to_their_metric():
    assert split_class_column("betti_matching1_error_vein") == ("betti_matching1_error", "vein")
    assert split_class_column("dice") == ("dice", None) and split_class_column("unknown_x") == ("unknown_x", None)
    assert metric_of_column("hd95_artery") is get_metric("hd95") and metric_of_column("unknown_x") is None
