"""``segpipe import-landmarks``: describe a JSRT-style landmark dataset in segpipe's layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe import-landmarks``."""
    parser = subparsers.add_parser(
        "import-landmarks", help="describe a landmark dataset (Gaggion's JSRT layout) in segpipe's layout",
        description=(
            "Read a landmark dataset (Train/Val/Test with Images/ and landmarks/) with the template of "
            "decode.template, rasterise each organ's reference mask and their union, and write dataset.json "
            "(images and landmark files stay in place) and landmark_template.json to --out, which every segpipe "
            "stage reads."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="landmark dataset directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory of the new description")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Import and print where the description went."""
    from segpipe.datasets.landmarks import read_landmark_dataset, write_segpipe_layout
    from segpipe.networks.graph import load_template

    config = config_from_args(args)
    dataset = read_landmark_dataset(args.dataset, load_template(config["decode"]["template"]))
    print(f"segpipe import-landmarks: wrote {write_segpipe_layout(dataset, args.out)}")
    return 0
