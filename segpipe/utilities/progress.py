"""Progress bars on the console only: a bar's redraws never end up in a log file.

Under Snakemake (or any redirection) standard error is a file, and a progress bar would write one
long line of carriage-return redraws into the job's log; there, the stages print one line per
milestone instead (e.g. training's line per validation).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool = True, **options: Any) -> Any:
    """A ``tqdm`` bar on standard error, shown when ``show`` and standard error is a terminal.

    Parameters
    ----------
    iterable
        What to iterate over (``None`` for a bar updated by hand, with ``total=``).
    show
        The caller's wish (e.g. not ``--no-progress``); a bar is never drawn into a file.
    **options
        Further ``tqdm`` options (``total``, ``desc``, ``unit``, ``initial``...).
    """
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, mininterval=1.0, disable=not (show and sys.stderr.isatty()), **options)
