"""Run independent per-case jobs in worker processes, with a progress bar."""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from segpipe.utilities.progress import progress_bar

Result = TypeVar("Result")


def run_jobs(
    function: Callable[..., Result],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int = 1,
    progress: bool = False,
    description: str = "",
    initializer: Callable[[], None] | None = None,
) -> list[Result]:
    """Return ``[function(*job) for job in jobs]``, computed in ``workers`` processes.

    Parameters
    ----------
    function
        A module-level (picklable) function.
    jobs
        Argument tuples, one per call.
    workers
        Worker processes; with 1 (or a single job) everything runs in this process. Workers are
        spawned, not forked, so that a parent holding threads (torch, OpenMP) is never copied.
    progress
        Show a tqdm progress bar on standard error.
    description
        Label of the progress bar.
    initializer
        Called once in each worker process before its first job (e.g. to limit thread pools).
        On Linux every worker is first bound to this process: it is killed when this process dies
        (also by ``kill -9`` or the out-of-memory killer), so that no worker goes on as an orphan.

    Returns
    -------
    list
        The results in the order of ``jobs``. The first exception raised by a job is re-raised
        here (pending jobs are cancelled).
    """

    results: list[Any] = [None] * len(jobs)
    with progress_bar(total=len(jobs), desc=description, unit="case", show=progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                results[index] = function(*job)
                bar.update()
            return results
        context = multiprocessing.get_context("spawn")
        setup = functools.partial(_start_worker, os.getpid(), initializer)
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context, initializer=setup) as pool:
            futures = {pool.submit(function, *job): index for index, job in enumerate(jobs)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return results


#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def _start_worker(parent: int, initializer: Callable[[], None] | None) -> None:
    """Worker set-up: die with ``parent`` (Linux), then run ``initializer``.

    The kernel sends the signal when the thread that started the worker ends; :func:`run_jobs`
    starts the workers from the thread that waits for their results, so that thread outlives them.
    On other systems a worker whose parent died ends after its current job.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(error)}")
        if os.getppid() != parent:  # the parent died before the request
            os._exit(1)
    if initializer is not None:
        initializer()
