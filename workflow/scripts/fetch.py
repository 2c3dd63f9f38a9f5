"""Snakemake job: fetch one subject's raw files (retrogait.stages.fetch_subject)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import fetch_subject

with logged(snakemake.log[0]):
    fetch_subject(
        snakemake.config,
        dataset=snakemake.wildcards.dataset,
        subject=snakemake.wildcards.subject,
        output=snakemake.output[0],
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
