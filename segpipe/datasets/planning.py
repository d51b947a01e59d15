"""``segpipe init-config``: inspect a data set and plan a configuration for it, as nnU-Net's planning does.

:func:`inspect_dataset` takes a quick fingerprint (no preprocessing): dimension, channels, the
median, smallest and largest image shape and spacing (from file headers where the format has
them), the label values found in up to :data:`LABEL_SAMPLE` label files, and the label names the
layout gives. :func:`plan_config` turns it into the overrides of ``config.yaml`` that a first run
needs, following nnU-Net's planning in a CPU-sized form:

- patch size: the median image shape, shrunk along its longest physical axis until it holds at
  most :data:`PATCH_VOXELS` voxels (2D: 128 x 128, 3D: 64^3 = 262,144), each side a multiple of the
  network's total down-sampling and no larger than the median shape rounded up to that multiple;
- network: a MONAI UNet with one stride-2 level per halving that keeps every patch side at least
  8 voxels (at most 4 levels; nnU-Net stops at 4), 16 feature channels doubled per level;
- resampling: the median spacing as ``preprocess.target_spacing`` when the spacings of the cases
  differ by more than 10 % (nnU-Net resamples every case to the median spacing), else none;
- batch size 2 for 3D (nnU-Net's) and 8 for 2D; label type: the data set's; the photo step only for
  TopoMortar-style data (2D RGB brick walls);
- labels with more than one foreground value: the plan takes the binary route,
  ``preprocess.label_policy: binarise`` (every value above 0 is foreground), and says so in the file,
  with the alternative: ``label_policy: classes`` and ``train.output: softmax`` train one output per
  class (:mod:`segpipe.datasets.classes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.manifest import Manifest
from segpipe.io.images import ITK_SUFFIXES, NIFTI_SUFFIXES, read_image, read_mask, suffix_of

#: Label files read for their values.
LABEL_SAMPLE = 20
#: Largest patch, in voxels, per dimension.
PATCH_VOXELS = {2: 128 * 128, 3: 64**3}
#: Smallest patch side at the coarsest network level.
BOTTOM_SIZE = 8
MAX_LEVELS = 4


@dataclass
class DatasetSummary:
    """The quick fingerprint of :func:`inspect_dataset` (shapes and spacings in array order, mm)."""

    name: str
    path: str
    layout: str
    dimensions: int
    channels: int
    label_types: list[str]
    cases: dict[str, int]
    unlabelled: int
    median_shape: list[int]
    min_shape: list[int]
    max_shape: list[int]
    median_spacing: list[float]
    min_spacing: list[float]
    max_spacing: list[float]
    label_values: list[float]
    label_names: dict[str, int] = field(default_factory=dict)

    @property
    def multi_class(self) -> bool:
        """Whether labels hold more than one foreground value (0/255 counts as binary)."""
        foreground = {v for v in self.label_values if v != 0}
        return len(foreground) > 1


def _header_grid(path: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Spatial shape and spacing (array order) of an image, from its header where possible."""
    suffix = suffix_of(path)
    if suffix in NIFTI_SUFFIXES:
        import nibabel as nib

        from segpipe.io.images import _best_affine

        image = nib.load(path)
        spatial = min(3, len(image.shape))
        spacing = np.linalg.norm(_best_affine(image.header)[:3, :spatial], axis=0)
        return tuple(reversed(image.shape[:spatial])), tuple(reversed(spacing.tolist()))
    if suffix in ITK_SUFFIXES:
        import SimpleITK as sitk

        reader = sitk.ImageFileReader()
        reader.SetFileName(path)
        reader.ReadImageInformation()
        return tuple(reversed(reader.GetSize())), tuple(reversed(reader.GetSpacing()))
    image = read_image(path)
    return image.spatial_shape, image.geometry.array_spacing


