"""Turn user arrays into what the engine computes, and engine voxels back into array voxels.

The engine computes filtrations of the V-construction (voxels are vertices, every higher cell
enters with the last of its vertices), sublevel or superlevel (the sublevel filtration of the
negated values, which the engine negates itself). The other options are reduced to that here:

``connectivity="full"``
    The T-construction (voxels are top-dimensional cells, lower cells enter with the first of the
    top cells around them; gudhi's ``CubicalComplex(top_dimensional_cells=...)``). It is computed
    exactly as the V-construction of the grid of all its cells (``2 n + 1`` points per axis, each
    carrying the value of its cell), whose sublevel sets are subdivisions of the T-construction's.
    Engine vertices are mapped back to the voxel that gives the cell its value.
``relative=True`` (Betti matching)
    Homology relative to the image border, with the border treated as foreground: both arrays get
    a one-voxel frame whose value enters the filtration first. Coordinates then refer to the
    framed arrays (one voxel larger on each side).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from segpipe.topology._inputs import MAX_VOXELS
from segpipe.topology.connectivity import is_top_construction
from segpipe.topology.errors import TopologyValueError


def first_value(arrays: list[np.ndarray], filtration: str) -> float:
    """The value that enters the filtration first among all ``arrays``."""
    if filtration == "sublevel":
        return float(min(a.min() for a in arrays))
    return float(max(a.max() for a in arrays))


def add_frame(values: np.ndarray, frame_value: float) -> np.ndarray:
    """``values`` surrounded by a one-voxel frame of ``frame_value``."""
    return np.pad(values, 1, mode="constant", constant_values=frame_value)


def top_construction_grid(values: np.ndarray, filtration: str) -> np.ndarray:
    """Values of all cells of the T-construction on a grid of ``2 n + 1`` points per axis.

    Odd grid coordinates along an axis lie inside a voxel, even ones on the boundary between two
    voxels (or the outer border); a cell takes the first value (the minimum for a sublevel
    filtration, the maximum for a superlevel one) of the voxels it touches, taken axis by axis.
    """
    first, never = (np.minimum, np.inf) if filtration == "sublevel" else (np.maximum, -np.inf)
    grid = values
    for axis in range(values.ndim):
        n = grid.shape[axis]
        padded_shape = list(grid.shape)
        padded_shape[axis] = n + 2
        padded = np.full(padded_shape, never)
        padded[(slice(None),) * axis + (slice(1, n + 1),)] = grid
        lower = np.take(padded, np.arange(0, n + 1), axis=axis)
        upper = np.take(padded, np.arange(1, n + 2), axis=axis)
        shape = list(grid.shape)
        shape[axis] = 2 * n + 1
        out = np.empty(shape)
        out[(slice(None),) * axis + (slice(0, None, 2),)] = first(lower, upper)
        out[(slice(None),) * axis + (slice(1, None, 2),)] = grid
        grid = out
    return np.ascontiguousarray(grid)


def voxels_of_cells(values: np.ndarray, cells: np.ndarray, filtration: str) -> np.ndarray:
    """Voxel giving each T-construction cell its value (the first such voxel it touches).

    Parameters
    ----------
    values
        The voxel values, shape ``s``.
    cells
        ``(n, ndim)`` coordinates on the grid of :func:`top_construction_grid` (shape ``2 s + 1``).

    filtration
        ``"sublevel"`` or ``"superlevel"``.

    Returns
    -------
    numpy.ndarray
        ``(n, ndim)`` int64 voxel coordinates into ``values``.
    """
    sign = 1.0 if filtration == "sublevel" else -1.0
    shape = np.asarray(values.shape)
    best_value = np.full(len(cells), np.inf)
    best = np.zeros_like(cells)
    odd = cells % 2 == 1
    for choice in itertools.product((0, 1), repeat=values.ndim):
        candidate = np.where(odd, (cells - 1) // 2, cells // 2 - 1 + np.asarray(choice))
        inside = np.all((candidate >= 0) & (candidate < shape), axis=1)
        value = np.full(len(cells), np.inf)
        value[inside] = sign * values[tuple(candidate[inside].T)]
        better = value < best_value
        best_value[better] = value[better]
        best[better] = candidate[better]
    return best.astype(np.int64)


@dataclass(frozen=True)
class EngineInput:
    """One array prepared for the engine.

    Attributes
    ----------
    voxels
        The voxel values (framed when relative); coordinates refer to them.
    engine_values
        The C-contiguous float64 array the engine computes with: ``voxels`` for the
        V-construction (``connectivity="face"``), its T-construction grid for ``"full"``.
    connectivity, filtration
        The options.
    """

    voxels: np.ndarray
    engine_values: np.ndarray
    connectivity: str
    filtration: str

    @classmethod
    def prepare(cls, voxels: np.ndarray, connectivity: str, filtration: str) -> EngineInput:
        """Prepare C-contiguous float64 voxel values for the engine."""
        top = is_top_construction(connectivity)
        if top and np.prod([2 * n + 1 for n in voxels.shape], dtype=np.float64) > MAX_VOXELS:
            raise TopologyValueError(
                f"the T-construction of an array of shape {voxels.shape} needs more than {MAX_VOXELS} "
                "grid points",
                where="connectivity",
                fix="use connectivity='face' (4-connected in 2D, 6 in 3D) or crop the array",
            )
        engine = top_construction_grid(voxels, filtration) if top else voxels
        return cls(voxels, engine, connectivity, filtration)

    @property
    def negate(self) -> bool:
        """Whether the engine computes with negated values (superlevel filtration)."""
        return self.filtration == "superlevel"

    def coordinates(self, indices: np.ndarray) -> np.ndarray:
        """``(n, ndim)`` int64 voxel coordinates of engine vertex indices."""
        indices = np.asarray(indices, dtype=np.int64)
        coordinates = np.stack(np.unravel_index(indices, self.engine_values.shape), axis=1)
        coordinates = coordinates.reshape(len(indices), self.voxels.ndim).astype(np.int64)
        if is_top_construction(self.connectivity):
            coordinates = voxels_of_cells(self.voxels, coordinates, self.filtration)
        return coordinates
