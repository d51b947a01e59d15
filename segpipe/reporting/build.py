"""Assemble a report from the registered sections of its profile (:mod:`segpipe.reporting.registry`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from segpipe.io.atomic import atomic_open
from segpipe.reporting import html
from segpipe.reporting import sections as _builtin_sections  # noqa: F401  (register the built-in sections)
from segpipe.reporting.aggregation import load_metrics
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import PROFILES, registered_sections


def render(context: ReportContext, profile: str = "segmentation") -> str:
    """The HTML page of every section of ``profile`` that has something to show for ``context``."""
    parts = []
    for section in registered_sections(profile):
        body = section.function(context)
        if body is not None:
            parts.append(html.Section(section.title, body))
    return html.document(PROFILES[profile], parts)


def _write_csv(frame: pd.DataFrame, path: str | PathLike[str]) -> None:
    with atomic_open(path, newline="") as handle:
        frame.to_csv(handle, index=False)


def build_report(
    config: Mapping[str, Any],
    metrics_paths: Sequence[str | PathLike[str]],
    out: str | PathLike[str],
    *,
    manifest_path: str | PathLike[str] | None = None,
    prediction_dirs: Sequence[str | PathLike[str]] = (),
    train_logs: Sequence[str | PathLike[str]] = (),
    inputs: Mapping[str, Sequence[str | PathLike[str]]] | None = None,
    combined_csv: str | PathLike[str] | None = None,
    summary_csv: str | PathLike[str] | None = None,
    tests_csv: str | PathLike[str] | None = None,
    profile: str = "segmentation",
) -> Path:
    """Write the HTML report (one self-contained file) and optionally the tables behind it as CSV.

    Parameters
    ----------
    config
        Validated configuration (shown in the report; sets the statistics and what is drawn).
    metrics_paths
        Per-case metrics CSVs of ``segpipe evaluate``, one per run.
    out
        Destination HTML file.
    manifest_path
        Manifest of the dataset; with ``prediction_dirs`` it enables the example overlays and the
        topology figures.
    prediction_dirs
        Predictions directories of the runs (matched to runs through their index).
    train_logs
        ``RUN_DIR/train_log.csv`` files; each is labelled with its directory's name (the run).
    inputs
        Further named inputs for sections registered by other stages.
    combined_csv
        If given, all per-case metrics concatenated are written there.
    summary_csv
        If given, the means and confidence intervals per configuration, group and metric.
    tests_csv
        If given, the paired tests against the baseline.
    profile
        Which report (:data:`segpipe.reporting.registry.PROFILES`): ``segmentation`` or ``decode``.

    Returns
    -------
    Path
        ``out``.
    """
    context = ReportContext(
        config=config,
        frame=load_metrics(metrics_paths),
        manifest_path=Path(manifest_path) if manifest_path is not None else None,
        prediction_dirs=[Path(p) for p in prediction_dirs],
        train_logs=[Path(p) for p in train_logs],
        inputs={name: [Path(p) for p in paths] for name, paths in (inputs or {}).items()},
    )
    page = render(context, profile)
    with atomic_open(out) as handle:
        handle.write(page)
    for frame, path in ((context.frame, combined_csv), (context.summary, summary_csv), (context.tests, tests_csv)):
        if path is not None:
            _write_csv(frame, path)
    return Path(out)
