# Decode (target `decode`): HybridGNet landmark decoding next to a UNet trained by the segmentation
# pipeline on the same data, independent of the segmentation grid of `all`.
#   chest data (synthetic, a segpipe-layout dataset, or Gaggion's JSRT layout imported)
#   -> HybridGNet: train-landmarks -> decode (landmarks + one predictions directory per organ)
#                  -> evaluate-decode (landmark MSE vs the mean shape)
#   -> UNet:       preprocess -> train -> predict, one binary run per organ (decode.unet)
#   -> evaluate both methods' masks per organ with the same metrics -> results/decode/report.html
# The segmentation stages read a configuration derived from the run's (segpipe.experiments.decode_comparison),
# snapshotted like CONFIG_SNAPSHOT but under results/decode/configs/. Every rule carries the settings it depends on in `params:`
# (rerun trigger), as in common.smk.
from segpipe.experiments.grid import training_settings
from segpipe.experiments.decode_comparison import comparison_config, compared_runs

DECODE = RESULTS / "decode"
DECODE_MODEL_DIR = DECODE / "model"
DECODE_OUTPUT = DECODE / "hybridgnet"
DECODE_UNET = DECODE / "unet"
DECODE_MANIFEST = DECODE / "preprocessed" / "manifest.json"
DECODE_SCORES = DECODE / "scores"
DECODE_REPORT = DECODE / "report.html"
DECODE_GPUS = int(config["decode"]["train"]["device"] == "cuda")

COMPARISON = comparison_config(config)
COMPARISON_SNAPSHOT = write_config_snapshot(config_snapshot_path(DECODE / "configs", COMPARISON), COMPARISON)
COMPARED = compared_runs(config)
# Predictions directory of every compared run: HybridGNet's come out of one decode job.
COMPARED_PREDICTIONS = {
    run.run_id: str(DECODE_OUTPUT / "predictions" / run.organ) if run.method == "hybridgnet"
    else str(DECODE_UNET / run.run_id / "predictions")
    for run in COMPARED
}

if config["decode"]["dataset"] is None:
    CHEST_DATA = RESULTS / "data" / "chest"

    rule synth_chest:
        """Generate the synthetic chest x-ray-like landmark dataset (clean and occluded test sets)."""
        output:
            CHEST_DATA / "dataset.json",
        params:
            out=CHEST_DATA,
            settings=canonical({"template": config["decode"]["template"], "synthetic": config["decode"]["synthetic"]}),
        log:
            LOGS / "decode" / "synth_chest.log",
        benchmark:
            BENCHMARKS / "decode" / "synth_chest.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=0,
        shell:
            "segpipe synth chest --config {CONFIG_SNAPSHOT:q} --out {params.out:q} > {log:q} 2>&1"

elif (Path(config["decode"]["dataset"]) / "dataset.json").is_file():
    CHEST_DATA = Path(config["decode"]["dataset"])

else:
    # Gaggion's JSRT layout: described in segpipe's layout (reference masks from the landmarks).
    CHEST_DATA = RESULTS / "data" / "chest_imported"

    rule import_landmarks:
        """Describe the JSRT-style dataset in segpipe's layout, with organ masks from its landmarks."""
        input:
            config["decode"]["dataset"],
        output:
            CHEST_DATA / "dataset.json",
        params:
            out=CHEST_DATA,
            template=config["decode"]["template"],
        log:
            LOGS / "decode" / "import_landmarks.log",
        benchmark:
            BENCHMARKS / "decode" / "import_landmarks.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=0,
        shell:
            "segpipe import-landmarks --config {CONFIG_SNAPSHOT:q} --dataset {input:q} --out {params.out:q} > {log:q} 2>&1"


CHEST_INPUT = CHEST_DATA / "dataset.json"


rule train_landmarks:
    """Train HybridGNet; re-running a killed job resumes from its last checkpoint."""
    input:
        dataset=CHEST_INPUT,
    output:
        model=DECODE_MODEL_DIR / "model.pt",
        log=DECODE_MODEL_DIR / "train_log.csv",
    params:
        out=DECODE_MODEL_DIR,
        dataset=CHEST_DATA,
        settings=canonical({key: config["decode"][key] for key in ("template", "model", "train")}),
    log:
        LOGS / "decode" / "train_landmarks.log",
    benchmark:
        BENCHMARKS / "decode" / "train_landmarks.tsv"
    # The network is small: one thread ran 1000 iterations in about 90 s here, while two threads
    # on two cores shared with other jobs were four times slower than one.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=DECODE_GPUS,
    shell:
        "segpipe train-landmarks --config {CONFIG_SNAPSHOT:q} --dataset {params.dataset:q}"
        " --out {params.out:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule decode_landmarks:
    """Decode landmark contours and organ masks for every test image (all groups)."""
    input:
        model=DECODE_MODEL_DIR / "model.pt",
        dataset=CHEST_INPUT,
    output:
        index=DECODE_OUTPUT / "decoded.json",
        predictions=[directory(COMPARED_PREDICTIONS[run.run_id]) for run in COMPARED if run.method == "hybridgnet"],
    params:
        out=DECODE_OUTPUT,
        dataset=CHEST_DATA,
        seed=config["decode"]["train"]["seed"],  # rerun trigger: recorded in the run identifiers
    log:
        LOGS / "decode" / "decode.log",
    benchmark:
        BENCHMARKS / "decode" / "decode.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=DECODE_GPUS,
    shell:
        "segpipe decode --config {CONFIG_SNAPSHOT:q} --model {input.model:q} --dataset {params.dataset:q}"
        " --out {params.out:q} --split test --threads {threads} > {log:q} 2>&1"


