# Helpers shared by the rule files. Configuration and the dataset manifest
# are validated here, at parse time, before any job runs.

import sys
from pathlib import Path

from snakemake.utils import min_version, update_config

from retrogait.codeversion import LOCK_FILE, code_fingerprint
from retrogait.config import check_yaml_files, coerce_overrides
from retrogait.runconfig import CONFIG_SCHEMA, load_run

min_version("8.10")

# Snakemake's own YAML loader names neither the file nor the line of a syntax
# error and keeps the last of repeated keys silently: parse the config files
# strictly first (a ConfigError names file, line and column).
check_yaml_files(["config/config.yaml", *(getattr(workflow, "overwrite_configfiles", None) or [])])


configfile: "config/config.yaml"


report: "../report/workflow.rst"


# Project root: the folder holding workflow/, config/ and src/.
ROOT = Path(workflow.basedir).parent

# Snakemake reads nested --config values as text (stats='{"alpha": 0.01}'
# arrives as "0.01"): give them the types the config schema declares.
update_config(
    config,
    coerce_overrides(workflow.config_settings.overwrite_config, ROOT / CONFIG_SCHEMA),
)

# Version + hash of the retrogait package's code and of the dependency lock:
# a params value of every rule that runs library code, so editing the
# library or changing the locked versions reruns those jobs (Snakemake's own
# "code" trigger sees only the rule's script). Downloads (fetch) do not
# depend on it.
CODE_VERSION = code_fingerprint(lock=ROOT / LOCK_FILE)

# Validated config + manifest + adapter plans (raises a ConfigError naming
# the offending key, dataset or file).
RUN = load_run(config, root=ROOT)


onstart:
    # Before the first job (not in dry runs): every dataset that still has
    # files to fetch can be obtained from the mirror or over the network;
    # otherwise one message with the ways forward, and no job starts.
    problem = RUN.source_problem()
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)


# The same patterns as the schemas: safe identifiers, no folder separators, no markup.
wildcard_constraints:
    dataset="[a-z0-9][a-z0-9_-]*",
    subject="[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",


SUBJECT_FILES = ["trials", "kinematics", "forces", "emg", "events", "plates", "data_checks"]
# Tables of the cycles job of one subject; "measures" (per-cycle measures) is
# made in the same job from the cycles and waveforms (rules/cycles.smk).
CYCLE_FILES = [
    "cycles",
    "events_used",
    "waveforms",
    "emg_quality",
    "emg_references",
    "trial_notes",
    "measures",
]
DATASET_TABLES = [
    "trials",
    "cycles",
    "waveforms",
    "measures",
    "subject_means",
    "emg_quality",
    "emg_references",
    "data_checks",
]
# Figures of each dataset: (file name, caption file in workflow/report/).
# One SPM1D figure pair per configured contrast (knee variables, EMG); a
# contrast that does not apply to a dataset gets a figure saying so, because
# Snakemake needs its outputs known before the data are read.
# (figure, caption) of the figures job and of the SPM figures job of each dataset
DESCRIPTIVE_FIGURES = [
    ("waveforms_kinematics", "waveforms_kinematics"),
    ("waveforms_kinetics", "waveforms_kinetics"),
    ("waveforms_emg", "waveforms_emg"),
    ("paired_measures", "paired_measures"),
    ("qc_overview", "qc_overview"),
]
SPM_FIGURES = [
    (f"spm_{c['id']}_{family}", f"spm_{family}")
    for c in RUN.config["stats"]["contrasts"]
    for family in ("knee", "emg")
]
FIGURES = DESCRIPTIVE_FIGURES + SPM_FIGURES


def subject_path(dataset, subject, name):
    return f"data/processed/{dataset}/subjects/{subject}/{name}.parquet"


def subject_outputs(names):
    """Output paths of a per-subject rule, with wildcards."""
    return [f"data/processed/{{dataset}}/subjects/{{subject}}/{n}.parquet" for n in names]


def dataset_subject_files(name):
    """Input function: one per-subject file of every subject of a dataset."""

    def inner(wildcards):
        return [
            subject_path(wildcards.dataset, s, name)
            for s in RUN.subjects(wildcards.dataset)
        ]

    return inner


def adapter_config_files(wildcards):
    """Channel maps and tables that change how a dataset is read."""
    return [
        str(ROOT / p) for p in RUN.adapter(wildcards.dataset).config_files()
    ]


def dataset_tables(name):
    """Combined table ``name`` of every dataset of the run."""
    return [f"data/processed/{d}/{name}.parquet" for d in RUN.datasets]


def literature_file():
    """The published summary table of the meta-analysis, when configured."""
    path = RUN.config["meta_analysis"].get("literature")
    return [str(ROOT / path)] if path else []


# One forest plot per measure that the literature table maps to a retrogait
# measure (known when the workflow is parsed, so the outputs are fixed).
META_MEASURES = (
    sorted(m for m in set(RUN.literature["measure"]) if m)
    if RUN.literature is not None
    else []
)
META_TABLES = ["meta_studies", "meta_pooled"] if RUN.literature is not None else []


def meta_figures():
    return [f"reports/figures/meta/forest_{m}.png" for m in META_MEASURES]


def meta_tables():
    return {name: f"reports/tables/{name}.parquet" for name in META_TABLES}


def all_figures():
    return [
        f"reports/figures/{d}/{f}.png" for d in RUN.datasets for f, _ in FIGURES
    ] + meta_figures()


def all_benchmarks():
    """Benchmark files (wall time, CPU, peak memory) of every job before the report."""
    per_subject = [
        f"benchmarks/{rule}/{d}/{s}.tsv"
        for rule in ("fetch", "ingest", "cycles")
        for d, s in RUN.pairs()
    ]
    per_dataset = [
        f"benchmarks/{rule}/{d}.tsv"
        for rule in ("combine", "figures", "spm_figures")
        for d in RUN.datasets
    ]
    return (
        per_subject
        + per_dataset
        + ["benchmarks/stats.tsv", "benchmarks/spm.tsv"]
        + (["benchmarks/meta_analysis.tsv"] if META_TABLES else [])
    )


def all_provenance():
    return [
        f"data/raw/{d}/.provenance/{s}.json" for d, s in RUN.pairs()
    ]


def claims_file():
    """The claims scorecard file, when configured (edits rerun the statistics)."""
    path = RUN.config.get("claims")
    return [str(ROOT / path)] if path else []
