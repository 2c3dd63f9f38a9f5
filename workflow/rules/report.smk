rule report:
    """The self-contained HTML report (figures embedded)."""
    input:
        provenance=all_provenance(),
        trials=dataset_tables("trials"),
        cycles=dataset_tables("cycles"),
        measures=dataset_tables("measures"),
        emg_quality=dataset_tables("emg_quality"),
        emg_references=dataset_tables("emg_references"),
        data_checks=dataset_tables("data_checks"),
        contrasts="reports/tables/contrasts.parquet",
        exclusions="reports/tables/exclusions.parquet",
        claims="reports/tables/claims.parquet",
        waveform_spm="reports/tables/waveform_spm.parquet",
        waveform_clusters="reports/tables/waveform_clusters.parquet",
        qc_plausibility="reports/tables/qc_plausibility.parquet",
        qc_plausibility_contrasts="reports/tables/qc_plausibility_contrasts.parquet",
        **meta_tables(),
        figures=all_figures(),
        # Snakemake's benchmark file of every job: the report's stage timings
        benchmarks=all_benchmarks(),
    output:
        report("reports/report.html", caption="../report/report.rst", category="Report"),
    params:
        code=CODE_VERSION,
        report=config["report"],
    log:
        "logs/report.log",
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/report.py"

