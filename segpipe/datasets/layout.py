"""Dataset layouts on disk: TopoMortar's, segpipe's ``dataset.json``, MSD / nnU-Net, a plain folder.

:func:`read_dataset` recognises four layouts (``docs/own-data.md`` shows each with an example):

- TopoMortar's (``splits.yaml``), below;
- segpipe's ``dataset.json`` (a ``cases`` list), below;
- the Medical Segmentation Decathlon / nnU-Net ``dataset.json`` (``channel_names`` or ``modality``,
  ``labels``, ``imagesTr/``, ``labelsTr/``, ``imagesTs/``): :mod:`segpipe.datasets.nnunet`;
- a plain ``images/`` + ``labels/`` (or ``masks/``) folder: :mod:`segpipe.datasets.folder`.

TopoMortar layout (the real data set drops in unchanged)
--------------------------------------------------------
::

    DIR/splits.yaml              {1: {train: [...], val: [...], test: [...]}}; entries are image
                                 paths relative to DIR's parent, e.g. ``dataset/train/images/036.png``
    DIR/splits_small.yaml        the same with the small training set
    DIR/dataset_types.txt        CSV ``ID,group``; groups indistr, angles, colors, graffiti,
                                 objects, shadows, occlusion
    DIR/{train,val,test}/{images,accurate,noisy,pseudo}/NNN.png
    DIR/betti_numbers.csv        optional ground truth ``ID,Betti0,Betti1,Betti2``

Images are RGB PNG; labels are PNG with 0 and 255 (255 = mortar). The real data set has noisy and
pseudo labels for the training and validation images only, and accurate labels for all. The
splits entries are resolved by their last three parts (``{split}/images/{file}``) inside DIR, so
the directory may have any name. ``Case.small`` comes from ``splits_small.yaml`` (absent: no small
set), ``Case.group`` from ``dataset_types.txt`` (absent: every case in-distribution), and a label
type is present for a split when its directory ``DIR/{split}/{label_type}`` exists; then every
image of that split must have a label there. Any other directory in ``DIR/{split}/`` is an error
(a misspelt label folder would otherwise be skipped silently).

Generic layout: ``DIR/dataset.json``
------------------------------------
For NIfTI, MHA/MHD, NRRD, PNG or TIFF data (``segpipe synth vessels`` writes this)::

    {
      "name": "vessels",                 dataset name
      "dimensions": 3,                   2 or 3 spatial dimensions
      "channels": 1,                     image channels
      "label_types": ["accurate"],       label types every training case has
      "cases": [
        {"id": "001", "split": "train",  split: train, val or test
         "group": "indistr",             optional (default indistr): in-distribution or a named shift
         "image": "images/001.nii.gz",   path relative to DIR (or absolute)
         "labels": {"accurate": "labels/001.nii.gz"},   optional per case (test cases may lack them)
         "small": true,                  optional (default false): member of the small training set
         "files": {"landmarks": "landmarks/001.csv"}}   optional: other per-case files by role,
      ]                                  checked to exist and passed on as ``Case.files``
    }

If a directory holds both files, ``dataset.json`` is used. Every problem found (missing files,
unknown groups, malformed entries, duplicate identifiers) is reported in one
:class:`~segpipe.errors.InputError` that lists every offending entry.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml

from segpipe.datasets.folder import IMAGES_DIR, LABEL_DIRS, is_folder_dataset, read_folder
from segpipe.datasets.manifest import IN_DISTRIBUTION, Case, Manifest
from segpipe.datasets.nnunet import is_nnunet_document, read_nnunet
from segpipe.errors import InputError
from segpipe.io.atomic import atomic_open, write_json
from segpipe.io.images import PNG_SUFFIXES, SUPPORTED_SUFFIXES, TIFF_SUFFIXES, read_image, suffix_of

SPLITS_FILE = "splits.yaml"
SMALL_SPLITS_FILE = "splits_small.yaml"
TYPES_FILE = "dataset_types.txt"
#: TopoMortar's fold key in the splits files (it has one fold).
FOLD = 1
SPLITS = ("train", "val", "test")
#: Groups allowed in ``dataset_types.txt``, in TopoMortar's order.
TOPOMORTAR_GROUPS = ("indistr", "angles", "colors", "graffiti", "objects", "shadows", "occlusion")
TOPOMORTAR_LABEL_TYPES = ("accurate", "noisy", "pseudo")
#: File name of the generic layout's description.
DATASET_JSON = "dataset.json"

_NAME_PATTERN = "^[A-Za-z0-9_.-]+$"
DATASET_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "dimensions", "channels", "label_types", "cases"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "dimensions": {"enum": [2, 3]},
        "channels": {"type": "integer", "minimum": 1},
        "label_types": {"type": "array", "uniqueItems": True, "items": {"type": "string", "pattern": _NAME_PATTERN}},
        "cases": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "split", "image"],
                "properties": {
                    "id": {"type": "string", "pattern": _NAME_PATTERN},
                    "split": {"enum": list(SPLITS)},
                    "group": {"type": "string", "pattern": _NAME_PATTERN},
                    "image": {"type": "string", "minLength": 1},
                    "labels": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
                    "small": {"type": "boolean"},
                    "files": {
                        "type": "object",
                        "propertyNames": {"pattern": _NAME_PATTERN},
                        "additionalProperties": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
    },
}


def _splits_document(cases: Sequence[Case], prefix: str, *, small_only: bool) -> dict[int, dict[str, list[str]]]:
    splits: dict[str, list[str]] = {split: [] for split in SPLITS}
    for case in cases:
        if case.split == "train" and small_only and not case.small:
            continue
        splits[case.split].append(f"{prefix}/{case.image}")
    return {FOLD: splits}


def write_topomortar_index(directory: Path, cases: Sequence[Case], *, prefix: str) -> None:
    """Write ``splits.yaml``, ``splits_small.yaml`` and ``dataset_types.txt`` for ``cases``.

    Parameters
    ----------
    directory
        The dataset directory (may be a temporary directory that is renamed later).
    cases
        Cases in the order they are listed; ``Case.image`` is relative to the dataset directory
        (``train/images/001.png``) and ``Case.small`` marks the small training set.
    prefix
        Final name of the dataset directory: the splits list ``{prefix}/{image}`` as TopoMortar
        lists ``dataset/train/images/036.png`` relative to the directory's parent.
    """
    for name, small_only in ((SPLITS_FILE, False), (SMALL_SPLITS_FILE, True)):
        with atomic_open(directory / name) as handle:
            yaml.safe_dump(_splits_document(cases, prefix, small_only=small_only), handle, default_flow_style=False)
    with atomic_open(directory / TYPES_FILE, newline="") as handle:
        handle.write("ID,group\n")
        handle.writelines(f"{case.case_id},{case.group}\n" for case in sorted(cases, key=lambda c: c.case_id))


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def read_dataset(path: str | PathLike[str], *, problems: list[str] | None = None) -> Manifest:
    """Read a dataset directory in any of the layouts of the module documentation.

    Parameters
    ----------
    path
        The dataset directory (the one holding ``splits.yaml``, ``dataset.json`` or ``images/``).
    problems
        If given, problems with the listed files (missing images, labels or channel files, ...)
        are appended here instead of raised, and the manifest holds what could be read: preprocessing
        checks the files that exist in the same pass and reports everything at once. Problems that
        leave nothing to read (no layout, malformed ``dataset.json``) are still raised.

    Returns
    -------
    Manifest
        Every case with absolute image and label paths, in split order (train, val, test) and
        identifier order within a split.

    Raises
    ------
    InputError
        If the directory is neither layout, or listing every missing file and malformed entry.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise InputError("dataset directory not found", where=root, fix="check the path (dataset.path or --dataset)")
    if (root / DATASET_JSON).is_file():
        document = _load_json(root / DATASET_JSON)
        if is_nnunet_document(document):
            manifest = read_nnunet(root, document, problems)
            return manifest.with_cases(_ordered(manifest.cases))
        return _read_generic(root, document, problems)
    if (root / SPLITS_FILE).is_file():
        return _read_topomortar(root, problems)
    if is_folder_dataset(root):
        manifest = read_folder(root, problems)
        manifest.channels = _channels_of(manifest.cases)
        return manifest.with_cases(_ordered(manifest.cases))
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir() if not p.name.startswith("."))
    raise InputError(
        f"not a dataset directory: it has no {DATASET_JSON}, no {SPLITS_FILE} and no {IMAGES_DIR}/ + "
        f"{' or '.join(f'{name}/' for name in LABEL_DIRS)} folders (it holds: {', '.join(found[:12]) or 'nothing'})",
        where=root,
        fix=f"point to the folder that holds {DATASET_JSON} (MSD / nnU-Net or segpipe), TopoMortar's {SPLITS_FILE}, "
        f"or {IMAGES_DIR}/ and labels/; the layouts are described in docs/own-data.md",
    )


