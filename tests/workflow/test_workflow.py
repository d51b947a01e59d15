"""The Snakemake workflow: the DAG of every target, and a whole run of the smoke configuration."""

from __future__ import annotations

import pandas as pd
import yaml
from workflow_helpers import SMOKE, job_counts, snakemake

from segpipe.config import config_snapshot_path

SMOKE_RUNS = ("unet.dice_ce.accurate.large.plain.s0",)


def test_dry_run_of_all_lists_every_stage(tmp_path):
    result = snakemake(tmp_path, "-n", "-p", "all")
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout) == {"data": 1, "preprocess": 1, "train_run": 1, "predict_run": 1,
                                         "evaluate_run": 1, "photo": 1, "report": 1, "all": 1}
    (snapshot,) = (tmp_path / "results" / "configs").iterdir()
    for run in SMOKE_RUNS:
        assert f"segpipe train --config {snapshot.relative_to(tmp_path)} --manifest results/preprocessed/manifest.json --run {run}" in result.stdout
    config = yaml.safe_load(snapshot.read_text())
    assert config["train"]["iterations"] == 20 and config["train"]["foreground_oversampling"] == 0.33  # defaults filled
    assert config_snapshot_path(tmp_path / "results" / "configs", config) == snapshot  # content-addressed


def test_snapshot_of_a_running_workflow_is_never_rewritten(tmp_path):
    first = snakemake(tmp_path, "-n", "all")
    (snapshot,) = (tmp_path / "results" / "configs").iterdir()
    text = snapshot.read_text()
    second = snakemake(tmp_path, "-n", "all", "--config", "results_dir=results")  # same settings: same snapshot
    variant = yaml.safe_load(SMOKE.read_text()) | {"report": {"examples": 1}}
    (tmp_path / "variant.yaml").write_text(yaml.safe_dump(variant))
    other = snakemake(tmp_path, "-n", "all", configfile=tmp_path / "variant.yaml")
    assert first.returncode == second.returncode == other.returncode == 0
    assert snapshot.read_text() == text and len(list((tmp_path / "results" / "configs").iterdir())) == 2


def test_every_stage_is_a_target(tmp_path):
    listed = snakemake(tmp_path, "--list-target-rules")
    assert listed.returncode == 0, listed.stderr
    targets = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert {"data", "preprocess", "train", "predict", "evaluate", "report", "all"} <= targets
    result = snakemake(tmp_path, "-n", "train")
    assert job_counts(result.stdout) == {"data": 1, "preprocess": 1, "train_run": 1, "train": 1}


def test_directory_dataset_has_no_data_rule(tmp_path):
    from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset

    spec = MortarSpec(image_size=32, n_train=2, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=0)
    dataset = generate_mortar_dataset(spec, tmp_path / "my_dataset")  # the dry run reads it (label types, dimension)
    config = tmp_path / "directory.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"source": "directory", "path": str(dataset)},
                                      "experiments": {"seeds": [0, 1]}}))
    result = snakemake(tmp_path, "-n", "-p", "all", configfile=config)
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert "data" not in counts and counts["preprocess"] == 1 and counts["train_run"] == counts["predict_run"] == 2
    assert f"--dataset {dataset}" in result.stdout


def test_invalid_configuration_is_reported(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"train": {"iterations": 0, "optimiser": "adam"}}))
    result = snakemake(tmp_path, "-n", "-p", "all", configfile=config)
    assert result.returncode != 0
    assert "unknown key 'optimiser' in 'train'" in result.stderr + result.stdout


def test_dry_run_rejects_what_training_rejects(tmp_path):
    # Issue 18.9: a schedule ending before it begins and more strides than channels allow were
    # accepted by `snakemake -n`; training failed on them only after preprocessing.
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({
        "losses": {"late": {"terms": [{"name": "dice_ce", "weight": {"start": 1, "end": 0, "begin": 0.6, "until": 0.4}}]}},
        "train": {"network": {"channels": [8, 16], "strides": [2, 2, 2]}},
    }))
    result = snakemake(tmp_path, "-n", "-p", "all", configfile=config)
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "'losses.late.terms[0].weight.until' (0.4) must be greater than" in output
    assert "'train.network.strides' has 3 values but 'train.network.channels' has 2" in output


def test_smoke_workflow_runs_to_a_report_and_reruns_only_what_changed(tmp_path):
    result = snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    html = (results / "report.html").read_text()
    assert "<h2>Examples</h2>" in html and "data:image/png;base64," in html and "http" not in html.replace("http://json", "")
    metrics = pd.read_csv(results / "metrics.csv")
    assert set(metrics["run_id"]) == set(SMOKE_RUNS) and not metrics.isna().any().any()
    assert {"cldice", "assd", "nsd", "betti1_error", "local_betti1_error", "betti_matching1_error", "wasserstein1"} <= set(metrics)
    assert (results / "summary.csv").is_file() and (results / "tests.csv").is_file()
    assert "<h2>Topology of chosen cases</h2>" in html and "<h2>Metric definitions</h2>" in html
    assert "<h2>Real photo</h2>" in html and "<h2>Training cost per loss</h2>" in html
    snakemake_report = snakemake(tmp_path, "--report", "results/snakemake_report.html")
    assert snakemake_report.returncode == 0, snakemake_report.stderr[-3000:]
    bundled = (results / "snakemake_report.html").read_text()
    assert all(name in bundled for name in ("report.html", "metrics.csv", "summary.csv", "tests.csv"))
    assert set(metrics["group"]) == {"indistr", "angles", "colors", "graffiti", "objects", "occlusion", "shadows"}
    for stage in ("data", "preprocess", "photo", "report", *(f"{s}/{run}" for s in ("train", "predict", "evaluate") for run in SMOKE_RUNS)):
        assert (results / "logs" / f"{stage}.log").is_file() and (results / "benchmarks" / f"{stage}.tsv").is_file()
    for run in SMOKE_RUNS:
        assert not (results / "runs" / run / "checkpoints").exists()

    assert "Nothing to be done" in snakemake(tmp_path, "-n", "all").stdout
    variant = yaml.safe_load(SMOKE.read_text()) | {"predict": {"device": "cpu", "threshold": 0.4}}
    (tmp_path / "variant.yaml").write_text(yaml.safe_dump(variant, sort_keys=True))  # keys reordered too
    rerun = snakemake(tmp_path, "-n", "all", configfile=tmp_path / "variant.yaml")
    assert job_counts(rerun.stdout) == {"predict_run": 1, "evaluate_run": 1, "photo": 1, "report": 1, "all": 1}  # params
    smoke = yaml.safe_load(SMOKE.read_text())
    for change, expected in (({"statistics": {"bootstrap_samples": 500}}, {"report": 1, "all": 1}),
                             ({"surface_tolerance": 2.0}, {"evaluate_run": 1, "photo": 1, "report": 1, "all": 1})):
        (tmp_path / "variant.yaml").write_text(yaml.safe_dump(smoke | {"evaluate": change}))
        rerun = snakemake(tmp_path, "-n", "all", configfile=tmp_path / "variant.yaml")
        assert job_counts(rerun.stdout) == expected, change
