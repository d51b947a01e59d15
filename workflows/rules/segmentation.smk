# The segmentation stages: preprocess -> train -> predict -> evaluate, for the runs of config["experiments"].
# The main workflow includes this file; the decode comparison imports it as a Snakemake module with its
# own configuration (decode.smk: `use rule ... from segmentation`), so both run the same rules.

include: "common.smk"
include: "preprocess.smk"
include: "train.smk"
include: "predict.smk"
include: "evaluate.smk"
