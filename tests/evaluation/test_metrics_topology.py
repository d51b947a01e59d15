"""Topological metrics against oracles: gudhi Betti counts and diagram distances, brute-force windows, clDice shapes."""

from __future__ import annotations

import itertools

import gudhi
import gudhi.wasserstein
import numpy as np
import pytest
from scipy import ndimage
from topology_cases import random_masks

from segpipe.evaluation.metrics import CaseInputs, MetricSettings, compute_metrics
from segpipe.evaluation.metrics.betti import window_starts, windows
from segpipe.evaluation.metrics.diagrams import distances_to_label, label_diagrams, probability_diagrams
from segpipe.evaluation.metrics.overlap import skeleton
from segpipe.topology import betti_matching_error, betti_numbers


def _complex(values: np.ndarray, connectivity: str) -> gudhi.CubicalComplex:
    """gudhi's cubical complex of ``values`` with the construction of ``connectivity`` (persistence computed)."""
    if connectivity == "full":
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=values)
    else:
        complex_ = gudhi.CubicalComplex(vertices=values)
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=-1)
    return complex_


def gudhi_betti(mask: np.ndarray, connectivity: str) -> list[int]:
    """Persistent Betti numbers of ``CubicalComplex(1 - mask)`` at level 0, padded to three dimensions."""
    betti = _complex(1.0 - mask.astype(float), connectivity).persistent_betti_numbers(0.0, 0.0)
    return [int(b) for b in betti[: mask.ndim]] + [0] * (3 - min(mask.ndim, len(betti)))


def gudhi_diagrams(values: np.ndarray, connectivity: str) -> list[np.ndarray]:
    """gudhi's sublevel diagrams of ``1 - values`` per dimension 0..2, essential bars closed at 1, diagonal points dropped."""
    complex_ = _complex(1.0 - values, connectivity)
    diagrams = []
    for dim in range(3):
        points = complex_.persistence_intervals_in_dimension(dim).reshape(-1, 2) if dim < values.ndim else np.zeros((0, 2))
        points = np.where(np.isinf(points), 1.0, points)
        diagrams.append(points[points[:, 0] != points[:, 1]])
    return diagrams


