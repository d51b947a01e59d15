"""Deterministic training batches: random patches (or whole images) with simple augmentation.

Batch ``t`` of a run depends only on the run's seed and ``t``: every sample draws its case, crop and
augmentation from a generator seeded with ``(seed, t, slot)``. A resumed run therefore sees exactly
the batches an uninterrupted run would have seen, whatever happened before, and any number of
data-loader workers produce the same batches.

Sampling follows nnU-Net: cases are drawn uniformly; the last ``round(batch_size *
foreground_oversampling)`` samples of each batch are centred on a foreground voxel, the others are
uniform random crops. Augmentation uses MONAI dictionary transforms on image, label and every
case extra alike (flips along each axis, 90-degree rotations in the last two axes when the patch
is square there, optional intensity scaling and shifting of the image, and TopoMortar's random hue
for ``random_hue`` runs).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

SampleHook = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class SamplingSettings:
    """How training samples are drawn.

    Attributes
    ----------
    batch_size
        Samples per batch.
    patch_size
        Spatial patch size, or ``None`` to train on whole images (padded to a common shape).
    divisor
        Whole-image batches are padded to multiples of this (the network's down-sampling factor).
    foreground_oversampling
        Share of each batch centred on a foreground voxel (nnU-Net uses 0.33).
    flips
        Random flips along every spatial axis.
    rot90
        Random 90-degree rotations in the plane of the last two axes (only when square there).
    intensity
        Random scaling and shifting of image intensities.
    random_hue
        Probability of TopoMortar's random hue change of an RGB sample
        (:class:`segpipe.training.augmentation.RandomHued`); 0 leaves colours alone.
    """

    batch_size: int
    patch_size: tuple[int, ...] | None
    divisor: int = 1
    foreground_oversampling: float = 0.33
    flips: bool = True
    rot90: bool = True
    intensity: bool = False
    random_hue: float = 0.0

    @classmethod
    def from_config(cls, train: Mapping, divisor: int) -> SamplingSettings:
        """Settings from the ``train`` section of the configuration."""
        patch = train.get("patch_size")
        augmentation = train.get("augmentation", {})
        return cls(
            batch_size=int(train["batch_size"]),
            patch_size=None if patch is None else tuple(int(p) for p in patch),
            divisor=divisor,
            foreground_oversampling=float(train.get("foreground_oversampling", 0.33)),
            flips=bool(augmentation.get("flips", True)),
            rot90=bool(augmentation.get("rot90", True)),
            intensity=bool(augmentation.get("intensity", False)),
        )

    @property
    def forced_foreground(self) -> int:
        """Number of foreground-centred samples per batch."""
        return round(self.batch_size * self.foreground_oversampling) if self.patch_size else 0


@dataclass
class TrainingCase:
    """One training case held in memory, padded to at least the sample size.

    Attributes
    ----------
    case_id
        Case identifier.
    arrays
        ``image`` ``(C, *spatial)`` float32, ``label`` ``(1, *spatial)`` uint8 and case extras
        ``(C, *spatial)``.
    foreground
        Flat indices of foreground voxels (for foreground-centred crops).
    background
        Flat indices of background voxels.
    """

    case_id: str
    arrays: dict[str, np.ndarray]
    foreground: np.ndarray
    background: np.ndarray


def _pad_to(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Pad the spatial axes of a channel-first array with zeros (centred) up to ``shape``."""
    spatial = array.shape[1:]
    widths = [(0, 0)] + [((t - s) // 2, (t - s) - (t - s) // 2) if t > s else (0, 0) for s, t in zip(spatial, shape)]
    return np.pad(array, widths) if any(w != (0, 0) for w in widths) else array


def sample_shape(settings: SamplingSettings, shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The spatial shape of every training sample.

    The patch size, or for whole-image training the largest case shape rounded up to the divisor.
    """
    if settings.patch_size is not None:
        return settings.patch_size
    largest = np.max(np.asarray(shapes), axis=0)
    return tuple(int(math.ceil(s / settings.divisor) * settings.divisor) for s in largest)


def make_training_case(
    case_id: str, image: np.ndarray, label: np.ndarray, extras: Mapping[str, np.ndarray], shape: Sequence[int]
) -> TrainingCase:
    """Hold one case for sampling: add channel axes, pad to at least ``shape``, index the foreground.

    Parameters
    ----------
    case_id
        Identifier used in error messages.
    image
        ``(C, *spatial)`` normalised image.
    label
        ``(*spatial)`` binary label.
    extras
        Case extras of shape ``(*spatial)`` or ``(C, *spatial)``.
    shape
        Minimum spatial shape (the sample shape).

    Raises
    ------
    ValueError
        If an extra does not lie on the case's grid (a bug in the loss term that made it).
    """
    from monai.transforms.utils import map_binary_to_indices

    spatial = image.shape[1:]
    arrays = {"image": np.asarray(image, dtype=np.float32), "label": np.asarray(label, dtype=np.uint8)[np.newaxis]}
    for key, extra in extras.items():
        extra = np.asarray(extra)
        extra = extra[np.newaxis] if extra.ndim == len(spatial) else extra
        if extra.shape[1:] != spatial:
            raise ValueError(f"case extra {key!r} of case {case_id} has shape {extra.shape}, expected (C, *{spatial})")
        arrays[key] = extra
    arrays = {key: _pad_to(value, shape) for key, value in arrays.items()}
    foreground, background = map_binary_to_indices(arrays["label"])
    return TrainingCase(case_id, arrays, np.asarray(foreground), np.asarray(background))


class BatchSource(torch.utils.data.Dataset):
    """Map-style dataset whose item ``t`` is the batch of iteration ``t`` (or the share ``slots`` of it).

    Use it with ``DataLoader(source, batch_size=None, sampler=range(first, last + 1))``.

    Parameters
    ----------
    cases
        Training cases, each padded to at least the sample shape.
    settings
        Sampling settings.
    shape
        Spatial shape of every sample (:func:`sample_shape`).
    seed
        Run seed.
    sample_hook
        Called with each augmented sample (NumPy arrays); returns more arrays to add to it (the
        loss terms' :meth:`~segpipe.training.losses.registry.LossTerm.sample_extras`).
    slots
        The slots of each batch to draw (default: all ``settings.batch_size``). A sample depends
        only on the seed, the iteration and its slot, so processes that draw disjoint slots
        together draw exactly the batch that one process draws (data-parallel training).
    """

    def __init__(
        self,
        cases: Sequence[TrainingCase],
        settings: SamplingSettings,
        shape: Sequence[int],
        seed: int,
        sample_hook: SampleHook | None = None,
        *,
        slots: Sequence[int] | None = None,
    ) -> None:
        if not cases:
            raise ValueError("no training cases")
        self.slots = tuple(range(settings.batch_size)) if slots is None else tuple(int(slot) for slot in slots)
        if not self.slots or not all(0 <= slot < settings.batch_size for slot in self.slots):
            raise ValueError(f"slots {self.slots} are not a non-empty subset of 0..{settings.batch_size - 1}")
        self.cases = list(cases)
        self.settings = settings
        self.shape = tuple(int(s) for s in shape)
        self.seed = int(seed)
        self.sample_hook = sample_hook
        keys = list(self.cases[0].arrays)
        self._random_crop, self._foreground_crop = self._build_transforms(keys)

    def _build_transforms(self, keys: list[str]) -> tuple[Callable, Callable]:
        from monai.transforms import (
            Compose,
            RandCropByPosNegLabeld,
            RandFlipd,
            RandRotate90d,
            RandScaleIntensityd,
            RandShiftIntensityd,
            RandSpatialCropd,
        )

        augment = []
        if self.settings.random_hue:
            from segpipe.training.augmentation import RandomHued

            augment.append(RandomHued("image", prob=self.settings.random_hue))
        if self.settings.flips:
            augment += [RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in range(len(self.shape))]
        if self.settings.rot90 and len(self.shape) >= 2 and self.shape[-1] == self.shape[-2]:
            ndim = len(self.shape)
            augment.append(RandRotate90d(keys, prob=0.5, max_k=3, spatial_axes=(ndim - 2, ndim - 1)))
        if self.settings.intensity:
            augment += [RandScaleIntensityd("image", factors=0.2, prob=0.5), RandShiftIntensityd("image", offsets=0.2, prob=0.5)]
        if self.settings.patch_size is None:
            return Compose(augment), Compose(augment)
        random_crop = RandSpatialCropd(keys, roi_size=self.shape, random_size=False)
        foreground_crop = RandCropByPosNegLabeld(
            keys, label_key="label", spatial_size=self.shape, pos=1.0, neg=0.0, num_samples=1,
            fg_indices_key="foreground", bg_indices_key="background",
        )
        return Compose([random_crop, *augment]), Compose([foreground_crop, *augment])

    def sample(self, iteration: int, slot: int) -> dict[str, np.ndarray]:
        """The ``slot``-th sample of the batch of ``iteration`` (NumPy arrays, channel-first)."""
        from monai.utils import convert_to_numpy

        rng = np.random.default_rng([self.seed, iteration, slot])
        case = self.cases[int(rng.integers(len(self.cases)))]
        forced = slot >= self.settings.batch_size - self.settings.forced_foreground
        transform = self._foreground_crop if forced else self._random_crop
        transform.set_random_state(seed=int(rng.integers(2**31)))
        data: dict[str, object] = dict(case.arrays)
        if forced:
            data.update(foreground=case.foreground, background=case.background)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MONAI warns when a case has no foreground to centre on
            result = transform(data)
        result = result[0] if isinstance(result, list) else result
        sample = {key: convert_to_numpy(result[key]) for key in case.arrays}
        if self.sample_hook is not None:
            sample.update(self.sample_hook(sample))
        return sample

    def __getitem__(self, iteration: int) -> dict[str, torch.Tensor]:
        """The batch of ``iteration`` (its ``slots``): each key stacked to ``(B, ...)``; labels as float32."""
        samples = [self.sample(iteration, slot) for slot in self.slots]
        batch = {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in samples[0]}
        batch["label"] = batch["label"].float()
        return batch
