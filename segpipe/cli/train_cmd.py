"""``segpipe train``: train one run of the experiment grid."""

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
    """Register ``segpipe train``."""
    parser = subparsers.add_parser(
        "train", help="train one run (network, loss, label type, training set, seed) and write model.pt",
        description=(
            "Train the network of `train.network` on the run's label type and training set with the run's loss. "
            "Writes RUN_DIR/train_log.csv and RUN_DIR/model.pt; checkpoints in RUN_DIR/checkpoints let a killed "
            "run resume where it stopped when the same command is run again."
        ),
    )
    add_config_option(parser)
    add_manifest_option(parser)
    parser.add_argument(
        "--run", required=True, metavar="RUN_ID",
        help="run identifier {model}.{loss}.{label_type}.{training_set}.{framework}.s{seed}, e.g. unet.dice_ce.accurate.large.plain.s0",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run directory")
    parser.add_argument(
        "--teacher", type=Path, metavar="MODEL",
        help="model.pt of the teacher run (self_distillation runs only: the plain run with the same loss, labels, "
             "training set and seed); its thresholded predictions of the training images are the labels",
    )
    add_threads_option(parser)
    add_progress_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train the run named by ``args.run``."""
    config = config_from_args(args)
    set_torch_threads(args.threads)
    from segpipe.training.segmentation import train

    model = train(config, args.manifest, args.run, args.out, teacher=args.teacher, show_progress=not args.no_progress)
    print(f"segpipe train: wrote {model}")
    return 0
