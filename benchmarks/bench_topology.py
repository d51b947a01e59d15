"""Speed and memory of segpipe.topology against gudhi, cripser and the reference Betti matching.

Every measurement runs in its own subprocess, which loads the inputs, runs the computation
``--repeat`` times (fewer when a run is slow) and reports the fastest run and its peak resident
memory (``ru_maxrss``, which includes the interpreter and the inputs: the baseline before the
computation is reported too). Inputs:

``random``
    Uniform noise for both prediction and target: the worst case for persistence (most bars).
``realistic``
    2D: a brick-wall mortar label (thin lines, as TopoMortar) and a "prediction" made from it by
    blurring, noise, dropped and spurious mortar; 3D: random tubes ("vessels") and a blurred noisy
    prediction of them.
``ramp``
    A structured prediction, ``np.arange(n**ndim).reshape(shape)`` (every voxel a distinct value,
    in C order), against a uniform noise target: it once cost several times a random pair
    (issue 19, item 2).

Usage::

    python benchmarks/bench_topology.py                      # all sizes, markdown tables on stdout
    python benchmarks/bench_topology.py --sizes 256 64 --repeat 5
    python benchmarks/bench_topology.py --profile matching-random 96   # one run, for perf/callgrind

Columns for the reference (``.cache/reference``, see scripts/fetch_reference_betti_matching.sh),
cripser and gudhi are skipped with a note when they are not available.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / ".cache" / "reference" / "topolosses" / "losses" / "betti_matching" / "src"
SLOW_SECONDS = 20.0  # stop repeating once a measurement has used this much time


# --------------------------------------------------------------------------------------- inputs
def mortar_label(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brick-wall mortar mask (1 = mortar) of size n x n with lines about n/128 + 2 pixels wide."""
    width = max(2, n // 128 + 2)
    brick_h, brick_w = max(8, n // 16), max(16, n // 6)
    label = np.zeros((n, n), dtype=np.float64)
    y0 = int(rng.integers(0, brick_h))
    for row, y in enumerate(range(-y0, n, brick_h)):
        label[max(y, 0) : max(y + width, 0), :] = 1.0
        offset = int(rng.integers(0, brick_w)) if row % 2 else brick_w // 2
        for x in range(-offset, n, brick_w):
            label[max(y, 0) : max(y + brick_h, 0), max(x, 0) : max(x + width, 0)] = 1.0
    return label


def vessel_label(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random smooth tubes (radius 1-3 voxels) through an n^3 volume."""
    label = np.zeros((n, n, n), dtype=bool)
    for _ in range(max(4, n // 8)):
        point = rng.uniform(0, n, size=3)
        direction = rng.normal(size=3)
        radius = rng.uniform(1.0, 3.0)
        for _ in range(4 * n):
            direction = direction / np.linalg.norm(direction) + 0.15 * rng.normal(size=3)
            point = point + direction / np.linalg.norm(direction)
            if np.any(point < -radius) or np.any(point > n + radius):
                break
            lo = np.maximum(np.floor(point - radius).astype(int), 0)
            hi = np.minimum(np.ceil(point + radius).astype(int) + 1, n)
            if np.any(hi <= lo):
                continue
            box = np.indices(tuple(hi - lo)).reshape(3, -1).T + lo
            inside = np.sum((box - point) ** 2, axis=1) <= radius**2
            label[tuple(box[inside].T)] = True
    return label.astype(np.float64)


def predicted_map(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible network output for ``label``: float32 sigmoid of blurred, noisy logits, with gaps
    and spurious blobs (confident regions saturate into ties, as real float32 outputs do)."""
    from scipy import ndimage

    corrupted = label.copy()
    holes = ndimage.gaussian_filter(rng.random(label.shape), 3) > 0.53
    blobs = ndimage.gaussian_filter(rng.random(label.shape), 3) > 0.535
    corrupted[holes] = 0.0
    corrupted[blobs] = 1.0
    logits = 16.0 * (ndimage.gaussian_filter(corrupted, 1.5) - 0.5) + 1.5 * rng.normal(size=label.shape)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float32)))).astype(np.float64)


