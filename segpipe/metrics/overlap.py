"""Overlap metrics."""

from __future__ import annotations

import torch

from segpipe.metrics.registry import CaseInputs, register_metric


@register_metric("dice")
def dice(inputs: CaseInputs) -> float:
    """Dice similarity coefficient of prediction and reference (MONAI ``compute_dice``).

    Empty masks: 1.0 when both are empty, 0.0 when exactly one is.
    """
    from monai.metrics import compute_dice

    prediction = torch.as_tensor(inputs.prediction, dtype=torch.float32)[None, None]
    reference = torch.as_tensor(inputs.reference, dtype=torch.float32)[None, None]
    return float(compute_dice(prediction, reference, include_background=True, ignore_empty=False)[0, 0])
