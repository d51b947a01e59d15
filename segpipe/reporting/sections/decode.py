"""Report sections of the ``decode`` profile: HybridGNet next to the segmentation pipeline's network, per organ.

The decode target's report (``results/decode/report.html``, ``segpipe report --profile decode``) is
built, like every report, from registered sections (:mod:`segpipe.reporting.registry`). Its inputs:

- the per-case metrics that ``segpipe evaluate`` wrote for each method's masks of each organ
  (run identifiers as in :mod:`segpipe.experiments.decode_comparison`),
- ``--input landmarks=CSV``: the landmark scores of ``segpipe evaluate-decode`` (HybridGNet and the
  mean-shape baseline),
- ``--manifest``, ``--predictions`` and ``--input decoded=DIR`` (the output of ``segpipe decode``):
  images, reference and predicted masks and the decoded landmarks, for example overlays.

Sections: mask metrics per test group, organ and method; landmark errors; metric plots; example
overlays (the cases of each group on which the methods' Dice differ most); the configuration and
software sections are shared with every profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from segpipe.datasets.landmarks import read_landmarks
from segpipe.datasets.manifest import Manifest
from segpipe.errors import InputError
from segpipe.evaluation.landmarks import BASELINE, COLUMNS, METHOD
from segpipe.experiments.decode_comparison import method_name
from segpipe.inference.decode import INDEX_FILE
from segpipe.inference.predictions import PredictionSet
from segpipe.io.images import read_image, read_mask
from segpipe.networks.graph import GraphTemplate
from segpipe.reporting import html, plots
from segpipe.reporting.aggregation import group_order, metric_columns, summary_table
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section

_LANDMARK_METHODS = {METHOD: "HybridGNet", BASELINE: "mean shape"}


def _label_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``method`` (display name of the run's model) and ``organ`` columns to a metrics frame."""
    frame = frame.copy()
    frame["method"] = [method_name(run_id) for run_id in frame["run_id"]]
    frame["organ"] = frame["label_type"].astype(str)
    return frame


