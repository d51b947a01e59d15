"""Betti matching loss term: the formula on the reference matching, hand values, weights, frames, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from betti_reference import reference_loss
from loss_cases import logits_for, make_loss, tubes, value

from segpipe.errors import ConfigError
from segpipe.topology import betti_matching, betti_matching_loss
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.losses.betti_matching import matching_losses


def random_pair(rng: np.random.Generator, batch: int, shape: tuple[int, ...], binary: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Random foreground probabilities and targets (binary labels or continuous values)."""
    probability = torch.sigmoid(torch.from_numpy(rng.normal(size=(batch, 1, *shape))).float())
    target = rng.random((batch, 1, *shape))
    target = (target < 0.4) if binary else target
    return probability, torch.from_numpy(target.astype(np.float32))


def reference_value(reference, probability: torch.Tensor, target: torch.Tensor, filtration: str) -> float:
    """Mean over samples of the loss formula applied to the reference's matching.

    The reference computes sublevel filtrations; a superlevel one is the sublevel one of ``1 - x``.
    """
    values = []
    for p, t in zip(probability[:, 0].double().numpy(), target[:, 0].double().numpy()):
        for level in ("superlevel", "sublevel") if filtration == "both" else (filtration,):
            a, b = (1 - p, 1 - t) if level == "superlevel" else (p, t)
            a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
            values.append(reference_loss(a, b, reference.compute_matching(a, b)))
    return float(np.mean(values))


@pytest.mark.parametrize("filtration", ["superlevel", "sublevel", "both"])
@pytest.mark.parametrize("shape", [(17, 23), (6, 7, 8)])
@pytest.mark.parametrize("binary", [True, False])
def test_value_is_the_formula_on_the_reference_matching(reference, filtration, shape, binary):
    rng = np.random.default_rng(len(shape) * 10 + binary)
    for _ in range(3):
        probability, target = random_pair(rng, 3, shape, binary)
        logits = logits_for(probability, "sigmoid")
        loss = make_loss("betti_matching", "sigmoid", len(shape), filtration=filtration, connectivity="face",
                         normalisation="none")  # the reference's construction and sum
        ours = float(value(loss, logits, target))
        seen = torch.sigmoid(logits)  # exactly the probabilities the term computes with
        assert ours == pytest.approx(reference_value(reference, seen, target, filtration), rel=1e-5)


