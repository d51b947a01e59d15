"""Region losses from MONAI: Dice + cross-entropy (``dice_ce``), Dice (``dice``), cross-entropy (``ce``).

With a sigmoid output the single channel is the foreground; with a softmax output the label is
one-hot encoded and, unless ``include_background`` is set, Dice is computed on the foreground
channel only (as nnU-Net does), so both output modes optimise the same foreground Dice.

In a multi-class run (one channel per class and the background) the label is one-hot encoded
over the classes: Dice is the mean over the foreground classes, cross-entropy is over all channels
(the terms' ``class_handling`` is ``"native"``).

Dice of a patch without foreground is ``1 - smooth / (sum(p) + smooth)``: with MONAI's default
``smooth`` of 1e-5 it reaches 0 only as the predicted probabilities vanish (a prediction of
0.007 per pixel on a 64 x 64 patch still scores 0.9997), so such patches push the prediction
towards 0 with an almost constant value. ``batch: true`` or a larger ``smooth`` (e.g. 1) make
empty patches score near 0 for confident predictions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from monai.losses import DiceCELoss, DiceLoss

from segpipe.training.losses.options import flag, number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term


def _activation(context: TermContext, include_background: bool) -> dict[str, bool]:
    """MONAI keyword arguments for the run's output mode."""
    if context.output == "sigmoid":
        return {"sigmoid": True, "include_background": True}
    return {"softmax": True, "to_onehot_y": True, "include_background": include_background}


class _MonaiDiceTerm(LossTerm):
    """A MONAI Dice-type loss applied to the logits and the label.

    Parameters
    ----------
    context
        Run facts (output mode).
    batch
        Compute Dice over the whole batch instead of per sample (nnU-Net's "batch Dice").
    include_background
        Softmax output only: include the background channel in Dice.
    smooth
        Added to numerator and denominator of Dice (MONAI's ``smooth_nr`` and ``smooth_dr``).
    """

    monai_loss: ClassVar[type[torch.nn.Module]]
    class_handling = "native"

    def __init__(
        self, context: TermContext, *, batch: bool = False, include_background: bool = False, smooth: float = 1e-5
    ) -> None:
        super().__init__(context)
        smooth = number("smooth", smooth, strict=True)
        self.loss = self.monai_loss(
            batch=flag("batch", batch), smooth_nr=smooth, smooth_dr=smooth,
            **_activation(context, flag("include_background", include_background)),
        )

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """The MONAI loss of ``logits`` against ``batch["label"]``."""
        return self.loss(logits, batch["label"])


@register_term
class DiceCETerm(_MonaiDiceTerm):
    """MONAI ``DiceCELoss``: soft Dice plus (binary) cross-entropy, equally weighted."""

    name = "dice_ce"
    monai_loss = DiceCELoss


@register_term
class DiceTerm(_MonaiDiceTerm):
    """MONAI ``DiceLoss`` (soft Dice)."""

    name = "dice"
    monai_loss = DiceLoss


@register_term
class CETerm(LossTerm):
    """Cross-entropy as MONAI's ``DiceCELoss`` computes it (binary for a sigmoid output).

    Parameters
    ----------
    context
        Run facts (output mode).
    """

    name = "ce"
    class_handling = "native"

    def __init__(self, context: TermContext) -> None:
        super().__init__(context)
        self.loss = DiceCELoss(lambda_dice=0.0, **_activation(context, False))

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Cross-entropy of ``logits`` against ``batch["label"]``."""
        if self.context.output == "sigmoid":
            return self.loss.bce(logits, batch["label"])
        return self.loss.ce(logits, batch["label"])
