"""Where the engine's parallel stages run: on the CPU or, with CUDA kernels, on a GPU.

The per-voxel stages (comparison image, filtration values, sorting of cells, apparent pairs,
gathering values) have CUDA kernels; the union-finds and reductions stay on the CPU, one pair per
thread. Both backends give identical results. The backend is chosen per call (``backend=``), else
by the environment variable ``SEGPIPE_TOPOLOGY_BACKEND``, else ``"auto"``: ``"cuda"`` when the engine
was built with its kernels and a usable GPU is present, ``"cpu"`` otherwise.
"""

from __future__ import annotations

import functools
import os

from segpipe.topology import _engine
from segpipe.topology._inputs import choice
from segpipe.topology.errors import TopologyBackendError

#: Values of ``backend=`` and of :data:`ENVIRONMENT_VARIABLE`.
BACKENDS = ("auto", "cpu", "cuda")
#: Environment variable giving the backend when a call does not.
ENVIRONMENT_VARIABLE = "SEGPIPE_TOPOLOGY_BACKEND"


def cuda_compiled() -> bool:
    """Whether the engine was built with its CUDA kernels (nvcc was found at build time)."""
    return _engine.cuda_compiled()


@functools.cache
def cuda_unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here, or None if it can.

    The first call initialises the CUDA runtime (it loads the driver library, if any); importing
    :mod:`segpipe.topology` does not.
    """
    return _engine.cuda_unavailable_reason() or None


def cuda_available() -> bool:
    """Whether the CUDA backend can run: the kernels are compiled in and a usable GPU is present."""
    return cuda_unavailable_reason() is None


def select_backend(backend: str | None = None) -> str:
    """The backend a computation runs on: ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    backend
        ``"cpu"``, ``"cuda"`` or ``"auto"``; None: the value of ``SEGPIPE_TOPOLOGY_BACKEND``, or
        ``"auto"`` when it is unset or empty. ``"auto"`` means ``"cuda"`` if
        :func:`cuda_available`, else ``"cpu"``.

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        For an unknown value.
    segpipe.topology.errors.TopologyBackendError
        If ``"cuda"`` is requested but cannot run here (the message says why).
    """
    if backend is None:
        requested = choice(os.environ.get(ENVIRONMENT_VARIABLE) or "auto", BACKENDS, ENVIRONMENT_VARIABLE)
        where = ENVIRONMENT_VARIABLE
    else:
        requested = choice(backend, BACKENDS, "backend")
        where = "backend"
    if requested == "auto":
        return "cuda" if cuda_available() else "cpu"
    if requested == "cuda" and not cuda_available():
        raise TopologyBackendError(
            f"the CUDA backend was requested but cannot run here: {cuda_unavailable_reason()}",
            where=where,
            fix=f"use backend='auto' or 'cpu' (or unset {ENVIRONMENT_VARIABLE}); run on a machine with an "
            "NVIDIA GPU and driver, with segpipe built where nvcc was found",
        )
    return requested
