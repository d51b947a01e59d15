"""Run the workflow's `decode` target and print its comparison as Markdown tables for RESULTS.md.

HybridGNet and the segmentation pipeline's UNet are trained, run and scored by the workflow
(`snakemake decode`, workflows/rules/decode.smk); this script only times the run and formats the
scores it leaves in ``results/decode/scores`` and the per-job times in ``results/benchmarks/decode``.

Usage::

    python benchmarks/decode_vs_unet.py --workdir /tmp/decode_bench [--configfile extra.yaml] [--cores 2]

``--configfile`` files are merged over config.yaml (e.g. more iterations for both methods); pass
``--results-dir`` when they change ``results_dir``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from segpipe.reporting.aggregation import group_order

REPO = Path(__file__).resolve().parents[1]
SCORES = ("dice", "hd95", "betti0_error", "betti1_error")
#: Method of a run, by the framework part of its identifier (segpipe.experiments.decode_comparison).
METHODS = {"hybridgnet": "HybridGNet", "plain": "UNet"}


def mask_rows(scores: pd.DataFrame) -> list[str]:
    """Markdown rows: test set, method, then Dice / HD95 / Betti0 / Betti1 error per organ (means)."""
    organs = list(dict.fromkeys(scores["label_type"]))
    lines = [f"| test set | method | {' | '.join(organs)} |", "|---|---|" + "---|" * len(organs)]
    for group in group_order(scores["group"]):
        for framework in dict.fromkeys(scores["framework"]):
            cells = []
            for organ in organs:
                rows = scores[(scores["group"] == group) & (scores["framework"] == framework) & (scores["label_type"] == organ)]
                d, h, b0, b1 = (rows[column].mean() for column in SCORES)
                cells.append(f"{d:.3f} / {h:.1f} / {b0:.2f} / {b1:.2f}")
            lines.append(f"| {group} | {METHODS.get(framework, framework)} | {' | '.join(cells)} |")
    return lines


def main() -> None:
    """Run the target, then print the tables and the job times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="directory for results/ (created)")
    parser.add_argument("--configfile", type=Path, action="append", default=[], help="YAML merged over config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--results-dir", default="results", help="the configuration's results_dir (default: results)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "snakemake", "decode", "-s", str(REPO / "Snakefile"), "--directory", str(args.workdir),
               "--cores", str(args.cores), *(f for path in args.configfile for f in ("--configfile", str(path.resolve())))]
    began = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - began
    results = args.workdir / args.results_dir
    scores_dir = results / "decode" / "scores"
    scores = pd.concat([pd.read_csv(path) for path in sorted(scores_dir.glob("*.s*.csv"))], ignore_index=True)
    landmarks = pd.read_csv(scores_dir / "landmarks.csv")
    print("\nLandmarks (mean MSE px^2 / mean distance px):\n")
    print("| test set | method | MSE (px^2) | mean distance (px) |\n|---|---|---|---|")
    for (group, method), rows in landmarks.groupby(["group", "method"]):
        print(f"| {group} | {method} | {rows['mse_px2'].mean():.2f} | {rows['mean_distance_px'].mean():.2f} |")
    print("\nMasks (mean Dice / HD95 / Betti0 error / Betti1 error):\n")
    print("\n".join(mask_rows(scores)))
    print(f"\nsnakemake decode: {wall:.0f} s wall on {args.cores} core(s); per job (s):")
    for path in sorted((results / "benchmarks" / "decode").rglob("*.tsv")):
        seconds = pd.read_csv(path, sep="\t")["s"].iloc[-1]
        print(f"  {path.relative_to(results / 'benchmarks' / 'decode').with_suffix('')}: {seconds:.1f}")


if __name__ == "__main__":
    main()
