"""Train HybridGNet on a landmark dataset.

Loss: landmark MSE + ``interim_weight`` x interim MSE (deep supervision at the coarser graph
levels) + ``kl_weight`` x KL, on normalised coordinates
(:func:`segpipe.networks.hybridgnet.hybridgnet_loss`). Each iteration draws a batch without
replacement, applies a random affine map to images and landmarks together and a random intensity
change (:mod:`segpipe.training.landmark_augmentation`).

Output directory
----------------
``checkpoints/checkpoint_<iteration>.pt``
    Atomic checkpoints (:mod:`segpipe.training.checkpoint`) with model, optimiser, scheduler, random
    generator states and the log so far; a run killed at any moment (``kill -9`` included) resumes
    from the newest one and continues exactly as if it had not stopped. Checkpoints made with
    other settings (template, model, training settings that change the weights, training cases)
    are deleted and training starts over.
``log.csv``
    One row per checkpoint: iteration, mean training losses since the previous row, learning rate,
    validation landmark MSE in px^2 (network resolution) and cumulative training seconds. Rewritten
    atomically with each checkpoint, so it always matches the newest checkpoint.
``model.pt``
    The trained model (:mod:`segpipe.networks.model_file`), written when training ends.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segpipe.datasets.landmarks import LandmarkDataset, read_landmark_dataset
from segpipe.errors import InputError
from segpipe.io.atomic import atomic_open
from segpipe.networks.graph import load_template, pixels_to_normalised
from segpipe.networks.hybridgnet import HybridGNet, HybridGNetConfig, HybridGNetSpec, hybridgnet_loss
from segpipe.networks.model_file import ModelInfo, save_model
from segpipe.preprocessing.landmark_images import prepare_image
from segpipe.training.checkpoint import (
    capture_rng_state,
    list_checkpoints,
    load_latest_checkpoint,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from segpipe.training.landmark_augmentation import apply_affine, random_affine, random_intensity
from segpipe.utilities.devices import resolve_device

LOG_COLUMNS = ("iteration", "loss", "landmark_mse", "interim_mse", "kl", "learning_rate", "val_mse_px2", "seconds")
MODEL_FILE = "model.pt"
LOG_FILE = "log.csv"


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


def model_config(decode: dict[str, Any]) -> HybridGNetConfig:
    """The architecture described by the validated ``decode`` config section."""
    return HybridGNetConfig(**decode["model"])


def landmark_mse_px2(predicted: torch.Tensor, target: torch.Tensor, size: int) -> float:
    """Mean squared coordinate error in px^2 of an image of side ``size`` (Gaggion's landmark MSE)."""
    return float(((predicted - target) * size).pow(2).mean())


#: Settings under ``decode.train`` that do not change the trained weights (not in the fingerprint).
_NO_EFFECT = ("device", "checkpoint_every")


def _fingerprint(decode: dict[str, Any], case_ids: list[str]) -> dict[str, Any]:
    """The settings and training cases a checkpoint must share with the current run to be resumed."""
    train = {key: value for key, value in decode["train"].items() if key not in _NO_EFFECT}
    return {"template": decode["template"], "model": decode["model"], "train": train, "cases": case_ids}


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


@torch.no_grad()
def _validate(model: HybridGNet, data: LandmarkArrays, device: torch.device, batch_size: int) -> float:
    model.eval()
    predicted = [
        model(data.images[start : start + batch_size].to(device)).positions.cpu()
        for start in range(0, len(data.case_ids), batch_size)
    ]
    model.train()
    return landmark_mse_px2(torch.cat(predicted), data.landmarks, model.config.image_size)


def _resume(checkpoints: Path, fingerprint: dict[str, Any], parts: dict[str, Any], device: torch.device) -> dict[str, Any] | None:
    """Load the newest checkpoint into ``parts`` (model, optimizer, scheduler) and the RNGs.

    Returns the checkpoint, or ``None`` when there is none or it was made with other settings
    (then every checkpoint is deleted, so that the new run's checkpoints are the only ones).
    """
    state = load_latest_checkpoint(checkpoints, map_location=device)
    if state is not None and state["fingerprint"] != fingerprint:
        print(f"train-landmarks: discarding checkpoints made with other settings in {checkpoints}", flush=True)
        for stale in list_checkpoints(checkpoints):
            stale.unlink()
        return None
    if state is not None:
        for name, part in parts.items():
            part.load_state_dict(state[name])
        restore_rng_state(state["rng"])
    return state


def _augmented_batch(train: LandmarkArrays, batch: int, augment: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch (without replacement), moved by a random affine map, with random intensities."""
    index = torch.randperm(len(train.case_ids))[:batch]
    forward = random_affine(batch, rotation_deg=augment["rotation_deg"], scale=augment["scale"], translation=augment["translation"])
    images, target = apply_affine(train.images[index], train.landmarks[index], forward)
    return random_intensity(images, augment["intensity"]), target


def train_landmarks(
    config: dict[str, Any],
    dataset_dir: str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    progress: bool = True,
) -> Path:
    """Train (or resume training) HybridGNet and write ``model.pt``, checkpoints and ``log.csv``.

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
        Show a progress bar on standard error (else one line per checkpoint on standard output).

    Returns
    -------
    Path
        The ``model.pt`` path.

    Raises
    ------
    InputError
        If the dataset is unusable.
    """
    from tqdm import tqdm

    decode, settings = config["decode"], config["decode"]["train"]
    out_dir = Path(out_dir)
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
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["learning_rate"], weight_decay=settings["weight_decay"])
    total = settings["iterations"]
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=settings["learning_rate"] * 0.05)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    fingerprint = _fingerprint(decode, train.case_ids)
    state = _resume(out_dir / "checkpoints", fingerprint, parts, device)
    start, rows, seconds = (state["iteration"], state["log"], state["seconds"]) if state else (0, [], 0.0)

    batch = min(settings["batch_size"], len(train.case_ids))
    sums, count = np.zeros(4), 0
    model.train()
    bar = tqdm(total=total, initial=start, disable=not progress, desc="train-landmarks", unit="it", dynamic_ncols=True)
    began = time.perf_counter()
    for iteration in range(start + 1, total + 1):
        images, target = _augmented_batch(train, batch, settings["augment"])
        terms = hybridgnet_loss(
            model, model(images.to(device)), target.to(device),
            kl_weight=settings["kl_weight"], interim_weight=settings["interim_weight"],
        )
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        scheduler.step()
        sums += [terms.total.item(), terms.landmark.item(), terms.interim.item(), terms.kl.item()]
        count += 1
        bar.update(1)
        bar.set_postfix(loss=f"{terms.total.item():.2e}")
        if iteration % settings["checkpoint_every"] and iteration != total:
            continue
        seconds += time.perf_counter() - began
        val = _validate(model, validation, device, batch) if validation is not None else float("nan")
        means = sums / count
        rows.append(dict(zip(LOG_COLUMNS, [iteration, *means.tolist(), scheduler.get_last_lr()[0], val, round(seconds, 3)], strict=True)))
        sums, count = np.zeros(4), 0
        checkpoint = {name: part.state_dict() for name, part in parts.items()}
        checkpoint.update(iteration=iteration, rng=capture_rng_state(), log=rows, seconds=seconds, fingerprint=fingerprint)
        save_checkpoint(out_dir / "checkpoints", iteration, checkpoint)
        _write_log(out_dir / LOG_FILE, rows)
        if not progress:
            print(f"train-landmarks: iteration {iteration}/{total} loss {means[0]:.3e} val_mse_px2 {val:.2f}", flush=True)
        began = time.perf_counter()
    bar.close()
    model.eval()
    info = ModelInfo(HybridGNetSpec(architecture, template), f"hybridgnet.s{settings['seed']}", "landmarks", total)
    return save_model(out_dir / MODEL_FILE, model, info)
