# retrogait: `make run` runs the workflow, `make test` runs the test suite.
# Both create the virtual environment .venv (and install the package with
# its test dependencies) when it is missing or pyproject.toml has changed.
#
#   make run                               # datasets from config/config.yaml
#   make run DATASETS=biomechzoo-esmac     # comma-separated dataset ids
#   RETROGAIT_MIRROR=/path/to/mirror make run DATASETS=biomechzoo-esmac
#   make report                            # also Snakemake's own report

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed-stamp
SNAKEMAKE_ARGS ?=
DATASETS ?=

CONFIG_ARGS := $(if $(DATASETS),--config datasets='[$(DATASETS)]')

.PHONY: run test lint report bench clean help

help:
	@sed -n '1,12p' Makefile

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
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
