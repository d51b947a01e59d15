"""Random fields shared by the synthetic data generators.

All fields are drawn from a caller-supplied :class:`numpy.random.Generator`, so a generator seeded
once per image gives the same field every time.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float | tuple[float, ...]) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean and unit standard deviation.

    Parameters
    ----------
    rng
        Source of randomness.
    shape
        Shape of the field.
    sigma
        Correlation length in pixels (per axis or one for all); 0 gives white noise.

    Returns
    -------
    numpy.ndarray
        ``float64`` field of ``shape``.
    """
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=float), (len(shape),))
    # Long correlation lengths are drawn on a coarser grid (2 samples per sigma) and
    # interpolated: the same smooth field at a fraction of the filtering cost.
    factors = np.maximum(1, np.floor(sigmas / 2)).astype(int)
    coarse_shape = tuple(-(-n // f) + 1 for n, f in zip(shape, factors))
    field = rng.standard_normal(coarse_shape if np.any(factors > 1) else shape)
    if np.any(sigmas > 0):
        field = ndimage.gaussian_filter(field, sigmas / factors, mode="wrap")
    if np.any(factors > 1):
        field = ndimage.zoom(field, [f for f in factors], order=1, grid_mode=False)
        field = field[tuple(slice(0, n) for n in shape)]
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    sigmas: tuple[float, ...],
    weights: tuple[float, ...],
) -> np.ndarray:
    """Weighted sum of :func:`smooth_noise` fields at several scales (texture, lighting).

    Parameters
    ----------
    rng
        Source of randomness.
    shape
        Shape of the field.
    sigmas
        Correlation length of each octave, in pixels.
    weights
        Amplitude of each octave.
    """
    if len(sigmas) != len(weights):
        raise ValueError("sigmas and weights must have the same length")
    return sum((w * smooth_noise(rng, shape, s) for s, w in zip(sigmas, weights)), np.zeros(shape))


def smooth_threshold_mask(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    sigma: float,
    fraction: float,
) -> np.ndarray:
    """Blobby random mask covering about ``fraction`` of the grid (a thresholded smooth field).

    Parameters
    ----------
    rng
        Source of randomness.
    shape
        Shape of the mask.
    sigma
        Blob size (correlation length) in pixels.
    fraction
        Expected fraction of pixels set, in (0, 1).
    """
    field = smooth_noise(rng, shape, sigma)
    return field > np.quantile(field, 1.0 - fraction)
