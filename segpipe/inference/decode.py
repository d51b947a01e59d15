"""Decode landmark contours and organ masks from images with a trained HybridGNet.

For every selected case the network predicts normalised landmarks, which are mapped to the
original image's pixel grid (:func:`segpipe.networks.graph.normalised_to_pixels`), written as a CSV
landmark file (same format as the inputs, so outputs can be read back as references) and filled
into one binary mask per organ with the image's geometry. Every organ mask is the inside of one
closed ring: one component without holes unless the predicted ring crosses itself.

The masks of each organ form one predictions directory in the layout of
:mod:`segpipe.inference.predictions`, so that ``segpipe evaluate`` and the report treat them like any
segmentation network's predictions. Its run identifier is :func:`mask_run` of the organ:
``hybridgnet.landmarks.<organ>.large.plain.s<seed>`` (model ``hybridgnet``, trained on the
landmarks, label type the organ, all training cases, plain supervision). HybridGNet predicts contours, not probabilities: the
probability map of a case is its mask as 0.0/1.0 (threshold 0.5).

Output directory
----------------
``landmarks/<case>.csv``, ``predictions/<organ>/`` (``<case>_mask.png`` and ``<case>_prob.tif`` for
PNG/TIFF inputs, else the input's format with its geometry, and ``index.json``) and
``decoded.json``, the index (written last): the model, the template, the predictions directory of
each organ and, per case, its split, group and landmark file, paths relative to the output
directory.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import torch

from segpipe.datasets.landmarks import read_landmark_dataset, write_landmarks
from segpipe.errors import InputError
from segpipe.experiments.grid import RunSpec
from segpipe.inference.predictions import INDEX, PredictedCase, case_paths, write_index
from segpipe.io.atomic import write_json
from segpipe.io.images import write_image
from segpipe.networks.graph import normalised_to_pixels, rasterize
from segpipe.networks.model_file import load_landmark_model
from segpipe.preprocessing.landmark_images import prepare_image

INDEX_FILE = "decoded.json"
#: Model and loss parts of the run identifiers of HybridGNet's masks.
MODEL, LOSS = "hybridgnet", "landmarks"
_THRESHOLD = 0.5


def mask_run(organ: str, seed: int) -> RunSpec:
    """The run identifying HybridGNet's masks of ``organ`` (see the module notes)."""
    return RunSpec(MODEL, LOSS, organ, "large", "plain", int(seed))


def decode_dataset(
    model_path: str | PathLike[str],
    dataset_dir: str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    split: str = "test",
    groups: list[str] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
) -> Path:
    """Decode every case of ``split`` (and ``groups``, all when ``None``) of a landmark dataset.

    Parameters
    ----------
    model_path
        ``model.pt`` from :func:`segpipe.training.landmarks.train_landmarks`.
    dataset_dir
        Landmark dataset whose images are decoded (its landmark files are not used here).
    out_dir
        Output directory (see the module notes).
    split, groups
        Which cases to decode.
    seed
        Training seed of the model, recorded in the run identifiers of the masks.
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
    model, _ = load_landmark_model(model_path, device)
    template = model.template
    dataset = read_landmark_dataset(dataset_dir, template)
    cases = [case for case in dataset.manifest.select(split=split) if groups is None or case.group in groups]
    if not cases:
        raise InputError(
            f"no {split!r} cases in groups {groups or 'any'}", where=dataset_dir, fix="check --split and --group"
        )
    out_dir = Path(out_dir)
    directories = {organ: out_dir / "predictions" / organ for organ in template.names}
    for directory in directories.values():  # an interrupted run must not leave a complete-looking directory
        (directory / INDEX).unlink(missing_ok=True)
    (out_dir / INDEX_FILE).unlink(missing_ok=True)
    size = model.config.image_size
    entries, predicted = [], {organ: [] for organ in template.names}
    for start in range(0, len(cases), batch_size):
        chunk = cases[start : start + batch_size]
        prepared = [prepare_image(case.image, size) for case in chunk]
        with torch.no_grad():
            positions = model(torch.as_tensor(np.stack([p.array for p in prepared])).to(device)).positions.cpu().double().numpy()
        for case, image, normalised in zip(chunk, prepared, positions, strict=True):
            points = normalised_to_pixels(normalised, image.shape)
            landmark_file = f"landmarks/{case.case_id}.csv"
            write_landmarks(out_dir / landmark_file, points)
            for organ, mask in rasterize(points, template, image.shape).items():
                mask_path, probability_path = case_paths(directories[organ], case.case_id, case.image)
                write_image(mask_path, mask > 0, image.geometry)  # PNG stores {0, 255}, volumes {0, 1}
                write_image(probability_path, mask.astype(np.float32), image.geometry)
                predicted[organ].append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
            entries.append({"case_id": case.case_id, "split": case.split, "group": case.group, "landmarks": landmark_file})
    for organ, directory in directories.items():
        write_index(directory, mask_run(organ, seed).run_id, _THRESHOLD, predicted[organ])
    return write_json(out_dir / INDEX_FILE, {
        "model": str(Path(model_path).resolve()),
        "template": template.to_dict(),
        "predictions": {organ: str(directory.relative_to(out_dir)) for organ, directory in directories.items()},
        "cases": entries,
    })
