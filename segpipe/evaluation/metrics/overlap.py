"""Overlap metrics: Dice, and clDice (overlap of centerlines, Shit et al. 2021)."""

from __future__ import annotations

import numpy as np
import torch

from segpipe.evaluation.metrics.registry import CaseInputs, register_metric

#: Rule of the overlap metrics for empty masks.
EMPTY_OVERLAP_RULE = "1 when both masks are empty, 0 when exactly one is"


@register_metric("dice", empty_rule=EMPTY_OVERLAP_RULE)
def dice(inputs: CaseInputs) -> float:
    """Dice similarity coefficient of prediction and reference (MONAI ``compute_dice``)."""
    from monai.metrics import compute_dice

    prediction = torch.as_tensor(inputs.prediction, dtype=torch.float32)[None, None]
    reference = torch.as_tensor(inputs.reference, dtype=torch.float32)[None, None]
    return float(compute_dice(prediction, reference, include_background=True, ignore_empty=False)[0, 0])


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Centerline of a 2D or 3D mask (scikit-image ``skeletonize``: Zhang in 2D, Lee in 3D).

    A non-empty mask that thins away entirely (e.g. a 2x2x2 cube in 3D) is its own skeleton, so
    that a non-empty mask never has an empty centerline.
    """
    from skimage.morphology import skeletonize

    thinned = skeletonize(mask)
    return thinned if thinned.any() else mask.copy()


@register_metric("cldice", empty_rule=EMPTY_OVERLAP_RULE)
def cldice(inputs: CaseInputs) -> float:
    """clDice: harmonic mean of topology precision and topology sensitivity.

    Topology precision is the fraction of the prediction's skeleton inside the reference, topology
    sensitivity the fraction of the reference's skeleton inside the prediction (Shit et al. 2021),
    with scikit-image skeletons in voxel space (spacing is not used).
    """
    predicted, referenced = bool(inputs.prediction.any()), bool(inputs.reference.any())
    if not (predicted and referenced):
        return float(predicted == referenced)
    predicted_skeleton, reference_skeleton = skeleton(inputs.prediction), skeleton(inputs.reference)
    precision = np.count_nonzero(predicted_skeleton & inputs.reference) / np.count_nonzero(predicted_skeleton)
    sensitivity = np.count_nonzero(reference_skeleton & inputs.prediction) / np.count_nonzero(reference_skeleton)
    if precision + sensitivity == 0:
        return 0.0
    return 2 * precision * sensitivity / (precision + sensitivity)
