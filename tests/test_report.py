"""Report: aggregation, a self-contained HTML file, the combined metrics CSV, bad inputs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from segpipe.cli import main
from segpipe.data.manifest import Manifest
from segpipe.errors import InputError
from segpipe.evaluate import ID_COLUMNS
from segpipe.io import read_mask, write_image
from segpipe.predictions import PredictedCase, case_paths, write_index
from segpipe.report import build_report
from segpipe.report.aggregation import load_metrics, summary_table
from segpipe.report.build import choose_examples

RUNS = ("dicece.accurate.large.plain.s0", "dice.accurate.large.plain.s0")


def _metrics_frame(run_id, cases, rng):
    rows = []
    for case in cases:
        rows.append({"run_id": run_id, "loss": run_id.split(".")[0], "label_type": "accurate", "training_set": "large",
                     "framework": "plain", "seed": 0, "case_id": case.case_id, "split": case.split, "group": case.group,
                     "reference": "accurate", "dice": rng.uniform(0.5, 1.0), "hd95": rng.uniform(0, 10)})
    return pd.DataFrame(rows, columns=[*ID_COLUMNS, "dice", "hd95"])


@pytest.fixture
def run_outputs(tmp_path, dataset_2d):
    """Metrics CSVs, predictions and training logs of two runs on the tiny 2D dataset."""
    rng = np.random.default_rng(0)
    tests = Manifest.load(dataset_2d).select(split="test")
    outputs = {"metrics": [], "predictions": [], "logs": []}
    for run_id in RUNS:
        run_dir = tmp_path / "runs" / run_id
        run_dir.mkdir(parents=True)
        _metrics_frame(run_id, tests, rng).to_csv(run_dir / "metrics.csv", index=False)
        written = []
        for case in tests:
            mask_path, probability_path = case_paths(run_dir / "predictions", case.case_id, case.image)
            mask = np.roll(read_mask(case.labels["accurate"])[0] > 0, 2, axis=1)
            write_image(mask_path, mask)
            write_image(probability_path, mask.astype(np.float32))
            written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
        write_index(run_dir / "predictions", run_id, 0.5, written)
        pd.DataFrame({"iteration": [1, 2, 3], "loss": [1.0, 0.8, 0.7], "loss_dicece": [1.0, 0.8, 0.7],
                      "lr": [0.01] * 3, "seconds": [0.1] * 3, "val_dice": [None, None, 0.6]}).to_csv(run_dir / "train_log.csv", index=False)
        outputs["metrics"].append(run_dir / "metrics.csv")
        outputs["predictions"].append(run_dir / "predictions")
        outputs["logs"].append(run_dir / "train_log.csv")
    return outputs


def test_summary_table_is_mean_and_sd_per_run_and_group():
    frame = pd.DataFrame({"run_id": ["a"] * 4 + ["b"], "group": ["shadows", "indistr", "indistr", "indistr", "indistr"],
                          "dice": [0.5, 0.2, 0.4, 0.9, 1.0]})
    table = summary_table(frame, ["dice"])
    assert table[["run", "group", "n"]].values.tolist() == [["a", "indistr", 3], ["a", "shadows", 1], ["b", "indistr", 1]]
    assert table["dice"].tolist() == [f"{np.mean([0.2, 0.4, 0.9]):.3f} ± {np.std([0.2, 0.4, 0.9], ddof=1):.3f}",
                                      "0.500 ± 0.000", "1.000 ± 0.000"]


def test_examples_spread_over_groups():
    frame = pd.DataFrame({"run_id": "r", "case_id": [f"{i:03d}" for i in range(6)],
                          "group": ["indistr"] * 3 + ["shadows"] * 3, "dice": [0.1, 0.5, 0.9, 0.3, 0.2, 0.8]})
    assert choose_examples(frame, 3) == ["001", "003", "000"]  # median of each group, then the worst
    assert choose_examples(frame, 0) == []


def test_report_is_one_self_contained_file(tmp_path, dataset_2d, run_outputs, make_config):
    out = build_report(make_config(), run_outputs["metrics"], tmp_path / "report.html", manifest_path=dataset_2d,
                       prediction_dirs=run_outputs["predictions"], train_logs=run_outputs["logs"],
                       combined_csv=tmp_path / "metrics.csv")
    html = out.read_text()
    for heading in ("Summary", "Metrics per group", "Training", "Examples", "Configuration", "Software"):
        assert f"<h2>{heading}</h2>" in html
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "http://" not in html and "https://" not in html and "<script" not in html and "<link" not in html
    assert len(sources) == 2 + 1 + 4  # two metric plots, training curves, four examples
    assert all(run in html for run in RUNS) and "indistr" in html and "shadows" in html
    assert "monai" in html and "torch" in html and "label_type: accurate" in html
    combined = pd.read_csv(tmp_path / "metrics.csv", dtype={"case_id": str})
    assert len(combined) == 8 and set(combined["run_id"]) == set(RUNS)


def test_report_cli_without_examples(tmp_path, run_outputs, config_file):
    status = main(["report", "--config", str(config_file()), "--metrics", *map(str, run_outputs["metrics"]),
                   "--out", str(tmp_path / "r.html")])
    html = (tmp_path / "r.html").read_text()
    assert status == 0 and "<h2>Examples</h2>" not in html and "<h2>Summary</h2>" in html


def test_bad_metrics_files_are_clear_errors(tmp_path, config_file, capsys):
    with pytest.raises(InputError, match="metrics file not found"):
        load_metrics([tmp_path / "missing.csv"])
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    status = main(["report", "--config", str(config_file()), "--metrics", str(tmp_path / "other.csv"),
                   "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and "missing column(s) run_id" in err and not (tmp_path / "r.html").exists()
