# Preprocess: validate labels, normalise images, write the manifest and the dataset fingerprint.


rule preprocess:
    """Preprocess the dataset into PREPROCESSED (manifest.json, fingerprint.json, cases/*.npz)."""
    input:
        configuration,
        dataset=DATASET,
    output:
        manifest=MANIFEST,
        fingerprint=FINGERPRINT,
    params:
        out=PREPROCESSED,
        preprocess=canonical(config["preprocess"]),  # rerun trigger
        data=DATA_SIGNATURE,  # rerun trigger: any file of an own dataset added, removed or changed
    log:
        LOGS / "preprocess.log",
    benchmark:
        BENCHMARKS / "preprocess.tsv"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe preprocess --config {CONFIG_SNAPSHOT:q} --dataset {input.dataset:q} --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"
