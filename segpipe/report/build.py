"""Assemble the report: summary table, metric plots, training curves, example overlays, settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from segpipe.data.manifest import Manifest
from segpipe.errors import InputError
from segpipe.fsutil import atomic_open
from segpipe.io import read_image, read_mask
from segpipe.predictions import PredictionSet
from segpipe.report import html, plots
from segpipe.report.aggregation import group_order, load_metrics, metric_columns, summary_table


def choose_examples(frame: pd.DataFrame, count: int) -> list[str]:
    """Case identifiers to show, spread over the test groups of the first run.

    Each group contributes in turn its median-Dice case, then its worst, its best and the quartiles
    (by the first metric column when there is no ``dice``).
    """
    if count <= 0 or frame.empty:
        return []
    first = frame[frame["run_id"] == sorted(frame["run_id"].unique())[0]]
    key = "dice" if "dice" in first.columns else metric_columns(first)[0]
    candidates = []
    for group in group_order(first["group"]):
        ranked = first[first["group"] == group].sort_values([key, "case_id"])["case_id"].tolist()
        n = len(ranked)
        order = dict.fromkeys(ranked[i] for i in (n // 2, 0, n - 1, n // 4, (3 * n) // 4))
        candidates.append(list(order))
    chosen: list[str] = []
    for rank in range(max(map(len, candidates))):
        chosen += [ids[rank] for ids in candidates if rank < len(ids)]
    return chosen[:count]


def _slice_2d(image: np.ndarray, masks: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """2D view of a case: itself, or the axis-0 slice of a volume with the most reference foreground."""
    if image.ndim == 3:
        return image, list(masks)
    index = int(np.argmax(masks[0].reshape(masks[0].shape[0], -1).sum(axis=1)))
    return image[:, index], [mask[index] for mask in masks]


def _examples_section(frame: pd.DataFrame, manifest: Manifest, predictions: Mapping[str, PredictionSet], count: int) -> str:
    reference_type = str(frame["reference"].iloc[0])
    parts = []
    for case_id in choose_examples(frame, count):
        case = manifest.case(case_id)
        image = read_image(case.image).array
        reference = read_mask(case.labels[reference_type])[0] > 0
        names, masks = [], []
        for run_id, prediction_set in sorted(predictions.items()):
            predicted = {p.case_id: p for p in prediction_set.cases}.get(case_id)
            if predicted is not None:
                names.append(run_id)
                masks.append(read_mask(predicted.mask)[0] > 0)
        image, (reference, *masks) = _slice_2d(image, [reference, *masks])
        title = f"case {case_id} ({case.group}); {reference_type} label; green: agreement, magenta: false positive, blue: false negative"
        parts.append(html.image(plots.overlay_panels(image, reference, list(zip(names, masks)), title), f"case {case_id}"))
    return "\n".join(parts) or html.paragraph("No test cases to show.", note=True)


def _read_logs(paths: Sequence[str | PathLike[str]]) -> dict[str, pd.DataFrame]:
    """Training logs keyed by run (the name of the directory holding each ``train_log.csv``)."""
    logs = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError("training log not found", where=path, fix="run `segpipe train` first")
        logs[path.parent.name] = pd.read_csv(path)
    return logs


def closing_sections(config: Mapping[str, Any]) -> list[html.Section]:
    """The last sections of every report: the configuration used and the software versions."""
    return [
        html.Section("Configuration", html.preformatted(yaml.safe_dump(dict(config), sort_keys=False))),
        html.Section("Software", html.table(html.software_versions())),
    ]


def build_report(
    config: Mapping[str, Any],
    metrics_paths: Sequence[str | PathLike[str]],
    out: str | PathLike[str],
    *,
    manifest_path: str | PathLike[str] | None = None,
    prediction_dirs: Sequence[str | PathLike[str]] = (),
    train_logs: Sequence[str | PathLike[str]] = (),
    combined_csv: str | PathLike[str] | None = None,
) -> Path:
    """Write the HTML report (one self-contained file) and optionally all metrics in one CSV.

    Parameters
    ----------
    config
        Validated configuration (shown in the report; ``report.examples`` cases are drawn).
    metrics_paths
        Per-case metrics CSVs of ``segpipe evaluate``, one per run.
    out
        Destination HTML file.
    manifest_path
        Manifest of the dataset; with ``prediction_dirs`` it enables the example overlays.
    prediction_dirs
        Predictions directories of the runs (matched to runs through their index).
    train_logs
        ``RUN_DIR/train_log.csv`` files; each is labelled with its directory's name (the run).
    combined_csv
        If given, all per-case metrics concatenated are written there.

    Returns
    -------
    Path
        ``out``.
    """
    frame = load_metrics(metrics_paths)
    metrics = metric_columns(frame)
    runs = sorted(frame["run_id"].unique())
    sections = [
        html.Section("Summary", html.paragraph(
            f"{len(runs)} run(s), {frame['case_id'].nunique()} case(s), reference labels: "
            f"{', '.join(sorted(frame['reference'].astype(str).unique()))}. Mean ± standard deviation over the "
            "cases of each group.") + html.table(summary_table(frame, metrics))),
        html.Section("Metrics per group", "\n".join(html.image(plots.metric_plot(frame, m), m) for m in metrics)),
    ]
    if train_logs:
        sections.append(html.Section("Training", html.image(plots.training_curves(_read_logs(train_logs)), "training curves")))
    examples = int(config.get("report", {}).get("examples", 0))
    if manifest_path is not None and prediction_dirs and examples:
        predictions = {p.run_id: p for p in map(PredictionSet.load, prediction_dirs)}
        body = _examples_section(frame, Manifest.load(manifest_path), predictions, examples)
        sections.append(html.Section("Examples", body))
    sections += closing_sections(config)
    with atomic_open(out) as handle:
        handle.write(html.document("segpipe report", sections))
    if combined_csv is not None:
        with atomic_open(combined_csv, newline="") as handle:
            frame.to_csv(handle, index=False)
    return Path(out)
