"""Connectivity: the one convention of segpipe for how voxels touch.

Every topological computation of segpipe (Betti numbers, Betti matching, barcodes, the metrics and
the topology losses) takes ``connectivity``, with the same two values and the same default:

``"full"`` (default)
    The voxels that enter the filtration first (the foreground of a mask or of a probability map
    under the superlevel filtration) are 8-connected in 2D and 26-connected in 3D; the others
    (the background) 4- and 6-connected. Voxels are closed squares or cubes, the T-construction of
    a cubical complex: gudhi's ``CubicalComplex(top_dimensional_cells=...)`` and TopoMortar's
    Betti errors (gudhi on ``1 - mask``).
``"face"``
    Voxels touch only through faces: foreground 4-/6-connected, background 8-/26-connected. Voxels
    are vertices and higher cells enter with the last of their vertices, the V-construction
    (gudhi's ``CubicalComplex(vertices=...)``, CubicalRipser's default, the reference Betti
    matching).

A topology loss must optimise what the metrics count: with different connectivities, descent on a
loss can reach zero while the metrics still count holes (a diagonal gap between two foreground
pixels closes a hole for one and not for the other).
"""

from __future__ import annotations

from typing import Any

from segpipe.topology.errors import TopologyValueError

#: The accepted values, the default first.
CONNECTIVITIES = ("full", "face")
#: The default of every function, metric and loss.
DEFAULT_CONNECTIVITY = "full"
#: Neighbours of a foreground voxel per connectivity and number of axes (for messages and docs).
NEIGHBOURS = {"full": {2: 8, 3: 26}, "face": {2: 4, 3: 6}}


def check_connectivity(value: Any, where: str = "connectivity") -> str:
    """Return ``value`` if it is ``"full"`` or ``"face"``, else raise :class:`TopologyValueError`."""
    if value not in CONNECTIVITIES:
        raise TopologyValueError(
            f"connectivity is {value!r}",
            where=where,
            fix="use 'full' (foreground 8-connected in 2D, 26 in 3D; the default) or 'face' (4/6)",
        )
    return value


def background_connectivity(connectivity: str) -> str:
    """The connectivity of the voxels that enter last (the background): the other value."""
    return "face" if check_connectivity(connectivity) == "full" else "full"


def is_top_construction(connectivity: str) -> bool:
    """Whether ``connectivity`` is computed on the T-construction (voxels as top cells)."""
    return check_connectivity(connectivity) == "full"
