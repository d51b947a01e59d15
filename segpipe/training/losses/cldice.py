"""clDice (Shit et al. 2021): Dice between the soft skeletons and the masks, with MONAI's ``SoftclDiceLoss``.

The soft skeleton is computed by iterated min/max pooling (soft erosion and opening). A structure
contributes to the skeleton only once the iterations have eroded it down to its centre line, so the
number of iterations must be at least the largest structure radius in voxels: ``iterations: auto``
takes it from the dataset fingerprint (``labels.<label type>.largest_radius_voxels``, written by
``segpipe preprocess``), rounded up.

MONAI before 1.6 had the arguments of ``SoftclDiceLoss.forward`` reversed and returned a constant
zero for one-channel outputs; segpipe requires ``monai>=1.6`` (``pyproject.toml``), and the term
feeds MONAI the foreground probability of either output mode as one channel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from monai.losses import SoftclDiceLoss

from segpipe.networks.factory import foreground_probability
from segpipe.training.losses.options import OptionError, integer, number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term


def auto_iterations(context: TermContext) -> int:
    """Soft-skeleton iterations for the run's label type: the largest structure radius, rounded up.

    Raises
    ------
    OptionError
        If the fingerprint does not hold the radius (no ``segpipe preprocess`` fingerprint).
    """
    try:
        radius = float(context.fingerprint["labels"][context.label_type]["largest_radius_voxels"])
    except (KeyError, TypeError, ValueError) as error:
        raise OptionError(
            "iterations",
            f"is 'auto', but the dataset fingerprint has no labels.{context.label_type}.largest_radius_voxels",
            fix="run `segpipe preprocess` (it writes fingerprint.json beside the manifest), or give a number",
        ) from error
    return max(1, math.ceil(radius))


@register_term
class ClDiceTerm(LossTerm):
    """Soft clDice of the foreground probability against the label.

    Parameters
    ----------
    context
        Run facts (output mode; label type and fingerprint for ``iterations: auto``).
    iterations
        Soft-skeleton iterations (min/max pooling steps), or ``"auto"``: the largest structure
        radius in voxels from the fingerprint, rounded up.
    smooth
        Added to numerator and denominator of topology precision and sensitivity (MONAI's
        ``smooth_nr`` and ``smooth_dr``); keeps empty patches at a loss of about 0.
    """

    name = "cldice"

    def __init__(self, context: TermContext, *, iterations: Any = "auto", smooth: float = 1.0) -> None:
        super().__init__(context)
        if iterations == "auto":
            self.iterations = auto_iterations(context)
        elif isinstance(iterations, str):
            raise OptionError("iterations", f"is {iterations!r}", fix="give 'auto' or an integer >= 0")
        else:
            self.iterations = integer("iterations", iterations)
        smooth = number("smooth", smooth, strict=True)
        self.loss = SoftclDiceLoss(iter_=self.iterations, smooth_nr=smooth, smooth_dr=smooth)

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Mean over the batch of ``1 - clDice``."""
        return self.loss(foreground_probability(logits, self.context.output), batch["label"])
