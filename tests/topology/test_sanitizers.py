"""The engine under AddressSanitizer and UndefinedBehaviorSanitizer: a short fuzz of random calls.

Runs ``scripts/sanitize_topology.sh fuzz`` (the sanitized build in ``build/sanitize`` is reused
when it is up to date; a fresh one takes about a minute on two cores), so the script cannot rot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def sanitizers_missing(tmp_path: Path) -> str:
    """Why gcc cannot build and run a sanitized program here ('' when it can)."""
    if shutil.which("gcc") is None or shutil.which("g++") is None:
        return "gcc/g++ are not installed"
    source = tmp_path / "probe.cpp"
    source.write_text("int main() { return 0; }\n")
    build = subprocess.run(["g++", *FLAGS, str(source), "-o", str(tmp_path / "probe")], capture_output=True, text=True)
    if build.returncode != 0:
        return f"g++ cannot build with {' '.join(FLAGS)}: {build.stderr.strip()[-300:]}"
    return ""


def test_fuzz_under_address_and_undefined_behaviour_sanitizers(tmp_path):
    # Issue 18.11: the sanitizer script failed on a fresh .venv and no test ran it.
    reason = sanitizers_missing(tmp_path)
    if reason:
        pytest.skip(reason)
    environment = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(["bash", "scripts/sanitize_topology.sh", "fuzz", "--seconds", "8"], cwd=REPO,
                         env=environment, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert "testing the sanitized engine" in run.stdout and "no sanitizer report" in run.stdout, output[-5000:]
    assert "Sanitizer" not in run.stderr and "runtime error" not in run.stderr, run.stderr[-5000:]
