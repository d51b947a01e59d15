"""``segpipe preprocess``: validate a dataset, normalise it, write cases, manifest and fingerprint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segpipe.cli.common import add_config_option, add_threads_option, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe preprocess``."""
    parser = subparsers.add_parser(
        "preprocess", help="validate and normalise a dataset; write cases, manifest.json and fingerprint.json",
        description=(
            "Read a dataset (TopoMortar layout with splits.yaml, or dataset.json), check every image and "
            "label (binary labels unless preprocess.label_policy is binarise, or classes for multi-class labels; no NaN, matching shape and geometry; all "
            "problems are listed), resample to preprocess.target_spacing if set, normalise "
            "intensities per preprocess.normalisation (and, with preprocess.distance_maps, compute each label's "
            "signed distance map for the boundary loss) and write OUT/cases/{id}.npz, OUT/fingerprint.json "
            "and OUT/manifest.json."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="dataset directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Preprocess ``args.dataset`` into ``args.out``."""
    config = config_from_args(args)
    from segpipe.preprocessing.preprocess import LabelPolicy, preprocess_dataset

    settings = config["preprocess"]
    manifest = preprocess_dataset(
        args.dataset, args.out, normalisation=settings["normalisation"], distance_maps=settings["distance_maps"],
        label_policy=LabelPolicy(settings["label_policy"], float(settings["label_threshold"])),
        target_spacing=settings["target_spacing"], threads=args.threads, progress=sys.stderr.isatty(),
        predicted_splits=config["predict"]["splits"],
    )
    print(f"segpipe preprocess: {len(manifest.cases)} cases -> {args.out}")
    return 0
