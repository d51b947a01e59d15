"""clDice term: topolosses' CLDiceLoss, MONAI's fixed one-channel behaviour, hand values, iterations from the fingerprint."""

from __future__ import annotations

import monai
import numpy as np
import pytest
import torch
from loss_cases import confident, make_loss, tubes, value
from monai.losses import SoftclDiceLoss
from monai.losses.cldice import soft_skel
from packaging.version import Version
from skimage.draw import disk
from topolosses_reference import reference_module

from segpipe.errors import ConfigError
from segpipe.preprocessing.preprocess import largest_radius
from segpipe.training.losses import TermContext, build_loss


@pytest.mark.parametrize("iterations", [1, 3])
def test_value_and_gradient_equal_topolosses_cldice_loss(iterations):
    """topolosses' CLDiceLoss (2D only; per sample, smooth 1) on the same probabilities.

    MONAI adds its ``smooth`` (1e-4) to the denominator of the harmonic mean, topolosses nothing:
    the values differ by about 1e-4 of ``2 tprec tsens / (tprec + tsens)``.
    """
    reference = reference_module("topolosses.losses.cldice.src.cldice_loss").CLDiceLoss(
        iter_=iterations, smooth=1.0, use_base_loss=False, alpha=1.0)
    rng = np.random.default_rng(iterations)
    labels = tubes(rng, 3, (24, 20))
    logits = torch.from_numpy(rng.normal(size=(3, 1, 24, 20))).float().requires_grad_()
    expected = reference(torch.sigmoid(logits), labels)
    (expected_gradient,) = torch.autograd.grad(expected, logits)
    got = value(make_loss("cldice", iterations=iterations), logits, labels)
    (gradient,) = torch.autograd.grad(got, logits)
    assert float(got) == pytest.approx(float(expected), abs=1e-4)
    assert torch.allclose(gradient, expected_gradient, rtol=1e-3, atol=1e-7)


def test_monai_is_at_least_1_6_and_one_channel_cldice_has_a_gradient():
    # Before 1.6 the arguments were reversed and a one-channel output gave a constant zero.
    assert Version(monai.__version__) >= Version("1.6")
    label = torch.zeros(1, 1, 16, 16)
    label[0, 0, 8, 2:14] = 1
    logits = torch.zeros(1, 1, 16, 16, requires_grad=True)
    loss = SoftclDiceLoss(iter_=3, sigmoid=True)(logits, label)
    loss.backward()
    assert float(loss.detach()) > 0.1 and logits.grad.abs().sum() > 0


def test_hand_computed_value_on_thin_lines():
    # One-pixel lines are their own soft skeletons (the opening removes them entirely).
    # Prediction: row 3, columns 1-5 (5 px); label: row 3, columns 3-6 (4 px); overlap 3 px.
    # precision (3 + 1) / (5 + 1), sensitivity (3 + 1) / (4 + 1), loss 1 - 2 P S / (P + S + 1e-4).
    prediction, label = torch.zeros(1, 1, 8, 9), torch.zeros(1, 1, 8, 9)
    prediction[0, 0, 3, 1:6] = 1
    label[0, 0, 3, 3:7] = 1
    precision, sensitivity = 4 / 6, 4 / 5
    expected = 1 - 2 * precision * sensitivity / (precision + sensitivity + 1e-4)
    for output in ("sigmoid", "softmax"):
        loss = make_loss("cldice", output, iterations=3)
        assert float(value(loss, confident(prediction, output), label)) == pytest.approx(expected, abs=1e-6)


def test_auto_iterations_come_from_the_fingerprint_radius():
    fingerprint = {"labels": {"noisy": {"largest_radius_voxels": 6.2}}}
    term = build_loss("x", {"x": {"terms": [{"name": "cldice"}]}}, TermContext("sigmoid", 2, "noisy", fingerprint))
    assert term.terms["cldice"].iterations == 7
    with pytest.raises(ConfigError, match=r"(?s)'losses\.x\.terms\[0\]\.iterations'.*labels\.accurate\.largest_radius_voxels.*segpipe preprocess"):
        build_loss("x", {"x": {"terms": [{"name": "cldice"}]}}, TermContext("sigmoid", 2, "accurate", fingerprint))


def test_a_thick_structure_still_has_a_skeleton_with_auto_iterations():
    label = np.zeros((48, 48), np.float32)
    label[disk((24, 24), 12, shape=label.shape)] = 1
    radius = largest_radius(label)
    context = TermContext("sigmoid", 2, "accurate", {"labels": {"accurate": {"largest_radius_voxels": radius}}})
    auto = build_loss("x", {"x": {"terms": [{"name": "cldice"}]}}, context)
    iterations = auto.terms["cldice"].iterations
    label_tensor = torch.from_numpy(label)[None, None]
    assert soft_skel(label_tensor, iterations).sum() > 0
    assert soft_skel(label_tensor, 3).sum() == 0  # too few iterations: no skeleton, no signal
    # A prediction that misses the disk's centre (where its skeleton is) is penalised only with auto.
    ring = label.copy()
    ring[disk((24, 24), 6, shape=label.shape)] = 0
    ring = torch.from_numpy(ring)[None, None]
    assert float(value(auto, confident(ring, "sigmoid"), label_tensor)) > 0.3
    assert float(value(make_loss("cldice", iterations=3), confident(ring, "sigmoid"), label_tensor)) < 1e-3


@pytest.mark.parametrize("options", [{"iterations": -1}, {"iterations": "many"}, {"iterations": 2.5}, {"smooth": 0}])
def test_bad_options_name_the_key(options):
    (key,) = options
    with pytest.raises(ConfigError, match=rf"'losses\.test\.terms\[0\]\.{key}'"):
        make_loss("cldice", **options)
