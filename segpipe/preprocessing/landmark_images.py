"""Images as HybridGNet sees them: grey, scaled to [0, 1], resized to the square network input."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from segpipe.errors import InputError
from segpipe.io.images import Geometry, read_image


@dataclass(frozen=True)
class NetworkImage:
    """An image prepared for the network, with what is needed to map predictions back.

    Attributes
    ----------
    array
        ``(1, size, size)`` float32 in ``[0, 1]``.
    shape
        ``(rows, cols)`` of the original image.
    geometry
        Geometry of the original image.
    """

    array: np.ndarray
    shape: tuple[int, int]
    geometry: Geometry


def prepare_image(path: str | PathLike[str], size: int) -> NetworkImage:
    """Read a 2D image, average colour channels, min-max scale to ``[0, 1]`` and resize to ``size``.

    Raises
    ------
    InputError
        If the image cannot be read or is not 2D.
    """
    from skimage.transform import resize

    image = read_image(path)
    if image.geometry.ndim != 2:
        raise InputError(
            f"landmark decoding needs 2D images, this one is {image.geometry.ndim}-D",
            where=path,
            fix="give 2D images (PNG, TIFF or 2D NIfTI/MHA)",
        )
    grey = image.array[:3].astype(np.float64).mean(axis=0)
    low, high = float(grey.min()), float(grey.max())
    grey = (grey - low) / (high - low) if high > low else np.zeros_like(grey)
    resized = resize(grey, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return NetworkImage(resized[np.newaxis].astype(np.float32), tuple(grey.shape), image.geometry)
