# Train: one job per run of the experiment grid (`{run}` = loss.label_type.training_set.framework.sSEED).
from segpipe.experiments import training_settings


rule train_run:
    """Train one run; re-running a killed job resumes from its last checkpoint."""
    input:
        manifest=MANIFEST,
    output:
        model=RUN_DIR + "/model.pt",
        log=RUN_DIR + "/train_log.csv",
    params:
        out=RUN_DIR,
        # rerun trigger: exactly the settings that change the trained weights
        settings=lambda wildcards: canonical(training_settings(config, wildcards.run)),
    log:
        LOGS / "train" / "{run}.log",
    benchmark:
        BENCHMARKS / "train" / "{run}.tsv"
    threads: 8
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=GPUS["train"],
    shell:
        "segpipe train --config {CONFIG_SNAPSHOT:q} --manifest {input.manifest:q} --run {wildcards.run}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule train:
    """Target: every run of the grid trained."""
    input:
        expand(RUN_DIR + "/model.pt", run=RUNS),
