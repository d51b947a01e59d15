"""Bad input to segpipe.topology gives clear Python exceptions; odd but valid input works."""

import numpy as np
import pytest

from segpipe.errors import InputError
from segpipe.topology import (
    TopologyTypeError,
    TopologyValueError,
    barcode,
    betti_matching,
    betti_matching_error,
    betti_matching_loss,
    betti_numbers,
    gather,
)


@pytest.mark.parametrize(
    "array,message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN or infinite"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "NaN or infinite"),
        (np.zeros((0, 4)), "empty"),
        (np.zeros(5), "2D or 3D"),
        (np.zeros((2, 2, 2, 2)), "2D or 3D"),
        (np.float64(3.0), "2D or 3D"),
    ],
)
def test_unusable_arrays_raise_value_errors(array, message):
    with pytest.raises(TopologyValueError, match=message) as info:
        barcode(array)
    assert isinstance(info.value, ValueError) and isinstance(info.value, InputError)


@pytest.mark.parametrize("array", [np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2), dtype=complex), object()])
def test_non_numeric_input_raises_type_errors(array):
    with pytest.raises(TopologyTypeError) as info:
        barcode(array)
    assert isinstance(info.value, TypeError)


def test_bad_options_are_rejected():
    with pytest.raises(TopologyValueError, match="filtration"):
        barcode(np.zeros((3, 3)), filtration="upper")
    with pytest.raises(TopologyValueError, match="connectivity"):
        barcode(np.zeros((3, 3)), connectivity="cubical")


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int16, np.int64, np.float16, np.float32])
def test_every_numeric_dtype_gives_the_float64_barcode(dtype):
    rng = np.random.default_rng(0)
    array = (rng.random((6, 7)) * 3).astype(dtype)
    expected = barcode(array.astype(np.float64))
    result = barcode(array)
    for dim in range(2):
        np.testing.assert_array_equal(result[dim].finite(), expected[dim].finite())


def test_non_contiguous_views_are_accepted():
    rng = np.random.default_rng(1)
    base = rng.random((12, 14))
    view = base[::2, ::-3].T
    assert not view.flags.c_contiguous
    result = barcode(view)
    expected = barcode(np.ascontiguousarray(view))
    for dim in range(2):
        np.testing.assert_array_equal(result[dim].birth_coordinates, expected[dim].birth_coordinates)


def test_single_voxel_has_only_the_essential_bar():
    result = barcode(np.array([[[4.0]]]))
    assert [len(bars) for bars in result] == [1, 0, 0]
    assert result[0].births[0] == 4.0 and result[0].deaths[0] == np.inf


@pytest.mark.parametrize(
    "arrays,message",
    [
        ([np.zeros((2, 2, 2, 2))], "1 to 3 axes"),
        ([np.zeros((0, 3))], "empty"),
        ([np.array([[0.0, np.nan]])], "NaN"),
        ([np.array([[np.inf, 0.0]])], "NaN or infinite"),
    ],
)
def test_engine_rejects_bad_arrays_itself(arrays, message):
    """The C++ engine checks its input too: a bypassed Python check gives ValueError, not a crash."""
    from segpipe.topology import _engine

    with pytest.raises(ValueError, match=message):
        _engine.barcodes(arrays, 1, False)
    with pytest.raises(ValueError, match=message):
        _engine.matchings(arrays, arrays, 1, False)


def test_engine_rejects_mismatched_pairs():
    from segpipe.topology import _engine

    with pytest.raises(ValueError, match="shapes differ"):
        _engine.matchings([np.zeros((3, 4))], [np.zeros((4, 3))], 1, False)
    with pytest.raises(ValueError, match="2 predictions and 1 targets"):
        _engine.matchings([np.zeros((3, 3))] * 2, [np.zeros((3, 3))], 2, False)
    with pytest.raises(TypeError):
        _engine.barcodes([np.zeros((3, 3), dtype=np.complex128)], 1, False)


def test_too_large_t_construction_is_refused_clearly(monkeypatch):
    import segpipe.topology.filtration as filtration

    monkeypatch.setattr(filtration, "MAX_VOXELS", 100)
    with pytest.raises(TopologyValueError, match="T-construction"):
        barcode(np.zeros((6, 6)), connectivity="full")
    assert len(barcode(np.zeros((6, 6)), connectivity="face")[0]) == 1


@pytest.mark.parametrize(
    ("coordinates", "message"),
    [
        ([[0, 1], [3, 0]], r"row 1 \(\[3, 0\]\) lies outside the array of shape \(3, 4\)"),
        ([[0, -2]], r"row 0 \(\[0, -2\]\) lies outside"),
        ([[-1, 2]], r"row 0 \(\[-1, 2\]\) lies outside"),  # only rows of -1 have no voxel
        ([[1, 2, 0]], r"3 columns, but the array has 2 axes"),
        ([[0.5, 1]], "integer"),
    ],
)
def test_gather_rejects_coordinates_outside_the_array(coordinates, message):
    # Issue 18.10: a raw NumPy ValueError ("invalid entry in coordinates array") or a silent NaN.
    with pytest.raises(TopologyValueError, match=message) as info:
        gather(np.zeros((3, 4)), np.array(coordinates))
    assert "coordinates" in str(info.value)
    assert gather(np.arange(12.0).reshape(3, 4), np.array([[2, 3], [-1, -1]])).tolist() == [11.0, pytest.approx(np.nan, nan_ok=True)]


@pytest.mark.parametrize("threshold", [np.nan, "high", None])
def test_betti_numbers_reject_a_threshold_that_is_not_a_number(threshold):
    # Issue 18.10: threshold=nan gave [0, 0] (no voxel is above NaN) without a word.
    mask = np.ones((4, 4))
    for function in (lambda: betti_numbers(mask, threshold=threshold),
                     lambda: betti_matching_error(mask, mask, threshold=threshold)):
        with pytest.raises(TopologyValueError, match="threshold"):
            function()


def test_loss_that_exceeds_float64_is_a_clear_error():
    # Issue 18.10: finite inputs near 1e308 gave inf (the squared differences overflow).
    rng = np.random.default_rng(0)
    prediction, target = rng.random((8, 8)) * 1e308, (rng.random((8, 8)) > 0.5) * 1e308
    matching = betti_matching(prediction, target)
    with pytest.raises(TopologyValueError, match="exceeds the largest float64"):
        betti_matching_loss(matching, prediction, target)
    scaled = betti_matching_loss(matching, prediction / 1e308, target / 1e308)  # the same matching
    assert np.isfinite(scaled) and scaled > 0
