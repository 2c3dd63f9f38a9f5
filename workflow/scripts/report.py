"""Snakemake job: the HTML report (retrogait.stages.report_run)."""

from pathlib import Path

from retrogait.logs import logged
from retrogait.stages import report_run

with logged(snakemake.log[0]):
    report_run(
        snakemake.config,
        root=Path(snakemake.scriptdir).resolve().parents[1],
        inputs={name: list(files) if not isinstance(files, str) else [files]
                for name, files in snakemake.input.items()},
        output=snakemake.output[0],
    )
