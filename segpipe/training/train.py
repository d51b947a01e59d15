"""Train one run: a MONAI network on the run's label type and training set with the run's loss.

``train()`` reads everything it needs from the configuration, the manifest written by
``segpipe preprocess`` and the run identifier (``{loss}.{label_type}.{training_set}.{framework}.s{seed}``).

Outputs in the run directory
----------------------------
``checkpoints/checkpoint_NNNNNNNN.pt``
    Every ``train.checkpoint_every`` iterations (atomic): model, optimizer, scheduler, iteration,
    RNG states, the data-order state and the log so far. Re-running the same command resumes from
    the newest one; since batch ``t`` depends only on the seed and ``t``
    (:mod:`segpipe.training.batches`), the resumed run ends with the same weights as an uninterrupted one.
    A checkpoint written with different settings is discarded. The directory is removed when
    training completes.
``train_log.csv``
    One row per iteration: ``iteration, loss, loss_<term>..., lr, seconds, val_dice`` (``val_dice``
    every ``train.validate_every`` iterations and at the end, else empty).
``model.pt``
    Weights plus what prediction needs (:mod:`segpipe.networks.model_file`); written last.

With ``train.distributed.processes`` > 1 the run trains in that many processes
(:mod:`segpipe.training.distributed`): each draws its share of the slots of every batch, DDP averages the
gradients, and rank 0 alone writes checkpoints, the log and the model while the others wait. The
checkpoints hold the plain (unwrapped) network, so a run can resume with another number of processes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.config import distributed_problems
from segpipe.datasets.lookup import load_manifest_case
from segpipe.datasets.manifest import Case, Manifest
from segpipe.errors import ConfigError, InputError
from segpipe.evaluation.metrics import CaseInputs, get_metric
from segpipe.experiments.grid import RunSpec, teacher_run, training_settings
from segpipe.inference.sliding_window import predict_probability
from segpipe.io.atomic import atomic_open
from segpipe.networks.factory import NetworkSpec, build_network
from segpipe.networks.model_file import ModelInfo, load_segmentation_model, save_model
from segpipe.training import distributed
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case, sample_shape
from segpipe.training.checkpoint import (
    capture_rng_state,
    list_checkpoints,
    load_latest_checkpoint,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from segpipe.training.losses import CompositeLoss, Progress, TermContext, build_loss
from segpipe.utilities.devices import resolve_device

#: Frameworks ``segpipe train`` implements (a run identifier's fourth part): supervised training;
#: plus TopoMortar's random hue augmentation; a fresh network trained on a teacher's predictions.
FRAMEWORKS = ("plain", "random_hue", "self_distillation")


def _fingerprint(settings: Mapping[str, Any], case_ids: list[str]) -> str:
    text = json.dumps({"settings": settings, "cases": case_ids}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_run(run: RunSpec, manifest: Manifest, manifest_path: Path, teacher: Path | None) -> list[Case]:
    """Check the run against the manifest and its teacher; return its training cases."""
    if run.framework not in FRAMEWORKS:
        raise ConfigError(
            f"run {run.run_id!r} uses framework {run.framework!r}, which `segpipe train` does not implement",
            fix=f"use one of: {', '.join(FRAMEWORKS)}",
        )
    if run.framework == "random_hue" and manifest.channels != 3:
        raise ConfigError(
            f"run {run.run_id!r} uses random_hue, which recolours RGB images, but the images have "
            f"{manifest.channels} channel(s)", fix="use the plain or self_distillation framework for this dataset",
        )
    if (run.framework == "self_distillation") != (teacher is not None):
        raise ConfigError(
            f"run {run.run_id!r}: a teacher model is needed exactly for the self_distillation framework",
            fix=f"pass --teacher RUN_DIR/model.pt of run {teacher_run(run.run_id)!r}" if teacher is None
            else "drop --teacher",
        )
    if run.label_type not in manifest.label_types:
        raise InputError(
            f"run {run.run_id!r} trains on {run.label_type!r} labels, but the manifest has only "
            f"{', '.join(manifest.label_types) or '(none)'}", where=manifest_path,
            fix="choose a label type the dataset provides (the second part of the run identifier)",
        )
    if run.training_set not in ("large", "small"):
        raise ConfigError(
            f"run {run.run_id!r} names training set {run.training_set!r}", fix="use 'large' or 'small' (third part)"
        )
    cases = manifest.training_cases(run.training_set)
    if not cases:
        raise InputError(
            f"the manifest has no training cases in the {run.training_set!r} training set", where=manifest_path,
            fix="check the dataset's splits (and its small-set list for 'small')",
        )
    return cases


def _check_patch_size(patch_size: list[int] | None, spec: NetworkSpec) -> tuple[int, ...] | None:
    if patch_size is None:
        return None
    if len(patch_size) != spec.dimensions:
        raise ConfigError(
            f"'train.patch_size' has {len(patch_size)} values but the images are {spec.dimensions}-D",
            fix=f"give {spec.dimensions} sizes, or null to train on whole images",
        )
    if any(p % spec.divisor for p in patch_size):
        raise ConfigError(
            f"'train.patch_size' {list(patch_size)} is not divisible by {spec.divisor} (the product of "
            "'train.network.strides')", fix=f"use multiples of {spec.divisor}",
        )
    return tuple(int(p) for p in patch_size)


def _label(case: Case, data: Any, label_type: str, manifest_path: Path) -> np.ndarray:
    if label_type not in data.labels:
        raise InputError(
            f"case {case.case_id} has no {label_type!r} label in its preprocessed file", where=manifest_path,
            fix="re-run `segpipe preprocess` on a dataset that provides this label type",
        )
    return data.labels[label_type]


def _optimizer(train: Mapping[str, Any], parameters: Any) -> torch.optim.Optimizer:
    name, lr, decay = train["optimizer"], float(train["learning_rate"]), float(train["weight_decay"])
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)
    return torch.optim.SGD(parameters, lr=lr, weight_decay=decay, momentum=0.99, nesterov=True)


def _scheduler(train: Mapping[str, Any], optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    total, name = int(train["iterations"]), train["lr_schedule"]
    if name == "poly":  # nnU-Net: lr * (1 - t / T) ** 0.9
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (1.0 - min(step, total) / total) ** 0.9)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def _teacher_labels(teacher: Path, images: list[np.ndarray], threshold: float, device: torch.device) -> list[np.ndarray]:
    """The teacher's thresholded predictions of the training images (self-distillation's labels)."""
    network, info = load_segmentation_model(teacher, device)
    return [
        (predict_probability(network, image, info.network, patch_size=info.patch_size, device=device) >= threshold)
        .astype(np.uint8)
        for image in images
    ]


def _batch_source(
    cases: list[Case], manifest_path: Path, run: RunSpec, loss: CompositeLoss, sampling: SamplingSettings,
    slots: range, teacher: Path | None, threshold: float, device: torch.device,
) -> BatchSource:
    """Load the training cases with the loss terms' case extras and set up the sampling of ``slots``.

    The labels are the run's label type, or with a ``teacher`` model its thresholded predictions.
    """
    loaded = [(case, load_manifest_case(manifest_path, case)) for case in cases]
    shape = sample_shape(sampling, [data.spatial_shape for _, data in loaded])
    labels = [_label(case, data, run.label_type, manifest_path) for case, data in loaded]
    if teacher is not None:
        labels = _teacher_labels(teacher, [data.image for _, data in loaded], threshold, device)
    held = []
    for (case, data), label in zip(loaded, labels):
        held.append(make_training_case(case.case_id, data.image, label, loss.case_extras(data, label), shape))
    return BatchSource(held, sampling, shape, run.seed, loss.sample_extras, slots=slots)


def _resume(
    checkpoint_dir: Path, fingerprint: str, stateful: tuple[Any, Any, Any], device: torch.device,
    context: distributed.Context,
) -> tuple[int, list[dict[str, Any]]]:
    """Restore network, optimizer and scheduler from the newest checkpoint written with these settings.

    Returns the number of completed iterations and the log rows so far (0 and none without a
    usable checkpoint; checkpoints written with other settings are deleted, by rank 0 once every
    process has read them).
    """
    state = load_latest_checkpoint(checkpoint_dir, map_location=device)
    context.barrier()
    if state is not None and state.get("fingerprint") != fingerprint:
        if context.is_main:
            print(f"segpipe train: checkpoints in {checkpoint_dir} were written with other settings; starting over",
                  file=sys.stderr)
            for stale in list_checkpoints(checkpoint_dir):
                stale.unlink()
        return 0, []
    if state is None:
        return 0, []
    for target, key in zip(stateful, ("model", "optimizer", "scheduler")):
        target.load_state_dict(state[key])
    restore_rng_state(state["rng"])
    return int(state["iteration"]), list(state["log"])


def _validation_cases(
    manifest: Manifest, manifest_path: Path, label_type: str, context: distributed.Context
) -> list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]]:
    """Image, label and spacing of this process's share of the validation cases."""
    cases = []
    for case in context.split(manifest.select(split="val")):
        data = load_manifest_case(manifest_path, case)
        cases.append((data.image, _label(case, data, label_type, manifest_path), data.geometry.array_spacing))
    return cases


