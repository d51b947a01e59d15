# Report: one self-contained HTML file over all runs, plus the tables behind it. The outputs are also
# registered for `snakemake --report results/snakemake_report.html` (needs `snakemake[reports]`).


PHOTO_DIR = RESULTS / "photo"
PHOTO = [PHOTO_DIR / "photo.json"] if config["photo"]["source"] else []  # photo.source null: no photo step


rule photo:
    """The run with the fewest Betti errors on photo.source (e.g. skimage:brick), with its mask's Betti numbers."""
    input:
        configuration,
        metrics=expand(RUN_DIR + "/metrics.csv", run=RUNS),
        models=expand(RUN_DIR + "/model.pt", run=RUNS),
    output:
        summary=PHOTO_DIR / "photo.json",
        photo=PHOTO_DIR / "photo.png",
        mask=PHOTO_DIR / "mask.png",
        probability=PHOTO_DIR / "probability.tif",
    params:
        out=PHOTO_DIR,
        # rerun trigger: the photo's settings and the decision threshold
        photo=canonical({"photo": config["photo"], "threshold": config["predict"]["threshold"]}),
    log:
        LOGS / "photo.log",
    benchmark:
        BENCHMARKS / "photo.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPUS["predict"],
    shell:
        "segpipe photo --config {CONFIG_SNAPSHOT:q} --metrics {input.metrics:q} --models {input.models:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule report:
    """Summarise every run's metrics in REPORT, with METRICS, SUMMARY and TESTS beside it."""
    input:
        configuration,
        metrics=expand(RUN_DIR + "/metrics.csv", run=RUNS),
        predictions=expand(RUN_DIR + "/predictions", run=RUNS),
        train_logs=expand(RUN_DIR + "/train_log.csv", run=RUNS),
        train_benchmarks=expand(BENCHMARKS / "train" / "{run}.tsv", run=RUNS),
        photo=PHOTO,
        manifest=MANIFEST,
    output:
        report=report(REPORT, caption="../report/report.rst", category="Report"),
        metrics=report(METRICS, caption="../report/metrics.rst", category="Tables"),
        summary=report(SUMMARY, caption="../report/summary.rst", category="Tables"),
        tests=report(TESTS, caption="../report/tests.rst", category="Tables"),
    params:
        # rerun trigger: the report's settings and the statistics (evaluate.statistics)
        report=canonical({"report": config["report"], "statistics": config["evaluate"]["statistics"]}),
        # the training costs and the photo, for the report's sections (segpipe report --input NAME=PATH)
        inputs=lambda wildcards, input: " ".join(
            [f"--input train_benchmarks={shlex.quote(path)}" for path in input.train_benchmarks]
            + [f"--input photo={shlex.quote(str(Path(path).parent))}" for path in input.photo]
        ),
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
        " {params.inputs} --threads {threads} > {log:q} 2>&1"


rule study:
    """Target: the report of the experiment grid with its study tables, training costs and the photo
    (config/study.yaml holds TopoMortar's study cases: `make study`)."""
    input:
        REPORT,
        PHOTO,


# `snakemake --report FILE` bundles the outputs marked report() above, which exist only once `all` has run;
# Snakemake's own message is "File results/report.html marked for report but does not exist". Say what to run.
if any(argument == "--report" or argument.startswith("--report=") for argument in sys.argv):
    _unmade = [str(path) for path in (REPORT, METRICS, SUMMARY, TESTS) if not Path(path).is_file()]
    if _unmade:
        print(f"segpipe: error: `snakemake --report` bundles the finished report and tables, and {', '.join(_unmade)} "
              "do not exist yet.\n  fix: run the workflow first (`snakemake --cores 2 all`, with the same --configfile), "
              "then `snakemake --report ...` again", file=sys.stderr)
        sys.exit(1)
