"""Worker processes of per-case jobs (segpipe.utilities.workers) die with the command that started them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from segpipe.datasets.manifest import Manifest
from segpipe.inference.predictions import PredictedCase, case_paths, write_index
from segpipe.io.images import read_mask, write_image

#: A segpipe command whose per-case jobs record their process id and then hang until killed (the
#: workers import this file as their main module, so they run the patched jobs too).
HANGING_COMMAND = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    import segpipe.evaluation.evaluate as evaluate
    import segpipe.preprocessing.preprocess as preprocess


    def hang(*job):
        (Path(os.environ["HANG_PIDS"]) / str(os.getpid())).touch()
        time.sleep(600)


    evaluate.score_case = preprocess.process_case = hang

    if __name__ == "__main__":
        from segpipe.cli import main

        sys.exit(main(sys.argv[1:]))
    """
)


def _children(pid: int) -> set[int]:
    """Process ids of the live descendants of ``pid``."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _evaluate_arguments(tmp_path: Path, manifest_path: Path) -> list[str]:
    """``segpipe evaluate`` of predictions equal to the test labels of the tiny 2D data set."""
    predictions = tmp_path / "predictions"
    written = []
    for case in Manifest.load(manifest_path).select(split="test"):
        mask, geometry = read_mask(case.labels["accurate"])
        mask_path, probability_path = case_paths(predictions, case.case_id, case.image)
        write_image(mask_path, mask > 0, geometry)
        write_image(probability_path, (mask > 0).astype(np.float32), geometry)
        written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
    write_index(predictions, "unet.dice_ce.accurate.small.plain.s0", 0.5, written)
    return ["evaluate", "--manifest", str(manifest_path), "--predictions", str(predictions),
            "--out", str(tmp_path / "metrics.csv"), "--no-progress"]


def _preprocess_arguments(tmp_path: Path, manifest_path: Path) -> list[str]:
    """``segpipe preprocess`` of the raw files of the tiny 2D data set (a dataset.json beside them)."""
    raw = Path(Manifest.load(manifest_path).cases[0].image).parents[1]
    cases = [
        {"id": case.case_id, "split": case.split, "group": case.group, "image": os.path.relpath(case.image, raw),
         "labels": {t: os.path.relpath(p, raw) for t, p in case.labels.items()}, "small": case.small}
        for case in Manifest.load(manifest_path).cases
    ]
    dataset = tmp_path / "raw"
    dataset.mkdir()
    for entry in raw.iterdir():
        (dataset / entry.name).symlink_to(entry)
    (dataset / "dataset.json").write_text(json.dumps(
        {"name": "tiny", "dimensions": 2, "channels": 3, "label_types": sorted(cases[0]["labels"]), "cases": cases}))
    return ["preprocess", "--dataset", str(dataset), "--out", str(tmp_path / "preprocessed")]


@pytest.mark.parametrize("command", ["evaluate", "preprocess"])
def test_workers_die_with_a_killed_command(tmp_path, dataset_2d, make_config, command):
    # Issue 18.5: after kill -9 of `segpipe evaluate` or `segpipe preprocess` their workers lived on
    # (here they would sleep for 10 minutes).
    arguments = {"evaluate": _evaluate_arguments, "preprocess": _preprocess_arguments}[command](tmp_path, dataset_2d)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(make_config()))
    (tmp_path / "hang.py").write_text(HANGING_COMMAND)
    pids = tmp_path / "pids"
    pids.mkdir()
    environment = {**os.environ, "HANG_PIDS": str(pids), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "hang.py"), *arguments, "--config", str(tmp_path / "config.yaml"),
         "--threads", "2"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(list(pids.iterdir())) < 2:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        workers = {int(path.name) for path in pids.iterdir()} | _children(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "worker processes outlived the killed command"
    finally:
        process.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
