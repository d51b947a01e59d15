"""Validation and conversion of the arrays and options given to :mod:`segpipe.topology`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from segpipe.topology.errors import TopologyTypeError, TopologyValueError

FILTRATIONS = ("sublevel", "superlevel")
#: Largest number of voxels the engine accepts.
MAX_VOXELS = 2**29


def as_image(data: Any, name: str) -> np.ndarray:
    """Return ``data`` as a C-contiguous float64 array with 2 or 3 axes, or raise.

    Parameters
    ----------
    data
        Anything :func:`numpy.asarray` accepts with a boolean, integer or floating dtype (a CPU
        torch tensor without gradient works too). Non-contiguous arrays are copied.
    name
        Name of the argument, used in error messages.

    Raises
    ------
    TopologyTypeError
        If ``data`` is not array-like or its dtype is not numeric.
    TopologyValueError
        If the array is empty, has not 2 or 3 axes, is too large, or holds NaN or inf.
    """
    try:
        array = np.asarray(data)
    except Exception as error:  # e.g. a torch tensor that requires grad
        raise TopologyTypeError(
            f"cannot convert {type(data).__name__} to a NumPy array ({error})",
            where=name,
            fix="pass a NumPy array (for a torch tensor: tensor.detach().cpu().numpy())",
        ) from error
    if array.dtype.kind not in "biuf":
        raise TopologyTypeError(
            f"dtype {array.dtype} is not numeric",
            where=name,
            fix="pass an array of booleans, integers or floating-point values",
        )
    check_shape(array.shape, name)
    array = np.ascontiguousarray(array, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        raise TopologyValueError(
            f"the array holds {int(array.size - finite.sum())} NaN or infinite values",
            where=name,
            fix="replace them (e.g. numpy.nan_to_num) before computing topology",
        )
    return array


def check_shape(shape: tuple[int, ...], name: str) -> None:
    """Raise :class:`TopologyValueError` unless ``shape`` has 2 or 3 axes and 1 to MAX_VOXELS voxels."""
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3):
        raise TopologyValueError(
            f"expected a 2D or 3D array, got {len(shape)} axes (shape {shape})",
            where=name,
            fix="remove channel/batch axes; a 1D signal can be given as shape (1, n)",
        )
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        raise TopologyValueError(f"the array is empty (shape {shape})", where=name)
    if size > MAX_VOXELS:
        raise TopologyValueError(
            f"the array has {size} voxels, more than the engine's limit of {MAX_VOXELS}",
            where=name,
            fix="crop or downsample the array",
        )


def same_shape(prediction: Any, target: Any) -> None:
    """Raise :class:`TopologyValueError` unless both arrays have the same shape."""
    if tuple(prediction.shape) != tuple(target.shape):
        raise TopologyValueError(
            f"prediction has shape {tuple(prediction.shape)} but target has shape {tuple(target.shape)}",
            where="prediction/target",
            fix="pass arrays of the same shape",
        )


def choice(value: Any, allowed: tuple[Any, ...], name: str) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`TopologyValueError`."""
    if value not in allowed:
        raise TopologyValueError(
            f"unknown value {value!r}", where=name, fix=f"use one of {', '.join(map(repr, allowed))}"
        )
    return value


def thread_count(threads: int | None) -> int:
    """Number of threads to use: ``threads``, or the CPUs available to this process if None."""
    if threads is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise TopologyValueError(f"threads must be a positive integer, got {threads!r}", where="threads")
    return int(threads)
