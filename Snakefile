# segpipe workflow: raw images -> preprocess -> train -> predict -> evaluate -> report.
# Each rule runs one `segpipe <stage>` command; the Python package does the work.
#
#   snakemake --cores 8                  # everything (target `all`) on config.yaml
#   snakemake --cores 2 --configfile tests/configs/smoke.yaml   # the tiny smoke configuration
#   snakemake --cores 8 train            # up to trained models
#   snakemake --cores 2 decode           # HybridGNet landmark decoding on synthetic chest x-rays
#   snakemake -n all                     # show the whole DAG
#   snakemake --workflow-profile workflows/profiles/slurm   # on a SLURM cluster

from pathlib import Path

# The default configuration beside this Snakefile (so that `snakemake -s path/to/Snakefile` works from
# any directory); `--configfile other.yaml` is merged over it.
configfile: Path(workflow.basedir) / "config.yaml"


# Front page of `snakemake --report results/snakemake_report.html` (outputs marked with report()).
report: "workflows/report/workflow.rst"


include: "workflows/rules/common.smk"
include: "workflows/rules/data.smk"
include: "workflows/rules/preprocess.smk"
include: "workflows/rules/train.smk"
include: "workflows/rules/predict.smk"
include: "workflows/rules/evaluate.smk"
include: "workflows/rules/report.smk"
include: "workflows/rules/decode.smk"


rule all:
    default_target: True
    input:
        REPORT,
