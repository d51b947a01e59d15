# Evaluate: per-case metrics of each run's predictions against the raw reference labels.


rule evaluate_run:
    """Score one run's predictions (one CSV row per case)."""
    input:
        configuration,
        predictions=RUN_DIR + "/predictions",
        manifest=MANIFEST,
    output:
        metrics=RUN_DIR + "/metrics.csv",
    params:
        # rerun trigger; the statistics are the report's business
        evaluate=canonical({key: value for key, value in config["evaluate"].items() if key != "statistics"}),
    log:
        LOGS / "evaluate" / "{run}.log",
    benchmark:
        BENCHMARKS / "evaluate" / "{run}.tsv"
    # one worker process per core over the cases (capped by --cores); up to ~2 GB each for 128^3
    # volumes with full connectivity (benchmarks/RESULTS.md, "Evaluation")
    threads: 8
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe evaluate --config {CONFIG_SNAPSHOT:q} --manifest {input.manifest:q}"
        " --predictions {input.predictions:q} --out {output.metrics:q} --threads {threads} > {log:q} 2>&1"


rule evaluate:
    """Target: metrics of every run."""
    input:
        expand(RUN_DIR + "/metrics.csv", run=RUNS),
