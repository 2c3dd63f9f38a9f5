"""Snakemake job: SPM1D figures of one dataset (retrogait.stages.spm_figures_dataset)."""

from retrogait.logs import logged
from retrogait.stages import spm_figures_dataset

with logged(snakemake.log[0]):
    spm_figures_dataset(
        snakemake.config,
        dataset=snakemake.wildcards.dataset,
        waveforms=snakemake.input.waveforms,
        spm=snakemake.input.spm,
        clusters=snakemake.input.clusters,
        outputs=snakemake.output,
    )
