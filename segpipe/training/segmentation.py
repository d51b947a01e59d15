"""Segmentation training (``segpipe train``): the segmentation task of the one training loop.

``train()`` reads everything it needs from the configuration, the manifest written by
``segpipe preprocess`` and the run identifier (``{model}.{loss}.{label_type}.{training_set}.{framework}.s{seed}``)
and runs :func:`segpipe.training.loop.run_training` with a :class:`SegmentationTask`: batches of
random patches (:mod:`segpipe.training.batches`), the run's composite loss, the validation Dice. With
multi-class data (the fingerprint's ``classes``, :mod:`segpipe.datasets.classes`) the network has one
softmax output per class plus the background's, the loss handles the classes
(:mod:`segpipe.training.losses.registry`) and the validation Dice is the mean over the classes.

Outputs in the run directory
----------------------------
``checkpoints/checkpoint_NNNNNNNN.pt``
    Every ``train.checkpoint_every`` iterations (atomic): model, optimizer, scheduler, iteration,
    RNG states and the log so far. Re-running the same command resumes from the newest one; since
    batch ``t`` depends only on the seed and ``t`` (:mod:`segpipe.training.batches`), the resumed
    run ends with the same weights as an uninterrupted one. A checkpoint written with different
    settings or different training data (checksums of the preprocessed training cases) is
    discarded. The directory is removed when training completes.
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

import dataclasses
import hashlib
import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import astuple
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.config import distributed_problems, network_problems
from segpipe.datasets.classes import dataset_classes
from segpipe.datasets.lookup import load_manifest_case, preprocessed_path
from segpipe.datasets.manifest import Case, Manifest
from segpipe.errors import ConfigError, InputError
from segpipe.evaluation.metrics import CaseInputs, get_metric
from segpipe.experiments.grid import RunSpec, teacher_run, training_settings
from segpipe.inference.sliding_window import label_map, predict_probability
from segpipe.networks.factory import NetworkSpec, build_network
from segpipe.networks.model_file import ModelInfo, load_segmentation_model, save_model
from segpipe.training import distributed
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case, sample_shape
from segpipe.training.checkpoint import seed_everything
from segpipe.training.loop import LoopSettings, Optimisation, TrainingTask, run_training
from segpipe.training.losses import CompositeLoss, Progress, TermContext, build_loss
from segpipe.training.losses.registry import LossResult
from segpipe.training.scnp import penalise
from segpipe.utilities.devices import resolve_device

#: Frameworks ``segpipe train`` implements (a run identifier's fourth part): supervised training;
#: plus TopoMortar's random hue augmentation; a fresh network trained on a teacher's predictions;
#: the loss on same-class-neighbour-penalised logits (:mod:`segpipe.training.scnp`).
FRAMEWORKS = ("plain", "random_hue", "self_distillation", "scnp")


def _fingerprint(settings: Mapping[str, Any], cases: list[Case], manifest_path: Path) -> str:
    """What the trained weights depend on: the settings and the content of every training case."""
    data = {case.case_id: _sha256(preprocessed_path(manifest_path, case)) for case in cases}
    text = json.dumps({"settings": settings, "cases": data}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_run(
    run: RunSpec, manifest: Manifest, manifest_path: Path, teacher: Path | None, config_network: str
) -> list[Case]:
    """Check the run against the manifest and its teacher; return its training cases."""
    if run.model != config_network:
        raise ConfigError(
            f"run {run.run_id!r} names model {run.model!r}, but 'train.network.name' is {config_network!r}",
            fix=f"train run {RunSpec(config_network, *astuple(run)[1:]).run_id!r}, or set 'train.network.name'",
        )
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
    if problems := network_problems(spec.channels, spec.strides, patch_size):
        raise ConfigError(problems[0])
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
    """The teacher's thresholded predictions (label maps, multi-class) of the training images (self-distillation's labels)."""
    network, info = load_segmentation_model(teacher, device)
    return [
        label_map(predict_probability(network, image, info.network, patch_size=info.patch_size, device=device),
                  info.network, threshold).astype(np.uint8)
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
    """Mean Dice of the network's thresholded predictions on the validation cases of all processes.

    For a multi-class network, the Dice of a case is the mean over the classes of each class's Dice.
    """
    dice = get_metric("dice")
    indices = range(1, len(spec.classes) + 1) if spec.classes else (1,)
    scores = []
    for image, label, spacing in cases:
        prediction = label_map(predict_probability(network, image, spec, patch_size=patch_size, device=device),
                               spec, threshold)
        scores.append(math.fsum(dice(CaseInputs(prediction == k, label == k, spacing))["dice"] for k in indices)
                      / len(indices))
    total, count = context.sum([math.fsum(scores), len(scores)])
    return total / count


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
        ``{model}.{loss}.{label_type}.{training_set}.{framework}.s{seed}``.
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
    _check_run(run, Manifest.load(manifest_path), manifest_path, teacher, settings["network"]["name"])  # before any worker starts
    distributed.launch(
        _train_process, (dict(config), manifest_path, run_id, out_dir, teacher, show_progress),
        processes=int(settings["distributed"]["processes"]),
        backend=distributed.resolve_backend(settings["distributed"]["backend"], device),
        threads=torch.get_num_threads(),
    )
    return out_dir / "model.pt"


@dataclasses.dataclass
class SegmentationTask(TrainingTask):
    """Segmentation in the one training loop: patches of the run's labels, its loss, validation Dice.

    Attributes
    ----------
    name
        The run identifier.
    loss_function
        The run's composite loss.
    source
        The batches (batch ``t`` depends only on the seed and ``t``).
    num_workers
        Data-loader worker processes.
    validation
        This process's validation cases (image, label, spacing).
    validates
        Whether the data set has validation cases at all.
    spec, patch_size, device, threshold, context
        What the validation prediction needs.
    model_info
        Written with the weights.
    scnp_neighbourhood
        With the ``scnp`` framework, the neighbourhood side of the penalised logits the loss sees
        (:func:`segpipe.training.scnp.penalise`); None: the loss sees the logits.
    """

    name: str
    loss_function: CompositeLoss
    source: BatchSource
    num_workers: int
    validation: list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]]
    validates: bool
    spec: NetworkSpec
    patch_size: tuple[int, ...] | None
    device: torch.device
    threshold: float
    context: distributed.Context
    model_info: ModelInfo
    scnp_neighbourhood: int | None = None
    validation_column: str = "val_dice"

    @property
    def term_keys(self) -> list[str]:  # type: ignore[override]
        """Log keys of the loss terms."""
        return self.loss_function.keys

    def batches(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches of iterations ``start + 1 ...`` on the device; the first is checked against the loss."""
        total = self.model_info.iterations
        loader = torch.utils.data.DataLoader(
            self.source, batch_size=None, sampler=range(start + 1, total + 1), num_workers=self.num_workers,
        )
        for index, batch in enumerate(loader):
            batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
            if index == 0:
                _check_batch(self.loss_function, batch)
            yield batch

    def loss(self, network: torch.nn.Module, batch: Mapping[str, torch.Tensor], progress: Progress) -> LossResult:
        """The run's loss of the network's logits (SCNP-penalised with the ``scnp`` framework) for the batch."""
        logits = network(batch["image"])
        if self.scnp_neighbourhood is not None:
            logits = penalise(logits, batch["label"], self.scnp_neighbourhood)
        return self.loss_function(logits, batch, progress)

    def validate(self, network: torch.nn.Module) -> float | None:
        """Mean Dice of the thresholded predictions of the validation cases of all processes."""
        if not self.validates:
            return None
        return _validation_dice(network, self.spec, self.validation, self.patch_size, self.device, self.threshold,
                                self.context)

    def save_model(self, path: Path, network: torch.nn.Module) -> Path:
        """The model file with what prediction needs."""
        return save_model(path, network, self.model_info)


