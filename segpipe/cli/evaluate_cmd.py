"""``segpipe evaluate``: per-case metrics of a predictions directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import (
    add_config_option,
    add_manifest_option,
    add_progress_option,
    add_threads_option,
    config_from_args,
    set_torch_threads,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe evaluate``."""
    parser = subparsers.add_parser(
        "evaluate", help="score predictions against the reference labels (one CSV row per case)",
        description=(
            "Compute the metrics of `evaluate.metrics` for every predicted case against its `evaluate.label_type` "
            "label file (null: the label type of the run that made the predictions), in physical units, one worker process per core over the cases. Every metric defines its "
            "value for empty masks (e.g. Dice 1 if both are empty, else 0; HD95 and ASSD 0 if both are empty, the "
            "image diagonal if only one is); `segpipe report` lists them all."
        ),
    )
    add_config_option(parser)
    add_manifest_option(parser)
    parser.add_argument("--predictions", type=Path, required=True, metavar="DIR", help="directory written by `segpipe predict`")
    parser.add_argument("--out", type=Path, required=True, metavar="CSV", help="per-case metrics CSV")
    add_threads_option(parser)
    add_progress_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate ``args.predictions``."""
    config = config_from_args(args)
    set_torch_threads(1)  # parallel over cases instead
    from segpipe.evaluation.evaluate import evaluate

    out = evaluate(config, args.manifest, args.predictions, args.out, threads=args.threads, progress=not args.no_progress)
    print(f"segpipe evaluate: wrote {out}")
    return 0
