# Shared set-up: validate the configuration, snapshot it for the CLI, define paths and the run grid.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from segpipe.config import config_snapshot_path, validate_config, write_config_snapshot
from segpipe.datasets.compatibility import check_config_against_data
from segpipe.datasets.signature import dataset_signature
from segpipe.utilities.cpus import available_cpus
from segpipe.experiments.grid import expand_grid

# Commands run by rules must find the `segpipe` of the interpreter that runs Snakemake.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

validate_config(config, source="snakemake config")  # clear messages: key path and allowed values
validate(config, "../schemas/config.schema.yaml")   # Snakemake's own check; fills defaults too
check_config_against_data(config, source="snakemake config")  # label types, patch dimension, photo step, data layout

# More cores than this machine has (`--cores 8` on 2 CPUs) would give each job more torch threads than
# CPUs; every `segpipe` command caps its --threads at the CPUs it may use, and this says so once.
if workflow.local_exec and isinstance(getattr(workflow, "_cores", None), int) and workflow._cores > available_cpus():
    print(f"segpipe: warning: --cores {workflow._cores}, but this machine lets Snakemake use {available_cpus()} CPU(s); "
          f"each job's threads are capped at {available_cpus()}", file=sys.stderr)

RESULTS = Path(config["results_dir"])
LOGS = RESULTS / "logs"
BENCHMARKS = RESULTS / "benchmarks"

# Every `segpipe` command reads a snapshot of the validated configuration (defaults filled in), so
# that a command can be re-run by hand with exactly what the workflow used. Snapshots are
# content-addressed (RESULTS/configs/<sha256 prefix>.yaml, written while the workflow is parsed and
# never changed afterwards): a single `results/config.yaml` rewritten at every parse let any other
# invocation -- even `snakemake -n --config ...` -- change the settings under the jobs of a workflow
# that was still running. The snapshot is not an input of the rules (its path changes with every
# configuration change and would re-run every stage); instead each rule carries the configuration
# section it depends on in `params:`, and Snakemake's params rerun-trigger re-runs exactly the stages
# whose settings changed (and, through their outputs, everything downstream).
CONFIG_SNAPSHOT = write_config_snapshot(config_snapshot_path(RESULTS / "configs", dict(config)), dict(config))



def canonical(settings):
    """A configuration section as `params:` value: sorted JSON, so that reordering keys in a
    configuration file does not look like a change to Snakemake's params rerun-trigger."""
    return json.dumps(settings, sort_keys=True)


RUNS = [spec.run_id for spec in expand_grid(config["experiments"], config["train"]["network"]["name"])]

# An own dataset (source `directory`) is read in place: its files' sizes and times are a parameter of
# the preprocess rule, so editing a label or dataset.json re-runs preprocessing. Synthetic data are the
# data rule's output and tracked through it.
if config["dataset"]["source"] == "synthetic":
    DATASET = RESULTS / "data" / config["dataset"]["synthetic"]["kind"]
    DATA_SIGNATURE = "synthetic"
else:
    DATASET = Path(config["dataset"]["path"])
    DATA_SIGNATURE = dataset_signature(DATASET)

PREPROCESSED = RESULTS / "preprocessed"
MANIFEST = PREPROCESSED / "manifest.json"
FINGERPRINT = PREPROCESSED / "fingerprint.json"
RUN_DIR = str(RESULTS / "runs" / "{run}")
REPORT = RESULTS / "report.html"
METRICS = RESULTS / "metrics.csv"  # every run's per-case metrics in one table
SUMMARY = RESULTS / "summary.csv"  # means and confidence intervals per configuration, group and metric
TESTS = RESULTS / "tests.csv"      # paired tests of every configuration against the baseline loss

# GPUs a job asks the scheduler for: one when the stage is set to run on CUDA.
GPUS = {stage: int(config[stage]["device"] == "cuda") for stage in ("train", "predict")}


wildcard_constraints:
    run=r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[a-z]+\.[A-Za-z0-9_-]+\.s\d+",
