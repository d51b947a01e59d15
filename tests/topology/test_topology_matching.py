"""Invariants of the Betti matching on random inputs, options and error handling."""

import numpy as np
import pytest
from topology_cases import KINDS, cases, random_array, random_values

from segpipe.topology import (
    TopologyValueError,
    barcode,
    betti_matching,
    betti_matching_loss,
)

OPTIONS = [
    {},
    {"filtration": "sublevel"},
    {"connectivity": "face"},
    {"relative": True},
]


def value_pairs(array, births, deaths):
    """Sorted (birth, death) value rows gathered at coordinates."""
    values = np.stack([array[tuple(births.T)], array[tuple(deaths.T)]], axis=1).reshape(-1, 2)
    return values[np.lexsort((values[:, 1], values[:, 0]))]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("ndim,count", [(2, 60), (3, 20)])
def test_identical_inputs_match_everything_with_zero_loss(options, ndim, count):
    for array in cases(40 + ndim, count, ndim):
        matching = betti_matching(array, array, **options)
        assert matching.num_unmatched_prediction.sum() == 0
        assert matching.num_unmatched_target.sum() == 0
        assert betti_matching_loss(matching, array, array) == 0.0
        for dim in matching:
            np.testing.assert_array_equal(dim.prediction_matched_birth, dim.target_matched_birth)


@pytest.mark.parametrize("options", [{}, {"connectivity": "face"}])
@pytest.mark.parametrize("ndim,count", [(2, 60), (3, 20)])
def test_matched_and_unmatched_bars_are_the_barcode(options, ndim, count):
    """Each input's matched plus unmatched bars are exactly its finite barcode."""
    rng = np.random.default_rng(50 + ndim)
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        prediction = random_array(rng, ndim, kind)
        target = random_values(rng, prediction.shape, kind)
        matching = betti_matching(prediction, target, **options)
        for name, array in (("prediction", prediction), ("target", target)):
            bars = barcode(array, filtration="superlevel", connectivity=options.get("connectivity", "full"))
            for dim, m in enumerate(matching):
                births = np.concatenate([getattr(m, f"{name}_matched_birth"), getattr(m, f"{name}_unmatched_birth")])
                deaths = np.concatenate([getattr(m, f"{name}_matched_death"), getattr(m, f"{name}_unmatched_death")])
                finite = bars[dim].finite()
                np.testing.assert_array_equal(
                    value_pairs(array, births, deaths), finite[np.lexsort((finite[:, 1], finite[:, 0]))]
                )


@pytest.mark.parametrize("ndim", [2, 3])
def test_matching_is_symmetric(ndim):
    rng = np.random.default_rng(ndim)
    shape = (12, 13) if ndim == 2 else (6, 7, 5)
    for _ in range(10):
        a, b = rng.random(shape), rng.random(shape)
        ab, ba = betti_matching(a, b), betti_matching(b, a)
        np.testing.assert_array_equal(ab.num_matched, ba.num_matched)
        np.testing.assert_array_equal(ab.num_unmatched_prediction, ba.num_unmatched_target)
        assert betti_matching_loss(ab, a, b) == pytest.approx(betti_matching_loss(ba, b, a))


def test_loss_counts_matched_and_unmatched_bars():
    target = np.zeros((7, 7))
    target[1:6, 1:6] = 1.0
    target[3, 3] = 0.0  # a ring: one component, one hole
    prediction = 0.8 * target
    prediction[3, 3] = 0.3  # the hole is there but shallower
    prediction[0, 6] = 0.6  # and an extra component (face-connected; diagonally it touches the ring)
    assert betti_matching(prediction, target).num_unmatched_prediction.tolist() == [0, 0]  # full: no extra component
    matching = betti_matching(prediction, target, connectivity="face")
    np.testing.assert_array_equal(matching.num_matched, [0, 1])
    np.testing.assert_array_equal(matching.num_unmatched_prediction, [1, 0])
    np.testing.assert_array_equal(matching.num_unmatched_target, [0, 0])
    # matched hole: prediction (0.8, 0.3) vs target (1, 0); unmatched component (0.6, 0).
    expected = [0.6**2, 2 * ((0.8 - 1.0) ** 2 + (0.3 - 0.0) ** 2)]
    np.testing.assert_allclose(betti_matching_loss(matching, prediction, target, per_dimension=True), expected)


def test_relative_homology_treats_the_border_as_foreground():
    bar = np.zeros((6, 7))
    bar[:, 3] = 1.0  # a vertical bar from border to border
    plain = betti_matching(bar, bar)
    relative = betti_matching(bar, bar, relative=True)
    assert plain.num_matched.tolist() == [0, 0]  # one component (essential), no hole
    assert relative.num_matched.tolist() == [0, 2]  # the frame and the bar enclose two regions
    assert relative.coordinate_shape == (8, 9) and relative.frame_value == 1.0
    framed = relative.framed(bar)
    assert framed.shape == (8, 9) and framed[0, 0] == 1.0


def test_essential_bars_are_matched_on_request():
    rng = np.random.default_rng(5)
    a, b = rng.random((8, 8)), rng.random((8, 8))
    without = betti_matching(a, b)
    with_essential = betti_matching(a, b, include_essential=True)
    assert with_essential.num_matched[0] == without.num_matched[0] + 1
    row = with_essential[0]
    np.testing.assert_array_equal(row.prediction_matched_death[-1], [-1, -1])
    assert a[tuple(row.prediction_matched_birth[-1])] == a.max()
    assert b[tuple(row.target_matched_birth[-1])] == b.max()
    extra = betti_matching_loss(with_essential, a, b) - betti_matching_loss(without, a, b)
    assert extra == pytest.approx(2 * (a.max() - b.max()) ** 2)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(TopologyValueError, match="shape"):
        betti_matching(np.zeros((3, 4)), np.zeros((4, 3)))
    matching = betti_matching(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(TopologyValueError, match="shape"):
        betti_matching_loss(matching, np.zeros((3, 5)), np.zeros((3, 5)))
