"""Read values at the voxel coordinates reported by :mod:`segpipe.topology`."""

from __future__ import annotations

from typing import Any

import numpy as np

from segpipe.topology import _engine
from segpipe.topology._device import gather_on_device, is_device_array
from segpipe.topology.errors import TopologyValueError


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

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        If the coordinates are not integers, have not one column per axis of ``array``, or a row
        other than ``-1`` lies outside ``array``.
    """
    on_device = is_device_array(array)
    if not on_device:
        array = np.asarray(array)
    shape = tuple(array.shape)
    coordinates = _checked_coordinates(coordinates, shape)
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


def _checked_coordinates(coordinates: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``coordinates`` as an ``(n, len(shape))`` int64 array whose rows are voxels of ``shape`` or all ``-1``."""
    fix = "pass coordinates reported for this array (by barcode or betti_matching), one column per axis"
    values = np.asarray(coordinates)
    if values.size and (values.dtype.kind not in "iuf" or not np.array_equal(values, np.round(values))):
        raise TopologyValueError(f"coordinates must be integers, got dtype {values.dtype}", where="coordinates", fix=fix)
    columns = values.shape[-1] if values.ndim else 1
    if values.size and (values.ndim != 2 or columns != len(shape)):
        raise TopologyValueError(
            f"coordinates of shape {values.shape} have {columns} columns, but the array has {len(shape)} axes",
            where="coordinates", fix=fix,
        )
    values = values.astype(np.int64).reshape(-1, len(shape))
    inside = ((values >= 0) & (values < np.array(shape, dtype=np.int64))).all(axis=1) | (values == -1).all(axis=1)
    if not inside.all():
        row = int(np.flatnonzero(~inside)[0])
        raise TopologyValueError(
            f"{int((~inside).sum())} coordinate rows lie outside the array: row {row} "
            f"({values[row].tolist()}) lies outside the array of shape {shape} (a row of -1 means no voxel)",
            where="coordinates", fix=fix,
        )
    return values
