"""cbDice (Shi et al. 2024, "Centerline boundary Dice loss for vascular segmentation").

clDice compares skeletons with masks; cbDice weighs both by the structure's radius, so that thin
and thick branches count alike and a prediction whose boundary lies off the label's is penalised.
For a binary mask ``M`` with skeleton ``S`` and Euclidean distance map ``D`` (distance of each
foreground voxel to the background), per sample:

- ``R = max(1, max D on S)``, the largest skeleton radius;
- ``Dn = min(D, R) / R`` on ``M`` (normalised distance map), ``Rn = D / R`` on ``S`` (normalised radius);
- ``I = (1 + e) / (Rn + e)`` on ``S`` in 2D, ``(1 + e) / (Rn^2 + e)`` in 3D (inverse radius weight), ``e = 1e-7``.

With ``L`` the label's maps and ``P`` those of the thresholded prediction ``p > 0.5`` (mask,
skeleton, distances computed without gradient), and ``p`` the probability::

    tprec = (sum I_P S_P p * Dn_L + s) / (sum I_P S_P p * (Rn_L if Rn_L > 0 else Rn_P p) + s)
    tsens = (sum I_L * Dn_P p   + s) / (sum I_L * (Rn_P p if Rn_P > 0 else Rn_L) + s)
    cbDice = 2 tprec tsens / (tprec + tsens),    loss = 1 - cbDice

(the official code's ``get_weights`` and ``combine_tensors``), per sample, mean over the batch. A
perfect prediction gives 0 (on the skeleton ``Dn = Rn``), and so do an empty label and prediction.

Skeletons: scikit-image's ``skeletonize`` (the label's in the data loader, the prediction's in the
loss), with segpipe's 3D workaround (:func:`segpipe.training.losses.skeleton_recall.skeleton`); the
official code (and TopoMortar) uses the differentiable topology-preserving skeletonisation of
Menten et al. on binary masks, which gives a skeleton of the same kind. The official code also
sums over the whole batch where segpipe takes one value per sample.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage

from segpipe.networks.factory import foreground_probability
from segpipe.training.losses.options import number
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term
from segpipe.training.losses.skeleton_recall import skeleton

#: Batch key of the label's maps, ``(B, 3, *patch)``: normalised distance, radius, inverse radius weight.
MAPS_KEY = "cbdice_label_maps"
_EPSILON = 1e-7


def radius_maps(mask: np.ndarray) -> np.ndarray:
    """The normalised distance map, radius on the skeleton and inverse radius weight of a binary mask.

    Parameters
    ----------
    mask
        Binary 2D or 3D mask.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(3, *mask.shape)``: ``Dn`` (on the mask), ``Rn`` and ``I`` (on the skeleton).
    """
    mask = np.asarray(mask) > 0
    maps = np.zeros((3, *mask.shape), np.float32)
    if not mask.any():
        return maps
    distance = ndimage.distance_transform_edt(mask)
    centre = skeleton(mask) & mask
    largest = max(1.0, float(distance[centre].max(initial=0.0)))
    maps[0] = np.minimum(distance, largest) / largest
    maps[1] = np.where(centre, distance / largest, 0.0)
    power = 1 if mask.ndim == 2 else 2
    maps[2] = np.where(centre, (1 + _EPSILON) / (maps[1].astype(np.float64) ** power + _EPSILON), 0.0)
    return maps


class CbDiceLoss(torch.nn.Module):
    """``1 - cbDice`` (Shi et al. 2024) of a probability map against the label's radius maps.

    A plain module in MONAI's manner, ``loss(input, target)`` with ``target`` the label's
    :func:`radius_maps` ``(B, 3, *spatial)``; :class:`CbDiceTerm` puts it in the loss registry.

    Parameters
    ----------
    smooth
        Added to numerators and denominators of topology precision and sensitivity.
    """

    def __init__(self, *, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = smooth

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over the samples of ``1 - cbDice`` of ``(B, 1, *spatial)`` probabilities."""
        p = input[:, 0]
        predicted = np.stack([radius_maps(mask) for mask in (p.detach() > 0.5).cpu().numpy()])
        predicted = torch.from_numpy(predicted).to(p.device, p.dtype)
        label = target.to(p.dtype)
        distance_l, radius_l, weight_l = label[:, 0], label[:, 1], label[:, 2]
        distance_p, radius_p, weight_p = predicted[:, 0] * p, predicted[:, 1] * p, predicted[:, 2] * p
        axes = tuple(range(1, p.ndim))
        s = self.smooth
        precision = ((weight_p * distance_l).sum(axes) + s) / \
            ((weight_p * torch.where(radius_l > 0, radius_l, radius_p)).sum(axes) + s)
        sensitivity = ((weight_l * distance_p).sum(axes) + s) / \
            ((weight_l * torch.where(radius_p > 0, radius_p, radius_l)).sum(axes) + s)
        return (1 - 2 * precision * sensitivity / (precision + sensitivity)).mean()


@register_term
class CbDiceTerm(LossTerm):
    """The loss-registry term ``cbdice``: :class:`CbDiceLoss` of the foreground probability.

    Parameters
    ----------
    context
        Run facts (output mode).
    smooth
        Added to numerators and denominators of topology precision and sensitivity (1, the
        official code's).
    """

    name = "cbdice"
    requires = (MAPS_KEY,)

    def __init__(self, context: TermContext, *, smooth: float = 1.0) -> None:
        super().__init__(context)
        self.loss = CbDiceLoss(smooth=number("smooth", smooth, strict=True))

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The label's radius maps, ``(3, *patch)``."""
        return {MAPS_KEY: radius_maps(sample["label"][0])}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`CbDiceLoss` of the foreground probability against the label's maps."""
        return self.loss(foreground_probability(logits, self.context.output), batch[MAPS_KEY])
