rule figures:
    """Waveforms by condition, paired subject plots, SPM1D contrasts and QC overview of one dataset."""
    input:
        waveforms="data/processed/{dataset}/waveforms.parquet",
        measures="data/processed/{dataset}/measures.parquet",
        cycles="data/processed/{dataset}/cycles.parquet",
        spm="reports/tables/waveform_spm.parquet",
        clusters="reports/tables/waveform_clusters.parquet",
    output:
        [
            report(
                f"reports/figures/{{dataset}}/{name}.png",
                caption=f"../report/{caption}.rst",
                category="Figures",
                subcategory="{dataset}",
            )
            for name, caption in FIGURES
        ],
    params:
        code=CODE_VERSION,
        contrasts=config["stats"]["contrasts"],
    log:
        "logs/figures/{dataset}.log",
    benchmark:
        "benchmarks/figures/{dataset}.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/figures.py"
