"""Stage timings from Snakemake benchmark files (retrogait.report.timings)."""

from __future__ import annotations

import math

import pytest

from retrogait.report.timings import TIMING_COLUMNS, stage_timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n" for s, rss, cpu in rows))
    return path


def test_sums_per_rule_in_data_flow_order_with_a_total(tmp_path):
    b = tmp_path / "benchmarks"
    files = [_bench(b / "cycles" / "gt23" / "AB01.tsv", [(2.0, 300.0, 1.5)]),
             _bench(b / "cycles" / "gt23" / "AB02.tsv", [(3.0, 350.5, 2.5)]),
             _bench(b / "stats.tsv", [(10.0, 400.0, 18.0)]),
             _bench(b / "fetch" / "gt23" / "AB01.tsv", [(0.5, 100.0, 0.25)])]
    out = stage_timings(files)
    assert list(out.columns) == TIMING_COLUMNS
    assert list(out["stage"]) == ["fetch", "cycles", "stats", "total"]
    cyc = out.set_index("stage").loc["cycles"]
    assert cyc["jobs"] == 2 and cyc["wall_total_s"] == 5.0 and cyc["wall_max_s"] == 3.0
    assert cyc["cpu_total_s"] == 4.0 and cyc["max_rss_mb"] == 350.5
    tot = out.set_index("stage").loc["total"]
    assert tot["jobs"] == 4 and tot["wall_total_s"] == 15.5 and tot["max_rss_mb"] == 400.0
    assert tot["cpu_total_s"] == pytest.approx(22.25)


def test_unmeasured_values_are_nan_not_zero(tmp_path):
    p = tmp_path / "benchmarks" / "combine" / "d.tsv"
    p.parent.mkdir(parents=True)
    p.write_text(HEADER + "1.25\t0:00:01\t-\t-\t-\t-\t-\t-\t-\t-\n")
    row = stage_timings([p]).iloc[0]
    assert row["wall_total_s"] == 1.25 and math.isnan(row["max_rss_mb"]) and math.isnan(row["cpu_total_s"])


def test_no_files_gives_an_empty_table_and_bad_files_are_named(tmp_path):
    assert stage_timings([]).empty
    p = tmp_path / "benchmarks" / "x.tsv"
    p.parent.mkdir(parents=True)
    p.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="x.tsv"):
        stage_timings([p])
