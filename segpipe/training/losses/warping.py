"""Warping loss (Hu 2022, "Structure-aware image segmentation with homotopy warping"): cross-entropy on critical voxels.

The thresholded prediction ``P = p > 0.5`` and the label ``L`` differ on false positives and false
negatives. A *homotopic warping* flips mismatched voxels one at a time, only while the flipped
voxel is a *simple point* (flipping it changes no component, hole or cavity of the mask):

- ``L`` is warped towards ``P``: false negatives are removed from ``L`` in increasing distance to
  the background (scipy's Euclidean distance transform of ``L``), then false positives added in
  increasing distance to ``L``;
- ``P`` is warped towards ``L``: false positives removed in increasing distance to ``P``'s
  background, then false negatives added in increasing distance to ``P``.

The voxels where ``P`` differs from the warped ``L``, or ``L`` from the warped ``P``, are the
critical voxels: the mismatches that change topology. The loss is the binary cross-entropy of
``p`` against ``L`` summed over the critical voxels and divided by the voxels of the sample (the
normalisation of TopoMortar's run), mean over samples. The masks are computed on the CPU without
gradient; the gradient reaches only the critical voxels.

Simple points
    A voxel is simple for a mask with foreground adjacency ``k`` and background adjacency ``k'``
    (8/4 in 2D and 26/6 in 3D for ``connectivity: full``; 4/8 and 6/26 for ``face``) when the
    foreground of its neighbourhood (the voxel left out) has exactly one ``k``-component adjacent
    to it and the background exactly one ``k'``-component adjacent to it (the topological numbers
    of Bertrand and Malandain; for 6-adjacency counted in the 18-neighbourhood). Outside the patch is
    background. :func:`simple` counts the components of every queried neighbourhood at once; 2D
    uses a table of all 256 neighbourhoods built with it.
Order
    Hu's code flips one voxel at a time in sorted order. Here the voxels are flipped in rounds: by
    distance band (``ceil`` of the distance, increasing), and within a band by the ``2^d`` parity
    classes of their coordinates, so that no two voxels flipped together are neighbours; each flip
    is still of a simple point at that moment, so the warping is homotopic. Ties within a band are
    ordered differently from Hu's code (whose order among equal distances is NumPy's argsort).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage

from segpipe.networks.factory import foreground_probability
from segpipe.topology import DEFAULT_CONNECTIVITY
from segpipe.training.losses.options import connectivity as connectivity_option
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term


@functools.cache
def _neighbourhood(ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets of the ``3^d - 1`` neighbours, and their face and full adjacency matrices (padded index lists).

    Returns
    -------
    offsets
        ``(n, ndim)`` offsets in {-1, 0, 1}, the centre left out.
    face, full
        ``(n, degree)`` indices of each neighbour's face- and full-adjacent neighbours, padded
        with ``n`` (a node that is never present).
    """
    offsets = np.array([o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)])
    difference = np.abs(offsets[:, None] - offsets[None])
    face = difference.sum(-1) == 1
    full = (difference.max(-1) == 1)

    def padded(adjacent: np.ndarray) -> np.ndarray:
        degree = int(adjacent.sum(1).max())
        rows = [np.flatnonzero(row) for row in adjacent]
        return np.array([np.pad(r, (0, degree - len(r)), constant_values=len(offsets)) for r in rows])

    return offsets, padded(face), padded(full)


