"""Snakemake job: statistics of all contrasts (retrogait.stages.stats_run)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import stats_run

with logged(snakemake.log[0]):
    stats_run(
        snakemake.config,
        measures=snakemake.input.measures,
        outputs=[snakemake.output.contrasts, snakemake.output.exclusions, snakemake.output.claims],
        workers=snakemake.threads,
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
