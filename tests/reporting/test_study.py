"""The loss study: its preset, TopoMortar-style tables, training costs, and the best model on a real photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import merge
from workflow_helpers import REPO, job_counts, snakemake

from segpipe.cli import main
from segpipe.config import validate_config
from segpipe.errors import InputError
from segpipe.experiments.grid import expand_grid
from segpipe.inference.photo import best_run, load_photo, model_of_run, segment_photo
from segpipe.reporting.context import ReportContext
from segpipe.reporting.sections.examples import shown_runs
from segpipe.reporting.sections.figures import plotted_series
from segpipe.reporting.sections.study import setting_tables, study_frame, training_costs
from segpipe.training.segmentation import train


def _frame(rng: np.random.Generator) -> pd.DataFrame:
    """Metrics of two losses x two seeds on 8 ID and 8 OOD cases; cldice has far fewer Betti errors."""
    rows = []
    for loss in ("dice_ce", "cldice"):
        for seed in (0, 1):
            for case in range(16):
                group = "indistr" if case < 8 else ("colors" if case < 12 else "shadows")
                betti = rng.integers(4, 9) if loss == "dice_ce" else rng.integers(0, 2)
                rows.append({"run_id": f"unet.{loss}.accurate.large.plain.s{seed}", "model": "unet", "loss": loss, "label_type": "accurate",
                             "training_set": "large", "framework": "plain", "seed": seed, "case_id": f"{case:03d}",
                             "split": "test", "group": group, "reference": "accurate", "dice": 0.9 + rng.normal(0, 0.01),
                             "betti0_error": float(betti), "betti1_error": float(betti // 2),
                             "betti_matching0_error": float(betti), "betti_matching1_error": 1.0})
    return pd.DataFrame(rows)


def test_study_preset_is_valid_and_covers_topomortars_study_cases():
    base = yaml.safe_load((REPO / "config.yaml").read_text())  # snakemake merges the preset over config.yaml
    config = validate_config(merge(base, yaml.safe_load((REPO / "config" / "study.yaml").read_text())), source="study")
    runs = expand_grid(config["experiments"], config["train"]["network"]["name"])
    assert len(runs) == 5 * 7 * 3
    assert {(r.label_type, r.training_set, r.framework) for r in runs} >= {
        ("accurate", "large", "plain"), ("accurate", "small", "plain"), ("noisy", "large", "plain"),
        ("pseudo", "large", "plain"), ("accurate", "large", "random_hue"), ("pseudo", "large", "self_distillation"),
        ("noisy", "large", "self_distillation")}
    assert config["preprocess"]["distance_maps"]  # the boundary loss's maps
    gpu = validate_config(merge(merge(base, yaml.safe_load((REPO / "config" / "study.yaml").read_text())),
                                yaml.safe_load((REPO / "config" / "study_gpu.yaml").read_text())), source="study_gpu")
    gpu_runs = expand_grid(gpu["experiments"], "dynunet")
    assert len(gpu_runs) == 10 * 8 * 10 and gpu["dataset"]["synthetic"]["image_size"] == 512
    assert {"topo_loss", "warping", "cbdice", "region_wise"} <= {r.loss for r in gpu_runs} <= set(gpu["losses"])
    assert {r.framework for r in gpu_runs} == {"plain", "random_hue", "self_distillation", "scnp"}


#: TopoMortar's study cases 1-5 (case 2 is case 1's OOD test groups) and 6, 8, 9.
TOPOMORTAR_MAIN_CASES = {("accurate", "large", "plain"), ("accurate", "small", "plain"), ("noisy", "large", "plain"),
                         ("pseudo", "large", "plain")}
TOPOMORTAR_FRAMEWORK_CASES = {("accurate", "large", "random_hue"), ("pseudo", "large", "self_distillation"),
                              ("noisy", "large", "self_distillation")}


def _preset(*names: str) -> dict:
    """config.yaml with the named presets of config/ merged over it, in order, as snakemake merges them."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in names:
        config = merge(config, yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text()))
    return validate_config(config, source=names[-1])


