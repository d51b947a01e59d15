"""Report section: image / label / prediction overlays of example test cases (one row per class for multi-class data)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segpipe.datasets.classes import manifest_classes
from segpipe.experiments.grid import RunSpec
from segpipe.io.images import read_image, read_mask
from segpipe.reporting import html, plots
from segpipe.reporting.aggregation import group_order, metric_columns
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section


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


def slice_2d(image: np.ndarray, masks: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """2D view of a case: itself, or the axis-0 slice of a volume with the most foreground in ``masks[0]``."""
    if image.ndim == 3:
        return image, list(masks)
    index = int(np.argmax(masks[0].reshape(masks[0].shape[0], -1).sum(axis=1)))
    return image[:, index], [mask[index] for mask in masks]


def shown_runs(run_ids: list[str]) -> list[str]:
    """The runs whose predictions the examples show: all, or for large grids one setting's.

    With more than :data:`~segpipe.reporting.plots.MAX_SERIES` runs, the runs of one setting and seed
    (the lowest seed; accurate labels, large training set and plain training when there are such
    runs), at most that many.
    """
    if len(run_ids) <= plots.MAX_SERIES:
        return sorted(run_ids)
    specs = [RunSpec.parse(run_id) for run_id in run_ids]
    first = min(specs, key=lambda s: (s.seed, s.label_type != "accurate", s.training_set != "large",
                                      s.framework != "plain", s.label_type, s.training_set, s.framework))
    chosen = [s.run_id for s in specs if (s.label_type, s.training_set, s.framework, s.seed)
              == (first.label_type, first.training_set, first.framework, first.seed)]
    return sorted(chosen)[:plots.MAX_SERIES]


@register_section("Examples", order=60)
def examples(context: ReportContext) -> str | None:
    """``report.examples`` test cases: image, reference and every run's prediction against it."""
    count = int(context.config.get("report", {}).get("examples", 0))
    if context.manifest is None or not context.predictions or not count:
        return None
    runs = shown_runs(list(context.predictions))
    parts = [] if len(runs) == len(context.predictions) else [html.paragraph(
        f"{len(context.predictions)} runs: the predictions shown are those of {len(runs)} runs of one setting and seed.",
        note=True)]
    classes = manifest_classes(context.manifest_path)
    for case_id in choose_examples(context.frame, count):
        case = context.manifest.case(case_id)
        reference = read_mask(case.labels[context.reference_type])[0]
        names, maps = [], []
        for run_id in runs:
            predicted = {p.case_id: p for p in context.predictions[run_id].cases}.get(case_id)
            if predicted is not None:
                names.append(run_id)
                maps.append(read_mask(predicted.mask)[0])
        for value, name in enumerate(classes, start=1) if classes else [(None, None)]:
            masks = [label > 0 if value is None else label == value for label in (reference, *maps)]
            image, (shown, *predictions) = slice_2d(read_image(case.image).array, masks)
            title = (f"case {case_id} ({case.group}); {context.reference_type} label{f', class {name}' if name else ''}; "
                     "green: agreement, magenta: false positive, blue: false negative")
            parts.append(html.image(plots.overlay_panels(image, shown, list(zip(names, predictions)), title),
                                    f"case {case_id}" + (f" class {name}" if name else "")))
    return "\n".join(parts) or html.paragraph("No test cases to show.", note=True)
