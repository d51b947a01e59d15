"""Decode landmark contours and organ masks from images with a trained HybridGNet.

For every selected case the network predicts normalised landmarks, which are mapped to the
original image's pixel grid (:func:`segpipe.models.graph.normalised_to_pixels`), written as a CSV
landmark file (same format as the inputs, so outputs can be read back as references) and filled
into one binary mask per organ with the image's geometry. Every organ mask is the inside of one
closed ring: one component without holes unless the predicted ring crosses itself.

Output directory
----------------
``landmarks/<case>.csv``, ``masks/<organ>/<case>.<suffix>`` (PNG {0, 255} for PNG/TIFF inputs, else
the input's format with its geometry) and ``decoded.json``, the index (written last), listing per
case its split, group, landmark file and mask files relative to the output directory.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import torch

from segpipe.data.landmarks import read_landmark_dataset, write_landmarks
from segpipe.errors import InputError
from segpipe.fsutil import write_json
from segpipe.io import NIFTI_SUFFIXES, ITK_SUFFIXES, suffix_of, write_image
from segpipe.landmarks.images import prepare_image
from segpipe.landmarks.model_file import load_model
from segpipe.models.graph import normalised_to_pixels, rasterize

INDEX_FILE = "decoded.json"


def _mask_suffix(image_path: str) -> str:
    suffix = suffix_of(image_path)
    return suffix if suffix in NIFTI_SUFFIXES + ITK_SUFFIXES else ".png"


def decode_dataset(
    model_path: str | PathLike[str],
    dataset_dir: str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    split: str = "test",
    groups: list[str] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
) -> Path:
    """Decode every case of ``split`` (and ``groups``, all when ``None``) of a landmark dataset.

    Parameters
    ----------
    model_path
        ``model.pt`` from :func:`segpipe.landmarks.train.train_landmarks`.
    dataset_dir
        Landmark dataset whose images are decoded (its landmark files are not used here).
    out_dir
        Output directory (see the module notes).
    split, groups
        Which cases to decode.
    device
        Torch device.
    batch_size
        Images per forward pass.

    Returns
    -------
    Path
        The ``decoded.json`` index.

    Raises
    ------
    InputError
        If no case matches, or the model's template differs from the dataset's.
    """
    trained = load_model(model_path, device)
    model, template = trained.model, trained.model.template
    dataset = read_landmark_dataset(dataset_dir, template)
    cases = [case for case in dataset.manifest.select(split=split) if groups is None or case.group in groups]
    if not cases:
        raise InputError(
            f"no {split!r} cases in groups {groups or 'any'}", where=dataset_dir, fix="check --split and --group"
        )
    out_dir = Path(out_dir)
    size = model.config.image_size
    entries = []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start : start + batch_size]
        prepared = [prepare_image(case.image, size) for case in chunk]
        with torch.no_grad():
            positions = model(torch.as_tensor(np.stack([p.array for p in prepared])).to(device)).positions.cpu().double().numpy()
        for case, image, normalised in zip(chunk, prepared, positions, strict=True):
            points = normalised_to_pixels(normalised, image.shape)
            landmark_file = f"landmarks/{case.case_id}.csv"
            write_landmarks(out_dir / landmark_file, points)
            masks, suffix = {}, _mask_suffix(case.image)
            foreground = np.uint8(255 if suffix == ".png" else 1)  # segpipe stores PNG masks as {0, 255}
            for organ, mask in rasterize(points, template, image.shape).items():
                masks[organ] = f"masks/{organ}/{case.case_id}{suffix}"
                write_image(out_dir / masks[organ], mask * foreground, image.geometry)
            entries.append(
                {"case_id": case.case_id, "split": case.split, "group": case.group, "landmarks": landmark_file, "masks": masks}
            )
    return write_json(out_dir / INDEX_FILE, {"model": str(Path(model_path).resolve()), "template": template.to_dict(), "cases": entries})
