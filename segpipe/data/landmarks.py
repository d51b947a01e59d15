"""Landmark datasets: per-image landmark files beside images, synthetic or real (JSRT-style).

Landmark files
--------------
One file per image holds the ``(x, y)`` pixel coordinates of every landmark, organs concatenated
in template order (for the default template: right lung 44, left lung 50, heart 26 rows), as

- CSV: two columns ``x,y`` (a header line ``x,y`` is optional), or
- ``.npy``: a float array of shape ``(n_landmarks, 2)`` (Gaggion's JSRT files).

Pixel coordinates follow :mod:`segpipe.models.graph`: ``(0, 0)`` is the centre of the top-left pixel.

Dataset layouts
---------------
``read_landmark_dataset`` accepts two layouts:

1. segpipe's: the generic ``dataset.json`` (``name``, ``dimensions``, ``channels``,
   ``label_types`` and ``cases`` with ``id``, ``split``, ``group``, ``image`` and ``labels``, paths
   relative to the dataset root; the chest data's label types are the organ masks plus
   ``accurate``, their union) and ``landmarks.json`` (``{"template": {...}, "files": {id: relative
   path}}``), as written by ``segpipe synth chest``. Landmarks live in their own file because the
   generic ``dataset.json`` schema admits no extra keys.
2. Gaggion's JSRT layout: ``Train/``, ``Val/``, ``Test/`` (any capitalisation), each with ``Images/``
   (PNG) and ``landmarks/`` (``.npy`` or ``.csv`` with the image's stem). All cases are in-distribution.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.data.manifest import IN_DISTRIBUTION, Case, Manifest
from segpipe.errors import InputError
from segpipe.fsutil import atomic_open, write_json
from segpipe.models.graph import GraphTemplate

DATASET_FILE = "dataset.json"
LANDMARKS_FILE = "landmarks.json"
_GAGGION_SPLITS = ("train", "val", "test")


def read_landmarks(path: str | PathLike[str], template: GraphTemplate | None = None) -> np.ndarray:
    """Read one landmark file (CSV or ``.npy``) as a ``(n, 2)`` float array of pixel coordinates.

    Parameters
    ----------
    path
        The file.
    template
        When given, the number of rows must equal ``template.n_nodes``.

    Raises
    ------
    InputError
        If the file is missing, malformed or has the wrong number of landmarks.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("landmark file not found", where=path, fix="check the path; one file per image is expected")
    try:
        if path.suffix.lower() == ".npy":
            points = np.load(path, allow_pickle=False)
        else:
            text = path.read_text(encoding="utf-8")
            skip = 1 if text.lstrip()[:1].isalpha() else 0
            points = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2)
        points = np.asarray(points, dtype=float)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(
            f"cannot read landmarks ({exc})", where=path, fix="write one 'x,y' row of numbers per landmark"
        ) from exc
    if points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
        raise InputError(
            f"expected rows of two finite numbers (x, y), got an array of shape {np.shape(points)}",
            where=path,
            fix="write one 'x,y' row per landmark",
        )
    if template is not None and len(points) != template.n_nodes:
        raise InputError(
            f"{len(points)} landmarks, but the template {template.names} has {template.n_nodes}",
            where=path,
            fix="use the template the landmarks were annotated with (decode.template)",
        )
    return points


def write_landmarks(path: str | PathLike[str], points: np.ndarray) -> Path:
    """Write ``(n, 2)`` pixel coordinates as a CSV landmark file with header ``x,y``, atomically."""
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y"])
        writer.writerows([[f"{x:.4f}", f"{y:.4f}"] for x, y in np.asarray(points, dtype=float)])
    return Path(path)


@dataclass
class LandmarkDataset:
    """Images with landmark files and (optionally) organ masks.

    Attributes
    ----------
    root
        Dataset directory.
    manifest
        The cases (absolute image and label paths).
    template
        Landmark template of every landmark file.
    files
        Case identifier to absolute landmark file path.
    """

    root: Path
    manifest: Manifest
    template: GraphTemplate
    files: dict[str, Path]

    def landmarks(self, case_id: str) -> np.ndarray:
        """``(n, 2)`` pixel landmarks of case ``case_id``."""
        return read_landmarks(self.files[case_id], self.template)

    def cases(self, split: str | None = None, group: str | None = None) -> list[Case]:
        """Cases of ``split`` and ``group`` (``None`` matches any) that have landmarks."""
        return [case for case in self.manifest.select(split=split, group=group) if case.case_id in self.files]


