"""Data-parallel training on one node with ``torch.distributed``.

``train.distributed.processes: N`` (N > 1) makes :func:`segpipe.training.segmentation.train` run in N processes:
:func:`launch` starts them, each joins one process group (gloo on the CPU, NCCL on CUDA, one GPU
per process) and trains a :class:`~torch.nn.parallel.DistributedDataParallel` copy of the network
on its share of every batch (:meth:`Context.shard`). DDP averages the gradients, so with equal
shares and a loss that is a mean over samples the step is the one a single process takes on the
whole batch; the trajectories agree up to floating-point rounding.

Why segpipe starts its workers itself instead of the workflow calling ``torchrun``:

- one command in every setting: ``segpipe train`` by hand, in a Snakemake rule and in a SLURM job
  is the same command, and the configuration alone says how many processes train (a rule that
  wraps the command in ``torchrun`` would make the shell command depend on the configuration, and a
  hand-run ``segpipe train`` would silently train in one process);
- user errors (a bad setting, too few GPUs) are found before any worker starts, and a user error
  raised in a worker reaches the command's exit status 2 with its message, not a launcher traceback;
- no free-port guessing: the launcher opens the rendezvous store on a port the kernel assigns;
- no orphans: a worker dies with its launcher (``PR_SET_PDEATHSIG``), so a killed ``segpipe train``
  (out of memory, ``kill -9``) never leaves ranks behind that go on writing checkpoints, and when
  one worker fails the launcher stops the others instead of leaving them blocked in a collective.

Training runs on one node: all processes are children of one ``segpipe train`` (one SLURM task
with ``--cpus-per-task`` = threads and ``--gpus`` = processes on CUDA). Several nodes are out of scope.
``segpipe train`` started as one of several ranks by another launcher (``torchrun``, which sets
``WORLD_SIZE``) is refused: every rank would train the whole run on its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from segpipe.errors import ConfigError, SegpipeError

#: Exit status of a worker that stopped on a user error (the same as the CLI's).
USER_ERROR_STATUS = 2

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Context:
    """This process's place among the training processes.

    Attributes
    ----------
    rank
        Global rank (0 for a single process).
    world_size
        Number of training processes.
    local_rank
        Rank among the processes on this node (chooses the GPU).
    backend
        ``torch.distributed`` backend, or ``None`` for a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, logs and the model (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    def device(self, device: torch.device) -> torch.device:
        """This process's device: ``cuda:<local rank>`` for CUDA, else ``device`` itself."""
        if device.type != "cuda" or not self.active:
            return device
        if self.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"training process {self.rank} needs CUDA device {self.local_rank}, but only "
                f"{torch.cuda.device_count()} are visible", where="train.distributed.processes",
                fix="use at most one process per GPU (and ask the scheduler for that many GPUs)",
            )
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def shard(self, batch_size: int) -> range:
        """The slots of every batch that this process draws: ``rank, rank + world_size, ...``."""
        return range(self.rank, batch_size, self.world_size)

    def split(self, items: Sequence[Any]) -> list[Any]:
        """This process's share of ``items`` (every ``world_size``-th one, starting at ``rank``)."""
        return list(items[self.rank :: self.world_size])

    def wrap(self, network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``network`` for training: itself for one process, else a DDP copy (SyncBatchNorm on CUDA)."""
        if not self.active:
            return network
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":
            network = torch.nn.SyncBatchNorm.convert_sync_batchnorm(network)
            return DistributedDataParallel(network, device_ids=[device.index])
        return DistributedDataParallel(network)

    def mean(self, values: Sequence[float | torch.Tensor]) -> list[float]:
        """Average of ``values`` over all processes (each process gives the same number of values)."""
        return [value / self.world_size for value in self.sum(values)]

    def sum(self, values: Sequence[float | torch.Tensor]) -> list[float]:
        """Element-wise sum of ``values`` over all processes, as Python floats."""
        if not self.active:
            return [float(value) for value in values]
        import torch.distributed as dist

        device = torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")
        tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        """Wait until every process has reached this point."""
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def resolve_backend(backend: str, device: torch.device) -> str:
    """The ``train.distributed.backend`` to use: ``auto`` is ``nccl`` on CUDA and ``gloo`` on the CPU.

    Whether the backend fits the device is checked with the other settings
    (:func:`segpipe.config.distributed_problems`).
    """
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    return backend


def launch(
    function: Callable[..., Any], args: tuple[Any, ...], *, processes: int, backend: str, threads: int
) -> None:
    """Call ``function(context, *args)`` in every training process.

    One process: called here with a single-process :class:`Context`. Otherwise starts
    ``processes`` workers (``spawn``: a Python script that calls this needs the
    ``if __name__ == "__main__":`` guard), waits for them and stops the others as soon as one fails.

    Parameters
    ----------
    function
        Importable module-level function (workers import it again).
    args
        Picklable arguments after the context.
    processes
        Number of training processes (``train.distributed.processes``).
    backend
        ``gloo`` or ``nccl`` (:func:`resolve_backend`).
    threads
        CPU threads of the whole job; each process on this node gets an equal share (at least 1).

    Raises
    ------
    SegpipeError
        The first user error a worker raised; workers that exit otherwise raise torch's
        ``ProcessRaisedException`` / ``ProcessExitedException`` (with the worker's traceback).
    ConfigError
        If this process is one of several ranks started by another launcher (``torchrun``).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            f"this process is one of {os.environ['WORLD_SIZE']} started by a launcher such as torchrun "
            "(WORLD_SIZE is set), but segpipe starts its training processes itself",
            where="train.distributed.processes", fix="run `segpipe train` without torchrun and set the number of processes here",
        )
    if processes == 1:
        function(Context(), *args)
    else:
        share = max(1, threads // processes)
        note = f"{threads} thread(s) for {processes} processes: oversubscribed" if threads < processes else f"{share} thread(s) each"
        print(f"segpipe: training in {processes} processes ({backend}), {note}", file=sys.stderr)
        _spawn(function, args, processes, backend, share)


def _spawn(function: Callable[..., Any], args: tuple[Any, ...], processes: int, backend: str, threads: int) -> None:
    import torch.distributed as dist
    import torch.multiprocessing as mp

    # The store lives in this process; workers connect to the port the kernel chose.
    store = dist.TCPStore("127.0.0.1", 0, None, True, wait_for_workers=False)
    errors = mp.get_context("spawn").SimpleQueue()
    workers = mp.start_processes(
        _worker, args=(function, args, processes, backend, store.port, threads, os.getpid(), errors),
        nprocs=processes, join=False, start_method="spawn",
    )
    try:
        while not workers.join():
            pass
    except (mp.ProcessExitedException, mp.ProcessRaisedException):
        # A user error in one worker often makes the others fail in a collective first: report it.
        if not errors.empty():
            raise errors.get() from None
        raise


def _worker(
    index: int, function: Callable[..., Any], args: tuple[Any, ...], processes: int, backend: str, port: int,
    threads: int, launcher: int, errors: Any,
) -> None:
    """Entry point of one spawned worker (rank ``index``)."""
    _die_with(launcher)
    torch.set_num_threads(threads)
    context = Context(index, processes, index, backend)
    try:
        import torch.distributed as dist

        store = dist.TCPStore("127.0.0.1", port, None, False)
        with _process_group(context, store):
            function(context, *args)
    except SegpipeError as error:
        errors.put(error)
        sys.exit(USER_ERROR_STATUS)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (Linux), or exit if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


@contextlib.contextmanager
def _process_group(context: Context, store: Any) -> Iterator[None]:
    import torch.distributed as dist

    if context.backend == "nccl":
        torch.cuda.set_device(context.local_rank)
    dist.init_process_group(context.backend, store=store, rank=context.rank, world_size=context.world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()
