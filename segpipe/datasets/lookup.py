"""Find the files of the cases a manifest lists."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from segpipe.datasets.cases import PreprocessedCase, load_case
from segpipe.datasets.manifest import Case
from segpipe.errors import InputError


def preprocessed_path(manifest_path: str | PathLike[str], case: Case) -> Path:
    """Path of ``case``'s preprocessed file (``Case.data`` is relative to the manifest's directory).

    Raises
    ------
    InputError
        If the manifest has no preprocessed data for the case (it was not written by preprocess).
    """
    if not case.data:
        raise InputError(
            f"case {case.case_id} has no preprocessed data in this manifest", where=manifest_path,
            fix="pass the manifest.json written by `segpipe preprocess`",
        )
    return Path(manifest_path).parent / case.data


def load_manifest_case(manifest_path: str | PathLike[str], case: Case) -> PreprocessedCase:
    """Load ``case``'s preprocessed image and labels."""
    return load_case(preprocessed_path(manifest_path, case))
