# retrogait: `make run` runs the workflow, `make test` runs the test suite.
# Both create the virtual environment .venv (and install the package with
# its test dependencies at the exact versions of requirements-lock.txt) when
# it is missing or pyproject.toml / the lock have changed.
#
#   make run                               # datasets from config/config.yaml (GT23)
#   make run DATASETS=biomechzoo-esmac     # comma-separated dataset ids
#   RETROGAIT_MIRROR=/path/to/mirror make run
#        # offline: without DATASETS, the declared datasets found in the mirror
#   make run PROFILE=slurm                 # on a SLURM cluster (workflow/profiles/slurm), from the login node
#   make report                            # also Snakemake's own report (datasets of the last make run)
#   make unlock                            # remove the lock a killed run left (make run says when)
#   make refetch DATASET=gt23 SUBJECT=AB01 # fetch one subject's raw files again
#   make lock                              # re-resolve requirements-lock.txt (+ conda env files)
#   make test-latest                       # the suite on the newest releases (.venv-latest)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed-stamp
# Exact versions of every dependency (direct and transitive) that make run,
# make test and CI install; pyproject.toml keeps the lower bounds for users
# who install the package into their own environment.
LOCK   := requirements-lock.txt
# The resolver that writes the lock (a pinned uv; any machine resolves the
# same file from the same pyproject.toml and index state).
UV_VERSION := 0.13.9
LATEST_VENV ?= .venv-latest
SNAKEMAKE_ARGS ?=
DATASETS ?=
# a folder of workflow/profiles/ (e.g. slurm); without it jobs run here on $(CORES) cores
PROFILE ?=
EXEC_ARGS := $(if $(PROFILE),--workflow-profile workflow/profiles/$(PROFILE),--cores $(CORES))

comma := ,
empty :=
space := $(empty) $(empty)
# dataset ids declared in the manifest, and those a mirror folder holds
MANIFEST_IDS := $(shell sed -n 's/^  \([a-z0-9][a-z0-9_-]*\):$$/\1/p' config/datasets.yaml)
MIRROR_IDS := $(if $(RETROGAIT_MIRROR),$(filter $(MANIFEST_IDS),$(notdir $(wildcard $(RETROGAIT_MIRROR)/*))))
RUN_DATASETS := $(or $(DATASETS),$(subst $(space),$(comma),$(strip $(MIRROR_IDS))))
CONFIG_ARGS := $(if $(RUN_DATASETS),--config datasets='[$(RUN_DATASETS)]')
# `make run` records the datasets it analysed (`default`: those of
# config/config.yaml) so that `make report` without DATASETS reports the
# same run instead of starting the default datasets.
RUN_STATE ?= .snakemake/retrogait-datasets
LAST_RUN := $(strip $(shell cat $(RUN_STATE) 2>/dev/null))
REPORT_DATASETS := $(if $(DATASETS),$(DATASETS),$(if $(LAST_RUN),$(filter-out default,$(LAST_RUN)),$(RUN_DATASETS)))
REPORT_CONFIG_ARGS := $(if $(REPORT_DATASETS),--config datasets='[$(REPORT_DATASETS)]')
REPORT_FROM := $(if $(DATASETS),DATASETS,$(if $(LAST_RUN),the last make run,$(if $(RUN_DATASETS),the mirror,no make run recorded)))

.PHONY: run test test-latest lock lint report bench clean help unlock refetch check-lock

help:
	@sed -n '1,16p' Makefile

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,slurm]'
	touch $(STAMP)

run: $(STAMP) check-lock
	@$(if $(and $(RETROGAIT_MIRROR),$(if $(DATASETS),,x)),echo "RETROGAIT_MIRROR=$(RETROGAIT_MIRROR): analysing the datasets found in the mirror: $(or $(RUN_DATASETS),none)")
	@mkdir -p $(dir $(RUN_STATE)) && echo '$(or $(RUN_DATASETS),default)' > $(RUN_STATE)
	$(BIN)/snakemake $(EXEC_ARGS) $(CONFIG_ARGS) $(SNAKEMAKE_ARGS)

# A killed run leaves Snakemake's lock in .snakemake/locks; with no snakemake
# running here, say so and how to remove it (instead of Snakemake's
# "Directory cannot be locked").
check-lock:
	@$(PYTHON) tools/snakemake_lock.py

unlock: $(STAMP)
	@$(PYTHON) tools/snakemake_lock.py --unlock-ok
	$(BIN)/snakemake --unlock $(CONFIG_ARGS)

# Delete one subject's raw files, their lock entries and provenance record,
# so that the next run fetches them again (error messages about a damaged or
# corrected raw file name this command).
refetch: $(STAMP)
	@test -n "$(DATASET)" -a -n "$(SUBJECT)" || { echo "usage: make refetch DATASET=<id> SUBJECT=<id>" >&2; exit 2; }
	$(BIN)/python -m retrogait.acquire.refetch $(DATASET) $(SUBJECT)

test: $(STAMP)
	$(BIN)/python -m pytest

# Drift check, run on purpose (e.g. weekly), not by users: the newest releases
# of every dependency in a separate venv. Its result is information: a failure
# here means the lock must not be bumped until the code is fixed.
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade -e '.[test]'
	$(LATEST_VENV)/bin/python -m pip freeze --exclude-editable > $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/python -m pytest

# Re-resolve the lock from pyproject.toml (all platforms, Python >= 3.11, one
# version per package), then write the conda environment files from it.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra slurm --universal --fork-strategy fewest \
	    --python-version 3.11 --custom-compile-command 'make lock' -o $(LOCK)
	$(BIN)/python tools/sync_conda_envs.py

lint: $(STAMP)
	$(BIN)/snakemake --lint $(CONFIG_ARGS)

report: $(STAMP)
	@echo "make report: datasets $(or $(REPORT_DATASETS),of config/config.yaml) (from $(REPORT_FROM); DATASETS=... chooses)"
	$(BIN)/snakemake $(EXEC_ARGS) $(REPORT_CONFIG_ARGS) $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores 1 $(REPORT_CONFIG_ARGS) --report reports/snakemake-report.html

bench: $(STAMP)
	$(BIN)/python bench/run_benchmarks.py

clean:
	rm -rf .snakemake logs benchmarks data/processed/*/ reports/report.html reports/figures reports/tables
