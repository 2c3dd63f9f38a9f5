"""Snakemake job: SPM1D paired tests on the waveforms (retrogait.stages.spm_run)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import SPM_TABLES, spm_run

with logged(snakemake.log[0]):
    spm_run(
        snakemake.config,
        waveforms=snakemake.input.waveforms,
        outputs=[snakemake.output[name] for name in SPM_TABLES],
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
