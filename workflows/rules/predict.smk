# Predict: masks and probability maps of the test cases of each run.


rule predict_run:
    """Predict the cases of `predict.splits` with one run's model."""
    input:
        configuration,
        model=RUN_DIR + "/model.pt",
        manifest=MANIFEST,
    output:
        predictions=directory(RUN_DIR + "/predictions"),
    params:
        predict=canonical(config["predict"]),  # rerun trigger
    log:
        LOGS / "predict" / "{run}.log",
    benchmark:
        BENCHMARKS / "predict" / "{run}.tsv"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPUS["predict"],
    shell:
        "segpipe predict --config {CONFIG_SNAPSHOT:q} --manifest {input.manifest:q} --model {input.model:q}"
        " --out {output.predictions:q} --threads {threads} > {log:q} 2>&1"


rule predict:
    """Target: predictions of every run."""
    input:
        expand(RUN_DIR + "/predictions", run=RUNS),
