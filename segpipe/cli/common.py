"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segpipe.config import load_config
from segpipe.utilities.cpus import available_cpus


def add_config_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--config PATH``: the YAML configuration, validated before any work starts."""
    parser.add_argument(
        "--config", type=Path, required=required, metavar="YAML",
        help="configuration file (validated against workflows/schemas/config.schema.yaml)",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (Snakemake passes ``{threads}``); :func:`segpipe.cli.main` caps it at the CPUs available."""
    parser.add_argument(
        "--threads", type=int, default=available_cpus(), metavar="N",
        help="CPU threads to use (default: the CPUs this process may use; more is capped with a warning)",
    )


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Load and validate the configuration named by ``--config``."""
    return load_config(args.config)


def set_torch_threads(threads: int) -> None:
    """Limit torch's intra-op thread pool to ``threads``."""
    import torch

    torch.set_num_threads(max(1, threads))


def add_manifest_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--manifest PATH``: the ``manifest.json`` written by ``segpipe preprocess``."""
    parser.add_argument("--manifest", type=Path, required=True, help="manifest.json written by `segpipe preprocess`")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-progress`` (hide the tqdm progress bar on stderr)."""
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
