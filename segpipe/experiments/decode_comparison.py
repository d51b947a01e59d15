"""HybridGNet against a segmentation network trained by the segmentation pipeline on the same data.

The decode target trains, besides HybridGNet, one binary network per organ of the landmark
template with the ordinary stages (``segpipe preprocess``, ``train``, ``predict``, ``evaluate``) on
the landmark dataset, whose label types include every organ. :func:`comparison_config` is the
configuration those stages run with; both methods' masks are then scored by ``segpipe evaluate``
with the same metrics against the same organ masks.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from segpipe.config import validate_config
from segpipe.experiments.grid import RunSpec, expand_grid
from segpipe.inference.decode import MODEL, mask_run
from segpipe.networks.graph import load_template

#: Metrics every comparison reports (``evaluate.metrics`` adds to them).
METRICS = ("dice", "hd95", "betti")
#: Display names of the methods, by the model of their runs.
_DISPLAY = {MODEL: "HybridGNet", "unet": "UNet", "dynunet": "DynUNet"}


@dataclass(frozen=True)
class ComparedRun:
    """One method's masks of one organ.

    Attributes
    ----------
    method
        The model of the run: ``"hybridgnet"`` or the segmentation pipeline's network (``"unet"``, ``"dynunet"``).
    organ
        Organ (the run's label type).
    run_id
        Run identifier of the predictions.
    """

    method: str
    organ: str
    run_id: str


#: Where the segmentation side of the comparison writes its results, under ``results_dir``.
SEGMENTATION_DIR = Path("decode") / "segmentation"


def comparison_experiments(config: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison's experiment grid: one run per organ of the template (loss ``decode.unet.loss``,
    all training cases, seed ``decode.train.seed``)."""
    decode = config["decode"]
    return {
        "losses": [decode["unet"]["loss"]],
        "label_types": list(load_template(decode["template"]).names),
        "training_sets": ["large"],
        "frameworks": ["plain"],
        "seeds": [decode["train"]["seed"]],
    }


def comparison_config(config: Mapping[str, Any], dataset: str | PathLike[str]) -> dict[str, Any]:
    """The validated configuration of the segmentation rules in the comparison.

    A copy of ``config`` that reads the landmark dataset ``dataset`` in place, writes under
    ``results_dir/decode/segmentation``, trains with ``decode.unet.train`` the runs of
    :func:`comparison_experiments` (binary: ``preprocess.label_policy: classes`` becomes ``strict``),
    and scores each run against the mask of its own organ with :data:`METRICS` plus ``evaluate.metrics``.

    Parameters
    ----------
    config
        Validated configuration.
    dataset
        The landmark dataset directory (segpipe layout; its label types include every organ).
    """
    derived = copy.deepcopy(dict(config))
    derived["results_dir"] = str(Path(config["results_dir"]) / SEGMENTATION_DIR)
    derived["dataset"] = {**derived["dataset"], "source": "directory", "path": str(dataset)}
    derived["train"] = copy.deepcopy(config["decode"]["unet"]["train"])
    if derived["preprocess"]["label_policy"] == "classes":  # one binary run per organ: the organs' masks are binary
        derived["preprocess"]["label_policy"] = "strict"
    derived["experiments"] = comparison_experiments(config)
    metrics = list(dict.fromkeys([*METRICS, *config["evaluate"]["metrics"]]))
    derived["evaluate"] = {**config["evaluate"], "label_type": None, "metrics": metrics}
    return validate_config(derived, source="decode comparison settings (derived from decode.unet)", dataset_generated=True)


def compared_runs(config: Mapping[str, Any]) -> list[ComparedRun]:
    """Every run of the comparison: HybridGNet's masks of each organ, then the network's runs."""
    experiments = comparison_experiments(config)
    seed = config["decode"]["train"]["seed"]
    runs = [ComparedRun(MODEL, organ, mask_run(organ, seed).run_id) for organ in experiments["label_types"]]
    network = config["decode"]["unet"]["train"]["network"]["name"]
    return runs + [ComparedRun(spec.model, spec.label_type, spec.run_id) for spec in expand_grid(experiments, network)]


def method_name(run_id: str) -> str:
    """Display name of the model that made a run's predictions (``HybridGNet``, ``UNet``, ...)."""
    model = RunSpec.parse(run_id).model
    return _DISPLAY.get(model, model)
