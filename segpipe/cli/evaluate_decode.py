"""``segpipe evaluate-decode``: score decoded landmarks against the references and the mean shape."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segpipe.cli.common import add_config_option, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe evaluate-decode``."""
    parser = subparsers.add_parser(
        "evaluate-decode",
        help="score decoded landmarks (landmark MSE and distance vs the mean-shape baseline)",
        description=(
            "Score the landmarks written by `segpipe decode` and the mean training shape against the dataset's "
            "landmarks; write landmarks.csv and summary.json to --out. The decoded masks are scored by "
            "`segpipe evaluate` like any predictions."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--decoded", type=Path, required=True, metavar="DIR", help="output directory of segpipe decode")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="landmark dataset that was decoded")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for the scores")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Score and print the summary."""
    from segpipe.evaluation.landmarks import evaluate_decoded

    config_from_args(args)  # validated for consistency with the other stages; scoring needs no settings
    path = evaluate_decoded(args.decoded, args.dataset, args.out)
    print(json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=1))
    return 0
