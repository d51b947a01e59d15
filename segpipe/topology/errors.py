"""Errors raised by :mod:`segpipe.topology` for unusable input data.

They are :class:`~segpipe.errors.InputError` (so the CLI prints them without a traceback) and also
the built-in exception a NumPy user expects (``ValueError`` or ``TypeError``).
"""

from __future__ import annotations

from segpipe.errors import InputError, SegpipeError


class TopologyValueError(InputError, ValueError):
    """An array cannot be used: NaN or inf values, empty, wrong number of axes, shapes differ."""


class TopologyTypeError(InputError, TypeError):
    """An argument has the wrong type: not array-like, or a non-numeric dtype."""


class TopologyBackendError(SegpipeError, RuntimeError):
    """The requested backend cannot run here (e.g. the CUDA backend without a usable GPU)."""


class TopologyThreadError(SegpipeError, RuntimeError):
    """The system refused a worker thread of the engine (a process, thread or memory limit)."""