def _ordered(cases: list[Case]) -> list[Case]:
    return sorted(cases, key=lambda case: (SPLITS.index(case.split), case.case_id))


def _raise_if(problems: list[str], root: Path, fix: str, collector: list[str] | None = None) -> None:
    """Raise ``problems`` as one error, or move them to ``collector`` when one is given."""
    if collector is not None:
        collector.extend(problems)
        problems.clear()
    elif problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise InputError.listing(f"invalid dataset, {len(problems)} {noun}", problems, where=root, fix=fix)


#: Images read to find a data set's channel count where its layout does not state it.
CHANNEL_SAMPLE = 9


def _channels_of(cases: list[Case]) -> int:
    """The most common channel count of up to :data:`CHANNEL_SAMPLE` images spread over ``cases``.

    A majority, not the first image: one RGBA file among RGB images must be the one blamed.
    """
    step = max(1, len(cases) // CHANNEL_SAMPLE)
    counts = Counter()
    for case in cases[::step][:CHANNEL_SAMPLE]:
        try:
            counts[int(read_image(case.image).array.shape[0])] += 1
        except InputError:
            continue  # preprocessing names the unreadable file
    return counts.most_common(1)[0][0] if counts else 1


# --- TopoMortar -------------------------------------------------------------------------------


def _load_splits(path: Path, problems: list[str]) -> dict[str, list[str]]:
    """Fold 1 of a TopoMortar splits file as ``{split: [entries]}``; problems are appended."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML ({exc})")
        return {}
    fold = document.get(FOLD, document.get(str(FOLD))) if isinstance(document, dict) else None
    if not isinstance(fold, dict):
        problems.append(f"{path.name}: expected a mapping {{{FOLD}: {{train: [...], val: [...], test: [...]}}}}")
        return {}
    splits: dict[str, list[str]] = {}
    for key, entries in fold.items():
        if key not in SPLITS:
            problems.append(f"{path.name}: unknown split {key!r} (allowed: {', '.join(SPLITS)})")
        elif not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            problems.append(f"{path.name}: '{key}' must be a list of image paths")
        else:
            splits[key] = entries
    return splits


def _load_groups(path: Path, problems: list[str]) -> dict[str, str]:
    """``dataset_types.txt`` as ``{case_id: group}``; problems are appended."""
    groups: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or [cell.strip() for cell in rows[0]] != ["ID", "group"]:
        problems.append(f"{path.name}: the first line must be the header 'ID,group'")
        return groups
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            problems.append(f"{path.name} line {number}: expected 'ID,group', got {','.join(row)!r}")
            continue
        case_id, group = (cell.strip() for cell in row)
        if group not in TOPOMORTAR_GROUPS:
            problems.append(
                f"{path.name} line {number}: unknown group {group!r} of case {case_id} "
                f"(allowed: {', '.join(TOPOMORTAR_GROUPS)})"
            )
        groups[case_id] = group
    return groups


def _case_id(file_name: str) -> str:
    return file_name[: len(file_name) - len(suffix_of(file_name))]


def _read_topomortar(root: Path, collector: list[str] | None = None) -> Manifest:
    problems: list[str] = []
    splits = _load_splits(root / SPLITS_FILE, problems)
    small_path = root / SMALL_SPLITS_FILE
    small_splits = _load_splits(small_path, problems) if small_path.is_file() else {}
    types_path = root / TYPES_FILE
    groups = _load_groups(types_path, problems) if types_path.is_file() else None
    label_types = {split: [t for t in TOPOMORTAR_LABEL_TYPES if (root / split / t).is_dir()] for split in SPLITS}
    for split in SPLITS:
        if (root / split).is_dir():
            problems.extend(
                f"{folder}: unknown folder in {split}/ (label folders are named {', '.join(TOPOMORTAR_LABEL_TYPES)}; "
                "images go in images/)"
                for folder in sorted((root / split).iterdir())
                if folder.is_dir() and not folder.name.startswith(".")
                and folder.name not in ("images", *TOPOMORTAR_LABEL_TYPES)
            )
    small_ids = {_case_id(PurePosixPath(entry).name) for entry in small_splits.get("train", [])}
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for split in SPLITS:
        for entry in splits.get(split, []):
            parts = PurePosixPath(entry).parts
            if len(parts) < 3 or parts[-3:-1] != (split, "images"):
                problems.append(f"{SPLITS_FILE}: {split} entry {entry!r} is not of the form <dir>/{split}/images/<file>")
                continue
            name = parts[-1]
            case_id = _case_id(name)
            if case_id in seen:
                problems.append(f"{SPLITS_FILE}: case {case_id} is listed twice ({seen[case_id]} and {split})")
                continue
            seen[case_id] = split
            image = root / split / "images" / name
            if not image.is_file():
                problems.append(f"{image}: image listed in {SPLITS_FILE} is missing")
            labels = {}
            for label_type in label_types[split]:
                label = root / split / label_type / name
                if label.is_file():
                    labels[label_type] = str(label)
                else:
                    problems.append(f"{label}: {label_type} label of case {case_id} is missing "
                                    f"(the {split}/{label_type} directory exists, so every {split} image needs one)")
            if groups is not None and case_id not in groups:
                problems.append(f"{TYPES_FILE}: case {case_id} has no line")
            group = groups.get(case_id, IN_DISTRIBUTION) if groups is not None else IN_DISTRIBUTION
            cases.append(Case(case_id, split, group, str(image), labels, small=split == "train" and case_id in small_ids))
    train_ids = {case.case_id for case in cases if case.split == "train"}
    problems += [f"{SMALL_SPLITS_FILE}: training case {case_id} is not a training case in {SPLITS_FILE}"
                 for case_id in sorted(small_ids - train_ids)]
    if not cases and not problems:
        problems.append(f"{SPLITS_FILE}: lists no images")
    _raise_if(problems, root, f"correct the entries listed; TopoMortar's layout is described in {__name__}", collector)
    cases = _ordered(cases)
    return Manifest(root.name, 2, _channels_of(cases), label_types["train"], cases,
                    {"background": 0, "mortar": 1}, "topomortar")


# --- dataset.json -----------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", where=path,
                         fix=f"correct {DATASET_JSON}; its formats are described in docs/own-data.md") from exc


def _read_generic(root: Path, document: Any, collector: list[str] | None = None) -> Manifest:
    fix = (f"correct {DATASET_JSON}; segpipe's format (with 'cases') is described in {__name__}, "
           "the MSD / nnU-Net format (with 'channel_names' and 'labels') in docs/own-data.md")
    validator = jsonschema.Draft7Validator(DATASET_JSON_SCHEMA)
    problems = [
        f"{DATASET_JSON} {'/'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    _raise_if(problems, root, fix)
    label_types = document["label_types"]
    cases: list[Case] = []
    seen: set[str] = set()
    for entry in document["cases"]:
        case_id = entry["id"]
        where = f"{DATASET_JSON} case {case_id}"
        if case_id in seen:
            problems.append(f"{where}: identifier used twice")
        seen.add(case_id)
        files = {"image": entry["image"], **{f"{t} label": p for t, p in entry.get("labels", {}).items()}}
        resolved = {}
        for role, relative in files.items():
            file = (root / relative).resolve()
            resolved[role] = str(file)
            if suffix_of(file) not in SUPPORTED_SUFFIXES:
                problems.append(f"{where}: {role} {relative!r} has an unsupported type (use {', '.join(SUPPORTED_SUFFIXES)})")
            elif document["dimensions"] == 3 and suffix_of(file) in PNG_SUFFIXES + TIFF_SUFFIXES:
                problems.append(f"{where}: {role} {relative!r} cannot hold a 3D volume (use .nii.gz, .mha or .nrrd)")
            elif not file.is_file():
                problems.append(f"{file}: {role} of case {case_id} is missing")
        for role, relative in entry.get("files", {}).items():
            file = (root / relative).resolve()
            resolved[f"{role} file"] = str(file)
            if not file.is_file():
                problems.append(f"{file}: {role} file of case {case_id} is missing")
        labels = entry.get("labels", {})
        unknown = sorted(set(labels) - set(label_types))
        if unknown:
            problems.append(f"{where}: label types {unknown} are not in label_types {label_types}")
        missing = [t for t in label_types if t not in labels]
        if entry["split"] == "train" and missing:
            problems.append(f"{where}: training case lacks labels {missing} (every training case needs all label_types)")
        cases.append(Case(
            case_id, entry["split"], entry.get("group", IN_DISTRIBUTION), resolved["image"],
            {t: resolved[f"{t} label"] for t in labels}, small=bool(entry.get("small", False)),
            files={role: resolved[f"{role} file"] for role in entry.get("files", {})},
        ))
    _raise_if(problems, root, fix, collector)
    return Manifest(document["name"], document["dimensions"], document["channels"], list(label_types), _ordered(cases),
                    source_layout="segpipe")


def write_dataset_json(root: str | PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest`` as ``root/dataset.json`` (atomically), the inverse of :func:`read_dataset`.

    Parameters
    ----------
    root
        Dataset directory.
    manifest
        The cases; their image, label and extra file paths are written as given, so pass them
        relative to ``root`` (absolute paths are read back unchanged). ``small`` and ``files`` are
        written only where set.

    Returns
    -------
    Path
        The ``dataset.json`` path.
    """
    cases = []
    for case in manifest.cases:
        entry: dict[str, Any] = {"id": case.case_id, "split": case.split, "group": case.group, "image": case.image,
                                 "labels": dict(case.labels)}
        if case.small:
            entry["small"] = True
        if case.files:
            entry["files"] = dict(case.files)
        cases.append(entry)
    document = {"name": manifest.name, "dimensions": manifest.dimensions, "channels": manifest.channels,
                "label_types": list(manifest.label_types), "cases": cases}
    return write_json(Path(root) / DATASET_JSON, document)
