"""A registry of per-case metric functions.

A metric is a function of one case's :class:`CaseInputs` returning a float, or a dictionary of
floats for a metric with several columns (e.g. Betti errors per dimension), registered with
:func:`register_metric`::

    @register_metric("betti", columns=("betti0_error", "betti1_error"), higher_is_better=False)
    def betti_errors(inputs: CaseInputs) -> dict[str, float]:
        ...

``segpipe evaluate`` computes the metrics listed in ``evaluate.metrics`` for every case and writes
one CSV column per metric column. Every metric must define its value for empty masks: a metric may
never return NaN (the evaluation refuses it), because NaN would silently drop cases from means.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from segpipe.errors import ConfigError


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
    """

    prediction: np.ndarray
    reference: np.ndarray
    spacing: tuple[float, ...]
    probability: np.ndarray | None = None

    @property
    def diagonal(self) -> float:
        """Length of the image's diagonal in physical units (the largest possible distance)."""
        return float(math.hypot(*(n * s for n, s in zip(self.reference.shape, self.spacing))))


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
        Direction of improvement (used by reports).
    """

    name: str
    function: Callable[[CaseInputs], float | dict[str, float]]
    columns: tuple[str, ...]
    needs_probability: bool = False
    higher_is_better: bool = True

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


_METRICS: dict[str, Metric] = {}


def register_metric(
    name: str,
    *,
    columns: Iterable[str] | None = None,
    needs_probability: bool = False,
    higher_is_better: bool = True,
) -> Callable[[Callable[[CaseInputs], float | dict[str, float]]], Callable[[CaseInputs], float | dict[str, float]]]:
    """Decorator: register a per-case metric function under ``name``.

    Parameters
    ----------
    name
        Metric name for ``evaluate.metrics``.
    columns
        Names of the values it returns as a dictionary; ``None`` for a single float named ``name``.
    needs_probability
        Whether it needs the probability map.
    higher_is_better
        Direction of improvement.
    """

    def decorator(function: Callable[[CaseInputs], float | dict[str, float]]) -> Callable[[CaseInputs], float | dict[str, float]]:
        if name in _METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        _METRICS[name] = Metric(name, function, tuple(columns) if columns else (name,), needs_probability, higher_is_better)
        return function

    return decorator


def metric_names() -> list[str]:
    """Names of all registered metrics."""
    return sorted(_METRICS)


def get_metric(name: str) -> Metric:
    """The metric registered as ``name``.

    Raises
    ------
    ConfigError
        If no metric has that name.
    """
    if name not in _METRICS:
        raise ConfigError(f"'evaluate.metrics' names {name!r}, which is not a metric; known: {', '.join(metric_names())}")
    return _METRICS[name]


def compute_metrics(names: Iterable[str], inputs: CaseInputs) -> dict[str, float]:
    """Evaluate the metrics ``names`` on one case; returns every column of every metric."""
    values: dict[str, float] = {}
    for name in names:
        values.update(get_metric(name)(inputs))
    return values
