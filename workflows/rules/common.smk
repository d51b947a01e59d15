# Shared set-up: snapshot the configuration for the CLI, define paths and the run grid. The configuration
# is validated (defaults filled in) by whoever includes this file: the Snakefile, or for the decode
# comparison's module segpipe.experiments.decode_comparison.comparison_config.
import json
import os
import shlex
import sys
from pathlib import Path

from segpipe.config import config_snapshot_path, write_config_snapshot
from segpipe.datasets.signature import dataset_signature
from segpipe.experiments.grid import expand_grid

# Commands run by rules must find the `segpipe` of the interpreter that runs Snakemake.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

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
# The snapshot is written by `configuration`, an input function of every rule that reads it: Snakemake
# calls it when it plans a job of this workflow (dry runs included), so a workflow included as a module
# (the decode comparison) writes nothing unless one of its jobs is asked for.
CONFIG_SNAPSHOT = config_snapshot_path(RESULTS / "configs", dict(config))


def configuration(wildcards):
    """Input function of every rule: write CONFIG_SNAPSHOT (once; unchanged snapshots are left as they are)."""
    write_config_snapshot(CONFIG_SNAPSHOT, dict(config))
    return []



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
