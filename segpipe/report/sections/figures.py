"""Report sections: metric plots per test group, and training curves."""

from __future__ import annotations

from segpipe.report import html, plots
from segpipe.report.context import ReportContext
from segpipe.report.registry import register_section


@register_section("Metrics per group", order=30)
def metrics_per_group(context: ReportContext) -> str | None:
    """Box plots with the individual cases of the headline metrics, per test group and run."""
    columns = context.headline or context.compared
    if not columns:
        return None
    return "\n".join(html.image(plots.metric_plot(context.frame, column), column) for column in columns)


@register_section("Training", order=40)
def training(context: ReportContext) -> str | None:
    """Training loss and validation Dice of every run (when training logs are given)."""
    if not context.train_logs:
        return None
    return html.image(plots.training_curves(context.training_logs), "training curves")
