"""``segpipe report-decode``: the HTML report comparing HybridGNet with the segmentation network."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe report-decode``."""
    parser = subparsers.add_parser(
        "report-decode", help="write the decode report (HybridGNet vs UNet per organ, clean and occluded)",
        description=(
            "One self-contained HTML file: Dice, HD95 and Betti errors per test group, organ and method, landmark "
            "errors against the mean-shape baseline, metric plots and, with --manifest and --predictions, example "
            "overlays (HybridGNet's landmarks with --decoded)."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--metrics", type=Path, nargs="+", required=True, metavar="CSV",
                        help="per-case metrics CSVs written by `segpipe evaluate`, one per method and organ")
    parser.add_argument("--landmarks", type=Path, required=True, metavar="CSV",
                        help="landmarks.csv written by `segpipe evaluate-decode`")
    parser.add_argument("--out", type=Path, required=True, metavar="HTML", help="report file")
    parser.add_argument("--manifest", type=Path, help="manifest.json of the landmark dataset (for example overlays)")
    parser.add_argument("--predictions", type=Path, nargs="*", default=[], metavar="DIR",
                        help="predictions directories of the runs (for example overlays)")
    parser.add_argument("--decoded", type=Path, metavar="DIR", help="output directory of `segpipe decode` (landmarks)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the report."""
    config = config_from_args(args)
    from segpipe.reporting.decode import build_decode_report

    out = build_decode_report(config, args.metrics, args.landmarks, args.out, manifest_path=args.manifest,
                              prediction_dirs=args.predictions, decoded_dir=args.decoded)
    print(f"segpipe report-decode: wrote {out}")
    return 0
