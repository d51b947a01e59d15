"""Preprocessing: validate every case, normalise intensities, write cases, manifest and fingerprint.

``segpipe preprocess`` reads a dataset directory (:func:`segpipe.datasets.layout.read_dataset`) and
writes into ``OUT``::

    OUT/cases/{id}.npz     one preprocessed case (segpipe.datasets.cases.save_case): float32 image
                           (C, *spatial) normalised per image and channel, uint8 {0, 1} labels
                           (class values 0..K under the classes policy) of every label type the
                           case has, geometry; with distance_maps=True also
                           the float32 signed distance map of every label type (extra
                           ``sdm__<label type>``, :func:`signed_distance_map`, for the boundary loss)
    OUT/fingerprint.json   dataset fingerprint (nnU-Net style, see :func:`fingerprint`)
    OUT/manifest.json      the manifest, with ``Case.data = "cases/{id}.npz"``

Label policy (``preprocess.label_policy``): ``strict`` (default) accepts only binary labels, 0 and 1
or 0 and 255. ``binarise`` makes every value above ``preprocess.label_threshold`` (default 0, as
TopoMortar's code does) foreground; every file it changes (one whose values are not 0/1 or 0/255)
is listed with its values and the voxels whose class it chose, in the fingerprint
(``binarised_labels``), on standard error (the job's log) and in the report. ``classes`` keeps the
values of multi-class labels: 0 is the background, 1..K the foreground classes, whose names
(:func:`segpipe.datasets.classes.class_names`) the fingerprint records (``classes``). Every problem in the
dataset (unreadable files, NaN or infinite values, non-binary labels under the strict policy, a
label whose shape or geometry differs from its image, wrong dimensionality or channel count) is
collected over all cases and reported in one error that lists every offending file.

Resampling (``preprocess.target_spacing``): every case is resampled to that spacing (mm per array
axis; :mod:`segpipe.preprocessing.resampling`) before normalisation, as nnU-Net does; the case keeps the shape and
geometry of its own grid, where ``segpipe predict`` writes its predictions.

Every problem is found in one pass: the layout's (missing images, labels, channel files) and the
files' (unreadable or truncated, NaN, non-binary, RGBA, wrong shape or geometry) are listed in one
error that names each file. Re-running is idempotent, and neither a failing nor a killed run
damages the previous results: case files are written into ``OUT/.staging/`` and moved into
``OUT/cases/`` only once every case has passed its checks; the manifest and fingerprint are
deleted just before that move and written last, so a manifest never points at half-written or
mixed cases, and case files of cases no longer in the dataset are removed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from segpipe.datasets.cases import PreprocessedCase, save_case
from segpipe.datasets.classes import FINGERPRINT_KEY, class_names
from segpipe.datasets.layout import read_dataset
from segpipe.datasets.manifest import Case, Manifest
from segpipe.errors import InputError, SegpipeError
from segpipe.io.atomic import write_json
from segpipe.io.images import Geometry, ImageData, nifti_transform_disagreement, read_image, read_mask
from segpipe.preprocessing.resampling import resample_image, resample_labels, resampled_geometry, resampled_shape
from segpipe.utilities.workers import run_jobs

#: Values of ``preprocess.normalisation``.
NORMALISATIONS = ("zscore", "minmax", "percentile", "none")
#: Values of ``preprocess.label_policy``.
LABEL_POLICIES = ("strict", "binarise", "classes")
MANIFEST_FILE = "manifest.json"
FINGERPRINT_FILE = "fingerprint.json"
CASES_DIR = "cases"
#: Where a run writes its case files until every case has passed its checks.
STAGING_DIR = ".staging"
#: Voxels sampled per case and channel for the fingerprint's percentiles (as nnU-Net does).
SAMPLES_PER_CASE = 10_000
_PERCENTILES = (0.5, 50.0, 99.5)


def normalise(image: np.ndarray, method: str) -> np.ndarray:
    """Normalise each channel of one image by its own statistics.

    Parameters
    ----------
    image
        Array ``(C, *spatial)``.
    method
        ``zscore``: subtract the mean, divide by the standard deviation; ``minmax``: map
        ``[min, max]`` to ``[0, 1]``; ``percentile``: clip to the 0.5 and 99.5 percentiles, then
        map that range to ``[0, 1]``; ``none``: only convert to float32. A constant channel becomes
        0 (zscore, minmax, percentile).

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the same shape.
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {method!r}; expected one of {NORMALISATIONS}")
    data = np.asarray(image, dtype=np.float64)
    axes = tuple(range(1, data.ndim))
    if method == "zscore":
        mean = data.mean(axis=axes, keepdims=True)
        std = data.std(axis=axes, keepdims=True)
        data = (data - mean) / np.where(std > 0, std, 1.0)
    elif method in ("minmax", "percentile"):
        if method == "percentile":
            low, high = np.percentile(data, [0.5, 99.5], axis=axes, keepdims=True)
            data = np.clip(data, low, high)
        else:
            low, high = data.min(axis=axes, keepdims=True), data.max(axis=axes, keepdims=True)
        span = high - low
        data = (data - low) / np.where(span > 0, span, 1.0)
    return data.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# One case (runs in a worker process)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Moments:
    """Count, mean, sum of squared deviations, minimum and maximum of one channel's values.

    Moments of several cases combine exactly (Chan et al.'s pairwise update), so the fingerprint's
    means and standard deviations are those of all voxels, not estimates.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = np.inf
    high: float = -np.inf

    @classmethod
    def of(cls, values: np.ndarray) -> _Moments:
        values = values.astype(np.float64)
        if values.size == 0:
            return cls()
        mean = float(values.mean())
        return cls(values.size, mean, float(np.square(values - mean).sum()), float(values.min()), float(values.max()))

    def __add__(self, other: _Moments) -> _Moments:
        count = self.count + other.count
        if count == 0:
            return _Moments()
        delta = other.mean - self.mean
        return _Moments(
            count,
            self.mean + delta * other.count / count,
            self.m2 + other.m2 + delta**2 * self.count * other.count / count,
            min(self.low, other.low),
            max(self.high, other.high),
        )

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return float(np.sqrt(self.m2 / self.count)) if self.count else 0.0


@dataclass
class _LabelFacts:
    values: list[float]
    foreground: int
    voxels: int
    radius_voxels: float
    radius_mm: float


@dataclass
class CaseReport:
    """What preprocessing one case found: problems, or the facts the fingerprint needs."""

    case_id: str
    problems: list[str] = field(default_factory=list)
    shape: tuple[int, ...] = ()
    spacing: tuple[float, ...] = ()
    overall: list[_Moments] = field(default_factory=list)
    foreground: list[_Moments] = field(default_factory=list)
    overall_samples: np.ndarray | None = None
    foreground_samples: np.ndarray | None = None
    labels: dict[str, _LabelFacts] = field(default_factory=dict)
    binarised: list[dict[str, Any]] = field(default_factory=list)
    transform_warnings: list[dict[str, str]] = field(default_factory=list)


def largest_radius(mask: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """Largest inscribed-ball radius of the foreground: the maximum of its Euclidean distance map.

    Parameters
    ----------
    mask
        Binary mask.
    spacing
        Voxel size per array axis (mm); ``None`` measures in voxels.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return 0.0
    if mask.all():  # no background inside the image: the image border bounds the structure
        mask = np.pad(mask, 1)
    return float(ndimage.distance_transform_edt(mask, sampling=spacing).max())


