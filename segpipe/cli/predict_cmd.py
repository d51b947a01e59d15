"""``segpipe predict``: masks and probability maps from a trained model, of a manifest's cases or a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import (
    add_config_option,
    add_progress_option,
    add_threads_option,
    config_from_args,
    set_torch_threads,
)
from segpipe.errors import SegpipeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe predict``."""
    parser = subparsers.add_parser(
        "predict", help="predict masks and probability maps with a trained model (test cases, or a folder of images)",
        description=(
            "With --manifest: predict the cases of the splits in `predict.splits` (sliding window for patch-trained "
            "models). With --input DIR: predict every image of DIR (unlabelled images welcome; CASE_0000, CASE_0001, "
            "... files are one case's channels), normalised as the model's training images were; --config is then "
            "optional (defaults: the schema's predict settings). Writes {case}_mask.<ext> and {case}_prob.<ext> with "
            "the input's shape and geometry, then index.json."
        ),
    )
    add_config_option(parser, required=False)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="manifest.json written by `segpipe preprocess`")
    source.add_argument("--input", type=Path, metavar="DIR", help="folder of images to predict (no labels needed)")
    parser.add_argument("--model", type=Path, required=True, help="model.pt written by `segpipe train`")
    parser.add_argument("--out", "--output", dest="out", type=Path, required=True, metavar="DIR",
                        help="predictions directory")
    add_threads_option(parser)
    add_progress_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Predict with the model named by ``args.model``."""
    if args.config is None and args.manifest is not None:
        raise SegpipeError("--config is required with --manifest", fix="pass the configuration the workflow used")
    if args.config is not None:
        config = config_from_args(args)
    else:
        from segpipe.config import validate_config

        config = validate_config({}, source="defaults")
    set_torch_threads(args.threads)
    if args.input is not None:
        from segpipe.inference.folder import predict_folder

        index = predict_folder(args.model, args.input, args.out, config, show_progress=not args.no_progress)
    else:
        from segpipe.inference.predict import predict

        index = predict(config, args.manifest, args.model, args.out, show_progress=not args.no_progress)
    print(f"segpipe predict: wrote {index.parent}")
    return 0
