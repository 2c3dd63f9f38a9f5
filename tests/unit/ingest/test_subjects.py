"""Subjects tables (subject, mass_kg, height_m, source) and project-relative paths."""

from __future__ import annotations

import pytest

from retrogait.errors import ConfigError
from retrogait.ingest.subjects import read_subjects_table


def test_table_is_read_with_blank_heights_and_sources(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("subject,mass_kg,height_m,source\nS01,60.5,1.7,sheet\nS02,70,,\n")
    t = read_subjects_table(p, name="s.csv")
    assert t.loc["S01", "mass_kg"] == 60.5 and t.loc["S02", "source"] == ""
    assert t["height_m"].isna().tolist() == [False, True]


@pytest.mark.parametrize("text, message", [
    ("id,mass\nS01,60\n", r"missing column\(s\) \['subject', 'mass_kg'\]"),
    ("subject,mass_kg\nS01,60\nS01,61\n", r"duplicate subject id\(s\) \['S01'\]"),
    ("subject,mass_kg\nS01,sixty\n", r"non-numeric mass_kg for subject\(s\) \['S01'\]"),
])
def test_bad_tables_are_config_errors_naming_the_file(tmp_path, text, message):
    p = tmp_path / "s.csv"
    p.write_text(text)
    with pytest.raises(ConfigError, match=f"s.csv: {message}"):
        read_subjects_table(p, name="s.csv")
    with pytest.raises(ConfigError, match="subjects table nope.csv not found"):
        read_subjects_table(tmp_path / "nope.csv", name="nope.csv")
