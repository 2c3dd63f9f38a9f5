# Per-cycle measures of one subject are made by the cycles job (rules/cycles.smk,
# retrogait.stages.cycles_subject); this file combines them, with the other
# per-subject tables, into each dataset's canonical tables.


rule combine:
    """One dataset's canonical tables: subjects concatenated, subject x condition means."""
    input:
        trials=dataset_subject_files("trials"),
        trial_notes=dataset_subject_files("trial_notes"),
        cycles=dataset_subject_files("cycles"),
        waveforms=dataset_subject_files("waveforms"),
        measures=dataset_subject_files("measures"),
        emg_quality=dataset_subject_files("emg_quality"),
        emg_references=dataset_subject_files("emg_references"),
        data_checks=dataset_subject_files("data_checks"),
    output:
        expand("data/processed/{{dataset}}/{name}.parquet", name=DATASET_TABLES),
    params:
        code=CODE_VERSION,
    log:
        "logs/combine/{dataset}.log",
    benchmark:
        "benchmarks/combine/{dataset}.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/combine.py"