def _components(present: np.ndarray, adjacency: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Number of components of the present nodes of every row that contain a ``counted`` node."""
    rows, nodes = present.shape
    big = nodes + 1
    labels = np.where(present, np.arange(nodes), big)
    while True:
        extended = np.concatenate([labels, np.full((rows, 1), big)], axis=1)
        updated = np.where(present, np.minimum(labels, extended[:, adjacency].min(-1)), big)
        if np.array_equal(updated, labels):
            break
        labels = updated
    kept = np.sort(np.where(present & counted, labels, big), axis=1)
    distinct = np.concatenate([kept[:, :1] < big, (kept[:, 1:] != kept[:, :-1]) & (kept[:, 1:] < big)], axis=1)
    return distinct.sum(1)


def simple(neighbourhoods: np.ndarray, connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """Whether the centre of each neighbourhood is a simple point of the foreground.

    Parameters
    ----------
    neighbourhoods
        ``(N, 3^d - 1)`` booleans: the foreground of each voxel's neighbours in the order of
        ``itertools.product((-1, 0, 1), repeat=d)`` without the centre (``d`` = 2 or 3).
    connectivity
        ``"full"``: foreground 8-/26-adjacent, background 4-/6-adjacent; ``"face"``: the reverse.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` booleans.
    """
    ndim = {8: 2, 26: 3}[neighbourhoods.shape[1]]
    offsets, face, full = _neighbourhood(ndim)
    touches_face = np.abs(offsets).sum(1) == 1  # neighbours sharing a face with the centre
    inside_face_ring = np.abs(offsets).sum(1) <= 2 if ndim == 3 else np.ones(len(offsets), bool)  # N18 in 3D
    foreground = np.asarray(neighbourhoods, bool)
    sides = ((foreground, full, np.ones(len(offsets), bool), np.ones(len(offsets), bool)),
             (~foreground, face, touches_face, inside_face_ring))
    if connectivity == "face":
        sides = ((foreground, face, touches_face, inside_face_ring), (~foreground, full, np.ones(len(offsets), bool),
                                                                      np.ones(len(offsets), bool)))
    counts = [_components(present & ring, adjacency, counted) for present, adjacency, counted, ring in sides]
    return (counts[0] == 1) & (counts[1] == 1)


@functools.cache
def _table_2d(connectivity: str) -> np.ndarray:
    """Simple-point answer for each of the 256 2D neighbourhoods (bit ``i``: neighbour ``i``)."""
    codes = np.arange(256)
    return simple((codes[:, None] >> np.arange(8)) & 1 > 0, connectivity)


def warp(masks: np.ndarray, order: np.ndarray, connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """Flip the voxels with a positive ``order`` while they are simple points, in increasing order.

    Parameters
    ----------
    masks
        ``(B, *spatial)`` booleans (2D or 3D samples); not modified.
    order
        ``(B, *spatial)`` non-negative floats: 0 never flips; positive values are visited in rounds
        of increasing ``ceil(order)``, each in ``2^d`` parity classes (see the module notes).
    connectivity
        As for :func:`simple`.

    Returns
    -------
    numpy.ndarray
        The warped masks.
    """
    ndim = masks.ndim - 1
    padded = np.pad(masks, [(0, 0)] + [(1, 1)] * ndim)  # outside the patch is background
    offsets, _, _ = _neighbourhood(ndim)
    strides = np.array(padded.strides[1:]) // padded.itemsize
    shifts = offsets @ strides
    flat = padded.reshape(-1)
    candidates = np.argwhere(order > 0)
    if not len(candidates):
        return masks.copy()
    band = np.ceil(order[tuple(candidates.T)]).astype(np.int64)
    index = np.ravel_multi_index(tuple((candidates + np.r_[0, [1] * ndim]).T), padded.shape)
    parity = (candidates[:, 1:] % 2) @ (1 << np.arange(ndim))
    rounds = np.lexsort((parity, band))
    keys = band[rounds] * (1 << ndim) + parity[rounds]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], len(rounds)]):
        at = index[rounds[start:stop]]
        neighbours = flat[at[:, None] + shifts[None]]
        if ndim == 2:
            ok = _table_2d(connectivity)[neighbours.astype(np.int64) @ (1 << np.arange(8))]
        else:
            ok = simple(neighbours, connectivity)
        flat[at[ok]] = ~flat[at[ok]]
    return padded[(slice(None),) + (slice(1, -1),) * ndim].copy()


def _distances(masks: np.ndarray) -> np.ndarray:
    """Euclidean distance of each voxel of ``masks`` to the nearest voxel outside, per sample."""
    return np.stack([ndimage.distance_transform_edt(mask) for mask in masks])


def critical_voxels(prediction: np.ndarray, label: np.ndarray, connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """The mismatches of ``prediction`` and ``label`` that no homotopic warping removes.

    Parameters
    ----------
    prediction, label
        ``(B, *spatial)`` boolean masks.
    connectivity
        As for :func:`simple`.

    Returns
    -------
    numpy.ndarray
        ``(B, *spatial)`` booleans: where ``prediction`` differs from the warped ``label`` or
        ``label`` from the warped ``prediction``.
    """
    false_positive, false_negative = prediction & ~label, label & ~prediction
    # both warps at once: the label towards the prediction, and the prediction towards the label
    masks = np.concatenate([label, prediction])
    removed = np.concatenate([false_negative, false_positive])
    added = np.concatenate([false_positive, false_negative])
    masks = warp(masks, _distances(masks) * removed, connectivity)
    masks = warp(masks, _distances(~np.concatenate([label, prediction])) * added, connectivity)
    warped_label, warped_prediction = masks[: len(label)], masks[len(label):]
    return (prediction != warped_label) | (label != warped_prediction)


class WarpingLoss(torch.nn.Module):
    """Warping loss (Hu 2022): cross-entropy of a probability map on its critical voxels.

    A plain module in MONAI's manner, ``loss(input, target)``; :class:`WarpingTerm` puts it in the
    loss registry.

    Parameters
    ----------
    connectivity
        ``"full"`` (foreground 8-/26-connected, as the metrics count) or ``"face"`` (4-/6-connected).
    """

    def __init__(self, *, connectivity: str = DEFAULT_CONNECTIVITY) -> None:
        super().__init__()
        self.connectivity = connectivity

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over the samples of ``(B, 1, *spatial)`` probabilities against binary targets."""
        probability, label = input[:, 0], (target[:, 0] > 0.5)
        prediction = (probability.detach() > 0.5).cpu().numpy()
        critical = critical_voxels(prediction, label.cpu().numpy(), self.connectivity)
        weight = torch.from_numpy(critical).to(probability.device, probability.dtype)
        entropy = torch.nn.functional.binary_cross_entropy(probability, label.to(probability.dtype), reduction="none")
        return (weight * entropy).flatten(1).mean(1).mean()


@register_term
class WarpingTerm(LossTerm):
    """The loss-registry term ``warping``: :class:`WarpingLoss` of the foreground probability.

    Parameters
    ----------
    context
        Run facts (output mode; the run's ``connectivity``).
    connectivity
        ``"full"`` or ``"face"``; None (default): the run's ``connectivity``, the one the metrics count.
    """

    name = "warping"

    def __init__(self, context: TermContext, *, connectivity: str | None = None) -> None:
        super().__init__(context)
        self.loss = WarpingLoss(
            connectivity=connectivity_option(connectivity, context.connectivity)
        )

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`WarpingLoss` of the foreground probability against the label."""
        return self.loss(foreground_probability(logits, self.context.output), batch["label"])
