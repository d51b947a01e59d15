"""Landmark datasets: per-image landmark files beside images, synthetic or real (JSRT-style).

Landmark files
--------------
One file per image holds the ``(x, y)`` pixel coordinates of every landmark, organs concatenated
in template order (for the default template: right lung 44, left lung 50, heart 26 rows), as

- CSV: two columns ``x,y`` (a header line ``x,y`` is optional), or
- ``.npy``: a float array of shape ``(n_landmarks, 2)`` (Gaggion's JSRT files).

Pixel coordinates follow :mod:`segpipe.networks.graph`: ``(0, 0)`` is the centre of the top-left pixel.

Dataset layouts
---------------
``read_landmark_dataset`` accepts two layouts:

1. segpipe's: the generic ``dataset.json`` read by :func:`segpipe.datasets.layout.read_dataset`, each
   case listing its landmark file under ``files`` (``"files": {"landmarks": "landmarks/x.csv"}``;
   for the chest data, the label types are the organ masks plus ``accurate``, their union), and
   ``landmark_template.json``, the template of every landmark file (``{"template": {...}}``), as
   written by ``segpipe synth chest``.
2. Gaggion's JSRT layout: ``Train/``, ``Val/``, ``Test/`` (any capitalisation), each with ``Images/``
   (PNG) and ``landmarks/`` (``.npy`` or ``.csv`` with the image's stem). All cases are in-distribution.
   :func:`write_segpipe_layout` turns it into the first layout (reference masks rasterised from the
   landmarks), which the segmentation pipeline can read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import numpy as np

from segpipe.datasets.layout import DATASET_JSON, read_dataset, write_dataset_json
from segpipe.datasets.manifest import IN_DISTRIBUTION, Case, Manifest
from segpipe.errors import InputError
from segpipe.io.atomic import atomic_open, write_json
from segpipe.io.images import Geometry, read_image, write_image
from segpipe.networks.graph import GraphTemplate, rasterize

#: File holding the landmark template of a dataset in segpipe's layout.
TEMPLATE_FILE = "landmark_template.json"
#: Role of the landmark file in ``Case.files``.
LANDMARKS = "landmarks"
#: Label type of the union of all organs (the binary target of the segmentation pipeline).
UNION_LABEL = "accurate"
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
        The cases (absolute paths); a case's landmark file is ``case.files["landmarks"]``.
    template
        Landmark template of every landmark file.
    """

    root: Path
    manifest: Manifest
    template: GraphTemplate

    def landmarks(self, case_id: str) -> np.ndarray:
        """``(n, 2)`` pixel landmarks of case ``case_id``."""
        return read_landmarks(self.manifest.case(case_id).files[LANDMARKS], self.template)

    def cases(self, split: str | None = None, group: str | None = None) -> list[Case]:
        """Cases of ``split`` and ``group`` (``None`` matches any) that have landmarks."""
        return [case for case in self.manifest.select(split=split, group=group) if LANDMARKS in case.files]


def write_template(root: str | PathLike[str], template: GraphTemplate) -> Path:
    """Write ``root/landmark_template.json``, the template of a dataset's landmark files."""
    return write_json(Path(root) / TEMPLATE_FILE, {"template": template.to_dict()})


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
    if (root / DATASET_JSON).is_file():
        return _read_segpipe_layout(root, template)
    if _gaggion_split_dirs(root):
        if template is None:
            raise InputError("a JSRT-style dataset stores no template", where=root, fix="set decode.template")
        return _read_gaggion_layout(root, template)
    raise InputError(
        f"not a landmark dataset: neither {DATASET_JSON} nor Train/Val/Test folders with Images/ and landmarks/",
        where=root,
        fix="generate one with `segpipe synth chest` or arrange files in Gaggion's JSRT layout",
    )


