"""Literature summary adapter: validation up front and Hedges' g from published means/SDs."""

from __future__ import annotations

import csv
import math

import pytest

from retrogait.analysis.literature import (DEFAULT_PATH, EFFECT_COLUMNS, REQUIRED_COLUMNS, literature_effects,
                                        read_literature)
from retrogait.errors import DataError
from retrogait.gait.catalog import MEASURES


def _J(df: int) -> float:
    """Exact Hedges correction, written out independently of retrogait.stats."""
    return math.exp(math.lgamma(df / 2) - 0.5 * math.log(df / 2) - math.lgamma((df - 1) / 2))


BASE = dict(study="Test A 2020", doi="10.0/x", year="2020", n="10", design="paired", activity="walking",
            setting="treadmill", speed_ms="1.0", measure_text="peak PFJ force", measure="pfj_force_peak",
            units="BW", fw_mean="8", fw_sd="2", bw_mean="10", bw_sd="2", source_location="Table 2",
            notes="")


def _write(path, rows, columns=None):
    columns = columns or list(REQUIRED_COLUMNS) + ["n_fw", "n_bw", "speed_matched"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


def test_known_answer_paired_and_independent(tmp_path):
    rows = [BASE,
            dict(BASE, study="Test B 2021", design="independent", n="22", n_bw="10", n_fw="12")]
    table = read_literature(_write(tmp_path / "lit.csv", rows))
    assert list(table["line"]) == [2, 3]
    eff = literature_effects(table, assumed_r=0.5)
    assert list(eff.columns) == EFFECT_COLUMNS
    # paired, n = 10, r = 0.5: S_within = sqrt((4 + 4)/2) = 2, d = (10 - 8)/2 = 1,
    # V_d = (1/10 + 1/20) * 2 * (1 - 0.5) = 0.15; J(9) = Gamma(4.5) / (sqrt(4.5) Gamma(4)) = 0.9138749
    J9 = _J(9)
    assert J9 == pytest.approx(0.9138749, abs=1e-7)
    p = eff.iloc[0]
    assert p.g == pytest.approx(J9 * 1.0) and p["var"] == pytest.approx(J9 ** 2 * 0.15)
    assert p.se == pytest.approx(math.sqrt(J9 ** 2 * 0.15))
    assert p.ci_low == pytest.approx(p.g - 1.959963985 * p.se)
    assert (p.r, p.r_assumed, p.source) == (0.5, True, "literature")
    assert "assumed r = 0.5" in p.note
    # independent, n_bw = 10, n_fw = 12: S_within = 2, d = 1, V_d = 22/120 + 1/44 = 0.2060606...
    J20 = _J(20)
    q = eff.iloc[1]
    assert q.g == pytest.approx(J20) and q["var"] == pytest.approx(J20 ** 2 * (22 / 120 + 1 / 44))
    assert math.isnan(q.r) and not q.r_assumed
    # r changes the paired variance only
    eff8 = literature_effects(table, assumed_r=0.8)
    assert eff8.g.iloc[0] == pytest.approx(p.g) and eff8["var"].iloc[0] == pytest.approx(J9 ** 2 * 0.06)
    assert eff8["var"].iloc[1] == pytest.approx(q["var"])


def test_sign_is_bw_minus_fw(tmp_path):
    table = read_literature(_write(tmp_path / "lit.csv", [dict(BASE, fw_mean="12", bw_mean="10")]))
    assert literature_effects(table).g.iloc[0] < 0


def test_committed_table_loads_and_mapped_measures_exist(repo_root):
    table = read_literature(repo_root / DEFAULT_PATH)
    assert len(table) == 8
    assert set(table["activity"]) <= {"walking", "running"}
    mapped = table[table["measure"] != ""]
    assert len(mapped) >= 1
    assert set(mapped["measure"]) <= set(MEASURES)
    assert (table["fw_sd"] > 0).all() and (table["bw_sd"] > 0).all() and (table["n"] >= 2).all()
    assert table["source_location"].str.strip().ne("").all()
    eff = literature_effects(table)
    assert len(eff) == len(table) and eff["g"].notna().all() and (eff["var"] > 0).all()
    # Roos et al. 2012 (abstract): PFJ force 4.5 (1.5) BW forward vs 3.4 (1.4) BW backward, n = 20
    roos = eff[(eff["label"] == "Roos et al. 2012") & (eff["measure"] == "pfj_force_peak")].iloc[0]
    d = (3.4 - 4.5) / math.sqrt((1.5 ** 2 + 1.4 ** 2) / 2)
    assert roos.g == pytest.approx(_J(19) * d)


@pytest.mark.parametrize("change, match", [
    (dict(fw_sd="-1"), "fw_sd must be > 0"),
    (dict(bw_sd="0"), "bw_sd must be > 0"),
    (dict(activity="cycling"), "activity must be one of"),
    (dict(design="crossover"), "design must be one of"),
    (dict(setting="track"), "setting must be one of"),
    (dict(measure="pfj_force_max"), "not a retrogait measure"),
    (dict(n="1"), "n must be >= 2"),
    (dict(n="10.5"), "n must be a whole number"),
    (dict(bw_mean=""), "bw_mean is blank"),
    (dict(fw_mean="n/a"), "fw_mean must be a number"),
    (dict(speed_ms="-1"), "speed_ms must be > 0"),
    (dict(speed_matched="sometimes"), "speed_matched must be one of"),
    (dict(design="independent", n="20"), "needs n_fw and n_bw"),
    (dict(design="independent", n="20", n_fw="10", n_bw="9"), "must equal n_fw"),
])
def test_bad_rows_name_file_line_and_study(tmp_path, change, match):
    path = _write(tmp_path / "bad.csv", [dict(BASE, measure="", study="Good 2001"),
                                         dict(BASE, study="Broken et al. 1999", **change)])
    with pytest.raises(DataError, match=match) as info:
        read_literature(path)
    msg = str(info.value)
    assert str(path) in msg and "line 3" in msg and "Broken et al. 1999" in msg


def test_missing_column_names_file_and_column(tmp_path):
    cols = [c for c in REQUIRED_COLUMNS if c != "bw_sd"]
    path = _write(tmp_path / "nocol.csv", [BASE], columns=cols)
    with pytest.raises(DataError, match=r"missing required column\(s\) \['bw_sd'\]") as info:
        read_literature(path)
    assert str(path) in str(info.value) and "line 1" in str(info.value)


def test_same_measure_twice_for_one_study_is_refused(tmp_path):
    path = _write(tmp_path / "dup.csv", [BASE, dict(BASE, measure_text="PFJ force again")])
    with pytest.raises(DataError, match="already mapped on line 2"):
        read_literature(path)
    # the same measure in another activity is a different stratum: allowed
    read_literature(_write(tmp_path / "ok.csv", [BASE, dict(BASE, activity="running")]))


def test_missing_file_and_line_numbers_skip_nothing(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_literature(tmp_path / "nope.csv")
    path = _write(tmp_path / "lit.csv", [BASE, dict(BASE, study="Second", fw_sd="-2")])
    with pytest.raises(DataError, match=r"line 3 \(study 'Second'\)"):
        read_literature(path)
