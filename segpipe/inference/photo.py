"""The best trained model on a real photograph (e.g. scikit-image's ``data.brick()``).

Synthetic walls test what they were made to test; a photo that nobody here made shows whether a
model learned mortar networks or our generator. :func:`best_run` picks the run with the fewest
Betti errors over every test case, :func:`segment_photo` runs its network on the photo (scaled so
that bricks have about the size they have in the training images, turned so that courses run
along the same axis) and counts the components and holes of the predicted mortar.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segpipe.errors import InputError

#: Prefix of a ``photo.source`` that names a scikit-image sample image instead of a file.
SKIMAGE_PREFIX = "skimage:"


def load_photo(source: str) -> np.ndarray:
    """The photo as a channel-first RGB float array in [0, 1].

    Parameters
    ----------
    source
        ``skimage:NAME`` for a scikit-image sample (``skimage:brick``), else a 2D image file read
        with :func:`segpipe.io.images.read_image`. Grey images are repeated over three channels.

    Raises
    ------
    InputError
        If the sample does not exist or the file is not a 2D grey or RGB image.
    """
    if source.startswith(SKIMAGE_PREFIX):
        from skimage import data

        name = source[len(SKIMAGE_PREFIX):]
        loader = getattr(data, name, None)
        if loader is None or not callable(loader):
            raise InputError(f"scikit-image has no sample image {name!r}", where="photo.source",
                             fix="use e.g. skimage:brick, or the path of an image file")
        array = np.asarray(loader(), dtype=np.float64)
        array = array[np.newaxis] if array.ndim == 2 else np.moveaxis(array[..., :3], -1, 0)
    else:
        from segpipe.io.images import read_image

        array = np.asarray(read_image(source).array, dtype=np.float64)
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise InputError(f"expected a 2D grey or RGB image, got an array of shape {array.shape}", where=source,
                         fix="give a PNG or TIFF photo")
    array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array
    span = np.ptp(array)
    return (array - array.min()) / (span if span > 0 else 1.0)


def best_run(frame: pd.DataFrame) -> str:
    """The run with the lowest mean Betti error (b0 + b1) over all its test cases; ties: higher Dice.

    Raises
    ------
    InputError
        If the metrics have no ``betti0_error``/``betti1_error`` columns (evaluate with ``betti``).
    """
    missing = {"betti0_error", "betti1_error", "dice"} - set(frame.columns)
    if missing:
        raise InputError(f"the metrics lack {', '.join(sorted(missing))}", where="evaluate.metrics",
                         fix="include dice and betti in evaluate.metrics")
    scores = frame.assign(betti=frame["betti0_error"] + frame["betti1_error"]).groupby("run_id")[["betti", "dice"]].mean()
    return str(scores.sort_values(["betti", "dice"], ascending=[True, False], kind="stable").index[0])


@dataclass(frozen=True)
class PhotoResult:
    """A model's segmentation of a photo.

    Attributes
    ----------
    image
        ``(3, H, W)`` photo as segmented (scaled and turned), in [0, 1].
    probability
        ``(H, W)`` foreground probability.
    mask
        ``(H, W)`` boolean mask (probability >= threshold).
    betti
        Betti numbers ``(b0, b1)`` of the mask (8-connected mortar, 4-connected holes).
    """

    image: np.ndarray
    probability: np.ndarray
    mask: np.ndarray
    betti: tuple[int, int]


def segment_photo(
    model_path: str | PathLike[str], photo: np.ndarray, *, scale: float, rot90: int, threshold: float, device: Any,
) -> PhotoResult:
    """Segment ``photo`` with a trained model.

    Parameters
    ----------
    model_path
        ``model.pt`` of a 2D RGB run.
    photo
        ``(3, H, W)`` RGB photo in [0, 1] (:func:`load_photo`).
    scale
        Zoom factor applied first (anti-aliased), so that bricks match the training images' size.
    rot90
        Quarter turns (counter-clockwise) applied next, so that courses run as in training.
    threshold
        Probability threshold of the mask.
    device
        Torch device.

    Raises
    ------
    InputError
        If the model is not a binary 2D model of three-channel images.
    """
    from skimage.transform import rescale

    from segpipe.inference.sliding_window import predict_probability
    from segpipe.networks.model_file import load_segmentation_model
    from segpipe.preprocessing.preprocess import normalise
    from segpipe.topology import betti_numbers

    network, info = load_segmentation_model(model_path, device)
    if info.network.dimensions != 2 or info.network.in_channels != 3 or info.network.classes:
        raise InputError("the model does not segment 2D RGB images into one foreground", where=model_path,
                         fix="run the photo step on a binary 2D RGB dataset (e.g. the mortar data)")
    image = rescale(photo, scale, channel_axis=0, anti_aliasing=True) if scale != 1 else photo
    image = np.ascontiguousarray(np.rot90(image, rot90, axes=(1, 2)))
    probability = predict_probability(network, normalise(image, info.normalisation), info.network,
                                      patch_size=info.patch_size, device=device)
    mask = probability >= threshold
    b0, b1 = (int(value) for value in betti_numbers(mask))
    return PhotoResult(image.astype(np.float32), probability.astype(np.float32), mask, (b0, b1))


def model_of_run(models: list[Path], run_id: str) -> Path:
    """The ``model.pt`` among ``models`` that lies in the run directory ``run_id``.

    Raises
    ------
    InputError
        If no model belongs to the run.
    """
    for path in models:
        if Path(path).parent.name == run_id:
            return Path(path)
    raise InputError(f"no model.pt of run {run_id!r} was given", fix="pass every run's model with --models")
