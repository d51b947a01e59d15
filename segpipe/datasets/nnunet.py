"""The Medical Segmentation Decathlon / nnU-Net layout, read as it is.

::

    DIR/dataset.json      nnU-Net v2: {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1},
                          "numTraining": 131, "file_ending": ".nii.gz"}
                          MSD (nnU-Net v1): {"modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver"},
                          "numTraining": 131, "training": [{"image": "./imagesTr/a.nii.gz",
                          "label": "./labelsTr/a.nii.gz"}, ...], "test": ["./imagesTs/b.nii.gz", ...]}
    DIR/imagesTr/         CASE_0000.nii.gz, CASE_0001.nii.gz, ... (one file per channel, nnU-Net v2),
                          or CASE.nii.gz holding every channel (MSD's 4D files)
    DIR/labelsTr/         CASE.nii.gz: one label map per training case
    DIR/imagesTs/         test images, named as in imagesTr (optional)
    DIR/labelsTs/         labels of the test images (optional; not part of nnU-Net's format)

Other keys (``name``, ``description``, ``reference``, ``licence``, ``tensorImageSize``, ...) are
read or ignored, never rejected. ``file_ending`` defaults to ``.nii.gz``; ``.png`` and ``.tif``
make a 2D data set. The label type of these cases is :data:`LABEL_TYPE`; the label names go to
``Manifest.label_names``. Splits: :mod:`segpipe.datasets.splits`. Every problem (missing channel
files or labels, a wrong ``numTraining``, malformed keys) is listed in one error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from segpipe.datasets.manifest import IN_DISTRIBUTION, Case, Manifest, channel_role
from segpipe.datasets.splits import assign_splits
from segpipe.errors import InputError
from segpipe.io.images import PNG_SUFFIXES, SUPPORTED_SUFFIXES, TIFF_SUFFIXES

#: Label type of the cases of the layouts that have one label per case.
LABEL_TYPE = "label"
DEFAULT_FILE_ENDING = ".nii.gz"


def is_nnunet_document(document: Any) -> bool:
    """Whether a parsed ``dataset.json`` is in the MSD / nnU-Net format (not segpipe's own)."""
    return isinstance(document, dict) and "cases" not in document and "labels" in document and (
        "channel_names" in document or "modality" in document
    )


def label_names_of(labels: Any, problems: list[str]) -> dict[str, int]:
    """nnU-Net v2 ``{name: value}`` or MSD ``{"value": name}`` as ``{name: value}``; problems appended."""
    if not isinstance(labels, dict) or not labels:
        problems.append("dataset.json labels: expected a mapping such as {\"background\": 0, \"liver\": 1}")
        return {}
    if all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in labels.items()):
        return {name: int(value) for value, name in labels.items()}  # MSD / nnU-Net v1
    names: dict[str, int] = {}
    for name, value in labels.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"dataset.json labels: {name!r} is {value!r}; segpipe reads one integer value per label "
                            "(region labels, lists of values, are not supported)")
        else:
            names[name] = value
    if names and 0 not in names.values():
        problems.append("dataset.json labels: no label has value 0 (the background)")
    return names


def _channel_count(document: dict[str, Any], problems: list[str]) -> int:
    channels = document.get("channel_names", document.get("modality"))
    if not isinstance(channels, dict) or sorted(channels) != [str(i) for i in range(len(channels))] or not channels:
        problems.append('dataset.json channel_names: expected {"0": name, "1": name, ...} numbered from 0')
        return 1
    return len(channels)


def _case_id(name: str, ending: str) -> str | None:
    """``CASE`` of ``CASE_0000{ending}``; None for other channels or names."""
    match = re.fullmatch(r"(.+)_(\d{4})" + re.escape(ending), name)
    return match.group(1) if match and int(match.group(2)) == 0 else None


def _visible(directory: Path, ending: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(ending) and not p.name.startswith("."))


def _image_files(root: Path, folder: str, case_id: str, ending: str, channels: int, problems: list[str]) -> list[str]:
    """The channel files of one case (``CASE_0000``...), or its single multi-channel file."""
    single = root / folder / f"{case_id}{ending}"
    if single.is_file() and not (root / folder / f"{case_id}_0000{ending}").is_file():
        return [str(single)]
    files = [root / folder / f"{case_id}_{channel:04d}{ending}" for channel in range(channels)]
    problems.extend(f"{file}: channel {channel} of case {case_id} is missing ({channels} channels in channel_names)"
                    for channel, file in enumerate(files) if not file.is_file())
    return [str(file) for file in files]


