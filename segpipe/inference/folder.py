"""Predict every image of a folder with a trained model: unlabelled images in, masks out.

``segpipe predict --model MODEL --input DIR --output DIR`` needs no dataset, manifest or labels.
Each supported image file of ``DIR`` (hidden files skipped) is a case; files named as nnU-Net names
channels (``CASE_0000.nii.gz``, ``CASE_0001.nii.gz``, ...) are stacked into one case ``CASE``. Every
image is checked against the model (dimension, channels; all problems listed at once), normalised
as the model's training images were (``ModelInfo.normalisation``), resampled to
``preprocess.target_spacing`` when the configuration sets one, and predicted; the mask and
probability map are written with the input image's own shape and geometry in the layout of
:mod:`segpipe.inference.predictions` (``CASE_mask.<ext>``, ``CASE_prob.<ext>``, ``index.json``
last), so ``segpipe evaluate`` can score them where labels exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.manifest import IN_DISTRIBUTION
from segpipe.errors import InputError
from segpipe.inference.predict import write_prediction
from segpipe.inference.predictions import INDEX, PredictedCase, write_index
from segpipe.inference.sliding_window import predict_probability
from segpipe.io.images import SUPPORTED_SUFFIXES, ImageData, read_image, suffix_of
from segpipe.networks.model_file import load_segmentation_model
from segpipe.preprocessing.preprocess import normalise
from segpipe.preprocessing.resampling import resample_image, resampled_shape
from segpipe.utilities.devices import resolve_device
from segpipe.utilities.progress import progress_bar

_CHANNEL = re.compile(r"(.+)_(\d{4})$")


def folder_cases(directory: str | PathLike[str]) -> dict[str, list[Path]]:
    """The cases of an image folder: ``{case_id: [files, one per channel group]}``, sorted.

    Raises
    ------
    InputError
        If the folder is missing, holds no supported image, or its channel files have gaps.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("input folder not found", where=directory, fix="pass the folder that holds the images")
    groups: dict[str, dict[int, Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file() or suffix_of(path) not in SUPPORTED_SUFFIXES:
            continue
        stem = path.name[: len(path.name) - len(suffix_of(path))]
        match = _CHANNEL.fullmatch(stem)
        case_id, channel = (match.group(1), int(match.group(2))) if match else (stem, 0)
        groups.setdefault(case_id, {})[channel] = path
    if not groups:
        raise InputError(f"no image files ({', '.join(SUPPORTED_SUFFIXES)})", where=directory,
                         fix="pass the folder that holds the images to predict")
    problems = [f"case {case_id}: channel files {sorted(files)} are not numbered 0000, 0001, ... without gaps"
                for case_id, files in groups.items() if sorted(files) != list(range(len(files)))]
    if problems:
        raise InputError.listing("channel files do not fit together", problems, where=directory,
                                 fix="name the channels CASE_0000, CASE_0001, ... as nnU-Net does")
    return {case_id: [files[c] for c in sorted(files)] for case_id, files in groups.items()}


def _read(files: list[Path]) -> ImageData:
    parts = [read_image(file) for file in files]
    for part in parts[1:]:
        if part.spatial_shape != parts[0].spatial_shape:
            raise InputError(f"channel shape {part.spatial_shape} differs from {files[0].name}'s {parts[0].spatial_shape}",
                             where=part.path, fix="channel files of one case must share a grid")
    return ImageData(np.concatenate([p.array for p in parts]), parts[0].geometry, parts[0].path)


def predict_folder(
    model_path: str | PathLike[str],
    input_dir: str | PathLike[str],
    out_dir: str | PathLike[str],
    config: Mapping[str, Any],
    *,
    show_progress: bool = True,
) -> Path:
    """Predict every image of ``input_dir`` and write masks and probability maps to ``out_dir``.

    Parameters
    ----------
    model_path
        ``model.pt`` written by ``segpipe train``.
    input_dir
        Folder of images (see the module documentation).
    out_dir
        Predictions directory (created; an existing index is removed first).
    config
        Validated configuration: ``predict`` (threshold, device, overlap, sw_batch_size) and
        ``preprocess.target_spacing``.
    show_progress
        Show a progress bar on standard error.

    Returns
    -------
    Path
        The written ``index.json``.

    Raises
    ------
    InputError
        If the model or an image cannot be read, or images do not fit the model (all listed).
    """

    settings = config["predict"]
    device = resolve_device(settings["device"], key="predict.device")
    network, info = load_segmentation_model(Path(model_path), device)
    cases = folder_cases(input_dir)
    spec = info.network
    images, problems = {}, []
    for case_id, files in cases.items():
        try:
            image = _read(files)
        except InputError as error:
            problems.append(str(error).replace("\n  fix:", "; fix:"))
            continue
        if (len(image.spatial_shape), image.array.shape[0]) != (spec.dimensions, spec.in_channels):
            problems.append(f"{files[0]}: {len(image.spatial_shape)}-D image with {image.array.shape[0]} channel(s); the "
                            f"model takes {spec.dimensions}-D images with {spec.in_channels} channel(s)")
        images[case_id] = files
    if problems:
        raise InputError.listing(f"{len(problems)} image(s) cannot be predicted with {model_path}", problems,
                                 where=input_dir, fix="predict images like the ones the model was trained on")
    target = config["preprocess"].get("target_spacing")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INDEX).unlink(missing_ok=True)
    threshold = float(settings["threshold"])
    written = []
    for case_id, files in progress_bar(images.items(), desc=f"predict {info.run_id}", show=show_progress):
        image = _read(files)
        array = image.array
        if target is not None:
            shape = resampled_shape(image.spatial_shape, image.geometry.array_spacing, target)
            array = resample_image(array, shape) if shape != image.spatial_shape else array
        normalised = normalise(array, info.normalisation or "none")
        probability = predict_probability(
            network, normalised, spec, patch_size=info.patch_size, device=device,
            overlap=float(settings["overlap"]), sw_batch_size=int(settings["sw_batch_size"]),
        )
        mask_path, probability_path = write_prediction(out_dir, case_id, files[0], probability, spec, threshold,
                                                       image.spatial_shape, image.geometry)
        written.append(PredictedCase(case_id, mask_path, probability_path, "test", IN_DISTRIBUTION))
    return write_index(out_dir, info.run_id, threshold, written)
