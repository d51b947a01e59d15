# Shared set-up: validate the configuration, snapshot it for the CLI, define paths and the run grid.
import os
import sys
from pathlib import Path

from snakemake.utils import validate

from segpipe.config import validate_config, write_config_snapshot
from segpipe.experiments import expand_grid

# Commands run by rules must find the `segpipe` of the interpreter that runs Snakemake.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

validate_config(config, source="snakemake config")  # clear messages: key path and allowed values
validate(config, "../schemas/config.schema.yaml")   # Snakemake's own check; fills defaults too

RESULTS = Path(config["results_dir"])
LOGS = RESULTS / "logs"
BENCHMARKS = RESULTS / "benchmarks"

# Every `segpipe` command reads this snapshot of the validated configuration (defaults filled in),
# so that a command run by hand later sees exactly what the workflow used. It is written while the
# workflow is parsed, and only when its content changes. It is deliberately not an input of the
# rules: its timestamp would re-run every stage after any change. Instead each rule carries the
# configuration section it depends on in `params:`, and Snakemake's params rerun-trigger re-runs
# exactly the stages whose settings changed (and, through their outputs, everything downstream).
CONFIG_SNAPSHOT = RESULTS / "config.yaml"
write_config_snapshot(CONFIG_SNAPSHOT, dict(config))

RUNS = [spec.run_id for spec in expand_grid(config["experiments"])]

if config["dataset"]["source"] == "synthetic":
    DATASET = RESULTS / "data" / config["dataset"]["synthetic"]["kind"]
else:
    DATASET = Path(config["dataset"]["path"])

PREPROCESSED = RESULTS / "preprocessed"
MANIFEST = PREPROCESSED / "manifest.json"
FINGERPRINT = PREPROCESSED / "fingerprint.json"
RUN_DIR = str(RESULTS / "runs" / "{run}")
REPORT = RESULTS / "report.html"
METRICS = RESULTS / "metrics.csv"  # every run's per-case metrics in one table

# GPUs a job asks the scheduler for: one when the stage is set to run on CUDA.
GPUS = {stage: int(config[stage]["device"] == "cuda") for stage in ("train", "predict")}


wildcard_constraints:
    run=r"[A-Za-z0-9_-]+\.[a-z]+\.[a-z]+\.[A-Za-z0-9_-]+\.s\d+",
