"""Warping loss term (Hu 2022): simple points against invariants counted by scipy, hand-worked critical voxels, values.

topolosses 0.2.0's ``WarpingLoss`` is not used as an oracle: it visits the pixels ``(x, x)``
(``y`` is read from the row indices), warps the background channel of the target against the
foreground of the prediction, and applies softmax twice; it also needs OpenCV.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from loss_cases import logits_for, make_loss, value
from scipy import ndimage

from segpipe.topology import betti_numbers
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.losses.warping import critical_voxels, simple, warp


def block_of(row: np.ndarray, ndim: int) -> np.ndarray:
    """The 3^d block whose neighbours are ``row`` (itertools.product order), centre background."""
    block = np.zeros((3,) * ndim, bool)
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    for offset, inside in zip(offsets, row):
        block[tuple(np.add(offset, 1))] = inside
    return block


def invariants(block: np.ndarray, connectivity: str) -> tuple[int, int]:
    """Components of the foreground and of the background (outside the block included), by scipy."""
    ndim, padded = block.ndim, np.pad(block, 1)
    full, face = ndimage.generate_binary_structure(ndim, ndim), ndimage.generate_binary_structure(ndim, 1)
    foreground, background = (full, face) if connectivity == "full" else (face, full)
    return ndimage.label(padded, foreground)[1], ndimage.label(~padded, background)[1]


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_2d_simple_points_are_the_flips_that_keep_components_and_holes(connectivity):
    rows = (np.arange(256)[:, None] >> np.arange(8)) & 1 > 0
    answers = simple(rows, connectivity)
    for row, answer in zip(rows, answers):
        block = block_of(row, 2)
        with_centre = block.copy()
        with_centre[1, 1] = True
        assert answer == (invariants(block, connectivity) == invariants(with_centre, connectivity))
    assert answers.sum() == 116  # 8/4 and 4/8 alike


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_3d_simple_points_keep_betti_numbers_and_duality(connectivity):
    rng = np.random.default_rng(1)
    rows = rng.random((600, 26)) < rng.random((600, 1))
    answers = simple(rows, connectivity)
    assert 0.2 < answers.mean() < 0.8
    other = "face" if connectivity == "full" else "full"
    np.testing.assert_array_equal(simple(~rows, other), answers)  # simple for X (26/6) iff for its complement (6/26)
    for row in rows[answers]:  # flipping a simple point keeps components, tunnels and cavities (engine's count)
        block = block_of(row, 3)
        with_centre = block.copy()
        with_centre[1, 1, 1] = True
        np.testing.assert_array_equal(betti_numbers(np.pad(block, 1).astype(np.uint8), connectivity=connectivity),
                                      betti_numbers(np.pad(with_centre, 1).astype(np.uint8), connectivity=connectivity))
    # a voxel joining two parallel face-touching plates, and an isolated voxel, are never simple
    plates = np.zeros((3, 3, 3), bool)
    plates[0], plates[2] = True, True
    isolated = np.zeros((3, 3, 3), bool)
    for block in (plates, isolated):
        row = np.array([block[tuple(np.add(o, 1))] for o in itertools.product((-1, 0, 1), repeat=3) if any(o)])
        assert not simple(row[None], connectivity)[0]


def ring() -> np.ndarray:
    """A 5 x 5 ring of foreground with a 3 x 3 hole in a 9 x 9 image, as a batch of one."""
    label = np.zeros((1, 9, 9), bool)
    label[0, 2:7, 2:7] = True
    label[0, 3:6, 3:6] = False
    return label


def test_hand_worked_critical_voxels():
    label = ring()
    prediction = label.copy()
    prediction[0, 2, 4] = False  # a gap that opens the hole: critical
    prediction[0, 0, 0] = True   # an isolated false positive, a new component: critical
    prediction[0, 7, 4] = True   # a bump on the ring: simple, not critical
    prediction[0, 4, 5] = True   # a bump into the hole: simple, not critical
    expected = np.zeros_like(label)
    expected[0, 2, 4] = expected[0, 0, 0] = True
    np.testing.assert_array_equal(critical_voxels(prediction, label), expected)
    # a thicker wall: the gap of one voxel leaves the ring closed and is simple
    thick = label.copy()
    thick[0, 1, 2:7] = True
    assert not critical_voxels(thick & ~expected, thick).any()


def test_warp_flips_simple_points_nearest_first():
    # removing a 3-voxel bar from the end: the far end is simple only after the nearer ones go
    mask = np.zeros((1, 5, 7), bool)
    mask[0, 2, 1:6] = True
    order = np.zeros(mask.shape)
    order[0, 2, 3:6] = [3.0, 2.0, 1.0]
    warped = warp(mask, order)
    np.testing.assert_array_equal(warped[0, 2], [False, True, True, False, False, False, False])
    # every voxel in one round: visited once each, by parity class; only the ends go, the bar stays one piece
    np.testing.assert_array_equal(warp(mask, np.where(mask, 1.0, 0.0))[0, 2], [0, 0, 1, 1, 1, 0, 0])


def test_value_is_cross_entropy_on_critical_voxels_per_voxel():
    label = ring()
    probability = np.where(label, 0.8, 0.1)
    probability[0, 2, 4] = 0.3  # the gap
    probability[0, 0, 0] = 0.6  # the false component
    probability[0, 7, 4] = 0.7  # a simple bump: no loss
    expected = -(np.log(0.3) + np.log(0.4)) / 81
    p, t = torch.from_numpy(probability[:, None]).float(), torch.from_numpy(label[:, None]).float()
    assert float(value(make_loss("warping"), logits_for(p, "sigmoid"), t)) == pytest.approx(expected, rel=1e-4)


def test_3d_gap_in_a_tube_is_critical():
    label = np.zeros((1, 7, 7, 9), bool)
    label[0, 2:5, 2:5, :] = True  # a 3 x 3 tube through the patch
    prediction = label.copy()
    prediction[0, 2:5, 2:5, 4] = False  # cut through: the tube splits
    critical = critical_voxels(prediction, label)
    assert critical[0, :, :, 4].sum() >= 1 and not critical[0, :, :, :3].any()


def test_connectivity_defaults_to_the_runs():
    assert make_loss("warping").terms["warping"].loss.connectivity == "full"
    loss = build_loss("x", {"x": {"terms": [{"name": "warping"}]}}, TermContext("sigmoid", 3, "accurate", connectivity="face"))
    assert loss.terms["warping"].loss.connectivity == "face"
