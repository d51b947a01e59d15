"""RegionWise term (Valverde et al. 2023, as TopoMortar ran it): hand-worked maps and values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import logits_for, make_loss, value

from segpipe.training.losses.region_wise import rectified_maps


def test_hand_worked_maps_of_a_row():
    # label 0 1 1 1 0 0: foreground distances 1 2 1 (max 2); background distances 1 . . . 1 2 (max 2)
    maps = rectified_maps(np.array([[0, 1, 1, 1, 0, 0]]))
    np.testing.assert_allclose(maps[1, 0], [1, -0.5, -1, -0.5, 1, 1])
    np.testing.assert_allclose(maps[0, 0], [-0.5, 1, 1, 1, -0.5, -1])


def test_classes_without_voxels_or_without_other_class():
    np.testing.assert_array_equal(rectified_maps(np.zeros((2, 3)))[1], 1.0)
    np.testing.assert_array_equal(rectified_maps(np.zeros((2, 3)))[0], -1.0)
    np.testing.assert_array_equal(rectified_maps(np.ones((2, 2, 2)))[1], -1.0)


def test_hand_worked_value():
    # p = 0.9 0.8 0.7 0.6 0.2 0.1 on the row above: mean over 2 classes x 6 voxels of
    # (1 - p) * map_background + p * map_foreground
    p = torch.tensor([[[[0.9, 0.8, 0.7, 0.6, 0.2, 0.1]]]])
    label = torch.tensor([[[[0.0, 1, 1, 1, 0, 0]]]])
    background = [-0.5, 1, 1, 1, -0.5, -1]
    foreground = [1, -0.5, -1, -0.5, 1, 1]
    q = p.flatten().tolist()
    expected = sum((1 - a) * b + a * f for a, b, f in zip(q, background, foreground)) / 12
    assert float(value(make_loss("region_wise"), logits_for(p, "sigmoid"), label)) == pytest.approx(expected, rel=1e-5)


def test_perfect_prediction_is_the_minimum_of_the_maps():
    label = torch.zeros(1, 1, 8, 9)
    label[..., 2:5, 3:7] = 1
    loss = make_loss("region_wise", "softmax")
    maps = rectified_maps(label[0, 0].numpy())
    perfect = torch.cat([-40 * (2 * label - 1), 40 * (2 * label - 1)], 1)
    expected = 0.5 * np.where(label[0, 0].numpy() > 0, maps[1], maps[0]).mean()
    assert float(value(loss, perfect, label)) == pytest.approx(expected, abs=1e-6)
