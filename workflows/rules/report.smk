# Report: one self-contained HTML file over all runs, plus the tables behind it. The outputs are also
# registered for `snakemake --report results/snakemake_report.html` (needs `snakemake[reports]`).


rule report:
    """Summarise every run's metrics in REPORT, with METRICS, SUMMARY and TESTS beside it."""
    input:
        metrics=expand(RUN_DIR + "/metrics.csv", run=RUNS),
        predictions=expand(RUN_DIR + "/predictions", run=RUNS),
        train_logs=expand(RUN_DIR + "/train_log.csv", run=RUNS),
        manifest=MANIFEST,
    output:
        report=report(REPORT, caption="../report/report.rst", category="Report"),
        metrics=report(METRICS, caption="../report/metrics.rst", category="Tables"),
        summary=report(SUMMARY, caption="../report/summary.rst", category="Tables"),
        tests=report(TESTS, caption="../report/tests.rst", category="Tables"),
    params:
        # rerun trigger: the report's settings and the statistics (evaluate.statistics)
        report=canonical({"report": config["report"], "statistics": config["evaluate"]["statistics"]}),
    log:
        LOGS / "report.log",
    benchmark:
        BENCHMARKS / "report.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe report --config {CONFIG_SNAPSHOT:q} --metrics {input.metrics:q} --manifest {input.manifest:q}"
        " --predictions {input.predictions:q} --train-logs {input.train_logs:q} --out {output.report:q}"
        " --metrics-out {output.metrics:q} --summary-out {output.summary:q} --tests-out {output.tests:q}"
        " --threads {threads} > {log:q} 2>&1"
