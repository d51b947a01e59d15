"""Ground-truth Betti numbers of binary label masks, and their CSV file.

The convention is TopoMortar's (gudhi ``CubicalComplex(top_dimensional_cells=1 - mask)``): pixels
or voxels are closed cells, so the foreground is 8-connected in 2D and 26-connected in 3D, and the
background is 4- (6-) connected. The counts are those of :func:`segpipe.topology.betti_numbers`
(the one implementation, also used by ``segpipe evaluate``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from segpipe.io.atomic import atomic_open
from segpipe.topology import betti_numbers as foreground_betti_numbers

#: Column names of TopoMortar's ``betti_numbers.csv``.
BETTI_COLUMNS = ("ID", "Betti0", "Betti1", "Betti2")


def betti_numbers(mask: np.ndarray) -> tuple[int, int, int]:
    """Betti numbers ``(b0, b1, b2)`` of a 2D or 3D binary mask, for ``betti_numbers.csv``.

    :func:`segpipe.topology.betti_numbers` with its default connectivity (the convention above),
    padded with ``b2 = 0`` in 2D.

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
    segpipe.topology.TopologyValueError
        If ``mask`` is not 2D or 3D.
    """
    numbers = foreground_betti_numbers(np.asarray(mask) != 0)
    return (*(int(n) for n in numbers), 0)[:3]


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
