"""What report sections see: the inputs of ``segpipe report`` and what is derived from them once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from segpipe.datasets.manifest import Manifest
from segpipe.errors import InputError
from segpipe.evaluation.metrics import MetricSettings, metric_of_column, split_class_column
from segpipe.inference.predictions import PredictionSet
from segpipe.reporting.aggregation import metric_columns
from segpipe.reporting.statistics import StatisticsSettings, paired_tests, summarise


@dataclass
class ReportContext:
    """The inputs of one report, with lazily computed, shared derived data.

    Attributes
    ----------
    config
        Validated configuration.
    frame
        Per-case metrics of every run (:func:`segpipe.reporting.aggregation.load_metrics`).
    manifest_path
        Manifest of the dataset, if given (images and labels of the example cases).
    prediction_dirs
        Predictions directories of the runs.
    train_logs
        ``RUN_DIR/train_log.csv`` files.
    inputs
        Further named inputs for sections added by other stages (``segpipe report --input NAME=PATH``).
    """

    config: Mapping[str, Any]
    frame: pd.DataFrame
    manifest_path: Path | None = None
    prediction_dirs: Sequence[Path] = ()
    train_logs: Sequence[Path] = ()
    inputs: Mapping[str, Sequence[Path]] = field(default_factory=dict)

    @cached_property
    def columns(self) -> list[str]:
        """Every metric column of the metrics files."""
        return metric_columns(self.frame)

    @cached_property
    def directions(self) -> dict[str, bool]:
        """``higher_is_better`` of each column that has a direction (registered, not descriptive)."""
        directions = {}
        for column in self.columns:
            metric = metric_of_column(column)
            if metric is not None and metric.higher_is_better is not None:
                directions[column] = metric.higher_is_better
        return directions

    @cached_property
    def constant_zero(self) -> list[str]:
        """Columns that are 0 in every case (e.g. dimension 2 in 2D): left out of tables, plots and tests."""
        return [column for column in self.columns if (self.frame[column].astype(float) == 0).all()]

    @cached_property
    def compared(self) -> list[str]:
        """Columns compared between configurations: those with a direction, not 0 everywhere."""
        return [column for column in self.columns if column in self.directions and column not in self.constant_zero]

    @cached_property
    def headline(self) -> list[str]:
        """``report.headline_metrics`` that were computed and are not 0 everywhere, each followed by its class columns."""
        wanted = self.config.get("report", {}).get("headline_metrics", [])
        return [
            column for base in wanted for column in self.columns
            if split_class_column(column)[0] == base and column not in self.constant_zero
        ]

    @cached_property
    def metric_settings(self) -> MetricSettings:
        """Parameters the metrics were computed with (``evaluate`` section)."""
        return MetricSettings.from_config(self.config)

    @cached_property
    def statistics_settings(self) -> StatisticsSettings:
        """Settings of the statistics (``evaluate.statistics``)."""
        return StatisticsSettings.from_config(self.config)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Means and bootstrap intervals per configuration, group and column (:func:`summarise`)."""
        columns = [column for column in self.columns if column not in self.constant_zero]
        return summarise(self.frame, columns, self.statistics_settings)

    @cached_property
    def tests(self) -> pd.DataFrame:
        """Paired permutation tests against the baseline loss (:func:`paired_tests`)."""
        return paired_tests(self.frame, self.compared, self.directions, self.statistics_settings)

    @cached_property
    def manifest(self) -> Manifest | None:
        """The manifest, if given."""
        return Manifest.load(self.manifest_path) if self.manifest_path is not None else None

    @cached_property
    def predictions(self) -> dict[str, PredictionSet]:
        """Prediction sets by run identifier."""
        return {p.run_id: p for p in map(PredictionSet.load, self.prediction_dirs)}

    @cached_property
    def training_logs(self) -> dict[str, pd.DataFrame]:
        """Training logs keyed by run (the name of the directory holding each ``train_log.csv``).

        Raises
        ------
        InputError
            If a log file is missing.
        """
        logs = {}
        for path in map(Path, self.train_logs):
            if not path.is_file():
                raise InputError("training log not found", where=path, fix="run `segpipe train` first")
            logs[path.parent.name] = pd.read_csv(path)
        return logs

    @property
    def reference_type(self) -> str:
        """Label type the metrics were computed against (the first one if they differ)."""
        return str(self.frame["reference"].iloc[0])
