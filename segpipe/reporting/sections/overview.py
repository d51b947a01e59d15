"""Report sections: summary table with confidence intervals, tests against the baseline, all results."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from segpipe.reporting import html
from segpipe.reporting.aggregation import group_order, summary_table
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.reporting.statistics import CONFIGURATION

_ROW_KEYS = [*CONFIGURATION, "group", "cases", "seeds"]


def interval_table(summary: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per configuration and test group, one ``"mean [low, high]"`` cell per metric column.

    Parameters
    ----------
    summary
        Output of :func:`segpipe.reporting.statistics.summarise`.
    columns
        Metric columns shown, in this order.
    """
    selected = summary[summary["metric"].isin(columns)].copy()
    if selected.empty:
        return pd.DataFrame(columns=[*_ROW_KEYS, *columns])
    selected["cell"] = [
        html.number(m) + (f" [{html.number(lo)}, {html.number(hi)}]" if lo == lo else "")
        for m, lo, hi in zip(selected["mean"], selected["ci_low"], selected["ci_high"])
    ]
    table = selected.pivot(index=_ROW_KEYS, columns="metric", values="cell").reset_index()
    order = {group: i for i, group in enumerate(group_order(table["group"]))}
    table = table.sort_values([*CONFIGURATION, "group"], key=lambda s: s.map(order) if s.name == "group" else s)
    return table[[*_ROW_KEYS, *(c for c in columns if c in table.columns)]].rename_axis(columns=None)


def tests_table(tests: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The paired tests of ``columns``, formatted for display."""
    shown = tests[tests["metric"].isin(columns)].copy()
    shown["metric"] = pd.Categorical(shown["metric"], categories=list(columns), ordered=True)
    order = {group: i for i, group in enumerate(group_order(shown["group"]))}
    shown = shown.sort_values(["metric", "group", *CONFIGURATION], key=lambda s: s.map(order) if s.name == "group" else s)
    for column in ("mean", "baseline_mean", "difference"):
        shown[column] = shown[column].map(html.number)
    for column in ("p_value", "p_holm"):
        shown[column] = shown[column].map(lambda p: f"{p:.3g}")
    return shown.astype({"metric": str})


def _statistics_note(context: ReportContext) -> str:
    settings = context.statistics_settings
    return (
        f"Mean [{settings.confidence:.0%} confidence interval] over the test cases of each configuration "
        "(loss, label type, training set, framework) and test group. Each case's value is first averaged over the "
        f"seeds of its configuration; intervals are percentile bootstrap intervals ({settings.bootstrap_samples} "
        "resamples of the cases; n/a with a single case). Every metric defines its value for empty masks (see "
        "Metric definitions), so no case is dropped from a mean."
    )


@register_section("Summary", order=10)
def summary(context: ReportContext) -> str:
    """Counts, the statistics used, and the headline metrics per configuration and test group."""
    frame = context.frame
    parts = [html.paragraph(
        f"{frame['run_id'].nunique()} run(s) in {frame.groupby(list(CONFIGURATION)).ngroups} configuration(s), "
        f"{frame['case_id'].nunique()} test case(s) in {frame['group'].nunique()} group(s) "
        f"({', '.join(group_order(frame['group']))}), reference labels: "
        f"{', '.join(sorted(frame['reference'].astype(str).unique()))}."
    ), html.paragraph(_statistics_note(context), note=True)]
    parts.append(html.table(interval_table(context.summary, context.headline)))
    if context.constant_zero:
        parts.append(html.paragraph(
            f"Left out because they are 0 in every case: {', '.join(context.constant_zero)}.", note=True))
    return "\n".join(parts)


@register_section("Comparison with the baseline", order=20)
def comparison(context: ReportContext) -> str:
    """Paired permutation tests of every configuration against its baseline loss."""
    settings = context.statistics_settings
    method = (
        f"Each configuration against the one that differs only in its loss, {settings.baseline_loss!r} (set by "
        "evaluate.statistics.baseline_loss): two-sided paired permutation test of the mean difference over the test "
        f"cases both have (seed-averaged values; {settings.permutations} random sign flips, exact when fewer "
        "suffice). p_holm: Holm-adjusted within each metric and test group (the family of configurations compared "
        f"there); 'better'/'worse' when p_holm < {settings.alpha:.2g}. Many metrics and groups are tested: read "
        "single unadjusted p-values with that in mind."
    )
    tests = context.tests
    if tests.empty:
        losses = sorted(context.frame["loss"].unique())
        reason = (f"no configuration has a baseline to compare with (losses run: {', '.join(losses)}; baseline: "
                  f"{settings.baseline_loss!r})")
        return html.paragraph(method, note=True) + html.paragraph(f"No tests: {reason}.")
    headline = [c for c in context.headline if c in context.compared] or context.compared
    verdicts = tests[tests["metric"].isin(headline)]["verdict"].value_counts()
    counts = ", ".join(f"{verdicts.get(v, 0)} {v}" for v in ("better", "worse", "n.s."))
    return "\n".join([
        html.paragraph(method, note=True),
        html.paragraph(f"Headline metrics: {counts}."),
        html.table(tests_table(tests, headline)),
    ])


@register_section("All results", order=80)
def all_results(context: ReportContext) -> str:
    """Every metric column: per configuration with intervals, per run (seed), and every test."""
    columns = [c for c in context.columns if c not in context.constant_zero]
    parts = [
        html.details("Every metric per configuration and test group (mean [confidence interval])",
                     html.table(interval_table(context.summary, columns))),
        html.details("Every metric per run (seed) and test group (mean ± standard deviation over cases)",
                     html.table(summary_table(context.frame, columns))),
    ]
    if not context.tests.empty:
        parts.append(html.details("Every test against the baseline", html.table(tests_table(context.tests, context.compared))))
    return "\n".join(parts)
