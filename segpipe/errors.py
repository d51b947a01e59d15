"""User-facing errors.

Every mistake a user can make (a bad file, a bad config value, a missing input) is raised as a
:class:`SegpipeError` whose message names the file or key, the problem and the fix. The CLI prints
these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Self


class SegpipeError(Exception):
    """An error caused by the user's input rather than by a bug.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    where
        The file, directory or config key concerned, if any.
    fix
        What the user should do about it, if known.
    """

    def __init__(self, problem: str, *, where: str | PathLike[str] | None = None, fix: str | None = None):
        self.problem = problem
        self.where = None if where is None else str(where)
        self.fix = fix
        super().__init__(self._render())

    @classmethod
    def listing(
        cls,
        summary: str,
        problems: Sequence[str],
        *,
        where: str | PathLike[str] | None = None,
        fix: str | None = None,
    ) -> Self:
        """An error whose message lists every problem found, one per line.

        Parameters
        ----------
        summary
            What was being checked, e.g. ``"3 labels are not binary"``.
        problems
            One sentence per offending file or entry, each naming it.
        where, fix
            As for the constructor.
        """
        return cls(summary + ":\n  - " + "\n  - ".join(problems), where=where, fix=fix)

    def _render(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class ConfigError(SegpipeError):
    """The configuration is invalid (unknown key, wrong type, bad value, missing input path)."""


class InputError(SegpipeError):
    """An input file is missing, unreadable, corrupt or inconsistent with its peers."""