def write_generic_dataset(root: str | PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest`` (image and label paths relative to ``root``) as the generic ``dataset.json``."""
    cases = [
        {"id": c.case_id, "split": c.split, "group": c.group, "image": c.image, "labels": c.labels} for c in manifest.cases
    ]
    document = {"name": manifest.name, "dimensions": manifest.dimensions, "channels": manifest.channels,
                "label_types": manifest.label_types, "cases": cases}
    return write_json(Path(root) / DATASET_FILE, document)


def _read_generic_dataset(root: Path) -> Manifest:
    """Read ``dataset.json`` with absolute paths (the part of ``segpipe.data.layout.read_dataset`` needed here)."""
    raw = _load_json(root / DATASET_FILE)
    try:
        cases = [
            Case(
                case["id"], case["split"], case.get("group", IN_DISTRIBUTION), str(root / case["image"]),
                {label_type: str(root / path) for label_type, path in case.get("labels", {}).items()},
            )
            for case in raw["cases"]
        ]
        return Manifest(raw["name"], raw["dimensions"], raw["channels"], list(raw["label_types"]), cases)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"malformed dataset description ({exc!r})", where=root / DATASET_FILE, fix="regenerate the dataset") from exc


def write_landmark_index(root: str | PathLike[str], template: GraphTemplate, files: dict[str, str]) -> Path:
    """Write ``landmarks.json``: the template and each case's landmark file (relative to ``root``)."""
    return write_json(Path(root) / LANDMARKS_FILE, {"template": template.to_dict(), "files": files})


def read_landmark_dataset(root: str | PathLike[str], template: GraphTemplate | None = None) -> LandmarkDataset:
    """Read a landmark dataset in segpipe's or Gaggion's layout (see the module notes).

    Parameters
    ----------
    root
        Dataset directory.
    template
        Expected template. For segpipe's layout it must equal the stored template; Gaggion's layout
        stores none, so it is required there.

    Raises
    ------
    InputError
        If the directory is in neither layout, or the template does not match.
    """
    root = Path(root)
    if (root / DATASET_FILE).is_file():
        return _read_segpipe_layout(root, template)
    if _gaggion_split_dirs(root):
        if template is None:
            raise InputError("a JSRT-style dataset stores no template", where=root, fix="set decode.template")
        return _read_gaggion_layout(root, template)
    raise InputError(
        f"not a landmark dataset: neither {DATASET_FILE} nor Train/Val/Test folders with Images/ and landmarks/",
        where=root,
        fix="generate one with `segpipe synth chest` or arrange files in Gaggion's JSRT layout",
    )


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise InputError("file not found", where=path, fix="regenerate the dataset") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", where=path, fix="regenerate the dataset") from exc


def _read_segpipe_layout(root: Path, template: GraphTemplate | None) -> LandmarkDataset:
    manifest = _read_generic_dataset(root)
    index = _load_json(root / LANDMARKS_FILE)
    try:
        stored = GraphTemplate.from_dict(index["template"], source=str(root / LANDMARKS_FILE))
        files = {case_id: root / relative for case_id, relative in index["files"].items()}
    except (KeyError, TypeError) as exc:
        raise InputError(f"malformed dataset description ({exc})", where=root, fix="regenerate the dataset") from exc
    if template is not None and template != stored:
        raise InputError(
            f"the dataset's landmark template {stored.to_dict()} differs from the configured {template.to_dict()}",
            where=root / LANDMARKS_FILE,
            fix="set decode.template to the dataset's template or regenerate the dataset",
        )
    return LandmarkDataset(root, manifest, stored, files)


def _gaggion_split_dirs(root: Path) -> dict[str, Path]:
    found = {}
    if root.is_dir():
        for child in root.iterdir():
            split = child.name.lower()
            if split in _GAGGION_SPLITS and child.is_dir() and _child(child, "images") and _child(child, "landmarks"):
                found[split] = child
    return found


def _child(directory: Path, name: str) -> Path | None:
    for child in directory.iterdir():
        if child.is_dir() and child.name.lower() == name:
            return child
    return None


def _read_gaggion_layout(root: Path, template: GraphTemplate) -> LandmarkDataset:
    cases, files = [], {}
    for split, directory in sorted(_gaggion_split_dirs(root).items()):
        images, landmarks = _child(directory, "images"), _child(directory, "landmarks")
        by_stem = {p.stem: p for p in landmarks.iterdir() if p.suffix.lower() in (".npy", ".csv")}
        for image in sorted(images.glob("*.png")):
            if image.stem in by_stem:
                case_id = f"{split}_{image.stem}"
                cases.append(Case(case_id, split, IN_DISTRIBUTION, str(image.resolve())))
                files[case_id] = by_stem[image.stem].resolve()
    if not cases:
        raise InputError("no image has a landmark file of the same name", where=root, fix="name files e.g. JPCLN001.png and JPCLN001.npy")
    manifest = Manifest(name=root.name, dimensions=2, channels=1, label_types=[], cases=cases)
    return LandmarkDataset(root, manifest, template, files)