def smooth_probability(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A probability map with blobs, holes and noise (values spread over [0, 1])."""
    field = ndimage.gaussian_filter(rng.random(shape), 1.2)
    field = (field - field.mean()) / (field.std() + 1e-9)
    return 1.0 / (1.0 + np.exp(-3.0 * field + rng.normal(0, 0.3, shape)))


@pytest.mark.parametrize("ndim,count", [(2, 120), (3, 40)])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_betti_numbers_and_errors_reproduce_gudhi(ndim, count, connectivity):
    settings = MetricSettings(connectivity=connectivity)
    masks = random_masks(ndim, ndim, 2 * count)
    for prediction, reference in zip(masks[::2], masks[1::2]):
        reference = np.resize(reference, prediction.shape)
        values = compute_metrics(["betti", "betti_numbers"], CaseInputs(prediction, reference, (1.0,) * ndim, settings=settings))
        expected_p, expected_r = gudhi_betti(prediction, connectivity), gudhi_betti(reference, connectivity)
        assert [values[f"betti{d}_prediction"] for d in range(3)] == expected_p
        assert [values[f"betti{d}_reference"] for d in range(3)] == expected_r
        assert [values[f"betti{d}_error"] for d in range(3)] == [abs(p - r) for p, r in zip(expected_p, expected_r)]


@pytest.mark.parametrize(("size", "window", "stride", "expected"), [
    (10, 4, 2, [0, 2, 4, 6]), (10, 4, 3, [0, 3, 6]), (11, 4, 3, [0, 3, 6, 7]), (5, 8, 4, [0]), (8, 8, 4, [0]),
])
def test_window_starts_cover_the_axis_and_end_at_the_border(size, window, stride, expected):
    starts = window_starts(size, window, stride)
    assert starts == expected
    covered = set(itertools.chain.from_iterable(range(s, min(s + window, size)) for s in starts))
    assert covered == set(range(size))


@pytest.mark.parametrize(("shape", "window", "stride"), [((17, 23), 6, 4), ((9, 11, 10), 4, 3), ((12, 5), 7, None)])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_local_betti_errors_are_the_mean_of_gudhi_window_errors(shape, window, stride, connectivity):
    rng = np.random.default_rng(len(shape) + window)
    prediction, reference = rng.random(shape) < 0.45, rng.random(shape) < 0.55
    settings = MetricSettings(connectivity=connectivity, local_window=window, local_stride=stride)
    values = compute_metrics(["local_betti"], CaseInputs(prediction, reference, (1.0,) * len(shape), settings=settings))
    step = stride or window // 2
    per_axis = []
    for size in shape:  # the windows written out independently of window_starts
        starts = list(range(0, max(size - window, 0) + 1, step)) if window < size else [0]
        starts += [size - window] if window < size and starts[-1] + window < size else []
        per_axis.append(starts)
    errors = []
    for corner in itertools.product(*per_axis):
        box = tuple(slice(c, c + window) for c in corner)
        errors.append(np.abs(np.subtract(gudhi_betti(prediction[box], connectivity), gudhi_betti(reference[box], connectivity))))
    assert len(windows(shape, window, step)) == len(errors)
    assert [values[f"local_betti{d}_error"] for d in range(3)] == pytest.approx(np.mean(errors, axis=0).tolist())


def test_local_betti_errors_see_errors_that_cancel_in_the_whole_image():
    reference = np.ones((16, 32), bool)
    reference[4:6, 4:6] = False  # a hole on the left
    prediction = np.ones((16, 32), bool)
    prediction[4:6, 26:28] = False  # a hole on the right instead
    settings = MetricSettings(local_window=16, local_stride=16)
    values = compute_metrics(["betti", "local_betti"], CaseInputs(prediction, reference, (1.0, 1.0), settings=settings))
    assert values["betti1_error"] == 0 and values["local_betti1_error"] == 1.0  # both windows miss or add one


@pytest.mark.parametrize("ndim", [2, 3])
def test_betti_matching_columns_are_the_engine_error(ndim):
    rng = np.random.default_rng(ndim)
    shape = (20, 24) if ndim == 2 else (8, 9, 10)
    for connectivity in ("full", "face"):
        prediction, reference = rng.random(shape) < 0.5, rng.random(shape) < 0.5
        values = compute_metrics(["betti_matching"], CaseInputs(prediction, reference, (1.0,) * ndim,
                                                                settings=MetricSettings(connectivity=connectivity)))
        expected = betti_matching_error(prediction, reference, connectivity=connectivity)
        assert [values[f"betti_matching{d}_error"] for d in range(3)] == [*expected.tolist(), 0][:3]
        assert values["betti_matching0_error"] >= abs(np.subtract(*(betti_numbers(m, connectivity=connectivity)[0]
                                                                     for m in (prediction, reference))))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_label_diagram_from_betti_numbers_is_the_engine_barcode_of_the_label(ndim, connectivity):
    for mask in random_masks(30 + ndim, ndim, 30):
        engine = probability_diagrams(mask.astype(float), connectivity)
        counted = label_diagrams(betti_numbers(mask, connectivity=connectivity))
        for from_engine, from_counts in zip(engine, counted):
            from_engine = from_engine[from_engine[:, 0] != from_engine[:, 1]]
            np.testing.assert_array_equal(np.sort(from_engine, axis=0), from_counts)


@pytest.mark.parametrize(("shape", "connectivity"), [((24, 28), "full"), ((24, 28), "face"), ((8, 9, 10), "full"), ((8, 9, 10), "face")])
@pytest.mark.parametrize("order", [1.0, 2.0])
def test_diagram_distances_agree_with_gudhi_on_gudhi_diagrams(shape, connectivity, order):
    rng = np.random.default_rng(len(shape) * 10 + int(order))
    for trial in range(3):
        probability = smooth_probability(rng, shape)
        reference = smooth_probability(rng, shape) > 0.5 if trial < 2 else np.zeros(shape, bool)  # and an empty label
        settings = MetricSettings(connectivity=connectivity, wasserstein_order=order)
        values = compute_metrics(["diagram_distances"], CaseInputs(probability > 0.5, reference, (1.0,) * len(shape),
                                                                   probability, settings))
        predicted, labelled = gudhi_diagrams(probability, connectivity), gudhi_diagrams(reference.astype(float), connectivity)
        for d in range(3):
            bottleneck = gudhi.bottleneck_distance(predicted[d], labelled[d])
            wasserstein = gudhi.wasserstein.wasserstein_distance(predicted[d], labelled[d], order=order, internal_p=np.inf)
            assert values[f"bottleneck{d}"] == pytest.approx(bottleneck, abs=1e-9), (trial, d)
            assert values[f"wasserstein{d}"] == pytest.approx(wasserstein, rel=1e-9, abs=1e-12), (trial, d)
        assert values["bottleneck0"] > 0 and (len(shape) == 3 or values["wasserstein2"] == 0)


@pytest.mark.parametrize("order", [1.0, 2.0, 3.5])
def test_closed_form_distances_to_a_label_equal_gudhi_exactly(order):
    # Issue 19, item 3: the closed form replaces gudhi's general solvers (1.1 s at 512^2, 16-24 s at 128^3).
    rng = np.random.default_rng(int(order * 10))
    for trial in range(60):
        n, count = int(rng.integers(0, 25)), int(rng.integers(0, 8))
        births = rng.choice([rng.random(n), np.ones(n), rng.integers(0, 5, n) / 4])  # also ties and points at 1
        deaths = births * rng.choice([rng.random(n), np.zeros(n), np.ones(n)])  # also on the diagonal and at 0
        diagram = np.stack([births, deaths], axis=1)
        label = np.tile([[1.0, 0.0]], (count, 1))
        bottleneck, wasserstein = distances_to_label(diagram, count, order)
        # gudhi takes sublevel diagrams (birth <= death): those of 1 - x, the same distances.
        assert bottleneck == pytest.approx(gudhi.bottleneck_distance(1 - diagram, 1 - label), abs=1e-12), trial
        expected = gudhi.wasserstein.wasserstein_distance(1 - diagram, 1 - label, order=order, internal_p=np.inf)
        assert wasserstein == pytest.approx(expected, rel=1e-9, abs=1e-12), trial


def test_diagram_distances_of_an_all_zero_map_are_finite():
    reference = np.zeros((12, 12), bool)
    reference[2:5, 2:9] = reference[7:10, 2:9] = True
    zero = np.zeros(reference.shape)
    values = compute_metrics(["diagram_distances"], CaseInputs(zero > 0.5, reference, (1.0, 1.0), zero))
    assert values["bottleneck0"] == 0.5 and values["wasserstein0"] == pytest.approx(1.0)  # two (1, 0) points to the diagonal


def test_cldice_of_known_shapes():
    reference = np.zeros((24, 60), bool)
    reference[10:15, 5:55] = True
    assert compute_metrics(["cldice"], CaseInputs(reference, reference, (1.0, 1.0)))["cldice"] == 1.0
    half = reference.copy()
    half[:, 30:] = False  # precision 1, sensitivity about 1/2
    assert compute_metrics(["cldice"], CaseInputs(half, reference, (1.0, 1.0)))["cldice"] == pytest.approx(2 / 3, abs=0.03)
    thick = ndimage.binary_dilation(reference, iterations=3)  # covers the centerline: still 1
    assert compute_metrics(["cldice"], CaseInputs(thick, reference, (1.0, 1.0)))["cldice"] == 1.0
    tube = np.zeros((12, 12, 40), bool)
    tube[4:8, 4:8, 3:37] = True
    cut = tube.copy()
    cut[:, :, 19:21] = False
    value = compute_metrics(["cldice"], CaseInputs(cut, tube, (1.0, 1.0, 1.0)))["cldice"]
    assert 0.9 < value < 1.0  # the gap loses a little sensitivity only


def test_skeleton_of_a_mask_that_thins_away_is_the_mask():
    cube = np.zeros((5, 5, 5), bool)
    cube[1:3, 1:3, 1:3] = True
    np.testing.assert_array_equal(skeleton(cube), cube)
    line = np.zeros((9, 9), bool)
    line[4, 1:8] = True
    np.testing.assert_array_equal(skeleton(line), line)
