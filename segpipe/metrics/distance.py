"""Surface-distance metrics."""

from __future__ import annotations

import warnings

import torch

from segpipe.metrics.registry import CaseInputs, register_metric


def empty_mask_distance(inputs: CaseInputs) -> float | None:
    """The distance metrics' rule for empty masks, or ``None`` when both masks have foreground.

    Both empty: 0 (perfect agreement). Exactly one empty: the image diagonal in physical units, the
    largest distance possible in the image (TopoMortar's rule for an empty prediction).
    """
    predicted, referenced = bool(inputs.prediction.any()), bool(inputs.reference.any())
    if predicted and referenced:
        return None
    return 0.0 if predicted == referenced else inputs.diagonal


@register_metric("hd95", higher_is_better=False)
def hd95(inputs: CaseInputs) -> float:
    """95th-percentile symmetric Hausdorff distance between the mask surfaces, in physical units.

    Computed by MONAI ``compute_hausdorff_distance`` with the case's spacing; empty masks follow
    :func:`empty_mask_distance`.
    """
    from monai.metrics import compute_hausdorff_distance

    empty = empty_mask_distance(inputs)
    if empty is not None:
        return empty
    prediction = torch.as_tensor(inputs.prediction, dtype=torch.float32)[None, None]
    reference = torch.as_tensor(inputs.reference, dtype=torch.float32)[None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI 1.6 calls its own deprecated argument
        distance = compute_hausdorff_distance(
            prediction, reference, include_background=True, percentile=95, spacing=list(inputs.spacing)
        )
    return float(distance[0, 0])
