"""MIP term: hand values, prediction and label projected along the same axes, whole-volume label projections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import PROGRESS, batch_for, confident, logits_for, make_loss, value

from segpipe.errors import ConfigError
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.losses.mip import axis_key, target_key


def focal_tversky(p: np.ndarray, t: np.ndarray, alpha: float = 0.7, gamma: float = 0.75, smooth: float = 1.0) -> float:
    """SPOCKMIP's Focal Tversky loss written out: alpha weighs false negatives."""
    tp, fn, fp = np.sum(p * t), np.sum((1 - p) * t), np.sum(p * (1 - t))
    return float((1 - (tp + smooth) / (tp + alpha * fn + (1 - alpha) * fp + smooth)) ** gamma)


def test_hand_computed_values():
    label = torch.tensor([[[[1.0, 0, 0], [0, 0, 1]]]])
    probability = torch.tensor([[[[0.8, 0.1, 0.2], [0.3, 0.4, 0.6]]]])
    logits = logits_for(probability, "sigmoid")
    # axis 0 (down the columns): p -> 0.8 0.4 0.6, label -> 1 0 1: TP 1.4, FN 0.6, FP 0.4
    along_rows = (1 - 2.4 / (2.4 + 0.7 * 0.6 + 0.3 * 0.4)) ** 0.75
    # axis 1 (along the rows): p -> 0.8 0.6, label -> 1 1: TP 1.4, FN 0.6, FP 0
    along_columns = (1 - 2.4 / (2.4 + 0.7 * 0.6)) ** 0.75
    assert float(value(make_loss("mip", axes=0), logits, label)) == pytest.approx(along_rows, rel=1e-5)
    assert float(value(make_loss("mip", axes=[1]), logits, label)) == pytest.approx(along_columns, rel=1e-5)
    assert float(value(make_loss("mip"), logits, label)) == pytest.approx((along_rows + along_columns) / 2, rel=1e-5)
    # Dice: 1 - (2 TP + 1) / (sum p + sum t + 1)
    assert float(value(make_loss("mip", axes=0, similarity="dice"), logits, label)) == pytest.approx(1 - 3.8 / 4.8, rel=1e-5)


def test_prediction_and_label_are_projected_along_the_same_axis():
    # An asymmetric label in a cube: the projections along different axes differ, and would
    # have the same shape, so projecting prediction and label along different axes would go unnoticed
    # by shapes alone.
    rng = np.random.default_rng(0)
    label = np.zeros((8, 8, 8), np.float32)
    label[1:3, 2:7, 4] = 1
    label[5, 1, 1:8] = 1
    probability = rng.uniform(0.05, 0.95, (8, 8, 8)).astype(np.float32)
    logits = logits_for(torch.from_numpy(probability)[None, None], "sigmoid")
    labels = torch.from_numpy(label)[None, None]
    seen = torch.sigmoid(logits)[0, 0].double().numpy()
    values = [float(value(make_loss("mip", "sigmoid", 3, axes=a), logits, labels)) for a in range(3)]
    for a in range(3):
        assert values[a] == pytest.approx(focal_tversky(seen.max(axis=a), label.max(axis=a)), rel=1e-5)
    assert len({round(v, 4) for v in values}) == 3
    assert float(value(make_loss("mip", "sigmoid", 3), confident(labels, "sigmoid"), labels)) < 1e-3


def test_label_projection_comes_from_the_whole_volume():
    label = np.zeros((12, 14, 16), np.uint8)
    label[2:10, 3, 5] = 1  # a vessel crossing the patches
    label[6, 2:12, 12] = 1
    index = np.arange(label.size, dtype=np.float32).reshape(label.shape)  # the image says where a patch is
    loss = make_loss("mip", "sigmoid", 3)
    case = make_training_case("a", index[np.newaxis], label, loss.case_extras(None, label), (8, 8, 8))
    settings = SamplingSettings(4, (8, 8, 8), flips=False, rot90=False, foreground_oversampling=0.5)
    batch = BatchSource([case], settings, (8, 8, 8), seed=3, sample_hook=loss.sample_extras)[1]
    for sample in range(4):
        corner = np.unravel_index(int(batch["image"][sample, 0, 0, 0, 0]), label.shape)
        window = tuple(slice(c, c + 8) for c in corner)
        for a in range(3):
            whole = label.max(axis=a, keepdims=True)[tuple(slice(None) if i == a else w for i, w in enumerate(window))]
            np.testing.assert_array_equal(batch[target_key(a)][sample, 0].numpy(), np.squeeze(whole, axis=a))
            assert int(batch[axis_key(a)][sample, 0]) == a


@pytest.mark.parametrize("shape", [(16, 16), (11, 14)])  # (11, 14): zero-padded to the 16 x 16 patch
def test_rotated_samples_are_projected_along_their_rotated_axis(shape):
    rng = np.random.default_rng(1)
    label = np.zeros(shape, np.uint8)
    label[3:6, 2:12] = 1
    label[7:11, 11] = 1
    label[rng.random(shape) > 0.95] = 1
    loss = make_loss("mip", "sigmoid", 2)
    case = make_training_case("a", np.zeros((1, *shape), np.float32), label, loss.case_extras(None, label), (16, 16))
    source = BatchSource([case], SamplingSettings(8, (16, 16)), (16, 16), seed=0, sample_hook=loss.sample_extras)
    swapped = 0
    for iteration in range(1, 4):
        batch = source[iteration]
        for sample in range(8):
            patch = batch["label"][sample, 0]
            for a in range(2):
                along = int(batch[axis_key(a)][sample, 0])
                swapped += along != a
                torch.testing.assert_close(batch[target_key(a)][sample, 0], patch.amax(dim=along))
        assert float(loss(confident(batch["label"], "sigmoid"), batch, PROGRESS).total) < 1e-3
    assert swapped > 0  # some samples were rotated by 90 degrees


def test_spockmip_total_is_two_weighted_terms():
    losses = {"spockmip": {"terms": [{"name": "dice_ce", "weight": 0.7}, {"name": "mip", "weight": 0.3}]}}
    loss = build_loss("spockmip", losses, TermContext("sigmoid", 2, "accurate"))
    label = torch.zeros(2, 1, 8, 8)
    label[:, :, 4, 1:7] = 1
    result = loss(torch.randn(2, 1, 8, 8), batch_for(loss, label), PROGRESS)
    assert float(result.total) == pytest.approx(0.7 * result.terms["dice_ce"] + 0.3 * result.terms["mip"], rel=1e-6)


@pytest.mark.parametrize("options, key", [
    ({"axes": 3}, "axes"), ({"axes": [0, 0]}, "axes"), ({"axes": []}, "axes"), ({"axes": "xy"}, "axes"),
    ({"similarity": "jaccard"}, "similarity"), ({"alpha": 1.5}, "alpha"), ({"gamma": 0}, "gamma"), ({"smooth": 0}, "smooth"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=rf"'losses\.test\.terms\[0\]\.{key}'"):
        make_loss("mip", "sigmoid", 3, **options)
