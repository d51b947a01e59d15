"""Own-data sets written by plain numpy / nibabel / Pillow code (not by segpipe's writers), as a user has them."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

AFFINE = np.diag([0.8, 0.8, 1.5, 1.0])


def nifti(path: Path, array: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    """Write ``array`` (nibabel axis order) as NIfTI with ``affine`` as both sform and qform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, str(path))
    return path


def png(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as PNG with Pillow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def volume_and_label(seed: int, shape: tuple[int, int, int] = (12, 12, 8), classes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A noisy volume with one bright box per foreground class, and its label map."""
    rng = np.random.default_rng(seed)
    label = np.zeros(shape, dtype=np.uint8)
    for value in range(1, classes + 1):
        start = 1 + 3 * (value - 1)
        label[start:start + 3, 2:9, 2:6] = value
    image = (label > 0).astype(np.float32) * 100 + rng.normal(0, 10, shape).astype(np.float32)
    return image, label


def msd_dataset(root: Path, n_train: int = 5, n_test: int = 2, *, channels: int = 1, classes: int = 1,
                version: int = 2) -> Path:
    """An MSD (``version=1``: 4D files, ``modality``, ``training`` list) or nnU-Net v2 (``_0000`` files) data set."""
    labels_v2 = {"background": 0, **{f"class{value}": value for value in range(1, classes + 1)}}
    for index in range(n_train + n_test):
        folder = "imagesTr" if index < n_train else "imagesTs"
        image, label = volume_and_label(index, classes=classes)
        case = f"case_{index:03d}"
        if version == 1:
            stacked = np.stack([image + c for c in range(channels)], axis=-1) if channels > 1 else image
            nifti(root / folder / f"{case}.nii.gz", stacked)
        else:
            for channel in range(channels):
                nifti(root / folder / f"{case}_{channel:04d}.nii.gz", image + channel)
        if index < n_train:
            nifti(root / "labelsTr" / f"{case}.nii.gz", label)
    if version == 1:
        document = {
            "name": "Toy", "tensorImageSize": "4D" if channels > 1 else "3D",
            "modality": {str(c): f"MR{c}" for c in range(channels)},
            "labels": {str(v): n for n, v in labels_v2.items()}, "numTraining": n_train, "numTest": n_test,
            "training": [{"image": f"./imagesTr/case_{i:03d}.nii.gz", "label": f"./labelsTr/case_{i:03d}.nii.gz"}
                         for i in range(n_train)],
            "test": [f"./imagesTs/case_{i:03d}.nii.gz" for i in range(n_train, n_train + n_test)],
        }
    else:
        document = {"channel_names": {str(c): f"MR{c}" for c in range(channels)}, "labels": labels_v2,
                    "numTraining": n_train, "file_ending": ".nii.gz", "name": "Toy", "licence": "CC-BY-SA 4.0"}
    (root / "dataset.json").write_text(json.dumps(document))
    return root


def png_folder(root: Path, n_labelled: int = 6, n_unlabelled: int = 1, *, label_dir: str = "labels",
               size: int = 32, rgb: bool = False) -> Path:
    """A plain ``images/`` + ``labels/`` folder of 2D PNG images with 0/255 labels."""
    for index in range(n_labelled + n_unlabelled):
        rng = np.random.default_rng(index)
        label = np.zeros((size, size), dtype=np.uint8)
        label[:, size // 2 - 2: size // 2 + 2] = 255
        label[size // 3, :] = 255
        grey = np.clip(label * 0.6 + rng.normal(60, 20, label.shape), 0, 255)
        png(root / "images" / f"img{index:02d}.png", np.stack([grey] * 3, axis=-1) if rgb else grey)
        if index < n_labelled:
            png(root / label_dir / f"img{index:02d}.png", label)
    return root


#: Classes of :func:`vessel_classes_png` as nnU-Net's dataset.json names them.
VESSEL_CLASSES = {"background": 0, "artery": 1, "vein": 2}


def vessel_classes_png(root: Path, n_train: int = 10, size: int = 32) -> Path:
    """An nnU-Net v2 data set of 2D grey PNGs with two thin disjoint classes: a horizontal bar (artery, 1), a vertical one (vein, 2)."""
    rng = np.random.default_rng(0)
    for index in range(n_train):
        label = np.zeros((size, size), dtype=np.uint8)
        row, column = rng.integers(3, size // 3), rng.integers(size // 2 + 2, size - 4)
        label[row:row + 2, 2:size - 2] = 1
        label[size // 2 - 2:size - 2, column:column + 2] = 2
        grey = np.clip(np.where(label == 1, 200, np.where(label == 2, 110, 20)) + rng.normal(0, 8, label.shape), 0, 255)
        png(root / "imagesTr" / f"case_{index:03d}_0000.png", grey)
        png(root / "labelsTr" / f"case_{index:03d}.png", label)
    document = {"channel_names": {"0": "grey"}, "labels": VESSEL_CLASSES, "numTraining": n_train, "file_ending": ".png"}
    (root / "dataset.json").write_text(json.dumps(document))
    return root