def inspect_dataset(manifest: Manifest, root: str | Path) -> DatasetSummary:
    """Quick fingerprint of a data set read by :func:`segpipe.datasets.layout.read_dataset`."""
    grids = [_header_grid(case.image) for case in manifest.cases]
    shapes = np.array([shape for shape, _ in grids])
    spacings = np.array([spacing for _, spacing in grids])
    labelled = [case for case in manifest.cases if case.labels]
    step = max(1, len(labelled) // LABEL_SAMPLE)
    values: set[float] = set()
    for case in labelled[::step][:LABEL_SAMPLE]:
        for path in case.labels.values():
            values.update(np.unique(read_mask(path)[0]).astype(float).tolist())
    counts = {split: len(manifest.select(split=split)) for split in ("train", "val", "test")}
    return DatasetSummary(
        manifest.name, str(Path(root).resolve()), manifest.source_layout, manifest.dimensions, manifest.channels,
        list(manifest.label_types), counts, len(manifest.cases) - len(labelled),
        np.median(shapes, axis=0).astype(int).tolist(), shapes.min(axis=0).tolist(), shapes.max(axis=0).tolist(),
        np.median(spacings, axis=0).round(6).tolist(), spacings.min(axis=0).round(6).tolist(),
        spacings.max(axis=0).round(6).tolist(), sorted(values), dict(manifest.label_names),
    )


def plan_patch_and_network(median_shape: Sequence[int], spacing: Sequence[float]) -> tuple[list[int], int]:
    """Patch size and number of down-sampling levels (see the module documentation).

    Parameters
    ----------
    median_shape
        Median image shape (array order).
    spacing
        Median spacing (array order, mm).

    Returns
    -------
    tuple
        ``(patch_size, levels)``: each patch side a multiple of ``2 ** levels``.
    """
    dimensions = len(median_shape)
    patch = np.array(median_shape, dtype=float)
    spacing = np.asarray(spacing, dtype=float)
    while np.prod(patch) > PATCH_VOXELS[dimensions]:
        longest = int(np.argmax(patch * spacing))  # shrink the physically longest side, as nnU-Net does
        patch[longest] = max(BOTTOM_SIZE, math.floor(patch[longest] * 0.9))
        if np.all(patch <= BOTTOM_SIZE):
            break
    levels = max(1, min(MAX_LEVELS, min(int(math.log2(max(side, 1) / BOTTOM_SIZE)) for side in patch)))
    multiple = 2**levels
    rounded = [max(multiple, int(round(side / multiple)) * multiple) for side in patch]
    return rounded, levels


def plan_config(summary: DatasetSummary) -> dict[str, Any]:
    """The configuration overrides (merged over ``config.yaml``) for a first run on the data set."""
    patch, levels = plan_patch_and_network(summary.median_shape, summary.median_spacing)
    spread = np.array(summary.max_spacing) / np.maximum(np.array(summary.min_spacing), 1e-12)
    resample = bool(np.any(spread > 1.1))
    label_type = "accurate" if "accurate" in summary.label_types else summary.label_types[0]
    config: dict[str, Any] = {
        "dataset": {"source": "directory", "path": summary.path},
        "preprocess": {"normalisation": "zscore",
                       "target_spacing": summary.median_spacing if resample else None},
        "experiments": {"losses": ["dice_ce"], "label_types": [label_type], "training_sets": ["large"],
                        "frameworks": ["plain"], "seeds": [0]},
        "train": {
            "network": {"name": "unet", "channels": [16 * 2**level for level in range(levels + 1)],
                        "strides": [2] * levels, "num_res_units": 1},
            "patch_size": patch,
            "batch_size": 2 if summary.dimensions == 3 else 8,
        },
        "evaluate": {"label_type": label_type},
        "photo": {"source": "skimage:brick"} if summary.layout == "topomortar" else {"source": None},
    }
    if summary.multi_class:
        config["preprocess"]["label_policy"] = "binarise"
        config["preprocess"]["label_threshold"] = 0
    return config


def _comment(summary: DatasetSummary) -> str:
    lines = [
        f"segpipe configuration for {summary.name} ({summary.path}), written by `segpipe init-config`.",
        "Merged over config.yaml: snakemake --cores 2 --configfile THIS_FILE   (docs/own-data.md)",
        "",
        f"Fingerprint: {summary.dimensions}-D, {summary.channels} channel(s), layout {summary.layout}; cases "
        + ", ".join(f"{split} {n}" for split, n in summary.cases.items())
        + (f" ({summary.unlabelled} unlabelled test images: predicted, not scored)" if summary.unlabelled else ""),
        f"  shape (array order) median {summary.median_shape}, min {summary.min_shape}, max {summary.max_shape}",
        f"  spacing (mm, array order) median {summary.median_spacing}, min {summary.min_spacing}, max {summary.max_spacing}",
        f"  label values found {[int(v) if float(v).is_integer() else v for v in summary.label_values]}"
        + (f", names {summary.label_names}" if summary.label_names else ""),
    ]
    if summary.multi_class:
        lines += ["", "NOTE: the labels hold several foreground classes; this plan trains a binary network:",
                  "preprocess.label_policy is binarise: every class above 0 is one foreground (their union).",
                  "For one output per class (per-class losses and metrics), set preprocess.label_policy: classes",
                  "and train.output: softmax (docs/own-data.md, Multi-class labels)."]
    return "\n".join(f"# {line}".rstrip() for line in lines) + "\n"


def config_text(summary: DatasetSummary) -> str:
    """The planned configuration as commented YAML."""
    import yaml

    return _comment(summary) + "\n" + yaml.safe_dump(plan_config(summary), sort_keys=False, default_flow_style=None)
