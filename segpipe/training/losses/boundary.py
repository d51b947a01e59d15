"""Boundary loss (Kervadec et al. 2019): the foreground probability weighted by the label's signed distance map.

``mean(p * sdm)`` over the voxels of the batch, where ``sdm`` is negative inside the label,
positive outside and zero for a label without foreground
(:func:`segpipe.preprocessing.preprocess.signed_distance_map`). It is smallest when the prediction is exactly
the label: predicted foreground outside the label costs its distance from the label, missed
foreground inside gains nothing.

The maps are computed once per volume with the image spacing by ``segpipe preprocess`` when
``preprocess.distance_maps`` is true (one per label type, case extras ``sdm__<label type>``), then
cropped, flipped and rotated with the patch by the data loader (:meth:`BoundaryTerm.case_extras`).
Kervadec et al. combine it with a region loss under a schedule: the region weight falls while the
boundary weight rises (see :mod:`segpipe.training.losses.schedules`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from segpipe.datasets.cases import PreprocessedCase
from segpipe.errors import InputError
from segpipe.networks.factory import foreground_probability
from segpipe.preprocessing.preprocess import distance_map_key
from segpipe.training.losses.registry import LossTerm, Progress, register_term

#: Batch key of the signed distance map patch, ``(B, 1, *patch)``.
SDM_KEY = "boundary_sdm"


@register_term
class BoundaryTerm(LossTerm):
    """Kervadec et al.'s boundary loss on the foreground probability.

    The term has no options; it is built with the run facts only (output mode, label type).
    """

    name = "boundary"
    requires = (SDM_KEY,)
    #: preprocessing's distance maps are of the union of the classes
    class_handling = "unsupported"

    def case_extras(self, case: PreprocessedCase, label: np.ndarray) -> dict[str, np.ndarray]:
        """The case's precomputed signed distance map of the run's label type.

        Raises
        ------
        InputError
            If preprocessing did not store it.
        """
        key = distance_map_key(self.context.label_type)
        if key not in case.extras:
            raise InputError(
                f"the boundary loss needs the signed distance map of the {self.context.label_type!r} label, "
                "but the preprocessed case has none",
                fix="set 'preprocess.distance_maps: true' in the configuration and run `segpipe preprocess` again",
            )
        return {SDM_KEY: case.extras[key]}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Mean over the batch's voxels of foreground probability times signed distance."""
        probability = foreground_probability(logits, self.context.output)
        return (probability * batch[SDM_KEY].to(probability.dtype)).mean()
