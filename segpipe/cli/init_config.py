"""``segpipe init-config``: inspect a data set and write a configuration that fits it."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.errors import SegpipeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe init-config``."""
    parser = subparsers.add_parser(
        "init-config", help="inspect a data set and write a configuration for a first run on it",
        description=(
            "Read DATASET_DIR (MSD / nnU-Net dataset.json, segpipe dataset.json, images/ + labels/, or TopoMortar), "
            "take its fingerprint (dimension, channels, shapes, spacings, label values and names) and write the "
            "configuration a first run needs (merged over config.yaml): label type, patch size and network planned "
            "from the fingerprint as nnU-Net does, resampling where spacings differ, the photo step only for "
            "brick-wall data. The file is validated against the schema and the data before it is written."
        ),
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR", help="the data set's directory")
    parser.add_argument("--out", type=Path, metavar="FILE", help="configuration to write (default: config.<name>.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Inspect ``args.dataset`` and write the planned configuration."""
    import yaml

    from segpipe.config import validate_config
    from segpipe.datasets.compatibility import check_config_against_data
    from segpipe.datasets.layout import read_dataset
    from segpipe.datasets.planning import config_text, inspect_dataset
    from segpipe.io.atomic import atomic_open

    manifest = read_dataset(args.dataset)
    summary = inspect_dataset(manifest, args.dataset)
    text = config_text(summary)
    out = args.out or Path(f"config.{args.dataset.resolve().name}.yaml")
    if out.exists() and not args.force:
        raise SegpipeError("the configuration file exists already", where=out, fix="pass --force to overwrite it, or another --out")
    defaults = Path(__file__).resolve().parents[2] / "config.yaml"
    base = yaml.safe_load(defaults.read_text(encoding="utf-8")) if defaults.is_file() else {}
    merged = _merge(base, yaml.safe_load(text))
    validate_config(merged, source=f"{out} (planned)")
    check_config_against_data(merged, source=f"{out} (planned)")
    with atomic_open(out) as handle:
        handle.write(text)
    print(text, end="")
    print(f"segpipe init-config: wrote {out}; run: snakemake --cores 2 --configfile {out}")
    return 0


def _merge(base: dict, override: dict) -> dict:
    """``override`` merged into ``base`` recursively, as Snakemake merges --configfile files."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged
