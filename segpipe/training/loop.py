"""The one training loop of segpipe, with hooks for what differs between kinds of training.

:func:`run_training` owns everything every training does: the optimizer and learning-rate steps,
resuming from the newest checkpoint written with the same settings, checkpoints every
``checkpoint_every`` iterations (atomic, rank 0 only), the log (one row per iteration), validation
every ``validate_every`` iterations and at the end, one console line per validation, a progress bar
on terminals only, data-parallel processes (:mod:`segpipe.training.distributed`), and the model
file at the end. A :class:`TrainingTask` supplies the rest through its hooks:

``batches(start)``
    The batches of iterations ``start + 1 ...``, on the device.
``loss(network, batch, progress)``
    The loss of one batch (:class:`segpipe.training.losses.LossResult`: the differentiable total
    and each term's value for the log).
``validate(network)``
    One validation score (its log column is :attr:`TrainingTask.validation_column`).
``save_model(path, network)``
    The model file (:mod:`segpipe.networks.model_file`).

Two tasks exist: segmentation (:mod:`segpipe.training.segmentation`, ``segpipe train``) and
HybridGNet's landmarks (:mod:`segpipe.training.landmarks`, ``segpipe train-landmarks``).

A resumed run ends with the same weights as an uninterrupted one when a task's batches depend only
on the iteration and on random generators that checkpoints capture (both tasks' do).
"""

from __future__ import annotations

import abc
import csv
import math
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from segpipe.io.atomic import atomic_open
from segpipe.training import distributed
from segpipe.training.checkpoint import (
    CHECKPOINT_DIR,
    capture_rng_state,
    delete_checkpoints,
    load_latest_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from segpipe.training.losses import Progress
from segpipe.training.losses.registry import LossResult
from segpipe.utilities.progress import progress_bar

#: The log every training writes in its run directory (one row per iteration).
LOG_FILE = "train_log.csv"
#: The model file every training writes last.
MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class LoopSettings:
    """How long to train and how often to checkpoint and validate.

    Attributes
    ----------
    iterations
        Training iterations (batches).
    checkpoint_every
        Iterations between checkpoints (resume points).
    validate_every
        Iterations between validations (always at the end); None: only at the end.
    """

    iterations: int
    checkpoint_every: int
    validate_every: int | None = None

    def validates_at(self, iteration: int) -> bool:
        """Whether iteration ``iteration`` ends with a validation."""
        return iteration == self.iterations or bool(self.validate_every and iteration % self.validate_every == 0)


class TrainingTask(abc.ABC):
    """What one kind of training supplies to :func:`run_training`.

    Attributes
    ----------
    name
        Shown in console lines (the run identifier).
    term_keys
        Keys of the loss terms (log columns ``loss_<key>``).
    validation_column
        Log column of the validation score (e.g. ``val_dice``).
    """

    name: str
    term_keys: Sequence[str]
    validation_column: str

    @abc.abstractmethod
    def batches(self, start: int) -> Iterable[Any]:
        """The batches of iterations ``start + 1`` to the last one, in order."""

    @abc.abstractmethod
    def loss(self, network: torch.nn.Module, batch: Any, progress: Progress) -> LossResult:
        """The loss of one batch (``network`` may be a data-parallel wrapper)."""

    @abc.abstractmethod
    def validate(self, network: torch.nn.Module) -> float | None:
        """The validation score of ``network`` (in eval mode), or None when there is nothing to validate on."""

    @abc.abstractmethod
    def save_model(self, path: Path, network: torch.nn.Module) -> Path:
        """Write the trained ``network`` as the run's model file."""


@dataclass
class Optimisation:
    """The trained network with its optimizer and learning-rate scheduler."""

    network: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    def parts(self) -> dict[str, Any]:
        """The stateful parts, by checkpoint key."""
        return {"model": self.network, "optimizer": self.optimizer, "scheduler": self.scheduler}


def run_training(
    task: TrainingTask,
    optimisation: Optimisation,
    settings: LoopSettings,
    out_dir: Path,
    fingerprint: str,
    *,
    device: torch.device,
    context: distributed.Context = distributed.Context(),
    show_progress: bool = True,
) -> Path:
    """Train ``optimisation.network`` on ``task`` to ``out_dir``; return the model file's path.

    Parameters
    ----------
    task
        The kind of training (hooks).
    optimisation
        Network (on ``device``), optimizer and scheduler, freshly built; their states are restored
        from the newest checkpoint written with the same ``fingerprint``.
    settings
        Iterations, checkpoint and validation intervals.
    out_dir
        Run directory: ``checkpoints/`` while training, then :data:`LOG_FILE` and :data:`MODEL_FILE`.
    fingerprint
        Everything that determines the trained weights (settings, training data): checkpoints
        with another fingerprint are not resumed but deleted.
    device
        The device of this process.
    context
        This process's place among data-parallel processes (default: a single process).
    show_progress
        Show a progress bar on standard error when it is a terminal.
    """

    checkpoints = out_dir / CHECKPOINT_DIR
    start, rows, seconds = _resume(checkpoints, fingerprint, optimisation, device, context)
    network = optimisation.network
    parallel = context.wrap(network, device)  # after the resume: DDP starts from rank 0's weights
    total = settings.iterations
    if start and context.is_main:
        _say(f"resuming {task.name} from iteration {start} of {total}")
    columns = ["iteration", "loss", *(f"loss_{key}" for key in task.term_keys), "lr", "seconds", task.validation_column]
    bar = progress_bar(total=total, initial=start, desc=task.name, show=show_progress and context.is_main)
    network.train()
    clock = time.perf_counter()
    for iteration, batch in enumerate(task.batches(start), start=start + 1):
        lr = optimisation.optimizer.param_groups[0]["lr"]
        optimisation.optimizer.zero_grad(set_to_none=True)
        result = task.loss(parallel, batch, Progress(iteration, total))
        # The whole batch's loss (the mean of the processes' shares); every process sees the same value.
        batch_loss, *term_values = context.mean([result.total.detach(), *result.terms.values()])
        if not math.isfinite(batch_loss):
            raise FloatingPointError(f"the loss of {task.name} became {batch_loss} at iteration {iteration}")
        result.total.backward()
        optimisation.optimizer.step()
        optimisation.scheduler.step()
        row: dict[str, Any] = {"iteration": iteration, "loss": batch_loss, "lr": lr}
        row.update({f"loss_{key}": value for key, value in zip(result.terms, term_values)})
        if settings.validates_at(iteration):
            network.eval()
            score = task.validate(network)
            network.train()
            if score is not None:
                row[task.validation_column] = score
        row["seconds"] = time.perf_counter() - clock
        seconds += row["seconds"]
        clock = time.perf_counter()
        rows.append(row)
        bar.update()
        if settings.validates_at(iteration) and context.is_main:
            _say(_progress_line(task, row, iteration, total, seconds, len(rows)))
        if iteration % settings.checkpoint_every == 0 and iteration < total:
            if context.is_main:
                save_checkpoint(checkpoints, iteration, {
                    "iteration": iteration, "fingerprint": fingerprint, "rng": capture_rng_state(),
                    "log": rows, "seconds": seconds,
                    **{key: part.state_dict() for key, part in optimisation.parts().items()},
                })
            context.barrier()
    bar.close()
    model_path = out_dir / MODEL_FILE
    if context.is_main:
        _write_log(out_dir / LOG_FILE, rows, columns)
        task.save_model(model_path, network.eval())
        shutil.rmtree(checkpoints, ignore_errors=True)
    context.barrier()
    return model_path


def _resume(
    checkpoints: Path, fingerprint: str, optimisation: Optimisation, device: torch.device, context: distributed.Context,
) -> tuple[int, list[dict[str, Any]], float]:
    """Restore the states from the newest checkpoint written with ``fingerprint``.

    Returns the completed iterations, the log rows so far and the training seconds so far (0, none
    and 0 without a usable checkpoint; checkpoints written with other settings are deleted, by
    rank 0 once every process has read them).
    """
    state = load_latest_checkpoint(checkpoints, map_location=device)
    context.barrier()
    if state is not None and state["fingerprint"] != fingerprint:
        if context.is_main:
            _say(f"checkpoints in {checkpoints} were written with other settings or data; starting over")
            delete_checkpoints(checkpoints)
        return 0, [], 0.0
    if state is None:
        return 0, [], 0.0
    for key, part in optimisation.parts().items():
        part.load_state_dict(state[key])
    restore_rng_state(state["rng"])
    return int(state["iteration"]), list(state["log"]), float(state.get("seconds", 0.0))


def _progress_line(task: TrainingTask, row: Mapping[str, Any], iteration: int, total: int, seconds: float, done: int) -> str:
    """One console line: iteration, loss, validation score, time per iteration and the time left."""
    per_iteration = seconds / max(1, done)
    left = per_iteration * (total - iteration)
    score = row.get(task.validation_column)
    validation = f", {task.validation_column} {score:.4g}" if score is not None else ""
    return (f"{task.name}: iteration {iteration}/{total}, loss {row['loss']:.4g}{validation}, "
            f"{per_iteration:.3f} s/iteration, {_duration(left)} left")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _say(line: str) -> None:
    print(f"segpipe train: {line}", file=sys.stderr, flush=True)


def _write_log(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
