"""clDice term: MONAI's fixed one-channel behaviour, hand values, iterations from the fingerprint."""

from __future__ import annotations

import monai
import numpy as np
import pytest
import torch
from loss_cases import confident, make_loss, value
from monai.losses import SoftclDiceLoss
from monai.losses.cldice import soft_skel
from packaging.version import Version
from skimage.draw import disk

from segpipe.errors import ConfigError
from segpipe.preprocessing.preprocess import largest_radius
from segpipe.training.losses import TermContext, build_loss


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
