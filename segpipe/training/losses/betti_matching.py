"""Betti matching loss (Stucki et al. 2023) on the foreground probability, built on :mod:`segpipe.topology`.

For every sample of the batch, the Betti matching of the foreground probability ``p`` and the
label ``t`` is computed by the C++ engine (:func:`segpipe.topology.betti_matching_batch`, all
samples at once on a thread pool without the GIL). The engine returns the voxels that hold the
birth and death values of every matched and unmatched bar; the values are gathered from the
probability tensor at those voxels, so the gradient flows into exactly these voxels. Per sample and
filtration, summed over homology dimensions::

    matched_weight   * sum over matched pairs   2 ((b_p - b_t)^2 + (d_p - d_t)^2)
  + unmatched_weight * sum over unmatched bars  (d - b)^2        (of p and of t)

(the label side has no gradient; with both weights 1 this is the formula of
:func:`segpipe.topology.betti_matching_loss`). The term is the mean over samples (and over the two
filtrations with ``filtration: both``). Only the foreground channel is used: with two classes the
background channel carries the same topology.

Connectivity
    The matching uses the run's ``connectivity`` (the metrics'; default ``full``: foreground
    8-connected in 2D, 26 in 3D). With another connectivity than the metrics', descent can drive
    the term to zero while the metrics still count holes: a diagonal gap between two foreground
    pixels closes a hole for ``face`` and not for ``full``.

Normalisation
    Stucki et al.'s loss is a sum over bars, so its scale grows with the patch (more bars) and its
    right weight depends on the patch size (its authors used 0.5 at 48 px and about 0.0015 at
    256 px). With ``normalisation: per_voxel`` (the default) the sum is divided by the number of
    voxels of the patch. Each bar end then gets a gradient on the scale of one voxel's
    cross-entropy gradient (which is also divided by the number of voxels), whatever the patch
    size, so one weight suits every patch size; unlike a mean over bars, a prediction with more
    topological errors still has a larger loss. ``normalisation: none`` keeps the sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from segpipe.networks.factory import foreground_probability
from segpipe.topology import DEFAULT_CONNECTIVITY, BettiMatching, betti_matching_batch
from segpipe.training.losses.options import choice, flag, number, optional_integer
from segpipe.training.losses.options import connectivity as connectivity_option
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Values of the ``filtration`` option.
FILTRATIONS = ("superlevel", "sublevel", "both")
#: Values of the ``normalisation`` option.
NORMALISATIONS = ("per_voxel", "none")


class _Gatherer:
    """Collects voxel coordinates of many matchings and reads their values from a batch tensor.

    Parameters
    ----------
    shape
        Spatial shape of every sample.
    """

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = np.asarray(shape, dtype=np.int64)
        self.flat: list[np.ndarray] = []
        self.inside: list[np.ndarray] = []
        self.frame: list[np.ndarray] = []
        self.samples: list[np.ndarray] = []

    def add(self, sample: int, coordinates: np.ndarray, matching: BettiMatching) -> None:
        """Queue ``coordinates`` (into the arrays ``matching`` saw) of sample ``sample``."""
        coordinates = np.asarray(coordinates, dtype=np.int64).reshape(-1, len(self.shape))
        if matching.relative:  # coordinates of the framed arrays; the frame holds frame_value
            coordinates = coordinates - 1
        inside = np.all((coordinates >= 0) & (coordinates < self.shape), axis=1)
        clipped = np.clip(coordinates, 0, self.shape - 1)
        flat = np.ravel_multi_index(tuple(clipped.T), tuple(self.shape)) + sample * int(np.prod(self.shape))
        self.flat.append(flat)
        self.inside.append(inside)
        self.frame.append(np.full(len(flat), matching.frame_value or 0.0))
        self.samples.append(np.full(len(flat), sample, dtype=np.int64))

    def owners(self, device: torch.device) -> torch.Tensor:
        """Sample index of every queued coordinate."""
        return torch.from_numpy(np.concatenate(self.samples or [np.zeros(0, dtype=np.int64)])).to(device)

    def values(self, tensor: torch.Tensor) -> torch.Tensor:
        """Values of ``tensor`` ``(B, *shape)`` at every queued coordinate, in order."""
        if not self.flat:
            return tensor.new_zeros(0)
        flat = torch.from_numpy(np.concatenate(self.flat)).to(tensor.device)
        inside = torch.from_numpy(np.concatenate(self.inside)).to(tensor.device)
        frame = torch.from_numpy(np.concatenate(self.frame)).to(tensor.device, tensor.dtype)
        return torch.where(inside, tensor.reshape(-1)[flat], frame)


def matching_losses(
    probability: torch.Tensor,
    label: torch.Tensor,
    matchings: Sequence[BettiMatching],
    *,
    matched_weight: float = 1.0,
    unmatched_weight: float = 1.0,
) -> torch.Tensor:
    """Betti matching loss of each sample from its computed matching, differentiable in ``probability``.

    Parameters
    ----------
    probability, label
        ``(B, *spatial)`` tensors the matchings were computed from.
    matchings
        One matching per sample (``include_essential=False``).
    matched_weight, unmatched_weight
        Weights of the matched pairs' and the unmatched bars' terms.

    Returns
    -------
    torch.Tensor
        ``(B,)`` losses.
    """
    # the ends of the matched pairs (p: prediction, t: label) and of the unmatched bars (u)
    ends = {key: _Gatherer(probability.shape[1:]) for key in ("pb", "pd", "tb", "td", "upb", "upd", "utb", "utd")}
    for sample, matching in enumerate(matchings):
        for bars in matching:
            for key, coordinates in (
                ("pb", bars.prediction_matched_birth), ("pd", bars.prediction_matched_death),
                ("tb", bars.target_matched_birth), ("td", bars.target_matched_death),
                ("upb", bars.prediction_unmatched_birth), ("upd", bars.prediction_unmatched_death),
                ("utb", bars.target_unmatched_birth), ("utd", bars.target_unmatched_death),
            ):
                ends[key].add(sample, coordinates, matching)
    label = label.to(probability.dtype)
    v = {key: gatherer.values(label if key.startswith(("t", "ut")) else probability) for key, gatherer in ends.items()}
    losses = probability.new_zeros(len(matchings))
    for owner, values in (
        ("pb", matched_weight * 2 * ((v["pb"] - v["tb"]) ** 2 + (v["pd"] - v["td"]) ** 2)),
        ("upb", unmatched_weight * (v["upd"] - v["upb"]) ** 2),
        ("utb", unmatched_weight * (v["utd"] - v["utb"]) ** 2),
    ):
        losses = losses.index_add(0, ends[owner].owners(probability.device), values)
    return losses


class BettiMatchingLoss(torch.nn.Module):
    """Betti matching loss (Stucki et al. 2023) of a probability map against a binary target.

    A plain module in MONAI's manner, ``loss(input, target)``; :class:`BettiMatchingTerm` puts it
    in the loss registry.

    Parameters
    ----------
    filtration
        ``"superlevel"`` (foreground enters first, the loss of Stucki et al.), ``"sublevel"``
        (background first), or ``"both"`` (the mean of the two).
    connectivity
        ``"full"`` (foreground 8-/26-connected, as the metrics count) or ``"face"`` (4-/6-connected).
    normalisation
        ``"per_voxel"``: the sum over bars divided by the voxels of the patch, so that the weight
        does not depend on the patch size; ``"none"``: the sum (Stucki et al.).
    relative
        Homology relative to the patch border (the border treated as foreground).
    matched_weight, unmatched_weight
        Weights of the matched pairs' term and of the unmatched bars' term (of both inputs).
    threads
        Threads of the matching thread pool; None: the CPUs available to the process.
    """

    def __init__(
        self,
        *,
        filtration: str = "superlevel",
        connectivity: str = DEFAULT_CONNECTIVITY,
        normalisation: str = "per_voxel",
        relative: bool = False,
        matched_weight: float = 1.0,
        unmatched_weight: float = 1.0,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.filtrations = ("superlevel", "sublevel") if filtration == "both" else (filtration,)
        self.connectivity = connectivity
        self.normalisation = normalisation
        self.relative = relative
        self.matched_weight = matched_weight
        self.unmatched_weight = unmatched_weight
        self.threads = threads

    def matchings(self, probability: torch.Tensor, label: torch.Tensor, filtration: str) -> list[BettiMatching]:
        """Betti matchings of every sample of ``(B, *spatial)`` tensors, computed on the CPU."""
        return betti_matching_batch(
            list(probability.detach().cpu().numpy()), list(label.detach().cpu().numpy()),
            threads=self.threads, filtration=filtration, connectivity=self.connectivity, relative=self.relative,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss over the samples (and filtrations) of ``(B, 1, *spatial)`` probabilities and targets."""
        probability, label = input[:, 0], target[:, 0]
        losses = [
            matching_losses(
                probability, label, self.matchings(probability, label, filtration),
                matched_weight=self.matched_weight, unmatched_weight=self.unmatched_weight,
            )
            for filtration in self.filtrations
        ]
        mean = torch.cat(losses).mean()
        return mean / probability[0].numel() if self.normalisation == "per_voxel" else mean


