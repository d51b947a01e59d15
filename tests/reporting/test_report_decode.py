"""The decode report: both methods per organ and group, landmark errors, overlays; bad inputs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import yaml

from segpipe.cli import main
from segpipe.config import validate_config
from segpipe.datasets.landmarks import read_landmark_dataset
from segpipe.datasets.synthetic.chest import ChestSynthConfig, generate_chest_dataset
from segpipe.evaluation.evaluate import evaluate
from segpipe.evaluation.landmarks import COLUMNS
from segpipe.experiments.decode_comparison import compared_runs, comparison_config
from segpipe.inference.decode import INDEX_FILE
from segpipe.inference.predictions import PredictedCase, case_paths, write_index
from segpipe.io.atomic import write_json
from segpipe.io.images import read_mask, write_image
from segpipe.networks.graph import default_template
from segpipe.preprocessing.preprocess import preprocess_dataset
from segpipe.reporting import build_report
from segpipe.reporting.aggregation import load_metrics, metric_columns
from segpipe.reporting.sections.decode import choose_cases, mask_table


class _Tables(HTMLParser):
    """The tables of an HTML page as data frames (header row, then text cells)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None

    @classmethod
    def read(cls, page):
        parser = cls()
        parser.feed(page)
        return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in parser.tables]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Scores, predictions and decoded landmarks of both methods on tiny chest data.

    HybridGNet's masks are the references; the UNet's are too, plus three specks on every occluded
    case (three spurious components each).
    """
    root = tmp_path_factory.mktemp("decode_report")
    generate_chest_dataset(root / "data", default_template(), ChestSynthConfig(image_size=32, n_train=2, n_val=1, n_test=2))
    manifest = root / "preprocessed" / "manifest.json"
    preprocess_dataset(root / "data", manifest.parent)
    dataset = read_landmark_dataset(root / "data")
    config = validate_config({"report": {"examples": 1}})
    derived = comparison_config(config, dataset=root / "data")
    tests = dataset.manifest.select(split="test")
    metrics, predictions = [], []
    for run in compared_runs(config):
        directory = root / run.run_id
        written = []
        for case in tests:
            mask = read_mask(case.labels[run.organ])[0] > 0
            if run.method == "unet" and case.group == "occluded":
                mask[0, 0] = mask[0, -1] = mask[-1, 0] = True
            mask_path, probability_path = case_paths(directory, case.case_id, case.image)
            write_image(mask_path, mask)
            write_image(probability_path, mask.astype(np.float32))
            written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
        write_index(directory, run.run_id, 0.5, written)
        metrics.append(evaluate(derived, manifest, directory, root / f"{run.run_id}.csv"))
        predictions.append(directory)
    files = {case.case_id: case.files["landmarks"] for case in tests}
    write_json(root / "decoded" / INDEX_FILE, {"model": "unused", "template": dataset.template.to_dict(), "predictions": {},
                                               "cases": [{"case_id": k, "landmarks": v} for k, v in files.items()]})
    rows = [{"case_id": c.case_id, "group": c.group, "method": m, "mse_px2": e, "mean_distance_px": e ** 0.5}
            for c in tests for m, e in (("hybridgnet", 1.0), ("mean_shape", 16.0))]
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(root / "landmarks.csv", index=False)
    return {"root": root, "config": config, "metrics": metrics, "predictions": predictions, "manifest": manifest}


def test_report_shows_both_methods_per_organ_and_group(inputs, tmp_path):
    out = build_report(inputs["config"], inputs["metrics"], tmp_path / "r.html", manifest_path=inputs["manifest"],
                       prediction_dirs=inputs["predictions"], profile="decode",
                       inputs={"landmarks": [inputs["root"] / "landmarks.csv"], "decoded": [inputs["root"] / "decoded"]})
    page = out.read_text()
    masks, landmarks = _Tables.read(page)[:2]
    assert set(masks["method"]) == {"HybridGNet", "UNet"} and set(masks["group"]) == {"indistr", "occluded"}
    assert set(masks["organ"]) == {"right_lung", "left_lung", "heart"} and len(masks) == 12
    assert masks[["group", "organ", "method"]].iloc[:2].values.tolist() == [["indistr", "right_lung", "HybridGNet"],
                                                                             ["indistr", "right_lung", "UNet"]]
    spurious = masks[(masks["method"] == "UNet") & (masks["group"] == "occluded")]["betti0_error"]
    assert spurious.str.startswith("3.000 ±").all()
    assert (masks[masks["method"] == "HybridGNet"]["betti0_error"] == "0.000 ± 0.000").all()
    assert landmarks[["group", "method", "n"]].values.tolist() == [["indistr", "HybridGNet", "2"], ["indistr", "mean shape", "2"],
                                                                   ["occluded", "HybridGNet", "2"], ["occluded", "mean shape", "2"]]
    assert (landmarks["MSE (px^2)"] == ["1.00 ± 0.00", "16.00 ± 0.00"] * 2).all()
    assert re.findall(r"<h2>(.*?)</h2>", page) == ["Masks", "Landmarks", "Metrics per group", "Examples", "Configuration",
                                                   "Software"]
    plotted = metric_columns(load_metrics(inputs["metrics"]))
    assert len(re.findall(r'src="data:image/png;base64,', page)) == len(plotted) + 2  # a plot per metric, a case per group
    assert "http" not in page


def test_examples_are_the_cases_where_the_methods_differ_most():
    frame = pd.DataFrame({
        "case_id": ["a", "a", "b", "b", "c", "c"], "group": ["g"] * 4 + ["indistr"] * 2,
        "method": ["HybridGNet", "UNet"] * 3, "dice": [0.9, 0.85, 0.9, 0.3, 0.8, 0.8],
    })
    assert choose_cases(frame, 1) == ["c", "b"]  # in-distribution first
    assert choose_cases(frame, 2) == ["c", "b", "a"]
    assert choose_cases(frame[frame["method"] == "UNet"], 1) == ["c", "b"]  # one method: its worst
    assert choose_cases(frame, 0) == []


def test_mask_table_orders_groups_organs_and_methods():
    frame = pd.DataFrame({"run_id": ["u.h", "h.h", "u.l", "h.l"] * 2, "group": ["occluded"] * 4 + ["indistr"] * 4,
                          "organ": ["heart", "heart", "lung", "lung"] * 2, "method": ["UNet", "HybridGNet"] * 4,
                          "dice": np.linspace(0.5, 0.9, 8)})
    table = mask_table(frame, ["dice"])
    assert table[["group", "organ", "method"]].values.tolist() == [
        ["indistr", "heart", "HybridGNet"], ["indistr", "heart", "UNet"], ["indistr", "lung", "HybridGNet"],
        ["indistr", "lung", "UNet"], ["occluded", "heart", "HybridGNet"], ["occluded", "heart", "UNet"],
        ["occluded", "lung", "HybridGNet"], ["occluded", "lung", "UNet"]]


def test_cli_and_bad_landmark_scores(inputs, tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"report": {"examples": 0}}))
    common = ["report", "--profile", "decode", "--config", str(config), "--metrics", *map(str, inputs["metrics"]),
              "--out", str(tmp_path / "r.html")]
    assert main([*common, "--input", f"landmarks={inputs['root'] / 'landmarks.csv'}"]) == 0
    assert "<h2>Examples</h2>" not in (tmp_path / "r.html").read_text()
    (tmp_path / "bad.csv").write_text("case_id,score\na,1\n")
    assert main([*common, "--input", f"landmarks={tmp_path / 'bad.csv'}"]) == 2
    err = capsys.readouterr().err
    assert "expected columns case_id, group, method" in err and "Traceback" not in err
    assert main([*common, "--input", f"landmarks={tmp_path / 'missing.csv'}"]) == 2
    assert "run `segpipe evaluate-decode`" in capsys.readouterr().err