def distance_map_key(label_type: str) -> str:
    """Case-extra key of the signed distance map of ``label_type``'s label."""
    return f"sdm__{label_type}"


def signed_distance_map(mask: np.ndarray, spacing: tuple[float, ...] | None = None) -> np.ndarray:
    """Signed Euclidean distance map of a binary mask (Kervadec et al.'s boundary loss).

    Outside the foreground: the distance to the nearest foreground voxel (positive); inside: minus
    the distance to the nearest background voxel (negative); zero everywhere when the mask has no
    foreground (an absent class). A mask without background is treated as surrounded by background
    beyond the image border.

    Parameters
    ----------
    mask
        Binary mask (2D or 3D).
    spacing
        Voxel size per array axis (mm); ``None`` measures in voxels.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the mask's shape.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32)
    padded = mask.all()
    inside = np.pad(mask, 1) if padded else mask
    depth = ndimage.distance_transform_edt(inside, sampling=spacing)
    depth = depth[(slice(1, -1),) * mask.ndim] if padded else depth
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    return np.where(mask, -depth, outside).astype(np.float32)


def _binary_values_problem(values: np.ndarray) -> str | None:
    allowed = ({0.0, 1.0}, {0.0, 255.0})
    found = set(values.tolist())
    if any(found <= allowed_set for allowed_set in allowed):
        return None
    shown = ", ".join(f"{v:g}" for v in sorted(found)[:8]) + (", ..." if len(found) > 8 else "")
    return f"values {{{shown}}} are not binary; a label may hold only 0 and 1, or only 0 and 255"


def _class_values_problem(values: np.ndarray) -> str | None:
    if np.all((values >= 0) & (values <= 255) & (values == np.round(values))):
        return None
    shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
    return f"values {{{shown}}} are not class values; a label may hold only integers 0 (background) to 255"


def _describe(geometry: Geometry) -> str:
    def numbers(values: tuple[float, ...]) -> str:
        return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"

    return f"spacing {numbers(geometry.spacing)}, origin {numbers(geometry.origin)}, direction {numbers(geometry.direction)}"


@dataclass(frozen=True)
class LabelPolicy:
    """How label values become foreground (``preprocess.label_policy`` and ``label_threshold``).

    Attributes
    ----------
    mode
        ``"strict"``: only binary labels (0/1 or 0/255) are accepted; ``"binarise"``: values above
        ``threshold`` are foreground, and each file that is not binary is reported; ``"classes"``:
        integer values are kept as classes (0 the background).
    threshold
        Foreground is ``value > threshold`` under ``"binarise"``.
    """

    mode: str = "strict"
    threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in LABEL_POLICIES:
            raise SegpipeError(f"unknown label policy {self.mode!r}", fix=f"use one of {', '.join(LABEL_POLICIES)}")


def _binarised(path: str, array: np.ndarray, values: np.ndarray, threshold: float) -> dict[str, Any]:
    """What binarising a non-binary label changed: its values and the voxels whose class was chosen."""
    standard = {0.0, 255.0} if values.max() > 1 else {0.0, 1.0}
    unusual = ~np.isin(array, list(standard))
    return {
        "file": path, "values": [float(v) for v in values],
        "voxels_not_binary": int(np.count_nonzero(unusual)),
        "to_foreground": int(np.count_nonzero(unusual & (array > threshold))),
    }


def _check_label(
    path: str, image: ImageData | None, problems: list[str], policy: LabelPolicy, binarised: list[dict[str, Any]]
) -> tuple[np.ndarray | None, list[float]]:
    """Read one label and append every problem found (values; shape and geometry if ``image``).

    Under the ``binarise`` policy a label that is not binary is binarised and described in
    ``binarised``.

    Returns
    -------
    tuple
        The label as ``uint8`` {0, 1}, or its class values under the ``classes`` policy (``None`` if
        it has a problem), and its raw values.
    """
    try:
        array, geometry = read_mask(path)
    except InputError as error:
        problems.append(str(error).replace("\n", " "))
        return None, []
    found = len(problems)
    floating = np.issubdtype(array.dtype, np.floating)
    nan = np.count_nonzero(np.isnan(array)) if floating else 0
    values = np.unique(array[~np.isnan(array)] if nan else array).astype(np.float64)
    if nan:
        problems.append(f"{path}: {nan} NaN values in the label")
    problem = None if not values.size else (
        _class_values_problem(values) if policy.mode == "classes" else _binary_values_problem(values))
    if problem and policy.mode == "classes":
        problems.append(f"{path}: {problem}")
    elif problem and policy.mode == "strict":
        problems.append(
            f"{path}: {problem} (or set 'preprocess.label_policy: binarise' to count values above "
            "'preprocess.label_threshold' as foreground)"
        )
    elif problem:
        binarised.append(_binarised(path, array, values, policy.threshold))
    if image is not None and array.shape != image.spatial_shape:
        problems.append(f"{path}: label shape {array.shape} differs from its image's {image.spatial_shape} ({image.path})")
    elif image is not None and not geometry.matches(image.geometry):
        problems.append(
            f"{path}: label geometry ({_describe(geometry)}) differs from its image's "
            f"({_describe(image.geometry)}) ({image.path})"
        )
    threshold = policy.threshold if policy.mode == "binarise" else 0.0
    if len(problems) > found:
        return None, values.tolist()
    return (array if policy.mode == "classes" else array > threshold).astype(np.uint8), values.tolist()


def _read_channels(paths: Sequence[str], problems: list[str]) -> ImageData | None:
    """Read an image stored in one file, or one file per channel (nnU-Net's ``_0000``, ``_0001``, ...)."""
    parts = []
    for path in paths:
        try:
            parts.append(read_image(path))
        except InputError as error:
            problems.append(str(error).replace("\n", " "))
    if len(parts) != len(paths):
        return None
    first = parts[0]
    for part in parts[1:]:
        if part.spatial_shape != first.spatial_shape or not part.geometry.matches(first.geometry):
            problems.append(f"{part.path}: channel file's grid (shape {part.spatial_shape}, {_describe(part.geometry)}) "
                            f"differs from the first channel's ({first.path})")
            return None
    if len(parts) == 1:
        return first
    return ImageData(np.concatenate([part.array for part in parts]), first.geometry, first.path)


def _check_image(paths: str | Sequence[str], dimensions: int, channels: int, problems: list[str]) -> ImageData | None:
    """Read one image (one file, or one file per channel) and append every problem found; ``None`` if unreadable."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    image = _read_channels(paths, problems)
    if image is None:
        return None
    path = image.path
    if len(image.spatial_shape) != dimensions:
        problems.append(f"{path}: {len(image.spatial_shape)}-D image in a {dimensions}-D dataset")
    if image.array.shape[0] != channels:
        alpha = " (RGBA: save it without the alpha channel)" if image.array.shape[0] == 4 and channels == 3 else ""
        problems.append(f"{path}: {image.array.shape[0]} channels{alpha}, the dataset has {channels}")
    if np.issubdtype(image.array.dtype, np.floating):
        nan, inf = np.count_nonzero(np.isnan(image.array)), np.count_nonzero(np.isinf(image.array))
        if nan or inf:
            problems.append(f"{path}: {nan} NaN and {inf} infinite values in the image")
    return image


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Up to :data:`SAMPLES_PER_CASE` columns of a ``(C, N)`` array, chosen at random."""
    if values.shape[1] <= SAMPLES_PER_CASE:
        return values.astype(np.float64)
    return values[:, np.sort(rng.choice(values.shape[1], SAMPLES_PER_CASE, replace=False))].astype(np.float64)


def process_case(case: Case, index: int, dimensions: int, channels: int, method: str, reference: str | None,
                 destination: str, distance_maps: bool = False, policy: LabelPolicy = LabelPolicy(),
                 target_spacing: tuple[float, ...] | None = None) -> CaseReport:
    """Validate, normalise and save one case; return its problems or fingerprint facts.

    Parameters
    ----------
    case
        The raw case.
    index
        Position of the case in the manifest (seeds the intensity sample).
    dimensions, channels
        What the dataset declares; the case must agree.
    method
        Normalisation (see :func:`normalise`).
    reference
        Label type whose foreground defines the foreground intensities (``None``: none).
    destination
        Path of the ``.npz`` file to write.
    distance_maps
        Also store the signed distance map of every label type (:func:`signed_distance_map`, with
        the image's spacing) as case extra :func:`distance_map_key`.
    policy
        The label policy.
    target_spacing
        Resample the case to this spacing (per array axis, mm) first; None keeps its grid.
    """
    report = CaseReport(case.case_id)
    image = _check_image(case.image_files, dimensions, channels, report.problems)
    for path in [*case.image_files, *case.labels.values()]:
        disagreement = nifti_transform_disagreement(path) if Path(path).is_file() else None
        if disagreement:
            report.transform_warnings.append({"file": str(path), "warning": disagreement})
    checked = {t: _check_label(path, image, report.problems, policy, report.binarised) for t, path in case.labels.items()}
    if report.problems or image is None:
        return report
    labels = {label_type: mask for label_type, (mask, _) in checked.items()}
    array, geometry, source = image.array, image.geometry, None
    if target_spacing is not None:
        shape = resampled_shape(image.spatial_shape, geometry.array_spacing, target_spacing)
        if shape != image.spatial_shape:
            source = (image.spatial_shape, geometry)
            array, geometry = resample_image(array, shape), resampled_geometry(geometry, image.spatial_shape, shape)
            labels = {label_type: resample_labels(mask, shape) for label_type, mask in labels.items()}
    spacing = geometry.array_spacing
    report.shape, report.spacing = tuple(array.shape[1:]), spacing
    values = array.reshape(array.shape[0], -1)
    rng = np.random.default_rng(index)
    report.overall = [_Moments.of(channel) for channel in values]
    report.overall_samples = _sample(values, rng)
    if reference in labels:
        inside = values[:, labels[reference].ravel() > 0]
        report.foreground = [_Moments.of(channel) for channel in inside]
        report.foreground_samples = _sample(inside, rng)
    for label_type, mask in labels.items():  # of the union of the classes (a bound of each class's radius)
        report.labels[label_type] = _LabelFacts(
            checked[label_type][1], int(np.count_nonzero(mask)), int(mask.size),
            largest_radius(mask), largest_radius(mask, spacing),
        )
    extras = {distance_map_key(t): signed_distance_map(mask, spacing) for t, mask in labels.items()} if distance_maps else {}
    save_case(destination, PreprocessedCase(normalise(array, method), labels, geometry, extras, source))
    return report


# ---------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------


def _summary(values: list[tuple[float, ...]]) -> dict[str, list[float]]:
    array = np.asarray(values, dtype=np.float64)
    return {"median": np.median(array, axis=0).tolist(), "min": array.min(axis=0).tolist(),
            "max": array.max(axis=0).tolist()}


def _intensity(moments: list[list[_Moments]], samples: list[np.ndarray]) -> list[dict[str, float]] | None:
    """Per-channel statistics from per-case moments (exact) and samples (percentiles)."""
    moments = [m for m in moments if m]
    if not moments or not any(m.count for case in moments for m in case):
        return None
    pooled = np.concatenate(samples, axis=1)
    statistics = []
    for channel in range(len(moments[0])):
        total = sum((case[channel] for case in moments), _Moments())
        low, median, high = np.percentile(pooled[channel], _PERCENTILES)
        statistics.append({
            "mean": total.mean, "std": total.std, "min": total.low, "max": total.high,
            "median": float(median), "percentile_00_5": float(low), "percentile_99_5": float(high),
        })
    return statistics


def fingerprint(
    manifest: Manifest, reports: list[CaseReport], normalisation: str, reference: str | None,
    policy: LabelPolicy = LabelPolicy(), target_spacing: tuple[float, ...] | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The dataset fingerprint (nnU-Net style) from the per-case reports.

    Shapes and spacings are per array axis (SimpleITK order: ``(z, y, x)`` or ``(row, column)``),
    spacings in mm. Intensity statistics are of the raw images, per channel, over all voxels
    (``overall``) and over the foreground of the ``reference`` label type (``foreground``); means,
    standard deviations, minima and maxima are exact, the median and the 0.5/99.5 percentiles are
    computed from up to :data:`SAMPLES_PER_CASE` voxels sampled per case. For each label type:
    the raw label values found, the foreground fraction of all voxels, and the largest structure
    radius (the maximum of the foreground's Euclidean distance transform) in voxels and in mm.
    Shapes, spacings and radii are those of the grid the networks train on (after resampling to
    ``target_spacing``). ``label_policy`` and ``binarised_labels`` (every file the ``binarise``
    policy changed) record how labels became binary; under the ``classes`` policy ``classes`` names
    the foreground classes 1..K in value order (:mod:`segpipe.datasets.classes`).
    ``nifti_transform_warnings`` lists every NIfTI file whose qform and sform disagree (segpipe uses
    the sform).
    """
    counts: dict[str, dict[str, int]] = {}
    for (split, group), number in sorted(Counter((c.split, c.group) for c in manifest.cases).items()):
        counts.setdefault(split, {})[group] = number
    labels: dict[str, dict[str, Any]] = {}
    for label_type in sorted({t for r in reports for t in r.labels}):
        facts = [r.labels[label_type] for r in reports if label_type in r.labels]
        radii = [f.radius_voxels for f in facts]
        labels[label_type] = {
            "cases": len(facts),
            "values_found": sorted({v for f in facts for v in f.values}),
            "foreground_fraction": sum(f.foreground for f in facts) / sum(f.voxels for f in facts),
            "largest_radius_voxels": max(radii),
            "largest_radius_mm": max(f.radius_mm for f in facts),
            "median_radius_voxels": float(np.median(radii)),
        }
    result = {
        "dataset": {"name": manifest.name, "dimensions": manifest.dimensions, "channels": manifest.channels,
                    "cases": len(manifest.cases), "label_types": manifest.label_types},
        "counts": counts,
        "small_training_set": len(manifest.training_cases("small")),
        "normalisation": normalisation,
        "target_spacing": None if target_spacing is None else list(target_spacing),
        "label_policy": {"mode": policy.mode, "threshold": policy.threshold},
        "binarised_labels": [entry for r in reports for entry in r.binarised],
        "nifti_transform_warnings": [entry for r in reports for entry in r.transform_warnings],
        "shapes": _summary([r.shape for r in reports]),
        "spacings": _summary([r.spacing for r in reports]),
        "intensity": {
            "overall": _intensity([r.overall for r in reports], [r.overall_samples for r in reports]),
            "foreground": _intensity([r.foreground for r in reports],
                                     [r.foreground_samples for r in reports if r.foreground_samples is not None]),
            "foreground_label_type": reference,
        },
        "labels": labels,
        "cases": {
            r.case_id: {
                "shape": list(r.shape), "spacing": list(r.spacing),
                "foreground_fraction": {t: f.foreground / f.voxels for t, f in r.labels.items()},
                "radius_voxels": {t: f.radius_voxels for t, f in r.labels.items()},
            }
            for r in reports
        },
    }
    if classes is not None:
        result[FINGERPRINT_KEY] = list(classes)
    return result


def _reference_label(manifest: Manifest) -> str | None:
    """The label type whose foreground defines foreground intensities: accurate if there is one."""
    present = list(manifest.label_types) + sorted({t for c in manifest.cases for t in c.labels})
    return "accurate" if "accurate" in present else (present[0] if present else None)


def _existing_files(case: Case) -> Case:
    """``case`` without the labels whose files are missing (the layout reported them already)."""
    return replace(case, labels={t: path for t, path in case.labels.items() if Path(path).is_file()})


def _publish(staging: Path, cases_dir: Path, out: Path, wanted: set[str]) -> None:
    """Move the staged case files into ``cases_dir`` (the manifest is gone meanwhile) and drop stale ones."""
    cases_dir.mkdir(parents=True, exist_ok=True)
    for completion_marker in (MANIFEST_FILE, FINGERPRINT_FILE):  # deleted first, written last
        (out / completion_marker).unlink(missing_ok=True)
    for staged in staging.glob("*.npz"):
        os.replace(staged, cases_dir / staged.name)
    for stale in cases_dir.iterdir():
        if stale.name not in wanted:  # cases no longer in the dataset, temporary files of a killed run
            stale.unlink()
    shutil.rmtree(staging, ignore_errors=True)


def preprocess_dataset(
    dataset: str | PathLike[str],
    out: str | PathLike[str],
    *,
    normalisation: str = "zscore",
    distance_maps: bool = False,
    label_policy: LabelPolicy = LabelPolicy(),
    target_spacing: Sequence[float] | None = None,
    threads: int = 1,
    progress: bool = False,
    predicted_splits: Sequence[str] = (),
) -> Manifest:
    """Validate and preprocess every case of ``dataset`` into ``out``.

    Parameters
    ----------
    dataset
        Dataset directory in TopoMortar's or the ``dataset.json`` layout.
    out
        Output directory (see the module documentation for what it holds).
    normalisation
        One of :data:`NORMALISATIONS` (``preprocess.normalisation`` in the configuration).
    distance_maps
        Store each label's signed distance map in its case (``preprocess.distance_maps``; the
        boundary loss needs them).
    label_policy
        How label values become foreground, or classes (``preprocess.label_policy``, ``label_threshold``).
    target_spacing
        Resample every case to this spacing, per array axis in mm (``preprocess.target_spacing``);
        None keeps each case's grid.
    threads
        Worker processes (1: work in this process).
    progress
        Show a progress bar on standard error.
    predicted_splits
        Splits that must hold cases, checked before any file is read: those that `segpipe predict`
        will predict and evaluate after training (``predict.splits``; `segpipe preprocess` passes
        them), so that no run trains in vain.

    Returns
    -------
    Manifest
        The manifest written to ``out/manifest.json``.

    Raises
    ------
    InputError
        If the dataset cannot be read, a predicted split has no cases, the classes are not 1..K
        (``classes`` policy), or listing every offending file of every case.
    """
    if normalisation not in NORMALISATIONS:
        raise SegpipeError(f"unknown normalisation {normalisation!r}", fix=f"use one of {', '.join(NORMALISATIONS)}")
    layout_problems: list[str] = []
    manifest = read_dataset(dataset, problems=layout_problems)
    for split in predicted_splits:
        if not manifest.select(split=split):
            raise InputError(
                f"the data set has no cases in split '{split}', which 'predict.splits' predicts and evaluates after "
                "training", where=Path(dataset),
                fix=f"assign cases to split '{split}' in the data set, or remove '{split}' from 'predict.splits'",
            )
    if target_spacing is not None:
        if len(target_spacing) != manifest.dimensions or not all(s > 0 for s in target_spacing):
            raise SegpipeError(
                f"'preprocess.target_spacing' is {list(target_spacing)}, but the dataset is {manifest.dimensions}-D",
                fix=f"give {manifest.dimensions} positive spacings in mm (array order), or null to keep each case's grid",
            )
        target_spacing = tuple(float(s) for s in target_spacing)
    out = Path(out)
    cases_dir, staging = out / CASES_DIR, out / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)  # a killed run's
    staging.mkdir(parents=True)
    reference = _reference_label(manifest)
    jobs = [
        (_existing_files(case), index, manifest.dimensions, manifest.channels, normalisation, reference,
         str(staging / f"{case.case_id}.npz"), distance_maps, label_policy, target_spacing)
        for index, case in enumerate(manifest.cases)
        if all(Path(path).is_file() for path in case.image_files)  # a missing image is a layout problem
    ]
    try:
        reports = run_jobs(process_case, jobs, workers=threads, progress=progress, description="preprocess")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    problems = layout_problems + [problem for report in reports for problem in report.problems]
    if problems:
        shutil.rmtree(staging, ignore_errors=True)  # the previous good results stay as they were
        bad = sum(1 for report in reports if report.problems)
        summary = f"{len(problems)} problems in {bad} of {len(manifest.cases)} cases"
        if layout_problems:
            summary = (f"{len(problems)} problems: {len(layout_problems)} in the dataset's layout, "
                       f"{len(problems) - len(layout_problems)} in the files of {bad} of {len(manifest.cases)} cases")
        raise InputError.listing(
            summary, problems,
            where=Path(dataset),
            fix="correct or remove the files listed (labels must hold only 0/1 or 0/255, unless "
            "'preprocess.label_policy' is binarise or classes, and match their image's shape and geometry), then run "
            "`segpipe preprocess` again; the previous results in the output directory are left as they were",
        )
    for report in reports:
        for entry in report.transform_warnings:
            print(f"segpipe preprocess: warning: {entry['file']}: {entry['warning']}", file=sys.stderr)
        for entry in report.binarised:
            print(f"segpipe preprocess: binarised {entry['file']} (values {entry['values']}): "
                  f"{entry['voxels_not_binary']} voxels not 0/1 or 0/255, {entry['to_foreground']} of them "
                  f"made foreground (value > {label_policy.threshold:g})", file=sys.stderr)
    classes = None
    if label_policy.mode == "classes":
        try:
            classes = class_names([v for r in reports for f in r.labels.values() for v in f.values],
                                  manifest.label_names, where=Path(dataset))
        except InputError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _publish(staging, cases_dir, out, {f"{case.case_id}.npz" for case in manifest.cases})
    write_json(out / FINGERPRINT_FILE,
               fingerprint(manifest, reports, normalisation, reference, label_policy, target_spacing, classes))
    result = manifest.with_cases([replace(case, data=f"{CASES_DIR}/{case.case_id}.npz") for case in manifest.cases])
    result.save(out / MANIFEST_FILE)
    return result
