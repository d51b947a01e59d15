"""Skeleton Recall (Kirchhoff et al. 2024): soft recall of the prediction on a tubed skeleton of the label.

The skeleton is computed on the CPU in the data loader, from each augmented training sample
(:meth:`SkeletonRecallTerm.sample_extras`): scikit-image's ``skeletonize`` (2D, and Lee's method in
3D, with a workaround for its vanishing even-thickness structures: :func:`skeleton`), dilated ``tube_radius`` times with the cross-shaped footprint (nnU-Net's Skeleton Recall
dilates twice) and restricted to the label. The loss is the negative soft recall

    ``-(sum(p * tube) + smooth) / (sum(tube) + smooth)``

per sample (or over the batch with ``batch: true``), averaged over the batch: ``-1`` for a perfect
prediction, and exactly ``-1`` without gradient for a patch without foreground. Far cheaper
than clDice: no soft skeleton of the prediction is needed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage
from skimage.morphology import skeletonize

from segpipe.networks.factory import foreground_probability
from segpipe.training.losses.options import flag, integer, number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Batch key of the tubed skeleton, ``(B, 1, *patch)``.
TUBE_KEY = "skeleton_tube"


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Skeleton of a binary 2D or 3D mask with scikit-image's ``skeletonize``.

    In 3D, ``skeletonize`` (Lee's thinning) deletes every part of a structure whose cross-section
    is an even number of voxels thick along two axes (scikit-image issue #3757, open in 0.26): a
    straight 4 x 4 voxel vessel has no skeleton at all. The skeletons of the mask thinned by one
    voxel along each axis in turn (which makes those thicknesses odd) are therefore added to the
    skeleton of the mask itself; elsewhere they lie within a voxel of it.
    """
    result = skeletonize(mask)
    if mask.ndim == 3:
        for axis in range(3):
            thinned = mask.copy()
            later, earlier = ([slice(None)] * 3 for _ in range(2))
            later[axis], earlier[axis] = slice(1, None), slice(None, -1)
            thinned[tuple(later)] &= mask[tuple(earlier)]
            result |= skeletonize(thinned)
    return result


def skeleton_tube(label: np.ndarray, radius: int) -> np.ndarray:
    """Skeleton of a binary mask dilated into a tube of ``radius`` voxels, inside the mask.

    Parameters
    ----------
    label
        Binary mask, 2D or 3D.
    radius
        Number of dilations with the cross-shaped (face-connected) footprint; 0 keeps the skeleton.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the shape of ``label`` with values in {0, 1}.
    """
    mask = np.asarray(label) > 0
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32)
    tube = skeleton(mask)
    if radius:
        tube = ndimage.binary_dilation(tube, ndimage.generate_binary_structure(mask.ndim, 1), iterations=radius)
    return (tube & mask).astype(np.float32)


class SkeletonRecallLoss(torch.nn.Module):
    """Skeleton Recall (Kirchhoff et al. 2024): negative soft recall of a probability map on a tubed skeleton.

    A plain module in MONAI's manner, ``loss(input, target)`` with ``target`` the tubed skeleton of
    the label (:func:`skeleton_tube`); :class:`SkeletonRecallTerm` puts it in the loss registry.

    Parameters
    ----------
    batch
        Compute one recall over the whole batch instead of one per sample.
    smooth
        Added to numerator and denominator of the recall.
    """

    def __init__(self, *, batch: bool = False, smooth: float = 1.0) -> None:
        super().__init__()
        self.batch = batch
        self.smooth = smooth

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative soft recall of ``(B, 1, *spatial)`` probabilities on the tube, averaged over the batch."""
        tube = target.to(input.dtype)
        axes = tuple(range(0 if self.batch else 1, input.ndim))
        recall = ((input * tube).sum(axes) + self.smooth) / (tube.sum(axes) + self.smooth)
        return -recall.mean()


@register_term
class SkeletonRecallTerm(LossTerm):
    """The loss-registry term ``skeleton_recall``: :class:`SkeletonRecallLoss` on the tubed skeleton of the label.

    Parameters
    ----------
    context
        Run facts (output mode).
    tube_radius
        Dilations of the skeleton (cross-shaped footprint) that make the tube; 0 uses the bare
        skeleton.
    batch
        Compute one recall over the whole batch instead of one per sample.
    smooth
        Added to numerator and denominator of the recall.
    """

    name = "skeleton_recall"
    requires = (TUBE_KEY,)

    def __init__(self, context: TermContext, *, tube_radius: int = 2, batch: bool = False, smooth: float = 1.0) -> None:
        super().__init__(context)
        self.tube_radius = integer("tube_radius", tube_radius)
        self.loss = SkeletonRecallLoss(batch=flag("batch", batch), smooth=number("smooth", smooth, strict=True))

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The tubed skeleton of the sample's label, ``(1, *patch)``."""
        return {TUBE_KEY: skeleton_tube(sample["label"][0], self.tube_radius)[np.newaxis]}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`SkeletonRecallLoss` of the foreground probability on the tube."""
        return self.loss(foreground_probability(logits, self.context.output), batch[TUBE_KEY])
