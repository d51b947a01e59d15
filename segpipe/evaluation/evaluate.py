"""Score a predictions directory against the raw reference labels, one CSV row per case.

The reference is the ``evaluate.label_type`` label file of each case (``Case.labels`` in the
manifest; when it is null, the label type the run was trained on, from the run identifier in the
predictions' index), read with its geometry, so distances are in physical units. The metrics are those of
``evaluate.metrics`` (:mod:`segpipe.evaluation.metrics`, parameters from the rest of the ``evaluate``
section); each defines its value for empty masks (e.g. Dice: 1 when both masks are empty, 0 when
one is; HD95: 0 when both are empty, the image diagonal when one is), so no case is ever dropped
from a mean as NaN.

Predicted cases without any label (unlabelled test images) are skipped with a note on standard
error; the problems of every other case (a prediction on another grid, a probability map outside
[0, 1], an unreadable file) are listed together in one error. Cases are scored in worker processes (``threads`` of them, at most one per case); when there are
fewer cases than threads, each case computes its metrics on ``threads // cases`` threads.

Columns: ``run_id, loss, label_type, training_set, framework, seed`` (from the run identifier in
the predictions' index), ``case_id, split, group, reference`` (the reference label type), then
one column per metric value.

Multi-class data (the ``classes`` of the fingerprint beside the manifest,
:mod:`segpipe.datasets.classes`): every metric is computed per foreground class, one class against
the rest (the predicted label map's voxels of class ``k`` against the reference's, with class
``k``'s probability channel), into the columns ``<column>_<class>``; ``<column>`` is their mean over
the classes. Each metric column is followed by its class columns.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.classes import class_column, manifest_classes
from segpipe.datasets.manifest import Manifest
from segpipe.errors import InputError
from segpipe.evaluation.metrics import CaseInputs, MetricSettings, compute_metrics, get_metric
from segpipe.experiments.grid import RunSpec
from segpipe.inference.predictions import PredictedCase, PredictionSet
from segpipe.io.atomic import atomic_open
from segpipe.io.images import read_image, read_mask
from segpipe.utilities.workers import run_jobs

#: Columns that identify a row; metric columns follow.
ID_COLUMNS = ("run_id", "model", "loss", "label_type", "training_set", "framework", "seed", "case_id", "split", "group", "reference")


def read_case_inputs(
    predicted: PredictedCase,
    reference_path: str | PathLike[str],
    *,
    needs_probability: bool = False,
    settings: MetricSettings = MetricSettings(),
    classes: Sequence[str] = (),
) -> list[CaseInputs]:
    """Read one case's prediction (and probability map) and reference; check that they share a grid.

    Parameters
    ----------
    predicted, reference_path
        The case's prediction and its reference label file.
    needs_probability
        Also read the probability map.
    settings
        Metric parameters, passed on.
    classes
        Foreground classes of a multi-class data set (empty: binary).

    Returns
    -------
    list of CaseInputs
        Binary: the one case. Multi-class: one per class ``k`` (values 1..K), the prediction's and the
        reference's voxels of class ``k``, with class ``k``'s probability.

    Raises
    ------
    InputError
        If the prediction lies on another grid than the reference, the probability map has another
        shape or values outside [0, 1], or a label map holds a value that is no class.
    """
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
    probability = read_probability(predicted.probability, reference.shape, len(classes)) if needs_probability else None
    spacing = geometry.array_spacing
    if not classes:
        return [CaseInputs(prediction > 0, reference > 0, spacing, probability, settings)]
    for path, labels in ((predicted.mask, prediction), (reference_path, reference)):
        if labels.max(initial=0) > len(classes) or labels.min(initial=0) < 0:
            raise InputError(
                f"the label map of case {predicted.case_id} holds values {np.unique(labels).tolist()}, but the classes "
                f"are 1..{len(classes)} ({', '.join(classes)})", where=path,
                fix="score predictions of a model trained on this data set, preprocessed with 'preprocess.label_policy: "
                "classes'",
            )
    return [
        CaseInputs(prediction == k, reference == k, spacing, None if probability is None else probability[k - 1], settings)
        for k in range(1, len(classes) + 1)
    ]


def read_probability(path: str | PathLike[str], shape: tuple[int, ...], classes: int = 0) -> np.ndarray:
    """A foreground probability map of ``shape`` with finite values in [0, 1], as float64.

    With ``classes`` (their number, multi-class data), the map of every class: ``(classes, *shape)``.

    Raises
    ------
    InputError
        If it has another shape or values outside [0, 1] (logits, or a corrupt file).
    """
    array = read_image(path).array.astype(np.float64)
    probability, shape = (array, (classes, *shape)) if classes else (array[0], shape)
    if probability.shape != shape:
        raise InputError(f"probability map has shape {probability.shape}, its mask {shape}", where=path,
                         fix="run `segpipe predict` again")
    if not (np.isfinite(probability).all() and probability.min() >= 0.0 and probability.max() <= 1.0):
        raise InputError(
            f"probability map has values outside [0, 1] (from {np.nanmin(probability):g} to {np.nanmax(probability):g})",
            where=path, fix="write foreground probabilities (after the sigmoid/softmax), not logits",
        )
    return probability


def class_values(per_class: Sequence[Mapping[str, float]], classes: Sequence[str]) -> dict[str, float]:
    """The metric columns of a multi-class case: each column's mean over the classes, then its value per class.

    Parameters
    ----------
    per_class
        Metric values of each class (one-vs-rest), in class order.
    classes
        The class names.
    """
    values: dict[str, float] = {}
    for column in per_class[0]:
        values[column] = float(np.mean([value[column] for value in per_class]))
        values.update({class_column(column, name): value[column] for name, value in zip(classes, per_class)})
    return values


def score_case(
    predicted: PredictedCase, reference_path: Path, names: Sequence[str], settings: MetricSettings, threads: int,
    classes: Sequence[str] = (),
) -> dict[str, float] | str:
    """All metric columns of one case (the job that :func:`evaluate` runs in its worker processes).

    For multi-class data (``classes``) the columns of :func:`class_values`.

    Returns
    -------
    dict or str
        The metric values, or the problem with the case's files (a sentence naming the file), so
        that evaluation lists every bad file at once.
    """
    needs_probability = any(get_metric(name).needs_probability for name in names)
    try:
        inputs = read_case_inputs(predicted, reference_path, needs_probability=needs_probability, settings=settings,
                                  classes=classes)
    except InputError as error:
        return str(error).replace("\n  fix:", "; fix:")
    per_class = [compute_metrics(names, each, threads=threads) for each in inputs]
    return class_values(per_class, classes) if classes else per_class[0]


def _single_threaded_worker() -> None:
    """Worker set-up: one torch thread per process (the parallelism is over cases)."""
    import torch

    torch.set_num_threads(1)


def evaluate(
    config: Mapping[str, Any],
    manifest_path: str | PathLike[str],
    predictions_dir: str | PathLike[str],
    out_csv: str | PathLike[str],
    *,
    threads: int = 1,
    progress: bool = False,
) -> Path:
    """Compute the per-case metrics of a predictions directory and write them as CSV.

    Parameters
    ----------
    config
        Validated configuration (section ``evaluate`` and ``connectivity``).
    manifest_path
        Manifest listing the cases, their groups and their raw label files.
    predictions_dir
        Directory written by ``segpipe predict`` (with ``index.json``).
    out_csv
        Destination CSV, written atomically.
    threads
        CPU cores: worker processes over cases, and threads per case when there are fewer cases.
    progress
        Show a progress bar on standard error.

    Returns
    -------
    Path
        ``out_csv``.

    Raises
    ------
    InputError
        If a predicted case is not in the manifest, lacks the reference label type, does not lie on
        its reference's grid, or has a probability map outside [0, 1].
    """
    settings = config["evaluate"]
    metrics = [get_metric(name) for name in settings["metrics"]]
    manifest_path = Path(manifest_path)
    manifest = Manifest.load(manifest_path)
    predictions = PredictionSet.load(predictions_dir)
    run = RunSpec.parse(predictions.run_id)
    label_type = settings["label_type"] or run.label_type
    if not predictions.cases:
        raise InputError("the prediction index lists no cases", where=predictions.directory, fix="run `segpipe predict` again")

    scored, unknown = [], []
    for predicted in predictions.cases:
        try:
            case = manifest.case(predicted.case_id)
        except KeyError:
            unknown.append(predicted.case_id)
            continue
        if case.labels:
            scored.append((predicted, case))
    if unknown:
        raise InputError(
            f"{len(unknown)} predicted case(s) are not in this manifest: {', '.join(unknown[:20])}",
            where=manifest_path, fix="pass the manifest the predictions were made from",
        )
    unlabelled = len(predictions.cases) - len(scored)
    if unlabelled:
        print(f"segpipe evaluate: {unlabelled} predicted case(s) have no labels and are not scored", file=sys.stderr)
    lacking = [case.case_id for _, case in scored if label_type not in case.labels]
    if lacking:
        present = sorted({t for _, case in scored for t in case.labels})
        raise InputError(
            f"{len(lacking)} case(s) have no {label_type!r} label: {', '.join(lacking[:20])}", where=manifest_path,
            fix=f"set 'evaluate.label_type' to one of: {', '.join(present) or '(none)'}"
            + (" (null scores against the run's own label type)" if settings["label_type"] else ""),
        )
    if not scored:
        raise InputError(
            "none of the predicted cases has a label, so there is nothing to score", where=predictions.directory,
            fix="give some test cases labels (docs/own-data.md), or use the predictions as they are",
        )

    workers = max(1, min(threads, len(scored)))
    per_case = max(1, threads // workers)
    metric_settings = MetricSettings.from_config(config)
    classes = manifest_classes(manifest_path)
    jobs = [(p, Path(case.labels[label_type]), list(settings["metrics"]), metric_settings, per_case, classes)
            for p, case in scored]
    values = run_jobs(score_case, jobs, workers=workers, progress=progress, description="evaluate",
                      initializer=_single_threaded_worker)
    problems = [value for value in values if isinstance(value, str)]
    if problems:
        raise InputError.listing(
            f"{len(problems)} of {len(values)} predicted cases cannot be scored", problems,
            where=predictions.directory, fix="correct each file as its line says (usually: run `segpipe predict` again)",
        )

    identity = {"run_id": run.run_id, **asdict(run)}
    rows = [
        {**identity, "case_id": p.case_id, "split": p.split, "group": p.group, "reference": label_type, **v}
        for (p, _), v in zip(scored, values)
    ]
    columns = [*ID_COLUMNS, *(
        name for metric in metrics for column in metric.columns
        for name in (column, *(class_column(column, c) for c in classes))
    )]
    with atomic_open(out_csv, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(out_csv)
