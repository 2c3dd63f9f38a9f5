"""Snakemake job: statistics of all contrasts (retrogait.stages.stats_run)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import STATS_TABLES, stats_run

with logged(snakemake.log[0]):
    stats_run(
        snakemake.config,
        measures=snakemake.input.measures,
        emg_quality=snakemake.input.emg_quality,
        outputs=[snakemake.output[name] for name in STATS_TABLES],
        workers=snakemake.threads,
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
