"""Persistent homology and Betti matching of 2D and 3D images, backed by the C++ engine in ``cpp_ext/``.

Public API
----------
:func:`barcode`
    Persistence barcode of an array (sublevel or superlevel filtration, V- or T-construction).
"""

from segpipe.topology._engine import engine_version
from segpipe.topology.barcode import Barcode, Bars, barcode
from segpipe.topology.errors import TopologyTypeError, TopologyValueError
from segpipe.topology.gather import gather

__all__ = [
    "Barcode",
    "Bars",
    "TopologyTypeError",
    "TopologyValueError",
    "barcode",
    "engine_version",
    "gather",
]
