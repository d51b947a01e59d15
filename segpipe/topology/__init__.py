"""Persistent homology and Betti matching of 2D and 3D images, backed by the C++ engine in ``cpp_ext/``.

Public API
----------
:func:`barcode`, :func:`barcode_batch`
    Persistence barcode of an array (sublevel or superlevel filtration, full or face connectivity),
    with the voxel coordinates of every birth and death (one array, or many on a thread pool).
:func:`betti_matching`, :func:`betti_matching_batch`
    Betti matching of a prediction and a target (one pair, or many pairs on a thread pool).
:func:`betti_numbers`, :func:`betti_matching_error`
    Topology of binary masks.
:data:`CONNECTIVITIES`
    ``connectivity``, the one option of every function here, of the metrics and of the topology
    losses: ``"full"`` (default; foreground 8-connected in 2D, 26 in 3D, as TopoMortar's Betti
    errors) or ``"face"`` (4/6); see :mod:`segpipe.topology.connectivity`.
:func:`betti_matching_loss`, :func:`gather`
    The Betti matching loss value of a matching, and the value gathering it is built on.
:func:`cuda_compiled`, :func:`cuda_available`, :func:`select_backend`
    Whether the engine has its CUDA kernels, whether they can run here, and which backend a call
    uses.

Backends
--------
The per-voxel stages (comparison image, filtration values, sorting of cells, apparent pairs of
dimension 1 in 3D, gathering values) run on the CPU or as CUDA kernels; the union-finds and column
reductions always run on the CPU (one pair per thread in a batch). Results are identical. Choose
with ``backend="cpu" | "cuda" | "auto"`` (:func:`barcode`, :func:`betti_matching`,
:func:`betti_matching_batch`) or the environment variable ``SEGPIPE_TOPOLOGY_BACKEND``; the
default ``"auto"`` uses CUDA when the engine was built with nvcc and a usable GPU is present.
Forcing ``"cuda"`` where it cannot run raises :class:`TopologyBackendError` saying why.

Device arrays: with the CUDA backend, float32/float64 arrays on a CUDA device (torch tensors, or
any DLPack producer) are read on the device without a copy to the host when
``connectivity="face"`` and ``relative=False``; with other options they are copied to the host
(torch tensors) for the NumPy preparation. :func:`gather` and :func:`betti_matching_loss` read
CUDA torch tensors on the device. The CPU backend takes host arrays only (as NumPy does). Host
arrays given to the CUDA backend are copied to CUDA device 0.

Every function raises :class:`TopologyValueError` / :class:`TopologyTypeError` (both
:class:`segpipe.errors.InputError`) for unusable input, and :class:`TopologyThreadError` when the
system refuses one of the engine's worker threads (a thread or memory limit).
"""

from segpipe.topology._engine import engine_version
from segpipe.topology.backend import cuda_available, cuda_compiled, select_backend
from segpipe.topology.connectivity import CONNECTIVITIES, DEFAULT_CONNECTIVITY
from segpipe.topology.errors import TopologyBackendError, TopologyThreadError, TopologyTypeError, TopologyValueError
from segpipe.topology.gather import gather
from segpipe.topology.matching import BettiMatching, DimensionMatching, betti_matching, betti_matching_batch
from segpipe.topology.metrics import betti_matching_error, betti_matching_loss, betti_numbers
from segpipe.topology.persistence import Barcode, Bars, barcode, barcode_batch

__all__ = [
    "Barcode",
    "Bars",
    "BettiMatching",
    "CONNECTIVITIES",
    "DEFAULT_CONNECTIVITY",
    "DimensionMatching",
    "TopologyBackendError",
    "TopologyThreadError",
    "TopologyTypeError",
    "TopologyValueError",
    "barcode",
    "barcode_batch",
    "betti_matching",
    "betti_matching_batch",
    "betti_matching_error",
    "betti_matching_loss",
    "betti_numbers",
    "cuda_available",
    "cuda_compiled",
    "engine_version",
    "gather",
    "select_backend",
]
