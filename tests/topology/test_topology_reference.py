"""Betti matching equals the reference implementation (Betti-Matching-3D in the topolosses wheel).

The reference is fetched by ``scripts/fetch_reference_betti_matching.sh`` (``make setup`` runs it)
into ``.cache/reference/``; the ``reference`` fixture (``conftest.py``, :mod:`betti_reference`) runs
it when it is missing, and the tests are skipped only when it cannot be obtained. Conventions of
the reference: sublevel filtration of the arrays as given, V-construction, comparison image
``min(a, b)``, the essential bar ``[min, inf)`` left out, coordinates are array indices of the
voxels holding the birth and death values.
"""

from __future__ import annotations

import numpy as np
import pytest
from betti_reference import coords, reference_loss
from topology_cases import random_array, random_values

from segpipe.topology import barcode, betti_matching, betti_matching_loss
from segpipe.topology.filtration import top_construction_grid


def rows(*arrays: np.ndarray) -> set[tuple[int, ...]]:
    """Set of concatenated coordinate rows."""
    return {tuple(row) for row in np.concatenate(arrays, axis=1).tolist()}


def assert_same_matching(ours, result, a, b, exact_coordinates: bool) -> None:
    nd = a.ndim
    np.testing.assert_array_equal(ours.num_matched, result.num_matched)
    np.testing.assert_array_equal(ours.num_unmatched_prediction, result.num_unmatched_input1)
    np.testing.assert_array_equal(ours.num_unmatched_target, result.num_unmatched_input2)
    assert betti_matching_loss(ours, a, b) == pytest.approx(reference_loss(a, b, result), rel=1e-12, abs=1e-12)
    if not exact_coordinates:
        return
    for dim, m in enumerate(ours):
        assert rows(m.prediction_matched_birth, m.prediction_matched_death,
                    m.target_matched_birth, m.target_matched_death) == rows(
            coords(result.input1_matched_birth_coordinates[dim], nd),
            coords(result.input1_matched_death_coordinates[dim], nd),
            coords(result.input2_matched_birth_coordinates[dim], nd),
            coords(result.input2_matched_death_coordinates[dim], nd))
        assert rows(m.prediction_unmatched_birth, m.prediction_unmatched_death) == rows(
            coords(result.input1_unmatched_birth_coordinates[dim], nd),
            coords(result.input1_unmatched_death_coordinates[dim], nd))
        assert rows(m.target_unmatched_birth, m.target_unmatched_death) == rows(
            coords(result.input2_unmatched_birth_coordinates[dim], nd),
            coords(result.input2_unmatched_death_coordinates[dim], nd))


def random_pair(rng: np.random.Generator, ndim: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    a = random_array(rng, ndim, kind)
    return a, random_values(rng, a.shape, kind)


@pytest.mark.parametrize("ndim,count,size", [(2, 200, 16), (3, 60, 7), (2, 4, 64), (3, 2, 20)])
def test_random_pairs_equal_the_reference_exactly(reference, ndim, count, size):
    """Continuous values: same matched/unmatched bars, down to the voxel coordinates."""
    rng = np.random.default_rng(1000 * ndim + size)
    for _ in range(count):
        shape = tuple(int(n) for n in rng.integers(2, size + 1, size=ndim))
        a, b = rng.random(shape), rng.random(shape)
        ours = betti_matching(a, b, filtration="sublevel", connectivity="face")
        assert_same_matching(ours, reference.compute_matching(a, b), a, b, exact_coordinates=True)


@pytest.mark.parametrize("ndim,count", [(2, 150), (3, 50)])
@pytest.mark.parametrize("kind", ["ties", "binary"])
def test_pairs_with_ties_give_the_reference_counts_and_loss(reference, ndim, count, kind):
    rng = np.random.default_rng(7 * ndim + len(kind))
    for _ in range(count):
        a, b = random_pair(rng, ndim, kind)
        ours = betti_matching(a, b, filtration="sublevel", connectivity="face")
        assert_same_matching(ours, reference.compute_matching(a, b), a, b, exact_coordinates=False)


def test_superlevel_matching_is_the_reference_on_negated_arrays(reference):
    rng = np.random.default_rng(11)
    for ndim in (2, 3):
        for _ in range(20):
            shape = tuple(int(n) for n in rng.integers(2, 10 if ndim == 2 else 6, size=ndim))
            prediction, target = rng.random(shape), (rng.random(shape) > 0.5).astype(float)
            ours = betti_matching(prediction, target, connectivity="face")  # superlevel is the default
            result = reference.compute_matching(-prediction, -target)
            assert_same_matching(ours, result, prediction, target, exact_coordinates=False)


@pytest.mark.parametrize("roughness", [0.0, 20.0, 400.0])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_structured_against_random_equals_the_reference_exactly(reference, filtration, roughness):
    """A ramp (np.arange, rough or not) against noise: the comparison image sweeps the volume,
    and only its columns up to its last death are reduced (issue 19, item 2)."""
    rng = np.random.default_rng(int(roughness) + 13)
    for shape in [(9, 10, 11), (12, 7, 8), (6, 6, 6)]:
        ramp = np.arange(float(np.prod(shape))).reshape(shape) + roughness * rng.random(shape)
        noise = rng.random(shape) * ramp.max()
        for a, b in ((ramp, noise), (noise, ramp)):
            ours = betti_matching(a, b, filtration=filtration, connectivity="face")
            sign = 1.0 if filtration == "sublevel" else -1.0
            assert_same_matching(ours, reference.compute_matching(sign * a, sign * b), a, b, exact_coordinates=True)


def test_full_connectivity_is_the_reference_on_the_cell_grid(reference):
    rng = np.random.default_rng(12)
    for ndim in (2, 3):
        for _ in range(15):
            shape = tuple(int(n) for n in rng.integers(2, 9 if ndim == 2 else 5, size=ndim))
            a, b = rng.random(shape), rng.random(shape)
            ours = betti_matching(a, b, filtration="sublevel", connectivity="full")
            result = reference.compute_matching(top_construction_grid(a, "sublevel"), top_construction_grid(b, "sublevel"))
            np.testing.assert_array_equal(ours.num_matched, result.num_matched)
            np.testing.assert_array_equal(ours.num_unmatched_prediction, result.num_unmatched_input1)
            np.testing.assert_array_equal(ours.num_unmatched_target, result.num_unmatched_input2)
            expected = reference_loss(top_construction_grid(a, "sublevel"), top_construction_grid(b, "sublevel"), result)
            assert betti_matching_loss(ours, a, b) == pytest.approx(expected, rel=1e-12)


def test_barcode_coordinates_equal_the_reference(reference):
    rng = np.random.default_rng(13)
    for shape in [(12, 15), (30, 7), (6, 7, 8)]:
        array = rng.random(shape)
        ours = barcode(array, connectivity="face")
        result = reference.compute_barcode(array)
        for dim, bars in enumerate(ours):
            finite = ~bars.essential
            assert rows(bars.birth_coordinates[finite], bars.death_coordinates[finite]) == rows(
                coords(result.birth_coordinates[dim], array.ndim), coords(result.death_coordinates[dim], array.ndim))
