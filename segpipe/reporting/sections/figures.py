"""Report sections: metric plots per test group, and training curves."""

from __future__ import annotations

import pandas as pd

from segpipe.reporting import html, plots
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.reporting.statistics import CONFIGURATION, seed_means


def plotted_series(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, str, str]:
    """The cases to plot, the column that names a box, and what a box is.

    One box per run while there are at most :data:`~segpipe.reporting.plots.MAX_SERIES` runs; else
    one per configuration (each case averaged over seeds) while there are at most that many
    configurations; else one per loss (cases of every setting and seed pooled).
    """
    if frame["run_id"].nunique() <= plots.MAX_SERIES:
        return frame, "run_id", "run"
    means = seed_means(frame, columns)
    means["configuration"] = means[list(CONFIGURATION)].astype(str).agg(".".join, axis=1)
    if means["configuration"].nunique() <= plots.MAX_SERIES:
        return means, "configuration", "configuration (cases averaged over seeds)"
    return frame, "loss", "loss (cases of every setting and seed pooled; the study tables separate the settings)"


@register_section("Metrics per group", order=30)
def metrics_per_group(context: ReportContext) -> str | None:
    """Box plots with the individual cases of the headline metrics, per test group and run, configuration or loss."""
    columns = context.headline or context.compared
    if not columns:
        return None
    frame, series, meaning = plotted_series(context.frame, columns)
    note = html.paragraph(f"One box per {meaning}.", note=True)
    return note + "\n".join(html.image(plots.metric_plot(frame, column, series), column) for column in columns)


@register_section("Training", order=40)
def training(context: ReportContext) -> str | None:
    """Training loss and validation Dice of every run (when training logs are given)."""
    if not context.train_logs:
        return None
    return html.image(plots.training_curves(context.training_logs), "training curves")
