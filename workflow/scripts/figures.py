"""Snakemake job: figures of one dataset (retrogait.stages.figures_dataset)."""

from retrogait.logs import logged
from retrogait.stages import figures_dataset

with logged(snakemake.log[0]):
    figures_dataset(
        snakemake.config,
        dataset=snakemake.wildcards.dataset,
        waveforms=snakemake.input.waveforms,
        measures=snakemake.input.measures,
        cycles=snakemake.input.cycles,
        outputs=snakemake.output,
    )
