"""A cheap signature of a dataset directory's files, so that the workflow sees when the data change.

Snakemake decides whether to re-run preprocessing from its inputs' modification times and its
``params``; a dataset directory's own time changes only when entries are added or removed, not
when a label is fixed in place or ``dataset.json`` is edited. :func:`dataset_signature` hashes the
relative path, size and modification time of every file under the directory (hidden files and
folders skipped), which the preprocess rule carries as a parameter: any edit, addition, removal
or rename changes it. No file is read, so it costs one ``stat`` per file at every workflow start.
"""

from __future__ import annotations

import hashlib
import os
from os import PathLike
from pathlib import Path


def _files(root: Path) -> list[tuple[str, int, int]]:
    entries = []
    for directory, folders, names in os.walk(root, followlinks=True):
        folders[:] = sorted(folder for folder in folders if not folder.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(directory) / name
            try:
                status = path.stat()
            except OSError:  # a dangling link: preprocessing names it
                continue
            entries.append((path.relative_to(root).as_posix(), status.st_size, status.st_mtime_ns))
    return sorted(entries)


def dataset_signature(root: str | PathLike[str]) -> str:
    """Hash of every file's relative path, size and modification time under ``root``.

    Parameters
    ----------
    root
        Dataset directory; a missing one has the signature ``"missing"``.

    Returns
    -------
    str
        ``"<files> files, sha256 <16 hex digits>"``, stable while no file changes.
    """
    root = Path(root)
    if not root.is_dir():
        return "missing"
    entries = _files(root)
    digest = hashlib.sha256("\n".join(f"{p}\t{s}\t{m}" for p, s, m in entries).encode()).hexdigest()[:16]
    return f"{len(entries)} files, sha256 {digest}"
