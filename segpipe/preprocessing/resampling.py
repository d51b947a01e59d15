"""Resampling between a case's own grid and the grid a network trains on (nnU-Net's target spacing).

With ``preprocess.target_spacing``, preprocessing resamples every image and label to that spacing,
training and prediction work on that grid, and prediction resamples each probability map back to
the case's own grid before thresholding, so that masks, probabilities and every metric are on the
original grid. Both grids cover the same physical extent: the corners of the first and last voxels
stay in place (``skimage.transform.resize``'s convention), so the origin moves by half the change
of the voxel size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.transform import resize

from segpipe.io.images import Geometry


def resampled_shape(shape: Sequence[int], spacing: Sequence[float], target_spacing: Sequence[float]) -> tuple[int, ...]:
    """Shape of a grid of ``shape`` voxels of ``spacing`` resampled to ``target_spacing`` (per array axis)."""
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target_spacing))


def resampled_geometry(geometry: Geometry, shape: Sequence[int], new_shape: Sequence[int]) -> Geometry:
    """Geometry of ``geometry``'s grid of ``shape`` (array order) resampled to ``new_shape``, same extent."""
    factors = [n / m for n, m in zip(reversed(tuple(shape)), reversed(tuple(new_shape)))]  # ITK index order
    spacing = tuple(s * f for s, f in zip(geometry.spacing, factors))
    # The first voxel's centre moves by half the change of the voxel size, along each index axis.
    shift = geometry.direction_matrix @ (0.5 * (np.asarray(spacing) - np.asarray(geometry.spacing)))
    return Geometry(spacing, tuple(float(o + d) for o, d in zip(geometry.origin, shift)), geometry.direction)


def resample_image(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """An image ``(C, *spatial)`` resampled to ``shape`` (linear; Gaussian anti-aliasing when shrinking)."""
    shape = tuple(shape)
    if tuple(image.shape[1:]) == shape:
        return image
    shrinking = any(m < n for m, n in zip(shape, image.shape[1:]))
    return np.stack([
        resize(channel.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=shrinking, preserve_range=True)
        for channel in image
    ]).astype(np.float32)


def resample_probability(probability: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A map of values in [0, 1] resampled to ``shape`` (linear, no anti-aliasing), as float32."""
    shape = tuple(shape)
    if probability.shape == shape:
        return probability.astype(np.float32, copy=False)
    values = resize(probability.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def resample_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A binary mask resampled to ``shape``: its linear interpolation thresholded at 0.5, as uint8.

    Unlike nearest-neighbour sampling, a structure thinner than the new voxel size keeps the voxels
    it covers at least half of.
    """
    return (resample_probability(np.asarray(mask, dtype=np.float32), shape) >= 0.5).astype(np.uint8)


def resample_labels(labels: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A label map resampled to ``shape``: a binary one as :func:`resample_mask`, class values 0..K per class.

    Each class (the background included) is interpolated linearly as a one-hot map, and each voxel
    takes the class with the largest interpolated value, as nnU-Net resamples segmentations.
    """
    labels = np.asarray(labels)
    last = int(labels.max(initial=0))
    if last <= 1:
        return resample_mask(labels, shape)
    shape = tuple(shape)
    if labels.shape == shape:
        return labels.astype(np.uint8)
    scores = np.stack([resample_probability((labels == value).astype(np.float32), shape) for value in range(last + 1)])
    return scores.argmax(axis=0).astype(np.uint8)
