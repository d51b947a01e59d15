# Evaluate: per-case metrics of each run's predictions against the raw reference labels.


rule evaluate_run:
    """Score one run's predictions (one CSV row per case)."""
    input:
        predictions=RUN_DIR + "/predictions",
        manifest=MANIFEST,
    output:
        metrics=RUN_DIR + "/metrics.csv",
    params:
        evaluate=canonical(config["evaluate"]),  # rerun trigger
    log:
        LOGS / "evaluate" / "{run}.log",
    benchmark:
        BENCHMARKS / "evaluate" / "{run}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe evaluate --config {CONFIG_SNAPSHOT:q} --manifest {input.manifest:q}"
        " --predictions {input.predictions:q} --out {output.metrics:q} --threads {threads} > {log:q} 2>&1"


rule evaluate:
    """Target: metrics of every run."""
    input:
        expand(RUN_DIR + "/metrics.csv", run=RUNS),
