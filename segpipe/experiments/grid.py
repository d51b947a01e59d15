"""Experiment grids: which runs a workflow trains, and how a run is named.

A run is one training of one model (network) with one loss on one label type and training set, with
one framework and seed. Its identifier, ``{model}.{loss}.{label_type}.{training_set}.{framework}.s{seed}``
(e.g. ``unet.dice_ce.accurate.large.plain.s0``), names its directory under ``results/runs/`` and is
the ``{run}`` wildcard of the workflow. The model is ``train.network.name`` for segmentation runs
(``unet``, ``dynunet``) and ``hybridgnet`` for HybridGNet's decoded masks.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segpipe.errors import ConfigError

#: Settings under ``train`` that do not change the trained weights (``device`` and ``distributed``
#: change them only within floating-point rounding).
_NO_EFFECT_ON_WEIGHTS = ("device", "distributed", "num_workers", "checkpoint_every", "validate_every")

#: Settings under ``train`` that only runs of one framework read (changing them retrains only those).
_FRAMEWORK_SETTINGS = {"random_hue": ("random_hue",), "scnp": ("scnp_neighbourhood",)}


@dataclass(frozen=True)
class RunSpec:
    """One point of the experiment grid."""

    model: str
    loss: str
    label_type: str
    training_set: str
    framework: str
    seed: int

    @property
    def run_id(self) -> str:
        """Identifier used in paths and as the workflow's ``{run}`` wildcard."""
        return f"{self.model}.{self.loss}.{self.label_type}.{self.training_set}.{self.framework}.s{self.seed}"

    @classmethod
    def parse(cls, run_id: str) -> RunSpec:
        """Inverse of :attr:`run_id`.

        Raises
        ------
        ConfigError
            If ``run_id`` does not have the six dot-separated parts.
        """
        parts = run_id.split(".")
        if len(parts) != 6 or not parts[5].startswith("s") or not parts[5][1:].isdigit():
            raise ConfigError(
                f"malformed run identifier {run_id!r}",
                fix="use {model}.{loss}.{label_type}.{training_set}.{framework}.s{seed}, e.g. "
                "unet.dice_ce.accurate.large.plain.s0",
            )
        return cls(*parts[:5], int(parts[5][1:]))


def expand_grid(grid: Mapping[str, Any], model: str) -> list[RunSpec]:
    """Return every run of an ``experiments``-style grid, in a stable order.

    Parameters
    ----------
    grid
        Mapping with lists under ``losses``, ``label_types``, ``training_sets``, ``frameworks`` and
        ``seeds`` (the ``experiments`` section of the configuration). A non-empty ``settings`` list
        of ``{label_type, training_set, framework}`` mappings replaces the product of the three
        middle lists (a study of chosen combinations, as TopoMortar's study cases); a setting's own
        ``losses`` list, where given, replaces ``losses`` for that setting.
    model
        The network every run trains (``train.network.name``).
    """
    settings = [
        (s["label_type"], s["training_set"], s["framework"], s.get("losses") or grid["losses"])
        for s in grid.get("settings") or []
    ]
    if not settings:
        combinations = itertools.product(grid["label_types"], grid["training_sets"], grid["frameworks"])
        settings = [(*combination, grid["losses"]) for combination in combinations]
    every_loss = dict.fromkeys(loss for *_, losses in settings for loss in losses)
    runs = [
        RunSpec(model, loss, label_type, training_set, framework, int(seed))
        for loss in every_loss
        for label_type, training_set, framework, losses in settings
        if loss in losses
        for seed in grid["seeds"]
    ]
    return list(dict.fromkeys(runs))


def teacher_run(run_id: str) -> str | None:
    """The run whose model teaches a ``self_distillation`` run (``None`` for other frameworks).

    The teacher is the ``plain`` run with the same model, loss, label type, training set and seed.
    """
    run = RunSpec.parse(run_id)
    if run.framework != "self_distillation":
        return None
    return RunSpec(run.model, run.loss, run.label_type, run.training_set, "plain", run.seed).run_id


def training_settings(config: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The settings that determine a run's trained weights.

    ``segpipe train`` fingerprints its checkpoints with them (a checkpoint written with other
    settings is not resumed) and the workflow's train rule carries them as ``params``, so that
    changing any of them, and nothing else, retrains the run. A ``self_distillation`` run's
    include its teacher's; settings of ``train`` that only another framework reads are left out.
    """
    run = RunSpec.parse(run_id)
    teacher = teacher_run(run_id)
    other_frameworks = (key for framework, keys in _FRAMEWORK_SETTINGS.items() if framework != run.framework for key in keys)
    ignored = (*_NO_EFFECT_ON_WEIGHTS, *other_frameworks)
    return {
        "run": run_id,
        **({"teacher": training_settings(config, teacher)} if teacher else {}),
        "train": {key: value for key, value in config["train"].items() if key not in ignored},
        "loss": config["losses"].get(run.loss),
        "normalisation": config["preprocess"]["normalisation"],
    }