def make_inputs(case: str, size: int, ndim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, target) of the benchmark case."""
    rng = np.random.default_rng(seed)
    shape = (size,) * ndim
    if case == "random":
        return rng.random(shape), rng.random(shape)
    if case == "ramp":
        return np.arange(float(np.prod(shape))).reshape(shape), rng.random(shape)
    label = mortar_label(size, rng) if ndim == 2 else vessel_label(size, rng)
    return predicted_map(label, rng), label


# --------------------------------------------------------------------------------------- tools
def reference_module():
    sys.path.insert(0, str(REFERENCE))
    import betti_matching

    return betti_matching


def tool_function(tool: str, threads: int):
    """The computation measured by ``tool``: a function of (predictions, targets) lists."""
    if tool == "ours_matching":
        from segpipe.topology import betti_matching

        # connectivity "face": the V-construction of the reference and cripser (like for like)
        return lambda p, t: [betti_matching(a, b, connectivity="face") for a, b in zip(p, t)]
    if tool == "ours_batch":
        from segpipe.topology import betti_matching_batch

        return lambda p, t: betti_matching_batch(p, t, threads=threads, connectivity="face")
    if tool == "ours_barcode":
        from segpipe.topology import barcode

        return lambda p, t: [barcode(a, connectivity="face") for a in p]
    if tool == "reference_matching":
        module = reference_module()
        # The reference computes sublevel filtrations: give it 1 - x (superlevel of x).
        return lambda p, t: [module.compute_matching(1.0 - a, 1.0 - b) for a, b in zip(p, t)]
    if tool == "reference_batch":
        module = reference_module()
        return lambda p, t: module.compute_matching([1.0 - a for a in p], [1.0 - b for b in t])
    if tool == "cripser":
        import cripser

        return lambda p, t: [cripser.computePH(a, maxdim=a.ndim - 1) for a in p]
    if tool == "gudhi":
        import gudhi

        return lambda p, t: [gudhi.CubicalComplex(vertices=a).persistence() for a in p]
    raise ValueError(tool)


def available(tool: str) -> str | None:
    """None if the tool can run here, else the reason why not."""
    if tool.startswith("reference") and not REFERENCE.is_dir():
        return "reference not fetched (scripts/fetch_reference_betti_matching.sh)"
    for module in {"cripser": "cripser", "gudhi": "gudhi"}.get(tool, "").split():
        try:
            __import__(module)
        except ImportError:
            return f"{module} not installed"
    return None


def memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) resident memory of this process in MB.

    (``ru_maxrss`` would not do: Linux keeps it across ``exec``, so a child would report its
    parent's peak.)
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def worker(spec: dict) -> dict:
    """Run one measurement (in a subprocess) and return its result."""
    if spec.get("engine"):
        sys.path.insert(0, str(ROOT / "scripts"))
        from engine_override import load_engine

        load_engine(spec["engine"])
    data = np.load(spec["data"])
    count = spec.get("pairs", 1)
    predictions = [np.ascontiguousarray(data["prediction"]) for _ in range(count)]
    targets = [np.ascontiguousarray(data["target"]) for _ in range(count)]
    function = tool_function(spec["tool"], spec.get("threads", 1))
    baseline = memory_mb("VmRSS")
    times = []
    while len(times) < spec["repeat"]:
        start = time.perf_counter()
        function(predictions, targets)
        times.append(time.perf_counter() - start)
        if sum(times) > SLOW_SECONDS:
            break
    return {"seconds": min(times), "runs": len(times), "peak_mb": memory_mb("VmHWM"), "baseline_mb": baseline}


def measure(spec: dict, timeout: float) -> dict | None:
    """Run ``worker(spec)`` in a fresh interpreter; None on failure."""
    command = [sys.executable, __file__, "--worker", json.dumps(spec)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"  {spec['tool']}: timed out after {timeout:.0f} s", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"  {spec['tool']} failed: {done.stderr[-800:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------- report
def machine_description() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {cores} cores available, {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average {load:.1f} at start; "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}"
    )


def cell(result: dict | None, key: str = "seconds", digits: int = 3) -> str:
    return "n/a" if result is None else f"{result[key]:.{digits}f}"


def ratio(numerator: dict | None, denominator: dict | None) -> str:
    if numerator is None or denominator is None:
        return "n/a"
    return f"{numerator['seconds'] / denominator['seconds']:.2f}x"


def run_benchmark(args: argparse.Namespace) -> None:
    notes = {tool: why for tool in ("reference_matching", "cripser", "gudhi") if (why := available(tool))}
    print(f"Machine: {machine_description()}\n")
    for tool, why in notes.items():
        print(f"Note: {tool} skipped: {why}")
    cores = args.threads or len(os.sched_getaffinity(0))
    rows, batch_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            ndim = 2 if size >= 200 else 3
            for case in args.cases:
                path = Path(tmp) / f"{case}-{size}.npz"
                prediction, target = make_inputs(case, size, ndim)
                np.savez(path, prediction=prediction, target=target)
                label = f"{case} {size}^{ndim}"
                print(f"measuring {label} ...", file=sys.stderr, flush=True)

                def run(tool, **extra):
                    if tool in notes or (tool == "gudhi" and args.skip_gudhi):
                        return None
                    spec = {"tool": tool, "data": str(path), "repeat": args.repeat, **extra}
                    return measure(spec, args.timeout)

                ours = run("ours_matching")
                reference = run("reference_matching")
                barcode, cripser, gudhi = run("ours_barcode"), run("cripser"), run("gudhi")
                rows.append((label, ours, reference, barcode, cripser, gudhi))
                if size in args.batch_sizes:
                    pairs = 2 * cores
                    one = run("ours_batch", pairs=pairs, threads=1)
                    many = run("ours_batch", pairs=pairs, threads=cores)
                    ref = None if "reference_matching" in notes else run("reference_batch", pairs=pairs)
                    batch_rows.append((label, pairs, one, many, ref))

    print("\n### Betti matching (one pair, one thread) and barcode (one array)\n")
    print("| input | ours BM s | ref BM s | ref/ours | ours peak MB | ref peak MB | ours barcode s "
          "| cripser s | cripser/ours | gudhi s | gudhi/ours |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, ours, reference, barcode, cripser, gudhi in rows:
        print(f"| {label} | {cell(ours)} | {cell(reference)} | {ratio(reference, ours)} | "
              f"{cell(ours, 'peak_mb', 0)} | {cell(reference, 'peak_mb', 0)} | {cell(barcode)} | "
              f"{cell(cripser)} | {ratio(cripser, barcode)} | {cell(gudhi)} | {ratio(gudhi, barcode)} |")
    baselines = [r[1]["baseline_mb"] for r in rows if r[1]]
    if baselines:
        print(f"\nPeak MB is the whole process; the interpreter with inputs loaded used "
              f"{min(baselines):.0f}-{max(baselines):.0f} MB before computing.")
    if batch_rows:
        print(f"\n### Batches of {2 * cores} pairs\n")
        print(f"| input | ours 1 thread s | ours {cores} threads s | speed-up | ref (std::async) s "
              "| ref/ours | ours peak MB | ref peak MB |")
        print("|---|---|---|---|---|---|---|---|")
        for label, pairs, one, many, ref in batch_rows:
            print(f"| {label} | {cell(one)} | {cell(many)} | {ratio(one, many)} | {cell(ref)} | "
                  f"{ratio(ref, many)} | {cell(many, 'peak_mb', 0)} | {cell(ref, 'peak_mb', 0)} |")


def run_profile(args: argparse.Namespace) -> None:
    what, case = args.profile[0].split("-", 1)
    size = int(args.profile[1])
    if args.engine:
        sys.path.insert(0, str(ROOT / "scripts"))
        from engine_override import load_engine

        load_engine(args.engine)
    prediction, target = make_inputs(case, size, 2 if size >= 200 else 3)
    function = tool_function("ours_matching" if what == "matching" else "ours_barcode", 1)
    start = time.perf_counter()
    function([prediction], [target])
    print(f"{args.profile[0]} {size}: {time.perf_counter() - start:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 64, 128],
                        help="edge lengths; >= 200 means 2D, else 3D")
    parser.add_argument("--cases", nargs="+", default=["random", "realistic"], choices=["random", "realistic", "ramp"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the fastest counts)")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[256, 512, 64],
                        help="sizes at which batches are measured")
    parser.add_argument("--threads", type=int, default=None, help="threads for batches (default: all CPUs)")
    parser.add_argument("--skip-gudhi", action="store_true", help="leave out gudhi (slow at 128^3)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement")
    parser.add_argument("--profile", nargs=2, metavar=("WHAT-CASE", "SIZE"),
                        help="run once: matching-random, matching-realistic, barcode-random, ...")
    parser.add_argument("--engine", help="path of an engine build to load instead of the installed one")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
    elif args.profile:
        run_profile(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