def _listed(entries: Any, key: str, ending: str, problems: list[str]) -> list[str] | None:
    """Case identifiers from MSD's ``training`` / ``test`` lists; None when the key is absent."""
    if entries is None:
        return None
    if not isinstance(entries, list):
        problems.append(f"dataset.json {key}: expected a list")
        return []
    ids = []
    for number, entry in enumerate(entries):
        image = entry.get("image") if isinstance(entry, dict) else entry
        if not isinstance(image, str) or not image.endswith(ending):
            problems.append(f"dataset.json {key}/{number}: expected an image path ending in {ending}, got {entry!r}")
            continue
        name = Path(image).name[: -len(ending)]
        ids.append(_case_id(name + ending, ending) or name)
    return ids


def _discovered(root: Path, folder: str, ending: str, problems: list[str]) -> list[str]:
    ids = []
    for file in _visible(root / folder, ending):
        case_id = _case_id(file.name, ending)
        if case_id is not None:
            ids.append(case_id)
        elif not re.fullmatch(r".+_\d{4}" + re.escape(ending), file.name):
            problems.append(f"{file}: not named CASE_XXXX{ending} (XXXX: the channel, 0000 for the first)")
    return ids


def read_nnunet(root: Path, document: dict[str, Any], collector: list[str] | None = None) -> Manifest:
    """Read an MSD / nnU-Net data set (see the module documentation).

    Parameters
    ----------
    root
        The dataset directory.
    document
        Its parsed ``dataset.json``.
    collector
        If given, problems are appended here instead of raised (see
        :func:`segpipe.datasets.layout.read_dataset`).

    Returns
    -------
    Manifest
        Cases in split order, label type :data:`LABEL_TYPE`, ``label_names`` from ``labels``.

    Raises
    ------
    InputError
        Listing every problem found.
    """
    problems: list[str] = []
    ending = document.get("file_ending", DEFAULT_FILE_ENDING)
    if not isinstance(ending, str) or ending.lower() not in SUPPORTED_SUFFIXES:
        problems.append(f"dataset.json file_ending: {ending!r} is not supported (use {', '.join(SUPPORTED_SUFFIXES)})")
        ending = DEFAULT_FILE_ENDING
    channels = _channel_count(document, problems)
    label_names = label_names_of(document.get("labels"), problems)
    training = _listed(document.get("training"), "training", ending, problems)
    if training is None:
        training = _discovered(root, "imagesTr", ending, problems)
    test = _listed(document.get("test"), "test", ending, problems)
    if test is None:
        test = _discovered(root, "imagesTs", ending, problems)
    expected = document.get("numTraining")
    if expected is not None and expected != len(training):
        problems.append(f"dataset.json numTraining is {expected!r}, but imagesTr holds {len(training)} cases")
    if not training:
        problems.append(f"{root / 'imagesTr'}: no training images named CASE_0000{ending}")
    cases: dict[str, tuple[list[str], str | None]] = {}
    for folder, labels_folder, ids in (("imagesTr", "labelsTr", training), ("imagesTs", "labelsTs", test)):
        for case_id in ids:
            files = _image_files(root, folder, case_id, ending, channels, problems)
            label = root / labels_folder / f"{case_id}{ending}"
            if folder == "imagesTr" and not label.is_file():
                problems.append(f"{label}: label of training case {case_id} is missing")
            if case_id in cases:
                problems.append(f"case {case_id} is both in imagesTr and imagesTs")
            cases[case_id] = (files, str(label) if label.is_file() else None)
    if collector is not None:
        collector.extend(problems)
    elif problems:
        raise InputError.listing(f"invalid MSD / nnU-Net dataset, {len(problems)} problem(s)", problems, where=root,
                                 fix="correct the entries listed; the layout is described in docs/own-data.md")
    labelled_test = [case_id for case_id in test if cases[case_id][1]]
    splits = assign_splits(training, labelled_test, root)
    result = []
    for case_id, (files, label) in cases.items():
        extra = {channel_role(channel): file for channel, file in enumerate(files[1:], start=1)}
        result.append(Case(case_id, splits.get(case_id, "test"), IN_DISTRIBUTION, files[0],
                           {LABEL_TYPE: label} if label else {}, files=extra))
    dimensions = 2 if ending.lower() in PNG_SUFFIXES + TIFF_SUFFIXES else 3
    name = str(document.get("name") or root.name)
    return Manifest(name, dimensions, channels, [LABEL_TYPE], result, label_names, "nnunet")
