"""``segpipe synth chest``: synthetic chest x-ray-like images with landmark contours.

:func:`add_chest_parser` adds ``chest`` to a ``segpipe synth`` sub-command group. Until the
group exists elsewhere, :func:`add_parser` registers ``synth`` with ``chest`` as its only kind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe synth`` holding the ``chest`` generator."""
    parser = subparsers.add_parser(
        "synth", help="generate synthetic datasets", description="Generate a synthetic dataset of the given kind."
    )
    add_chest_parser(parser.add_subparsers(dest="kind", required=True, metavar="KIND"))


def add_chest_parser(kinds: argparse._SubParsersAction) -> None:
    """Register ``chest`` under a ``segpipe synth`` group's sub-parsers."""
    parser = kinds.add_parser(
        "chest",
        help="chest x-ray-like images with lung/heart landmark contours (clean and occluded test sets)",
        description=(
            "Write synthetic chest x-ray-like images, per-image landmark CSVs, organ masks and their union, "
            "dataset.json and landmarks.json (settings: decode.template and decode.synthetic)."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset directory to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the chest dataset described by the configuration."""
    from segpipe.data.chest import ChestSynthConfig, generate_chest_dataset
    from segpipe.models.graph import load_template

    config = config_from_args(args)
    decode = config["decode"]
    path = generate_chest_dataset(args.out, load_template(decode["template"]), ChestSynthConfig.from_config(decode["synthetic"]))
    print(f"segpipe synth chest: wrote {path}")
    return 0
