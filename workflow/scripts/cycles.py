"""Snakemake job: cycles, waveforms and per-cycle measures of one subject (retrogait.stages.cycles_subject)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import cycles_subject

with logged(snakemake.log[0]):
    cycles_subject(
        snakemake.config,
        subject_dir=Path(snakemake.input[0]).parent,
        outputs=snakemake.output,
    )
