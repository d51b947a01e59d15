"""HybridGNet's landmark training (``segpipe train-landmarks``): the landmark task of the one training loop.

Loss: landmark MSE + ``interim_weight`` x interim MSE (deep supervision at the coarser graph
levels) + ``kl_weight`` x KL, on normalised coordinates
(:func:`segpipe.networks.hybridgnet.hybridgnet_loss`). Each iteration draws a batch without
replacement, applies a random affine map to images and landmarks together and a random intensity
change (:mod:`segpipe.training.landmark_augmentation`). :func:`train_landmarks` runs
:func:`segpipe.training.loop.run_training` with a :class:`LandmarkTask`, so that checkpoints,
resumption, the log and the model file are those of every segpipe training.

Output directory
----------------
``checkpoints/checkpoint_<iteration>.pt``
    Atomic checkpoints (:mod:`segpipe.training.checkpoint`) with model, optimiser, scheduler,
    random generator states and the log so far; a run killed at any moment (``kill -9`` included)
    resumes from the newest one and continues exactly as if it had not stopped. Checkpoints made
    with other settings (template, model, training settings that change the weights) or other
    training data are deleted and training starts over.
``train_log.csv``
    One row per iteration: iteration, loss, its terms (``loss_landmark``, ``loss_interim``,
    ``loss_kl``), learning rate, seconds, and at every checkpoint the validation landmark MSE in
    px^2 (network resolution, ``val_mse_px2``).
``model.pt``
    The trained model (:mod:`segpipe.networks.model_file`), written when training ends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.datasets.landmarks import LandmarkDataset, read_landmark_dataset
from segpipe.errors import InputError
from segpipe.networks.graph import load_template, pixels_to_normalised
from segpipe.networks.hybridgnet import HybridGNet, HybridGNetConfig, HybridGNetSpec, hybridgnet_loss
from segpipe.networks.model_file import ModelInfo, save_model
from segpipe.preprocessing.landmark_images import prepare_image
from segpipe.training.checkpoint import seed_everything
from segpipe.training.landmark_augmentation import apply_affine, random_affine, random_intensity
from segpipe.training.loop import LoopSettings, Optimisation, TrainingTask, run_training
from segpipe.training.losses import Progress
from segpipe.training.losses.registry import LossResult
from segpipe.utilities.devices import resolve_device


@dataclass(frozen=True)
class LandmarkArrays:
    """Images and landmarks of some cases, ready for the network.

    Attributes
    ----------
    images
        ``(N, 1, size, size)`` float32 in ``[0, 1]``.
    landmarks
        ``(N, n_landmarks, 2)`` float32 normalised coordinates.
    case_ids
        Case identifiers, in order.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    case_ids: list[str]


def load_arrays(dataset: LandmarkDataset, split: str, size: int) -> LandmarkArrays:
    """Load every case of ``split`` (all groups) at network size ``size``.

    Raises
    ------
    InputError
        If the split has no cases.
    """
    cases = dataset.cases(split=split)
    if not cases:
        raise InputError(f"the dataset has no {split!r} cases with landmarks", where=dataset.root, fix=f"add {split} cases")
    images, landmarks = [], []
    for case in cases:
        prepared = prepare_image(case.image, size)
        images.append(prepared.array)
        landmarks.append(pixels_to_normalised(dataset.landmarks(case.case_id), prepared.shape))
    return LandmarkArrays(
        torch.as_tensor(np.stack(images)),
        torch.as_tensor(np.stack(landmarks), dtype=torch.float32),
        [case.case_id for case in cases],
    )


def model_config(decode: Mapping[str, Any]) -> HybridGNetConfig:
    """The architecture described by the validated ``decode`` config section."""
    return HybridGNetConfig(**decode["model"])


def landmark_mse_px2(predicted: torch.Tensor, target: torch.Tensor, size: int) -> float:
    """Mean squared coordinate error in px^2 of an image of side ``size`` (Gaggion's landmark MSE)."""
    return float(((predicted - target) * size).pow(2).mean())


#: Settings under ``decode.train`` that do not change the trained weights (not in the fingerprint).
_NO_EFFECT = ("device", "checkpoint_every")


