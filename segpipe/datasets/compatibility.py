"""Checks of a configuration against its data set that can be made before any work starts.

The schema checks keys and values; these check the configuration against what the data set is
(``segpipe config`` and the workflow's start, i.e. ``snakemake -n``, run them):

- the label types of ``experiments.label_types`` (and ``evaluate.label_type``) exist in the data;
- ``train.patch_size`` has one entry per spatial dimension of the data;
- the ``photo`` step (a 2D RGB photo segmented by the best model) is set only for 2D, 3-channel data;
- an own data set (``dataset.source: directory``) is read in one pass: every layout problem
  (missing labels or channel files, unknown folders, ...) is reported with the configuration's.

Synthetic data sets are known from their kind (``mortar``: 2D RGB, label types accurate, noisy and
pseudo; ``vessels``: 3D grey, accurate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segpipe.errors import ConfigError, InputError


@dataclass(frozen=True)
class DataFacts:
    """What the checks need to know of a data set.

    Attributes
    ----------
    dimensions, channels
        Spatial dimensions and image channels.
    label_types
        Label types every training case has.
    all_label_types
        Label types any case has (those ``evaluate.label_type`` may name).
    where
        The data set, for messages.
    """

    dimensions: int
    channels: int
    label_types: tuple[str, ...]
    all_label_types: tuple[str, ...]
    where: str


SYNTHETIC_FACTS = {
    "mortar": DataFacts(2, 3, ("accurate", "noisy", "pseudo"), ("accurate", "noisy", "pseudo"), "synthetic mortar data"),
    "vessels": DataFacts(3, 1, ("accurate",), ("accurate",), "synthetic vessel data"),
}


def data_facts(config: Mapping[str, Any], problems: list[str]) -> DataFacts | None:
    """The facts of the configured data set; layout problems are appended to ``problems``.

    Returns None when the data set cannot be read at all (its problem is appended).
    """
    dataset = config["dataset"]
    if dataset["source"] == "synthetic":
        return SYNTHETIC_FACTS.get(dataset["synthetic"]["kind"])
    path = dataset.get("path")
    if not path or not Path(path).is_dir():
        return None  # the schema checks report it
    from segpipe.datasets.layout import read_dataset

    layout_problems: list[str] = []
    try:
        manifest = read_dataset(path, problems=layout_problems)
    except InputError as error:
        problems.append(f"'dataset.path' {path!r}: {error.problem}" + (f" (fix: {error.fix})" if error.fix else ""))
        return None
    problems.extend(f"'dataset.path': {problem}" for problem in layout_problems)
    every = sorted({t for case in manifest.cases for t in case.labels} | set(manifest.label_types))
    return DataFacts(manifest.dimensions, manifest.channels, tuple(manifest.label_types), tuple(every), str(path))


def dataset_problems(config: Mapping[str, Any], facts: DataFacts) -> list[str]:
    """Settings of ``config`` that do not fit the data set described by ``facts`` (one sentence each)."""
    problems = []
    for label_type in config["experiments"]["label_types"]:
        if label_type not in facts.label_types:
            problems.append(
                f"'experiments.label_types' names {label_type!r}, which the training cases of {facts.where} do not have; "
                f"they have: {', '.join(facts.label_types) or '(none)'}"
            )
    evaluate = config["evaluate"].get("label_type")
    if evaluate is not None and evaluate not in facts.all_label_types:
        problems.append(f"'evaluate.label_type' is {evaluate!r}, which {facts.where} does not have; "
                        f"use one of: {', '.join(facts.all_label_types) or '(none)'}, or null (each run's own)")
    patch = config["train"].get("patch_size")
    if patch is not None and len(patch) != facts.dimensions:
        problems.append(f"'train.patch_size' is {patch} ({len(patch)}-D), but {facts.where} is {facts.dimensions}-D; "
                        f"give {facts.dimensions} sizes (`segpipe init-config` plans them from the data)")
    if config["photo"].get("source") and (facts.dimensions, facts.channels) != (2, 3):
        problems.append(f"'photo.source' is {config['photo']['source']!r}, but the photo step needs a model of 2D RGB "
                        f"images and {facts.where} is {facts.dimensions}-D with {facts.channels} channel(s); "
                        "set 'photo.source: null'")
    return problems


def check_config_against_data(config: Mapping[str, Any], *, source: str = "config") -> None:
    """Raise one error listing every setting that does not fit the data set, and every layout problem.

    Parameters
    ----------
    config
        A validated configuration (defaults filled in).
    source
        Name of the configuration's origin, for the message.

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    problems: list[str] = []
    facts = data_facts(config, problems)
    if facts is not None:
        problems.extend(dataset_problems(config, facts))
    if problems:
        raise ConfigError.listing(
            f"the configuration does not fit its data set ({len(problems)} problem(s))", problems, where=source,
            fix="edit the keys named above, or run `segpipe init-config DATASET_DIR` for a configuration that fits "
            "(docs/own-data.md)",
        )
