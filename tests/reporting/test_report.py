"""Report: aggregation, sections (statistics, topology, definitions), a self-contained HTML file that a
browser renders with every image, the CSV outputs, added sections, bad inputs."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from segpipe.cli import main
from segpipe.datasets.manifest import Manifest
from segpipe.errors import InputError
from segpipe.evaluation.evaluate import evaluate
from segpipe.inference.predictions import PredictedCase, case_paths, write_index
from segpipe.io.images import read_mask, write_image
from segpipe.reporting import build_report, register_section
from segpipe.reporting.aggregation import load_metrics, summary_table
from segpipe.reporting.registry import SECTIONS as REGISTERED
from segpipe.reporting.sections.examples import choose_examples
from segpipe.reporting.sections.topology import choose_topology_cases, ranking_columns

RUNS = ("unet.dice_ce.accurate.large.plain.s0", "unet.cldice.accurate.large.plain.s0")
SECTIONS = ("Summary", "Data", "Study: one table per setting", "Comparison with the baseline", "Metrics per group", "Training", "Topology of chosen cases",
            "Examples", "Metric definitions", "All results", "Configuration", "Software")


def _predict(reference: np.ndarray, run_index: int, case_index: int) -> tuple[np.ndarray, np.ndarray]:
    """A plausible probability map of ``reference`` (shifted, blurred, one run with a gap) and its mask."""
    shifted = np.roll(reference.astype(float), 1 + run_index, axis=1)
    if run_index == 1 and case_index % 2 == 0:
        shifted[:, shifted.shape[1] // 2] = 0  # a cut: topological errors
    probability = np.clip(ndimage.gaussian_filter(shifted, 1.0), 0.0, 1.0).astype(np.float32)
    return probability > 0.5, probability


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory, dataset_2d):
    """Predictions, real metrics (every metric), and training logs of two runs on the tiny 2D dataset."""
    from helpers import tiny_config

    root = tmp_path_factory.mktemp("runs")
    tests = Manifest.load(dataset_2d).select(split="test")
    outputs = {"metrics": [], "predictions": [], "logs": []}
    for run_index, run_id in enumerate(RUNS):
        run_dir = root / run_id
        written = []
        for case_index, case in enumerate(tests):
            mask, probability = _predict(read_mask(case.labels["accurate"])[0] > 0, run_index, case_index)
            mask_path, probability_path = case_paths(run_dir / "predictions", case.case_id, case.image)
            write_image(mask_path, mask)
            write_image(probability_path, probability)
            written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
        write_index(run_dir / "predictions", run_id, 0.5, written)
        evaluate(tiny_config({"evaluate": {"local_window": 16}}), dataset_2d, run_dir / "predictions", run_dir / "metrics.csv")
        pd.DataFrame({"iteration": [1, 2, 3], "loss": [1.0, 0.8, 0.7], "loss_dice_ce": [1.0, 0.8, 0.7],
                      "lr": [0.01] * 3, "seconds": [0.1] * 3, "val_dice": [None, None, 0.6]}).to_csv(run_dir / "train_log.csv", index=False)
        outputs["metrics"].append(run_dir / "metrics.csv")
        outputs["predictions"].append(run_dir / "predictions")
        outputs["logs"].append(run_dir / "train_log.csv")
    return outputs


@pytest.fixture(scope="module")
def report(tmp_path_factory, dataset_2d, run_outputs):
    """The report of both runs with every input, and the CSVs beside it."""
    from helpers import tiny_config

    out = tmp_path_factory.mktemp("report")
    config = tiny_config({"evaluate": {"local_window": 16, "statistics": {"bootstrap_samples": 500}}})
    build_report(config, run_outputs["metrics"], out / "report.html", manifest_path=dataset_2d,
                 prediction_dirs=run_outputs["predictions"], train_logs=run_outputs["logs"],
                 combined_csv=out / "metrics.csv", summary_csv=out / "summary.csv", tests_csv=out / "tests.csv")
    return out


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


def test_topology_cases_are_the_worst_and_the_median_by_total_betti_error():
    frame = pd.DataFrame({"run_id": ["a", "a", "b", "b", "b"], "case_id": ["1", "2", "1", "2", "3"],
                          "betti0_error": [0, 5, 2, 1, 2], "betti1_error": [1, 0, 2, 0, 0], "betti2_error": 0,
                          "betti_matching0_error": 9, "dice": [0.9, 0.5, 0.6, 0.8, 0.7]})
    columns = ranking_columns(list(frame.columns))
    assert columns == ["betti0_error", "betti1_error", "betti2_error"]
    worst, median = choose_topology_cases(frame, columns, 2)
    assert worst == [("a", "2"), ("b", "1")] and median == ("b", "3")  # totals 5, 4, 2, 1, 1; ties by lower Dice
    assert ranking_columns(["dice", "betti_matching1_error"]) == ["betti_matching1_error"] and ranking_columns(["dice"]) == []


def test_report_is_one_self_contained_file_with_every_section(report, run_outputs):
    page = (report / "report.html").read_text()
    assert re.findall(r"<h2>(.*?)</h2>", page) == list(SECTIONS)
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    assert page.count('alt="barcode and diagram"') == 2 and page.count('alt="topological errors"') == 3
    assert page.count('alt="case ') == 4 and page.count('alt="training curves"') == 1
    assert all(run in page for run in RUNS) and "indistr" in page and "shadows" in page
    assert "monai" in page and "gudhi" in page and "POT" in page and "local_window: 16" in page


def test_report_states_statistics_rules_and_connectivity(report):
    page = (report / "report.html").read_text()
    assert "percentile bootstrap intervals (500 resamples" in page and "Holm-adjusted" in page
    assert "foreground connectivity 8 in 2D and 26 in 3D (background 4 and 6" in page
    assert "the image diagonal in physical units when exactly one is" in page  # HD95/ASSD rule
    assert "an empty label has an empty diagram" in page and "closed at 0" in page
    assert "Left out because they are 0 in every case: " in page and "betti2_error" in page


def test_report_tables_behind_it(report):
    metrics = pd.read_csv(report / "metrics.csv", dtype={"case_id": str})
    assert len(metrics) == 8 and set(metrics["run_id"]) == set(RUNS) and not metrics.isna().any().any()
    summary = pd.read_csv(report / "summary.csv")
    dice = summary[(summary["metric"] == "dice") & (summary["loss"] == "cldice")].set_index("group")
    cases = metrics[metrics["loss"] == "cldice"].groupby("group")["dice"].mean()
    assert dice["mean"].to_dict() == pytest.approx(cases.to_dict()) and set(dice["cases"]) == {2}
    assert (summary["ci_low"] <= summary["mean"] + 1e-12).all() and "betti2_error" not in set(summary["metric"])
    tests = pd.read_csv(report / "tests.csv")
    assert set(tests["loss"]) == {"cldice"} and set(tests["pairs"]) == {2} and (tests["p_value"] >= 0.5).all()
    assert set(tests["verdict"]) == {"n.s."}  # two pairs cannot be significant: the smallest exact p is 1/2
    assert "betti1_prediction" not in set(tests["metric"])  # descriptive columns are not tested


def test_every_image_of_the_report_loads_in_a_browser(report, tmp_path):
    """Headless Chromium renders the page; every <img> must have decoded (naturalWidth > 0)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; scripts/install_system_packages.sh)")
    probe = ("<script>window.addEventListener('load', () => { const p = document.createElement('pre'); p.id = 'widths'; "
             "p.textContent = JSON.stringify(Array.from(document.images).map(i => i.naturalWidth)); "
             "document.body.appendChild(p); });</script>")
    page = tmp_path / "probe.html"
    page.write_text((report / "report.html").read_text().replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (widths,) = re.findall(r'<pre id="widths">(.*?)</pre>', result.stdout)
    widths = json.loads(widths)
    assert len(widths) == (report / "report.html").read_text().count("<img") > 10
    assert all(width > 100 for width in widths), widths


def test_a_registered_section_is_rendered_in_order_with_its_inputs(tmp_path, run_outputs, config_file):
    seen = {}

    @register_section("Added by another stage", order=65)
    def added(context):
        seen["inputs"] = context.inputs
        return "<p>added body</p>" if context.inputs.get("extra") else None

    try:
        status = main(["report", "--config", str(config_file()), "--metrics", *map(str, run_outputs["metrics"]),
                       "--input", f"extra={tmp_path}", "--out", str(tmp_path / "r.html")])
        page = (tmp_path / "r.html").read_text()
        titles = re.findall(r"<h2>(.*?)</h2>", page)
        assert status == 0 and titles.index("Added by another stage") == titles.index("Metric definitions") - 1
        assert "<p>added body</p>" in page and seen["inputs"] == {"extra": [tmp_path]}
        with pytest.raises(ValueError, match="registered twice"):
            register_section("Added by another stage", order=1)(added)
    finally:
        REGISTERED.unregister("added_by_another_stage")


def test_report_cli_without_predictions_leaves_their_sections_out(tmp_path, run_outputs, config_file):
    status = main(["report", "--config", str(config_file()), "--metrics", *map(str, run_outputs["metrics"]),
                   "--out", str(tmp_path / "r.html")])
    page = (tmp_path / "r.html").read_text()
    assert status == 0 and "<h2>Examples</h2>" not in page and "<h2>Topology of chosen cases</h2>" not in page
    assert "<h2>Summary</h2>" in page and "<h2>Comparison with the baseline</h2>" in page


def test_single_loss_report_explains_why_there_are_no_tests(tmp_path, run_outputs, make_config):
    build_report(make_config(), run_outputs["metrics"][:1], tmp_path / "r.html")
    text = html.unescape((tmp_path / "r.html").read_text())
    assert "No tests: no configuration has a baseline to compare with (losses run: dice_ce; baseline: 'dice_ce')" in text


def test_bad_inputs_are_clear_errors(tmp_path, run_outputs, config_file, capsys):
    with pytest.raises(InputError, match="metrics file not found"):
        load_metrics([tmp_path / "missing.csv"])
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    status = main(["report", "--config", str(config_file()), "--metrics", str(tmp_path / "other.csv"),
                   "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and "missing column(s) run_id" in err and not (tmp_path / "r.html").exists()
    status = main(["report", "--config", str(config_file()), "--metrics", *map(str, run_outputs["metrics"]),
                   "--input", "no-equals-sign", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and "is not NAME=PATH" in err and "Traceback" not in err
