"""Properties every loss term has: in 2D and 3D, for sigmoid and softmax outputs, batches and empty labels.

- a perfect prediction (for ``topo``, which regresses a distance map: that map) gives the term's minimum (0 for most terms, -1 for Skeleton Recall, the
  sum of the negative signed distances for the boundary loss, the mean of the negative region-wise
  maps for RegionWise);
- an imperfect prediction gives a larger, finite value with a non-zero gradient;
- softmax logits ``(0, x)`` give the value of sigmoid logits ``x`` (both use the foreground
  probability);
- the value of a batch is the mean of its samples' values;
- a batch without foreground gives finite values and gradients, and its minimum when predicted empty.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import PROGRESS, SHAPES, TERMS, batch_for, confident, make_loss, tubes, value

from segpipe.training.losses import term_names

CASES = [(name, dimensions) for name in TERMS for dimensions in (2, 3)]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def minimum(name: str, batch: dict[str, torch.Tensor]) -> float:
    """The smallest value the term can take on ``batch``."""
    if name == "skeleton_recall":
        return -1.0
    if name == "boundary":  # p = 1 exactly where the distance is negative
        return float(batch["boundary_sdm"].clamp(max=0).mean())
    if name == "region_wise":  # each class's probability 1 on its own region, where its map is negative
        maps = batch["region_wise_maps"]
        return float(0.5 * torch.where(batch["label"][:, 0] > 0, maps[:, 1], maps[:, 0]).mean())
    return 0.0


def perfect_logits(name: str, labels: torch.Tensor, batch: dict[str, torch.Tensor], output: str) -> torch.Tensor:
    """Logits of a perfect prediction: confident ones, or for ``topo`` (a distance regression) the label's distance map."""
    if name != "topo":
        return confident(labels, output)
    margin = torch.where(labels > 0, batch["topo_distance"], torch.full_like(labels, -40.0))
    return margin if output == "sigmoid" else torch.cat([torch.zeros_like(margin), margin], 1)


def test_every_registered_term_is_tested():
    assert sorted(TERMS) == term_names()


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name, dimensions", CASES)
def test_perfect_prediction_is_minimal_and_imperfect_has_gradient(name, dimensions, output):
    rng = np.random.default_rng(dimensions)
    labels = tubes(rng, 3, SHAPES[dimensions])
    loss = make_loss(name, output, dimensions, **TERMS[name])
    batch = batch_for(loss, labels)
    perfect = float(loss(perfect_logits(name, labels, batch, output), batch, PROGRESS).total)
    assert perfect == pytest.approx(minimum(name, batch), abs=1e-3)

    logits = torch.randn(3, 1 if output == "sigmoid" else 2, *SHAPES[dimensions], requires_grad=True)
    imperfect = loss(logits, batch, PROGRESS).total
    imperfect.backward()
    assert torch.isfinite(imperfect) and float(imperfect.detach()) > perfect + 1e-3  # per-voxel terms (Betti matching) are small
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.parametrize("name, dimensions", CASES)
def test_softmax_equals_sigmoid_on_equivalent_logits(name, dimensions):
    labels = tubes(np.random.default_rng(5), 2, SHAPES[dimensions])
    x = torch.randn(2, 1, *SHAPES[dimensions])
    sigmoid = value(make_loss(name, "sigmoid", dimensions, **TERMS[name]), x, labels)
    softmax = value(make_loss(name, "softmax", dimensions, **TERMS[name]), torch.cat([torch.zeros_like(x), x], 1), labels)
    assert float(softmax) == pytest.approx(float(sigmoid), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("name, dimensions", CASES)
def test_batch_value_is_the_mean_of_the_samples(name, dimensions):
    labels = tubes(np.random.default_rng(7), 3, SHAPES[dimensions])
    labels[2] = 0  # one sample without foreground
    logits = torch.randn(3, 1, *SHAPES[dimensions])
    loss = make_loss(name, "sigmoid", dimensions, **TERMS[name])
    whole = float(value(loss, logits, labels))
    single = [float(value(loss, logits[i : i + 1], labels[i : i + 1])) for i in range(3)]
    assert whole == pytest.approx(np.mean(single), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("name, dimensions", CASES)
def test_empty_foreground(name, dimensions, output):
    labels = torch.zeros(2, 1, *SHAPES[dimensions])
    loss = make_loss(name, output, dimensions, **TERMS[name])
    batch = batch_for(loss, labels)
    assert float(loss(confident(labels, output), batch, PROGRESS).total) == pytest.approx(minimum(name, batch), abs=1e-3)
    logits = torch.randn(2, 1 if output == "sigmoid" else 2, *SHAPES[dimensions], requires_grad=True)
    result = loss(logits, batch, PROGRESS).total
    result.backward()
    assert torch.isfinite(result) and torch.isfinite(logits.grad).all()

