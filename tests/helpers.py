"""Test helpers: tiny preprocessed datasets (2D RGB PNG and 3D NIfTI) and small configurations.

The datasets are built directly (raw image and label files, preprocessed ``.npz`` cases, manifest and
fingerprint) so that the training, prediction, evaluation and report tests do not depend on the
synthetic generators: random thick lines as labels, images derived from them plus noise.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from skimage.draw import line_nd
from skimage.morphology import ball, dilation, disk, erosion

from segpipe.config import validate_config
from segpipe.datasets.cases import PreprocessedCase, save_case
from segpipe.datasets.manifest import Case, Manifest
from segpipe.io.atomic import write_json
from segpipe.io.images import Geometry, read_image, read_mask, write_image

LABEL_TYPES = ("accurate", "noisy", "pseudo")


def thick_lines(rng: np.random.Generator, shape: tuple[int, ...], lines: int, radius: int) -> np.ndarray:
    """Binary mask of ``lines`` random straight lines crossing the grid, dilated by ``radius``."""
    mask = np.zeros(shape, dtype=bool)
    for _ in range(lines):
        start, end = (rng.uniform(0, np.array(shape) - 1) for _ in range(2))
        mask[line_nd(start, end, endpoint=True)] = True
    footprint = disk(radius) if len(shape) == 2 else ball(radius)
    return dilation(mask, footprint)


def _labels(mask: np.ndarray) -> dict[str, np.ndarray]:
    footprint = disk(1) if mask.ndim == 2 else ball(1)
    return {"accurate": mask, "noisy": erosion(mask, footprint), "pseudo": dilation(mask, footprint)}


def _zscore(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    return (image - image.mean()) / max(float(image.std()), 1e-6)


def build_dataset(root: Path, dimensions: int, *, seed: int = 0) -> Path:
    """Write a tiny dataset under ``root`` and return the path of its manifest.

    2D: 40x48 RGB PNG images with {0, 255} PNG labels. 3D: 20x24x28 grey NIfTI volumes with an
    anisotropic, rotated, shifted geometry. Splits: 6 train (first 2 small), 2 val, 4 test (groups
    ``indistr`` and ``shadows``).
    """
    rng = np.random.default_rng(seed)
    shape = (40, 48) if dimensions == 2 else (20, 24, 28)
    if dimensions == 2:
        geometry, suffix = Geometry.identity(2), ".png"
    else:
        angle = np.deg2rad(20)
        rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
        geometry, suffix = Geometry((0.8, 0.9, 2.0), (10.0, -5.0, 3.0), tuple(rotation.ravel())), ".nii.gz"
    splits = ["train"] * 6 + ["val"] * 2 + ["test"] * 4
    preprocessed = root / "preprocessed"
    cases = []
    for index, split in enumerate(splits):
        case_id = f"{index:03d}"
        mask = thick_lines(rng, shape, lines=3, radius=2 if dimensions == 2 else 1)
        group = "shadows" if split == "test" and index % 2 else "indistr"
        if dimensions == 2:
            colour = np.array([150, 60, 40]) if group == "indistr" else np.array([90, 40, 30])
            image = colour[:, None, None] * (1 - 0.5 * mask[None]) + rng.normal(0, 12, (3, *shape))
            image = np.clip(image, 0, 255).astype(np.uint8)
        else:
            image = (100 + 80 * mask + rng.normal(0, 10, shape)).astype(np.float32)
        image_path = root / "raw" / "images" / f"{case_id}{suffix}"
        write_image(image_path, image, geometry)
        label_paths = {}
        for label_type, label in _labels(mask).items():
            label_paths[label_type] = str(root / "raw" / label_type / f"{case_id}{suffix}")
            write_image(label_paths[label_type], label.astype(np.uint8) * (255 if dimensions == 2 else 1), geometry)
        raw = read_image(image_path)  # the geometry as the readers report it
        labels = {t: (read_mask(p)[0] > 0).astype(np.uint8) for t, p in label_paths.items()}
        save_case(preprocessed / "cases" / f"{case_id}.npz", PreprocessedCase(_zscore(raw.array), labels, raw.geometry))
        cases.append(Case(case_id, split, group, str(image_path), label_paths, small=index < 2, data=f"cases/{case_id}.npz"))
    manifest = Manifest(f"tiny{dimensions}d", dimensions, 3 if dimensions == 2 else 1, list(LABEL_TYPES), cases)
    write_json(preprocessed / "fingerprint.json", {"largest_structure_radius": 2})
    return manifest.save(preprocessed / "manifest.json")


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into a copy of ``base``."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


#: A small training setup that runs in about a second on one core.
TINY = {
    "train": {
        "network": {"name": "unet", "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0},
        "iterations": 12, "batch_size": 2, "patch_size": [16, 16], "checkpoint_every": 5, "validate_every": 6,
        "learning_rate": 0.01, "device": "cpu",
    },
    "predict": {"device": "cpu"},
}




def tiny_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A validated configuration (defaults filled) from :data:`TINY` plus ``overrides``."""
    return validate_config(merge(TINY, overrides or {}), source="test")
