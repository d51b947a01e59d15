# Train: one job per run of the experiment grid (`{run}` = loss.label_type.training_set.framework.sSEED).

from segpipe.experiments.grid import teacher_run, training_settings

# `segpipe train` starts train.distributed.processes processes itself (segpipe/training/distributed.py), all in
# the one job: they split the job's threads (SLURM: --cpus-per-task), each holds its own copy of the
# training cases and the network, and on CUDA each uses its own GPU.
TRAIN_PROCESSES = config["train"]["distributed"]["processes"]

def teacher_model(wildcards):
    """A self_distillation run's teacher: the model of the plain run with its loss, labels, set and seed."""
    teacher = teacher_run(wildcards.run)
    return {"teacher": RUN_DIR.format(run=teacher) + "/model.pt"} if teacher else {}

rule train_run:
    """Train one run; re-running a killed job resumes from its last checkpoint."""
    input:
        configuration,
        unpack(teacher_model),
        manifest=MANIFEST,
    output:
        model=RUN_DIR + "/model.pt",
        log=RUN_DIR + "/train_log.csv",
    params:
        out=RUN_DIR,
        teacher=lambda wildcards, input: f"--teacher {shlex.quote(input.teacher)}" if "teacher" in input.keys() else "",
        # rerun trigger: exactly the settings that change the trained weights
        settings=lambda wildcards: canonical(training_settings(config, wildcards.run)),
    log:
        LOGS / "train" / "{run}.log",
    benchmark:
        BENCHMARKS / "train" / "{run}.tsv"
    threads: max(8, TRAIN_PROCESSES)
    resources:
        mem_mb=4000 + 4000 * TRAIN_PROCESSES,
        runtime=240,
        gpu=GPUS["train"] * TRAIN_PROCESSES,
    shell:
        "segpipe train --config {CONFIG_SNAPSHOT:q} --manifest {input.manifest:q} --run {wildcards.run}"
        " --out {params.out:q} {params.teacher} --threads {threads} > {log:q} 2>&1"

rule train:
    """Target: every run of the grid trained."""
    input:
        expand(RUN_DIR + "/model.pt", run=RUNS),
