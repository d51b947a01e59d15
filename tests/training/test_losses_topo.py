"""TOPO term (Oner et al. 2021, as TopoMortar's MSETopoWinLoss): hand-worked cases, gradients, brute-force maximin paths."""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pytest
import torch
from loss_cases import make_loss, value

from segpipe.errors import ConfigError
from segpipe.training.losses.registry import TermContext, build_loss
from segpipe.training.losses.topo import (
    _edges,
    distance_target,
    maximin_pair_counts,
    regions,
    topo_weights,
    window_weights,
)


def two_bars(gap: int = 2, height: int = 6, width: int = 3) -> np.ndarray:
    """Two foreground bars ``width`` wide, ``gap`` background columns apart."""
    label = np.zeros((height, 2 * width + gap))
    label[:, :width] = 1
    label[:, width + gap:] = 1
    return label


def test_distance_target_is_the_clipped_distance_inside_the_foreground():
    row = np.array([[0, 1, 1, 1, 1, 1, 0]])
    np.testing.assert_array_equal(distance_target(row, 20.0)[0], [0, 1, 2, 3, 2, 1, 0])
    np.testing.assert_array_equal(distance_target(row, 2.0)[0], [0, 1, 2, 2, 2, 1, 0])
    np.testing.assert_array_equal(distance_target(np.ones((2, 2)), 5.0), 5.0)
    np.testing.assert_array_equal(distance_target(np.zeros((2, 2)), 5.0), 0.0)


def test_regions_are_the_components_of_the_eroded_foreground():
    label = two_bars(gap=2, height=7, width=3)
    np.testing.assert_array_equal(np.unique(regions(label, 0)), [0, 1, 2])
    # the window border is not background: eroding by 1 keeps the bars' two outer columns, by 2 one
    eroded = regions(label, 1)
    assert set(np.unique(eroded)) == {0, 1, 2}
    assert (eroded[:, [0, 1, 6, 7]] > 0).all() and (eroded[:, 2:6] == 0).all()
    np.testing.assert_array_equal(np.flatnonzero(regions(label, 2)[0]), [0, 7])
    assert regions(label, 3).max() == 0


def test_a_bridge_between_two_regions_gets_all_the_weight():
    # two bars two columns apart; the prediction y is 5 on the bars and bridges the gap at row 2 with 3 and 4:
    # every path between the bars crosses the gap, the highest crossing is row 2 and its lowest edge is
    # (2,3)-(2,4) with cost 3 + 4 = 7 (the other crossings cost 0 there): all 18 x 18 pairs of pixels
    # of different bars are first joined at that edge, so each of its two pixels gets weight 1.
    label = two_bars()
    y = 5.0 * label
    y[2, 3], y[2, 4] = 3.0, 4.0
    weights = window_weights(y, label, separation=0)
    expected = np.zeros_like(y)
    expected[2, 3] = expected[2, 4] = 1.0
    np.testing.assert_allclose(weights, expected)
    counts = maximin_pair_counts(y, regions(label, 0))
    assert counts.sum() == 18 * 18 and counts.max() == 18 * 18
    # the topological part of the loss: 3^2 + 4^2
    assert float((weights * y**2).sum()) == pytest.approx(25.0)


def test_a_prediction_that_keeps_the_regions_apart_has_no_topological_part():
    label = two_bars()
    y = 5.0 * label  # the gap is predicted 0: every joining edge lies inside the gap
    weights = window_weights(y, label, separation=0)
    assert weights.sum() == pytest.approx(2.0)  # the joining edge's pixels, in the gap
    assert float((weights * y**2).sum()) == 0.0


def test_one_region_gives_no_weight_even_where_the_prediction_breaks_it():
    # TopoMortar's variant separates foreground pieces; it does not draw a missing piece of a line (Oner's
    # original, on background regions and a distance to the centre line, would)
    label = np.zeros((6, 6))
    label[:, 2:4] = 1
    y = 3.0 * label
    y[3, 2:4] = 0.0  # the line broken in the prediction
    assert not window_weights(y, label, separation=0).any()
    assert not window_weights(np.random.default_rng(0).random((6, 6)), label, separation=0).any()


def test_loss_of_a_bridge_by_hand_and_its_gradient():
    # one sample, sigmoid logits = y (the foreground margin), windows of 6 on a 6 x 12 patch: the first window
    # holds the bar of columns 0-2 and column 5 of the second bar (gap columns 3, 4); the second window holds
    # one region only. The crossings of the gap cost 0 except row 2's, whose lowest edge (2,3)-(2,4) costs 0.75.
    label = np.zeros((6, 12))
    label[:, :3] = 1
    label[:, 5:8] = 1
    distance = distance_target(label, 20.0)
    y = torch.tensor(distance, dtype=torch.float64)
    y[2, 3], y[2, 4] = 0.5, 0.25  # a weak bridge in the first window; elsewhere the exact distances
    logits = y.clone().reshape(1, 1, 6, 12).float().requires_grad_(True)
    loss = make_loss("topo", "sigmoid", 2, window=6, separation=0, alpha=0.1)
    total = value(loss, logits, torch.tensor(label, dtype=torch.float32).reshape(1, 1, 6, 12))
    # regression: 0.1 * (0.5^2 + 0.25^2); topological: weight 1 on each bridge pixel: 0.5^2 + 0.25^2
    assert float(total) == pytest.approx(1.1 * (0.25 + 0.0625), rel=1e-5)
    total.backward()
    gradient = logits.grad[0, 0]
    assert gradient[2, 3] == pytest.approx(1.1 * 2 * 0.5, rel=1e-5)
    assert gradient[2, 4] == pytest.approx(1.1 * 2 * 0.25, rel=1e-5)
    gradient[2, 3] = gradient[2, 4] = 0
    assert float(gradient.abs().max()) == pytest.approx(0.0, abs=1e-6)


