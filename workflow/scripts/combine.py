"""Snakemake job: one dataset's canonical tables (retrogait.stages.combine_dataset)."""

from retrogait.logs import logged
from retrogait.stages import combine_dataset

with logged(snakemake.log[0]):
    combine_dataset(
        inputs={name: list(files) for name, files in snakemake.input.items()},
        outputs=snakemake.output,
    )
