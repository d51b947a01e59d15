"""Checks of loss term options, with errors that name the option.

Terms check their options when they are built (the configuration schema checks them too, but
terms can also be built from Python). A bad value raises :class:`OptionError`;
:func:`segpipe.training.losses.build_loss` turns it into a :class:`~segpipe.errors.ConfigError` naming the
full key (``losses.<name>.terms[<i>].<option>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from segpipe.errors import ConfigError
from segpipe.topology.connectivity import CONNECTIVITIES


class OptionError(ConfigError):
    """A loss term option has a bad value.

    Parameters
    ----------
    option
        The option's name.
    problem
        What is wrong with its value.
    fix
        What to give instead.
    """

    def __init__(self, option: str, problem: str, fix: str | None = None) -> None:
        self.option = option
        super().__init__(problem, where=f"option {option!r}", fix=fix)


def choice(option: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`OptionError`."""
    if value not in allowed:
        raise OptionError(option, f"is {value!r}", fix=f"use one of: {', '.join(map(str, allowed))}")
    return value


def number(option: str, value: Any, *, minimum: float = 0.0, strict: bool = False, maximum: float | None = None) -> float:
    """Return ``value`` as a float if it is a finite number in range, else raise :class:`OptionError`.

    Parameters
    ----------
    option, value
        Name and value of the option.
    minimum
        Smallest allowed value (excluded when ``strict``).
    strict
        Exclude ``minimum`` itself.
    maximum
        Largest allowed value, if any.
    """
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum:g}" + ("" if maximum is None else f" and <= {maximum:g}")
        raise OptionError(option, f"is {value!r}", fix=f"give a number {bound}")
    return float(value)


def integer(option: str, value: Any, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an integer ``>= minimum``, else raise :class:`OptionError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(option, f"is {value!r}", fix=f"give an integer >= {minimum}")
    return int(value)


def optional_integer(option: str, value: Any, *, minimum: int = 0) -> int | None:
    """Return ``value`` if it is None or an integer ``>= minimum``, else raise :class:`OptionError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(option, f"is {value!r}", fix=f"give an integer >= {minimum}, or null")
    return int(value)


def connectivity(value: Any, run_connectivity: str) -> str:
    """The connectivity of a topology term: ``value`` (``full`` or ``face``), or the run's when None.

    The run's ``connectivity`` is the one the metrics count, so a term left at its default optimises
    what evaluation measures.
    """
    return run_connectivity if value is None else choice("connectivity", value, CONNECTIVITIES)


def flag(option: str, value: Any) -> bool:
    """Return ``value`` if it is a boolean, else raise :class:`OptionError`."""
    if not isinstance(value, bool):
        raise OptionError(option, f"is {value!r}", fix="give true or false")
    return value