def test_hand_computed_value():
    # p = 0.9 0.2 0.8 0.3 0.6 against t = 1 0 1 0 0 (superlevel, one row): the components born at
    # 0.8 and at 1 die at 0.2 and 0 and are matched: 2((0.8 - 1)^2 + (0.2 - 0)^2) = 0.16; p's
    # component born at 0.6 and dying at 0.3 has no partner: (0.3 - 0.6)^2 = 0.09.
    probability = torch.tensor([[[[0.9, 0.2, 0.8, 0.3, 0.6]]]])
    target = torch.tensor([[[[1.0, 0.0, 1.0, 0.0, 0.0]]]])
    loss = make_loss("betti_matching", normalisation="none")
    assert float(value(loss, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.25, abs=1e-6)
    weighted = make_loss("betti_matching", matched_weight=2.0, unmatched_weight=0.5, normalisation="none")
    assert float(value(weighted, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.32 + 0.045, abs=1e-6)
    per_voxel = make_loss("betti_matching")  # the default: divided by the 5 voxels of the patch
    assert float(value(per_voxel, logits_for(probability, "sigmoid"), target)) == pytest.approx(0.25 / 5, abs=1e-7)


def test_per_voxel_normalisation_keeps_the_weight_of_a_pattern_across_patch_sizes():
    """A wall pattern tiled over a patch 4x larger has 4x the bars: the sum grows 4x, the per-voxel value not."""
    rng = np.random.default_rng(9)
    tile = tubes(rng, 1, (16, 16))
    noisy = (0.8 * tile + 0.2 * torch.from_numpy(rng.random((1, 1, 16, 16))).float()).clamp(0.01, 0.99)
    big_label, big_noisy = (torch.tile(x, (1, 1, 2, 2)) for x in (tile, noisy))
    values = {}
    for normalisation in ("none", "per_voxel"):
        loss = make_loss("betti_matching", normalisation=normalisation)
        small = float(value(loss, logits_for(noisy, "sigmoid"), tile))
        big = float(value(loss, logits_for(big_noisy, "sigmoid"), big_label))
        values[normalisation] = big / small
    assert values["none"] > 2.5
    assert 0.6 < values["per_voxel"] < 1.6


def test_weights_scale_the_matched_and_unmatched_parts():
    probability, target = random_pair(np.random.default_rng(3), 2, (20, 20), binary=True)
    logits = logits_for(probability, "sigmoid")

    def at(matched, unmatched):
        return float(value(make_loss("betti_matching", matched_weight=matched, unmatched_weight=unmatched), logits, target))

    matched, unmatched = at(1.0, 0.0), at(0.0, 1.0)
    assert matched > 0 and unmatched > 0
    assert at(1.0, 1.0) == pytest.approx(matched + unmatched, rel=1e-5)
    assert at(2.0, 3.0) == pytest.approx(2 * matched + 3 * unmatched, rel=1e-5)


@pytest.mark.parametrize("connectivity", ["face", "full"])
@pytest.mark.parametrize("relative", [False, True])
def test_options_match_the_topology_engine_loss(connectivity, relative):
    probability, target = random_pair(np.random.default_rng(4), 2, (6, 9, 7), binary=True)
    loss = make_loss("betti_matching", "sigmoid", 3, connectivity=connectivity, relative=relative)
    ours = float(value(loss, logits_for(probability, "sigmoid"), target))
    expected = []
    for p, t in zip(probability[:, 0].double().numpy(), target[:, 0].double().numpy()):
        matching = betti_matching(p, t, connectivity=connectivity, relative=relative)
        expected.append(betti_matching_loss(matching, p, t))
    assert ours == pytest.approx(np.mean(expected) / p.size, rel=1e-5)


def test_connectivity_defaults_to_the_runs_which_the_metrics_count():
    assert make_loss("betti_matching").terms["betti_matching"].loss.connectivity == "full"
    face_run = TermContext("sigmoid", 2, "accurate", connectivity="face")
    loss = build_loss("x", {"x": {"terms": [{"name": "betti_matching"}]}}, face_run)
    assert loss.terms["betti_matching"].loss.connectivity == "face"


def test_gradient_reaches_only_the_birth_and_death_voxels():
    probability, target = random_pair(np.random.default_rng(5), 1, (12, 12), binary=True)
    logits = logits_for(probability, "sigmoid").requires_grad_()
    value(make_loss("betti_matching"), logits, target).backward()
    matching = betti_matching(probability[0, 0].double().numpy(), target[0, 0].numpy())
    voxels = {
        tuple(row)
        for bars in matching
        for coordinates in (bars.prediction_matched_birth, bars.prediction_matched_death,
                            bars.prediction_unmatched_birth, bars.prediction_unmatched_death)
        for row in coordinates.tolist()
    }
    touched = {tuple(row) for row in torch.nonzero(logits.grad[0, 0]).tolist()}
    assert touched and touched <= voxels


def test_matching_losses_of_patches_in_a_batch_are_independent():
    probability, target = random_pair(np.random.default_rng(6), 3, (10, 11), binary=True)
    p, t = probability[:, 0], target[:, 0]
    matchings = [betti_matching(a.double().numpy(), b.double().numpy()) for a, b in zip(p, t)]
    losses = matching_losses(p, t, matchings)
    for i in range(3):
        assert float(losses[i]) == pytest.approx(betti_matching_loss(matchings[i], p[i].double().numpy(), t[i].numpy()), rel=1e-5)


def test_thread_count_does_not_change_the_value():
    probability, target = random_pair(np.random.default_rng(7), 4, (16, 16), binary=True)
    logits = logits_for(probability, "sigmoid")
    one = float(value(make_loss("betti_matching", threads=1), logits, target))
    assert float(value(make_loss("betti_matching", threads=2), logits, target)) == one


def test_a_prediction_equal_to_the_label_has_no_loss():
    labels = tubes(np.random.default_rng(8), 2, (20, 24))
    assert float(value(make_loss("betti_matching", filtration="both"), logits_for(labels.clamp(1e-6, 1 - 1e-6), "sigmoid"), labels)) < 1e-6


@pytest.mark.parametrize("options, key", [
    ({"filtration": "upper"}, "filtration"), ({"connectivity": "top"}, "connectivity"),
    ({"normalisation": "bars"}, "normalisation"),
    ({"relative": "yes"}, "relative"), ({"matched_weight": -1}, "matched_weight"),
    ({"unmatched_weight": "1"}, "unmatched_weight"), ({"threads": 0}, "threads"), ({"threads": 1.5}, "threads"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=rf"'losses\.test\.terms\[0\]\.{key}'"):
        make_loss("betti_matching", **options)
