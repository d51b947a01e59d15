"""Score decoded landmarks and masks against the references and a mean-shape baseline.

Per case and organ: Dice, HD95 (mm, with the image spacing) and Betti numbers of the mask
(foreground 8-connected, holes 4-connected, as in TopoMortar) with their errors against the
reference. Per case: landmark MSE in px^2 (mean over landmarks and both coordinates of the squared
error, Gaggion's definition) and the mean landmark distance in px. The baseline predicts the mean
training shape (stored in the model file) for every image; it is scored the same way.

References are the dataset's landmark files; reference masks are their rasterisation with
:func:`segpipe.models.graph.rasterize` (for synthetic data these are exactly the dataset's organ
masks). :func:`score_masks` scores masks from any source, e.g. a UNet's per-organ predictions.

Output directory
----------------
``masks.csv`` (case, group, organ, method, dice, hd95, betti0, betti1, betti0_error, betti1_error),
``landmarks.csv`` (case, group, method, mse_px2, mean_distance_px) and ``summary.json`` (means per
group, method and organ).
"""

from __future__ import annotations

import json
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from segpipe.data.landmarks import read_landmark_dataset, read_landmarks
from segpipe.errors import InputError
from segpipe.fsutil import atomic_open, write_json
from segpipe.io import read_mask
from segpipe.landmarks.decode import INDEX_FILE
from segpipe.landmarks.model_file import load_model
from segpipe.models.graph import normalised_to_pixels, rasterize

METHOD = "hybridgnet"
BASELINE = "mean_shape"


def betti_numbers_2d(mask: np.ndarray) -> tuple[int, int]:
    """Betti numbers ``(b0, b1)`` of a 2D binary mask: 8-connected components, 4-connected holes.

    A hole is a background component (4-connected) that does not touch the image border.
    """
    mask = np.asarray(mask, dtype=bool)
    b0 = ndimage.label(mask, structure=np.ones((3, 3)))[1]
    background = np.pad(~mask, 1, constant_values=True)  # the padded frame joins all border-touching background
    b1 = ndimage.label(background)[1] - 1
    return int(b0), int(b1)


