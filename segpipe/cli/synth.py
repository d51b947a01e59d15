"""``segpipe synth``: generate a synthetic data set from the ``dataset.synthetic`` configuration."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args

#: Generators by kind (the values of ``dataset.synthetic.kind``): module, spec class, function.
GENERATORS = {
    "mortar": ("segpipe.data.mortar", "MortarSpec", "generate_mortar_dataset"),
    "vessels": ("segpipe.data.vessels", "VesselSpec", "generate_vessel_dataset"),
}
KINDS = tuple(GENERATORS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe synth``."""
    parser = subparsers.add_parser(
        "synth", help="generate a synthetic data set (brick walls or 3D vessel trees)",
        description=(
            "Generate a synthetic data set as configured under dataset.synthetic. "
            "mortar writes TopoMortar's layout (splits.yaml, {train,val,test}/{images,accurate,noisy,pseudo}); "
            "vessels writes NIfTI volumes in the dataset.json layout. Both write betti_numbers.csv. "
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
    module_name, spec_name, function_name = GENERATORS[kind]
    module = importlib.import_module(module_name)
    spec = getattr(module, spec_name).from_config(config)
    getattr(module, function_name)(spec, args.out, progress=sys.stderr.isatty())
    print(f"segpipe synth {kind}: wrote {args.out}")
    return 0
