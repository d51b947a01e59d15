"""Score decoded landmarks against the references and a mean-shape baseline.

Per case: landmark MSE in px^2 (mean over landmarks and both coordinates of the squared error,
Gaggion's definition) and the mean landmark distance in px, for HybridGNet and for the baseline
that predicts the mean training shape (stored in the model file) for every image. References are
the dataset's landmark files.

The decoded masks are scored like any segmentation by ``segpipe evaluate`` (Dice, HD95, Betti
errors; :mod:`segpipe.evaluation.metrics`): :mod:`segpipe.inference.decode` writes them as predictions
directories.

Output directory
----------------
``landmarks.csv`` (case_id, group, method, mse_px2, mean_distance_px) and ``summary.json``
(``{"groups": {group: {method: {"cases", "mse_px2", "mean_distance_px"}}}}``, means per group and
method).
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.landmarks import read_landmark_dataset, read_landmarks
from segpipe.errors import InputError
from segpipe.inference.decode import INDEX_FILE
from segpipe.io.atomic import atomic_open, write_json
from segpipe.io.images import read_image
from segpipe.networks.graph import normalised_to_pixels
from segpipe.networks.model_file import load_landmark_model

METHOD = "hybridgnet"
BASELINE = "mean_shape"
#: Per-case columns of ``landmarks.csv``.
COLUMNS = ("case_id", "group", "method", "mse_px2", "mean_distance_px")
_SCORES = ("mse_px2", "mean_distance_px")


def landmark_errors(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Landmark MSE in px^2 (mean over landmarks and coordinates) and mean distance in px."""
    difference = np.asarray(predicted, float) - np.asarray(reference, float)
    return {"mse_px2": float(np.mean(difference**2)), "mean_distance_px": float(np.linalg.norm(difference, axis=1).mean())}


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    import pandas as pd

    summary: dict[str, Any] = {}
    for (group, method), frame in pd.DataFrame(rows).groupby(["group", "method"], sort=True):
        summary.setdefault(group, {})[method] = {"cases": int(len(frame)), **{k: float(frame[k].mean()) for k in _SCORES}}
    return summary


def evaluate_decoded(decoded_dir: str | PathLike[str], dataset_dir: str | PathLike[str], out_dir: str | PathLike[str]) -> Path:
    """Score the landmarks of :func:`segpipe.inference.decode.decode_dataset` and the mean-shape baseline.

    Parameters
    ----------
    decoded_dir
        Directory holding ``decoded.json``.
    dataset_dir
        The landmark dataset that was decoded (for reference landmarks).
    out_dir
        Receives ``landmarks.csv`` and ``summary.json`` (see the module notes).

    Returns
    -------
    Path
        The ``summary.json`` path.

    Raises
    ------
    InputError
        If ``decoded.json`` or a file it lists is missing.
    """
    import pandas as pd

    decoded_dir, out_dir = Path(decoded_dir), Path(out_dir)
    index_path = decoded_dir / INDEX_FILE
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the decoding index ({exc})", where=index_path, fix="run `segpipe decode` first") from exc
    network, _ = load_landmark_model(index["model"])
    template = network.template
    mean_shape = network.mean_shape.detach().cpu().double().numpy()
    dataset = read_landmark_dataset(dataset_dir, template)
    rows = []
    for entry in index["cases"]:
        try:
            case = dataset.manifest.case(entry["case_id"])
        except KeyError:
            raise InputError(f"decoded case {entry['case_id']} is not in the dataset", where=dataset_dir,
                             fix="pass the dataset that was decoded") from None
        predictions = {
            METHOD: read_landmarks(decoded_dir / entry["landmarks"], template),
            BASELINE: normalised_to_pixels(mean_shape, read_image(case.image).spatial_shape),
        }
        reference = dataset.landmarks(case.case_id)
        for method, points in predictions.items():
            rows.append({"case_id": case.case_id, "group": case.group, "method": method, **landmark_errors(points, reference)})
    if not rows:
        raise InputError("the decoding index lists no cases", where=index_path, fix="decode a split that has cases")
    with atomic_open(out_dir / "landmarks.csv", newline="") as handle:
        pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(handle, index=False, float_format="%.6g")
    return write_json(out_dir / "summary.json", {"groups": _summarise(rows)})
