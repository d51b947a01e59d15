"""Report sections of a loss study: TopoMortar-style tables per setting, and what each loss costs.

A *setting* is a label type, training set and framework (one of TopoMortar's study cases). Its
table has one row per loss and split, as in TopoMortar's tables: the in-distribution test group
(ID), every out-of-distribution group pooled (OOD), then each out-of-distribution group on its own
(``OOD <group>``); ID and OOD cases are never mixed. Cells are mean ± standard deviation over the
test cases (each case averaged over seeds first), in bold where the loss is better than the
baseline loss (paired permutation test, Holm-adjusted within the split and metric, at the
report's level) and in italics where it is worse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segpipe.datasets.manifest import IN_DISTRIBUTION
from segpipe.errors import InputError
from segpipe.experiments.grid import RunSpec
from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.reporting.statistics import CONFIGURATION, paired_tests, seed_means

#: Columns of the study tables, as TopoMortar's plus the Betti matching error and clDice.
STUDY_COLUMNS = {
    "betti0_error": "Betti0", "betti1_error": "Betti1", "betti_matching_error": "BM error", "dice": "Dice",
    "hd95": "HD95", "cldice": "clDice",
}
SETTING = [key for key in CONFIGURATION if key != "loss"]


def study_frame(frame: pd.DataFrame, *, ood_groups: bool = False) -> pd.DataFrame:
    """Per-case metrics with the groups pooled to ``ID``/``OOD`` and the total Betti matching error.

    ``betti_matching_error`` is the sum of the per-dimension ``betti_matching{d}_error`` columns.

    Parameters
    ----------
    frame
        Per-case metrics with the data set's ``group`` of each case.
    ood_groups
        Also give every out-of-distribution case a second time, under ``group`` ``OOD <its group>``
        (for per-group rows beside the pooled ones).
    """
    result = frame.copy()
    matching = [column for column in frame.columns if column.startswith("betti_matching") and column.endswith("_error")]
    if matching:
        result["betti_matching_error"] = result[matching].sum(axis=1)
    in_distribution = result["group"] == IN_DISTRIBUTION
    per_group = result[~in_distribution].assign(group=lambda rows: "OOD " + rows["group"].astype(str))
    result["group"] = np.where(in_distribution, "ID", "OOD")
    return pd.concat([result, per_group], ignore_index=True) if ood_groups else result


def setting_tables(context: ReportContext) -> dict[tuple[str, ...], pd.DataFrame]:
    """One table per setting: rows (split, loss), cells ``mean ± sd`` marked by the paired tests.

    Returns
    -------
    dict
        ``(model, label_type, training_set, framework)`` to a table with columns ``split``, ``loss`` and one
        per available :data:`STUDY_COLUMNS` entry (HTML-marked strings).
    """
    frame = study_frame(context.frame, ood_groups=True)
    columns = [column for column in STUDY_COLUMNS if column in frame.columns]
    directions = {**context.directions, "betti_matching_error": False}
    settings = context.statistics_settings
    means = seed_means(frame, columns)
    tests = paired_tests(frame, columns, directions, settings)
    verdicts = {tuple(row[[*CONFIGURATION, "group", "metric"]]): row["verdict"] for _, row in tests.iterrows()}
    losses = list(dict.fromkeys([settings.baseline_loss, *sorted(means["loss"].unique())]))
    tables = {}
    for setting, rows in means.groupby(SETTING, sort=True):
        lines = []
        groups = sorted(split for split in rows["group"].unique() if split.startswith("OOD "))
        for split in ("ID", "OOD", *groups):
            for loss in losses:
                cases = rows[(rows["group"] == split) & (rows["loss"] == loss)]
                if cases.empty:
                    continue
                line = {"split": split, "loss": loss}
                for column in columns:
                    values = cases[column].to_numpy(float)
                    text = f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}"
                    identity = {**dict(zip(SETTING, setting)), "loss": loss}
                    verdict = verdicts.get((*(identity[key] for key in CONFIGURATION), split, column))
                    line[STUDY_COLUMNS[column]] = {"better": f"<b>{text}</b>", "worse": f"<i>{text}</i>"}.get(verdict, text)
                lines.append(line)
        tables[tuple(setting)] = pd.DataFrame(lines)
    return tables


@register_section("Study: one table per setting", order=15)
def study_tables(context: ReportContext) -> str | None:
    """TopoMortar-style tables, shown when some setting has more than one loss."""
    tables = setting_tables(context)
    if not any(table["loss"].nunique() > 1 for table in tables.values() if not table.empty):
        return None
    settings = context.statistics_settings
    parts = [html.paragraph(
        f"Per setting (model, label type, training set, framework): mean ± standard deviation over the test cases, each "
        f"case averaged over seeds; ID = in-distribution test group, OOD = every out-of-distribution group pooled, "
        f"OOD &lt;group&gt; = that out-of-distribution group alone. "
        f"<b>Bold</b>: better than {settings.baseline_loss}, <i>italics</i>: worse (paired permutation test on the "
        f"cases, Holm-adjusted per split and metric, level {settings.alpha:g}). BM error: Betti matching error "
        "summed over dimensions. Lower is better except for Dice and clDice.")]
    for (model, label_type, training_set, framework), table in tables.items():
        parts.append(f"<h3>{html.escape(f'{model}, {label_type} labels, {training_set} training set, {framework}')}</h3>")
        parts.append(table.to_html(index=False, escape=False, border=0))
    return "\n".join(parts)


def training_costs(paths: list[Path]) -> pd.DataFrame:
    """Training time and peak memory per loss from Snakemake's benchmark files of the train jobs.

    Parameters
    ----------
    paths
        ``BENCHMARKS/train/{run}.tsv`` files (columns ``s`` and ``max_rss`` in MB).

    Raises
    ------
    InputError
        If a file is missing or not a benchmark file; ConfigError if its name is not a run identifier.

    Returns
    -------
    pandas.DataFrame
        Indexed by loss: ``runs``, ``mean time (s)``, ``sd time (s)`` and ``peak memory (MB)`` (the
        largest of its runs).
    """
    rows = []
    for path in paths:
        try:
            benchmark = pd.read_csv(path, sep="\t")
            seconds, rss = float(benchmark["s"].iloc[-1]), pd.to_numeric(benchmark["max_rss"], errors="coerce").iloc[-1]
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, IndexError, ValueError) as exc:
            raise InputError(f"not a Snakemake benchmark file ({type(exc).__name__}: {exc})", where=path,
                             fix="pass the BENCHMARKS/train/{run}.tsv files the workflow's train jobs wrote") from exc
        rows.append({"loss": RunSpec.parse(path.stem).loss, "seconds": seconds, "max_rss": rss})
    frame = pd.DataFrame(rows, columns=["loss", "seconds", "max_rss"])
    grouped = frame.groupby("loss", sort=True)
    return pd.DataFrame({
        "runs": grouped.size(),
        "mean time (s)": grouped["seconds"].mean(),
        "sd time (s)": grouped["seconds"].std(ddof=1).fillna(0.0),
        "peak memory (MB)": grouped["max_rss"].max(),
    })


@register_section("Training cost per loss", order=45)
def training_cost(context: ReportContext) -> str | None:
    """Wall time and peak resident memory of the training jobs, per loss (``--input train_benchmarks=``)."""
    paths = [Path(p) for p in context.inputs.get("train_benchmarks", [])]
    if not paths:
        return None
    costs = training_costs(paths)
    baseline = context.statistics_settings.baseline_loss
    if baseline in costs.index:
        costs["time vs " + baseline] = costs["mean time (s)"] / costs.loc[baseline, "mean time (s)"]
    table = costs.reset_index().round(2)
    return html.paragraph(
        "Wall time and peak resident memory (Snakemake's benchmark of each `segpipe train` job: the process and "
        "its children) over every run of each loss. Self-distillation runs count the student only (its teacher is "
        "the plain run). Jobs shared the machine's cores with other jobs, so times are upper bounds.", note=True,
    ) + html.table(table)
