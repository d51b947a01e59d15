"""Surface-distance metrics: HD95, ASSD and normalised surface Dice (MONAI's surface distances).

All three derive from one call per case of MONAI's ``get_edge_surface_distance`` (the mask edges
and the distances from each edge voxel of one mask to the nearest edge voxel of the other, with the
case's spacing) -- what ``compute_hausdorff_distance``, ``compute_average_surface_distance`` and
``compute_surface_dice`` each compute again -- then reduce it as those functions do (the tests
check agreement with them). Empty masks are handled before MONAI sees them: MONAI returns NaN or
inf there, and NaN would vanish from a mean.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from segpipe.evaluation.metrics.registry import CaseInputs, register_metric

#: Rule of the distance metrics (HD95, ASSD) for empty masks.
EMPTY_DISTANCE_RULE = (
    "0 when both masks are empty; the image diagonal in physical units when exactly one is "
    "(TopoMortar's rule for an empty prediction: the largest distance in the image)"
)


def empty_mask_distance(inputs: CaseInputs) -> float | None:
    """The distance metrics' value for empty masks, or ``None`` when both masks have foreground.

    Both empty: 0 (perfect agreement). Exactly one empty: the image diagonal in physical units, the
    largest distance possible in the image (TopoMortar's rule for an empty prediction).
    """
    predicted, referenced = bool(inputs.prediction.any()), bool(inputs.reference.any())
    if predicted and referenced:
        return None
    return 0.0 if predicted == referenced else inputs.diagonal


def surface_distances(inputs: CaseInputs) -> tuple[np.ndarray, np.ndarray]:
    """Distances (physical units) from the prediction's edge voxels to the reference's edge, and back.

    Both masks must have foreground. Computed once per case (shared by HD95, ASSD and NSD).
    """

    def compute() -> tuple[np.ndarray, np.ndarray]:
        from monai.metrics.utils import get_edge_surface_distance

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # MONAI 1.6 calls its own deprecated argument
            _, (to_reference, to_prediction), _ = get_edge_surface_distance(
                torch.as_tensor(inputs.prediction), torch.as_tensor(inputs.reference),
                spacing=list(inputs.spacing), symmetric=True, warn_empty=False,
            )
        return np.asarray(to_reference, dtype=np.float64), np.asarray(to_prediction, dtype=np.float64)

    return inputs.memo("surface_distances", compute)


@register_metric("hd95", higher_is_better=False, empty_rule=EMPTY_DISTANCE_RULE)
def hd95(inputs: CaseInputs) -> float:
    """95th-percentile symmetric Hausdorff distance between the mask surfaces, in physical units.

    The larger of the two directed 95th percentiles of the edge-to-edge distances (MONAI
    ``compute_hausdorff_distance(percentile=95)``).
    """
    empty = empty_mask_distance(inputs)
    if empty is not None:
        return empty
    return float(max(np.percentile(distances, 95) for distances in surface_distances(inputs)))


@register_metric("assd", higher_is_better=False, empty_rule=EMPTY_DISTANCE_RULE)
def assd(inputs: CaseInputs) -> float:
    """Average symmetric surface distance, in physical units.

    The mean of the edge-to-edge distances of both directions together (MONAI
    ``compute_average_surface_distance(symmetric=True)``).
    """
    empty = empty_mask_distance(inputs)
    if empty is not None:
        return empty
    return float(np.concatenate(surface_distances(inputs)).mean())


@register_metric(
    "nsd", empty_rule="1 when both masks are empty (nothing to miss), 0 when exactly one is (no surface agrees)"
)
def nsd(inputs: CaseInputs) -> float:
    """Normalised surface Dice at ``evaluate.surface_tolerance`` (physical units).

    The fraction of edge voxels of both masks lying within the tolerance of the other mask's edge
    (MONAI ``compute_surface_dice`` with ``use_subvoxels=False``).
    """
    predicted, referenced = bool(inputs.prediction.any()), bool(inputs.reference.any())
    if not (predicted and referenced):
        return float(predicted == referenced)
    to_reference, to_prediction = surface_distances(inputs)
    tolerance = inputs.settings.surface_tolerance
    close = np.count_nonzero(to_reference <= tolerance) + np.count_nonzero(to_prediction <= tolerance)
    return close / (len(to_reference) + len(to_prediction))