def _fingerprint(decode: Mapping[str, Any], train: LandmarkArrays) -> str:
    """The settings and training data a checkpoint must share with the current run to be resumed."""
    settings = {key: value for key, value in decode["train"].items() if key not in _NO_EFFECT}
    data = hashlib.sha256(train.images.numpy().tobytes() + train.landmarks.numpy().tobytes()).hexdigest()
    text = json.dumps({"template": decode["template"], "model": decode["model"], "train": settings,
                       "cases": train.case_ids, "data": data}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class LandmarkTask(TrainingTask):
    """HybridGNet in the one training loop: augmented random batches, its loss, validation landmark MSE.

    Attributes
    ----------
    name
        Shown in console lines.
    train, validation
        Training and validation arrays (no validation: None).
    batch_size
        Samples per batch (at most the number of training cases).
    augment
        ``decode.train.augment``.
    kl_weight, interim_weight
        Weights of the loss terms.
    device
        Where the network runs.
    model_info
        Written with the weights.
    """

    name: str
    train: LandmarkArrays
    validation: LandmarkArrays | None
    batch_size: int
    augment: Mapping[str, float]
    kl_weight: float
    interim_weight: float
    device: torch.device
    model_info: ModelInfo
    term_keys: tuple[str, ...] = ("landmark", "interim", "kl")
    validation_column: str = "val_mse_px2"

    def batches(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Random augmented batches, drawn with torch's global generator (which checkpoints capture)."""
        for _ in range(start, self.model_info.iterations):
            images, target = _augmented_batch(self.train, self.batch_size, self.augment)
            yield images.to(self.device), target.to(self.device)

    def loss(self, network: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], progress: Progress) -> LossResult:
        """Landmark MSE + interim MSE + KL (:func:`segpipe.networks.hybridgnet.hybridgnet_loss`)."""
        images, target = batch
        terms = hybridgnet_loss(network, network(images), target, kl_weight=self.kl_weight,
                                interim_weight=self.interim_weight)
        values = {"landmark": terms.landmark.item(), "interim": terms.interim.item(), "kl": terms.kl.item()}
        return LossResult(terms.total, values, {"landmark": 1.0, "interim": self.interim_weight, "kl": self.kl_weight})

    @torch.no_grad()
    def validate(self, network: torch.nn.Module) -> float | None:
        """Landmark MSE in px^2 on the validation cases (network resolution)."""
        if self.validation is None:
            return None
        predicted = [
            network(self.validation.images[start : start + self.batch_size].to(self.device)).positions.cpu()
            for start in range(0, len(self.validation.case_ids), self.batch_size)
        ]
        return landmark_mse_px2(torch.cat(predicted), self.validation.landmarks, network.config.image_size)

    def save_model(self, path: Path, network: torch.nn.Module) -> Path:
        """The model file (architecture, template, weights with the mean shape)."""
        return save_model(path, network, self.model_info)


def _augmented_batch(
    train: LandmarkArrays, batch: int, augment: Mapping[str, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch (without replacement), moved by a random affine map, with random intensities."""
    index = torch.randperm(len(train.case_ids))[:batch]
    forward = random_affine(batch, rotation_deg=augment["rotation_deg"], scale=augment["scale"], translation=augment["translation"])
    images, target = apply_affine(train.images[index], train.landmarks[index], forward)
    return random_intensity(images, augment["intensity"]), target


def train_landmarks(
    config: Mapping[str, Any],
    dataset_dir: str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    progress: bool = True,
) -> Path:
    """Train (or resume training) HybridGNet and write ``model.pt``, checkpoints and ``train_log.csv``.

    Parameters
    ----------
    config
        Validated configuration; the ``decode`` section is used.
    dataset_dir
        Landmark dataset (:func:`segpipe.datasets.landmarks.read_landmark_dataset`); its ``train``
        split trains, its ``val`` split (when present) is scored at each checkpoint.
    out_dir
        Run directory (see the module notes).
    progress
        Show a progress bar on standard error when it is a terminal (one line per validation always).

    Returns
    -------
    Path
        The ``model.pt`` path.

    Raises
    ------
    InputError
        If the dataset is unusable.
    """
    decode, settings = config["decode"], config["decode"]["train"]
    template = load_template(decode["template"])
    architecture = model_config(decode)
    dataset = read_landmark_dataset(dataset_dir, template)
    device = resolve_device(settings["device"], key="decode.train.device")
    seed_everything(settings["seed"])
    train = load_arrays(dataset, "train", architecture.image_size)
    validation = load_arrays(dataset, "val", architecture.image_size) if dataset.cases(split="val") else None

    model = HybridGNet(template, architecture)
    model.set_mean_shape(train.landmarks.double().mean(dim=0))
    model.to(device)
    total = int(settings["iterations"])
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["learning_rate"], weight_decay=settings["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=settings["learning_rate"] * 0.05)
    name = f"hybridgnet.s{settings['seed']}"
    task = LandmarkTask(
        name=name, train=train, validation=validation, batch_size=min(settings["batch_size"], len(train.case_ids)),
        augment=settings["augment"], kl_weight=settings["kl_weight"], interim_weight=settings["interim_weight"],
        device=device, model_info=ModelInfo(HybridGNetSpec(architecture, template), name, "landmarks", total),
    )
    every = int(settings["checkpoint_every"])
    return run_training(task, Optimisation(model, optimizer, scheduler), LoopSettings(total, every, every), Path(out_dir),
                        _fingerprint(decode, train), device=device, show_progress=progress)
