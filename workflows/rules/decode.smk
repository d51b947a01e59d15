# Decode (target `decode`): HybridGNet landmark decoding, independent of the segmentation grid.
#   synthetic chest data (or decode.dataset) -> train HybridGNet -> decode the test split
#   (clean and occluded groups) -> evaluate against the references and the mean-shape baseline.
# Every rule carries the configuration it depends on in `params:` (rerun trigger), as in common.smk.

DECODE = RESULTS / "decode"
DECODE_MODEL_DIR = DECODE / "model"
DECODE_OUTPUT = DECODE / "test"
DECODE_SCORES = DECODE / "scores"
DECODE_GPUS = int(config["decode"]["train"]["device"] == "cuda")

if config["decode"]["dataset"] is None:
    CHEST_DATA = RESULTS / "data" / "chest"
    CHEST_INPUT = CHEST_DATA / "dataset.json"

    rule synth_chest:
        """Generate the synthetic chest x-ray-like landmark dataset (clean and occluded test sets)."""
        output:
            CHEST_INPUT,
        params:
            out=CHEST_DATA,
            settings={"template": config["decode"]["template"], "synthetic": config["decode"]["synthetic"]},
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

else:
    CHEST_DATA = Path(config["decode"]["dataset"])
    # segpipe layout: its dataset.json; Gaggion's JSRT layout: the directory itself.
    CHEST_INPUT = CHEST_DATA / "dataset.json" if (CHEST_DATA / "dataset.json").is_file() else CHEST_DATA


rule train_landmarks:
    """Train HybridGNet; re-running a killed job resumes from its last checkpoint."""
    input:
        dataset=CHEST_INPUT,
    output:
        model=DECODE_MODEL_DIR / "model.pt",
        log=DECODE_MODEL_DIR / "log.csv",
    params:
        out=DECODE_MODEL_DIR,
        dataset=CHEST_DATA,
        settings={key: config["decode"][key] for key in ("template", "model", "train")},
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
    params:
        out=DECODE_OUTPUT,
        dataset=CHEST_DATA,
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
    """Score decoded landmarks and masks (Dice, HD95, Betti errors, landmark MSE vs the mean shape)."""
    input:
        index=DECODE_OUTPUT / "decoded.json",
        model=DECODE_MODEL_DIR / "model.pt",
        dataset=CHEST_INPUT,
    output:
        summary=DECODE_SCORES / "summary.json",
        masks=DECODE_SCORES / "masks.csv",
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


rule decode:
    """Target: HybridGNet trained, test images decoded and scored."""
    input:
        DECODE_SCORES / "summary.json",
