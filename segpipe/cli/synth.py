"""``segpipe synth``: generate a synthetic data set from the ``dataset.synthetic`` configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segpipe.cli.common import add_config_option, config_from_args


def _mortar(config: dict[str, Any], out: Path, progress: bool) -> None:
    from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset

    generate_mortar_dataset(MortarSpec.from_config(config), out, progress=progress)


def _vessels(config: dict[str, Any], out: Path, progress: bool) -> None:
    from segpipe.datasets.synthetic.vessels import VesselSpec, generate_vessel_dataset

    generate_vessel_dataset(VesselSpec.from_config(config), out, progress=progress)


def _chest(config: dict[str, Any], out: Path, progress: bool) -> None:
    from segpipe.datasets.synthetic.chest import ChestSynthConfig, generate_chest_dataset
    from segpipe.networks.graph import load_template

    decode = config["decode"]
    generate_chest_dataset(out, load_template(decode["template"]), ChestSynthConfig.from_config(decode["synthetic"]))


#: Generators by kind: mortar and vessels read ``dataset.synthetic``, chest reads ``decode``.
GENERATORS: dict[str, Callable[[dict[str, Any], Path, bool], None]] = {
    "mortar": _mortar,
    "vessels": _vessels,
    "chest": _chest,
}
KINDS = tuple(GENERATORS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe synth``."""
    parser = subparsers.add_parser(
        "synth", help="generate a synthetic data set (brick walls, 3D vessel trees or chest x-rays)",
        description=(
            "Generate a synthetic data set as configured under dataset.synthetic. "
            "mortar writes TopoMortar's layout (splits.yaml, {train,val,test}/{images,accurate,noisy,pseudo}); "
            "vessels writes NIfTI volumes in the dataset.json layout; both write betti_numbers.csv. "
            "chest writes x-ray-like images with landmark contours for the decode stage (settings: decode). "
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
    GENERATORS[kind](config, args.out, sys.stderr.isatty())
    print(f"segpipe synth {kind}: wrote {args.out}")
    return 0
