"""RegionWise loss (Valverde et al. 2023) as TopoMortar ran it: probabilities weighted by rectified region-wise maps.

For each class ``c`` of the two-class one-hot label (background, foreground), the rectified
region-wise map ("RRW map") is ``-D_c / max(D_c)`` on the voxels of class ``c`` (``D_c`` their
Euclidean distance to the nearest voxel of the other class, scipy's distance transform) and ``1``
elsewhere. The loss is the mean over classes and voxels of ``softmax_c * map_c``: probability of
a class inside its region lowers the loss the more the deeper it lies, probability outside it
raises it by 1. With a sigmoid output the two class probabilities are ``1 - p`` and ``p``, so both
output modes give the same value. Its minimum, for a perfect prediction, is negative.

The maps are computed per augmented sample in the data loader (:meth:`RegionWiseTerm.sample_extras`).
A class without voxels has the map ``1``; a class filling the whole patch has ``D`` measured to
nothing, and gets ``-1`` (TopoMortar's code would divide scipy's result for an array without
zeros, an unrelated number, by its maximum).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage

from segpipe.networks.factory import foreground_probability
from segpipe.training.losses.registry import LossTerm, Progress, TermContext, register_term

#: Batch key of the maps, ``(B, 2, *patch)``: background and foreground.
MAPS_KEY = "region_wise_maps"


def rectified_maps(label: np.ndarray) -> np.ndarray:
    """The rectified region-wise maps of the background and the foreground of a binary label.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(2, *label.shape)``.
    """
    foreground = np.asarray(label) > 0
    maps = np.ones((2, *foreground.shape), np.float32)
    for channel, region in enumerate((~foreground, foreground)):
        if region.all():
            maps[channel] = -1.0
        elif region.any():
            distance = ndimage.distance_transform_edt(region)
            maps[channel][region] = -distance[region] / distance.max()
    return maps


class RegionWiseLoss(torch.nn.Module):
    """RegionWise loss of a foreground probability map against the label's rectified maps.

    A plain module in MONAI's manner, ``loss(input, target)`` with ``target`` the maps
    (:func:`rectified_maps`, ``(B, 2, *spatial)``); :class:`RegionWiseTerm` puts it in the registry.
    """

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over samples, classes and voxels of the class probabilities times their maps."""
        maps = target.to(input.dtype)
        return 0.5 * ((1 - input[:, 0]) * maps[:, 0] + input[:, 0] * maps[:, 1]).mean()


@register_term
class RegionWiseTerm(LossTerm):
    """The loss-registry term ``region_wise``: :class:`RegionWiseLoss` of the foreground probability.

    Parameters
    ----------
    context
        Run facts (output mode).
    """

    name = "region_wise"
    requires = (MAPS_KEY,)

    def __init__(self, context: TermContext) -> None:
        super().__init__(context)
        self.loss = RegionWiseLoss()

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The label's rectified maps, ``(2, *patch)``."""
        return {MAPS_KEY: rectified_maps(sample["label"][0])}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """:class:`RegionWiseLoss` of the foreground probability."""
        return self.loss(foreground_probability(logits, self.context.output), batch[MAPS_KEY])
