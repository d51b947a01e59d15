"""Region losses from MONAI: Dice + cross-entropy (``dicece``), Dice (``dice``), cross-entropy (``ce``).

With a sigmoid output the single channel is the foreground; with a softmax output the label is
one-hot encoded and, unless ``include_background`` is set, Dice is computed on the foreground
channel only (as nnU-Net does), so both output modes optimise the same foreground Dice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from monai.losses import DiceCELoss, DiceLoss

from segpipe.losses.registry import LossTerm, Progress, TermContext, register_term


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
    """

    monai_loss: ClassVar[type[torch.nn.Module]]

    def __init__(self, context: TermContext, *, batch: bool = False, include_background: bool = False) -> None:
        super().__init__(context)
        self.loss = self.monai_loss(batch=batch, **_activation(context, include_background))

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """The MONAI loss of ``logits`` against ``batch["label"]``."""
        return self.loss(logits, batch["label"])


@register_term
class DiceCETerm(_MonaiDiceTerm):
    """MONAI ``DiceCELoss``: soft Dice plus (binary) cross-entropy, equally weighted."""

    name = "dicece"
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

    def __init__(self, context: TermContext) -> None:
        super().__init__(context)
        self.loss = DiceCELoss(lambda_dice=0.0, **_activation(context, False))

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Cross-entropy of ``logits`` against ``batch["label"]``."""
        if self.context.output == "sigmoid":
            return self.loss.bce(logits, batch["label"])
        return self.loss.ce(logits, batch["label"])
