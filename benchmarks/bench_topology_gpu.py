"""CPU vs GPU time of batched Betti matchings (``segpipe.topology.betti_matching_batch``).

For each input (``random`` noise or ``realistic`` prediction/label pairs, as in
``bench_topology.py``; sizes >= 200 are 2D, smaller ones 3D) a batch of ``--batch`` pairs is
matched on ``--threads`` threads with the CPU backend and with the CUDA backend, from NumPy arrays
(copied to the GPU by the engine) and, when torch has CUDA, from float32 torch tensors already on
the GPU (no host round trip). Every number is the fastest of ``--repeat`` runs after one warm-up
run (which also creates the CUDA context). The results of all backends are compared: they must be
identical. Only the per-voxel stages run on the GPU; the union-finds and reductions run on the
CPU, one pair per thread, in both columns.

Usage::

    python benchmarks/bench_topology_gpu.py                       # 512^2 and 128^3, 8 pairs each
    python benchmarks/bench_topology_gpu.py --sizes 512 --batch 32 --threads 16
    python benchmarks/bench_topology_gpu.py --backends cpu --sizes 64 16 --batch 2   # no GPU needed

Prints a markdown table (with the machine and the GPU) for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_topology import machine_description, make_inputs  # noqa: E402

from segpipe.topology import _engine, betti_matching_batch, cuda_available  # noqa: E402
from segpipe.topology.backend import cuda_unavailable_reason  # noqa: E402


def gpu_description() -> str:
    """Name, memory and driver of the GPUs (nvidia-smi), or why there is none."""
    if not cuda_available():
        return f"none ({cuda_unavailable_reason()})"
    try:
        query = "--query-gpu=name,memory.total,driver_version"
        lines = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()
        return "; ".join(lines)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"a CUDA device (nvidia-smi failed: {error})"


def fastest(run, repeat: int) -> tuple[float, list]:
    """Seconds of the fastest of ``repeat`` runs after a warm-up run, and the last result."""
    result = run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def identical(first: list, second: list) -> bool:
    """Whether two lists of BettiMatching have equal coordinates everywhere."""
    for x, y in zip(first, second, strict=True):
        for a, b in zip(x, y, strict=True):
            for field in a.__dataclass_fields__:
                if not np.array_equal(getattr(a, field), getattr(b, field)):
                    return False
    return True


def device_tensors(arrays: list[np.ndarray]) -> list | None:
    """The arrays as float32 torch tensors on the GPU, or None without torch CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return [torch.as_tensor(a, dtype=torch.float32, device="cuda") for a in arrays]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 128], help=">= 200: 2D, else 3D")
    parser.add_argument("--cases", nargs="+", default=["random", "realistic"], choices=["random", "realistic"])
    parser.add_argument("--batch", type=int, default=8, help="pairs per batch")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all CPUs)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (the fastest counts)")
    parser.add_argument("--backends", nargs="+", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    args = parser.parse_args()
    if "cuda" in args.backends and not cuda_available():
        sys.exit(f"the CUDA backend cannot run here: {cuda_unavailable_reason()} (use --backends cpu)")
    threads = args.threads or len(os.sched_getaffinity(0))

    print(f"Machine: {machine_description()}")
    print(f"GPU: {gpu_description()}")
    print(f"Engine {_engine.engine_version()}, build options {_engine.build_options()}")
    print(f"Batches of {args.batch} pairs on {threads} threads; fastest of {args.repeat} runs after a warm-up.\n")
    print("| input | CPU s | GPU s (NumPy inputs) | speed-up | GPU s (torch CUDA float32) | speed-up | identical |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        ndim = 2 if size >= 200 else 3
        for case in args.cases:
            print(f"measuring {case} {size}^{ndim} ...", file=sys.stderr, flush=True)
            pairs = [make_inputs(case, size, ndim, seed=i) for i in range(args.batch)]
            predictions = [p.astype(np.float32).astype(np.float64) for p, _ in pairs]  # float32-exact
            targets = [t for _, t in pairs]
            times, results = {}, {}
            for backend in args.backends:
                times[backend], results[backend] = fastest(
                    lambda: betti_matching_batch(predictions, targets, threads=threads, backend=backend, connectivity="face"),
                    args.repeat,
                )
            on_device = device_tensors(predictions) if "cuda" in args.backends else None
            if on_device is not None:
                device_targets = device_tensors(targets)
                times["torch"], results["torch"] = fastest(
                    lambda: betti_matching_batch(on_device, device_targets, threads=threads, backend="cuda", connectivity="face"),
                    args.repeat,
                )
            same = all(identical(results[args.backends[0]], other) for other in results.values())

            def seconds(key: str) -> str:
                return f"{times[key]:.3f}" if key in times else "n/a"

            def speedup(key: str) -> str:
                return f"{times['cpu'] / times[key]:.2f}x" if key in times and "cpu" in times else "n/a"

            print(f"| {case} {size}^{ndim} x {args.batch} | {seconds('cpu')} | {seconds('cuda')} | {speedup('cuda')} "
                  f"| {seconds('torch')} | {speedup('torch')} | {'yes' if same else 'NO'} |", flush=True)
            if not same:
                sys.exit("the backends gave different matchings")


if __name__ == "__main__":
    main()