def _train_process(
    context: distributed.Context, config: Mapping[str, Any], manifest_path: Path, run_id: str, out_dir: Path,
    teacher: Path | None, show_progress: bool,
) -> None:
    """The training of :func:`train` in one process (rank ``context.rank`` of ``context.world_size``)."""
    run = RunSpec.parse(run_id)
    manifest = Manifest.load(manifest_path)
    train_cases = _check_run(run, manifest, manifest_path, teacher, config["train"]["network"]["name"])
    settings = config["train"]
    device = context.device(resolve_device(settings["device"], key="train.device"))
    _configure_determinism(bool(settings["deterministic"]))

    fingerprint_path = manifest_path.parent / "fingerprint.json"
    dataset_fingerprint = json.loads(fingerprint_path.read_text()) if fingerprint_path.is_file() else {}
    classes = dataset_classes(dataset_fingerprint)
    spec = NetworkSpec.from_config(
        settings["network"], dimensions=manifest.dimensions, in_channels=manifest.channels, output=settings["output"],
        classes=classes,
    )
    patch_size = _check_patch_size(settings["patch_size"], spec)
    context_of_terms = TermContext(settings["output"], spec.dimensions, run.label_type, dataset_fingerprint,
                                   connectivity=config["connectivity"], classes=classes)
    loss = build_loss(run.loss, config["losses"], context_of_terms)

    sampling = SamplingSettings.from_config(settings, spec.divisor)
    if run.framework == "random_hue":
        sampling = dataclasses.replace(sampling, random_hue=float(settings["random_hue"]))
    threshold = float(config["predict"]["threshold"])
    source = _batch_source(train_cases, manifest_path, run, loss, sampling, context.shard(sampling.batch_size),
                           teacher, threshold, device)
    loop = LoopSettings(int(settings["iterations"]), int(settings["checkpoint_every"]), settings["validate_every"])
    validates = bool(manifest.select(split="val"))
    if not validates and context.is_main:
        print(
            f"segpipe train: warning: {manifest_path}: the manifest has no validation cases (split 'val'): training "
            "runs without validation (no val_dice in train_log.csv; the model is the one of the last iteration)\n"
            "  fix: assign some cases to split 'val' in the data set and run `segpipe preprocess` again",
            file=sys.stderr, flush=True,
        )
    task = SegmentationTask(
        name=run_id, loss_function=loss, source=source, num_workers=int(settings["num_workers"]),
        validation=_validation_cases(manifest, manifest_path, run.label_type, context),
        validates=validates, spec=spec, patch_size=patch_size, device=device,
        threshold=threshold, context=context,
        model_info=ModelInfo(spec, run_id, run.label_type, loop.iterations, patch_size, config["preprocess"]["normalisation"]),
        scnp_neighbourhood=int(settings["scnp_neighbourhood"]) if run.framework == "scnp" else None,
    )

    seed_everything(run.seed)
    network = build_network(spec).to(device)
    optimizer = _optimizer(settings, network.parameters())
    settings_used = training_settings(config, run_id)
    if teacher is not None:  # a retrained teacher changes the labels: its checkpoints are not resumed
        settings_used["teacher_sha256"] = _sha256(teacher)
    run_training(
        task, Optimisation(network, optimizer, _scheduler(settings, optimizer)), loop, out_dir,
        _fingerprint(settings_used, train_cases, manifest_path), device=device, context=context,
        show_progress=show_progress,
    )


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
