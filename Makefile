# retrogait: `make run` runs the workflow, `make test` runs the test suite.
# Both create the virtual environment .venv (and install the package with
# its test dependencies) when it is missing or pyproject.toml has changed.
#
#   make run                               # datasets from config/config.yaml (GT23)
#   make run DATASETS=biomechzoo-esmac     # comma-separated dataset ids
#   RETROGAIT_MIRROR=/path/to/mirror make run
#        # offline: without DATASETS, the declared datasets found in the mirror
#   make report                            # also Snakemake's own report

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed-stamp
SNAKEMAKE_ARGS ?=
DATASETS ?=

comma := ,
empty :=
space := $(empty) $(empty)
# dataset ids declared in the manifest, and those a mirror folder holds
MANIFEST_IDS := $(shell sed -n 's/^  \([a-z0-9][a-z0-9_-]*\):$$/\1/p' config/datasets.yaml)
MIRROR_IDS := $(if $(RETROGAIT_MIRROR),$(filter $(MANIFEST_IDS),$(notdir $(wildcard $(RETROGAIT_MIRROR)/*))))
RUN_DATASETS := $(or $(DATASETS),$(subst $(space),$(comma),$(strip $(MIRROR_IDS))))
CONFIG_ARGS := $(if $(RUN_DATASETS),--config datasets='[$(RUN_DATASETS)]')

.PHONY: run test lint report bench clean help

help:
	@sed -n '1,12p' Makefile

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	@$(if $(and $(RETROGAIT_MIRROR),$(if $(DATASETS),,x)),echo "RETROGAIT_MIRROR=$(RETROGAIT_MIRROR): analysing the datasets found in the mirror: $(or $(RUN_DATASETS),none)")
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARGS) $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/snakemake --lint $(CONFIG_ARGS)

report: run
	$(BIN)/snakemake --cores 1 $(CONFIG_ARGS) --report reports/snakemake-report.html

bench: $(STAMP)
	$(BIN)/python bench/run_benchmarks.py

clean:
	rm -rf .snakemake logs data/processed/*/ reports/report.html reports/figures reports/tables
