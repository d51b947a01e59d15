"""Score a predictions directory against the raw reference labels, one CSV row per case.

The reference is the ``evaluate.label_type`` label file of each case (``Case.labels`` in the
manifest; when it is null, the label type the run was trained on, from the run identifier in the
predictions' index), read with its geometry, so distances are in physical units. The metrics are those of
``evaluate.metrics`` (:mod:`segpipe.metrics`); each defines its value for empty masks (Dice: 1 when
both masks are empty, 0 when one is; HD95: 0 when both are empty, the image diagonal when one is),
so no case is ever dropped from a mean as NaN.

Columns: ``run_id, loss, label_type, training_set, framework, seed`` (from the run identifier in
the predictions' index), ``case_id, split, group, reference`` (the reference label type), then
one column per metric value.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from os import PathLike
from pathlib import Path
from typing import Any

from segpipe.data.manifest import Manifest
from segpipe.errors import InputError
from segpipe.experiments import RunSpec
from segpipe.fsutil import atomic_open
from segpipe.io import read_image, read_mask
from segpipe.metrics import CaseInputs, compute_metrics, get_metric
from segpipe.predictions import PredictedCase, PredictionSet

#: Columns that identify a row; metric columns follow.
ID_COLUMNS = ("run_id", "loss", "label_type", "training_set", "framework", "seed", "case_id", "split", "group", "reference")


def _case_inputs(predicted: PredictedCase, reference_path: Path, needs_probability: bool) -> CaseInputs:
    """Read one case's prediction and reference and check that they lie on the same grid."""
    reference, geometry = read_mask(reference_path)
    prediction, predicted_geometry = read_mask(predicted.mask)
    if prediction.shape != reference.shape:
        raise InputError(
            f"prediction of case {predicted.case_id} has shape {prediction.shape}, its reference label "
            f"{reference_path} has {reference.shape}", where=predicted.mask,
            fix="predict with the manifest of this dataset",
        )
    if not predicted_geometry.matches(geometry):
        raise InputError(
            f"prediction of case {predicted.case_id} is placed differently in space than its reference label "
            f"{reference_path} ({predicted_geometry} vs {geometry})", where=predicted.mask,
            fix="predict with the manifest of this dataset",
        )
    probability = read_image(predicted.probability).array[0] if needs_probability else None
    return CaseInputs(prediction > 0, reference > 0, geometry.array_spacing, probability)


def evaluate(
    config: Mapping[str, Any],
    manifest_path: str | PathLike[str],
    predictions_dir: str | PathLike[str],
    out_csv: str | PathLike[str],
    *,
    threads: int = 1,
) -> Path:
    """Compute the per-case metrics of a predictions directory and write them as CSV.

    Parameters
    ----------
    config
        Validated configuration (section ``evaluate``).
    manifest_path
        Manifest listing the cases, their groups and their raw label files.
    predictions_dir
        Directory written by ``segpipe predict`` (with ``index.json``).
    out_csv
        Destination CSV, written atomically.
    threads
        Cases evaluated in parallel.

    Returns
    -------
    Path
        ``out_csv``.

    Raises
    ------
    InputError
        If a predicted case is not in the manifest, lacks the reference label type, or does not lie on
        its reference's grid.
    """
    settings = config["evaluate"]
    metrics = [get_metric(name) for name in settings["metrics"]]
    needs_probability = any(metric.needs_probability for metric in metrics)
    manifest_path = Path(manifest_path)
    manifest = Manifest.load(manifest_path)
    predictions = PredictionSet.load(predictions_dir)
    run = RunSpec.parse(predictions.run_id)
    label_type = settings["label_type"] or run.label_type
    if not predictions.cases:
        raise InputError("the prediction index lists no cases", where=predictions.directory, fix="run `segpipe predict` again")

    references = []
    for predicted in predictions.cases:
        try:
            case = manifest.case(predicted.case_id)
        except KeyError:
            raise InputError(
                f"case {predicted.case_id} was predicted but is not in this manifest", where=manifest_path,
                fix="pass the manifest the predictions were made from",
            ) from None
        if label_type not in case.labels:
            raise InputError(
                f"case {case.case_id} has no {label_type!r} label", where=manifest_path,
                fix=f"set 'evaluate.label_type' to one of: {', '.join(case.labels) or '(none)'}"
                + (" (null scores against the run's own label type)" if settings["label_type"] else ""),
            )
        references.append(Path(case.labels[label_type]))

    def score(item: tuple[PredictedCase, Path]) -> dict[str, float]:
        predicted, reference = item
        return compute_metrics(settings["metrics"], _case_inputs(predicted, reference, needs_probability))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        values = list(pool.map(score, zip(predictions.cases, references)))

    identity = {"run_id": run.run_id, **asdict(run)}
    rows = [
        {**identity, "case_id": p.case_id, "split": p.split, "group": p.group, "reference": label_type, **v}
        for p, v in zip(predictions.cases, values)
    ]
    columns = [*ID_COLUMNS, *(column for metric in metrics for column in metric.columns)]
    with atomic_open(out_csv, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(out_csv)
