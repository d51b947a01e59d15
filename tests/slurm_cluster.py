"""The one-node SLURM cluster on localhost that the ``slurm`` tests submit to.

:class:`LocalCluster` starts the cluster with ``scripts/slurm_local_cluster.sh`` when none runs and
stops it again only if it started it. pytest-xdist workers share one cluster: every user holds a
shared lock on a lock file while it uses the cluster, a start happens under an exclusive start
lock, and the worker that started the cluster waits (bounded) for the exclusive user lock before
it stops it, so that no worker pulls the cluster from under another one's jobs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = REPO / "scripts" / "slurm_local_cluster.sh"
SLURM_PROFILE = REPO / "workflows" / "profiles" / "slurm"

#: Commands the local cluster needs (Debian packages slurmctld, slurmd, slurm-client, munge).
REQUIRED_COMMANDS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "munged")

#: Poll job states often enough for tiny jobs (the profile's 40 s first wait suits real clusters).
FAST_STATUS_POLLING = (
    "--slurm-init-seconds-before-status-checks", "6",
    "--seconds-between-status-checks", "1",
    "--latency-wait", "5",
)

_LOCK_DIR = Path(tempfile.gettempdir())
_SCRIPT_TIMEOUT_S = 180     # the script's own waits are 60 s each
_LOCK_TIMEOUT_S = 300       # another worker's start or stop
_DRAIN_TIMEOUT_S = 600      # other workers still running slurm tests when the owner is done


def unavailable_reason() -> str | None:
    """Why the local cluster cannot be started here, or None when it can."""
    missing = [command for command in REQUIRED_COMMANDS if shutil.which(command) is None]
    if missing:
        return (f"SLURM commands {', '.join(missing)} not installed: run "
                "scripts/install_system_packages.sh (Debian slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        return "the local SLURM cluster (scripts/slurm_local_cluster.sh) must be started as root"
    return None


def _script(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(CLUSTER_SCRIPT), action], capture_output=True, text=True,
                          timeout=_SCRIPT_TIMEOUT_S, check=False)


def _lock(handle: IO[str], mode: int, timeout_s: float) -> bool:
    """Take ``flock(mode)`` on ``handle`` within ``timeout_s`` seconds; False when it timed out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


class LocalCluster:
    """Context manager: a running local cluster for the duration of the ``with`` block.

    Attributes
    ----------
    partition : str
        The cluster's default partition (jobs are submitted to it).
    started_here : bool
        Whether this process started the cluster (and therefore stops it on exit).
    """

    def __init__(self) -> None:
        self.partition = ""
        self.started_here = False
        self._users: IO[str] | None = None

    def __enter__(self) -> LocalCluster:
        self._users = open(_LOCK_DIR / "segpipe-slurm-users.lock", "a")
        if not _lock(self._users, fcntl.LOCK_SH, _LOCK_TIMEOUT_S):
            self._users.close()
            raise RuntimeError("timed out waiting for another test process to stop the SLURM cluster")
        try:
            with open(_LOCK_DIR / "segpipe-slurm-start.lock", "a") as start_lock:
                if not _lock(start_lock, fcntl.LOCK_EX, _LOCK_TIMEOUT_S):
                    raise RuntimeError("timed out waiting for another test process to start the SLURM cluster")
                if _script("status").returncode != 0:
                    started = _script("start")
                    self.started_here = True
                    if started.returncode != 0:
                        raise RuntimeError(f"scripts/slurm_local_cluster.sh start failed:\n{started.stderr}")
            self.partition = default_partition()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._users is not None
        try:
            fcntl.flock(self._users, fcntl.LOCK_UN)
            if self.started_here:
                # Wait for the other workers' tests; stop regardless once the bound has passed.
                _lock(self._users, fcntl.LOCK_EX, _DRAIN_TIMEOUT_S)
                stopped = _script("stop")
                if stopped.returncode != 0:
                    print(f"scripts/slurm_local_cluster.sh stop failed:\n{stopped.stderr}", file=sys.stderr)
        finally:
            self._users.close()


def default_partition() -> str:
    """Name of the cluster's default partition (``sinfo`` marks it with ``*``)."""
    listing = subprocess.run(["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True,
                             timeout=30, check=True).stdout.split()
    marked = [name.rstrip("*") for name in listing if name.endswith("*")]
    if not marked:
        raise RuntimeError(f"no default partition in sinfo output {listing}")
    return marked[0]


def activated_environment() -> dict[str, str]:
    """The environment of a shell in which this interpreter's virtual environment is activated."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = sys.prefix
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_snakemake(workdir: Path, snakefile: Path, *args: str, env: dict[str, str] | None = None,
                  timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``python -m snakemake`` with the SLURM profile in ``workdir`` (stdout and stderr merged)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
               "--workflow-profile", str(SLURM_PROFILE), *FAST_STATUS_POLLING, *args]
    return subprocess.run(command, cwd=workdir, env=env if env is not None else activated_environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout_s, check=False)
