# Report: one self-contained HTML file over all runs, plus all per-case metrics in one CSV.


rule report:
    """Summarise every run's metrics in REPORT and RESULTS/metrics.csv."""
    input:
        metrics=expand(RUN_DIR + "/metrics.csv", run=RUNS),
        predictions=expand(RUN_DIR + "/predictions", run=RUNS),
        train_logs=expand(RUN_DIR + "/train_log.csv", run=RUNS),
        manifest=MANIFEST,
    output:
        report=REPORT,
        metrics=METRICS,
    params:
        report=canonical(config["report"]),  # rerun trigger
    log:
        LOGS / "report.log",
    benchmark:
        BENCHMARKS / "report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe report --config {CONFIG_SNAPSHOT:q} --metrics {input.metrics:q} --manifest {input.manifest:q}"
        " --predictions {input.predictions:q} --train-logs {input.train_logs:q} --out {output.report:q}"
        " --metrics-out {output.metrics:q} --threads {threads} > {log:q} 2>&1"
