# segpipe: the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
CORES ?= 2
# Build inputs of the package: a change to any of these reinstalls it (and rebuilds the extension).
PACKAGE_INPUTS := pyproject.toml $(shell find cpp_ext -type f 2>/dev/null) workflows/schemas/config.schema.yaml

.PHONY: setup reference run run-topomortar run-vessels3d study study-topomortar test clean

setup: $(VENV)/.installed reference

## reference: fetch the reference Betti matching for the comparison tests (optional: setup goes on
## without it, and those tests are then skipped with the reason)
reference: $(VENV)/.installed
	PYTHON=$(BIN)/python bash scripts/fetch_reference_betti_matching.sh || \
	  echo "warning: could not fetch the reference Betti matching; its comparison tests will be skipped" >&2

$(VENV)/.installed: $(PACKAGE_INPUTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: on CPU machines this takes the local CPU wheel, never CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[workflow,decode,test]'
	touch $@

## run: set up, then run the default workflow (synthetic data, CPU) to results/report.html
run: $(VENV)/.installed
	PATH="$(BIN):$$PATH" snakemake --cores $(CORES) --workflow-profile workflows/profiles/default

## study: set up, then run the TopoMortar-style loss study (config/study.yaml) to results/study/report.html
study: $(VENV)/.installed
	PATH="$(BIN):$$PATH" snakemake --cores $(CORES) --configfile config/study.yaml --workflow-profile workflows/profiles/study study

## study-topomortar: set up, then run TopoMortar's loss study on the real data set (config/study_topomortar.yaml:
## 5 losses x 4 study cases x 3 seeds on ../shared/topomortar/dataset, beside the published per-image
## results) to results/study_topomortar/report.html (about 80 minutes on 2 idle cores, at most 2 hours)
study-topomortar: $(VENV)/.installed
	PATH="$(BIN):$$PATH" snakemake --cores $(CORES) --configfile config/topomortar.yaml config/study_topomortar.yaml --workflow-profile workflows/profiles/study study

## run-topomortar: set up, then run the real TopoMortar preset (../shared/topomortar/dataset, or
## dataset.path) to results/topomortar/report.html (about 12 minutes on 2 cores)
run-topomortar: $(VENV)/.installed
	PATH="$(BIN):$$PATH" snakemake --cores $(CORES) --configfile config/topomortar.yaml --workflow-profile workflows/profiles/default

## run-vessels3d: set up, then run the 3D preset (synthetic vessel volumes, 3D patches, MIP/clDice/Betti
## matching losses) to results/vessels3d/report.html
run-vessels3d: $(VENV)/.installed
	PATH="$(BIN):$$PATH" snakemake --cores $(CORES) --configfile config/vessels3d.yaml --workflow-profile workflows/profiles/default

## test: set up, then run the whole test suite
test: setup
	PATH="$(BIN):$$PATH" pytest -n $(CORES)

clean:
	rm -rf build results .snakemake