def mask_table(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean ± standard deviation of ``metrics`` per test group, organ and method.

    Parameters
    ----------
    frame
        Per-case metrics with ``method`` and ``organ`` columns (one run per method and organ).
    metrics
        Metric columns.
    """
    table = summary_table(frame, metrics)
    runs = frame.drop_duplicates("run_id").set_index("run_id")
    table.insert(1, "organ", table["run"].map(runs["organ"]))
    table.insert(2, "method", table["run"].map(runs["method"]))
    groups = {group: rank for rank, group in enumerate(group_order(frame["group"]))}
    organs = {organ: rank for rank, organ in enumerate(dict.fromkeys(frame["organ"]))}
    order = table.assign(_g=table["group"].map(groups), _o=table["organ"].map(organs))
    order = order.sort_values(["_g", "_o", "method"], kind="stable")
    return order[["group", "organ", "method", "n", *metrics]].reset_index(drop=True)


def landmark_table(landmarks: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """Landmark MSE (px^2) and mean distance (px), mean ± standard deviation per group and method."""
    rows = []
    for group in group_order(landmarks["group"]):
        for method, label in _LANDMARK_METHODS.items():
            cases = landmarks[(landmarks["group"] == group) & (landmarks["method"] == method)]
            if cases.empty:
                continue
            row = {"group": group, "method": label, "n": len(cases)}
            for column, title in (("mse_px2", "MSE (px^2)"), ("mean_distance_px", "mean distance (px)")):
                values = cases[column].astype(float)
                sd = values.std(ddof=1) if len(values) > 1 else 0.0
                row[title] = f"{values.mean():.{digits}f} ± {sd:.{digits}f}"
            rows.append(row)
    return pd.DataFrame(rows)


def choose_cases(frame: pd.DataFrame, count: int) -> list[str]:
    """Up to ``count`` cases per test group: those on which the methods' mean Dice over organs differ most.

    With a single method, its lowest mean Dice. Groups in report order; ties by case identifier.
    """
    if count <= 0 or frame.empty or "dice" not in frame.columns:
        return []
    per_case = frame.groupby(["group", "case_id", "method"])["dice"].mean().unstack("method")
    score = per_case.max(axis=1) - per_case.min(axis=1) if per_case.shape[1] > 1 else 1.0 - per_case.iloc[:, 0]
    chosen = []
    for group in group_order(frame["group"]):
        ranked = score.loc[group].reset_index(name="score").sort_values(["score", "case_id"], ascending=[False, True])
        chosen += ranked["case_id"].head(count).tolist()
    return chosen


def _read_landmark_index(decoded_dir: Path) -> tuple[GraphTemplate, dict[str, Path]]:
    """Template and per-case landmark files of a ``segpipe decode`` output directory."""
    path = decoded_dir / INDEX_FILE
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        template = GraphTemplate.from_dict(index["template"], source=str(path))
        return template, {entry["case_id"]: decoded_dir / entry["landmarks"] for entry in index["cases"]}
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the decoding index ({exc})", where=path, fix="run `segpipe decode` first") from exc


def overlay_figure(
    image: np.ndarray,
    reference: Mapping[str, np.ndarray],
    methods: Sequence[tuple[str, Mapping[str, np.ndarray], np.ndarray | None]],
    title: str,
) -> bytes:
    """One row of panels: the reference contours, then each method's organ masks over the image.

    Every organ has its own colour. Reference panel: the reference masks' outlines. Method panels:
    the predicted masks filled translucently with their outlines (so that spurious components and
    holes show), the reference outline dashed, and the method's landmarks as dots when it has them.

    Parameters
    ----------
    image
        ``(C, H, W)`` image.
    reference
        Organ to boolean ``(H, W)`` reference mask.
    methods
        ``(name, organ -> boolean mask, landmarks (n, 2) as (x, y) pixels or None)`` per method.
    title
        Row title.
    """
    import matplotlib.pyplot as plt

    grey = image[:3].astype(float).mean(axis=0)
    colours = {organ: plt.get_cmap("tab10")(index % 10) for index, organ in enumerate(reference)}
    panels = [("reference", {}, None), *methods]
    figure, axes = plt.subplots(1, len(panels), figsize=(2.8 * len(panels), 3.0))
    for axis, (name, masks, points) in zip(np.atleast_1d(axes), panels):
        axis.imshow(grey, cmap="gray")
        for organ, truth in reference.items():
            colour = colours[organ]
            if organ in masks:
                fill = np.zeros((*truth.shape, 4))
                fill[masks[organ]] = (*colour[:3], 0.35)
                axis.imshow(fill)
                if masks[organ].any():
                    axis.contour(masks[organ], levels=[0.5], colors=[colour], linewidths=1.0)
            if truth.any():
                axis.contour(truth, levels=[0.5], colors=[colour], linewidths=0.8 if masks else 1.2,
                             linestyles="dashed" if masks else "solid")
        if points is not None:
            axis.scatter(points[:, 0], points[:, 1], s=2, color="white", linewidths=0)
        axis.set_title(name, fontsize=7)
        axis.axis("off")
    handles = [plt.Line2D([], [], color=colours[organ], label=organ) for organ in reference]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    figure.suptitle(title, fontsize=9)
    return plots.figure_png(figure)


def _examples(
    frame: pd.DataFrame,
    manifest: Manifest,
    predictions: Sequence[PredictionSet],
    landmarks: Mapping[str, Path],
    template: GraphTemplate | None,
    count: int,
) -> str:
    runs = frame.drop_duplicates("run_id").set_index("run_id")
    masks_of = {}  # (method, organ) -> {case_id: mask path}
    for prediction_set in predictions:
        if prediction_set.run_id in runs.index:
            run = runs.loc[prediction_set.run_id]
            masks_of[(run["method"], run["organ"])] = {p.case_id: p.mask for p in prediction_set.cases}
    organs = list(dict.fromkeys(frame["organ"]))
    methods = list(dict.fromkeys(runs["method"]))
    parts = []
    for case_id in choose_cases(frame, count):
        case = manifest.case(case_id)
        reference = {organ: read_mask(case.labels[organ])[0] > 0 for organ in organs}
        rows = frame[frame["case_id"] == case_id]
        panels = []
        for method in methods:
            masks = {o: read_mask(masks_of[(method, o)][case_id])[0] > 0 for o in organs if case_id in masks_of.get((method, o), {})}
            scores = rows[rows["method"] == method]
            errors = int(scores[[c for c in ("betti0_error", "betti1_error") if c in scores]].to_numpy().sum())
            name = f"{method}: Dice {scores['dice'].mean():.3f}, Betti errors {errors}"
            points = read_landmarks(landmarks[case_id], template) if method == "HybridGNet" and case_id in landmarks else None
            panels.append((name, masks, points))
        title = f"case {case_id} ({case.group}); dashed: reference"
        parts.append(html.image(overlay_figure(read_image(case.image).array, reference, panels, title), f"case {case_id}"))
    return "\n".join(parts) or html.paragraph("No test cases to show.", note=True)


def _frame(context: ReportContext) -> pd.DataFrame:
    """The per-case metrics with ``method`` and ``organ`` columns."""
    return _label_runs(context.frame)


def _metrics(frame: pd.DataFrame) -> list[str]:
    return metric_columns(frame.drop(columns=["method", "organ"]))


def _landmarks(context: ReportContext) -> pd.DataFrame | None:
    """``landmarks.csv`` of ``segpipe evaluate-decode`` (``--input landmarks=CSV``), if given."""
    paths = context.inputs.get("landmarks", [])
    if not paths:
        return None
    path = Path(paths[0])
    try:
        landmarks = pd.read_csv(path, dtype={"case_id": str})
    except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read landmark scores ({exc})", where=path, fix="run `segpipe evaluate-decode`") from exc
    if list(landmarks.columns) != list(COLUMNS):
        raise InputError(f"expected columns {', '.join(COLUMNS)}", where=path, fix="pass the landmarks.csv of `segpipe evaluate-decode`")
    return landmarks


@register_section("Masks", order=10, profiles=("decode",), name="decode_masks")
def masks(context: ReportContext) -> str:
    """Mask metrics per test group, organ and method."""
    frame = _frame(context)
    methods = ", ".join(dict.fromkeys(frame["method"]))
    return html.paragraph(
        f"Methods: {methods}; {frame['case_id'].nunique()} test case(s), each organ scored against its own "
        "reference mask. Mean ± standard deviation over the cases of each group. HD95 in physical units "
        "(pixels for PNG images); Betti errors count components (8-connected) and holes (4-connected) that "
        "differ from the reference's. HybridGNet fills one closed contour per organ, so its masks have no "
        "Betti error unless a contour crosses itself.") + html.table(mask_table(frame, _metrics(frame)))


@register_section("Landmarks", order=20, profiles=("decode",), name="decode_landmarks")
def landmarks(context: ReportContext) -> str | None:
    """Landmark errors of HybridGNet and of the mean-shape baseline."""
    scores = _landmarks(context)
    if scores is None:
        return None
    return html.paragraph(
        "Landmark MSE (mean over landmarks and both coordinates of the squared error, Gaggion et al.'s "
        "definition) and mean landmark distance, against the baseline that predicts the mean training shape "
        "for every image.") + html.table(landmark_table(scores))


@register_section("Metrics per group", order=30, profiles=("decode",), name="decode_metrics_per_group")
def metrics_per_group(context: ReportContext) -> str:
    """One plot per metric: each method and organ per test group."""
    frame = _frame(context)
    labelled = frame.assign(run_id=frame["method"] + " " + frame["organ"])
    return "\n".join(html.image(plots.metric_plot(labelled, m), m) for m in _metrics(frame))


@register_section("Examples", order=60, profiles=("decode",), name="decode_examples")
def examples(context: ReportContext) -> str | None:
    """Overlays of the cases on which the methods differ most (with HybridGNet's landmarks)."""
    count = int(context.config.get("report", {}).get("examples", 0))
    if context.manifest is None or not context.predictions or not count:
        return None
    decoded = context.inputs.get("decoded", [])
    template, files = _read_landmark_index(Path(decoded[0])) if decoded else (None, {})
    body = _examples(_frame(context), context.manifest, list(context.predictions.values()), files, template, count)
    return html.paragraph(
        f"Per test group, the {count} case(s) on which the methods' mean Dice differ most. Filled: the "
        "method's masks; dashed: the reference; dots: HybridGNet's landmarks.", note=True) + body
