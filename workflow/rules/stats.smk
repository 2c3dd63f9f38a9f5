rule stats:
    """Configured contrasts on every dataset: paired tests, mixed models, Holm."""
    input:
        measures=dataset_tables("measures"),
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
    params:
        stats=config["stats"],
    threads: workflow.cores
    log:
        "logs/stats.log",
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/stats.py"
