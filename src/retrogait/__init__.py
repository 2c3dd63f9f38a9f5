"""retrogait: backward vs forward walking from public gait data.

The package holds all logic of the pipeline; the Snakemake workflow in
``workflow/`` only calls it. Data flow one way through its modules:
fetch -> adapters (ingest) -> cycles -> measures -> stats -> figures -> report.
"""

__version__ = "0.1.0"
