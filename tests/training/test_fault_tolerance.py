"""Killed training jobs in the real workflow: nothing half-written is kept, the re-run resumes, nothing is lost.

The smoke configuration with two training processes (gloo) and enough iterations that the kills land
mid-training, run with the default profile (`--rerun-incomplete`, `keep-incomplete: false`):

1. SIGKILL to the training launcher alone (what the out-of-memory killer does): its workers die
   with it, Snakemake reports the failed rule and exits.
2. Re-run; SIGKILL to Snakemake's whole process group (a killed login session): every process of the
   workflow ends, the job's outputs are marked incomplete, no file exists at a final path, only
   complete checkpoints remain, and the stale lock makes the next run ask for `--unlock`.
3. `--unlock` and re-run: training resumes from the newest checkpoint and ends with the weights and
   log of an uninterrupted run; the finished data and preprocessing jobs are not redone.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
import yaml

from segpipe.training.checkpoint import list_checkpoints

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tests" / "configs" / "smoke.yaml"
RUN = "unet.dice_ce.accurate.large.plain.s0"
ITERATIONS, CHECKPOINT_EVERY = 200, 10
TIMEOUT_S = 180


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The workflow's `train` target with the default profile (2 cores) on the test configuration."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--workflow-profile", str(REPO / "workflows" / "profiles" / "default"), *args,
            "--configfile", str(workdir / "config.yaml")]


class Workflow:
    """Snakemake started in its own session (its own process group), its output going to a file."""

    def __init__(self, workdir: Path) -> None:
        self.output_path = workdir / f"snakemake-{time.monotonic_ns()}.txt"
        with open(self.output_path, "w") as output:
            self.process = subprocess.Popen(snakemake_command(workdir, "train"), stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        self.pid = self.process.pid

    @property
    def output(self) -> str:
        return self.output_path.read_text()


def wait_for(predicate: Callable[[], bool], what: str, workflow: Workflow | None = None) -> None:
    """Poll ``predicate`` every 20 ms until it holds (bounded; fails early if ``workflow`` ends)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        assert workflow is None or workflow.process.poll() is None, f"the workflow ended before {what}:\n{workflow.output}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def live_processes() -> dict[int, tuple[int, int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, process group, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        state, parent, group = stat.rsplit(")", 1)[1].split()[:3]
        if state not in ("Z", "X"):
            found[int(entry.name)] = (int(parent), int(group), command)
    return found


def newest_checkpoint(run_dir: Path) -> int:
    checkpoints = list_checkpoints(run_dir / "checkpoints")
    return int(re.search(r"(\d+)", checkpoints[-1].name).group(1)) if checkpoints else 0


def marked_incomplete(workdir: Path) -> set[str]:
    """Output paths that Snakemake has marked incomplete (.snakemake/incomplete/<urlsafe base64 of the path>)."""
    return {base64.urlsafe_b64decode(path.name).decode() for path in (workdir / ".snakemake" / "incomplete").iterdir()
            if path.is_file() and path.name != "migration_underway"}


def test_killed_training_resumes_and_loses_nothing(tmp_path):
    config = yaml.safe_load(SMOKE.read_text())
    config["train"].update(iterations=ITERATIONS, checkpoint_every=CHECKPOINT_EVERY, validate_every=50,
                           distributed={"processes": 2})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    results = tmp_path / "results"
    run_dir = results / "runs" / RUN
    outputs = [run_dir / "model.pt", run_dir / "train_log.csv"]

    # 1. Kill the training launcher alone: its workers must not outlive it.
    workflow = Workflow(tmp_path)
    wait_for(lambda: newest_checkpoint(run_dir) >= 2 * CHECKPOINT_EVERY, "the second checkpoint", workflow)
    group = {pid: info for pid, info in live_processes().items() if info[1] == workflow.pid}
    workers = [pid for pid, (_, _, command) in group.items() if "multiprocessing.spawn" in command]
    (launcher,) = {group[pid][0] for pid in workers}
    assert len(workers) == 2 and "segpipe train" in group[launcher][2], group
    os.kill(launcher, signal.SIGKILL)
    wait_for(lambda: not set(workers) & set(live_processes()), "the workers to die with their launcher")
    assert workflow.process.wait(timeout=TIMEOUT_S) != 0
    assert "Error in rule train_run" in workflow.output
    assert not any(path.exists() for path in outputs)
    finished = [results / "preprocessed" / "manifest.json", *(results / "data").rglob("*.png")]
    mtimes = {path: path.stat().st_mtime_ns for path in finished}

    # 2. Re-run, then kill Snakemake's whole process group in the middle of training.
    workflow = Workflow(tmp_path)
    killed_after = newest_checkpoint(run_dir)
    wait_for(lambda: newest_checkpoint(run_dir) >= killed_after + 2 * CHECKPOINT_EVERY, "two more checkpoints", workflow)
    os.killpg(workflow.pid, signal.SIGKILL)
    workflow.process.wait(timeout=TIMEOUT_S)
    wait_for(lambda: not any(pgid == workflow.pid for _, pgid, _ in live_processes().values()),
             "every process of the workflow to end")
    assert not any(path.exists() for path in outputs)  # atomic writes: nothing at a final path
    assert {str(path.relative_to(tmp_path)) for path in outputs} <= marked_incomplete(tmp_path)
    resume_from = newest_checkpoint(run_dir)
    assert killed_after < resume_from < ITERATIONS
    for checkpoint in list_checkpoints(run_dir / "checkpoints"):  # only complete checkpoints carry the name
        assert torch.load(checkpoint, weights_only=False)["iteration"] == int(checkpoint.stem.split("_")[1])
    locked = subprocess.run(snakemake_command(tmp_path, "train"), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr

    # 3. Unlock and re-run: resumes from the newest checkpoint and finishes.
    unlocked = subprocess.run(snakemake_command(tmp_path, "--unlock"), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert unlocked.returncode == 0, unlocked.stderr
    workflow = Workflow(tmp_path)
    assert workflow.process.wait(timeout=TIMEOUT_S) == 0, workflow.output
    assert re.findall(r"^(?:local)?rule (\w+):$", workflow.output, flags=re.MULTILINE) == ["train_run", "train"]
    train_log = (results / "logs" / "train" / f"{RUN}.log").read_text()
    assert f"resuming {RUN} from iteration {resume_from} of {ITERATIONS}" in train_log
    assert not marked_incomplete(tmp_path) and not (run_dir / "checkpoints").exists()
    assert {path: path.stat().st_mtime_ns for path in finished} == mtimes

    # The same run without interruption, with the workflow's configuration snapshot and threads.
    (snapshot,) = (results / "configs").iterdir()
    clean = tmp_path / "uninterrupted"
    reference = subprocess.run(
        [sys.executable, "-m", "segpipe.cli", "train", "--config", str(snapshot), "--manifest",
         str(results / "preprocessed" / "manifest.json"), "--run", RUN, "--out", str(clean), "--threads", "2",
         "--no-progress"], capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert reference.returncode == 0, reference.stderr
    weights, expected = (torch.load(d / "model.pt", weights_only=True)["state_dict"] for d in (run_dir, clean))
    assert weights.keys() == expected.keys() and all(torch.equal(weights[key], expected[key]) for key in weights)
    logs = [pd.read_csv(d / "train_log.csv").drop(columns="seconds") for d in (run_dir, clean)]
    assert logs[0]["iteration"].tolist() == list(range(1, ITERATIONS + 1))
    pd.testing.assert_frame_equal(*logs)
