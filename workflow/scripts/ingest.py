"""Snakemake job: canonical trials of one subject (retrogait.stages.ingest_subject)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import ingest_subject

with logged(snakemake.log[0]):
    ingest_subject(
        snakemake.config,
        dataset=snakemake.wildcards.dataset,
        subject=snakemake.wildcards.subject,
        provenance=snakemake.input.provenance,
        outputs=snakemake.output,
        root=Path(snakemake.scriptdir).resolve().parents[1],
    )
