"""The case manifest: which cases a dataset holds and where each stage finds them.

A :class:`Manifest` is read from a dataset directory by :mod:`segpipe.datasets.layout` and written by
``segpipe preprocess`` as ``manifest.json`` beside the preprocessed cases. Every later stage
(train, predict, evaluate, report) selects its cases from it instead of scanning directories.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

from segpipe.errors import InputError
from segpipe.io.atomic import write_json

#: Group name of in-distribution cases (TopoMortar's ``dataset_types.txt`` spelling).
IN_DISTRIBUTION = "indistr"
#: Prefix of the ``Case.files`` roles that hold further image channels.
CHANNEL_ROLE_PREFIX = "channel_"


@dataclass(frozen=True)
class Case:
    """One image with its labels.

    Attributes
    ----------
    case_id
        Identifier unique within the dataset (e.g. ``"071"``).
    split
        ``"train"``, ``"val"`` or ``"test"``.
    group
        ``"indistr"`` or an out-of-distribution kind (``"angles"``, ``"colors"``, ...).
    image
        Absolute path of the raw image file.
    labels
        Label type (``"accurate"``, ``"noisy"``, ``"pseudo"``) to absolute path of the raw label file.
    small
        Whether the case belongs to the small training set.
    data
        Path of the preprocessed case file, relative to the manifest's directory (set by preprocess).
    files
        Other per-case files by role (e.g. ``"landmarks"``), absolute paths; the generic
        ``dataset.json`` layout lists them under ``files``. Roles ``channel_0001``, ``channel_0002``,
        ... are the image's further channels stored as separate files (nnU-Net's ``_0001``, ...).
    """

    case_id: str
    split: str
    group: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    small: bool = False
    data: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def image_files(self) -> list[str]:
        """The image's files, one per channel group: ``image`` then the ``channel_NNNN`` files in order."""
        extra = sorted(role for role in self.files if role.startswith(CHANNEL_ROLE_PREFIX))
        return [self.image, *(self.files[role] for role in extra)]


def channel_role(channel: int) -> str:
    """``Case.files`` role of channel file ``channel`` (1-based beyond the first): ``channel_0001``."""
    return f"{CHANNEL_ROLE_PREFIX}{channel:04d}"


@dataclass
class Manifest:
    """All cases of a dataset plus dataset-wide facts.

    Attributes
    ----------
    name
        Dataset name.
    dimensions
        Number of spatial dimensions (2 or 3).
    channels
        Number of image channels (1 for grey, 3 for RGB).
    label_types
        Label types present for the training cases.
    cases
        The cases, in a stable order.
    label_names
        Name of each label value, ``{"background": 0, "mortar": 1}`` (nnU-Net's ``labels``); empty
        where the layout does not name them.
    source_layout
        The layout the dataset was read from: ``topomortar``, ``segpipe`` (``dataset.json`` with
        ``cases``), ``nnunet`` (MSD / nnU-Net ``dataset.json``) or ``folder`` (``images/`` + ``labels/``).
    """

    name: str
    dimensions: int
    channels: int
    label_types: list[str]
    cases: list[Case]
    label_names: dict[str, int] = field(default_factory=dict)
    source_layout: str = ""

    def select(
        self,
        *,
        split: str | None = None,
        group: str | None = None,
        small: bool | None = None,
    ) -> list[Case]:
        """Return the cases matching every criterion given (``None`` matches anything)."""
        return [
            case
            for case in self.cases
            if (split is None or case.split == split)
            and (group is None or case.group == group)
            and (small is None or case.small == small)
        ]

    def training_cases(self, training_set: str) -> list[Case]:
        """Return the training cases of the ``"large"`` or ``"small"`` training set."""
        if training_set not in ("large", "small"):
            raise ValueError(f"training_set must be 'large' or 'small', not {training_set!r}")
        return self.select(split="train", small=True if training_set == "small" else None)

    def groups(self, split: str = "test") -> list[str]:
        """Return the distinct groups of ``split``, in-distribution first."""
        seen = dict.fromkeys(case.group for case in self.select(split=split))
        return sorted(seen, key=lambda g: (g != IN_DISTRIBUTION, g))

    def case(self, case_id: str) -> Case:
        """Return the case with identifier ``case_id``."""
        for case in self.cases:
            if case.case_id == case_id:
                return case
        raise KeyError(case_id)

    def with_cases(self, cases: list[Case]) -> Manifest:
        """Return a copy holding ``cases`` instead."""
        return replace(self, cases=list(cases))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable representation."""
        return asdict(self)

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the manifest as JSON, atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Manifest:
        """Read a manifest written by :meth:`save`."""
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as handle:
                raw = json.load(handle)
            cases = [Case(**case) for case in raw.pop("cases")]
            return cls(cases=cases, **raw)
        except FileNotFoundError as exc:
            raise InputError("manifest not found", where=path, fix="run `segpipe preprocess` first") from exc
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(
                f"not a segpipe manifest ({exc})", where=path, fix="re-run `segpipe preprocess` to rewrite it"
            ) from exc
