"""Ground-truth Betti numbers of binary label masks, and their CSV file.

The convention is TopoMortar's (gudhi ``CubicalComplex(top_dimensional_cells=1 - mask)``): pixels
or voxels are closed cells, so the foreground is 8-connected in 2D and 26-connected in 3D, and the
background is 4- (6-) connected. ``b0`` counts foreground components; in 2D ``b1`` counts background
components that do not touch the image border (holes); in 3D ``b2`` counts such enclosed cavities
and ``b1`` (tunnels, loops) follows from the Euler characteristic ``chi = b0 - b1 + b2``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.measure import euler_number

from segpipe.fsutil import atomic_open

#: Column names of TopoMortar's ``betti_numbers.csv``.
BETTI_COLUMNS = ("ID", "Betti0", "Betti1", "Betti2")


def _enclosed_background_components(mask: np.ndarray) -> int:
    """Number of background components (face-connected) that do not touch the border."""
    background = ~mask
    labels, count = ndimage.label(background, structure=ndimage.generate_binary_structure(mask.ndim, 1))
    if count == 0:
        return 0
    border = np.zeros_like(background)
    for axis in range(mask.ndim):
        index = [slice(None)] * mask.ndim
        for end in (0, -1):
            index[axis] = end
            border[tuple(index)] = True
    touching = np.unique(labels[border & background])
    return count - int(np.count_nonzero(touching))


def betti_numbers(mask: np.ndarray) -> tuple[int, int, int]:
    """Betti numbers ``(b0, b1, b2)`` of a 2D or 3D binary mask.

    Parameters
    ----------
    mask
        Array whose non-zero entries are foreground.

    Returns
    -------
    tuple of int
        ``(b0, b1, b2)``; ``b2`` is 0 in 2D.

    Raises
    ------
    ValueError
        If ``mask`` is not 2D or 3D.
    """
    mask = np.asarray(mask) != 0
    if mask.ndim not in (2, 3):
        raise ValueError(f"Betti numbers need a 2D or 3D mask, got {mask.ndim} dimensions")
    _, b0 = ndimage.label(mask, structure=ndimage.generate_binary_structure(mask.ndim, mask.ndim))
    enclosed = _enclosed_background_components(mask)
    if mask.ndim == 2:
        return int(b0), enclosed, 0
    chi = int(euler_number(mask, connectivity=3))
    return int(b0), int(b0) + enclosed - chi, enclosed


def write_betti_csv(path: str | PathLike[str], rows: Iterable[tuple[str, tuple[int, int, int]]]) -> Path:
    """Write ``ID,Betti0,Betti1,Betti2`` rows (TopoMortar's format), atomically.

    Parameters
    ----------
    path
        Destination CSV file.
    rows
        ``(case_id, (b0, b1, b2))`` pairs, written in the order given.
    """
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BETTI_COLUMNS)
        for case_id, numbers in rows:
            writer.writerow([case_id, *numbers])
    return Path(path)
