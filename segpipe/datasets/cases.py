"""Preprocessed cases: the on-disk format between ``segpipe preprocess`` and the later stages.

One ``.npz`` file per case holds the normalised image, its binary labels (class values 0..K under
``preprocess.label_policy: classes``) of every label type, its
geometry, optional per-case extras computed once in preprocessing (for example signed distance
maps for the boundary loss) and, when preprocessing resampled the case, the shape and geometry of
its own grid (predictions are resampled back to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from segpipe.errors import InputError
from segpipe.io.atomic import write_atomically
from segpipe.io.images import Geometry

_LABEL_PREFIX = "label__"
_EXTRA_PREFIX = "extra__"


@dataclass
class PreprocessedCase:
    """A normalised image with its labels, geometry and extras.

    Attributes
    ----------
    image
        ``float32`` array ``(C, *spatial)``, intensity-normalised.
    labels
        Label type to ``uint8`` array ``(*spatial)`` with values in {0, 1} (class values 0..K for
        multi-class data).
    geometry
        Geometry of the arrays' grid (the original image's, unless resampled).
    extras
        Named per-case arrays (e.g. ``"sdm__accurate"``), aligned with the spatial grid.
    source
        ``(shape, geometry)`` of the case's own grid when preprocessing resampled it
        (``preprocess.target_spacing``), else None.
    """

    image: np.ndarray
    labels: dict[str, np.ndarray]
    geometry: Geometry
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    source: tuple[tuple[int, ...], Geometry] | None = None

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape without the channel axis."""
        return tuple(self.image.shape[1:])

    @property
    def source_grid(self) -> tuple[tuple[int, ...], Geometry]:
        """Shape and geometry of the case's own grid, where predictions are written."""
        return self.source if self.source is not None else (self.spatial_shape, self.geometry)


def save_case(path: str | PathLike[str], case: PreprocessedCase) -> Path:
    """Write ``case`` as an ``.npz`` file, atomically."""
    arrays: dict[str, np.ndarray] = {
        "image": np.asarray(case.image, dtype=np.float32),
        "spacing": np.asarray(case.geometry.spacing, dtype=np.float64),
        "origin": np.asarray(case.geometry.origin, dtype=np.float64),
        "direction": np.asarray(case.geometry.direction, dtype=np.float64),
    }
    arrays.update({_LABEL_PREFIX + name: np.asarray(label, dtype=np.uint8) for name, label in case.labels.items()})
    arrays.update({_EXTRA_PREFIX + name: np.asarray(extra) for name, extra in case.extras.items()})
    if case.source is not None:
        shape, geometry = case.source
        arrays.update({
            "source_shape": np.asarray(shape, dtype=np.int64), "source_spacing": np.asarray(geometry.spacing, dtype=np.float64),
            "source_origin": np.asarray(geometry.origin, dtype=np.float64),
            "source_direction": np.asarray(geometry.direction, dtype=np.float64),
        })
    return write_atomically(path, lambda temporary: np.savez(temporary, **arrays))


def _geometry(data: np.lib.npyio.NpzFile, prefix: str) -> Geometry:
    return Geometry(*(tuple(data[f"{prefix}{key}"].tolist()) for key in ("spacing", "origin", "direction")))


def load_case(path: str | PathLike[str]) -> PreprocessedCase:
    """Read a case written by :func:`save_case`.

    Raises
    ------
    InputError
        If the file is missing or not a preprocessed case.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            geometry = _geometry(data, "")
            labels = {k[len(_LABEL_PREFIX):]: data[k] for k in data.files if k.startswith(_LABEL_PREFIX)}
            extras = {k[len(_EXTRA_PREFIX):]: data[k] for k in data.files if k.startswith(_EXTRA_PREFIX)}
            source = None
            if "source_shape" in data.files:
                source = (tuple(int(n) for n in data["source_shape"]), _geometry(data, "source_"))
            return PreprocessedCase(data["image"], labels, geometry, extras, source)
    except FileNotFoundError as exc:
        raise InputError("preprocessed case not found", where=path, fix="run `segpipe preprocess` again") from exc
    except (KeyError, ValueError, OSError) as exc:
        raise InputError(
            f"not a preprocessed case ({exc})", where=path, fix="delete it and run `segpipe preprocess` again"
        ) from exc
