"""How many CPUs this process may use, and capping a requested thread count at it.

``snakemake --cores 8`` on a 2-CPU machine hands every job 8 threads; 8 torch threads on 2 CPUs
trained 2.8x slower than 2 here (issue 17). Every ``--threads`` is therefore capped at the CPUs the
process may run on: its affinity mask (``os.sched_getaffinity``, which SLURM's ``--cpus-per-task``
and ``taskset`` set), else ``os.cpu_count()``.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def cap_threads(requested: int, *, what: str, stream: TextIO | None = None) -> int:
    """``requested`` capped at :func:`available_cpus`, with a one-line warning when it was more.

    Parameters
    ----------
    requested
        Threads asked for (``--threads``, Snakemake's ``{threads}``).
    what
        Who asks, for the warning (``"segpipe train"``).
    stream
        Where the warning goes (default: standard error, i.e. the job's log).

    Returns
    -------
    int
        ``min(requested, available_cpus())``, at least 1.
    """
    available = available_cpus()
    if requested > available:
        print(f"{what}: warning: {requested} threads asked for, but this process may use {available} CPU(s); "
              f"using {available} (more threads than CPUs only slow torch down)", file=stream or sys.stderr)
        return available
    return max(1, requested)
