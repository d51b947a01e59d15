"""Term weights that change during training.

A term's ``weight`` in a loss definition is a number (constant) or a schedule::

    weight: {start: 0.0, end: 1.0}                                  # linear over the whole run
    weight: {start: 1.0, end: 0.01, until: 0.5, shape: cosine}      # cosine decay in the first half
    weight: {start: 0.0, end: 1.0, begin: 200, until: 800, unit: iterations, shape: step, steps: 6}

The weight is ``start`` before ``begin``, ``end`` after ``until`` and moves from one to the other
in between: linearly, along half a cosine period (smooth at both ends), or in ``steps`` equal
jumps (``shape: step``; one step switches from ``start`` to ``end`` at ``until``). ``begin`` and
``until`` are fractions of the run (``unit: fraction``, the default; progress is
``iteration / iterations``) or iteration numbers (``unit: iterations``). Training in segpipe
counts iterations, not epochs: a per-epoch schedule of ``E`` epochs is ``shape: step, steps: E``.

Kervadec et al.'s boundary loss schedule (the region weight falls while the boundary weight rises)
is two schedules, e.g. ``dice_ce`` with ``{start: 1.0, end: 0.01, shape: step, steps: 99}`` and
``boundary`` with ``{start: 0.0, end: 0.99, shape: step, steps: 99}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from segpipe.config import schedule_problems
from segpipe.errors import ConfigError

#: Values of a schedule's ``shape``.
SHAPES = ("linear", "cosine", "step")
#: Values of a schedule's ``unit``.
UNITS = ("fraction", "iterations")
_KEYS = ("start", "end", "begin", "until", "shape", "steps", "unit")


@dataclass(frozen=True)
class Progress:
    """Where training stands when a loss is evaluated.

    Attributes
    ----------
    iteration
        The iteration being computed, 1-based.
    iterations
        Total number of iterations of the run.
    """

    iteration: int
    iterations: int

    @property
    def fraction(self) -> float:
        """Share of training done, in (0, 1]."""
        return self.iteration / self.iterations


@dataclass(frozen=True)
class ConstantWeight:
    """A weight that does not change during training."""

    value: float

    def __call__(self, progress: Progress) -> float:
        """Return the weight at ``progress``."""
        return self.value


@dataclass(frozen=True)
class ScheduledWeight:
    """A weight that moves from ``start`` to ``end`` between ``begin`` and ``until``.

    Attributes
    ----------
    start, end
        Weight before ``begin`` and after ``until``.
    begin, until
        Where the change starts and ends, in :attr:`unit`.
    shape
        ``"linear"``, ``"cosine"`` (half a cosine period) or ``"step"`` (``steps`` equal jumps).
    steps
        Number of jumps of a ``step`` schedule.
    unit
        ``"fraction"``: ``begin``/``until`` are shares of the run in [0, 1]; ``"iterations"``:
        iteration numbers.
    """

    start: float
    end: float
    begin: float = 0.0
    until: float = 1.0
    shape: str = "linear"
    steps: int = 1
    unit: str = "fraction"

    def __call__(self, progress: Progress) -> float:
        """Return the weight at ``progress`` ."""
        position = progress.fraction if self.unit == "fraction" else float(progress.iteration)
        share = min(max((position - self.begin) / (self.until - self.begin), 0.0), 1.0)
        if self.shape == "cosine":
            share = 0.5 * (1.0 - math.cos(math.pi * share))
        elif self.shape == "step":
            share = math.floor(share * self.steps) / self.steps
        return self.start + (self.end - self.start) * share


def _number(settings: Mapping[str, Any], key: str, default: float | None, where: str) -> float:
    value = settings.get(key, default)
    if value is None:
        raise ConfigError(f"'{where}.{key}' is missing", fix=f"give the schedule's {key} (a non-negative number)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"'{where}.{key}' is {value!r}; it must be a non-negative number")
    return float(value)


def _schedule(settings: Mapping[str, Any], where: str) -> ScheduledWeight:
    unknown = sorted(set(settings) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"'{where}' has unknown key(s) {', '.join(map(repr, unknown))}", fix=f"allowed keys: {', '.join(_KEYS)}"
        )
    for key, allowed in (("shape", SHAPES), ("unit", UNITS)):
        if settings.get(key, allowed[0]) not in allowed:
            raise ConfigError(f"'{where}.{key}' is {settings[key]!r}; allowed values: {', '.join(allowed)}")
    unit = settings.get("unit", "fraction")
    begin = _number(settings, "begin", 0.0, where)
    until = _number(settings, "until", 1.0 if unit == "fraction" else None, where)
    if unit == "fraction" and until > 1:
        raise ConfigError(f"'{where}.until' is {until!r}; a fraction of the run lies in [0, 1]",
                          fix="use a value in [0, 1], or unit: iterations for iteration numbers")
    if problems := schedule_problems(settings, where):
        raise ConfigError(problems[0])
    steps = settings.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"'{where}.steps' is {steps!r}; it must be a positive integer")
    return ScheduledWeight(
        _number(settings, "start", None, where), _number(settings, "end", None, where), begin, until,
        settings.get("shape", "linear"), steps, unit,
    )


def weight_schedule(value: Any, *, where: str) -> Callable[[Progress], float]:
    """Turn a term's ``weight`` setting into a function of training progress.

    Parameters
    ----------
    value
        A non-negative number (constant weight) or a schedule mapping (see the module docstring).
    where
        Key path of the term, for error messages (``losses.<name>.terms[<i>]``).

    Raises
    ------
    ConfigError
        Naming the offending key, if ``value`` is neither.
    """
    if isinstance(value, Mapping):
        return _schedule(value, f"{where}.weight")
    return ConstantWeight(_number({"weight": value}, "weight", None, where))