def _validation_dice(
    network: torch.nn.Module, spec: NetworkSpec, cases: list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]],
    patch_size: tuple[int, ...] | None, device: torch.device, threshold: float, context: distributed.Context,
) -> float:
    """Mean Dice of the network's thresholded predictions on the validation cases of all processes."""
    dice = get_metric("dice")
    network.eval()
    scores = [
        dice(CaseInputs(predict_probability(network, image, spec, patch_size=patch_size, device=device) >= threshold,
                        label.astype(bool), spacing))["dice"]
        for image, label, spacing in cases
    ]
    network.train()
    total, count = context.sum([math.fsum(scores), len(scores)])
    return total / count


def _write_log(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _configure_determinism(deterministic: bool) -> None:
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def train(
    config: Mapping[str, Any],
    manifest_path: str | PathLike[str],
    run_id: str,
    out_dir: str | PathLike[str],
    *,
    teacher: str | PathLike[str] | None = None,
    show_progress: bool = True,
) -> Path:
    """Train run ``run_id`` and write ``model.pt`` and ``train_log.csv`` to ``out_dir``.

    Parameters
    ----------
    config
        Validated configuration (sections ``train``, ``losses``, ``preprocess``, ``predict``).
    manifest_path
        ``manifest.json`` written by ``segpipe preprocess``.
    run_id
        ``{loss}.{label_type}.{training_set}.{framework}.s{seed}``.
    out_dir
        Run directory. Checkpoints found in ``out_dir/checkpoints`` from an interrupted run with
        the same settings are resumed.
    teacher
        ``model.pt`` of the teacher run (:func:`segpipe.experiments.grid.teacher_run`); required for,
        and only for, the ``self_distillation`` framework, whose labels are the teacher's
        predictions of the training images thresholded at ``predict.threshold``.
    show_progress
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Path
        Path of ``model.pt``.

    Raises
    ------
    ConfigError, InputError
        If the run identifier, the configuration and the manifest do not fit together.

    Notes
    -----
    With ``train.distributed.processes`` > 1 this starts the training processes and waits for them
    (:func:`segpipe.training.distributed.launch`); they share the caller's torch threads
    (``torch.get_num_threads()``, which ``segpipe train --threads`` sets) equally.
    """
    settings = config["train"]
    device = resolve_device(settings["device"], key="train.device")
    problems = distributed_problems(settings, device.type)
    if problems:
        raise ConfigError.listing("the distributed training settings do not fit", problems, where="train.distributed")
    run, manifest_path, out_dir = RunSpec.parse(run_id), Path(manifest_path), Path(out_dir)
    teacher = None if teacher is None else Path(teacher)
    _check_run(run, Manifest.load(manifest_path), manifest_path, teacher)  # before any worker starts
    distributed.launch(
        _train_process, (dict(config), manifest_path, run_id, out_dir, teacher, show_progress),
        processes=int(settings["distributed"]["processes"]),
        backend=distributed.resolve_backend(settings["distributed"]["backend"], device),
        threads=torch.get_num_threads(),
    )
    return out_dir / "model.pt"


def _train_process(
    context: distributed.Context, config: Mapping[str, Any], manifest_path: Path, run_id: str, out_dir: Path,
    teacher: Path | None, show_progress: bool,
) -> None:
    """The training of :func:`train` in one process (rank ``context.rank`` of ``context.world_size``)."""
    from tqdm import tqdm

    run = RunSpec.parse(run_id)
    manifest = Manifest.load(manifest_path)
    train_cases = _check_run(run, manifest, manifest_path, teacher)
    settings = config["train"]
    total = int(settings["iterations"])
    device = context.device(resolve_device(settings["device"], key="train.device"))
    _configure_determinism(bool(settings["deterministic"]))

    spec = NetworkSpec.from_config(
        settings["network"], dimensions=manifest.dimensions, in_channels=manifest.channels, output=settings["output"]
    )
    patch_size = _check_patch_size(settings["patch_size"], spec)
    fingerprint_path = manifest_path.parent / "fingerprint.json"
    dataset_fingerprint = json.loads(fingerprint_path.read_text()) if fingerprint_path.is_file() else {}
    context_of_terms = TermContext(settings["output"], spec.dimensions, run.label_type, dataset_fingerprint,
                                   connectivity=config["connectivity"])
    loss = build_loss(run.loss, config["losses"], context_of_terms)

    sampling = SamplingSettings.from_config(settings, spec.divisor)
    if run.framework == "random_hue":
        sampling = dataclasses.replace(sampling, random_hue=float(settings["random_hue"]))
    threshold = float(config["predict"]["threshold"])
    source = _batch_source(train_cases, manifest_path, run, loss, sampling, context.shard(sampling.batch_size),
                           teacher, threshold, device)
    validation = _validation_cases(manifest, manifest_path, run.label_type, context)
    validates = bool(manifest.select(split="val"))

    seed_everything(run.seed)
    network = build_network(spec).to(device)
    optimizer = _optimizer(settings, network.parameters())
    scheduler = _scheduler(settings, optimizer)
    columns = ["iteration", "loss", *(f"loss_{key}" for key in loss.keys), "lr", "seconds", "val_dice"]
    settings_used = training_settings(config, run_id)
    if teacher is not None:  # a retrained teacher changes the labels: its checkpoints are not resumed
        settings_used["teacher_sha256"] = hashlib.sha256(teacher.read_bytes()).hexdigest()
    fingerprint = _fingerprint(settings_used, [case.case_id for case in train_cases])
    checkpoint_dir = out_dir / "checkpoints"
    start, rows = _resume(checkpoint_dir, fingerprint, (network, optimizer, scheduler), device, context)
    parallel = context.wrap(network, device)  # after the resume: DDP starts from rank 0's weights
    if start and context.is_main:
        print(f"segpipe train: resuming {run_id} from iteration {start} of {total}", file=sys.stderr)

    loader = torch.utils.data.DataLoader(
        source, batch_size=None, sampler=range(start + 1, total + 1), num_workers=int(settings["num_workers"]),
    )
    network.train()
    validate_every = settings["validate_every"]
    bar = tqdm(total=total, initial=start, desc=run_id, file=sys.stderr, disable=not (show_progress and context.is_main),
               mininterval=1.0)
    clock = time.perf_counter()
    for iteration, batch in enumerate(loader, start=start + 1):
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        if iteration == start + 1:
            _check_batch(loss, batch)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.zero_grad(set_to_none=True)
        result = loss(parallel(batch["image"]), batch, Progress(iteration, total))
        # The whole batch's loss (the mean of the processes' shares); every process sees the same value.
        batch_loss, *term_values = context.mean([result.total.detach(), *result.terms.values()])
        if not math.isfinite(batch_loss):
            raise FloatingPointError(f"the loss of {run_id} became {batch_loss} at iteration {iteration}")
        result.total.backward()
        optimizer.step()
        scheduler.step()
        row: dict[str, Any] = {"iteration": iteration, "loss": batch_loss, "lr": lr}
        row.update({f"loss_{key}": value for key, value in zip(result.terms, term_values)})
        if validates and (iteration == total or (validate_every and iteration % validate_every == 0)):
            row["val_dice"] = _validation_dice(network, spec, validation, patch_size, device, threshold, context)
        row["seconds"] = time.perf_counter() - clock
        clock = time.perf_counter()
        rows.append(row)
        bar.update()
        bar.set_postfix(loss=f"{row['loss']:.4f}", **({"val_dice": f"{row['val_dice']:.3f}"} if "val_dice" in row else {}))
        if iteration % int(settings["checkpoint_every"]) == 0 and iteration < total:
            if context.is_main:
                save_checkpoint(checkpoint_dir, iteration, {
                    "iteration": iteration, "fingerprint": fingerprint, "model": network.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": capture_rng_state(), "sampler": {"seed": run.seed, "next_iteration": iteration + 1},
                    "log": rows,
                })
            context.barrier()
    bar.close()

    if context.is_main:
        _write_log(out_dir / "train_log.csv", rows, columns)
        info = ModelInfo(spec, run_id, run.label_type, total, patch_size, config["preprocess"]["normalisation"])
        save_model(out_dir / "model.pt", network, info)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    context.barrier()


def _check_batch(loss: CompositeLoss, batch: Mapping[str, torch.Tensor]) -> None:
    """Fail early and clearly when a loss term reads a batch key that no hook produces."""
    missing = sorted(loss.requires - set(batch))
    if missing:
        raise RuntimeError(
            f"the loss needs batch key(s) {', '.join(missing)} that neither a term's case_extras nor its "
            "sample_extras produced"
        )
    if not math.isfinite(float(batch["image"].float().abs().max())):
        raise InputError("a training image contains NaN or infinite values", fix="re-run `segpipe preprocess`")
