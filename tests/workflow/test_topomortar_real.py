"""The real TopoMortar data set (../shared/topomortar): read in place, binarised, scored as its authors did.

CI always has the data beside the project; elsewhere these tests skip with the reason.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from workflow_helpers import REPO, job_counts, snakemake

from segpipe.datasets.layout import read_dataset
from segpipe.io.images import read_image, read_mask
from segpipe.topology import betti_numbers

#: A handful of real images: training (with noisy and pseudo labels), validation, and test images of
#: the in-distribution group, of two out-of-distribution groups, and 163 (a label with six pixels of 8).
SUBSET = {"train": ["001", "002", "003", "004"], "val": ["051", "052"], "test": ["071", "072", "163", "171"]}


def subset_dataset(topomortar: Path, destination: Path) -> Path:
    """A TopoMortar-layout directory of symbolic links to :data:`SUBSET` of the real files (nothing copied)."""
    source = topomortar / "dataset"
    root = destination / "dataset"
    types = dict(csv.reader((source / "dataset_types.txt").open()))
    for split, ids in SUBSET.items():
        for kind in ("images", "accurate", "noisy", "pseudo"):
            if not (source / split / kind).is_dir():
                continue
            (root / split / kind).mkdir(parents=True)
            for case_id in ids:
                os.symlink(source / split / kind / f"{case_id}.png", root / split / kind / f"{case_id}.png")
    for name, small in (("splits.yaml", False), ("splits_small.yaml", True)):
        splits = {split: [f"dataset/{split}/images/{i}.png" for i in ids if not (small and split == "train" and i > "002")]
                  for split, ids in SUBSET.items()}
        (root / name).write_text(yaml.safe_dump({1: splits}))
    (root / "dataset_types.txt").write_text(
        "ID,group\n" + "".join(f"{i},{types[i]}\n" for ids in SUBSET.values() for i in ids))
    return root


def test_segpipe_betti_numbers_of_the_real_test_labels_equal_the_published_ones(topomortar):
    """With the preset's label threshold; with ``> 0`` the six pixels of value 8 of 163 add a component."""
    threshold = yaml.safe_load((REPO / "config" / "topomortar.yaml").read_text())["preprocess"]["label_threshold"]
    published = {row["ID"]: (int(row["Betti0"]), int(row["Betti1"]))
                 for row in csv.DictReader((topomortar / "dataset" / "betti_numbers.csv").open())}
    assert len(published) == 350
    for case_id, expected in published.items():
        label = read_mask(topomortar / "dataset" / "test" / "accurate" / f"{case_id}.png")[0]
        assert tuple(betti_numbers(label > threshold)) == expected, case_id
        if case_id == "163":
            assert tuple(betti_numbers(label > 0)) == (expected[0] + 1, expected[1])


def test_real_layout_is_read_in_place(topomortar):
    manifest = read_dataset(topomortar / "dataset")
    assert len(manifest.cases) == 420 and manifest.channels == 3 and manifest.dimensions == 2
    counts = pd.Series([c.group for c in manifest.cases if c.split == "test"]).value_counts()
    assert counts.to_dict() == {group: 50 for group in
                                ("indistr", "angles", "colors", "graffiti", "objects", "shadows", "occlusion")}
    assert len(manifest.training_cases("small")) == 10
    assert set(manifest.case("001").labels) == {"accurate", "noisy", "pseudo"} and set(manifest.case("071").labels) == {"accurate"}


def test_preset_runs_end_to_end_on_real_images(topomortar, tmp_path):
    """The real-data preset on a handful of real images, a few iterations: every stage, scored at 512 px."""
    dataset = subset_dataset(topomortar, tmp_path)
    overrides = {
        "results_dir": "results", "dataset": {"path": str(dataset)},
        "train": {"iterations": 4, "batch_size": 2, "validate_every": None, "checkpoint_every": 2},
        "experiments": {"losses": ["dice_ce", "betti_matching"]},
    }
    (tmp_path / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    result = snakemake(tmp_path, "--cores", "2", "all", "--configfile", str(REPO / "config" / "topomortar.yaml"),
                       str(tmp_path / "overrides.yaml"), configfile=REPO / "config" / "topomortar.yaml", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr)["train_run"] == 2

    results = tmp_path / "results"
    fingerprint = json.loads((results / "preprocessed" / "fingerprint.json").read_text())
    assert fingerprint["target_spacing"] is None and fingerprint["shapes"]["median"] == [512, 512]  # native grid
    (binarised,) = fingerprint["binarised_labels"]  # test/accurate/163.png: six pixels of value 8, background
    assert binarised["file"].endswith("test/accurate/163.png")
    assert binarised["voxels_not_binary"] == 6 and binarised["to_foreground"] == 0
    assert "163.png" in (results / "logs" / "preprocess.log").read_text()
    report = (results / "report.html").read_text()
    assert "163.png" in report and "label_policy" in report

    metrics = pd.read_csv(results / "metrics.csv")
    assert sorted(metrics["case_id"].astype(str).str.zfill(3).unique()) == SUBSET["test"]
    assert {"dice", "hd95", "betti0_error", "betti1_error", "betti_matching1_error"} <= set(metrics.columns)
    assert metrics[["dice", "betti0_error"]].notna().all().all()
    mask = read_image(next((results / "runs").glob("unet.dice_ce.*/predictions/071_mask.png"))).array
    assert mask.shape[1:] == (512, 512) and set(np.unique(mask)) <= {0, 255}  # scored on the original grid
