"""Workflows through the SLURM profile on a real one-node SLURM cluster on localhost.

A toy workflow (tests/slurm_workflow) checks resources, the jobs' environment, a failing job and a
re-run; the real segpipe workflow on the smoke configuration checks the same for the project's rules,
with two-process training and a job that fails at run time.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (scripts/install_system_packages.sh);
skipped otherwise. The session fixture starts the cluster with scripts/slurm_local_cluster.sh unless
one already runs, and stops it afterwards only if it started it (docs/SLURM.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from slurm_cluster import REPO, LocalCluster, run_snakemake, unavailable_reason

import segpipe

pytestmark = pytest.mark.slurm

TEST_WORKFLOW = Path(__file__).parents[1] / "slurm_workflow" / "Snakefile"
ACCOUNT = "segpipe-test"
#: Snakemake announces every job it starts with "rule NAME:" (or "localrule NAME:").
JOB_ANNOUNCEMENT = re.compile(r"^(?:local)?rule (\w+):$", re.MULTILINE)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[LocalCluster]:
    """The running local cluster; skips the test when it cannot be started here."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with LocalCluster() as cluster:
        yield cluster


def submission_options(cluster: LocalCluster) -> tuple[str, ...]:
    """Partition and account as a cluster user gives them (docs/SLURM.md)."""
    return ("--default-resources", f"slurm_partition={cluster.partition}", f"slurm_account={ACCOUNT}")


def scontrol_fields(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol show job --oneliner`` line."""
    return dict(token.split("=", 1) for token in line.split() if "=" in token)


def test_failing_job_is_reported_and_rerun_keeps_finished_jobs(slurm_cluster: LocalCluster,
                                                              tmp_path: Path) -> None:
    options = submission_options(slurm_cluster)
    flag = tmp_path / "fail.flag"
    flag.touch()
    # --keep-going: the jobs independent of the failing one finish whatever the node's size.
    failed = run_snakemake(tmp_path, TEST_WORKFLOW, "--keep-going", *options)
    assert failed.returncode != 0, failed.stdout
    assert "Error in rule flaky" in failed.stdout, failed.stdout
    assert "failing on purpose" in failed.stdout, "the failed job's log is not shown"
    assert not (tmp_path / "flaky.txt").exists()
    finished = ("version.txt", "probe.json")
    mtimes = {name: (tmp_path / name).stat().st_mtime_ns for name in finished}

    # What SLURM granted the probe job: threads, mem_mb, runtime, gpu, partition and account.
    probe = json.loads((tmp_path / "probe.json").read_text())
    job = scontrol_fields(probe["scontrol"])
    assert job["CPUs/Task"] == "2", job                      # threads: 2
    assert job["MinMemoryNode"] == "300M", job               # mem_mb=300
    assert job["TimeLimit"] == "00:03:00", job               # runtime=3 (minutes)
    assert job["TresPerJob"] == "gres:gpu:1", job            # gpu=1
    assert job["Partition"] == slurm_cluster.partition, job
    assert job["Account"] == ACCOUNT, job
    assert Path(job["WorkDir"]) == tmp_path, job
    # The job ran with the submitting interpreter and environment.
    assert probe["python"] == sys.executable
    assert probe["segpipe"] == str(Path(sys.executable).parent / "segpipe")
    assert probe["virtual_env"] == sys.prefix
    assert (tmp_path / "version.txt").read_text().strip() == f"segpipe {segpipe.__version__}"

    flag.unlink()
    rerun = run_snakemake(tmp_path, TEST_WORKFLOW, *options)
    assert rerun.returncode == 0, rerun.stdout
    assert set(JOB_ANNOUNCEMENT.findall(rerun.stdout)) == {"flaky", "summary", "all"}, rerun.stdout
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in finished} == mtimes
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == {"segpipe_version": f"segpipe {segpipe.__version__}", "python": sys.executable}

    up_to_date = run_snakemake(tmp_path, TEST_WORKFLOW, "--dry-run", *options, timeout_s=120)
    assert up_to_date.returncode == 0, up_to_date.stdout
    assert "Nothing to be done" in up_to_date.stdout, up_to_date.stdout


SMOKE = REPO / "tests" / "configs" / "smoke.yaml"
SMOKE_RUN = "unet.dice_ce.accurate.large.plain.s0"
#: "Job 3 has been submitted with SLURM jobid 17 (log: .../rule_train_run/...)."
SUBMISSION = re.compile(r"SLURM jobid (\d+) \(log: \S*/rule_(\w+)/")


def environment_without_segpipe() -> dict[str, str]:
    """The test's environment minus every PATH entry that holds a `segpipe` (and minus VIRTUAL_ENV)."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(entry for entry in env.get("PATH", "").split(os.pathsep)
                                  if entry and not (Path(entry) / "segpipe").exists())
    env["OMP_NUM_THREADS"] = "1"
    return env


