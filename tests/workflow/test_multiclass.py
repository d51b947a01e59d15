"""Multi-class labels end to end through the commands (preprocess, train, predict, evaluate, report), and binary data unchanged."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import yaml
from helpers import TINY, merge
from own_data import AFFINE, msd_dataset, png_folder, vessel_classes_png
from workflow_helpers import job_counts, snakemake

from segpipe.cli import main
from segpipe.evaluation.evaluate import ID_COLUMNS
from segpipe.evaluation.metrics import get_metric
from segpipe.io.images import read_image, read_mask
from segpipe.networks.model_file import load_model

RUN = "unet.topo_mix.label.large.plain.s0"
METRICS = ["dice", "cldice", "betti", "betti_matching"]
#: Dice + CE with three topology terms, each computed per class (one vs rest) in a multi-class run.
TOPO_MIX = {"terms": [{"name": "dice_ce"}, {"name": "cldice", "weight": 0.5}, {"name": "skeleton_recall", "weight": 0.5},
                      {"name": "betti_matching", "weight": 0.1}]}


def overrides(data, label_policy: str = "classes", output: str = "softmax", **train) -> dict:
    """The configuration of a first run on ``data``: TINY training with the topology mix."""
    return {
        "dataset": {"source": "directory", "path": str(data)},
        "preprocess": {"label_policy": label_policy},
        "experiments": {"losses": ["topo_mix"], "label_types": ["label"], "training_sets": ["large"],
                        "frameworks": ["plain"], "seeds": [0]},
        "losses": {"dice_ce": {"terms": [{"name": "dice_ce"}]}, "topo_mix": TOPO_MIX},
        "train": merge(TINY["train"], {"output": output, **train}),
        "evaluate": {"label_type": "label", "metrics": METRICS},
        "photo": {"source": None},
    }


def run_commands(tmp_path, config, data) -> dict:
    """preprocess ``data``, train, predict and evaluate with ``config``; the paths they wrote."""
    out = {"pre": tmp_path / "pre", "run": tmp_path / "run", "pred": tmp_path / "pred", "metrics": tmp_path / "m.csv"}
    common = ["--config", str(config)]
    assert main(["preprocess", *common, "--dataset", str(data), "--out", str(out["pre"])]) == 0
    manifest = str(out["pre"] / "manifest.json")
    assert main(["train", *common, "--manifest", manifest, "--run", RUN, "--out", str(out["run"])]) == 0
    assert main(["predict", *common, "--manifest", manifest, "--model", str(out["run"] / "model.pt"),
                 "--out", str(out["pred"])]) == 0
    assert main(["evaluate", *common, "--manifest", manifest, "--predictions", str(out["pred"]),
                 "--out", str(out["metrics"])]) == 0
    return out


def test_two_classes_end_to_end_in_2d(tmp_path, config_file, one_thread):
    data = vessel_classes_png(tmp_path / "data")
    config = config_file(overrides(data))
    out = run_commands(tmp_path, config, data)

    fingerprint = json.loads((out["pre"] / "fingerprint.json").read_text())
    assert fingerprint["classes"] == ["artery", "vein"]
    log = pd.read_csv(out["run"] / "train_log.csv")
    assert {"loss_cldice", "loss_skeleton_recall", "loss_betti_matching"} <= set(log.columns)
    assert np.isfinite(log[["loss_cldice", "loss_skeleton_recall", "loss_betti_matching"]]).all().all()
    assert log["val_dice"].dropna().between(0, 1).all()
    _, info = load_model(out["run"] / "model.pt")
    assert info.network.classes == ("artery", "vein") and info.network.out_channels == 3

    index = json.loads((out["pred"] / "index.json").read_text())
    for entry in index["cases"].values():
        mask, _ = read_mask(out["pred"] / entry["mask"])
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1, 2}
        probability = read_image(out["pred"] / entry["probability"]).array
        assert probability.shape == (2, 32, 32) and probability.min() >= 0 and probability.max() <= 1

    frame = pd.read_csv(out["metrics"])
    columns = [column for metric in METRICS for name in get_metric(metric).columns
               for column in (name, f"{name}_artery", f"{name}_vein")]
    assert list(frame.columns) == [*ID_COLUMNS, *columns]
    assert np.allclose(frame["dice"], (frame["dice_artery"] + frame["dice_vein"]) / 2)
    assert frame[["dice_artery", "dice_vein", "cldice_artery", "cldice_vein"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (frame[["betti0_error_artery", "betti_matching0_error_vein"]] >= 0).all().all()

    report, summary = tmp_path / "report.html", tmp_path / "summary.csv"
    assert main(["report", "--config", str(config), "--metrics", str(out["metrics"]), "--out", str(report),
                 "--manifest", str(out["pre"] / "manifest.json"), "--predictions", str(out["pred"]),
                 "--summary-out", str(summary)]) == 0
    assert {"dice", "dice_artery", "dice_vein", "betti_matching0_error_vein"} <= set(pd.read_csv(summary)["metric"])
    text = report.read_text()
    assert "dice_artery" in text and "dice_vein" in text and "label values are classes: 1 artery, 2 vein" in text
    assert "class artery: betti0_error_artery" in text and "class vein: betti0_error_vein" in text  # figures per class
    assert " class artery\"" in text and " class vein\"" in text  # example overlays per class (their alt text)

    folder = tmp_path / "new"  # an unlabelled folder predicted with the model: label maps too
    folder.mkdir()
    (folder / "scan.png").write_bytes((data / "imagesTr" / "case_000_0000.png").read_bytes())
    assert main(["predict", "--model", str(out["run"] / "model.pt"), "--input", str(folder),
                 "--output", str(tmp_path / "new_out")]) == 0
    assert set(np.unique(read_mask(tmp_path / "new_out" / "scan_mask.png")[0])) <= {0, 1, 2}


def test_two_classes_in_3d_keep_the_input_affine(tmp_path, config_file, one_thread):
    data = msd_dataset(tmp_path / "data", n_train=6, n_test=1, classes=2)
    config = config_file(overrides(data, patch_size=None, iterations=4, validate_every=None))
    out = run_commands(tmp_path, config, data)
    index = json.loads((out["pred"] / "index.json").read_text())
    for entry in index["cases"].values():
        mask = nib.load(out["pred"] / entry["mask"])
        assert np.allclose(mask.affine, AFFINE) and set(np.unique(np.asarray(mask.dataobj))) <= {0, 1, 2}
        assert nib.load(out["pred"] / entry["probability"]).shape[-1] == 2  # one probability per class
    assert {"dice_class1", "dice_class2"} <= set(pd.read_csv(out["metrics"]).columns)


def test_binary_data_keeps_its_outputs(tmp_path, config_file, one_thread):
    data = png_folder(tmp_path / "data", n_labelled=8, n_unlabelled=0)
    out = run_commands(tmp_path, config_file(overrides(data, label_policy="strict", output="sigmoid")), data)
    fingerprint = json.loads((out["pre"] / "fingerprint.json").read_text())
    assert "classes" not in fingerprint and fingerprint["label_policy"]["mode"] == "strict"
    _, info = load_model(out["run"] / "model.pt")
    assert info.network.classes == () and info.network.out_channels == 1 and "classes" not in info.network.to_dict()
    for entry in json.loads((out["pred"] / "index.json").read_text())["cases"].values():
        assert set(np.unique(read_mask(out["pred"] / entry["mask"])[0])) <= {0, 255}
    columns = [column for metric in METRICS for column in get_metric(metric).columns]
    assert list(pd.read_csv(out["metrics"]).columns) == [*ID_COLUMNS, *columns]


def test_one_foreground_class_under_the_classes_policy_is_binary(tmp_path, config_file, one_thread):
    data = msd_dataset(tmp_path / "data", n_train=6, n_test=1, classes=1)
    results = {}
    for policy in ("strict", "classes"):
        config = config_file(overrides(data, label_policy=policy, patch_size=None, iterations=4, validate_every=None),
                             name=f"{policy}.yaml")
        results[policy] = run_commands(tmp_path / policy, config, data)
    strict, classes = (pd.read_csv(results[p]["run"] / "train_log.csv") for p in ("strict", "classes"))
    assert json.loads((results["classes"]["pre"] / "fingerprint.json").read_text())["classes"] == ["class1"]
    losses = [column for column in strict.columns if column.startswith("loss")]
    assert np.array_equal(strict[losses].to_numpy(), classes[losses].to_numpy())
    assert pd.read_csv(results["strict"]["metrics"]).equals(pd.read_csv(results["classes"]["metrics"]))


def test_the_workflow_plans_a_multi_class_run_and_its_dry_run_names_a_sigmoid_output(tmp_path):
    data = vessel_classes_png(tmp_path / "data", n_train=5)
    config = tmp_path / "classes.yaml"
    config.write_text(yaml.safe_dump(overrides(data)))
    result = snakemake(tmp_path, "-n", "all", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["train_run"] == 1
    config.write_text(yaml.safe_dump(overrides(data, output="sigmoid")))
    result = snakemake(tmp_path, "-n", "all", configfile=config)
    assert result.returncode != 0 and "set 'train.output: softmax'" in result.stdout + result.stderr
