"""The `decode` target: its DAG, a JSRT-layout dataset, and a whole run of the decode smoke configuration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from workflow_helpers import REPO, job_counts, snakemake

from segpipe.networks.model_file import load_segmentation_model as load_model

DECODE_SMOKE = REPO / "tests" / "configs" / "decode_smoke.yaml"
ORGANS = ("right_lung", "left_lung", "heart")
UNET_RUNS = tuple(f"unet.dice_ce.{organ}.large.plain.s0" for organ in ORGANS)
HYBRIDGNET_RUNS = tuple(f"hybridgnet.landmarks.{organ}.large.plain.s0" for organ in ORGANS)
STAGES = {"synth_chest": 1, "train_landmarks": 1, "decode_landmarks": 1, "evaluate_decode": 1, "decode_preprocess": 1,
          "decode_train_run": 3, "decode_predict_run": 3, "decode_evaluate_run": 3, "decode_evaluate_hybridgnet": 3,
          "decode_report": 1, "decode": 1}


def test_dry_run_of_decode_lists_both_methods(tmp_path):
    result = snakemake(tmp_path, "-n", "-p", "decode", configfile=DECODE_SMOKE)
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout) == STAGES
    (snapshot,) = (tmp_path / "results" / "configs").iterdir()  # the run's configuration
    (comparison,) = (tmp_path / "results" / "decode" / "segmentation" / "configs").iterdir()  # the segmentation rules'
    assert yaml.safe_load(comparison.read_text())["experiments"]["label_types"] == list(ORGANS)
    for run in UNET_RUNS:
        assert (f"--manifest results/decode/segmentation/preprocessed/manifest.json --run {run} "
                f"--out results/decode/segmentation/runs/{run}") in result.stdout
    assert f"segpipe train-landmarks --config {snapshot.relative_to(tmp_path)}" in result.stdout
    assert "--predictions results/decode/hybridgnet/predictions/heart --out results/decode/scores/" in result.stdout


def test_jsrt_layout_dataset_is_imported_first(tmp_path):
    for split in ("Train", "Test"):
        for folder in ("Images", "landmarks"):
            (tmp_path / "jsrt" / split / folder).mkdir(parents=True)
    config = yaml.safe_load(DECODE_SMOKE.read_text())
    config["decode"]["dataset"] = str(tmp_path / "jsrt")
    (tmp_path / "jsrt.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "-p", "decode", configfile=tmp_path / "jsrt.yaml")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts.pop("import_landmarks") == 1 and "synth_chest" not in counts
    assert "segpipe import-landmarks --config" in result.stdout and f"--dataset {tmp_path / 'jsrt'}" in result.stdout


def test_decode_smoke_runs_to_a_report_with_both_methods(tmp_path):
    result = snakemake(tmp_path, "--cores", "2", "decode", configfile=DECODE_SMOKE)
    assert result.returncode == 0, result.stderr[-5000:]
    decode = tmp_path / "results" / "decode"
    page = (decode / "report.html").read_text()
    for text in ("<td>HybridGNet</td>", "<td>UNet</td>", "<td>mean shape</td>", "<td>occluded</td>", "<td>indistr</td>",
                 "<h2>Examples</h2>", "betti0_error"):
        assert text in page, text
    assert "data:image/png;base64," in page and "http" not in page
    scores = pd.concat([pd.read_csv(decode / "segmentation" / "runs" / run / "metrics.csv") for run in UNET_RUNS]
                       + [pd.read_csv(decode / "scores" / f"{run}.csv") for run in HYBRIDGNET_RUNS])
    assert set(scores["reference"]) == set(ORGANS) and (scores["label_type"] == scores["reference"]).all()
    assert len(scores) == 6 * 6 and not scores[["dice", "hd95", "betti0_error", "betti1_error"]].isna().any().any()
    hybridgnet = scores[scores["model"] == "hybridgnet"]
    assert (hybridgnet[["betti0_error", "betti1_error"]] == 0).all().all(), "filled rings are one component without holes"
    landmarks = pd.read_csv(decode / "scores" / "landmarks.csv")
    assert set(landmarks["method"]) == {"hybridgnet", "mean_shape"} and len(landmarks) == 2 * 6
    decoded = json.loads((decode / "hybridgnet" / "decoded.json").read_text())
    assert set(decoded["predictions"]) == set(ORGANS) and np.all([(decode / "hybridgnet" / e["landmarks"]).is_file()
                                                                  for e in decoded["cases"]])
    for stage in ("synth_chest", "train_landmarks", "decode", "report", *(f"evaluate/{r}" for r in HYBRIDGNET_RUNS)):
        assert (tmp_path / "results" / "logs" / "decode" / f"{stage}.log").is_file(), stage
    for run in UNET_RUNS:  # trained with the comparison's settings (decode.unet.train), not train
        assert load_model(decode / "segmentation" / "runs" / run / "model.pt")[1].network.channels == (8, 16, 32)
    for stage in ("preprocess", *(f"train/{r}" for r in UNET_RUNS)):
        assert (decode / "segmentation" / "logs" / f"{stage}.log").is_file(), stage

    assert "Nothing to be done" in snakemake(tmp_path, "-n", "decode", configfile=DECODE_SMOKE).stdout
    variant = yaml.safe_load(DECODE_SMOKE.read_text())
    variant["decode"]["unet"]["train"]["iterations"] = 10
    (tmp_path / "variant.yaml").write_text(yaml.safe_dump(variant))
    rerun = snakemake(tmp_path, "-n", "decode", configfile=tmp_path / "variant.yaml")
    assert job_counts(rerun.stdout) == {"decode_train_run": 3, "decode_predict_run": 3, "decode_evaluate_run": 3,
                                        "decode_report": 1, "decode": 1}  # HybridGNet untouched
    assert Path(decode / "report.html").stat().st_size > 0


def test_segmentation_dry_run_plans_and_writes_nothing_of_decode(tmp_path):
    result = snakemake(tmp_path, "-n", "train", configfile=DECODE_SMOKE)
    assert result.returncode == 0, result.stderr
    assert not any(name.startswith("decode") for name in job_counts(result.stdout))
    assert not (tmp_path / "results" / "decode").exists()  # no comparison snapshot either
