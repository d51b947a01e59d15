"""``segpipe train-landmarks``: train HybridGNet on a landmark dataset (resumes after interruption)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segpipe.cli.common import add_config_option, add_threads_option, config_from_args, set_torch_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe train-landmarks``."""
    parser = subparsers.add_parser(
        "train-landmarks",
        help="train HybridGNet (image -> landmark graph) on a landmark dataset",
        description=(
            "Train HybridGNet with the decode.model and decode.train settings. Writes checkpoints/, train_log.csv and "
            "model.pt to --out; a second call with the same settings resumes from the newest checkpoint."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="landmark dataset directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    add_threads_option(parser)
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar (default: when standard error is a terminal)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train and print where the model went."""
    from segpipe.training.landmarks import train_landmarks

    config = config_from_args(args)
    set_torch_threads(args.threads)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    path = train_landmarks(config, args.dataset, args.out, progress=progress)
    print(f"segpipe train-landmarks: wrote {path}")
    return 0
