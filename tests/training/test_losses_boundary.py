"""Boundary term: signed distance maps with spacing from preprocessing, hand values, Kervadec's schedule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from loss_cases import batch_for, case_of, logits_for, make_loss, value

from segpipe.config import validate_config
from segpipe.datasets.cases import PreprocessedCase, load_case
from segpipe.errors import ConfigError, InputError
from segpipe.io.images import Geometry, write_image
from segpipe.preprocessing.preprocess import distance_map_key, preprocess_dataset, signed_distance_map
from segpipe.training.losses import Progress, TermContext, build_loss


def test_signed_distance_map_by_hand():
    mask = np.array([[0, 1, 1, 0, 0]])
    # one row: distances run along the columns, 2 mm apart
    np.testing.assert_allclose(signed_distance_map(mask, (1.0, 2.0)), [[2, -2, -2, 2, 4]])
    square = np.zeros((5, 5))
    square[1:4, 1:4] = 1
    expected = np.array([
        [np.sqrt(2), 1, 1, 1, np.sqrt(2)],
        [1, -1, -1, -1, 1],
        [1, -1, -2, -1, 1],
        [1, -1, -1, -1, 1],
        [np.sqrt(2), 1, 1, 1, np.sqrt(2)],
    ])
    np.testing.assert_allclose(signed_distance_map(square), expected, rtol=1e-6)
    assert not signed_distance_map(np.zeros((3, 4, 5))).any()  # absent class: zero
    full = signed_distance_map(np.ones((3, 5)))
    assert (full < 0).all() and full[1, 2] == -2  # background assumed beyond the border
    assert signed_distance_map(square).dtype == np.float32


def test_hand_computed_value():
    label = torch.tensor([[[[0.0, 1, 1, 0, 0]]]])  # distance map 1 -1 -1 1 2 (unit spacing)
    probability = torch.tensor([[[[0.5, 0.9, 0.4, 0.2, 0.1]]]])
    expected = (0.5 - 0.9 - 0.4 + 0.2 + 0.2) / 5
    for output in ("sigmoid", "softmax"):
        assert float(value(make_loss("boundary", output), logits_for(probability, output), label)) == pytest.approx(expected, abs=1e-6)


def test_distance_map_is_cropped_with_the_patch():
    label = np.zeros((10, 12), np.uint8)
    label[4:6, :] = 1
    loss = make_loss("boundary")
    extras = loss.case_extras(case_of(label), label)
    np.testing.assert_array_equal(extras["boundary_sdm"], signed_distance_map(label))
    with pytest.raises(InputError, match="preprocess.distance_maps: true"):
        loss.case_extras(PreprocessedCase(np.zeros((1, 10, 12)), {"accurate": label}, Geometry.identity(2)), label)


def test_preprocess_stores_a_distance_map_per_label_type_with_spacing(tmp_path):
    geometry = Geometry((0.5, 2.0), (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))  # ITK (x, y): rows 2 mm, columns 0.5 mm apart
    labels = {"accurate": np.zeros((8, 10), np.uint8), "noisy": np.zeros((8, 10), np.uint8)}
    labels["accurate"][2:6, 3:7] = 1
    labels["noisy"][3:5, 4:6] = 1
    write_image(tmp_path / "data" / "images" / "a.nii.gz", np.random.default_rng(0).random((8, 10)).astype(np.float32), geometry)
    for label_type, label in labels.items():
        write_image(tmp_path / "data" / label_type / "a.nii.gz", label, geometry)
    (tmp_path / "data" / "dataset.json").write_text(json.dumps({
        "name": "sdm", "dimensions": 2, "channels": 1, "label_types": ["accurate", "noisy"],
        "cases": [{"id": "a", "split": "train", "group": "indistr", "image": "images/a.nii.gz",
                   "labels": {t: f"{t}/a.nii.gz" for t in labels}}],
    }))
    preprocess_dataset(tmp_path / "data", tmp_path / "plain")
    assert load_case(tmp_path / "plain" / "cases" / "a.npz").extras == {}
    preprocess_dataset(tmp_path / "data", tmp_path / "out", distance_maps=True)
    case = load_case(tmp_path / "out" / "cases" / "a.npz")
    assert sorted(case.extras) == [distance_map_key("accurate"), distance_map_key("noisy")]
    for label_type, label in labels.items():
        np.testing.assert_allclose(case.extras[distance_map_key(label_type)], signed_distance_map(label, (2.0, 0.5)))
    assert case.extras[distance_map_key("accurate")][0, 4] == pytest.approx(4.0)  # two rows above the square


def test_config_requires_distance_maps_for_an_experiment_with_the_boundary_term():
    losses = {"dice_ce": {"terms": [{"name": "dice_ce"}]}, "bnd": {"terms": [{"name": "dice_ce"}, {"name": "boundary"}]}}
    validate_config({"losses": losses})  # defined but not used by an experiment: fine
    with pytest.raises(ConfigError, match=r"'losses\.bnd'.*boundary term.*'preprocess\.distance_maps: true'"):
        validate_config({"losses": losses, "experiments": {"losses": ["bnd"]}})
    validate_config({"losses": losses, "experiments": {"losses": ["bnd"]}, "preprocess": {"distance_maps": True}})


def test_kervadec_schedule_from_config():
    terms = [
        {"name": "dice_ce", "weight": {"start": 1.0, "end": 0.01, "shape": "step", "steps": 99}},
        {"name": "boundary", "weight": {"start": 0.0, "end": 0.99, "shape": "step", "steps": 99}},
    ]
    config = validate_config({"losses": {"kervadec": {"terms": terms}}, "experiments": {"losses": ["kervadec"]},
                              "preprocess": {"distance_maps": True}})
    loss = build_loss("kervadec", config["losses"], TermContext("sigmoid", 2, "accurate"))
    label = torch.zeros(1, 1, 6, 6)
    label[..., 2:4, :] = 1
    batch = batch_for(loss, label)
    logits = torch.randn(1, 1, 6, 6)
    for iteration, region, boundary in ((1, 1.0, 0.0), (500, 0.51, 0.49), (1000, 0.01, 0.99)):
        result = loss(logits, batch, Progress(iteration, 1000))
        assert result.weights == pytest.approx({"dice_ce": region, "boundary": boundary})
        weighted = [weight * result.terms[key] for key, weight in (("dice_ce", region), ("boundary", boundary)) if weight]
        assert float(result.total) == pytest.approx(sum(weighted), rel=1e-5, abs=1e-7)
        assert math.isnan(result.terms["boundary"]) == (boundary == 0)  # a term with zero weight is not computed
