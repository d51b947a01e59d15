"""``segpipe report``: one self-contained HTML report of every run's metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import (
    add_config_option,
    config_from_args,
)
from segpipe.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe report``."""
    parser = subparsers.add_parser(
        "report", help="write the HTML report (summary tables, statistics, plots, topology, examples, settings)",
        description=(
            "Summarise per-case metrics per configuration and test group in one self-contained HTML file (images "
            "inlined): means with bootstrap confidence intervals, paired permutation tests against the baseline loss "
            "(evaluate.statistics), metric plots, metric definitions and empty-mask rules, configuration and software "
            "versions. With --manifest and --predictions it adds example overlays and the persistence barcodes, "
            "diagrams and topological errors of the worst cases; with --train-logs, training curves. "
            "--profile decode writes the decode comparison instead (HybridGNet vs the segmentation network per organ: "
            "mask metrics, landmark errors with --input landmarks=CSV, overlays with --input decoded=DIR)."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--metrics", type=Path, nargs="+", required=True, metavar="CSV",
                        help="per-case metrics CSVs written by `segpipe evaluate`")
    parser.add_argument("--out", type=Path, required=True, metavar="HTML", help="report file")
    parser.add_argument("--manifest", type=Path, help="manifest.json (for example overlays and topology figures)")
    parser.add_argument("--predictions", type=Path, nargs="*", default=[], metavar="DIR",
                        help="predictions directories of the runs (for example overlays and topology figures)")
    parser.add_argument("--train-logs", type=Path, nargs="*", default=[], metavar="CSV",
                        help="RUN_DIR/train_log.csv files (for training curves)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=PATH", dest="inputs",
                        help="a further named input for sections added by other stages (repeatable): "
                             "train_benchmarks=TSV (Snakemake benchmark of a train job: training cost per loss), "
                             "photo=DIR (output of `segpipe photo`), landmarks=CSV (of `segpipe evaluate-decode`), "
                             "decoded=DIR (output of `segpipe decode`)")
    parser.add_argument("--profile", choices=["segmentation", "decode"], default="segmentation",
                        help="which report: the segmentation report (default) or the decode comparison")
    parser.add_argument("--metrics-out", type=Path, metavar="CSV", help="also write all per-case metrics to this CSV")
    parser.add_argument("--summary-out", type=Path, metavar="CSV",
                        help="also write the means and confidence intervals per configuration, group and metric")
    parser.add_argument("--tests-out", type=Path, metavar="CSV", help="also write the tests against the baseline")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="accepted for symmetry; the report is serial")
    parser.set_defaults(handler=run)


def named_inputs(pairs: list[str]) -> dict[str, list[Path]]:
    """``NAME=PATH`` arguments grouped by name.

    Raises
    ------
    ConfigError
        For an argument without ``=`` or with an empty name.
    """
    inputs: dict[str, list[Path]] = {}
    for pair in pairs:
        name, separator, path = pair.partition("=")
        if not separator or not name or not path:
            raise ConfigError(f"--input {pair!r} is not NAME=PATH", fix="write e.g. --input decode=results/decode")
        inputs.setdefault(name, []).append(Path(path))
    return inputs


def run(args: argparse.Namespace) -> int:
    """Build the report."""
    config = config_from_args(args)
    inputs = named_inputs(args.inputs)
    from segpipe.reporting import build_report

    out = build_report(
        config, args.metrics, args.out, manifest_path=args.manifest, prediction_dirs=args.predictions,
        train_logs=args.train_logs, inputs=inputs, combined_csv=args.metrics_out, summary_csv=args.summary_out,
        tests_csv=args.tests_out, profile=args.profile,
    )
    print(f"segpipe report: wrote {out}")
    return 0
