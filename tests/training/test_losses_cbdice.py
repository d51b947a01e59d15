"""cbDice term (Shi et al. 2024): hand-worked values from the paper's definitions, radius maps, properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import logits_for, make_loss, tubes, value
from scipy import ndimage

from segpipe.training.losses import cbdice
from segpipe.training.losses.cbdice import CbDiceLoss, radius_maps


def centre_rows(mask: np.ndarray) -> np.ndarray:
    """Skeleton of horizontal bars spanning the image: the deepest row of each column."""
    distance = ndimage.distance_transform_edt(mask)
    return mask & (distance == distance.max(axis=0, keepdims=True))


@pytest.fixture
def bar_skeletons(monkeypatch):
    """Exact skeletons for the hand-worked bars (scikit-image bends a bar's skeleton at its ends)."""
    monkeypatch.setattr(cbdice, "skeleton", centre_rows)


def bar(rows: slice, value: float = 1.0, shape: tuple[int, int] = (6, 8)) -> np.ndarray:
    image = np.zeros(shape)
    image[rows] = value
    return image


def test_radius_maps_of_a_bar(bar_skeletons):
    maps = radius_maps(bar(slice(1, 4)) > 0)  # rows 1-3: distance 1, 2, 1; radius 2 on row 2
    np.testing.assert_allclose(maps[0][:, 0], [0, 0.5, 1, 0.5, 0, 0])
    np.testing.assert_allclose(maps[1][:, 0], [0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(maps[2][:, 0], [0, 0, 1, 0, 0, 0])
    thin = radius_maps(bar(slice(2, 3)) > 0)  # radius max(1, 1): the weight of a radius-1 skeleton is 1
    np.testing.assert_allclose(thin[2][2], 1.0)
    assert not radius_maps(np.zeros((4, 4), bool)).any()


def test_hand_worked_shifted_bar(bar_skeletons):
    # label rows 1-3, prediction rows 2-4 at p = 0.8 (0.1 elsewhere), 8 columns, smooth 1.
    # precision: prediction skeleton (row 3, weight 1) on the label's distance map (0.5 there),
    # over its radius (the label has no skeleton radius there, so the prediction's: 1 x p);
    # sensitivity: label skeleton (row 2) on the prediction's distance map (0.5 x p), over the
    # prediction's radius where it has one, else the label's (1).
    p, q, s = bar(slice(2, 5), 0.8) + bar(slice(None), 0.1) * (bar(slice(2, 5)) == 0), 0.8, 1.0
    precision = (8 * q * 0.5 + s) / (8 * q * q + s)
    sensitivity = (8 * 0.5 * q + s) / (8 * 1.0 + s)
    expected = 1 - 2 * precision * sensitivity / (precision + sensitivity)
    label = radius_maps(bar(slice(1, 4)) > 0)
    got = CbDiceLoss()(torch.from_numpy(p)[None, None].float(), torch.from_numpy(label)[None])
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_confident_or_not_a_prediction_with_the_label_s_shape_scores_zero(bar_skeletons):
    label = radius_maps(bar(slice(1, 4)) > 0)
    for q in (0.6, 0.99):
        p = np.where(bar(slice(1, 4)) > 0, q, 0.2)
        assert float(CbDiceLoss()(torch.from_numpy(p)[None, None].float(), torch.from_numpy(label)[None])) == \
            pytest.approx(0.0, abs=1e-6)


def test_empty_label_and_prediction_score_zero_and_a_false_structure_does_not():
    empty = torch.zeros(1, 1, 12, 12)
    loss = make_loss("cbdice")
    assert float(value(loss, logits_for(torch.full_like(empty, 0.1), "sigmoid"), empty)) == pytest.approx(0.0, abs=1e-6)
    false = torch.full_like(empty, 0.1)
    false[..., 4:8, :] = 0.9
    assert float(value(loss, logits_for(false, "sigmoid"), empty)) > 0.5


@pytest.mark.parametrize("dimensions, shape", [(2, (24, 20)), (3, (10, 12, 14))])
def test_gradient_lies_on_the_thresholded_prediction(dimensions, shape):
    # every term multiplies p by a map of the thresholded prediction: voxels predicted background get none
    rng = np.random.default_rng(dimensions)
    labels = tubes(rng, 2, shape, radius=2)
    logits = torch.randn(2, 1, *shape, requires_grad=True)
    value(make_loss("cbdice", "sigmoid", dimensions), logits, labels).backward()
    assert logits.grad[logits <= 0].abs().max() == 0 and logits.grad[logits > 0].abs().sum() > 0
