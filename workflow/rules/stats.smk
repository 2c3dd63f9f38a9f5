rule stats:
    """Configured contrasts on every dataset: paired tests, mixed models, Holm,
    TOST, SPM1D on waveforms, claims scorecard."""
    input:
        measures=dataset_tables("measures"),
        waveforms=dataset_tables("waveforms"),
        claims=claims_file(),
    output:
        contrasts="reports/tables/contrasts.parquet",
        exclusions="reports/tables/exclusions.parquet",
        claims="reports/tables/claims.parquet",
        waveform_spm="reports/tables/waveform_spm.parquet",
        waveform_clusters="reports/tables/waveform_clusters.parquet",
        claims_csv=report(
            "reports/tables/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
        ),
        contrasts_csv=report(
            "reports/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Tables",
        ),
        exclusions_csv="reports/tables/exclusions.csv",
        waveform_clusters_csv=report(
            "reports/tables/waveform_clusters.csv",
            caption="../report/waveform_clusters.rst",
            category="Tables",
        ),
        waveform_spm_csv="reports/tables/waveform_spm.csv",
    params:
        code=CODE_VERSION,
        stats=config["stats"],
    threads: workflow.cores
    log:
        "logs/stats.log",
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/stats.py"
