rule figures:
    """Waveforms by condition, paired subject plots and QC overview of one dataset."""
    input:
        waveforms="data/processed/{dataset}/waveforms.parquet",
        measures="data/processed/{dataset}/measures.parquet",
        cycles="data/processed/{dataset}/cycles.parquet",
        contrasts="reports/tables/contrasts.parquet",
    output:
        [
            report(
                f"reports/figures/{{dataset}}/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
                subcategory="{dataset}",
            )
            for name in FIGURES
        ],
    params:
        contrasts=config["stats"]["contrasts"],
    log:
        "logs/figures/{dataset}.log",
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/figures.py"
