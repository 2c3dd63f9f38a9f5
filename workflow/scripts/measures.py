"""Snakemake job: per-cycle measures of one subject (retrogait.stages.measures_subject)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import measures_subject

with logged(snakemake.log[0]):
    measures_subject(
        snakemake.config,
        subject_dir=Path(snakemake.input.signals[0]).parent,
        cycles=snakemake.input.cycles,
        waveforms=snakemake.input.waveforms,
        output=snakemake.output[0],
    )
