"""A registry of per-case metric functions.

A metric is a function of one case's :class:`CaseInputs` returning a float, or a dictionary of
floats for a metric with several columns (e.g. Betti errors per dimension), registered with
:func:`register_metric`::

    @register_metric("betti", columns=("betti0_error", "betti1_error"), higher_is_better=False,
                     empty_rule="an empty mask has Betti numbers 0")
    def betti_errors(inputs: CaseInputs) -> dict[str, float]:
        ...

``segpipe evaluate`` computes the metrics listed in ``evaluate.metrics`` for every case and writes
one CSV column per metric column. Every metric must define its value for empty masks (its
``empty_rule``, shown in the report): a metric may never return NaN (the evaluation refuses it),
because NaN would silently drop cases from means.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from segpipe.evaluation.metrics.settings import MetricSettings
from segpipe.utilities.registry import Registry

T = TypeVar("T")


@dataclass(frozen=True)
class CaseInputs:
    """What a metric sees of one case.

    Attributes
    ----------
    prediction
        Predicted mask, boolean ``(*spatial)``.
    reference
        Reference mask, boolean ``(*spatial)``, same shape.
    spacing
        Voxel spacing per array axis (SimpleITK array order), in physical units.
    probability
        Foreground probability ``(*spatial)`` in [0, 1], given only to metrics that declare
        ``needs_probability``.
    settings
        Metric parameters (``evaluate`` section of the configuration).
    """

    prediction: np.ndarray
    reference: np.ndarray
    spacing: tuple[float, ...]
    probability: np.ndarray | None = None
    settings: MetricSettings = MetricSettings()
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def diagonal(self) -> float:
        """Length of the image's diagonal in physical units (the largest possible distance)."""
        return float(math.hypot(*(n * s for n, s in zip(self.reference.shape, self.spacing))))

    @property
    def ndim(self) -> int:
        """Number of spatial axes (2 or 3)."""
        return self.reference.ndim

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, computed once per case and shared by the metrics that need it.

        Thread-safe: metrics of one case may run in parallel (:func:`compute_metrics`).
        """
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes
    ----------
    name
        Name used in ``evaluate.metrics``.
    function
        ``function(inputs) -> float | dict[str, float]``.
    columns
        CSV columns it fills (its name for single-valued metrics).
    needs_probability
        Whether it reads :attr:`CaseInputs.probability`.
    higher_is_better
        Direction of improvement, used by the statistics and the report; ``None`` for descriptive
        columns (e.g. Betti numbers themselves), which are reported but not compared between runs.
    empty_rule
        Its value when the prediction or the reference is empty (shown in the report).
    """

    name: str
    function: Callable[[CaseInputs], float | dict[str, float]]
    columns: tuple[str, ...]
    needs_probability: bool
    higher_is_better: bool | None
    empty_rule: str

    @property
    def description(self) -> str:
        """First paragraph of the function's docstring, on one line, without reST literal markers."""
        doc = inspect.getdoc(self.function) or ""
        return " ".join(doc.split("\n\n")[0].split()).replace("``", "")

    def __call__(self, inputs: CaseInputs) -> dict[str, float]:
        """Evaluate on one case; returns a value for every column.

        Raises
        ------
        ValueError
            If the function returns NaN or misses a column (a bug in the metric).
        """
        value = self.function(inputs)
        values = dict(value) if isinstance(value, dict) else {self.columns[0]: value}
        if set(values) != set(self.columns):
            raise ValueError(f"metric {self.name!r} returned columns {sorted(values)}, declared {list(self.columns)}")
        values = {column: float(values[column]) for column in self.columns}
        if any(math.isnan(v) for v in values.values()):
            raise ValueError(f"metric {self.name!r} returned NaN; every metric must define its value for empty masks")
        return values


#: Every metric, by its ``evaluate.metrics`` name.
METRICS: Registry[Metric] = Registry("metric", key="evaluate.metrics")


def register_metric(
    name: str,
    *,
    empty_rule: str,
    columns: Iterable[str] | None = None,
    needs_probability: bool = False,
    higher_is_better: bool | None = True,
) -> Callable[[Callable[[CaseInputs], float | dict[str, float]]], Callable[[CaseInputs], float | dict[str, float]]]:
    """Decorator: register a per-case metric function under ``name``.

    Parameters
    ----------
    name
        Metric name for ``evaluate.metrics``.
    empty_rule
        The value it gives when the prediction or the reference (or both) is empty.
    columns
        Names of the values it returns as a dictionary; ``None`` for a single float named ``name``.
    needs_probability
        Whether it needs the probability map.
    higher_is_better
        Direction of improvement; ``None`` for descriptive values.
    """

    def decorator(function: Callable[[CaseInputs], float | dict[str, float]]) -> Callable[[CaseInputs], float | dict[str, float]]:
        METRICS.register(name)(
            Metric(name, function, tuple(columns) if columns else (name,), needs_probability, higher_is_better, empty_rule)
        )
        return function

    return decorator


def metric_names() -> list[str]:
    """Names of all registered metrics."""
    return METRICS.names()


def get_metric(name: str) -> Metric:
    """The metric registered as ``name``.

    Raises
    ------
    ConfigError
        If no metric has that name.
    """
    return METRICS.get(name)


def split_class_column(column: str) -> tuple[str, str | None]:
    """A CSV column as ``(metric column, class)``: ``dice_artery`` gives ``("dice", "artery")``, ``dice`` ``("dice", None)``.

    A class column (:func:`segpipe.datasets.classes.class_column`) is the longest registered metric
    column it starts with, an underscore and the class name; any other column is its own.
    """
    registered = {c for _, metric in METRICS.items() for c in metric.columns}
    if column in registered:
        return column, None
    prefixes = [c for c in registered if column.startswith(c + "_")]
    if not prefixes:
        return column, None
    base = max(prefixes, key=len)
    return base, column[len(base) + 1:]


def metric_of_column(column: str) -> Metric | None:
    """The registered metric that fills CSV column ``column`` (or its class column), or ``None``."""
    base, _ = split_class_column(column)
    return next((metric for _, metric in METRICS.items() if base in metric.columns), None)


def compute_metrics(names: Iterable[str], inputs: CaseInputs, *, threads: int = 1) -> dict[str, float]:
    """Evaluate the metrics ``names`` on one case; returns every column of every metric.

    Parameters
    ----------
    names
        Registered metric names.
    inputs
        The case.
    threads
        Metrics computed at the same time (the heavy ones -- persistence, Betti matching,
        distance transforms -- release the GIL).
    """
    metrics = [get_metric(name) for name in names]
    if threads > 1 and len(metrics) > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(metrics))) as pool:
            results = list(pool.map(lambda metric: metric(inputs), metrics))
    else:
        results = [metric(inputs) for metric in metrics]
    values: dict[str, float] = {}
    for result in results:
        values.update(result)
    return values