def test_negative_margins_have_no_gradient_and_softmax_uses_the_logit_difference():
    label = torch.tensor(two_bars(), dtype=torch.float32)[None, None]
    x = torch.randn(2, 1, 6, 8)
    labels = label.expand(2, 1, 6, 8).contiguous()
    sigmoid = value(make_loss("topo", "sigmoid", window=4, separation=0), x, labels)
    softmax = value(make_loss("topo", "softmax", window=4, separation=0), torch.cat([x - 1, 2 * x - 1], 1), labels)
    assert float(softmax) == pytest.approx(float(sigmoid), rel=1e-5)
    logits = torch.full((1, 1, 6, 8), -1.0, requires_grad=True)
    value(make_loss("topo", window=4, separation=0), logits, label).backward()
    assert not logits.grad.any()


def _widest_bottleneck_edges(values: np.ndarray, connectivity: str) -> np.ndarray:
    """Brute force: for every pair of pixels, the lowest edge of its maximin path (Dijkstra on bottlenecks).

    Returns ``(N, N)`` edge indices (in :func:`_edges` order), -1 on the diagonal.
    """
    first, second, _ = _edges(values.shape, connectivity)
    flat = values.ravel()
    cost = flat[first] + flat[second]
    neighbours: dict[int, list[tuple[int, int]]] = {n: [] for n in range(flat.size)}
    for edge, (a, b) in enumerate(zip(first.tolist(), second.tolist())):
        neighbours[a].append((b, edge))
        neighbours[b].append((a, edge))
    result = np.full((flat.size, flat.size), -1)
    for source in range(flat.size):
        best = {source: np.inf}
        lowest = {source: -1}
        heap = [(-np.inf, source)]
        done = set()
        while heap:
            negative, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            for other, edge in neighbours[node]:
                bottleneck = min(-negative, cost[edge])
                if bottleneck > best.get(other, -np.inf):
                    best[other] = bottleneck
                    lowest[other] = edge if cost[edge] < -negative else lowest[node]
                    heapq.heappush(heap, (-bottleneck, other))
        for target, edge in lowest.items():
            result[source, target] = edge
    return result


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize(("seed", "shape", "regions"),
                         [*((seed, (6, 6), 4) for seed in range(4)), (11, (3, 3, 4), 3)])
def test_pair_counts_match_a_brute_force_maximin_search(seed, shape, regions, connectivity):
    rng = np.random.default_rng(seed)
    values = rng.random(shape)  # distinct edge costs: each maximin path has one lowest edge
    labels = rng.integers(0, regions, shape)
    lowest = _widest_bottleneck_edges(values, connectivity)
    flat = labels.ravel()
    expected = np.zeros(len(_edges(values.shape, connectivity)[0]))
    for a, b in itertools.combinations(range(flat.size), 2):
        if flat[a] and flat[b] and flat[a] != flat[b]:
            expected[lowest[a, b]] += 1
    np.testing.assert_array_equal(maximin_pair_counts(values, labels, connectivity), expected)


def test_regions_and_the_term_follow_the_runs_connectivity():
    diagonal = np.eye(8, dtype=np.uint8)  # one diagonal line: one piece if 8-connected, eight if 4-connected
    assert regions(diagonal, 0, "full").max() == 1 and regions(diagonal, 0, "face").max() == 8
    assert build_loss("topo", {"topo": {"terms": [{"name": "topo"}]}},
                      TermContext("sigmoid", 2, "accurate", connectivity="face")).terms["topo"].loss.connectivity == "face"
    assert build_loss("topo", {"topo": {"terms": [{"name": "topo"}]}},
                      TermContext("sigmoid", 2, "accurate")).terms["topo"].loss.connectivity == "full"


def test_whole_windows_only_and_per_window_normalisation():
    label = np.zeros((1, 8, 10))
    label[0, :, :3] = label[0, :, 5:8] = 1
    y = np.random.default_rng(3).random((1, 8, 10))
    weights = topo_weights(y, label > 0, window=4, separation=0)
    assert not weights[0, :, 8:].any()  # columns 8, 9: no whole window
    for corner in itertools.product((0, 4), (0, 4)):
        block = weights[0, corner[0]:corner[0] + 4, corner[1]:corner[1] + 4]
        regions_here = regions(label[0, corner[0]:corner[0] + 4, corner[1]:corner[1] + 4], 0).max()
        assert block.sum() == pytest.approx(2.0 if regions_here >= 2 else 0.0)


def test_bad_options_are_named():
    for options, key in (({"window": 1}, "window"), ({"d_max": 0}, "d_max"), ({"alpha": -1.0}, "alpha"),
                         ({"separation": -2}, "separation")):
        with pytest.raises(ConfigError, match=key):
            make_loss("topo", **options)