def test_real_topomortar_study_presets_cover_its_study_cases_and_published_results():
    cpu = _preset("topomortar", "study_topomortar")
    runs = expand_grid(cpu["experiments"], cpu["train"]["network"]["name"])
    ideal_only = {"boundary", "cbdice", "topo_loss", "warping", "region_wise", "topo"}
    assert len(runs) == 4 * 4 * 3 + len(ideal_only) * 3  # the boundary loss and TopoMortar's others in the ideal case
    assert {r.loss for r in runs} == {"dice_ce", "cldice", "skeleton_recall", "betti_matching"} | ideal_only
    assert {(r.label_type, r.training_set) for r in runs if r.loss in ideal_only} == {("accurate", "large")}
    assert {(r.label_type, r.training_set, r.framework) for r in runs} == TOPOMORTAR_MAIN_CASES
    assert {r.seed for r in runs} == {0, 1, 2}
    assert cpu["dataset"]["source"] == "directory" and cpu["dataset"]["path"] == "../shared/topomortar/dataset"
    assert cpu["preprocess"]["target_spacing"] == [2.0, 2.0] and cpu["preprocess"]["distance_maps"]
    assert cpu["evaluate"]["label_type"] == "accurate" and {"betti", "dice", "hd95", "cldice"} <= set(cpu["evaluate"]["metrics"])
    assert cpu["results_dir"] == "results/study_topomortar"
    published = cpu["report"]["published_results"]
    assert published == "../shared/topomortar/results"
    gpu = _preset("topomortar", "study_topomortar", "study_topomortar_gpu")
    gpu_runs = expand_grid(gpu["experiments"], gpu["train"]["network"]["name"])
    assert len(gpu_runs) == 10 * 7 * 10 and gpu["train"]["network"]["name"] == "dynunet"
    assert {(r.label_type, r.training_set, r.framework) for r in gpu_runs} == TOPOMORTAR_MAIN_CASES | TOPOMORTAR_FRAMEWORK_CASES
    assert {"dice_ce", "cldice", "skeleton_recall", "cbdice", "topo_loss", "warping", "region_wise", "topo"} <= {r.loss for r in gpu_runs}
    assert gpu["preprocess"]["target_spacing"] is None and gpu["train"]["iterations"] == 12000 and gpu["train"]["batch_size"] == 10
    assert {"local_betti", "betti_matching"} <= set(gpu["evaluate"]["metrics"]) and gpu["results_dir"] != cpu["results_dir"]
    assert gpu["report"]["published_results"] == published
    folders = REPO / published
    if folders.is_dir():  # the shared data sits beside the checkout; every case we run was published
        for label_type, training_set, framework in {(r.label_type, r.training_set, r.framework) for r in gpu_runs}:
            framework_folder = {"plain": "supervised", "random_hue": "randhue", "self_distillation": "selfdistillation"}[framework]
            assert (folders / framework_folder / label_type / training_set / "CEDiceLoss").is_dir()


def test_study_topomortar_target_runs_every_run_of_the_preset(tmp_path):
    dataset = REPO.parent / "shared" / "topomortar" / "dataset"
    if not dataset.is_dir():
        pytest.skip(f"the real TopoMortar data set is not beside the checkout ({dataset})")
    # `make study-topomortar`'s command, run elsewhere (so the preset's relative data path is given absolute)
    result = snakemake(tmp_path, "-n", "study", "--configfile", str(REPO / "config" / "topomortar.yaml"),
                       str(REPO / "config" / "study_topomortar.yaml"), "--config", f"dataset={{source: directory, path: {dataset}}}")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["train_run"] == counts["predict_run"] == counts["evaluate_run"] == 66
    assert counts["preprocess"] == counts["report"] == counts["photo"] == 1 and "data" not in counts  # read in place


def test_setting_tables_pool_ood_and_mark_significant_losses():
    frame = _frame(np.random.default_rng(0))
    pooled = study_frame(frame)
    assert set(pooled["group"]) == {"ID", "OOD"}
    assert np.array_equal(pooled["betti_matching_error"], frame["betti_matching0_error"] + 1.0)
    context = ReportContext(config=validate_config({}), frame=frame)
    (table,) = setting_tables(context).values()
    assert table[["split", "loss"]].values.tolist() == [["ID", "dice_ce"], ["ID", "cldice"], ["OOD", "dice_ce"], ["OOD", "cldice"],
                                                        ["OOD colors", "dice_ce"], ["OOD colors", "cldice"],
                                                        ["OOD shadows", "dice_ce"], ["OOD shadows", "cldice"]]
    shadows = study_frame(frame).query("loss == 'cldice' and group == 'OOD'").groupby("case_id")["dice"].mean().iloc[4:]
    cldice_shadows = table[(table["split"] == "OOD shadows") & (table["loss"] == "cldice")].iloc[0]
    assert cldice_shadows["Dice"].endswith(f"{shadows.mean():.2f} ± {shadows.std(ddof=1):.2f}")  # that group's cases alone
    cldice_id = table[(table["split"] == "ID") & (table["loss"] == "cldice")].iloc[0]
    assert cldice_id["Betti0"].startswith("<b>") and cldice_id["BM error"].startswith("<b>")  # significantly fewer errors
    assert not table[table["loss"] == "dice_ce"]["Betti0"].str.contains("<").any()  # the baseline is never marked
    values = study_frame(frame).query("loss == 'cldice' and group == 'ID'").groupby("case_id")["betti0_error"].mean()
    assert cldice_id["Betti0"] == f"<b>{values.mean():.2f} ± {values.std(ddof=1):.2f}</b>"