@register_term
class BettiMatchingTerm(LossTerm):
    """The loss-registry term ``betti_matching``: :class:`BettiMatchingLoss` of the foreground probability.

    Parameters
    ----------
    context
        Run facts (output mode; the run's ``connectivity``).
    filtration, normalisation, relative, matched_weight, unmatched_weight
        As :class:`BettiMatchingLoss` (defaults ``superlevel``, ``per_voxel``, false, 1, 1).
    connectivity
        ``"full"`` or ``"face"``; None (default): the run's ``connectivity``, the one the metrics count.
    threads
        Threads of the matching thread pool; null: the CPUs available to the process.
    """

    name = "betti_matching"

    def __init__(
        self,
        context: TermContext,
        *,
        filtration: str = "superlevel",
        connectivity: str | None = None,
        normalisation: str = "per_voxel",
        relative: bool = False,
        matched_weight: float = 1.0,
        unmatched_weight: float = 1.0,
        threads: Any = None,
    ) -> None:
        super().__init__(context)
        self.loss = BettiMatchingLoss(
            filtration=choice("filtration", filtration, FILTRATIONS),
            connectivity=connectivity_option(connectivity, context.connectivity),
            normalisation=choice("normalisation", normalisation, NORMALISATIONS),
            relative=flag("relative", relative),
            matched_weight=number("matched_weight", matched_weight),
            unmatched_weight=number("unmatched_weight", unmatched_weight),
            threads=optional_integer("threads", threads, minimum=1),
        )

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`BettiMatchingLoss` of the foreground probability against the label."""
        return self.loss(foreground_probability(logits, self.context.output), batch["label"])
