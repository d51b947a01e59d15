"""The workflow on own data: preprocessing follows the data, the dry run checks the configuration against them."""

from __future__ import annotations

import json
import os

import yaml
from own_data import msd_dataset, nifti, volume_and_label
from workflow_helpers import job_counts, snakemake


def _own_config(tmp_path, dataset, **sections):
    config = {"dataset": {"source": "directory", "path": str(dataset)},
              "experiments": {"label_types": ["label"]}, "evaluate": {"label_type": "label"},
              "train": {"patch_size": [8, 8, 8], "network": {"name": "unet", "channels": [4, 8], "strides": [2]}},
              "photo": {"source": None}, **sections}
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_changing_the_data_reruns_preprocessing(tmp_path):
    dataset = msd_dataset(tmp_path / "Dataset001_Toy", n_train=4, n_test=0)
    config = _own_config(tmp_path, dataset)
    first = snakemake(tmp_path, "--cores", "1", "preprocess", configfile=config)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "preprocess", configfile=config).stdout

    image, label = volume_and_label(1)
    label[0, 0, 0] = 1  # fix a label in place
    label_path = dataset / "labelsTr" / "case_001.nii.gz"
    nifti(label_path, label)
    os.utime(label_path, ns=(label_path.stat().st_atime_ns, label_path.stat().st_mtime_ns + 10**9))
    after_label = snakemake(tmp_path, "-n", "preprocess", configfile=config)
    assert job_counts(after_label.stdout) == {"preprocess": 1}, after_label.stdout

    assert snakemake(tmp_path, "--cores", "1", "preprocess", configfile=config).returncode == 0
    document = json.loads((dataset / "dataset.json").read_text())
    document["labels"] = {"background": 0, "tumour": 1}
    (dataset / "dataset.json").write_text(json.dumps(document))
    after_json = snakemake(tmp_path, "-n", "preprocess", configfile=config)
    assert job_counts(after_json.stdout) == {"preprocess": 1}, after_json.stdout


def test_dry_run_lists_every_setting_that_does_not_fit_the_data(tmp_path):
    dataset = msd_dataset(tmp_path / "Dataset001_Toy", n_train=4, n_test=0)
    config = tmp_path / "naive.yaml"  # the brick-wall defaults on a 3D grey data set
    config.write_text(yaml.safe_dump({"dataset": {"source": "directory", "path": str(dataset)}}))
    result = snakemake(tmp_path, "-n", "all", configfile=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'experiments.label_types' names 'accurate'" in output and "they have: label" in output
    assert "'evaluate.label_type' is 'accurate'" in output
    assert "'train.patch_size' is [64, 64] (2-D), but" in output and "is 3-D" in output
    assert "'photo.source' is 'skimage:brick', but the photo step needs a model of 2D RGB images" in output


def test_init_config_writes_a_configuration_the_dry_run_accepts(tmp_path, capsys):
    from segpipe.cli import main

    dataset = msd_dataset(tmp_path / "Dataset003_Two", n_train=5, n_test=1, channels=2, classes=2)
    out = tmp_path / "own.yaml"
    assert main(["init-config", str(dataset), "--out", str(out)]) == 0
    planned = yaml.safe_load(out.read_text())
    assert planned["train"]["patch_size"] == [8, 12, 12] and planned["photo"]["source"] is None
    assert planned["experiments"]["label_types"] == ["label"] and planned["preprocess"]["label_policy"] == "binarise"
    assert "label values found [0, 1, 2]" in out.read_text() and "NOTE: the labels hold several foreground classes" in out.read_text()
    assert main(["init-config", str(dataset), "--out", str(out)]) == 2 and "--force" in capsys.readouterr().err
    assert main(["config", "--quiet", str(out)]) == 0
    result = snakemake(tmp_path, "-n", "all", configfile=out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["preprocess"] == 1 and "photo" not in job_counts(result.stdout)


def test_report_before_all_has_run_says_what_to_run(tmp_path):
    result = snakemake(tmp_path, "--report", "report.zip")
    assert result.returncode != 0
    assert "`snakemake --report` bundles the finished report" in result.stderr
    assert "run the workflow first (`snakemake --cores 2 all`" in result.stderr
