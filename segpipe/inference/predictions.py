"""The layout of a predictions directory, shared by every stage that writes or reads predictions.

A predictions directory holds, per case, a mask and a probability map, and an ``index.json``
written last that lists them (so a directory without an index is an incomplete one)::

    predictions/
      071_mask.png        mask in the input image's format family: PNG {0, 255} for PNG/TIFF input,
                          the input's own suffix (.nii.gz, .mha, .nrrd, ...) for volumes; a
                          multi-class network's label map holds the class values 0..K
      071_prob.tif        float32 foreground probability: .tif for 2D PNG/TIFF input, the input's
                          volumetric format otherwise; a multi-class network's holds one channel
                          per foreground class
      index.json          {"run_id": ..., "threshold": ..., "cases": {"071": {"mask": "071_mask.png",
                           "probability": "071_prob.tif", "split": "test", "group": "indistr"}, ...}}

Masks and probability maps carry the input image's geometry (spacing, origin, direction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from segpipe.errors import InputError
from segpipe.io.atomic import write_json
from segpipe.io.images import PNG_SUFFIXES, TIFF_SUFFIXES, suffix_of

INDEX = "index.json"


def output_suffixes(image_path: str | PathLike[str]) -> tuple[str, str]:
    """Suffixes of the mask and the probability map for an input image.

    Returns
    -------
    tuple
        ``(mask_suffix, probability_suffix)``: ``(".png", ".tif")`` for 2D PNG/TIFF input, else the
        input's own suffix twice.
    """
    suffix = suffix_of(image_path)
    if suffix in PNG_SUFFIXES + TIFF_SUFFIXES:
        return ".png", ".tif"
    return suffix, suffix


@dataclass(frozen=True)
class PredictedCase:
    """Files of one predicted case.

    Attributes
    ----------
    case_id
        Case identifier.
    mask
        Path of the binary mask.
    probability
        Path of the probability map.
    split
        Split of the case.
    group
        Group of the case.
    """

    case_id: str
    mask: Path
    probability: Path
    split: str
    group: str


def case_paths(directory: str | PathLike[str], case_id: str, image_path: str | PathLike[str]) -> tuple[Path, Path]:
    """Where the mask and the probability map of ``case_id`` go in ``directory``."""
    mask_suffix, probability_suffix = output_suffixes(image_path)
    directory = Path(directory)
    return directory / f"{case_id}_mask{mask_suffix}", directory / f"{case_id}_prob{probability_suffix}"


def write_index(directory: str | PathLike[str], run_id: str, threshold: float, cases: list[PredictedCase]) -> Path:
    """Write ``index.json`` (atomically; call it after every case's files are written)."""
    directory = Path(directory)
    entries = {
        case.case_id: {
            "mask": case.mask.name, "probability": case.probability.name, "split": case.split, "group": case.group,
        }
        for case in cases
    }
    return write_json(directory / INDEX, {"run_id": run_id, "threshold": threshold, "cases": entries})


@dataclass(frozen=True)
class PredictionSet:
    """A complete predictions directory.

    Attributes
    ----------
    directory
        The directory.
    run_id
        Run that produced the predictions.
    threshold
        Probability threshold of the masks.
    cases
        Predicted cases in index order.
    """

    directory: Path
    run_id: str
    threshold: float
    cases: list[PredictedCase]

    @classmethod
    def load(cls, directory: str | PathLike[str]) -> PredictionSet:
        """Read a predictions directory through its index.

        Raises
        ------
        InputError
            If the index is missing (incomplete predictions) or malformed, or a listed file is missing.
        """
        directory = Path(directory)
        index = directory / INDEX
        if not index.is_file():
            raise InputError(
                f"no {INDEX}: not a (complete) predictions directory", where=directory,
                fix="run `segpipe predict` (or the stage that writes these predictions) again",
            )
        try:
            raw: dict[str, Any] = json.loads(index.read_text(encoding="utf-8"))
            cases = [
                PredictedCase(case_id, directory / entry["mask"], directory / entry["probability"], entry["split"], entry["group"])
                for case_id, entry in raw["cases"].items()
            ]
            result = cls(directory, str(raw["run_id"]), float(raw["threshold"]), cases)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed prediction index ({exc})", where=index, fix="run `segpipe predict` again") from exc
        for case in cases:
            for path in (case.mask, case.probability):
                if not path.is_file():
                    raise InputError("file listed in the prediction index is missing", where=path,
                                     fix="run `segpipe predict` again")
        return result
