"""TopoLoss (Hu et al. 2019): persistence-diagram matching of the probability map, on tiles of the patch.

Hu et al. compare the persistence diagram of the foreground probability ``p`` (superlevel
filtration: a feature is born at the larger value) with the diagram of the label and penalise the
squared distance of every dot to its partner in the optimal matching (the 2-Wasserstein matching;
a dot without partner is matched to its projection on the diagonal)::

    sum over matched dots      (b - b*)^2 + (d - d*)^2
  + sum over unmatched dots    (b - d)^2 / 2           (of the prediction and of the label)

summed over homology dimensions (0 and 1 in 2D; 0, 1, 2 in 3D; essential bars excluded). The
label is binary, so each of its ``k`` dots of a dimension is the perfect dot ``(1, 0)`` (``k``
from its Betti numbers: :func:`label_dot_counts`); the
optimal matching then has a closed form (no assignment problem): the prediction's dot ``(b, d)``
gains ``delta = (b - 1)^2 + d^2 - (b - d)^2 / 2 - 1/2`` by being matched rather than left on the
diagonal (freeing a label dot whose own diagonal cost is 1/2), so the (at most ``k``) dots with
the most negative ``delta`` are matched. The diagrams are computed by
:func:`segpipe.topology.barcode_batch` (all tiles of the batch at once, on a thread pool), which also
gives the voxels holding each birth and death; the values are gathered from the probability
tensor there, so the gradient reaches exactly those voxels.

Tiles
    Hu et al. compute the loss on tiles of the patch (their public code, and TopoMortar's copy of
    it, on non-overlapping tiles of 50 px, the last ones smaller); ``tile_size: null`` takes the
    whole patch. The term sums over the tiles.
Normalisation
    ``per_voxel`` (default) divides each sample's sum by its number of voxels, as TopoMortar's
    ``mean()`` over the pixels did (its weight of 100 on top of cross-entropy then carries over);
    ``none`` keeps the sum (the formula of Hu et al. and of ``topolosses``' ``HutopoLoss``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from segpipe.networks.factory import foreground_probability
from segpipe.topology import DEFAULT_CONNECTIVITY, Bars, barcode_batch, betti_numbers
from segpipe.training.losses.options import choice, optional_integer
from segpipe.training.losses.options import connectivity as connectivity_option
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Values of the ``normalisation`` option.
NORMALISATIONS = ("per_voxel", "none")


def tiles(shape: Sequence[int], size: int | None) -> list[tuple[slice, ...]]:
    """Non-overlapping tiles of ``size`` voxels per axis covering ``shape`` (the last ones smaller)."""
    if size is None:
        return [tuple(slice(0, n) for n in shape)]
    return [tuple(slice(start, min(start + size, n)) for start, n in zip(starts, shape))
            for starts in itertools.product(*(range(0, n, size) for n in shape))]


def matched_dots(bars: Bars, label_dots: int) -> np.ndarray:
    """Indices of the prediction's finite dots that the optimal matching pairs with a perfect label dot.

    Parameters
    ----------
    bars
        The prediction's bars of one dimension (superlevel filtration).
    label_dots
        Number of finite dots of the label in that dimension (all at ``(1, 0)``).
    """
    finite = np.flatnonzero(~bars.essential)
    b, d = bars.births[finite], bars.deaths[finite]
    gain = (b - 1) ** 2 + d**2 - (b - d) ** 2 / 2 - 0.5
    order = np.argsort(gain, kind="stable")[:label_dots]
    return finite[order[gain[order] < 0]]


def label_dot_counts(mask: np.ndarray, connectivity: str) -> np.ndarray:
    """Number of finite dots, per dimension, of the superlevel diagram of a binary mask.

    Every dot is ``(1, 0)``: the foreground's features are born at 1 and filled at 0, except one
    component that never dies (the whole grid is a point). So the counts are the Betti numbers of
    the foreground with one component fewer (:func:`segpipe.topology.betti_numbers`, linear time,
    no persistence needed).
    """
    counts = betti_numbers(mask, connectivity=connectivity)
    counts[0] = max(int(counts[0]) - 1, 0)
    return counts


class TopoLoss(torch.nn.Module):
    """TopoLoss (Hu et al. 2019) of a probability map against a binary target, tile by tile.

    A plain module in MONAI's manner, ``loss(input, target)``; :class:`TopoLossTerm` puts it in the
    loss registry.

    Parameters
    ----------
    tile_size
        Side of the tiles in voxels; None: the whole patch.
    connectivity
        ``"full"`` (foreground 8-/26-connected, as the metrics count) or ``"face"`` (4-/6-connected).
    normalisation
        ``"per_voxel"``: each sample's sum divided by its voxels; ``"none"``: the sum.
    threads
        Threads of the barcode thread pool; None: the CPUs available to the process.
    """

    def __init__(
        self,
        *,
        tile_size: int | None = 50,
        connectivity: str = DEFAULT_CONNECTIVITY,
        normalisation: str = "per_voxel",
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.tile_size = tile_size
        self.connectivity = connectivity
        self.normalisation = normalisation
        self.threads = threads

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over the samples of ``(B, 1, *spatial)`` probabilities against binary targets."""
        probability = input[:, 0]
        spatial = tuple(probability.shape[1:])
        p = probability.detach().cpu().double().numpy()
        t = (target[:, 0].detach().cpu().numpy() > 0.5).astype(np.float64)
        windows = [(sample, window) for sample in range(len(p)) for window in tiles(spatial, self.tile_size)]
        diagrams = barcode_batch([p[s][w] for s, w in windows], filtration="superlevel",
                                 connectivity=self.connectivity, threads=self.threads)
        flat, weights, owners = [], [], []  # gathered voxels (birth, death) with their loss coefficients
        constant = np.zeros(len(p))
        voxels = int(np.prod(spatial))
        for (sample, window), predicted in zip(windows, diagrams):
            offset = np.array([w.start for w in window])
            for bars, label_dots in zip(predicted, label_dot_counts(t[sample][window], self.connectivity)):
                matched = matched_dots(bars, label_dots)
                finite = np.flatnonzero(~bars.essential)
                unmatched = np.setdiff1d(finite, matched)
                constant[sample] += 0.5 * (label_dots - len(matched))  # label dots left on the diagonal
                births = np.ravel_multi_index(tuple((bars.birth_coordinates + offset).T), spatial) + sample * voxels
                deaths = np.ravel_multi_index(tuple((np.maximum(bars.death_coordinates, 0) + offset).T), spatial) \
                    + sample * voxels
                for index, kind in ((matched, "matched"), (unmatched, "unmatched")):
                    flat.append(np.stack([births[index], deaths[index]], axis=1))
                    weights.append(np.full(len(index), kind == "matched"))
                    owners.append(np.full(len(index), sample))
        losses = probability.new_tensor(constant)
        if flat:
            pairs = torch.from_numpy(np.concatenate(flat)).to(probability.device)
            values = probability.reshape(-1)[pairs.reshape(-1)].reshape(-1, 2)
            b, d = values[:, 0], values[:, 1]
            matched = torch.from_numpy(np.concatenate(weights)).to(probability.device)
            cost = torch.where(matched, (b - 1) ** 2 + d**2, (b - d) ** 2 / 2)
            losses = losses.index_add(0, torch.from_numpy(np.concatenate(owners)).to(probability.device), cost)
        mean = losses.mean()
        return mean / voxels if self.normalisation == "per_voxel" else mean


