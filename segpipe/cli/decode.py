"""``segpipe decode``: landmark contours and organ masks from images with a trained HybridGNet."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import add_config_option, add_threads_option, config_from_args, set_torch_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe decode``."""
    parser = subparsers.add_parser(
        "decode",
        help="decode landmark contours and organ masks with a trained HybridGNet",
        description=(
            "Predict landmarks for the images of a landmark dataset; write landmarks/<case>.csv, one predictions "
            "directory per organ (predictions/<organ>/, scored by `segpipe evaluate`) with the image geometry and "
            "the index decoded.json to --out."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--model", type=Path, required=True, metavar="PT", help="model.pt from train-landmarks")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="landmark dataset directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--split", default="test", help="split to decode (default: test)")
    parser.add_argument(
        "--group", action="append", metavar="NAME", help="only this group (repeatable; default: every group)"
    )
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decode and print where the index went."""
    from segpipe.inference.decode import decode_dataset
    from segpipe.utilities.devices import resolve_device

    config = config_from_args(args)
    set_torch_threads(args.threads)
    device = resolve_device(config["decode"]["train"]["device"], key="decode.train.device")
    path = decode_dataset(args.model, args.dataset, args.out, split=args.split, groups=args.group,
                          seed=config["decode"]["train"]["seed"], device=device)
    print(f"segpipe decode: wrote {path}")
    return 0
