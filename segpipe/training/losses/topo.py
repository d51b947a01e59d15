"""TOPO loss (Oner et al. 2021) as TopoMortar ran it (``MSETopoWinLoss``): distance regression plus maximin-path cuts.

Sources: D. Oner, M. Kozinski, L. Citraro, N. C. Dadap, A. G. Konings, P. Fua, "Promoting
connectivity of network-like structures by enforcing region separation", IEEE TPAMI 44(9), 2022
(arXiv 2009.07011); TopoMortar (Valverde et al., "TopoMortar: A dataset to evaluate image
segmentation methods focused on topology accuracy"), class ``MSETopoWinLoss`` of its
``lib/losses.py``, which is what this term reproduces (no code is copied). MALIS (Turaga et al.
2009) is the counting of pixel pairs by the edge where a maximum spanning tree joins them.

What the network outputs
    A distance map, not a probability. The regressed value is ``y = relu(m)`` with ``m`` the
    network's foreground margin: the logit for a sigmoid output, ``logit_1 - logit_0`` for a
    softmax output. TopoMortar's network has one output channel and predicts foreground where
    ``relu(out) > 1e-5``; here the prediction stays ``p > 0.5``, i.e. ``m > 0``, the same mask.
    The target is ``D = min(EDT(L), D_max)``: the Euclidean distance of each foreground pixel to
    the background (0 on the background), clipped at ``D_max`` (TopoMortar: the distance transform
    of the label, not Oner's distance to the centre line, so foreground is *high*).

The loss of a sample (sums over its pixels, as TopoMortar's)::

    loss = alpha * sum_x (y_x - D_x)^2  +  sum_windows sum_x w_x * y_x^2

and of a batch the mean over its samples (TopoMortar sums over the batch: its value is the batch
size, 10 there, times this one).

Windows
    The patch is cut into non-overlapping windows of ``window`` pixels a side from its origin; a
    remainder narrower than a window at the far sides is left out (TopoMortar: ``H // w`` windows).
Regions
    In each window, the connected components (under the run's ``connectivity``, the one the
    metrics count: 8-/26-connected for ``"full"``, 4-/6-connected for ``"face"``) of the label eroded by
    ``separation`` pixels (TopoMortar: the complement of the background dilated ``5`` times with
    scipy's cross, i.e. foreground pixels further than 5 steps, in city-block distance, from the
    background in the window; the window's border is not background). Pixels outside every region
    are unlabelled.
Maximin paths and weights
    The window is a pixel graph with the same connectivity (TopoMortar's: ``"face"``) and edge cost
    ``c(u, v) = y_u + y_v`` (the prediction, detached). For two pixels the *maximin path* is the
    path whose lowest edge is highest; its lowest edge is where Kruskal's algorithm on the edges in
    decreasing cost (a maximum spanning tree) first joins them. ``N_e`` counts the pairs of pixels
    in *different* regions first joined at edge ``e`` (MALIS's negative pairs). Normalised per
    window, ``N_e / sum_e N_e``, each edge's share is added to both of its pixels: ``w_x`` (so the
    weights of a window with separated regions sum to 2). The term ``w_x y_x^2`` pushes the lowest
    pixels of the paths that join different regions to 0: it cuts predicted bridges between
    structures that the label keeps apart. A prediction in which every such path crosses a pixel
    of value 0 has no topological part.

Relation to Oner et al.
    Oner's network regresses the distance to the road centre lines (low on roads); the regions are
    the background regions that roads separate, and the disconnection term pushes the lowest
    point of paths between different regions to 0, i.e. draws the missing road. TopoMortar's
    variant regresses the distance inside the foreground and labels the eroded foreground, so the
    same term separates foreground pieces instead. Oner's *connection* term (``beta = 0.1`` times
    ``(D_max - y)^2`` on the lowest edges of paths within one region, on edges whose target is at
    least ``D_min = 10``) is computed by TopoMortar's code, but its mask compares the *binary*
    label's edge sums (0, 1 or 2) with ``D_max = 20``, which zeroes all of it: TopoMortar's runs had
    none, and neither has this term.

Defaults (TopoMortar's constants): ``alpha = 1e-3``, ``window = 64``, ``d_max = 20``,
``separation = 5``; TopoMortar ran the term alone (``config.yaml``'s ``topo``).

Cost: one distance transform per augmented sample in the data loader; per window with at least
two regions, a sort of the edges and a union-find (Kruskal) in Python over them, on the CPU during
the loss. Windows with fewer than two regions cost only the erosion and labelling.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage

from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY, check_connectivity, is_top_construction
from segpipe.training.losses.options import connectivity as options_connectivity
from segpipe.training.losses.options import integer, number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Batch key of the clipped distance maps, ``(B, 1, *patch)``.
DISTANCE_KEY = "topo_distance"


def distance_target(label: np.ndarray, d_max: float) -> np.ndarray:
    """``min(EDT(label), d_max)`` as ``float32``: each foreground pixel's distance to the background.

    A label without background gets ``d_max`` everywhere (scipy's transform of an array without
    zeros is no distance).
    """
    foreground = np.asarray(label) > 0
    if foreground.all():
        return np.full(foreground.shape, d_max, np.float32)
    return np.minimum(ndimage.distance_transform_edt(foreground), d_max).astype(np.float32)


def regions(label: np.ndarray, separation: int, connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """Components of the foreground further than ``separation`` steps from the background.

    The foreground eroded by ``separation`` iterations of the cross (TopoMortar's); outside the array
    is not background. Components under ``connectivity`` (``"full"``: 8-/26-connected foreground, as
    the metrics count; ``"face"``: 4-/6-connected). Returns integer labels, 0 outside every region.
    """
    background = np.asarray(label) <= 0
    if separation > 0 and background.any():
        background = ndimage.binary_dilation(background, iterations=separation)
    rank = background.ndim if is_top_construction(connectivity) else 1
    return ndimage.label(~background, structure=ndimage.generate_binary_structure(background.ndim, rank))[0]


def _offsets(ndim: int, connectivity: str) -> list[tuple[int, ...]]:
    """One offset per neighbour direction (the first non-zero step positive): faces only, or every neighbour."""
    if not is_top_construction(connectivity):
        return [tuple(int(a == axis) for a in range(ndim)) for axis in range(ndim)]
    steps = itertools.product((-1, 0, 1), repeat=ndim)
    return [step for step in steps if any(step) and next(v for v in step if v) > 0]


def _shifted(offset: tuple[int, ...], ndim: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the first and the second pixel of every pair ``(x, x + offset)`` inside the grid."""
    low = tuple(slice(max(0, -o), -o if o > 0 else None) for o in offset)
    high = tuple(slice(max(0, o), None if o >= 0 else o) for o in offset)
    return low[:ndim], high[:ndim]


def _edges(shape: tuple[int, ...], connectivity: str = DEFAULT_CONNECTIVITY
           ) -> tuple[np.ndarray, np.ndarray, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Adjacent pixel pairs of a grid under ``connectivity``, direction by direction.

    Returns the first and second pixel (flat indices) and each direction's ``(offset, block shape)``.
    """
    index = np.arange(int(np.prod(shape))).reshape(shape)
    first, second, blocks = [], [], []
    for offset in _offsets(len(shape), connectivity):
        low, high = _shifted(offset, len(shape))
        first.append(index[low].ravel())
        second.append(index[high].ravel())
        blocks.append((offset, index[low].shape))
    return np.concatenate(first), np.concatenate(second), blocks


def maximin_pair_counts(values: np.ndarray, labels: np.ndarray, connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """For each edge of the pixel graph under ``connectivity``, the pairs of differently labelled pixels whose maximin path's lowest edge it is.

    Kruskal's algorithm on the edges in decreasing cost ``values[u] + values[v]`` (ties: in the
    order of :func:`_edges`): when an edge joins two trees, it is the lowest edge of the
    maximin path of every pair with one pixel in each; the pairs whose two labels are both
    non-zero and different are counted on it.

    Parameters
    ----------
    values
        ``(*shape)`` floats.
    labels
        ``(*shape)`` integers, 0 unlabelled.

    Returns
    -------
    numpy.ndarray
        ``(E,)`` float64 counts, edges in the order of :func:`_edges`.
    """
    first, second, _ = _edges(values.shape, connectivity)
    flat = values.ravel().astype(np.float64)
    cost = flat[first] + flat[second]
    order = np.argsort(-cost, kind="stable")
    counts = np.zeros(len(first))
    parent = list(range(flat.size))
    size = [1] * flat.size
    members: list[dict[int, int] | None] = [None] * flat.size
    for node, label in zip(np.flatnonzero(labels.ravel()).tolist(), labels.ravel()[labels.ravel() > 0].tolist()):
        members[node] = {label: 1}
    totals = [0] * flat.size
    for node in np.flatnonzero(labels.ravel()).tolist():
        totals[node] = 1
    first_list, second_list = first.tolist(), second.tolist()
    for edge in order.tolist():
        a, b = first_list[edge], second_list[edge]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a == b:
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        ma, mb = members[a], members[b]
        if mb is None:
            continue
        if ma is None:
            members[a], totals[a] = mb, totals[b]
            continue
        if len(ma) < len(mb):
            ma, mb = mb, ma
        same = sum(count * ma.get(label, 0) for label, count in mb.items())
        counts[edge] = totals[a] * totals[b] - same
        for label, count in mb.items():
            ma[label] = ma.get(label, 0) + count
        members[a], members[b] = ma, None
        totals[a] += totals[b]
    return counts


def window_weights(values: np.ndarray, label: np.ndarray, separation: int,
                   connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """The pixel weights ``w`` of one window: each edge's normalised negative-pair share on both its pixels."""
    region = regions(label, separation, connectivity)
    weights = np.zeros(values.shape)
    if region.max() < 2:  # no pair of different regions
        return weights
    counts = maximin_pair_counts(values, region, connectivity)
    total = counts.sum()
    if total <= 0:
        return weights
    counts = counts / total
    _, _, blocks = _edges(values.shape, connectivity)
    start = 0
    for offset, shape in blocks:
        share = counts[start:start + int(np.prod(shape))].reshape(shape)
        start += share.size
        low, high = _shifted(offset, values.ndim)
        weights[low] += share
        weights[high] += share
    return weights


def topo_weights(values: np.ndarray, labels: np.ndarray, window: int, separation: int,
                 connectivity: str = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """:func:`window_weights` of every whole window of every sample, ``(B, *spatial)`` (0 outside whole windows)."""
    weights = np.zeros(values.shape)
    spatial = values.shape[1:]
    starts = [range(0, side - window + 1, window) for side in spatial]
    for b in range(values.shape[0]):
        for corner in itertools.product(*starts):
            at = (b,) + tuple(slice(c, c + window) for c in corner)
            weights[at] = window_weights(values[at], labels[at], separation, connectivity)
    return weights


def foreground_margin(logits: torch.Tensor, output: str) -> torch.Tensor:
    """``(B, 1, *spatial)``: the logit (sigmoid output) or ``logit_1 - logit_0`` (softmax); foreground where > 0."""
    if output == "sigmoid":
        return logits[:, :1]
    return logits[:, 1:2] - logits[:, :1]


class TopoWindowLoss(torch.nn.Module):
    """TOPO loss (Oner et al. 2021) as TopoMortar's ``MSETopoWinLoss``; see the module notes.

    ``loss(input, target, distance)``: ``input`` the foreground margin ``(B, 1, *spatial)`` (the
    regressed distance is ``relu(input)``), ``target`` the binary label, ``distance`` the clipped
    distance map (:func:`distance_target`).
    """

    def __init__(self, *, alpha: float = 1e-3, window: int = 64, separation: int = 5,
                 connectivity: str = DEFAULT_CONNECTIVITY) -> None:
        super().__init__()
        self.alpha, self.window, self.separation = alpha, window, separation
        self.connectivity = check_connectivity(connectivity)

    def forward(self, input: torch.Tensor, target: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        value = torch.relu(input[:, 0])
        regression = ((value - distance[:, 0].to(value.dtype)) ** 2).flatten(1).sum(1)
        weights = topo_weights(value.detach().cpu().numpy(), (target[:, 0] > 0.5).cpu().numpy(), self.window,
                               self.separation, self.connectivity)
        topological = (torch.from_numpy(weights).to(value.device, value.dtype) * value ** 2).flatten(1).sum(1)
        return (self.alpha * regression + topological).mean()


@register_term
class TopoTerm(LossTerm):
    """The loss-registry term ``topo``: :class:`TopoWindowLoss` of the network's foreground margin.

    Parameters
    ----------
    context
        Run facts (output mode; 2D or 3D).
    alpha
        Weight of the distance regression (TopoMortar: 1e-3).
    window
        Side of the windows in pixels (TopoMortar: 64).
    d_max
        Clipping of the regressed distance (TopoMortar: 20).
    separation
        Erosion of the label, in pixels, before its components become regions (TopoMortar: 5).
    connectivity
        ``"full"`` or ``"face"``; default the run's ``connectivity``, the one the metrics count
        (TopoMortar's graph is ``"face"``).
    """

    name = "topo"
    requires = (DISTANCE_KEY,)

    def __init__(self, context: TermContext, *, alpha: float = 1e-3, window: int = 64, d_max: float = 20.0,
                 separation: int = 5, connectivity: str | None = None) -> None:
        super().__init__(context)
        self.d_max = number("d_max", d_max, strict=True)
        self.loss = TopoWindowLoss(alpha=number("alpha", alpha), window=integer("window", window, minimum=2),
                                   separation=integer("separation", separation),
                                   connectivity=options_connectivity(connectivity, context.connectivity))

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The label's clipped distance map, ``(1, *patch)``."""
        return {DISTANCE_KEY: distance_target(sample["label"][0], self.d_max)[np.newaxis]}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`TopoWindowLoss` of the foreground margin."""
        return self.loss(foreground_margin(logits, self.context.output), batch["label"], batch[DISTANCE_KEY])
