"""Skeleton Recall term: the tubed skeleton (2D, 3D), hand values, and the data-loader hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import logits_for, make_loss, tubes, value
from scipy import ndimage

from segpipe.errors import ConfigError
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case
from segpipe.training.losses.skeleton_recall import TUBE_KEY, skeleton, skeleton_tube


def test_tube_is_the_dilated_skeleton_inside_the_label():
    label = np.zeros((9, 12), bool)
    label[3:6, 1:11] = True  # a 3-pixel-wide bar
    skeleton_only = skeleton_tube(label, 0)
    assert skeleton_only[4, 2:9].all() and skeleton_only.sum() <= 10  # one line along the bar's middle row
    tube = skeleton_tube(label, 1)
    expected = ndimage.binary_dilation(skeleton_only > 0, ndimage.generate_binary_structure(2, 1)) & label
    np.testing.assert_array_equal(tube, expected)
    assert tube.dtype == np.float32 and not tube[~label].any()
    assert not skeleton_tube(np.zeros((5, 5)), 2).any()


def test_3d_skeleton_of_an_even_thickness_vessel_is_not_empty():
    # scikit-image's Lee thinning deletes a straight 4 x 4 vessel entirely (scikit-image #3757).
    label = np.zeros((16, 40, 16), bool)
    label[6:10, 3:37, 6:10] = True
    result = skeleton(label)
    rows = np.nonzero(result)[1]
    assert result[~label].sum() == 0 and set(range(8, 32)) <= set(rows.tolist())  # along the whole vessel
    tube = skeleton_tube(label, 2)
    assert 0 < tube.sum() <= label.sum()


def test_hand_computed_value():
    # A one-pixel line is its own skeleton and tube (the tube stays inside the label): n = 7
    # pixels predicted with 0.25 give recall (0.25 n + 1) / (n + 1) = 2.75 / 8.
    label = torch.zeros(1, 1, 6, 10)
    label[0, 0, 2, 1:8] = 1
    probability = torch.full_like(label, 0.25)
    probability[0, 0, 4] = 0.9  # outside the tube: no effect on recall
    for output in ("sigmoid", "softmax"):
        assert float(value(make_loss("skeleton_recall", output), logits_for(probability, output), label)) == pytest.approx(-2.75 / 8, abs=1e-6)


def test_batch_recall_pools_the_samples():
    labels = tubes(np.random.default_rng(0), 3, (20, 20))
    probability = torch.rand(3, 1, 20, 20).clamp(0.01, 0.99)
    loss = make_loss("skeleton_recall", batch=True, smooth=1e-3)
    tube = torch.stack([torch.from_numpy(skeleton_tube(label[0].numpy(), 2))[None] for label in labels])
    expected = -((probability * tube).sum() + 1e-3) / (tube.sum() + 1e-3)
    assert float(value(loss, logits_for(probability, "sigmoid"), labels)) == pytest.approx(float(expected), rel=1e-5)


def test_data_loader_computes_the_tube_of_each_augmented_patch():
    loss = make_loss("skeleton_recall", "sigmoid", 3)
    label = tubes(np.random.default_rng(1), 1, (20, 24, 24))[0, 0].numpy()
    case = make_training_case("a", np.zeros((1, *label.shape), np.float32), label, {}, (16, 16, 16))
    source = BatchSource([case], SamplingSettings(3, (16, 16, 16)), (16, 16, 16), seed=0, sample_hook=loss.sample_extras)
    batch = source[1]
    assert batch[TUBE_KEY].shape == batch["label"].shape == (3, 1, 16, 16, 16)
    for tube, patch in zip(batch[TUBE_KEY].numpy(), batch["label"].numpy()):
        np.testing.assert_array_equal(tube[0], skeleton_tube(patch[0], 2))


@pytest.mark.parametrize("options", [{"tube_radius": -1}, {"tube_radius": 1.5}, {"batch": 1}, {"smooth": -1}])
def test_bad_options_name_the_key(options):
    (key,) = options
    with pytest.raises(ConfigError, match=rf"'losses\.test\.terms\[0\]\.{key}'"):
        make_loss("skeleton_recall", **options)
