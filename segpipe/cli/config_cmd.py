"""``segpipe config``: validate a configuration and print it with defaults filled in."""

from __future__ import annotations

import argparse
import sys

import yaml

from segpipe.config import load_config
from segpipe.datasets.compatibility import check_config_against_data


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe config``."""
    parser = subparsers.add_parser(
        "config", help="validate a configuration file and print it with defaults filled in",
        description=(
            "Validate a configuration file against the schema and against its data set (label types exist, "
            "patch dimension matches the data, the photo step fits; an own data set's layout is read and every "
            "problem listed); print the effective configuration."
        ),
    )
    parser.add_argument("path", metavar="YAML", help="configuration file")
    parser.add_argument("--quiet", action="store_true", help="only validate; print nothing on success")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.path`` and print the effective configuration."""
    config = load_config(args.path)
    check_config_against_data(config, source=args.path)
    if not args.quiet:
        yaml.safe_dump(config, sys.stdout, sort_keys=False)
    return 0
