"""Time per case of the evaluation metrics, and of `segpipe evaluate` on the default run's test set.

Per-case timings (``--sizes``): the realistic inputs of ``bench_topology.py`` (a brick-wall mortar
label and a blurred, noisy sigmoid "prediction" of it in 2D; random tubes in 3D), one
subprocess per (size, connectivity). In each, every registered metric is timed alone on a fresh
case (so HD95, ASSD and NSD each pay the shared surface-distance pass), then the full metric set
on one case (serially, and with its metrics on ``--threads`` threads). The fastest of
``--repeat`` runs is reported (fewer repeats once a measurement has used ``SLOW_SECONDS``); the
machine is shared, so minima are the honest figure. Peak memory is the subprocess's ``ru_maxrss``
(whole process: interpreter, torch, inputs).

Default run (``--default-run``): generates the default configuration's synthetic mortar data set
(80 test images at 128 px), makes a prediction of each test image from its label as above, and
times ``segpipe.evaluation.evaluate.evaluate`` with the full metric set on ``--threads`` worker processes,
start-up of the workers included.

Usage::

    python benchmarks/bench_evaluate.py                         # 512^2 and 128^3, markdown on stdout
    python benchmarks/bench_evaluate.py --sizes 128x2 --repeat 5
    python benchmarks/bench_evaluate.py --default-run --threads 2
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

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_topology import make_inputs  # noqa: E402  (the same realistic inputs as the engine benchmark)

SLOW_SECONDS = 40.0


def _fastest(function, repeat: int) -> float:
    """Fastest of up to ``repeat`` calls of ``function()`` (stops repeating after SLOW_SECONDS)."""
    best, spent = float("inf"), 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > SLOW_SECONDS:
            break
    return best


def measure(size: int, ndim: int, connectivity: str, repeat: int, threads: int) -> dict:
    """Per-metric and full-set seconds for one case of the realistic input (run in a subprocess)."""
    import torch

    from segpipe.evaluation.metrics import CaseInputs, MetricSettings, compute_metrics, metric_names

    torch.set_num_threads(1)
    probability, label = make_inputs("realistic", size, ndim)
    settings = MetricSettings(connectivity=connectivity)

    def case() -> CaseInputs:
        return CaseInputs(probability > 0.5, label > 0.5, (1.0,) * ndim, probability, settings)

    compute_metrics(["dice", "hd95"], case())  # imports (MONAI) outside the timings
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = {name: _fastest(lambda name=name: compute_metrics([name], case()), repeat) for name in metric_names()}
    seconds["all (serial)"] = _fastest(lambda: compute_metrics(metric_names(), case()), repeat)
    seconds[f"all ({threads} threads)"] = _fastest(lambda: compute_metrics(metric_names(), case(), threads=threads), repeat)
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "baseline_mb": baseline_mb}


def default_run(threads: int) -> dict:
    """Seconds of `evaluate` (all metrics) on the default configuration's test set, with predictions made from labels."""
    from segpipe.config import load_config
    from segpipe.datasets.layout import read_dataset
    from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset
    from segpipe.evaluation.evaluate import evaluate
    from segpipe.inference.predictions import PredictedCase, case_paths, write_index
    from segpipe.io.images import read_mask, write_image

    sys.path.insert(0, str(ROOT))
    from bench_topology import predicted_map

    config = load_config(ROOT.parent / "config.yaml")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        generate_mortar_dataset(MortarSpec.from_config(config), root / "data")
        manifest = read_dataset(root / "data")
        manifest_path = manifest.save(root / "manifest.json")
        rng = np.random.default_rng(0)
        written = []
        for case in manifest.select(split="test"):
            label, geometry = read_mask(case.labels["accurate"])
            probability = predicted_map((label > 0).astype(np.float64), rng).astype(np.float32)
            mask_path, probability_path = case_paths(root / "predictions", case.case_id, case.image)
            write_image(mask_path, probability > 0.5, geometry)
            write_image(probability_path, probability, geometry)
            written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
        write_index(root / "predictions", "unet.dice_ce.accurate.large.plain.s0", 0.5, written)
        start = time.perf_counter()
        evaluate(config, manifest_path, root / "predictions", root / "metrics.csv", threads=threads)
        return {"cases": len(written), "size": config["dataset"]["synthetic"]["image_size"],
                "metrics": len(config["evaluate"]["metrics"]), "seconds": time.perf_counter() - start}


def _run_child(arguments: list[str]) -> dict:
    output = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", default=["512x2", "128x3"], help="SIDExDIMENSIONS, e.g. 512x2 128x3")
    parser.add_argument("--connectivity", nargs="+", default=["full", "face"], choices=["full", "face"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--default-run", action="store_true", help="also time `evaluate` on the default run's test set")
    parser.add_argument("--child", nargs=3, metavar=("SIZE", "NDIM", "CONNECTIVITY"), help=argparse.SUPPRESS)
    parser.add_argument("--child-default-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, ndim, connectivity = args.child
        print(json.dumps(measure(int(size), int(ndim), connectivity, args.repeat, args.threads)))
        return
    if args.child_default_run:
        print(json.dumps(default_run(args.threads)))
        return

    load = os.getloadavg()[0]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}; load average {load:.1f} at the start; "
          f"{datetime.date.today().isoformat()}; fastest of {args.repeat}\n")
    columns, results = [], {}
    for spec in args.sizes:
        size, ndim = (int(part) for part in spec.split("x"))
        for connectivity in args.connectivity:
            label = f"{size}^{ndim} {connectivity}"
            columns.append(label)
            results[label] = _run_child(["--child", str(size), str(ndim), connectivity, "--repeat", str(args.repeat),
                                         "--threads", str(args.threads)])
    if columns:
        rows = list(results[columns[0]]["seconds"])
        print("| metric | " + " | ".join(f"{c} s" for c in columns) + " |")
        print("|---|" + "---|" * len(columns))
        for row in rows:
            print(f"| {row} | " + " | ".join(f"{results[c]['seconds'][row]:.3f}" for c in columns) + " |")
        print("| peak MB (baseline) | " + " | ".join(
            f"{results[c]['peak_mb']:.0f} ({results[c]['baseline_mb']:.0f})" for c in columns) + " |")
    if args.default_run:
        run = _run_child(["--child-default-run", "--threads", str(args.threads)])
        print(f"\nDefault run: evaluate, {run['metrics']} metrics, {run['cases']} test cases at {run['size']} px, "
              f"{args.threads} worker processes: {run['seconds']:.1f} s (one run, worker start-up included)")


if __name__ == "__main__":
    main()
