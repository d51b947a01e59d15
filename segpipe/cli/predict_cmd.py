"""``segpipe predict``: masks and probability maps of the test cases from a trained model."""

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
    """Register ``segpipe predict``."""
    parser = subparsers.add_parser(
        "predict", help="predict masks and probability maps of the test cases with a trained model",
        description=(
            "Predict the cases of the splits in `predict.splits` (sliding window for patch-trained models). "
            "Writes {case}_mask.<ext> and {case}_prob.<ext> with the input's geometry, then index.json."
        ),
    )
    add_config_option(parser)
    add_manifest_option(parser)
    parser.add_argument("--model", type=Path, required=True, help="model.pt written by `segpipe train`")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="predictions directory")
    add_threads_option(parser)
    add_progress_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Predict with the model named by ``args.model``."""
    config = config_from_args(args)
    set_torch_threads(args.threads)
    from segpipe.inference.predict import predict

    index = predict(config, args.manifest, args.model, args.out, show_progress=not args.no_progress)
    print(f"segpipe predict: wrote {index.parent}")
    return 0
