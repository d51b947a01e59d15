"""Report section: persistence barcodes and diagrams of chosen cases, and their topological errors.

Cases are (run, case) pairs ranked by their total Betti error (the sum of ``betti{d}_error``
over dimensions; the Betti matching errors when Betti errors were not computed), ties broken by
lower Dice. The worst and the median pair get their barcode and diagram; the
``report.topology_cases`` worst get an overlay with the unmatched bars of the Betti matching of
prediction and reference marked where their features are born and die. Volumes are shown as
projections along axis 0 (maximum of image and masks). For multi-class data the pairs are ranked by
the errors' means over the classes, and each pair is drawn once per class (that class against the rest).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segpipe.datasets.classes import class_column, manifest_classes
from segpipe.evaluation.evaluate import read_case_inputs
from segpipe.evaluation.metrics import CaseInputs
from segpipe.evaluation.metrics.diagrams import label_diagrams, probability_diagrams
from segpipe.io.images import read_image
from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.reporting.topology_plots import ErrorMarks, persistence_panels, topology_error_panels
from segpipe.topology import betti_matching, betti_numbers

#: Column families a case ranking can use, in order of preference.
RANKING_FAMILIES = ("betti{d}_error", "betti_matching{d}_error")


def ranking_columns(columns: list[str]) -> list[str]:
    """The per-dimension error columns cases are ranked by (empty when none was computed)."""
    for family in RANKING_FAMILIES:
        found = [family.format(d=d) for d in range(3) if family.format(d=d) in columns]
        if found:
            return found
    return []


def choose_topology_cases(frame: pd.DataFrame, columns: list[str], count: int) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
    """The ``count`` worst (run, case) pairs by total error in ``columns``, and the median pair.

    Returns
    -------
    tuple
        ``(worst, median)``: a list of ``(run_id, case_id)`` (worst first) and one pair (None
        for an empty frame).
    """
    if frame.empty or not columns:
        return [], None
    ranked = frame.assign(_total=frame[columns].astype(float).sum(axis=1),
                          _dice=frame["dice"] if "dice" in frame else 0.0)
    ranked = ranked.sort_values(["_total", "_dice", "run_id", "case_id"], ascending=[False, True, True, True])
    pairs = list(zip(ranked["run_id"], ranked["case_id"]))
    return pairs[:count], pairs[len(pairs) // 2]


def _load(context: ReportContext, run_id: str, case_id: str) -> tuple[list[tuple[str | None, CaseInputs]], Path] | None:
    """A case's inputs (with probability), named by their class for multi-class data, and its image path.

    None when its prediction was not given.
    """
    prediction_set = context.predictions.get(run_id)
    predicted = {p.case_id: p for p in prediction_set.cases}.get(case_id) if prediction_set else None
    if predicted is None:
        return None
    case = context.manifest.case(case_id)
    classes = manifest_classes(context.manifest_path)
    inputs = read_case_inputs(predicted, case.labels[context.reference_type], needs_probability=True,
                              settings=context.metric_settings, classes=classes)
    return list(zip(classes or (None,), inputs)), Path(case.image)


def _caption(frame: pd.DataFrame, run_id: str, case_id: str, columns: list[str], kind: str, name: str | None) -> str:
    """The figure's caption: the pair, its errors and Dice (those of class ``name`` for multi-class data)."""
    row = frame[(frame["run_id"] == run_id) & (frame["case_id"] == case_id)].iloc[0]
    column = (lambda c: class_column(c, name)) if name else (lambda c: c)
    errors = ", ".join(f"{column(c)} {row[column(c)]:g}" for c in columns)
    dice = f", Dice {row[column('dice')]:.3f}" if column("dice") in row else ""
    return f"{kind}: run {run_id}, case {case_id} ({row['group']}){f', class {name}' if name else ''}: {errors}{dice}"


def _persistence(inputs: CaseInputs, connectivity: str, caption: str) -> str:
    probability = probability_diagrams(inputs.probability, connectivity)
    label = label_diagrams(betti_numbers(inputs.reference, connectivity=connectivity))
    return html.figure(persistence_panels(probability, label, caption), "barcode and diagram", caption)


def _errors(inputs: CaseInputs, image_path: Path, connectivity: str, caption: str) -> str:
    matching = betti_matching(inputs.prediction.astype(float), inputs.reference.astype(float), filtration="superlevel",
                              connectivity=connectivity)
    image = read_image(image_path).array
    prediction, reference = inputs.prediction, inputs.reference
    if inputs.ndim == 3:  # maximum projections along axis 0
        image, prediction, reference = image.max(axis=1), prediction.any(axis=0), reference.any(axis=0)
    png = topology_error_panels(image, reference, prediction, ErrorMarks.from_matching(matching), caption)
    return html.figure(png, "topological errors", caption)


@register_section("Topology of chosen cases", order=50)
def topology(context: ReportContext) -> str | None:
    """Barcodes and diagrams of the worst and median cases; overlays of the worst with their topological errors."""
    count = int(context.config.get("report", {}).get("topology_cases", 0))
    columns = ranking_columns(context.columns)
    if not count or context.manifest is None or not context.predictions:
        return None
    if not columns:
        return html.paragraph("No Betti errors were computed (evaluate.metrics): no cases to rank.", note=True)
    worst, median = choose_topology_cases(context.frame, columns, count)
    if median is None:
        return html.paragraph("The metrics files list no cases.", note=True)
    connectivity = context.metric_settings.connectivity
    parts = [html.paragraph(
        f"(run, case) pairs ranked by total {' + '.join(columns)}. Barcodes and diagrams: the worst and the median "
        "pair. Overlays: the worst pairs, with every unmatched bar of the Betti matching of prediction and reference "
        "(the features the Betti matching error counts) marked where it is born and where it dies. Volumes are "
        "shown as maximum projections along the first axis.", note=True)]
    loaded = {pair: _load(context, *pair) for pair in dict.fromkeys([*worst, median])}
    for kind, pair in (("worst", worst[0]), ("median", median)):
        if loaded[pair] is not None:
            for name, inputs in loaded[pair][0]:
                parts.append(_persistence(inputs, connectivity, _caption(context.frame, *pair, columns, kind, name)))
    for rank, pair in enumerate(worst, start=1):
        if loaded[pair] is not None:
            classes, image_path = loaded[pair]
            for name, inputs in classes:
                caption = _caption(context.frame, *pair, columns, f"worst #{rank}", name)
                parts.append(_errors(inputs, image_path, connectivity, caption))
    if len(parts) == 1:
        parts.append(html.paragraph("The predictions of the chosen cases were not given.", note=True))
    return "\n".join(parts)
