# Synthetic data: only when dataset.source is `synthetic`; a `directory` dataset is read in place.

if config["dataset"]["source"] == "synthetic":

    rule data:
        """Generate the synthetic dataset (TopoMortar layout) with `segpipe synth`."""
        input:
            configuration,
        output:
            dataset=directory(DATASET),
        params:
            kind=config["dataset"]["synthetic"]["kind"],
            synthetic=canonical(config["dataset"]["synthetic"]),  # rerun trigger: regenerate when these change
        log:
            LOGS / "data.log",
        benchmark:
            BENCHMARKS / "data.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=0,
        shell:
            "segpipe synth {params.kind} --config {CONFIG_SNAPSHOT:q} --out {output.dataset:q} > {log:q} 2>&1"
