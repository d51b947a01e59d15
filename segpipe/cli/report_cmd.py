"""``segpipe report``: one self-contained HTML report of every run's metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import (
    add_config_option,
    config_from_args,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe report``."""
    parser = subparsers.add_parser(
        "report", help="write the HTML report (summary tables, plots, examples, settings)",
        description=(
            "Summarise per-case metrics per run and test group in one self-contained HTML file (images inlined). "
            "With --manifest and --predictions it shows example overlays; with --train-logs, training curves."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--metrics", type=Path, nargs="+", required=True, metavar="CSV",
                        help="per-case metrics CSVs written by `segpipe evaluate`")
    parser.add_argument("--out", type=Path, required=True, metavar="HTML", help="report file")
    parser.add_argument("--manifest", type=Path, help="manifest.json (for example overlays)")
    parser.add_argument("--predictions", type=Path, nargs="*", default=[], metavar="DIR",
                        help="predictions directories of the runs (for example overlays)")
    parser.add_argument("--train-logs", type=Path, nargs="*", default=[], metavar="CSV",
                        help="RUN_DIR/train_log.csv files (for training curves)")
    parser.add_argument("--metrics-out", type=Path, metavar="CSV", help="also write all per-case metrics to this CSV")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="accepted for symmetry; the report is serial")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the report."""
    config = config_from_args(args)
    from segpipe.report import build_report

    out = build_report(
        config, args.metrics, args.out, manifest_path=args.manifest, prediction_dirs=args.predictions,
        train_logs=args.train_logs, combined_csv=args.metrics_out,
    )
    print(f"segpipe report: wrote {out}")
    return 0
