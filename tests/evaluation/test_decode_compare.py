"""HybridGNet vs the segmentation pipeline: per-organ label types through preprocess, train, predict
and evaluate, the comparison's derived configuration, and the Betti metric both are scored with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from segpipe.config import validate_config
from segpipe.datasets.synthetic.chest import ChestSynthConfig, generate_chest_dataset
from segpipe.errors import ConfigError, InputError
from segpipe.evaluation.evaluate import ID_COLUMNS, evaluate
from segpipe.evaluation.metrics import CaseInputs, compute_metrics, get_metric
from segpipe.experiments.decode_comparison import METRICS, ComparedRun, compared_runs, comparison_config, method_name
from segpipe.inference.predict import predict
from segpipe.inference.predictions import PredictionSet
from segpipe.networks.graph import default_template
from segpipe.networks.model_file import load_model
from segpipe.preprocessing.preprocess import preprocess_dataset
from segpipe.training.segmentation import train

TINY_UNET = {"network": {"name": "unet", "channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0},
             "iterations": 4, "batch_size": 2, "patch_size": None, "checkpoint_every": 2, "validate_every": 2,
             "device": "cpu", "augmentation": {"flips": False, "rot90": False}}


def _betti(prediction, reference):
    return get_metric("betti")(CaseInputs(prediction, reference, (1.0, 1.0)))


def test_betti_metric_on_known_masks():
    square = np.zeros((9, 9), bool)
    square[2:7, 2:7] = True
    ring = square.copy()
    ring[4, 4] = False
    assert _betti(ring, square) == {"betti0_error": 0.0, "betti1_error": 1.0, "betti2_error": 0.0}
    diagonal = np.eye(9, dtype=bool)  # 8-connected foreground: one component; its background is one 4-connected piece
    assert _betti(diagonal, square) == {"betti0_error": 0.0, "betti1_error": 0.0, "betti2_error": 0.0}
    corner = square.copy()
    corner[1, 1] = True  # touches the square only diagonally: the same component
    specks = square.copy()
    specks[0, 0] = specks[0, 8] = specks[8, 0] = True  # three components more
    assert _betti(corner, square)["betti0_error"] == 0.0 and _betti(specks, square)["betti0_error"] == 3.0
    notch = np.ones((9, 9), bool)
    notch[0, 4] = False  # background touching the border is no hole
    assert _betti(notch, square) == {"betti0_error": 0.0, "betti1_error": 0.0, "betti2_error": 0.0}
    empty = np.zeros((9, 9), bool)
    assert _betti(empty, empty) == {"betti0_error": 0.0, "betti1_error": 0.0, "betti2_error": 0.0}
    assert _betti(empty, ring) == {"betti0_error": 1.0, "betti1_error": 1.0, "betti2_error": 0.0}
    volume = np.zeros((5, 5, 5), bool)
    volume[1:4, 1:4, 1:4] = True
    tunnel = volume.copy()
    tunnel[:, 2, 2] = False
    assert _betti(tunnel, volume) == {"betti0_error": 0.0, "betti1_error": 1.0, "betti2_error": 0.0}
    assert compute_metrics(["dice", "betti"], CaseInputs(ring, square, (1.0, 1.0)))["betti1_error"] == 1.0


@pytest.fixture(scope="module")
def chest(tmp_path_factory):
    """Tiny synthetic chest data, preprocessed: label types accurate + the three organs."""
    root = tmp_path_factory.mktemp("chest")
    generate_chest_dataset(root / "data", default_template(), ChestSynthConfig(image_size=32, n_train=4, n_val=1, n_test=2))
    preprocess_dataset(root / "data", root / "preprocessed")
    return root


def _config(**decode):
    return validate_config({"decode": {"unet": {"train": TINY_UNET}, **decode}, "predict": {"device": "cpu"}})


def test_comparison_config_trains_one_binary_run_per_organ():
    config = validate_config({"decode": {"train": {"seed": 4}, "unet": {"train": TINY_UNET}},
                              "evaluate": {"metrics": ["hd95"]}, "train": {"iterations": 77}})
    derived = comparison_config(config, dataset="chest")
    assert derived["dataset"]["path"] == "chest" and derived["results_dir"] == "results/decode/segmentation"
    assert derived["train"]["iterations"] == 4 and derived["train"]["network"]["channels"] == [8, 16, 32]
    assert derived["train"]["optimizer"] == "adamw"  # the train section's defaults fill the rest
    assert derived["experiments"] == {"losses": ["dice_ce"], "label_types": ["right_lung", "left_lung", "heart"],
                                      "training_sets": ["large"], "frameworks": ["plain"], "seeds": [4],
                                      "settings": []}
    assert derived["evaluate"]["label_type"] is None and derived["evaluate"]["metrics"] == list(METRICS)
    assert config["train"]["iterations"] == 77 and config["experiments"]["label_types"] == ["accurate"]  # untouched
    runs = compared_runs(config)
    assert runs[0] == ComparedRun("hybridgnet", "right_lung", "hybridgnet.landmarks.right_lung.large.plain.s4")
    assert runs[3] == ComparedRun("unet", "right_lung", "unet.dice_ce.right_lung.large.plain.s4") and len(runs) == 6
    assert [method_name(run.run_id) for run in runs[2:4]] == ["HybridGNet", "UNet"]
    default = validate_config({})["decode"]["unet"]["train"]
    assert default["augmentation"]["flips"] is False and default["iterations"] == validate_config({})["decode"]["train"]["iterations"]


def test_comparison_settings_are_validated():
    with pytest.raises(ConfigError, match="'decode.unet.loss' names 'clfancy', which is not defined under 'losses'"):
        validate_config({"decode": {"unet": {"loss": "clfancy"}}})
    with pytest.raises(ConfigError, match="unknown key 'epochs' in 'decode.unet.train'"):
        validate_config({"decode": {"unet": {"train": {"epochs": 3}}}})
    with pytest.raises(ConfigError, match="experiments.label_types"):
        validate_config({"experiments": {"label_types": ["right.lung"]}})  # dots separate the run identifier's parts


def test_organ_label_types_through_train_predict_and_evaluate(chest, tmp_path):
    torch.set_num_threads(1)
    config = comparison_config(_config(), dataset=chest / "data")
    manifest = chest / "preprocessed" / "manifest.json"
    scores = {}
    for organ in ("right_lung", "heart"):
        run = f"unet.dice_ce.{organ}.large.plain.s0"
        model = train(config, manifest, run, tmp_path / run, show_progress=False)
        assert load_model(model)[1].label_type == organ
        predictions = tmp_path / run / "predictions"
        predict(config, manifest, model, predictions, show_progress=False)
        assert PredictionSet.load(predictions).run_id == run
        scores[organ] = pd.read_csv(evaluate(config, manifest, predictions, tmp_path / f"{run}.csv"), dtype={"case_id": str})
    for organ, frame in scores.items():
        scored = [*ID_COLUMNS, "dice", "hd95", "betti0_error", "betti1_error", "betti2_error"]
        assert list(frame.columns)[:len(scored)] == scored
        assert set(frame["label_type"]) == set(frame["reference"]) == {organ}  # scored against its own organ
        assert sorted(frame["group"].unique()) == ["indistr", "occluded"] and len(frame) == 4
    # The same predictions scored against another organ's labels give other numbers.
    fixed = config | {"evaluate": {**config["evaluate"], "label_type": "heart"}}
    against_heart = pd.read_csv(evaluate(fixed, manifest, tmp_path / "unet.dice_ce.right_lung.large.plain.s0" / "predictions",
                                         tmp_path / "x.csv"))
    assert set(against_heart["reference"]) == {"heart"}
    assert not np.allclose(against_heart["dice"], scores["right_lung"]["dice"])


def test_unknown_organ_is_a_clear_error(chest, tmp_path):
    config = comparison_config(_config(), dataset=chest / "data")
    with pytest.raises(InputError, match="trains on 'liver' labels"):
        train(config, chest / "preprocessed" / "manifest.json", "unet.dice_ce.liver.large.plain.s0", tmp_path, show_progress=False)
