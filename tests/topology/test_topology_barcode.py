"""Barcodes of the engine equal gudhi's cubical persistence on random 2D and 3D arrays."""

import gudhi
import numpy as np
import pytest
from topology_cases import cases

from segpipe.topology import barcode


def gudhi_bars(array: np.ndarray, connectivity: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per dimension: sorted finite (birth, death) pairs and sorted essential births from gudhi."""
    if connectivity == "face":
        complex_ = gudhi.CubicalComplex(vertices=array)
    else:
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=array)
    pairs = complex_.persistence(homology_coeff_field=2, min_persistence=0)
    out = {}
    for dim in range(array.ndim):
        finite = sorted((b, d) for k, (b, d) in pairs if k == dim and np.isfinite(d))
        essential = sorted(b for k, (b, d) in pairs if k == dim and not np.isfinite(d))
        out[dim] = (np.array(finite, dtype=float).reshape(-1, 2), np.array(essential, dtype=float))
    return out


def assert_same_barcode(array: np.ndarray, connectivity: str = "face", filtration: str = "sublevel"):
    ours = barcode(array, connectivity=connectivity, filtration=filtration)
    sign = 1.0 if filtration == "sublevel" else -1.0
    reference = gudhi_bars(sign * array, connectivity)
    assert len(ours) == array.ndim
    for dim, bars in enumerate(ours):
        finite = sign * bars.finite()
        finite = finite[np.lexsort((finite[:, 1], finite[:, 0]))]
        np.testing.assert_array_equal(finite, reference[dim][0], err_msg=f"dim {dim}, {array!r}")
        np.testing.assert_array_equal(np.sort(sign * bars.births[bars.essential]), reference[dim][1])


@pytest.mark.parametrize("seed", range(10))
def test_2d_face_connectivity_equals_gudhi_vertices(seed):
    for array in cases(seed, 100, ndim=2):
        assert_same_barcode(array)


@pytest.mark.parametrize("seed", range(4))
def test_3d_face_connectivity_equals_gudhi_vertices(seed):
    for array in cases(100 + seed, 50, ndim=3):
        assert_same_barcode(array)


@pytest.mark.parametrize("ndim,count", [(2, 150), (3, 40)])
def test_superlevel_is_sublevel_of_negated_values(ndim, count):
    for array in cases(200 + ndim, count, ndim):
        assert_same_barcode(array, filtration="superlevel")


@pytest.mark.parametrize("ndim,count", [(2, 200), (3, 50)])
def test_full_connectivity_equals_gudhi_top_dimensional_cells(ndim, count):
    for array in cases(300 + ndim, count, ndim):
        assert_same_barcode(array, connectivity="full")
        assert_same_barcode(array, connectivity="full", filtration="superlevel")


@pytest.mark.parametrize("connectivity", ["face", "full"])
def test_coordinates_index_the_bar_values(connectivity):
    rng = np.random.default_rng(7)
    array = rng.random((9, 7, 8))
    for bars in barcode(array, connectivity=connectivity):
        finite = ~bars.essential
        np.testing.assert_array_equal(array[tuple(bars.birth_coordinates.T)], bars.births)
        np.testing.assert_array_equal(array[tuple(bars.death_coordinates[finite].T)], bars.deaths[finite])
        assert (bars.births[finite] < bars.deaths[finite]).all()
        np.testing.assert_array_equal(bars.death_coordinates[~finite], -1)


def test_essential_bar_is_reported_once_at_the_minimum():
    array = np.random.default_rng(3).random((6, 5))
    result = barcode(array)
    assert result[0].essential.sum() == 1
    assert result[0].births[result[0].essential][0] == array.min()
    assert result[0].deaths[result[0].essential][0] == np.inf
    assert result[1].essential.sum() == 0
    superlevel = barcode(array, filtration="superlevel")
    assert superlevel[0].births[superlevel[0].essential][0] == array.max()
    assert superlevel[0].deaths[superlevel[0].essential][0] == -np.inf


def test_known_barcode_of_a_ring():
    ring = np.ones((5, 5))
    ring[1:4, 1:4] = 0.0
    ring[2, 2] = 1.0
    result = barcode(ring, filtration="superlevel")
    # The ring appears at 1 (one component, one hole); the hole fills at 0.
    np.testing.assert_array_equal(result[1].finite(), [[1.0, 0.0]])
    np.testing.assert_array_equal(result.betti_numbers_at(0.5), [2, 1])
