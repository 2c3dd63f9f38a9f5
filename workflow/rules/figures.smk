rule figures:
    """Waveforms by condition, paired subject plots and QC overview of one dataset."""
    input:
        waveforms="data/processed/{dataset}/waveforms.parquet",
        measures="data/processed/{dataset}/measures.parquet",
        cycles="data/processed/{dataset}/cycles.parquet",
    output:
        [
            report(
                f"reports/figures/{{dataset}}/{name}.png",
                caption=f"../report/{caption}.rst",
                category="Figures",
                subcategory="{dataset}",
            )
            for name, caption in DESCRIPTIVE_FIGURES
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


rule spm_figures:
    """SPM1D figures of one dataset: each contrast's mean curves and SPM{t} with
    its threshold (a job of its own, drawn beside the other figures)."""
    input:
        waveforms="data/processed/{dataset}/waveforms.parquet",
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
            for name, caption in SPM_FIGURES
        ],
    params:
        code=CODE_VERSION,
        contrasts=config["stats"]["contrasts"],
    log:
        "logs/spm_figures/{dataset}.log",
    benchmark:
        "benchmarks/spm_figures/{dataset}.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/spm_figures.py"
