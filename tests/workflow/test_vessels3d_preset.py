"""The 3D vessels preset (config/vessels3d.yaml): it validates, and a tiny variant of it runs the
workflow to evaluated NIfTI predictions that keep the input's affine."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import merge
from monai.metrics import compute_hausdorff_distance
from workflow_helpers import REPO, job_counts, snakemake

from segpipe.config import validate_config

PRESET = REPO / "config" / "vessels3d.yaml"
LOSSES = ("dice_ce", "mip_z", "mip_all", "cldice", "betti_matching")

#: Sizes small enough for a test; everything else is the preset's.
TINY = {
    "results_dir": "results",
    "dataset": {"synthetic": {"n_train": 2, "n_train_small": 1, "n_val": 1, "n_test_id": 2,
                              "vessels": {"shape": [32, 32, 32]}}},
    "experiments": {"losses": ["mip_z"]},
    "train": {"network": {"channels": [4, 8, 16]}, "iterations": 6, "batch_size": 2, "patch_size": [16, 16, 16],
              "checkpoint_every": 3, "validate_every": 3, "device": "cpu"},
    "predict": {"device": "cpu"},
    "evaluate": {"metrics": ["dice", "hd95", "assd", "betti", "betti_matching"]},
}


def preset() -> dict:
    """The preset as written (no defaults filled)."""
    return yaml.safe_load(PRESET.read_text())


def test_preset_validates_and_is_a_3d_run():
    config = validate_config(preset(), source=str(PRESET))
    assert config["dataset"]["synthetic"]["kind"] == "vessels" and len(config["train"]["patch_size"]) == 3
    assert tuple(config["experiments"]["losses"]) == LOSSES and set(LOSSES) <= set(config["losses"])
    axes = {name: [term["axes"] for term in config["losses"][name]["terms"] if term["name"] == "mip"]
            for name in ("mip_z", "mip_all")}
    assert axes == {"mip_z": [0], "mip_all": ["all"]}
    assert {"hd95", "assd", "nsd", "betti", "betti_matching"} <= set(config["evaluate"]["metrics"])
    assert config["connectivity"] == "full"


def test_preset_merged_over_config_yaml_plans_every_loss(tmp_path):
    result = snakemake(tmp_path, "-n", "all", configfile=PRESET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"data": 1, "preprocess": 1, "train_run": 5, "predict_run": 5,
                                         "evaluate_run": 5, "report": 1, "all": 1}
    (snapshot,) = (tmp_path / "results" / "vessels3d" / "configs").iterdir()
    used = yaml.safe_load(snapshot.read_text())  # what the commands read: config.yaml with the preset over it
    assert used["train"]["patch_size"] == [32, 32, 32] and used["dataset"]["synthetic"]["n_test_ood"] == 0
    assert used["losses"]["mip_z"]["terms"][1]["axes"] == 0 and used["evaluate"]["surface_tolerance"] == 0.6


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # MONAI 1.6 calls its own deprecated argument
def test_tiny_preset_runs_to_evaluated_predictions_with_the_input_affine(tmp_path):
    variant = tmp_path / "vessels3d_tiny.yaml"
    variant.write_text(yaml.safe_dump(merge(preset(), TINY)))
    result = snakemake(tmp_path, "--cores", "2", "evaluate", configfile=variant)
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    run = results / "runs" / "unet.mip_z.accurate.large.plain.s0"
    assert {"loss_dice_ce", "loss_mip"} <= set(pd.read_csv(run / "train_log.csv").columns)
    data = results / "data" / "vessels"
    tests = [case for case in json.loads((data / "dataset.json").read_text())["cases"] if case["split"] == "test"]
    metrics = pd.read_csv(run / "metrics.csv", dtype={"case_id": str}).set_index("case_id")
    assert {"betti0_error", "betti1_error", "betti2_error", "betti_matching2_error"} <= set(metrics.columns)
    assert sorted(metrics.index) == sorted(case["id"] for case in tests) and len(tests) == 2
    for case in tests:
        case_id = case["id"]
        image, reference = nib.load(data / case["image"]), nib.load(data / case["labels"]["accurate"])
        mask = nib.load(run / "predictions" / f"{case_id}_mask.nii.gz")
        probability = nib.load(run / "predictions" / f"{case_id}_prob.nii.gz")
        for prediction in (mask, probability):
            assert prediction.shape == image.shape and np.allclose(prediction.affine, image.affine)
        # HD95 in mm with the anisotropic spacing, recomputed from nibabel's arrays and zooms (x, y, z)
        zooms = [float(zoom) for zoom in image.header.get_zooms()]
        assert not np.allclose(zooms, zooms[0])
        predicted, referenced = np.asarray(mask.dataobj) > 0, np.asarray(reference.dataobj) > 0
        if predicted.any() and referenced.any():
            expected = float(compute_hausdorff_distance(torch.as_tensor(predicted)[None, None],
                                                        torch.as_tensor(referenced)[None, None],
                                                        percentile=95, spacing=zooms))
        else:
            expected = float(np.linalg.norm(np.multiply(image.shape, zooms)))  # the empty-mask rule
        assert metrics.loc[case_id, "hd95"] == pytest.approx(expected, rel=1e-5)
