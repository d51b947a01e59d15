"""Report section: what every metric column means, its empty-mask rule, and the metric parameters."""

from __future__ import annotations

import pandas as pd

from segpipe.evaluation.metrics import metric_of_column
from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.topology.connectivity import NEIGHBOURS, background_connectivity

_DIRECTION = {True: "higher", False: "lower", None: "(descriptive)"}


def definitions_table(columns: list[str]) -> pd.DataFrame:
    """One row per metric that fills any of ``columns``: its columns, direction, definition and empty-mask rule."""
    rows, seen = [], set()
    for column in columns:
        metric = metric_of_column(column)
        if metric is None:
            rows.append({"metric": "?", "columns": column, "better": "", "definition": "not a registered metric",
                         "empty masks": ""})
        elif metric.name not in seen:
            seen.add(metric.name)
            rows.append({"metric": metric.name, "columns": ", ".join(metric.columns),
                         "better": _DIRECTION[metric.higher_is_better], "definition": metric.description,
                         "empty masks": metric.empty_rule})
    return pd.DataFrame(rows, columns=["metric", "columns", "better", "definition", "empty masks"])


@register_section("Metric definitions", order=70)
def definitions(context: ReportContext) -> str:
    """The metrics of the metrics files with their rules, and the parameters they were computed with."""
    settings = context.metric_settings
    foreground = NEIGHBOURS[settings.connectivity]
    background = NEIGHBOURS[background_connectivity(settings.connectivity)]
    parameters = [
        f"Topological metrics use foreground connectivity {foreground[2]} in 2D and {foreground[3]} in 3D "
        f"(background {background[2]} and {background[3]}; connectivity = {settings.connectivity!r}, which the topology losses use too)"
        + (", as TopoMortar's gudhi CubicalComplex(top_dimensional_cells=1 - mask)." if settings.connectivity == "full" else "."),
        f"Normalised surface Dice tolerance: {settings.surface_tolerance:g} physical units (mm; pixels for PNG images).",
        f"Local Betti errors: windows of {settings.local_window} voxels per axis every {settings.stride} voxels, the "
        "last flush with the border; the mean over windows of each window's Betti number error.",
        "Persistence diagrams: the probability map's superlevel barcode (our engine), and the label's, which is "
        "b_d(label) points (1, 0). The one essential bar (dimension 0) is closed at 0, the end of the filtration, "
        "and matched like any other point; an empty label has an empty diagram. Bottleneck and Wasserstein of "
        f"order {settings.wasserstein_order:g}, both exact (closed form: the label's diagram is copies of one point), "
        "with the L-infinity ground metric.",
        "Columns of dimension 2 are 0 for 2D images (a 2D image has no cavities).",
    ]
    return html.table(definitions_table(context.columns)) + "\n" + "\n".join(html.paragraph(p, note=True) for p in parameters)