def slurm_job(job_id: str) -> dict[str, str]:
    """``scontrol show job`` of a job that ended less than MinJobAge ago."""
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True,
                           timeout=30, check=True)
    return scontrol_fields(shown.stdout)


def test_smoke_workflow_on_slurm_reports_a_failed_job_and_reruns_only_what_is_left(slurm_cluster: LocalCluster,
                                                                                   tmp_path: Path) -> None:
    """The real workflow on the smoke configuration through the SLURM profile.

    Training runs in two processes in one allocation. Prediction is set to CUDA, as for a GPU node,
    and the job gets the node's (placeholder) GPU, but this torch has no CUDA: the job fails at run
    time with segpipe's message. After the setting is fixed the re-run submits prediction,
    evaluation and the report only. `segpipe` is not on the test's PATH: the Snakefile's own PATH
    line must carry it into the jobs.
    """
    if torch.cuda.is_available():
        pytest.skip("the planned failure needs a machine without CUDA")
    env = environment_without_segpipe()
    assert shutil.which("segpipe", path=env["PATH"]) is None
    config = yaml.safe_load(SMOKE.read_text())
    config["train"]["distributed"] = {"processes": 2}
    config["predict"]["device"] = "cuda"
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    # --max-threads: rules ask for up to 8 threads; the node has 2 CPUs.
    options = ("--max-threads", "2", *submission_options(slurm_cluster), "--configfile", str(config_path))

    failed = run_snakemake(tmp_path, REPO / "Snakefile", *options, env=env, timeout_s=300)
    assert failed.returncode != 0, failed.stdout
    assert "Error in rule predict_run" in failed.stdout, failed.stdout
    assert "'predict.device' is 'cuda' but no CUDA device is available" in failed.stdout  # the rule's log, shown
    results = tmp_path / "results"
    finished = [results / "preprocessed" / "manifest.json", results / "preprocessed" / "fingerprint.json",
                results / "runs" / SMOKE_RUN / "model.pt", results / "runs" / SMOKE_RUN / "train_log.csv"]
    mtimes = {path: path.stat().st_mtime_ns for path in finished}
    assert not (results / "runs" / SMOKE_RUN / "predictions").exists()

    # What SLURM granted: training's threads (capped at 2) shared by its two processes; a GPU for prediction.
    jobs = {rule: job_id for job_id, rule in SUBMISSION.findall(failed.stdout)}
    assert {"data", "preprocess", "train_run", "predict_run"} <= set(jobs), failed.stdout
    train_job, predict_job = slurm_job(jobs["train_run"]), slurm_job(jobs["predict_run"])
    assert train_job["CPUs/Task"] == "2" and train_job["MinMemoryNode"] == "12000M", train_job
    assert predict_job["TresPerJob"] == "gres:gpu:1", predict_job
    train_log = (results / "logs" / "train" / f"{SMOKE_RUN}.log").read_text()
    assert "segpipe: training in 2 processes (gloo), 1 thread(s) each" in train_log

    config["predict"]["device"] = "cpu"
    config_path.write_text(yaml.safe_dump(config))
    rerun = run_snakemake(tmp_path, REPO / "Snakefile", *options, env=env, timeout_s=300)
    assert rerun.returncode == 0, rerun.stdout
    assert set(JOB_ANNOUNCEMENT.findall(rerun.stdout)) == {"predict_run", "evaluate_run", "photo", "report", "all"}, rerun.stdout
    assert {path: path.stat().st_mtime_ns for path in finished} == mtimes
    assert "<h2>Examples</h2>" in (results / "report.html").read_text()
    metrics = pd.read_csv(results / "metrics.csv")
    assert set(metrics["run_id"]) == {SMOKE_RUN} and not metrics["dice"].isna().any()