def dice(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Dice coefficient of two binary masks; 1 when both are empty."""
    predicted, reference = np.asarray(predicted, bool), np.asarray(reference, bool)
    total = predicted.sum() + reference.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(predicted, reference).sum() / total)


def hausdorff95(predicted: np.ndarray, reference: np.ndarray, spacing: tuple[float, ...]) -> float:
    """95th-percentile symmetric Hausdorff distance (MONAI) in the units of ``spacing`` (per array axis).

    Empty masks are handled here, not by MONAI (which returns NaN): both empty gives 0, one empty
    gives the image diagonal.
    """
    import torch
    from monai.metrics import compute_hausdorff_distance

    predicted, reference = np.asarray(predicted, bool), np.asarray(reference, bool)
    if not predicted.any() and not reference.any():
        return 0.0
    if not predicted.any() or not reference.any():
        return float(np.linalg.norm(np.asarray(predicted.shape) * np.asarray(spacing)))
    with warnings.catch_warnings():  # MONAI 1.6 warns about its own deprecated internal argument
        warnings.simplefilter("ignore", FutureWarning)
        distance = compute_hausdorff_distance(
            torch.as_tensor(predicted)[None, None],
            torch.as_tensor(reference)[None, None],
            include_background=True,
            percentile=95,
            spacing=list(spacing),
        )
    return float(distance.item())


def score_masks(
    predicted: dict[str, np.ndarray], reference: dict[str, np.ndarray], spacing: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Dice, HD95 and Betti numbers/errors for each organ of ``reference``.

    Parameters
    ----------
    predicted, reference
        Organ name to binary mask; ``predicted`` must hold every organ of ``reference``.
    spacing
        Spacing per array axis (``Geometry.array_spacing``).
    """
    rows = []
    for organ, truth in reference.items():
        mask = predicted[organ]
        b0, b1 = betti_numbers_2d(mask)
        r0, r1 = betti_numbers_2d(truth)
        rows.append(
            {
                "organ": organ,
                "dice": dice(mask, truth),
                "hd95": hausdorff95(mask, truth, spacing),
                "betti0": b0,
                "betti1": b1,
                "betti0_error": abs(b0 - r0),
                "betti1_error": abs(b1 - r1),
            }
        )
    return rows


def landmark_errors(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Landmark MSE in px^2 (mean over landmarks and coordinates) and mean distance in px."""
    difference = np.asarray(predicted, float) - np.asarray(reference, float)
    return {"mse_px2": float(np.mean(difference**2)), "mean_distance_px": float(np.linalg.norm(difference, axis=1).mean())}


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    with atomic_open(path, newline="") as handle:
        pd.DataFrame(rows).to_csv(handle, index=False, float_format="%.6g")


def _summarise(mask_rows: list[dict[str, Any]], landmark_rows: list[dict[str, Any]]) -> dict[str, Any]:
    import pandas as pd

    masks, landmarks = pd.DataFrame(mask_rows), pd.DataFrame(landmark_rows)
    summary: dict[str, Any] = {}
    for (group, method), frame in landmarks.groupby(["group", "method"], sort=True):
        entry = summary.setdefault(group, {}).setdefault(method, {"cases": int(len(frame))})
        entry.update({k: float(frame[k].mean()) for k in ("mse_px2", "mean_distance_px")})
        organs = masks[(masks["group"] == group) & (masks["method"] == method)]
        entry["organs"] = {
            organ: {k: float(rows[k].mean()) for k in ("dice", "hd95", "betti0_error", "betti1_error")}
            for organ, rows in organs.groupby("organ", sort=False)
        }
    return summary


def evaluate_decoded(decoded_dir: str | PathLike[str], dataset_dir: str | PathLike[str], out_dir: str | PathLike[str]) -> Path:
    """Score the output of :func:`segpipe.landmarks.decode.decode_dataset` and the mean-shape baseline.

    Parameters
    ----------
    decoded_dir
        Directory holding ``decoded.json``.
    dataset_dir
        The landmark dataset that was decoded (for reference landmarks).
    out_dir
        Receives ``masks.csv``, ``landmarks.csv`` and ``summary.json`` (see the module notes).

    Returns
    -------
    Path
        The ``summary.json`` path.

    Raises
    ------
    InputError
        If ``decoded.json`` or a file it lists is missing.
    """
    decoded_dir, out_dir = Path(decoded_dir), Path(out_dir)
    index_path = decoded_dir / INDEX_FILE
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the decoding index ({exc})", where=index_path, fix="run `segpipe decode` first") from exc
    trained = load_model(index["model"])
    template = trained.model.template
    dataset = read_landmark_dataset(dataset_dir, template)
    mask_rows, landmark_rows = [], []
    for entry in index["cases"]:
        case_id, group = entry["case_id"], entry["group"]
        predicted_masks, geometry = {}, None
        for organ, relative in entry["masks"].items():
            array, geometry = read_mask(decoded_dir / relative)
            predicted_masks[organ] = array > 0
        shape = next(iter(predicted_masks.values())).shape
        reference = dataset.landmarks(case_id)
        reference_masks = {k: v.astype(bool) for k, v in rasterize(reference, template, shape).items()}
        predictions = {
            METHOD: (read_landmarks(decoded_dir / entry["landmarks"], template), predicted_masks),
            BASELINE: (baseline := normalised_to_pixels(trained.mean_shape, shape), rasterize(baseline, template, shape)),
        }
        for method, (points, masks) in predictions.items():
            landmark_rows.append({"case_id": case_id, "group": group, "method": method, **landmark_errors(points, reference)})
            for row in score_masks(masks, reference_masks, geometry.array_spacing):
                mask_rows.append({"case_id": case_id, "group": group, "method": method, **row})
    if not landmark_rows:
        raise InputError("the decoding index lists no cases", where=index_path, fix="decode a split that has cases")
    _write_csv(out_dir / "masks.csv", mask_rows)
    _write_csv(out_dir / "landmarks.csv", landmark_rows)
    summary = _summarise(mask_rows, landmark_rows)
    return write_json(out_dir / "summary.json", {"groups": summary})
