"""Multi-class losses: region terms over the classes, every binary term per class (one vs rest), SCNP per class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_cases import FINGERPRINT, PROGRESS, SHAPES, TERMS, batch_for, logits_for, make_loss, tubes, value
from monai.losses import DiceCELoss

from segpipe.errors import ConfigError
from segpipe.networks.factory import NetworkSpec, one_vs_rest_logits
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.losses.registry import TERMS as REGISTRY
from segpipe.training.losses.registry import OneVsRestTerm
from segpipe.training.scnp import penalise

CLASSES = ("artery", "vein")
#: Terms that compute themselves over the class channels, and the one that cannot be computed per class.
NATIVE = [name for name in TERMS if REGISTRY.get(name).class_handling == "native"]
UNSUPPORTED = [name for name in TERMS if REGISTRY.get(name).class_handling == "unsupported"]
ONE_VS_REST = [name for name in TERMS if name not in NATIVE + UNSUPPORTED]


def multi_class_loss(name: str, dimensions: int = 2, **options):
    """A one-term loss ``name`` of a two-class softmax run."""
    context = TermContext("softmax", dimensions, "accurate", FINGERPRINT, classes=CLASSES)
    return build_loss("test", {"test": {"terms": [{"name": name, **options}]}}, context)


def class_labels(seed: int, dimensions: int, batch: int = 2) -> torch.Tensor:
    """``(B, 1, *spatial)`` labels: class 1 where the first random tubes are, class 2 where the second ones are."""
    rng = np.random.default_rng(seed)
    first, second = tubes(rng, batch, SHAPES[dimensions]), tubes(rng, batch, SHAPES[dimensions])
    return torch.where(first > 0, 1.0, torch.where(second > 0, 2.0, 0.0))


def test_the_classification_of_terms_is_as_documented():
    assert NATIVE == ["dice_ce", "dice", "ce"] and UNSUPPORTED == ["boundary"]


@pytest.mark.parametrize("name", ONE_VS_REST)
def test_a_binary_term_per_class_is_the_mean_of_the_binary_term_on_each_class_against_the_rest(name):
    dimensions = 3 if name == "mip" else 2  # MIP projects volumes
    labels = class_labels(1, dimensions)
    logits = torch.randn(len(labels), 3, *SHAPES[dimensions], generator=torch.Generator().manual_seed(2))
    loss = multi_class_loss(name, dimensions, **TERMS[name])
    (term,) = loss.terms.values()
    assert isinstance(term, OneVsRestTerm)
    binary = make_loss(name, "softmax", dimensions, **TERMS[name])
    probabilities = torch.softmax(logits.double(), dim=1)
    expected = np.mean([
        float(value(binary, logits_for(probabilities[:, k:k + 1], "softmax"), (labels == k).float()))
        for k in (1, 2)
    ])
    assert float(value(loss, logits, labels)) == pytest.approx(expected, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("name", ONE_VS_REST)
def test_a_per_class_term_reaches_every_channel(name):
    dimensions = 3 if name == "mip" else 2
    labels = class_labels(3, dimensions)
    logits = torch.randn(len(labels), 3, *SHAPES[dimensions], generator=torch.Generator().manual_seed(4)).requires_grad_()
    loss = multi_class_loss(name, dimensions, **TERMS[name])
    value(loss, logits, labels).backward()
    assert torch.isfinite(logits.grad).all()
    assert all(logits.grad[:, channel].abs().sum() > 0 for channel in range(3))


def test_per_class_extras_travel_under_their_class_keys():
    loss = multi_class_loss("skeleton_recall")
    labels = class_labels(5, 2)
    batch = batch_for(loss, labels)
    assert {"skeleton_tube@1", "skeleton_tube@2"} <= set(batch) and "skeleton_tube" not in batch
    for k in (1, 2):  # each class's tube lies inside that class
        assert (batch[f"skeleton_tube@{k}"] <= (labels == k).float()).all() and batch[f"skeleton_tube@{k}"].sum() > 0


def test_region_terms_are_monai_losses_over_the_classes():
    labels = class_labels(6, 2)
    logits = torch.randn(len(labels), 3, *SHAPES[2], generator=torch.Generator().manual_seed(7))
    loss = multi_class_loss("dice_ce")
    (term,) = loss.terms.values()
    assert not isinstance(term, OneVsRestTerm)
    expected = DiceCELoss(softmax=True, to_onehot_y=True, include_background=False)(logits, labels)
    assert float(loss(logits, {"label": labels}, PROGRESS).total) == pytest.approx(float(expected))


def test_a_term_that_cannot_be_computed_per_class_is_a_config_error():
    with pytest.raises(ConfigError) as error:
        multi_class_loss("boundary")
    assert "losses.test.terms[0].name" in str(error.value) and "per class" in str(error.value)
    assert "label_policy" in error.value.fix


def test_one_vs_rest_logits_give_the_class_probability_and_its_complement():
    logits = torch.randn(2, 4, 5, 6, generator=torch.Generator().manual_seed(8))
    for k in range(4):
        binary = torch.softmax(one_vs_rest_logits(logits, k), dim=1)
        probability = torch.softmax(logits, dim=1)[:, k]
        assert torch.allclose(binary[:, 1], probability, atol=1e-6) and torch.allclose(binary[:, 0], 1 - probability, atol=1e-6)


def test_scnp_penalises_each_class_channel_against_its_one_hot_label():
    labels = class_labels(9, 2)
    logits = torch.randn(len(labels), 3, *SHAPES[2], generator=torch.Generator().manual_seed(10))
    penalised = penalise(logits, labels)
    for k in range(3):  # a sigmoid channel against the label of its class is the same penalty
        assert torch.equal(penalised[:, k:k + 1], penalise(logits[:, k:k + 1], (labels == k).float()))


def test_a_multi_class_network_has_one_output_per_class_and_a_binary_one_is_described_as_before():
    network = {"name": "unet", "channels": [4, 8], "strides": [2]}
    spec = NetworkSpec.from_config(network, dimensions=2, in_channels=1, output="softmax", classes=CLASSES)
    assert spec.out_channels == 3 and NetworkSpec.from_dict(spec.to_dict()) == spec
    assert spec.build()(torch.zeros(1, 1, 8, 8)).shape == (1, 3, 8, 8)
    binary = NetworkSpec.from_config(network, dimensions=2, in_channels=1, output="softmax")
    assert binary.out_channels == 2 and "classes" not in binary.to_dict()
    with pytest.raises(ConfigError, match="train.output"):
        NetworkSpec.from_config(network, dimensions=2, in_channels=1, output="sigmoid", classes=CLASSES)
