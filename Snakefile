# segpipe workflow: raw images -> preprocess -> train -> predict -> evaluate -> report.
# Each rule runs one `segpipe <stage>` command; the Python package does the work.
#
#   snakemake --cores 8                  # everything (target `all`) on config.yaml
#   snakemake --cores 2 --configfile tests/configs/smoke.yaml   # the tiny smoke configuration
#   snakemake --cores 8 train            # up to trained models
#   snakemake --cores 2 decode           # HybridGNet landmark decoding on synthetic chest x-rays
#   snakemake -n all                     # show the whole DAG
#   snakemake --workflow-profile workflows/profiles/slurm   # on a SLURM cluster

import sys
from pathlib import Path

from snakemake.utils import validate

from segpipe.config import validate_config
from segpipe.datasets.compatibility import check_config_against_data
from segpipe.utilities.cpus import available_cpus

# The default configuration beside this Snakefile (so that `snakemake -s path/to/Snakefile` works from
# any directory); `--configfile other.yaml` is merged over it.
configfile: Path(workflow.basedir) / "config.yaml"

validate_config(config, source="snakemake config")  # clear messages: key path and allowed values
validate(config, "workflows/schemas/config.schema.yaml")  # Snakemake's own check; fills defaults too
check_config_against_data(config, source="snakemake config")  # label types, patch dimension, photo step, data layout

# More cores than this machine has (`--cores 8` on 2 CPUs) would give each job more torch threads than
# CPUs; every `segpipe` command caps its --threads at the CPUs it may use, and this says so once.
if workflow.local_exec and isinstance(getattr(workflow, "_cores", None), int) and workflow._cores > available_cpus():
    print(f"segpipe: warning: --cores {workflow._cores}, but this machine lets Snakemake use {available_cpus()} CPU(s); "
          f"each job's threads are capped at {available_cpus()}", file=sys.stderr)


# Front page of `snakemake --report results/snakemake_report.html` (outputs marked with report()).
report: "workflows/report/workflow.rst"


include: "workflows/rules/segmentation.smk"
include: "workflows/rules/data.smk"
include: "workflows/rules/report.smk"
# Decode rules are defined for every invocation (Snakemake learns the targets only after parsing) but
# plan nothing and write nothing unless a decode target is asked for.
include: "workflows/rules/decode.smk"


rule all:
    default_target: True
    input:
        REPORT,
