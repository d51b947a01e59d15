"""Foreground classes of a multi-class data set: their names, where they are recorded, their metric columns.

With ``preprocess.label_policy: classes`` preprocessing keeps the label values 0 (background), 1, ...,
K and records the names of the K foreground classes, in value order, in ``fingerprint.json``
(``classes``): the names of nnU-Net's ``labels`` in ``dataset.json``, else the values themselves
(``"1"``, ``"2"``, ...). Training (a softmax network with one output channel per class plus the
background), prediction (label maps of class values) and evaluation (every metric per class, one
class against the rest) read them from there.

Downstream of preprocessing, ``classes`` is the tuple of foreground class names of a multi-class data
set and is empty for a binary one: a data set with a single foreground class is binary, and every
stage treats it exactly as a data set without classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from segpipe.errors import InputError

#: Key of the class names in ``fingerprint.json``.
FINGERPRINT_KEY = "classes"


def _column_safe(name: str) -> str:
    """``name`` as it may appear in a metric column: runs of other characters than letters, digits, ``_`` as ``_``."""
    return re.sub(r"\W+", "_", name).strip("_")


def class_names(values: Iterable[float], label_names: Mapping[str, int], *, where: str | PathLike[str]) -> list[str]:
    """Names of the foreground classes 1..K of a data set whose labels hold ``values``.

    Parameters
    ----------
    values
        Every label value found (0 is the background).
    label_names
        ``{name: value}`` from the layout (nnU-Net's ``labels``); empty where it names none.
    where
        The data set, for messages.

    Returns
    -------
    list of str
        Name of class ``k`` at position ``k - 1``, made safe for metric columns.

    Raises
    ------
    InputError
        If the foreground values are not 1..K (as nnU-Net requires), a value found has no name, or two
        names coincide.
    """
    found = sorted({int(v) for v in values} - {0})
    named = {value: name for name, value in label_names.items() if value != 0}
    last = max([*found, *named], default=0)
    if last == 0:
        raise InputError("the labels hold no foreground value, so there are no classes", where=where,
                         fix="check the label files, or set 'preprocess.label_policy: strict' for binary labels")
    missing = sorted(set(range(1, last + 1)) - set(named or found))
    if missing or (named and set(found) - set(named)):
        given = f"dataset.json labels name {sorted(named)}" if named else "no names"
        raise InputError(
            f"the class values must be 1, 2, ..., K (as nnU-Net requires); the labels hold {found} and {given}",
            where=where, fix="relabel the classes with consecutive values from 1 and list each in dataset.json 'labels'",
        )
    names = [_column_safe(named[k]) if named else str(k) for k in range(1, last + 1)]
    if len(set(names)) != len(names) or not all(names):
        raise InputError(
            f"the class names {names} (letters, digits and _ only) are empty or repeat", where=where,
            fix="give every class in dataset.json 'labels' a distinct name",
        )
    return names


def dataset_classes(fingerprint: Mapping[str, Any]) -> tuple[str, ...]:
    """The foreground classes recorded in a dataset fingerprint; empty for a binary data set (one class or none)."""
    classes = tuple(fingerprint.get(FINGERPRINT_KEY) or ())
    return classes if len(classes) > 1 else ()


def manifest_classes(manifest_path: str | PathLike[str]) -> tuple[str, ...]:
    """:func:`dataset_classes` of the ``fingerprint.json`` beside a preprocessed manifest (empty without one)."""
    path = Path(manifest_path).parent / "fingerprint.json"
    return dataset_classes(json.loads(path.read_text())) if path.is_file() else ()


def class_column(column: str, name: str) -> str:
    """The metric column of ``column`` for one class: ``dice`` and ``artery`` give ``dice_artery``."""
    return f"{column}_{name}"
