"""Helpers of the loss tests: build a loss, feed it batches with its extras, make labels and logits."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skimage.draw import line_nd
from skimage.morphology import ball, dilation, disk

from segpipe.datasets.cases import PreprocessedCase
from segpipe.io.images import Geometry
from segpipe.preprocessing.preprocess import distance_map_key, signed_distance_map
from segpipe.training.losses import CompositeLoss, Progress, TermContext, build_loss

#: A fingerprint as `segpipe preprocess` writes it (the part the terms read).
FINGERPRINT = {"labels": {"accurate": {"largest_radius_voxels": 3.0}}}
#: Every built-in term with the options used by the generic tests.
TERMS: dict[str, dict[str, Any]] = {
    "dice_ce": {}, "dice": {}, "ce": {}, "cldice": {}, "skeleton_recall": {}, "betti_matching": {}, "mip": {}, "boundary": {},
    "topo_loss": {"tile_size": 8}, "warping": {}, "cbdice": {}, "region_wise": {},
    "topo": {"window": 8},
}
SHAPES = {2: (24, 20), 3: (10, 12, 14)}
PROGRESS = Progress(1, 10)


def make_loss(name: str, output: str = "sigmoid", dimensions: int = 2, **options: Any) -> CompositeLoss:
    """A one-term loss ``name`` with ``options`` (weight 1)."""
    context = TermContext(output, dimensions, "accurate", FINGERPRINT)
    return build_loss("test", {"test": {"terms": [{"name": name, **options}]}}, context)


def case_of(label: np.ndarray) -> PreprocessedCase:
    """A preprocessed case holding ``label`` as its accurate label, with its signed distance map."""
    extras = {distance_map_key("accurate"): signed_distance_map(label)}
    return PreprocessedCase(np.zeros((1, *label.shape), np.float32), {"accurate": label}, Geometry.identity(label.ndim), extras)


def batch_for(loss: CompositeLoss, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """The batch a data loader gives ``loss`` for whole-image samples ``labels`` ``(B, 1, *spatial)``.

    Runs the loss's case hooks on each label (as the whole case) and its sample hooks on each
    sample, without augmentation.
    """
    samples = []
    for label in labels.numpy():
        mask = label[0].astype(np.uint8)
        sample: dict[str, np.ndarray] = {"label": label}
        for key, extra in loss.case_extras(case_of(mask), mask).items():
            sample[key] = extra if extra.ndim == mask.ndim + 1 else extra[np.newaxis]
        sample.update(loss.sample_extras(sample))
        samples.append(sample)
    batch = {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in samples[0]}
    batch["label"] = labels.float()
    return batch


def value(loss: CompositeLoss, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The loss's total for ``logits`` against ``labels``, with its extras."""
    return loss(logits, batch_for(loss, labels), PROGRESS).total


def tubes(rng: np.random.Generator, batch: int, shape: tuple[int, ...], radius: int = 1) -> torch.Tensor:
    """``(B, 1, *shape)`` labels of two random thick lines each (vessel- or mortar-like)."""
    labels = np.zeros((batch, 1, *shape), np.float32)
    footprint = disk(radius) if len(shape) == 2 else ball(radius)
    for b in range(batch):
        mask = np.zeros(shape, bool)
        for _ in range(2):
            start, end = (rng.uniform(0, np.array(shape) - 1) for _ in range(2))
            mask[line_nd(start, end, endpoint=True)] = True
        labels[b, 0] = dilation(mask, footprint)
    return torch.from_numpy(labels)


def logits_for(probability: torch.Tensor, output: str) -> torch.Tensor:
    """Logits whose foreground probability is ``probability`` ``(B, 1, ...)`` in either output mode."""
    foreground = torch.logit(probability.double()).float()
    return foreground if output == "sigmoid" else torch.cat([torch.zeros_like(foreground), foreground], 1)


def confident(labels: torch.Tensor, output: str, scale: float = 40.0) -> torch.Tensor:
    """Logits of a (practically) perfect prediction of ``labels``."""
    foreground = scale * (2 * labels - 1)
    return foreground if output == "sigmoid" else torch.cat([torch.zeros_like(foreground), foreground], 1)
