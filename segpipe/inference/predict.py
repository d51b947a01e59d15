"""Predict the test cases (optionally also val) of a manifest with a trained model.

Writes a predictions directory in the layout of :mod:`segpipe.inference.predictions`: per case a binary mask
(a label map for a multi-class model) and a float32 probability map with the input image's geometry, then
``index.json`` (:func:`write_prediction`). A case that preprocessing resampled
(``preprocess.target_spacing``) is predicted on the resampled grid and its probability map resampled
back to the image's own grid before thresholding.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.classes import manifest_classes
from segpipe.datasets.lookup import load_manifest_case
from segpipe.datasets.manifest import Manifest
from segpipe.errors import ConfigError, InputError
from segpipe.inference.predictions import INDEX, PredictedCase, case_paths, write_index
from segpipe.inference.sliding_window import label_map, predict_probability
from segpipe.io.images import Geometry, write_image
from segpipe.networks.factory import NetworkSpec
from segpipe.networks.model_file import ModelInfo, load_segmentation_model
from segpipe.preprocessing.resampling import resample_probability
from segpipe.utilities.devices import resolve_device
from segpipe.utilities.progress import progress_bar


def _check_compatible(info: ModelInfo, manifest: Manifest, manifest_path: Path, model_path: Path, config: Mapping[str, Any]) -> None:
    """The model must have been trained on images like the manifest's, normalised the same way."""
    network = info.network
    if (manifest.dimensions, manifest.channels) != (network.dimensions, network.in_channels):
        raise InputError(
            f"the model was trained on {network.dimensions}-D images with {network.in_channels} channel(s), but the "
            f"manifest ({manifest.name!r}) has {manifest.dimensions}-D images with {manifest.channels} channel(s)",
            where=manifest_path, fix=f"pass the manifest of the dataset {model_path} was trained on",
        )
    classes = manifest_classes(manifest_path)
    if tuple(network.classes) != classes:
        raise InputError(
            f"the model predicts the classes {list(network.classes) or 'of a binary network'}, but the data set's "
            f"are {list(classes) or 'binary'}", where=manifest_path,
            fix=f"pass the manifest of the dataset {model_path} was trained on, preprocessed with the same "
            "'preprocess.label_policy'",
        )
    normalisation = config["preprocess"]["normalisation"]
    if normalisation != info.normalisation:
        raise ConfigError(
            f"'preprocess.normalisation' is {normalisation!r} but the model was trained on {info.normalisation!r}-"
            "normalised images", fix=f"set it to {info.normalisation!r} and preprocess again, or retrain the model",
        )


def write_prediction(
    directory: str | PathLike[str], case_id: str, image_path: str | PathLike[str], probability: np.ndarray,
    spec: NetworkSpec, threshold: float, shape: tuple[int, ...], geometry: Geometry,
) -> tuple[Path, Path]:
    """Write one case's mask and probability map on its own grid (:func:`case_paths`).

    Parameters
    ----------
    directory, case_id, image_path
        Where the files go (:func:`case_paths`).
    probability
        :func:`segpipe.inference.sliding_window.predict_probability`'s output on the network's grid.
    spec, threshold
        How it becomes a mask (:func:`segpipe.inference.sliding_window.label_map`).
    shape, geometry
        The case's own grid: the probabilities are resampled to it before the mask is taken.

    Returns
    -------
    tuple
        The mask's and the probability map's paths.
    """
    channels = probability if spec.classes else probability[np.newaxis]
    probability = np.stack([resample_probability(channel, shape) for channel in channels])
    mask_path, probability_path = case_paths(directory, case_id, image_path)
    write_image(mask_path, label_map(probability if spec.classes else probability[0], spec, threshold), geometry)
    write_image(probability_path, probability[1:] if spec.classes else probability[0], geometry)
    return mask_path, probability_path


def predict(
    config: Mapping[str, Any],
    manifest_path: str | PathLike[str],
    model_path: str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    show_progress: bool = True,
) -> Path:
    """Predict the cases of the splits in ``predict.splits`` and write them to ``out_dir``.

    Parameters
    ----------
    config
        Validated configuration (sections ``predict`` and ``preprocess``).
    manifest_path
        ``manifest.json`` written by ``segpipe preprocess``.
    model_path
        ``model.pt`` written by ``segpipe train``.
    out_dir
        Predictions directory (created; an existing index is removed first, so an interrupted
        prediction never looks complete).
    show_progress
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Path
        Path of the written ``index.json``.

    Raises
    ------
    InputError, ConfigError
        If the model is missing or unreadable, or does not fit the manifest or configuration.
    """

    settings = config["predict"]
    manifest_path, model_path, out_dir = Path(manifest_path), Path(model_path), Path(out_dir)
    device = resolve_device(settings["device"], key="predict.device")
    network, info = load_segmentation_model(model_path, device)
    manifest = Manifest.load(manifest_path)
    _check_compatible(info, manifest, manifest_path, model_path, config)
    cases = [case for split in settings["splits"] for case in manifest.select(split=split)]
    if not cases:
        raise InputError(
            f"the manifest has no cases in the split(s) {', '.join(settings['splits'])}", where=manifest_path,
            fix="check 'predict.splits' and the dataset's splits",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INDEX).unlink(missing_ok=True)
    threshold = float(settings["threshold"])
    written = []
    for case in progress_bar(cases, desc=f"predict {info.run_id}", show=show_progress):
        data = load_manifest_case(manifest_path, case)
        probability = predict_probability(
            network, data.image, info.network, patch_size=info.patch_size, device=device,
            overlap=float(settings["overlap"]), sw_batch_size=int(settings["sw_batch_size"]),
        )
        shape, geometry = data.source_grid
        mask_path, probability_path = write_prediction(out_dir, case.case_id, case.image, probability, info.network,
                                                       threshold, shape, geometry)
        written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
    return write_index(out_dir, info.run_id, threshold, written)
