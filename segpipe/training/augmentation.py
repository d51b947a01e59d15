"""Colour augmentation of RGB training images: TopoMortar's random hue (RandHue).

Bricks and mortar come in many colours; a network trained on a few walls learns their colours
rather than their shapes, and fails on the out-of-distribution "colors" images. The random hue
transform gives every pixel of an image one random hue and raises saturation and value by random
amounts, so that only shape and shading are left to learn from.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from monai.transforms import MapTransform, RandomizableTransform


def recolour(image: np.ndarray, hue: float, saturation_gain: float, value_gain: float) -> np.ndarray:
    """Give a channel-first RGB image one hue and raise its saturation and value.

    The image is scaled to [0, 1] by its own minimum and range (it may be z-score normalised),
    converted to HSV (:func:`skimage.color.rgb2hsv`), its hue set to ``hue`` everywhere, its
    saturation and value raised by the gains (clipped to [0, 1]), converted back and scaled back
    to the original range.

    Parameters
    ----------
    image
        ``(3, *spatial)`` array.
    hue
        New hue in [0, 1).
    saturation_gain, value_gain
        Added to saturation and value.

    Returns
    -------
    numpy.ndarray
        Float32 array of the same shape.
    """
    from skimage.color import hsv2rgb, rgb2hsv

    low, span = float(image.min()), float(np.ptp(image))
    if span == 0:
        return image.astype(np.float32, copy=True)
    rgb = np.moveaxis((image - low) / span, 0, -1)
    hsv = rgb2hsv(rgb)
    hsv[..., 0] = hue
    hsv[..., 1] = np.clip(hsv[..., 1] + saturation_gain, 0.0, 1.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + value_gain, 0.0, 1.0)
    return (np.moveaxis(hsv2rgb(hsv), -1, 0) * span + low).astype(np.float32)


class RandomHued(RandomizableTransform, MapTransform):
    """With probability ``prob``, :func:`recolour` the RGB image under ``keys``.

    Hue is drawn uniformly from [0, 1), the saturation and value gains uniformly from [0, 0.5]
    (TopoMortar's RandHue). Images with other than three channels are an error.
    """

    def __init__(self, keys: str | list[str], prob: float) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob=prob)
        self._draw = (0.0, 0.0, 0.0)

    def randomize(self, data: object = None) -> None:
        """Decide whether to transform and draw the hue and the two gains."""
        super().randomize(None)
        self._draw = (float(self.R.uniform(0.0, 1.0)), float(self.R.uniform(0.0, 0.5)), float(self.R.uniform(0.0, 0.5)))

    def __call__(self, data: Mapping[Hashable, np.ndarray]) -> dict[Hashable, np.ndarray]:
        """Recolour ``keys`` of one sample (channel-first arrays)."""
        result = dict(data)
        self.randomize()
        if not self._do_transform:
            return result
        for key in self.key_iterator(result):
            image = np.asarray(result[key])
            if image.shape[0] != 3:
                raise ValueError(f"random hue needs RGB images (3 channels); {key!r} has {image.shape[0]}")
            result[key] = recolour(image, *self._draw)
        return result