def _read_segpipe_layout(root: Path, template: GraphTemplate | None) -> LandmarkDataset:
    manifest = read_dataset(root)
    path = root / TEMPLATE_FILE
    try:
        stored = GraphTemplate.from_dict(json.loads(path.read_text(encoding="utf-8"))["template"], source=str(path))
    except FileNotFoundError as exc:
        raise InputError("landmark template not found", where=path, fix="regenerate the dataset") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"malformed landmark template file ({exc})", where=path, fix="regenerate the dataset") from exc
    if template is not None and template != stored:
        raise InputError(
            f"the dataset's landmark template {stored.to_dict()} differs from the configured {template.to_dict()}",
            where=path,
            fix="set decode.template to the dataset's template or regenerate the dataset",
        )
    if not any(LANDMARKS in case.files for case in manifest.cases):
        raise InputError(
            f"no case lists a landmark file (\"files\": {{\"{LANDMARKS}\": ...}})", where=root / DATASET_JSON,
            fix="list each case's landmark file in dataset.json",
        )
    return LandmarkDataset(root, manifest, stored)


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
    cases = []
    for split, directory in sorted(_gaggion_split_dirs(root).items()):
        images, landmarks = _child(directory, "images"), _child(directory, "landmarks")
        by_stem = {p.stem: p for p in landmarks.iterdir() if p.suffix.lower() in (".npy", ".csv")}
        for image in sorted(images.glob("*.png")):
            if image.stem in by_stem:
                files = {LANDMARKS: str(by_stem[image.stem].resolve())}
                cases.append(Case(f"{split}_{image.stem}", split, IN_DISTRIBUTION, str(image.resolve()), files=files))
    if not cases:
        raise InputError("no image has a landmark file of the same name", where=root, fix="name files e.g. JPCLN001.png and JPCLN001.npy")
    manifest = Manifest(name=root.name, dimensions=2, channels=1, label_types=[], cases=cases)
    return LandmarkDataset(root, manifest, template)


def write_segpipe_layout(dataset: LandmarkDataset, out: str | PathLike[str]) -> Path:
    """Describe a landmark dataset in segpipe's layout, with reference masks rasterised from its landmarks.

    Images and landmark files stay where they are (``dataset.json`` lists their absolute paths);
    ``out/labels/<organ>/<case>.png`` and ``out/labels/accurate/<case>.png`` (the union of the
    organs) are written for every case with landmarks, filled as in
    :func:`segpipe.networks.graph.rasterize` ({0, 255} PNG on the image's pixel grid and geometry).

    Parameters
    ----------
    dataset
        A landmark dataset, e.g. in Gaggion's JSRT layout.
    out
        Directory of the new description (created).

    Returns
    -------
    Path
        ``out/dataset.json``, written last.
    """
    out = Path(out)
    cases = []
    for case in dataset.cases():
        image = read_image(case.image)
        points = dataset.landmarks(case.case_id)
        labels = write_reference_masks(out, case.case_id, points, dataset.template, image.spatial_shape, image.geometry)
        cases.append(replace(case, labels=labels))
    write_template(out, dataset.template)
    return write_dataset_json(out, replace(dataset.manifest, label_types=reference_label_types(dataset.template), cases=cases))


def reference_label_types(template: GraphTemplate) -> list[str]:
    """Label types of a landmark dataset in segpipe's layout: the union of the organs, then each organ."""
    return [UNION_LABEL, *template.names]


def write_reference_masks(
    root: Path,
    case_id: str,
    points: np.ndarray,
    template: GraphTemplate,
    shape: tuple[int, ...],
    geometry: Geometry | None = None,
) -> dict[str, str]:
    """Write the masks of a case's landmarks: ``root/labels/<type>/<case_id>.png`` for every reference label type.

    Parameters
    ----------
    root
        Dataset directory.
    case_id
        Case identifier (the file name).
    points
        ``(n, 2)`` pixel landmarks of ``template``.
    template
        Organs of the landmarks.
    shape
        ``(rows, cols)`` of the case's image.
    geometry
        Geometry of the case's image, given to the masks (``None``: unit spacing).

    Returns
    -------
    dict
        Label type to path relative to ``root``: each organ filled as in
        :func:`segpipe.networks.graph.rasterize`, and ``accurate``, their union ({0, 255} PNG).
    """
    masks = rasterize(points, template, shape)
    masks[UNION_LABEL] = np.maximum.reduce(list(masks.values()))
    labels = {}
    for label_type in reference_label_types(template):
        labels[label_type] = f"labels/{label_type}/{case_id}.png"
        write_image(root / labels[label_type], masks[label_type] * np.uint8(255), geometry)
    return labels
