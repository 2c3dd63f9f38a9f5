rule spm:
    """SPM1D paired tests of the contrasts without covariates on the
    subject-mean waveforms (a job of its own: the figures need only these
    tables and are drawn while the mixed models are fitted)."""
    input:
        waveforms=dataset_tables("waveforms"),
    output:
        waveform_spm="reports/tables/waveform_spm.parquet",
        waveform_clusters="reports/tables/waveform_clusters.parquet",
        waveform_clusters_csv=report(
            "reports/tables/waveform_clusters.csv",
            caption="../report/waveform_clusters.rst",
            category="Tables",
        ),
        waveform_spm_csv="reports/tables/waveform_spm.csv",
    params:
        code=CODE_VERSION,
        stats=config["stats"],
    log:
        "logs/spm.log",
    benchmark:
        "benchmarks/spm.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/spm.py"


rule stats:
    """Configured contrasts on every dataset: paired tests, mixed models, Holm,
    TOST, claims scorecard, plausibility flags per condition and their balance
    between the levels of each contrast."""
    input:
        measures=dataset_tables("measures"),
        emg_quality=dataset_tables("emg_quality"),
        claims=claims_file(),
    output:
        contrasts="reports/tables/contrasts.parquet",
        exclusions="reports/tables/exclusions.parquet",
        claims="reports/tables/claims.parquet",
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
        qc_plausibility="reports/tables/qc_plausibility.parquet",
        qc_plausibility_contrasts="reports/tables/qc_plausibility_contrasts.parquet",
        qc_plausibility_csv="reports/tables/qc_plausibility.csv",
        qc_plausibility_contrasts_csv="reports/tables/qc_plausibility_contrasts.csv",
    params:
        code=CODE_VERSION,
        stats=config["stats"],
    # worker processes for the per-measure tests (results do not depend on
    # their number); a local run scales this down to --cores, a cluster
    # profile sets it (workflow/profiles/slurm). A fixed number, not
    # workflow.cores, so --dag/--rulegraph/--lint work without --cores.
    threads: 8
    log:
        "logs/stats.log",
    benchmark:
        "benchmarks/stats.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/stats.py"


if META_TABLES:

    rule meta_analysis:
        """Published FW vs BW effects pooled with the datasets' own (random effects), forest plots."""
        input:
            contrasts="reports/tables/contrasts.parquet",
            trials=dataset_tables("trials"),
            literature=literature_file(),
        output:
            studies="reports/tables/meta_studies.parquet",
            pooled="reports/tables/meta_pooled.parquet",
            studies_csv="reports/tables/meta_studies.csv",
            pooled_csv=report(
                "reports/tables/meta_pooled.csv",
                caption="../report/meta_pooled.rst",
                category="Tables",
            ),
            forest=[
                report(
                    f"reports/figures/meta/forest_{m}.png",
                    caption="../report/forest.rst",
                    category="Figures",
                    subcategory="meta-analysis",
                )
                for m in META_MEASURES
            ],
        params:
            code=CODE_VERSION,
            meta=config.get("meta_analysis", {}),
        log:
            "logs/meta_analysis.log",
        benchmark:
            "benchmarks/meta_analysis.tsv"
        conda:
            "../envs/retrogait.yaml"
        script:
            "../scripts/meta_analysis.py"
