"""Markdown summary of a finished study for RESULTS.md: the tables per setting and the costs.

Reads what `make study` wrote (``results/study`` by default): ``metrics.csv`` (every run's per-case
metrics), the configuration snapshot, and the Snakemake benchmark files of every job. Prints the
report's study tables as markdown (bold/italics as in the report), the training cost per loss, and
the time the workflow took: the sum of the jobs' wall times and CPU times, and that CPU time over
the cores, i.e. what the jobs need on an otherwise idle machine.

Usage::

    python benchmarks/study_summary.py [results/study] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml

from segpipe.reporting.aggregation import load_metrics
from segpipe.reporting.context import ReportContext
from segpipe.reporting.sections.study import setting_tables, training_costs


def _markdown(frame: pd.DataFrame) -> str:
    cells = frame.astype(str).apply(lambda column: column.str.replace("<b>", "**").str.replace("</b>", "**")
                                    .str.replace("<i>", "_").str.replace("</i>", "_"))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def job_times(benchmarks: Path, runs: set[str]) -> pd.DataFrame:
    """Wall and CPU seconds of every job, by stage (the benchmark file's directory or name).

    Jobs of runs outside ``runs`` (left in the folder by an earlier, larger grid) are left out.
    """
    rows = []
    for path in benchmarks.rglob("*.tsv"):
        if path.parent != benchmarks and path.stem not in runs:
            continue
        table = pd.read_csv(path, sep="\t")
        stage = path.parent.name if path.parent != benchmarks else path.stem
        rows.append({"stage": stage, "wall": float(table["s"].iloc[-1]),
                     "cpu": float(pd.to_numeric(table["cpu_time"], errors="coerce").fillna(0).iloc[-1])})
    return pd.DataFrame(rows)


def main() -> None:
    """Print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=Path("results/study"))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    snapshots = sorted((args.results / "configs").glob("*.yaml"), key=lambda p: p.stat().st_mtime)
    config = yaml.safe_load(snapshots[-1].read_text())
    frame = load_metrics([args.results / "metrics.csv"])
    for (model, label_type, training_set, framework), table in setting_tables(ReportContext(config=config, frame=frame)).items():
        print(f"\n**{model}, {label_type} labels, {training_set} training set, {framework}**\n")
        print(_markdown(table))
    runs = set(frame["run_id"])
    costs = training_costs(sorted(path for path in (args.results / "benchmarks" / "train").glob("*.tsv") if path.stem in runs))
    print("\n**Training cost per loss** (wall time per run on one thread, largest peak RSS)\n")
    print(_markdown(costs.reset_index().round(1)))
    times = job_times(args.results / "benchmarks", runs)
    per_stage = times.groupby("stage")[["wall", "cpu"]].sum().round(0)
    print("\n**Jobs** (seconds, summed over jobs)\n")
    print(_markdown(per_stage.reset_index()))
    print(f"\nCPU time of all jobs / {args.cores} cores = {times['cpu'].sum() / args.cores / 60:.1f} min; "
          f"wall time of all jobs / {args.cores} = {times['wall'].sum() / args.cores / 60:.1f} min")
    photo = args.results / "photo" / "photo.json"
    if photo.is_file():
        print("\nPhoto:", json.dumps(json.loads(photo.read_text())))


if __name__ == "__main__":
    main()
