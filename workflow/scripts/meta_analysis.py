"""Snakemake job: meta-analysis of published and dataset effects (retrogait.stages.meta_run)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import meta_run

with logged(snakemake.log[0]):
    meta_run(
        snakemake.config,
        contrasts=snakemake.input.contrasts,
        trials=snakemake.input.trials,
        studies=snakemake.output.studies,
        pooled=snakemake.output.pooled,
        forest=list(snakemake.output.forest),
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
