"""Betti numbers of masks (against gudhi and scipy) and the Betti matching error."""

import gudhi
import numpy as np
import pytest
from scipy import ndimage
from topology_cases import random_masks

from segpipe.topology import TopologyValueError, barcode, betti_matching_error, betti_numbers

CONNECTIVITIES = ("full", "face")


def gudhi_betti(mask: np.ndarray, connectivity: str) -> list[int]:
    """Betti numbers of the foreground from gudhi's cubical complex of ``1 - mask`` at level 0."""
    values = 1.0 - mask.astype(float)
    if connectivity == "full":
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=values)
    else:
        complex_ = gudhi.CubicalComplex(vertices=values)
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=-1)
    betti = complex_.persistent_betti_numbers(0.0, 0.0)
    return [int(b) for b in betti[: mask.ndim]] + [0] * (mask.ndim - len(betti))


def scipy_components_and_cavities(mask: np.ndarray, connectivity: str) -> tuple[int, int]:
    """Foreground components, and background components not touching the border."""
    full = connectivity == "full"
    foreground = ndimage.generate_binary_structure(mask.ndim, mask.ndim if full else 1)
    background = ndimage.generate_binary_structure(mask.ndim, 1 if full else mask.ndim)
    components = ndimage.label(mask, structure=foreground)[1]
    labels, count = ndimage.label(~mask, structure=background)
    border = np.zeros_like(mask)
    for axis in range(mask.ndim):
        index = [slice(None)] * mask.ndim
        for end in (0, -1):
            index[axis] = end
            border[tuple(index)] = True
    cavities = count - len(np.setdiff1d(np.unique(labels[border & ~mask]), [0]))
    return components, cavities


@pytest.mark.parametrize("ndim,count", [(2, 300), (3, 100)])
def test_betti_numbers_equal_gudhi_and_scipy(ndim, count):
    for mask in random_masks(ndim, ndim, count):
        for connectivity in CONNECTIVITIES:
            ours = betti_numbers(mask, connectivity=connectivity)
            assert ours.tolist() == gudhi_betti(mask, connectivity), (connectivity, mask)
            components, cavities = scipy_components_and_cavities(mask, connectivity)
            assert ours[0] == components and ours[-1] == cavities


@pytest.mark.parametrize("ndim,count", [(2, 100), (3, 40)])
def test_betti_numbers_are_those_of_the_engine_barcode(ndim, count):
    """The linear-time counts equal the persistence engine's Betti numbers at the mask's level."""
    for mask in random_masks(20 + ndim, ndim, count):
        for connectivity in CONNECTIVITIES:
            engine = barcode(mask, filtration="superlevel", connectivity=connectivity).betti_numbers_at(0.5)
            np.testing.assert_array_equal(betti_numbers(mask, connectivity=connectivity), engine)


def test_default_connectivity_is_full_8_in_2d_and_26_in_3d():
    diagonal = np.eye(4, dtype=bool)
    assert betti_numbers(diagonal).tolist() == [1, 0]
    assert betti_numbers(diagonal, connectivity="face").tolist() == [4, 0]
    cube_diagonal = np.zeros((3, 3, 3), dtype=bool)
    cube_diagonal[[0, 1, 2], [0, 1, 2], [0, 1, 2]] = True
    assert betti_numbers(cube_diagonal).tolist() == [1, 0, 0]
    assert betti_numbers(cube_diagonal, connectivity="face").tolist() == [3, 0, 0]
    for wrong in (8, 6, "top"):
        with pytest.raises(TopologyValueError, match="connectivity"):
            betti_numbers(diagonal, connectivity=wrong)


def test_known_shapes():
    ring = np.zeros((7, 7), dtype=bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    assert betti_numbers(ring).tolist() == [1, 1]
    shell = np.zeros((5, 5, 5), dtype=bool)
    shell[0:5, 0:5, 0:5] = True
    shell[1:4, 1:4, 1:4] = False
    assert betti_numbers(shell).tolist() == [1, 0, 1]
    torus = np.zeros((4, 7, 7), dtype=bool)
    torus[1:3, 1:6, 1:6] = True
    torus[1:3, 3, 3] = False
    assert betti_numbers(torus).tolist() == [1, 1, 0]
    assert betti_numbers(np.zeros((4, 4))).tolist() == [0, 0]


@pytest.mark.parametrize("ndim,count", [(2, 200), (3, 60)])
def test_matching_error_is_at_least_the_betti_number_error(ndim, count):
    rng = np.random.default_rng(10 + ndim)
    for prediction in random_masks(10 + ndim, ndim, count):
        target = rng.random(prediction.shape) < rng.uniform(0.1, 0.9)
        for connectivity in CONNECTIVITIES:
            error = betti_matching_error(prediction, target, connectivity=connectivity)
            betti_error = np.abs(
                betti_numbers(prediction, connectivity=connectivity) - betti_numbers(target, connectivity=connectivity)
            )
            assert (error >= betti_error).all(), (connectivity, prediction, target)
            assert betti_matching_error(target, target, connectivity=connectivity).sum() == 0


def test_matching_error_counts_essential_components():
    empty = np.zeros((6, 6), dtype=bool)
    blobs = empty.copy()
    blobs[1, 1] = blobs[4, 4] = True
    assert betti_matching_error(empty, blobs).tolist() == [2, 0]
    assert betti_matching_error(blobs, empty).tolist() == [2, 0]
    assert betti_matching_error(empty, empty).tolist() == [0, 0]


def test_matching_error_sees_misplaced_features():
    """Same Betti numbers, holes in different places: Betti error 0, matching error 2."""
    target = np.zeros((7, 12), dtype=bool)
    target[1:6, 1:11] = True
    prediction = target.copy()
    target[3, 3] = False
    prediction[3, 8] = False
    assert betti_numbers(prediction).tolist() == betti_numbers(target).tolist() == [1, 1]
    assert betti_matching_error(prediction, target).tolist() == [0, 2]
