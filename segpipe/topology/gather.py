"""Read values at the voxel coordinates reported by :mod:`segpipe.topology`."""

from __future__ import annotations

import numpy as np


def gather(array: np.ndarray, coordinates: np.ndarray, missing: float = np.nan) -> np.ndarray:
    """Values of ``array`` at ``coordinates``.

    Parameters
    ----------
    array
        The array the coordinates refer to.
    coordinates
        ``(n, array.ndim)`` integer coordinates; rows of ``-1`` (the death of an essential bar)
        have no voxel.
    missing
        Value returned for ``-1`` rows.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 values.
    """
    array = np.asarray(array)
    coordinates = np.asarray(coordinates, dtype=np.int64).reshape(-1, array.ndim)
    present = coordinates[:, 0] >= 0
    values = np.full(len(coordinates), missing, dtype=np.float64)
    values[present] = array[tuple(coordinates[present].T)]
    return values
