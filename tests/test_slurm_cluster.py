"""Workflows through the SLURM profile on a real one-node SLURM cluster on localhost.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (scripts/install_system_packages.sh);
skipped otherwise. The session fixture starts the cluster with scripts/slurm_local_cluster.sh unless
one already runs, and stops it afterwards only if it started it (docs/SLURM.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import segpipe
from slurm_cluster import LocalCluster, run_snakemake, unavailable_reason

pytestmark = pytest.mark.slurm

TEST_WORKFLOW = Path(__file__).parent / "slurm_workflow" / "Snakefile"
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
