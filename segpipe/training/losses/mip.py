"""MIP loss (SPOCKMIP, Radhakrishna et al. 2024): similarity of maximum-intensity projections.

The foreground probability and the label are projected (maximum along one axis) along the same
axes, and the projections compared with Focal Tversky (default: ``alpha`` 0.7 on false
negatives, 0.3 on false positives, exponent ``gamma`` 0.75, as SPOCKMIP) or Dice, both from
MONAI. SPOCKMIP's public code projects prediction and label along different axes; here each
comparison uses one axis for both.

SPOCKMIP takes the label projection from the whole volume, not from the patch: a vessel that leaves
the patch still shows in the projection over the patch's footprint. :meth:`MipTerm.case_extras`
therefore projects the whole label once per case and broadcasts the projection back along its axis,
so that cropping the broadcast array with the patch gives the patch's window of the whole-volume
projection. A second channel holds the coordinate along the axis: a 90-degree rotation in the data
augmentation turns the broadcast axis into the other in-plane axis, and
:meth:`MipTerm.sample_extras` finds the axis the array is constant along after augmentation from
it and records it (``mip_axis__<a>``), so the prediction of that sample is projected along the same
axis as its label.

SPOCKMIP's total loss ``0.7 x volume loss + 0.3 x MIP loss`` is two weighted terms, e.g.
``[{name: dice_ce, weight: 0.7}, {name: mip, weight: 0.3}]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from monai.losses import DiceLoss, TverskyLoss

from segpipe.datasets.cases import PreprocessedCase
from segpipe.networks.factory import foreground_probability
from segpipe.training.losses.options import OptionError, choice, number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Values of the ``similarity`` option.
SIMILARITIES = ("focal_tversky", "dice")
#: Smallest base of the focal exponent (``(1 - TI) ** gamma`` has an infinite slope at 0).
_FOCAL_FLOOR = 1e-6


def volume_key(axis: int) -> str:
    """Case-extra key of the broadcast whole-volume projection along ``axis``."""
    return f"mip_volume__{axis}"


def target_key(axis: int) -> str:
    """Batch key of the label projection ``(B, 1, *patch without the axis)``."""
    return f"mip_target__{axis}"


def axis_key(axis: int) -> str:
    """Batch key of the axis ``(B, 1)`` each sample's projection was taken along after augmentation."""
    return f"mip_axis__{axis}"


def broadcast_projection(label: np.ndarray, axis: int) -> np.ndarray:
    """The label's maximum-intensity projection along ``axis`` broadcast back along it, plus a probe.

    Returns
    -------
    numpy.ndarray
        ``int16`` ``(2, *label.shape)``: channel 0 the projection (constant along ``axis``),
        channel 1 the coordinate along ``axis`` plus one (it varies along ``axis`` only, so it
        shows where that axis went after flips and rotations; padding adds zeros).
    """
    projection = np.max(label, axis=axis, keepdims=True)
    shape = [1] * label.ndim
    shape[axis] = label.shape[axis]
    coordinate = np.arange(1, label.shape[axis] + 1).reshape(shape)
    return np.stack(np.broadcast_arrays(projection, coordinate)).astype(np.int16)


def projection_axis(probe: np.ndarray, axis: int) -> int:
    """The axis along which a (cropped, padded, flipped, rotated) coordinate probe varies.

    Zeros (padding) are ignored; ``axis`` is returned when the probe varies along no axis (a
    patch one voxel thick along it).
    """
    for candidate in range(probe.ndim):
        before = np.take(probe, np.arange(probe.shape[candidate] - 1), axis=candidate)
        after = np.take(probe, np.arange(1, probe.shape[candidate]), axis=candidate)
        if np.any((before != after) & (before > 0) & (after > 0)):
            return candidate
    return axis


def _axes(value: Any, dimensions: int) -> tuple[int, ...]:
    """The ``axes`` option as a tuple of spatial axes."""
    if value == "all":
        return tuple(range(dimensions))
    values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(values, list | tuple) or not values
        or not all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a < dimensions for a in values)
        or len(set(values)) != len(values)
    ):
        raise OptionError(
            "axes", f"is {value!r}",
            fix=f"give 'all', a spatial axis, or a list of distinct axes in 0..{dimensions - 1} (array order)",
        )
    return tuple(values)


@register_term
class MipTerm(LossTerm):
    """Focal Tversky (or Dice) loss between maximum-intensity projections of prediction and label.

    Parameters
    ----------
    context
        Run facts (output mode, dimensions).
    axes
        ``"all"`` (every spatial axis; the mean over them), one axis, or a list of axes, in array
        order (``(z, y, x)`` in 3D).
    similarity
        ``"focal_tversky"`` (SPOCKMIP) or ``"dice"``.
    alpha
        Focal Tversky: weight of false negatives; false positives get ``1 - alpha``.
    gamma
        Focal Tversky: exponent of ``1 - Tversky index``.
    smooth
        Added to numerator and denominator of the Tversky index or Dice.
    """

    name = "mip"

    def __init__(
        self,
        context: TermContext,
        *,
        axes: Any = "all",
        similarity: str = "focal_tversky",
        alpha: float = 0.7,
        gamma: float = 0.75,
        smooth: float = 1.0,
    ) -> None:
        super().__init__(context)
        self.axes = _axes(axes, context.dimensions)
        self.similarity = choice("similarity", similarity, SIMILARITIES)
        alpha = number("alpha", alpha, maximum=1.0)
        self.gamma = number("gamma", gamma, strict=True)
        smooth = number("smooth", smooth, strict=True)
        if self.similarity == "dice":
            self.loss = DiceLoss(reduction="none", smooth_nr=smooth, smooth_dr=smooth)
        else:
            self.loss = TverskyLoss(alpha=1.0 - alpha, beta=alpha, reduction="none", smooth_nr=smooth, smooth_dr=smooth)
        self.requires = tuple(key for a in self.axes for key in (target_key(a), axis_key(a)))

    def case_extras(self, case: PreprocessedCase, label: np.ndarray) -> dict[str, np.ndarray]:
        """Whole-volume label projections broadcast along their axes, with coordinate probes."""
        return {volume_key(a): broadcast_projection(np.asarray(label), a) for a in self.axes}

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each projection's patch window and the axis it lies along after augmentation."""
        extras = {}
        for a in self.axes:
            projection, probe = sample[volume_key(a)]
            along = projection_axis(probe, a)
            # constant along the axis except for zero padding
            extras[target_key(a)] = projection.max(axis=along)[np.newaxis].astype(np.float32)
            extras[axis_key(a)] = np.array([along], dtype=np.int64)
        return extras

    def _similarity(self, projection: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample loss ``(n,)`` between projections ``(n, 1, ...)``."""
        value = self.loss(projection, target).reshape(len(projection))
        return value if self.similarity == "dice" else value.clamp_min(_FOCAL_FLOOR) ** self.gamma

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Mean over samples and axes of the projection loss."""
        probability = foreground_probability(logits, self.context.output)
        per_axis = []
        for a in self.axes:
            target, along = batch[target_key(a)].to(probability.dtype), batch[axis_key(a)][:, 0]
            losses = probability.new_zeros(len(probability))
            for axis in torch.unique(along).tolist():
                chosen = torch.nonzero(along == axis)[:, 0]
                projection = probability[chosen].amax(dim=2 + axis)
                losses = losses.index_copy(0, chosen, self._similarity(projection, target[chosen]))
            per_axis.append(losses)
        return torch.stack(per_axis).mean()