@register_term
class TopoLossTerm(LossTerm):
    """The loss-registry term ``topo_loss``: :class:`TopoLoss` of the foreground probability.

    Parameters
    ----------
    context
        Run facts (output mode; the run's ``connectivity``).
    tile_size
        Side of the tiles in voxels (50, TopoMortar's); null: the whole patch.
    connectivity
        ``"full"`` or ``"face"``; None (default): the run's ``connectivity``, the one the metrics count.
    normalisation
        ``"per_voxel"`` (default) or ``"none"``.
    threads
        Threads of the barcode thread pool; null: the CPUs available to the process.
    """

    name = "topo_loss"

    def __init__(
        self,
        context: TermContext,
        *,
        tile_size: Any = 50,
        connectivity: str | None = None,
        normalisation: str = "per_voxel",
        threads: Any = None,
    ) -> None:
        super().__init__(context)
        self.loss = TopoLoss(
            tile_size=optional_integer("tile_size", tile_size, minimum=2),
            connectivity=connectivity_option(connectivity, context.connectivity),
            normalisation=choice("normalisation", normalisation, NORMALISATIONS),
            threads=optional_integer("threads", threads, minimum=1),
        )

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`TopoLoss` of the foreground probability against the label."""
        return self.loss(foreground_probability(logits, self.context.output), batch["label"])