rule evaluate_decode:
    """Score the decoded landmarks against the references and the mean-shape baseline."""
    input:
        index=DECODE_OUTPUT / "decoded.json",
        model=DECODE_MODEL_DIR / "model.pt",
        dataset=CHEST_INPUT,
    output:
        summary=DECODE_SCORES / "summary.json",
        landmarks=DECODE_SCORES / "landmarks.csv",
    params:
        decoded=DECODE_OUTPUT,
        dataset=CHEST_DATA,
        out=DECODE_SCORES,
    log:
        LOGS / "decode" / "evaluate_decode.log",
    benchmark:
        BENCHMARKS / "decode" / "evaluate_decode.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe evaluate-decode --config {CONFIG_SNAPSHOT:q} --decoded {params.decoded:q}"
        " --dataset {params.dataset:q} --out {params.out:q} > {log:q} 2>&1"


rule decode_preprocess:
    """Preprocess the landmark dataset for the segmentation pipeline (its label types include every organ)."""
    input:
        dataset=CHEST_INPUT,
    output:
        manifest=DECODE_MANIFEST,
    params:
        dataset=CHEST_DATA,
        out=DECODE_MANIFEST.parent,
        preprocess=canonical(COMPARISON["preprocess"]),  # rerun trigger
    log:
        LOGS / "decode" / "preprocess.log",
    benchmark:
        BENCHMARKS / "decode" / "preprocess.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe preprocess --config {COMPARISON_SNAPSHOT:q} --dataset {params.dataset:q} --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule decode_train_unet:
    """Train the segmentation network on one organ; a killed job resumes from its last checkpoint."""
    input:
        manifest=DECODE_MANIFEST,
    output:
        model=DECODE_UNET / "{run}" / "model.pt",
        log=DECODE_UNET / "{run}" / "train_log.csv",
    params:
        out=lambda wildcards: DECODE_UNET / wildcards.run,
        settings=lambda wildcards: canonical(training_settings(COMPARISON, wildcards.run)),  # rerun trigger
    log:
        LOGS / "decode" / "train" / "{run}.log",
    benchmark:
        BENCHMARKS / "decode" / "train" / "{run}.tsv"
    # One thread per job: on few cores the organs (and HybridGNet) train side by side instead.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=int(COMPARISON["train"]["device"] == "cuda"),
    shell:
        "segpipe train --config {COMPARISON_SNAPSHOT:q} --manifest {input.manifest:q} --run {wildcards.run}"
        " --out {params.out:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule decode_predict_unet:
    """Predict the test cases (clean and occluded) with one organ's network."""
    input:
        model=DECODE_UNET / "{run}" / "model.pt",
        manifest=DECODE_MANIFEST,
    output:
        predictions=directory(DECODE_UNET / "{run}" / "predictions"),
    params:
        predict=canonical(COMPARISON["predict"]),  # rerun trigger
    log:
        LOGS / "decode" / "predict" / "{run}.log",
    benchmark:
        BENCHMARKS / "decode" / "predict" / "{run}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=int(COMPARISON["predict"]["device"] == "cuda"),
    shell:
        "segpipe predict --config {COMPARISON_SNAPSHOT:q} --manifest {input.manifest:q} --model {input.model:q}"
        " --out {output.predictions:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule decode_evaluate:
    """Score one method's masks of one organ against that organ's reference masks."""
    input:
        predictions=lambda wildcards: COMPARED_PREDICTIONS[wildcards.run],
        manifest=DECODE_MANIFEST,
    output:
        metrics=DECODE_SCORES / "{run}.csv",
    params:
        evaluate=canonical(COMPARISON["evaluate"]),  # rerun trigger
    log:
        LOGS / "decode" / "evaluate" / "{run}.log",
    benchmark:
        BENCHMARKS / "decode" / "evaluate" / "{run}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe evaluate --config {COMPARISON_SNAPSHOT:q} --manifest {input.manifest:q}"
        " --predictions {input.predictions:q} --out {output.metrics:q} --threads {threads} > {log:q} 2>&1"


rule decode_report:
    """The decode report: both methods per organ, clean and occluded, landmark errors, overlays."""
    input:
        metrics=[DECODE_SCORES / f"{run.run_id}.csv" for run in COMPARED],
        predictions=[COMPARED_PREDICTIONS[run.run_id] for run in COMPARED],
        landmarks=DECODE_SCORES / "landmarks.csv",
        decoded=DECODE_OUTPUT / "decoded.json",
        manifest=DECODE_MANIFEST,
    output:
        report=DECODE_REPORT,
    params:
        decoded=DECODE_OUTPUT,
        report=canonical(config["report"]),  # rerun trigger
    log:
        LOGS / "decode" / "report.log",
    benchmark:
        BENCHMARKS / "decode" / "report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    shell:
        "segpipe report --profile decode --config {CONFIG_SNAPSHOT:q} --metrics {input.metrics:q}"
        " --input landmarks={input.landmarks:q} --manifest {input.manifest:q} --predictions {input.predictions:q}"
        " --input decoded={params.decoded:q} --out {output.report:q} > {log:q} 2>&1"


rule decode:
    """Target: HybridGNet and the UNet trained, test images decoded and predicted, scored and reported."""
    input:
        DECODE_REPORT,
