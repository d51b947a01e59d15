"""TopoLoss term (Hu et al. 2019): values and gradients of topolosses' HutopoLoss, hand values, tiles, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import logits_for, make_loss, value
from topolosses_reference import reference_module

from segpipe.topology import barcode
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.losses.topo_loss import TopoLoss, label_dot_counts, matched_dots, tiles


def random_pair(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Two samples of random probabilities and binary labels."""
    probability = torch.sigmoid(2 * torch.from_numpy(rng.normal(size=(2, 1, *shape)))).float()
    return probability, torch.from_numpy((rng.random((2, 1, *shape)) < 0.4).astype(np.float32))


@pytest.mark.parametrize("shape", [(24, 20), (8, 9, 10)])
def test_value_and_gradient_equal_topolosses_hutopo_loss(shape):
    hutopo = reference_module("topolosses.losses.hutopo.src.hutopo_loss")
    # a string filtration_type is silently taken as sublevel by topolosses 0.2.0: pass the enum
    reference = hutopo.HutopoLoss(filtration_type=hutopo.FiltrationType.SUPERLEVEL, use_base_loss=False, alpha=1.0)
    ours = TopoLoss(tile_size=None, connectivity="face", normalisation="none")  # the reference's construction and sum
    rng = np.random.default_rng(len(shape))
    for _ in range(3):
        probability, target = random_pair(rng, shape)
        probability.requires_grad_()
        expected = reference(probability, target)
        (expected_gradient,) = torch.autograd.grad(expected, probability)
        got = ours(probability, target)
        (gradient,) = torch.autograd.grad(got, probability)
        assert float(got) == pytest.approx(float(expected), rel=1e-5)
        assert torch.allclose(gradient, expected_gradient, atol=1e-6)


def test_hand_computed_value():
    # p = 0.9 0.2 0.8 0.3 0.6 against t = 1 0 1 0 0 (one row, superlevel). Finite dots of p:
    # (0.8, 0.2) and (0.6, 0.3); the label has one, (1, 0). Matching (0.8, 0.2) to it costs
    # 0.04 + 0.04 = 0.08 (gain 0.08 - 0.18 - 0.5 < 0); (0.6, 0.3) goes to the diagonal: 0.09 / 2.
    probability = torch.tensor([[[[0.9, 0.2, 0.8, 0.3, 0.6]]]])
    target = torch.tensor([[[[1.0, 0.0, 1.0, 0.0, 0.0]]]])
    loss = make_loss("topo_loss", tile_size=None, normalisation="none")
    assert float(value(loss, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.08 + 0.045, abs=1e-6)
    per_voxel = make_loss("topo_loss", tile_size=None)
    assert float(value(per_voxel, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.125 / 5, abs=1e-7)
    # without the label's component, both dots go to the diagonal
    empty = torch.zeros_like(target)
    assert float(value(loss, logits_for(probability, "sigmoid"), empty)) == pytest.approx(0.18 + 0.045, abs=1e-6)


def test_a_missing_component_costs_half_a_unit():
    # the label has two components, the prediction one: the unmatched label dot (1, 0) costs 1/2
    probability = torch.tensor([[[[0.99, 0.01, 0.01, 0.01, 0.01]]]])
    target = torch.tensor([[[[1.0, 0.0, 1.0, 0.0, 0.0]]]])
    loss = make_loss("topo_loss", tile_size=None, normalisation="none")
    assert float(value(loss, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.5, abs=1e-5)


def test_matching_keeps_at_most_the_label_dots_and_only_gains():
    # finite dots (0.8, 0.2), (0.6, 0.3) and (0.28, 0.25)
    bars = barcode(np.array([[0.9, 0.2, 0.8, 0.3, 0.6, 0.25, 0.28]]), filtration="superlevel")[0]
    assert len(matched_dots(bars, 0)) == 0
    assert len(matched_dots(bars, 1)) == 1 and bars.births[matched_dots(bars, 1)[0]] == pytest.approx(0.8)
    # (0.28, 0.25) costs 0.52^2 + 0.25^2 = 0.583 matched, 0.00045 + 0.5 (a freed label dot) unmatched
    assert len(matched_dots(bars, 10)) == 2


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("shape", [(12, 13), (6, 7, 8), (1, 5)])
def test_label_dot_counts_are_the_finite_bars_of_the_label(shape, connectivity):
    rng = np.random.default_rng(len(shape))
    for fraction in (0.0, 0.3, 0.6, 1.0):
        mask = (rng.random(shape) < fraction).astype(float)
        bars = barcode(mask, filtration="superlevel", connectivity=connectivity)
        assert list(label_dot_counts(mask, connectivity)) == [int(np.sum(~b.essential)) for b in bars]


def test_tiles_cover_the_patch_once():
    shape = (13, 7, 5)
    covered = np.zeros(shape, int)
    for window in tiles(shape, 4):
        covered[window] += 1
    assert (covered == 1).all() and tiles((5, 6), None) == [(slice(0, 5), slice(0, 6))]


def test_tiles_sum():
    rng = np.random.default_rng(3)
    probability, target = random_pair(rng, (16, 16))
    whole = TopoLoss(tile_size=8, normalisation="none")(probability, target)
    parts = [TopoLoss(tile_size=None, normalisation="none")(probability[..., a:a + 8, b:b + 8], target[..., a:a + 8, b:b + 8])
             for a in (0, 8) for b in (0, 8)]
    assert float(whole) == pytest.approx(float(sum(parts)), rel=1e-5)


def test_connectivity_defaults_to_the_runs():
    assert make_loss("topo_loss").terms["topo_loss"].loss.connectivity == "full"
    loss = build_loss("x", {"x": {"terms": [{"name": "topo_loss"}]}}, TermContext("sigmoid", 2, "accurate", connectivity="face"))
    assert loss.terms["topo_loss"].loss.connectivity == "face"
