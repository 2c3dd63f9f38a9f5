"""How long each stage of the run took, from Snakemake's ``benchmark:`` files.

Every rule that does work writes a benchmark file
(``benchmarks/<rule>/...tsv``, Snakemake's format: one row per job with the
wall time ``s``, ``max_rss`` in MB and ``cpu_time`` in s, among others).
:func:`stage_timings` sums them per rule for the report's Software section.
These are run metadata: they differ between two runs of the same data and
config, unlike every other number of the report.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["STAGE_ORDER", "TIMING_COLUMNS", "stage_timings"]

#: Rules in data-flow order (others follow alphabetically).
STAGE_ORDER = ("fetch", "ingest", "cycles", "combine", "spm", "stats", "meta_analysis", "figures",
               "spm_figures")

#: Columns of :func:`stage_timings` (units in the names).
TIMING_COLUMNS = ["stage", "jobs", "wall_total_s", "wall_max_s", "cpu_total_s", "max_rss_mb"]


def _rule_of(path: Path) -> str:
    """``benchmarks/<rule>/...`` -> ``<rule>``; ``benchmarks/<rule>.tsv`` -> ``<rule>``."""
    parts = path.as_posix().split("/")
    i = len(parts) - 1 - parts[::-1].index("benchmarks") if "benchmarks" in parts else None
    if i is None or i + 1 >= len(parts):
        raise ValueError(f"{path}: not under a benchmarks/ folder")
    rest = parts[i + 1:]
    return rest[0] if len(rest) > 1 else Path(rest[0]).stem


def stage_timings(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Per-rule totals of Snakemake benchmark files.

    Parameters
    ----------
    paths : sequence of path-like
        Benchmark files (tab-separated, Snakemake's columns ``s``,
        ``max_rss``, ``cpu_time``), each under a ``benchmarks/<rule>/``
        folder or named ``benchmarks/<rule>.tsv``.

    Returns
    -------
    pandas.DataFrame
        :data:`TIMING_COLUMNS`, one row per rule in data-flow order, then a
        ``total`` row: ``jobs``, ``wall_total_s`` (sum of the jobs' wall
        times, s; jobs running at the same time both count), ``wall_max_s``
        (longest job, s), ``cpu_total_s`` (user + system CPU, s) and
        ``max_rss_mb`` (largest resident set of one job, MB). Values a
        benchmark file lacks (Snakemake writes ``-`` when it could not
        measure) are NaN.
    """
    rows = []
    for p in paths:
        p = Path(p)
        df = pd.read_csv(p, sep="\t", na_values=["-", "NA"])
        missing = [c for c in ("s", "max_rss", "cpu_time") if c not in df.columns]
        if missing:
            raise ValueError(f"{p}: benchmark file without column(s) {missing}")
        for rec in df.itertuples(index=False):
            rows.append({"stage": _rule_of(p), "wall": float(rec.s), "cpu": float(rec.cpu_time),
                         "rss": float(rec.max_rss)})
    if not rows:
        return pd.DataFrame(columns=TIMING_COLUMNS)
    jobs = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    out = (jobs.groupby("stage", sort=False)
           .agg(jobs=("wall", "size"), wall_total_s=("wall", "sum"), wall_max_s=("wall", "max"),
                cpu_total_s=("cpu", lambda s: s.sum(min_count=1)), max_rss_mb=("rss", "max"))
           .reset_index())
    out = out.sort_values("stage", key=lambda s: s.map(lambda x: (order.get(x, len(order)), x)),
                          ignore_index=True)
    total = {"stage": "total", "jobs": int(out["jobs"].sum()), "wall_total_s": out["wall_total_s"].sum(),
             "wall_max_s": out["wall_max_s"].max(), "cpu_total_s": out["cpu_total_s"].sum(min_count=1),
             "max_rss_mb": out["max_rss_mb"].max()}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out["jobs"] = out["jobs"].astype(int)
    return out[TIMING_COLUMNS]
