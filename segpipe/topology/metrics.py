"""Topological scores built on the engine: Betti numbers, Betti matching error and loss."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage.measure import euler_number

from segpipe.topology._device import device_image, is_device_array
from segpipe.topology._inputs import as_image
from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY, check_connectivity
from segpipe.topology.errors import TopologyValueError
from segpipe.topology.gather import gather
from segpipe.topology.matching import BettiMatching, betti_matching


def binarize(mask: Any, name: str, threshold: float = 0.5) -> np.ndarray:
    """``mask > threshold`` as a float64 array of 0.0 and 1.0 (validated as in :func:`barcode`).

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        If ``threshold`` is not a number, or NaN (no value is above NaN: every mask would be empty).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.integer | np.floating) or np.isnan(threshold):
        raise TopologyValueError(
            f"threshold is {threshold!r}, not a number", where="threshold",
            fix="pass the value above which a voxel is foreground, e.g. 0.5 for probabilities",
        )
    return (as_image(mask, name) > threshold).astype(np.float64)


def betti_numbers(mask: Any, *, connectivity: str = DEFAULT_CONNECTIVITY, threshold: float = 0.5) -> np.ndarray:
    """Betti numbers of the foreground of a binary mask.

    Parameters
    ----------
    mask
        2D or 3D array; voxels with values above ``threshold`` are foreground.
    connectivity
        ``"full"`` (default): foreground 8-connected in 2D, 26 in 3D, background 4/6; the voxels
        are closed squares/cubes (gudhi's ``top_dimensional_cells``, as in TopoMortar's Betti
        errors). ``"face"``: foreground 4/6, background 8/26 (see
        :mod:`segpipe.topology.connectivity`).
    threshold
        Foreground is ``mask > threshold``.

    Returns
    -------
    numpy.ndarray
        int64 ``(b0, b1)`` in 2D, ``(b0, b1, b2)`` in 3D: components, holes (tunnels in 3D) and
        cavities of the foreground.

    Notes
    -----
    Computed in linear time without the persistence engine: components and enclosed background
    regions are labelled with :func:`scipy.ndimage.label`, and in 3D the tunnels follow from the
    Euler characteristic (:func:`skimage.measure.euler_number`), ``b1 = b0 + b2 - chi``. These are
    the Betti numbers of the cubical complexes the engine uses for the same connectivity
    (checked against gudhi in the tests).
    """
    foreground = binarize(mask, "mask", threshold) > 0.5
    ndim = foreground.ndim
    full = check_connectivity(connectivity) == "full"  # foreground 8/26-connected
    components = ndimage.label(foreground, ndimage.generate_binary_structure(ndim, ndim if full else 1))[1]
    # Background regions not connected to the outside (a frame of background around the mask).
    outside = np.pad(~foreground, 1, constant_values=True)
    enclosed = ndimage.label(outside, ndimage.generate_binary_structure(ndim, 1 if full else ndim))[1] - 1
    if ndim == 2:
        return np.array([components, enclosed], dtype=np.int64)
    chi = euler_number(foreground, connectivity=ndim if full else 1)
    return np.array([components, components + enclosed - chi, enclosed], dtype=np.int64)


def betti_matching_error(
    prediction_mask: Any,
    target_mask: Any,
    *,
    connectivity: str = DEFAULT_CONNECTIVITY,
    relative: bool = False,
    threshold: float = 0.5,
) -> np.ndarray:
    """Betti matching error per homology dimension of two binarised masks.

    The number of bars of either mask without a partner in the Betti matching (Stucki et al. 2023);
    in dimension 0 the essential components count as unmatched when exactly one mask is empty.
    It is never smaller than the Betti number error ``|betti_numbers(p) - betti_numbers(t)|``.

    Parameters
    ----------
    prediction_mask, target_mask
        2D or 3D arrays of the same shape; values above ``threshold`` are foreground.
    connectivity
        ``"full"`` (default) or ``"face"``, as in :func:`betti_numbers`.
    relative
        Treat the border as foreground (see :func:`segpipe.topology.betti_matching`).
    threshold
        Foreground is ``mask > threshold``.

    Returns
    -------
    numpy.ndarray
        int64 error per homology dimension.
    """
    prediction = binarize(prediction_mask, "prediction_mask", threshold)
    target = binarize(target_mask, "target_mask", threshold)
    matching = betti_matching(
        prediction,
        target,
        filtration="superlevel",
        connectivity=connectivity,
        relative=relative,
    )
    error = matching.num_unmatched_prediction + matching.num_unmatched_target
    if not relative:  # with a frame both inputs have foreground
        error[0] += int(prediction.any()) ^ int(target.any())
    return error


def betti_matching_loss(
    matching: BettiMatching, prediction: Any, target: Any, *, per_dimension: bool = False
) -> float | np.ndarray:
    """Value of the Betti matching loss of Stucki et al. (2023) for a computed matching.

    ``sum over dimensions of 2 ((b - b')^2 + (d - d')^2)`` over the matched pairs, plus
    ``(d - b)^2`` over the unmatched bars of both inputs, with the values gathered from
    ``prediction`` and ``target`` at the matching's coordinates. Essential bars (with
    ``include_essential=True``) contribute their birth term only.

    Parameters
    ----------
    matching
        Result of :func:`segpipe.topology.betti_matching` for these arrays.
    prediction, target
        The arrays the matching was computed from (the filtration direction does not change the
        value; the frame of a relative matching is added here). torch tensors on a CUDA device
        stay there: the values are gathered on the device and only they are copied to the host.
    per_dimension
        Return the loss per homology dimension instead of the sum.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        If the loss exceeds the largest float64 (inputs of magnitude near 1e154 or more).
    """
    p = matching.framed(_loss_values(prediction, "prediction"))
    t = matching.framed(_loss_values(target, "target"))
    losses = np.zeros(len(matching))
    with np.errstate(over="ignore"):  # checked below
        for dim, bars in enumerate(matching):
            pb, tb = gather(p, bars.prediction_matched_birth), gather(t, bars.target_matched_birth)
            pd, td = gather(p, bars.prediction_matched_death), gather(t, bars.target_matched_death)
            finite = ~(np.isnan(pd) | np.isnan(td))
            losses[dim] = 2 * (np.sum((pb - tb) ** 2) + np.sum((pd[finite] - td[finite]) ** 2))
            for array, births, deaths in (
                (p, bars.prediction_unmatched_birth, bars.prediction_unmatched_death),
                (t, bars.target_unmatched_birth, bars.target_unmatched_death),
            ):
                losses[dim] += np.sum((gather(array, deaths) - gather(array, births)) ** 2)
        total = losses.sum()
    if not np.isfinite(total):  # a sum of squares of finite values: it overflowed
        raise TopologyValueError(
            f"the loss exceeds the largest float64 ({np.finfo(np.float64).max:.3g}): it sums squared differences "
            "of input values, and these inputs reach such magnitudes", where="prediction/target",
            fix="scale the inputs (e.g. probabilities in [0, 1]) before computing the loss",
        )
    return losses if per_dimension else float(total)


def _loss_values(data: Any, name: str) -> Any:
    """A loss input checked as the engine checks it: on its CUDA device, or a float64 host array."""
    return device_image(data, name) if is_device_array(data) else as_image(data, name)
