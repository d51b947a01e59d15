"""Topological metrics of masks: Betti numbers and errors, local Betti errors, Betti matching error.

Every metric here uses the configuration's ``connectivity`` (``full``: foreground 8-connected in
2D and 26 in 3D, background 4/6, as TopoMortar's gudhi ``CubicalComplex(top_dimensional_cells=1 -
mask)``; ``face``: 4/6, background 8/26; :mod:`segpipe.topology.connectivity`). Columns exist for dimensions 0, 1 and 2 whatever the
image dimension, so that 2D and 3D results share one table; in 2D every dimension-2 value is 0
(a 2D complex has no 2-cycles).
"""

from __future__ import annotations

import itertools

import numpy as np

from segpipe.evaluation.metrics.registry import CaseInputs, register_metric
from segpipe.topology import betti_matching_error, betti_numbers

#: Homology dimensions that get a column.
DIMENSIONS = (0, 1, 2)


def _padded(values: np.ndarray) -> np.ndarray:
    """Per-dimension values of a 2D or 3D computation as one value per :data:`DIMENSIONS`."""
    return np.concatenate([np.asarray(values, dtype=np.float64), np.zeros(len(DIMENSIONS) - len(values))])


def _columns(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.format(d=d) for d in DIMENSIONS)


def mask_betti_numbers(inputs: CaseInputs, which: str) -> np.ndarray:
    """Betti numbers (b0, b1, b2) of the ``"prediction"`` or ``"reference"`` mask, computed once per case."""
    mask = getattr(inputs, which)
    connectivity = inputs.settings.connectivity
    return inputs.memo(f"betti_{which}", lambda: _padded(betti_numbers(mask, connectivity=connectivity)))


@register_metric(
    "betti", columns=_columns("betti{d}_error"), higher_is_better=False,
    empty_rule="an empty mask has Betti numbers 0, so the error is the other mask's Betti number",
)
def betti_errors(inputs: CaseInputs) -> dict[str, float]:
    """Betti number errors ``|b_d(prediction) - b_d(reference)|`` for d = 0, 1, 2.

    b0 counts components, b1 holes (2D) or tunnels (3D), b2 cavities (3D), with the configuration's
    ``connectivity``.
    """
    error = np.abs(mask_betti_numbers(inputs, "prediction") - mask_betti_numbers(inputs, "reference"))
    return dict(zip(_columns("betti{d}_error"), error))


@register_metric(
    "betti_numbers", columns=(*_columns("betti{d}_prediction"), *_columns("betti{d}_reference")),
    higher_is_better=None, empty_rule="an empty mask has Betti numbers 0",
)
def betti_number_values(inputs: CaseInputs) -> dict[str, float]:
    """Betti numbers b0, b1, b2 of the prediction and of the reference (descriptive, not compared)."""
    return {
        **dict(zip(_columns("betti{d}_prediction"), mask_betti_numbers(inputs, "prediction"))),
        **dict(zip(_columns("betti{d}_reference"), mask_betti_numbers(inputs, "reference"))),
    }


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """First indices of sliding windows of ``window`` voxels every ``stride`` along an axis of ``size``.

    The last window ends at the border (so every voxel is covered); a window larger than the axis
    is the whole axis (a single start, 0).
    """
    if window >= size:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def windows(shape: tuple[int, ...], window: int, stride: int) -> list[tuple[slice, ...]]:
    """Slices of the sliding windows covering an array of ``shape`` (see :func:`window_starts`)."""
    per_axis = [[slice(start, start + min(window, size)) for start in window_starts(size, window, stride)] for size in shape]
    return list(itertools.product(*per_axis))


@register_metric(
    "local_betti", columns=_columns("local_betti{d}_error"), higher_is_better=False,
    empty_rule="an empty window has Betti numbers 0 (no special case)",
)
def local_betti_errors(inputs: CaseInputs) -> dict[str, float]:
    """Local Betti errors: the mean over sliding windows of the windows' Betti number errors.

    Windows of ``evaluate.local_window`` voxels per axis every ``evaluate.local_stride`` (default:
    half a window), the last one flush with the border, cover the image; each window's prediction
    and reference crops are compared as whole images. Errors that cancel out in the whole-image
    count (a missing hole here, a spurious one there) add up here. Hu et al. (2019) average Betti
    errors over randomly sampled patches; the fixed tiling makes the value reproducible.
    """
    settings = inputs.settings
    connectivity = settings.connectivity
    errors = [
        np.abs(betti_numbers(inputs.prediction[box], connectivity=connectivity)
               - betti_numbers(inputs.reference[box], connectivity=connectivity))
        for box in windows(inputs.reference.shape, settings.local_window, settings.stride)
    ]
    return dict(zip(_columns("local_betti{d}_error"), _padded(np.mean(errors, axis=0))))


@register_metric(
    "betti_matching", columns=_columns("betti_matching{d}_error"), higher_is_better=False,
    empty_rule="all bars of the non-empty mask are unmatched (including its one essential component); 0 when both are empty",
)
def betti_matching_errors(inputs: CaseInputs) -> dict[str, float]:
    """Betti matching error per dimension: bars of either mask without a partner (Stucki et al. 2023).

    The Betti matching of the binary masks (superlevel filtration, the configuration's
    ``connectivity``; :func:`segpipe.topology.betti_matching_error`). Unlike the Betti
    error it counts features in the wrong place, and it is never smaller.
    """
    error = betti_matching_error(
        inputs.prediction, inputs.reference, connectivity=inputs.settings.connectivity
    )
    return dict(zip(_columns("betti_matching{d}_error"), _padded(error)))
