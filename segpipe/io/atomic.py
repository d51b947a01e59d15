"""Atomic file output: a file (or generated directory) either exists complete or not at all.

Writers produce a temporary file beside the destination (same directory, so the final
``os.replace`` is atomic on POSIX) that keeps the destination's suffixes, because libraries such as
nibabel and SimpleITK choose the format from the file name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from segpipe.errors import InputError


def _temporary_sibling(path: Path) -> Path:
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    return path.with_name(f".{stem}.tmp-{os.getpid()}{suffixes}")


def write_atomically(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically.

    Parameters
    ----------
    path
        Final destination. Parent directories are created.
    writer
        Function that writes the complete file to the temporary path it is given.

    Returns
    -------
    Path
        The destination path.
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(destination)
    try:
        writer(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return destination


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file for writing that replaces ``path`` only if the block succeeds.

    Parameters
    ----------
    path
        Final destination.
    mode
        ``"w"`` (text) or ``"wb"`` (binary).
    **kwargs
        Passed to :func:`open` (e.g. ``newline=""`` for CSV).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(destination)
    handle = open(temporary, mode, **kwargs)
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.replace(temporary, destination)
    finally:
        handle.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_open(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
    return Path(path)


#: File that marks a directory as written by :func:`write_directory_atomically`.
DIRECTORY_MARKER = ".segpipe-output"


def write_directory_atomically(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_dir)`` and swap the finished directory into ``path``.

    The directory is built as a hidden sibling and renamed into place only when ``writer``
    returns, so ``path`` never holds a half-written result. Leftovers of a killed earlier run
    (hidden ``.{name}.tmp-*`` and ``.{name}.old-*`` siblings) are removed first. An existing
    ``path`` is replaced only if it is empty or was itself written by this function (it then holds
    :data:`DIRECTORY_MARKER`), so a wrong ``--out`` cannot wipe a user's directory.

    Parameters
    ----------
    path
        Final directory.
    writer
        Function that fills the (existing, empty) directory it is given.

    Returns
    -------
    Path
        The destination directory.

    Raises
    ------
    InputError
        If ``path`` is a file, or a non-empty directory not written by segpipe.
    """
    destination = Path(path)
    if destination.exists() and not (
        destination.is_dir() and (not any(destination.iterdir()) or (destination / DIRECTORY_MARKER).is_file())
    ):
        raise InputError(
            "exists and is not an output directory of segpipe; refusing to replace it",
            where=destination,
            fix="choose a new output directory, or delete this one yourself if it may go",
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*destination.parent.glob(f".{destination.name}.tmp-*"), *destination.parent.glob(f".{destination.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    temporary = destination.with_name(f".{destination.name}.tmp-{os.getpid()}")
    temporary.mkdir()
    try:
        writer(temporary)
        (temporary / DIRECTORY_MARKER).write_text("written by segpipe; replaced as a whole on the next run\n")
        if destination.exists():
            retired = destination.with_name(f".{destination.name}.old-{os.getpid()}")
            os.replace(destination, retired)
            os.replace(temporary, destination)
            shutil.rmtree(retired)
        else:
            os.replace(temporary, destination)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return destination
