"""Read values at the voxel coordinates reported by :mod:`segpipe.topology`."""

from __future__ import annotations

from typing import Any

import numpy as np

from segpipe.topology import _engine
from segpipe.topology._device import gather_on_device, is_device_array


def gather(array: Any, coordinates: np.ndarray, missing: float = np.nan) -> np.ndarray:
    """Values of ``array`` at ``coordinates``.

    Parameters
    ----------
    array
        The array the coordinates refer to: anything :func:`numpy.asarray` accepts, or a torch
        tensor on a CUDA device, whose values are gathered there by the engine's kernel (only the
        gathered values are copied to the host).
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
    on_device = is_device_array(array)
    if not on_device:
        array = np.asarray(array)
    shape = tuple(array.shape)
    coordinates = np.asarray(coordinates, dtype=np.int64).reshape(-1, len(shape))
    present = coordinates[:, 0] >= 0
    linear = np.full(len(coordinates), -1, dtype=np.int64)
    linear[present] = np.ravel_multi_index(tuple(coordinates[present].T), shape)
    if on_device:
        return gather_on_device(array, linear, missing)
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    values = np.empty(len(linear), dtype=np.float64)
    _engine.gather(np.ascontiguousarray(array), linear, values, missing)
    return values
