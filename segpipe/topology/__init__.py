"""Persistent homology and Betti matching of 2D and 3D images, backed by the C++ engine in ``cpp_ext/``.

Public API
----------
:func:`barcode`
    Persistence barcode of an array (sublevel or superlevel filtration, V- or T-construction),
    with the voxel coordinates of every birth and death.
:func:`betti_matching`, :func:`betti_matching_batch`
    Betti matching of a prediction and a target (one pair, or many pairs on a thread pool).
:func:`betti_numbers`, :func:`betti_matching_error`
    Topology of binary masks (foreground connectivity 8/26 by default, as TopoMortar).
:func:`betti_matching_loss`, :func:`gather`
    The Betti matching loss value of a matching, and the value gathering it is built on.

Every function raises :class:`TopologyValueError` / :class:`TopologyTypeError` (both
:class:`segpipe.errors.InputError`) for unusable input.
"""

from segpipe.topology._engine import engine_version
from segpipe.topology.persistence import Barcode, Bars, barcode
from segpipe.topology.errors import TopologyTypeError, TopologyValueError
from segpipe.topology.gather import gather
from segpipe.topology.matching import BettiMatching, DimensionMatching, betti_matching, betti_matching_batch
from segpipe.topology.metrics import betti_matching_error, betti_matching_loss, betti_numbers

__all__ = [
    "Barcode",
    "Bars",
    "BettiMatching",
    "DimensionMatching",
    "TopologyTypeError",
    "TopologyValueError",
    "barcode",
    "betti_matching",
    "betti_matching_batch",
    "betti_matching_error",
    "betti_matching_loss",
    "betti_numbers",
    "engine_version",
    "gather",
]
