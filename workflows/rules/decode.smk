# Decode (target `decode`): HybridGNet landmark decoding next to a UNet trained by the segmentation
# pipeline on the same data, independent of the segmentation grid of `all`.
#   chest data (synthetic, a segpipe-layout dataset, or Gaggion's JSRT layout imported)
#   -> HybridGNet: train-landmarks -> decode (landmarks + one predictions directory per organ)
#                  -> evaluate-decode (landmark MSE vs the mean shape)
#   -> UNet: the segmentation rules themselves (segmentation.smk as the module `segmentation`, with the
#      configuration segpipe.experiments.decode_comparison derives: one binary run per organ, results
#      under results/decode/segmentation/) -> preprocess, train, predict, evaluate
#   -> HybridGNet's masks scored by the same evaluate rule -> results/decode/report.html
# Every rule carries the settings it depends on in `params:` (rerun trigger), as in common.smk.
from segpipe.experiments.decode_comparison import comparison_config, compared_runs

DECODE = RESULTS / "decode"
DECODE_MODEL_DIR = DECODE / "model"
DECODE_OUTPUT = DECODE / "hybridgnet"
DECODE_SCORES = DECODE / "scores"
DECODE_REPORT = DECODE / "report.html"
DECODE_GPUS = int(config["decode"]["train"]["device"] == "cuda")

if config["decode"]["dataset"] is None:
    CHEST_DATA = RESULTS / "data" / "chest"
    CHEST_SIGNATURE = "generated"  # tracked through the rule's output

    rule synth_chest:
        """Generate the synthetic chest x-ray-like landmark dataset (clean and occluded test sets)."""
        input:
            configuration,
        output:
            dataset=directory(CHEST_DATA),
        params:
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
            "segpipe synth chest --config {CONFIG_SNAPSHOT:q} --out {output.dataset:q} > {log:q} 2>&1"

elif (Path(config["decode"]["dataset"]) / "dataset.json").is_file():
    CHEST_DATA = Path(config["decode"]["dataset"])
    CHEST_SIGNATURE = dataset_signature(CHEST_DATA)  # any file added, removed or changed

else:
    # Gaggion's JSRT layout: described in segpipe's layout (reference masks from the landmarks).
    CHEST_DATA = RESULTS / "data" / "chest_imported"
    CHEST_SIGNATURE = "generated"  # tracked through the rule's output

    rule import_landmarks:
        """Describe the JSRT-style dataset in segpipe's layout, with organ masks from its landmarks."""
        input:
            configuration,
            source=config["decode"]["dataset"],
        output:
            dataset=directory(CHEST_DATA),
        params:
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
            "segpipe import-landmarks --config {CONFIG_SNAPSHOT:q} --dataset {input.source:q}"
            " --out {output.dataset:q} > {log:q} 2>&1"


# The segmentation side: the segmentation rules under the comparison's configuration and results directory.
COMPARISON = comparison_config(config, dataset=CHEST_DATA)
SEGMENTATION = Path(COMPARISON["results_dir"])
SEGMENTATION_RUN_DIR = str(SEGMENTATION / "runs" / "{run}")
SEGMENTATION_MANIFEST = SEGMENTATION / "preprocessed" / "manifest.json"
COMPARED = compared_runs(config)
# Predictions directory of every compared run: HybridGNet's come out of one decode job.
COMPARED_PREDICTIONS = {
    run.run_id: str(DECODE_OUTPUT / "predictions" / run.organ) if run.method == "hybridgnet"
    else SEGMENTATION_RUN_DIR.format(run=run.run_id) + "/predictions"
    for run in COMPARED
}
COMPARED_METRICS = {
    run.run_id: str(DECODE_SCORES / f"{run.run_id}.csv") if run.method == "hybridgnet"
    else SEGMENTATION_RUN_DIR.format(run=run.run_id) + "/metrics.csv"
    for run in COMPARED
}


# `snakemake -n -p` prints the commands of module rules with the main workflow's CONFIG_SNAPSHOT
# (Snakemake formats displayed commands with the main workflow's globals); the jobs themselves run with
# the comparison's snapshot, under results/decode/segmentation/configs/.
module segmentation:
    snakefile:
        "segmentation.smk"
    config:
        COMPARISON


def comparison_configuration(wildcards):
    """Input function: write the comparison's snapshot, as the module's own rules do (common.smk)."""
    write_config_snapshot(config_snapshot_path(SEGMENTATION / "configs", COMPARISON), COMPARISON)
    return []


use rule preprocess from segmentation as decode_preprocess with:
    params:
        data=CHEST_SIGNATURE,  # rerun trigger
    threads: 2


# One thread per job: on few cores the organs (and HybridGNet) train side by side instead.
use rule train_run from segmentation as decode_train_run with:
    threads: 1


use rule predict_run from segmentation as decode_predict_run with:
    threads: 1


use rule evaluate_run from segmentation as decode_evaluate_run with:
    threads: 1


use rule evaluate_run from segmentation as decode_evaluate_hybridgnet with:
    input:
        comparison_configuration,
        predictions=lambda wildcards: COMPARED_PREDICTIONS[wildcards.run],
        manifest=SEGMENTATION_MANIFEST,
    output:
        metrics=DECODE_SCORES / "{run}.csv",
    log:
        LOGS / "decode" / "evaluate" / "{run}.log",
    benchmark:
        BENCHMARKS / "decode" / "evaluate" / "{run}.tsv"
    threads: 1


rule train_landmarks:
    """Train HybridGNet; re-running a killed job resumes from its last checkpoint."""
    input:
        configuration,
        dataset=CHEST_DATA,
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
        configuration,
        model=DECODE_MODEL_DIR / "model.pt",
        dataset=CHEST_DATA,
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
        configuration,
        index=DECODE_OUTPUT / "decoded.json",
        model=DECODE_MODEL_DIR / "model.pt",
        dataset=CHEST_DATA,
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


rule decode_report:
    """The decode report: both methods per organ, clean and occluded, landmark errors, overlays."""
    input:
        configuration,
        metrics=[COMPARED_METRICS[run.run_id] for run in COMPARED],
        predictions=[COMPARED_PREDICTIONS[run.run_id] for run in COMPARED],
        landmarks=DECODE_SCORES / "landmarks.csv",
        decoded=DECODE_OUTPUT / "decoded.json",
        manifest=SEGMENTATION_MANIFEST,
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