def test_training_costs_per_loss(tmp_path):
    for run, seconds, rss in (("unet.dice_ce.accurate.large.plain.s0", 10.0, 500.0), ("unet.dice_ce.accurate.large.plain.s1", 14.0, 520.0),
                              ("unet.cldice.accurate.large.plain.s0", 30.0, 610.0)):
        (tmp_path / f"{run}.tsv").write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:10\t{rss}\n")
    costs = training_costs(sorted(tmp_path.glob("*.tsv")))
    assert costs.loc["dice_ce", "runs"] == 2 and costs.loc["dice_ce", "mean time (s)"] == 12.0
    assert costs.loc["cldice", "peak memory (MB)"] == 610.0 and costs.loc["dice_ce", "peak memory (MB)"] == 520.0
    (tmp_path / "unet.dice_ce.accurate.large.plain.s2.tsv").write_text("not a benchmark\n")
    with pytest.raises(InputError, match="not a Snakemake benchmark file"):
        training_costs(sorted(tmp_path.glob("*.tsv")))
    with pytest.raises(InputError, match="not a Snakemake benchmark file"):
        training_costs([tmp_path / "unet.dice_ce.accurate.large.plain.s9.tsv"])  # missing


def test_best_run_has_fewest_betti_errors_then_highest_dice():
    frame = pd.DataFrame({"run_id": ["a", "a", "b", "b", "c", "c"], "betti0_error": [1, 1, 0, 1, 0, 1],
                          "betti1_error": [0, 0, 0, 0, 0, 0], "dice": [0.9, 0.9, 0.8, 0.8, 0.85, 0.85]})
    assert best_run(frame) == "c"
    with pytest.raises(InputError, match="betti"):
        best_run(frame.drop(columns="betti1_error"))


def test_photo_sources():
    brick = load_photo("skimage:brick")
    assert brick.shape == (3, 512, 512) and brick.min() == 0 and brick.max() == 1
    assert np.array_equal(brick[0], brick[2])  # a grey photo repeated over three channels
    with pytest.raises(InputError, match="no sample image 'nothing'"):
        load_photo("skimage:nothing")
    with pytest.raises(InputError, match="model.pt of run 'x'"):
        model_of_run([Path("runs/y/model.pt")], "x")


def test_photo_command_segments_the_brick_photo_with_the_best_run(tmp_path, dataset_2d, make_config):
    config = make_config({"photo": {"source": "skimage:brick", "scale": 0.1}})
    run = "unet.dice_ce.accurate.large.plain.s0"
    model = train(config, dataset_2d, run, tmp_path / run, show_progress=False)
    result = segment_photo(model, load_photo("skimage:brick"), scale=0.1, rot90=1, threshold=0.5, device="cpu")
    assert result.image.shape == (3, 51, 51) and result.mask.shape == (51, 51)
    metrics = tmp_path / "metrics.csv"
    row = {"run_id": run, "model": "unet", "loss": "dice_ce", "label_type": "accurate", "training_set": "large", "framework": "plain",
           "seed": 0, "case_id": "001", "split": "test", "group": "indistr", "reference": "accurate",
           "dice": 0.5, "betti0_error": 1.0, "betti1_error": 2.0}
    pd.DataFrame([row]).to_csv(metrics, index=False)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    status = main(["photo", "--config", str(tmp_path / "c.yaml"), "--metrics", str(metrics), "--models", str(model),
                   "--out", str(tmp_path / "photo"), "--threads", "1"])
    assert status == 0
    summary = json.loads((tmp_path / "photo" / "photo.json").read_text())
    assert summary["run_id"] == run and summary["betti"] == list(result.betti) and summary["shape"] == [51, 51]
    assert {p.name for p in (tmp_path / "photo").iterdir()} == {"photo.json", "photo.png", "mask.png", "probability.tif"}


def test_study_target_adds_the_photo_and_the_training_costs_to_the_report(tmp_path):
    result = snakemake(tmp_path, "-n", "-p", "study")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["photo"] == 1 and counts["report"] == 1 and counts["study"] == 1
    report = result.stdout.split("segpipe report")[1].split("\n")[0]
    assert "--input train_benchmarks=results/benchmarks/train/unet.dice_ce.accurate.large.plain.s0.tsv" in report
    assert "--input photo=results/photo" in report


def test_large_grids_plot_configurations_or_losses_and_show_one_settings_examples():
    frame = _frame(np.random.default_rng(1))
    few, series, _ = plotted_series(frame, ["dice"])
    assert series == "run_id" and few is frame
    many = pd.concat([frame.assign(run_id=frame["run_id"] + f"x{k}", seed=frame["seed"] + 2 * k) for k in range(4)])
    by_configuration, series, meaning = plotted_series(many, ["dice"])  # 16 runs, 2 configurations
    assert series == "configuration" and set(by_configuration["configuration"]) == {
        "unet.dice_ce.accurate.large.plain", "unet.cldice.accurate.large.plain"} and "averaged over seeds" in meaning
    settings = pd.concat([many.assign(label_type=f"type{k}") for k in range(7)])  # 14 configurations
    assert plotted_series(settings, ["dice"])[1] == "loss"
    runs = [f"unet.{loss}.{label}.large.{framework}.s{seed}" for loss in ("dice_ce", "cldice", "skeleton_recall")
            for label in ("noisy", "accurate") for framework in ("plain", "random_hue") for seed in (0, 1)]
    assert shown_runs(runs) == ["unet.cldice.accurate.large.plain.s0", "unet.dice_ce.accurate.large.plain.s0",
                                "unet.skeleton_recall.accurate.large.plain.s0"]
    assert shown_runs(runs[:4]) == sorted(runs[:4])
