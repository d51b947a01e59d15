"""``segpipe synth``: generate a synthetic data set from the ``dataset.synthetic`` configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args

#: Generators by kind (the values of ``dataset.synthetic.kind``).
KINDS = ("mortar",)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe synth``."""
    parser = subparsers.add_parser(
        "synth", help="generate a synthetic data set (TopoMortar-style brick walls)",
        description=(
            "Generate a synthetic data set as configured under dataset.synthetic. "
            "mortar writes TopoMortar's layout (splits.yaml, {train,val,test}/{images,accurate,noisy,pseudo}). "
            "The same seed gives byte-identical files; OUT is replaced as a whole."
        ),
    )
    parser.add_argument(
        "kind", nargs="?", choices=KINDS, metavar="KIND",
        help=f"what to generate ({', '.join(KINDS)}); default: dataset.synthetic.kind of the configuration",
    )
    add_config_option(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset directory to (re)create")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the data set named by ``args.kind`` (or the configuration) into ``args.out``."""
    config = config_from_args(args)
    kind = args.kind or config["dataset"]["synthetic"]["kind"]
    from segpipe.data.mortar import MortarSpec, generate_mortar_dataset

    generate_mortar_dataset(MortarSpec.from_config(config), args.out, progress=sys.stderr.isatty())
    print(f"segpipe synth {kind}: wrote {args.out}")
    return 0
