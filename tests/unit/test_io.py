"""Atomic writes and unit metadata in parquet files."""

import os
import stat

import pandas as pd
import pytest

from retrogait.io import atomic_path, read_parquet, read_units, sha256_file, write_json, write_parquet


def test_units_travel_with_the_columns(tmp_path):
    df = pd.DataFrame({"subject": ["a", "b"], "value": [1.0, 2.0]})
    write_parquet(df, tmp_path / "t.parquet", units={"value": "N.m/kg"})
    back, units = read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert units == {"value": "N.m/kg"}
    assert read_units(tmp_path / "t.parquet") == {"value": "N.m/kg"}


def test_units_for_unknown_columns_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="not in the table"):
        write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet", units={"b": "m"})


def test_parquet_output_is_byte_identical_on_rewrite(tmp_path):
    df = pd.DataFrame({"x": [0.1, 0.2, 0.3], "s": ["a", "b", "c"]})
    write_parquet(df, tmp_path / "a.parquet", units={"x": "m"})
    write_parquet(df, tmp_path / "b.parquet", units={"x": "m"})
    assert sha256_file(tmp_path / "a.parquet") == sha256_file(tmp_path / "b.parquet")


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.json"
    write_json({"a": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{")
            raise RuntimeError("boom")
    assert target.read_text() == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
@pytest.mark.parametrize("writer", ["text", "json", "parquet"])
def test_outputs_follow_the_umask(tmp_path, umask, writer):
    """mkstemp creates 0600 files; every atomic writer must give 0666 & ~umask, like open() does."""
    from retrogait.io import write_json, write_text
    target = tmp_path / f"out.{writer}"
    old = os.umask(umask)
    try:
        if writer == "text":
            write_text("x", target)
        elif writer == "json":
            write_json({"a": 1}, target)
        else:
            write_parquet(pd.DataFrame({"a": [1.0]}), target)
        reference = tmp_path / "plain"
        reference.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
