"""Read per-case metrics and summarise them per run and test group."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import pandas as pd

from segpipe.datasets.manifest import IN_DISTRIBUTION
from segpipe.errors import InputError
from segpipe.evaluation.evaluate import ID_COLUMNS


def load_metrics(paths: Iterable[str | PathLike[str]]) -> pd.DataFrame:
    """Concatenate per-case metrics CSVs written by ``segpipe evaluate``.

    Raises
    ------
    InputError
        If a file is missing, empty, or lacks the identifying columns.
    """
    frames = []
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError("metrics file not found", where=path, fix="run `segpipe evaluate` first")
        try:
            frame = pd.read_csv(path, dtype={"case_id": str, "run_id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read metrics CSV ({exc})", where=path, fix="run `segpipe evaluate` again") from exc
        missing = [column for column in ID_COLUMNS if column not in frame.columns]
        if missing:
            raise InputError(
                f"not a segpipe metrics file: missing column(s) {', '.join(missing)}", where=path,
                fix="pass CSVs written by `segpipe evaluate`",
            )
        frames.append(frame)
    if not frames:
        raise InputError("no metrics files given", fix="pass at least one CSV written by `segpipe evaluate`")
    return pd.concat(frames, ignore_index=True)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a metrics frame (everything but the identifying columns)."""
    return [column for column in frame.columns if column not in ID_COLUMNS]


def group_order(groups: Iterable[str]) -> list[str]:
    """Groups in report order: in-distribution first, then alphabetical."""
    return sorted(set(groups), key=lambda group: (group != IN_DISTRIBUTION, group))


def summary_table(frame: pd.DataFrame, metrics: Sequence[str], *, digits: int = 3) -> pd.DataFrame:
    """Mean ± standard deviation of each metric per run and group.

    Parameters
    ----------
    frame
        Per-case metrics.
    metrics
        Metric columns to summarise.
    digits
        Decimal places shown.

    Returns
    -------
    pandas.DataFrame
        One row per ``(run_id, group)`` with ``n`` and one ``"mean ± sd"`` string column per metric;
        groups in :func:`group_order`. The standard deviation of a single case is shown as 0.
    """
    rows = []
    for run_id in sorted(frame["run_id"].unique()):
        run = frame[frame["run_id"] == run_id]
        for group in group_order(run["group"]):
            cases = run[run["group"] == group]
            row = {"run": run_id, "group": group, "n": len(cases)}
            for metric in metrics:
                values = cases[metric].astype(float)
                sd = values.std(ddof=1) if len(values) > 1 else 0.0
                row[metric] = f"{values.mean():.{digits}f} ± {sd:.{digits}f}"
            rows.append(row)
    return pd.DataFrame(rows, columns=["run", "group", "n", *metrics])
