"""Waveform SPM per contrast (retrogait.analysis.waveforms) on a synthetic table with known answers.

The synthetic ``waveforms`` table (docs/tables.md layout) has 10 complete
subjects x 2 directions (BW, FW at 0.6 m/s) x 2 sides x 3 cycles of smooth
sine-shaped curves with smooth cycle noise and a subject offset shared by
both levels. Known answers planted:

* ``knee_flexion`` (stride): BW - FW = +8 deg raised-cosine bump on 40-60 %
  only -> exactly one cluster overlapping 40-60 %, sign "a>b";
* ``knee_extensor_moment``, ``knee_adduction_moment``, EMG vastus lateralis
  and rectus femoris: no difference -> no cluster (fixed seed);
* ``emg_biceps_femoris``: identical curves at both levels -> zero variance of
  a - b at every node -> a "skipped" row that still counts in the EMG family (m = 3);
* ``pfj_stress``: 0 for every subject in BW over the first half of stance
  (0-49 %, FW about 2-3 MPa there), and 0 in BOTH directions on 90-100 % ->
  every node tested except 90-100 % (zero variance of the differences, named),
  one cluster "a<b" on the first half of stance;
* ``vgrf``: 4 subjects only -> "too few subjects" row (min_subjects = 5);
* ``pfj_force``: no domain configured -> "skipped" row;
* S10 (BW only) and S11 (FW only) with curves offset by +500: excluded and
  listed, and any use would show in the means; BW rows at 1.0 m/s offset by
  +300 must be removed by the contrast filter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrogait.analysis.contrasts import Contrast
from retrogait.stats import spm_paired
from retrogait.analysis.waveforms import (
    CLUSTER_COLUMNS,
    DEFAULT_DOMAINS,
    SUMMARY_COLUMNS,
    spm_contrasts,
    subject_curves,
)

NODES = [f"pct_{k:03d}" for k in range(101)]
X = np.arange(101.0)
BUMP = np.where((X >= 40) & (X <= 60), np.sin(np.pi * (X - 40) / 20) ** 2, 0.0)
UNITS = {"knee_flexion": "deg", "knee_extensor_moment": "N.m/kg", "knee_adduction_moment": "N.m/kg",
         "pfj_stress": "MPa", "pfj_force": "BW", "vgrf": "BW", "emg_vastus_lateralis": "%ref",
         "emg_rectus_femoris": "%ref", "emg_biceps_femoris": "%ref"}
DOMAIN = {**DEFAULT_DOMAINS, "pfj_force": "stance", "emg_vastus_lateralis": "stride",
          "emg_rectus_femoris": "stride", "emg_biceps_femoris": "stride"}
CONTRAST = Contrast(id="bw_vs_fw_0.6", factor="direction", levels=("BW", "FW"), label="BW vs FW at 0.6 m/s",
                    filter={"speed_mps": 0.6}, family="direction")
NOT_APPLICABLE = Contrast(id="turn_vs_straight", factor="condition", levels=("turn", "straight"))
SIDAK3 = 1 - (1 - 0.05) ** (1 / 3)
SIDAK4 = 1 - (1 - 0.05) ** (1 / 4)


def _smooth(rng: np.random.Generator, sd: float) -> np.ndarray:
    """Smooth Gaussian noise (kernel sigma 5 nodes) with standard deviation ~sd."""
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    z = np.convolve(rng.standard_normal(101 + 30), k, mode="valid")
    return sd * z / np.sqrt((k ** 2).sum())


def _curve(var: str, direction: str, offset: float, rng: np.random.Generator, shared: np.ndarray) -> np.ndarray:
    base = 10 * np.sin(2 * np.pi * X / 100) + 30 + offset
    if var == "knee_flexion":
        return base + (8 * BUMP if direction == "BW" else 0) + _smooth(rng, 2.0)
    if var == "pfj_stress":
        y = 2 + np.sin(np.pi * X / 100) + _smooth(rng, 0.3)
        if direction == "BW":
            y[:50] = 0.0  # clamped for every subject in one condition over half of stance
        y[90:] = 0.0      # clamped in both conditions: the differences have zero variance there
        return y
    if var == "emg_biceps_femoris":
        return base + shared  # identical at both levels: a - b = 0
    return base + _smooth(rng, 2.0)


def _table(n_subjects: int = 10, *, dataset: str = "synth", seed: int = 11, extra: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []

    def add(subject, direction, speed, side, cycle, var, y):
        rows.append({"dataset": dataset, "subject": subject, "trial": f"{direction}_{speed}",
                     "condition": f"{direction}_{speed}", "direction": direction, "speed_mps": speed,
                     "surface": "treadmill", "side": side, "cycle": cycle, "domain": DOMAIN[var],
                     "variable": var, "unit": UNITS[var], **dict(zip(NODES, y))})

    for s in range(n_subjects):
        subject = f"S{s:02d}"
        offset = rng.normal(0, 5)
        for side in ("L", "R"):
            for cycle in range(3):
                shared = _smooth(rng, 2.0)
                for direction in ("BW", "FW"):
                    for var in UNITS:
                        if var == "vgrf" and s >= 4:
                            continue
                        add(subject, direction, 0.6, side, cycle, var, _curve(var, direction, offset, rng, shared))
                add(subject, "BW", 1.0, side, cycle, "knee_flexion",
                    _curve("knee_flexion", "BW", offset + 300, rng, shared))
    if extra:
        for subject, direction in (("S10", "BW"), ("S11", "FW")):
            for cycle in range(3):
                for var in ("knee_flexion", "knee_extensor_moment"):
                    add(subject, direction, 0.6, "L", cycle, var,
                        _curve(var, direction, 500.0, rng, np.zeros(101)))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def result(table):
    small = _table(3, dataset="small", seed=5, extra=False)
    return spm_contrasts(pd.concat([table, small], ignore_index=True), [CONTRAST, NOT_APPLICABLE])


def _row(summary: pd.DataFrame, variable: str, dataset: str = "synth") -> pd.Series:
    r = summary[(summary["dataset"] == dataset) & (summary["variable"] == variable)]
    assert len(r) == 1, f"expected one summary row for {dataset}/{variable}, got {len(r)}"
    return r.iloc[0]


# --------------------------------------------------------------------------- subject_curves

def test_subject_curves_pool_cycles_and_sides_and_exclude_one_level_subjects(table):
    ya, yb, used, excluded = subject_curves(table, CONTRAST, variable="knee_flexion", domain="stride")
    assert used == [f"S{s:02d}" for s in range(10)]
    assert excluded == ["S10", "S11"]
    assert ya.shape == yb.shape == (10, 101)
    # known answer: S03 at BW = node-wise mean of its 6 cycles (2 sides x 3) at 0.6 m/s
    rows = table[(table["subject"] == "S03") & (table["direction"] == "BW") & (table["speed_mps"] == 0.6)
                 & (table["variable"] == "knee_flexion")]
    assert len(rows) == 6
    np.testing.assert_allclose(ya[3], rows[NODES].to_numpy().mean(axis=0), rtol=0, atol=1e-12)
    # neither the +500 one-level subjects nor the +300 rows at 1.0 m/s were used
    assert ya.max() < 150 and yb.max() < 150


def test_subject_curves_refuses_several_datasets(table):
    two = pd.concat([table, table.assign(dataset="other")], ignore_index=True)
    with pytest.raises(ValueError, match="several datasets"):
        subject_curves(two, CONTRAST, variable="knee_flexion", domain="stride")


def test_subject_curves_refuses_nonfinite_nodes(table):
    bad = table.copy()
    bad.loc[bad.index[0], "pct_050"] = np.nan
    var, dom = bad.loc[bad.index[0], ["variable", "domain"]]
    with pytest.raises(ValueError, match="NaN/inf"):
        subject_curves(bad, CONTRAST, variable=var, domain=dom)


# --------------------------------------------------------------------------- spm_contrasts

def test_columns_sorting_and_applicability(result):
    summary, clusters = result
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(clusters.columns) == CLUSTER_COLUMNS
    assert set(summary["contrast"]) == {"bw_vs_fw_0.6"}  # turn_vs_straight has no level in the data
    keys = ["contrast", "dataset", "family", "variable"]
    assert summary[keys].equals(summary[keys].sort_values(keys, ignore_index=True))
    assert not summary.duplicated(keys).any()
    # every variable present appears, none dropped silently
    assert set(summary.loc[summary["dataset"] == "synth", "variable"]) == set(UNITS)
    assert set(summary["family"]) == {"knee", "emg"}
    assert (summary["label"] == "BW vs FW at 0.6 m/s").all()


def test_planted_difference_gives_one_cluster_in_40_60_with_sign(result):
    summary, clusters = result
    r = _row(summary, "knee_flexion")
    assert r["status"] == "ok" and bool(r["h0reject"]) and r["n_clusters"] == 1
    assert r["domain"] == "stride" and r["unit"] == "deg"
    c = clusters[(clusters["dataset"] == "synth") & (clusters["variable"] == "knee_flexion")]
    assert len(c) == 1
    c = c.iloc[0]
    assert c["start_pct"] < 60 and c["end_pct"] > 40  # overlaps the planted interval
    assert 35 <= c["start_pct"] and c["end_pct"] <= 65  # and stays around it
    assert c["start_pct"] <= c["centroid_pct"] <= c["end_pct"]
    assert c["sign"] == "a>b" and (c["level_a"], c["level_b"]) == ("BW", "FW")
    assert c["p"] < r["alpha_corrected"]
    assert (c["family"], c["domain"], c["cluster"]) == ("knee", "stride", 1)


def test_null_variables_have_no_cluster(result):
    summary, clusters = result
    for var in ("knee_extensor_moment", "knee_adduction_moment", "emg_vastus_lateralis", "emg_rectus_femoris"):
        r = _row(summary, var)
        assert r["status"] == "ok", var
        assert r["n_clusters"] == 0 and not bool(r["h0reject"]), var
        assert var not in set(clusters["variable"]), var


def test_excluded_subjects_listed_and_not_used(result):
    summary, _ = result
    r = _row(summary, "knee_flexion")
    assert (r["n_subjects"], r["n"], r["n_excluded"], r["excluded_subjects"]) == (10, 10, 2, "S10,S11")
    assert _row(summary, "emg_vastus_lateralis")["excluded_subjects"] == ""


def test_sidak_correction_is_stated_and_applied(result, table):
    summary, _ = result
    emg = summary[(summary["dataset"] == "synth") & (summary["family"] == "emg")]
    assert len(emg) == 3
    assert np.allclose(emg["alpha_corrected"], SIDAK3, rtol=0, atol=1e-15)
    assert (emg["m"] == 3).all() and (emg["correction"] == "sidak").all() and (emg["alpha_family"] == 0.05).all()
    assert set(emg["family_members"]) == {"emg_biceps_femoris,emg_rectus_femoris,emg_vastus_lateralis"}
    knee = summary[(summary["dataset"] == "synth") & (summary["family"] == "knee")]
    tested = knee[knee["family_members"] != ""]
    assert set(tested["variable"]) == {"knee_adduction_moment", "knee_extensor_moment", "knee_flexion", "pfj_stress"}
    assert np.allclose(tested["alpha_corrected"], SIDAK4, rtol=0, atol=1e-15) and (tested["m"] == 4).all()
    # the corrected level is the one used in the inference: same critical t as a direct test at SIDAK4
    ya, yb, _, _ = subject_curves(table, CONTRAST, variable="knee_flexion", domain="stride")
    direct = spm_paired(ya, yb, alpha=SIDAK4).summary.iloc[0]
    r = _row(summary, "knee_flexion")
    assert r["alpha"] == pytest.approx(SIDAK4, abs=1e-15)
    assert r["zstar"] == pytest.approx(direct["zstar"], rel=1e-12)
    assert r["zstar"] > spm_paired(ya, yb, alpha=0.05).summary.iloc[0]["zstar"]


def test_degenerate_and_untestable_rows_explain_why(result):
    summary, _ = result
    bf = _row(summary, "emg_biceps_femoris")  # a - b identically 0
    assert bf["status"].startswith("skipped: ") and "zero variance of a - b" in bf["status"]
    assert bf["m"] == 3 and np.isnan(bf["zstar"]) and bf["n_clusters"] == 0
    vgrf = _row(summary, "vgrf")
    assert vgrf["status"] == "skipped: 4 subject(s) with both levels < min_subjects = 5"
    assert vgrf["n_subjects"] == 4 and np.isnan(vgrf["m"])
    force = _row(summary, "pfj_force")
    assert force["status"].startswith("skipped: no domain configured")


def test_a_condition_constant_over_half_the_cycle_is_tested_on_every_node(result, table):
    """BW PFJ stress is 0 for everyone on 0-49 % stance: those nodes are tested (the differences
    vary), and the difference there is found; only 90-100 %, where both conditions are 0 and the
    differences have zero variance, is left untested and named."""
    summary, clusters = result
    r = _row(summary, "pfj_stress")
    assert r["status"] == "ok" and r["nodes"] == 90
    assert r["n_untested_nodes"] == 11 and r["untested_nodes"] == "90-100"
    assert "a - b = 0 for every subject there" in r["untested_note"]
    c = clusters[(clusters["dataset"] == "synth") & (clusters["variable"] == "pfj_stress")]
    assert len(c) == 1 and c.iloc[0]["sign"] == "a<b"
    assert c.iloc[0]["start_pct"] < 5 and 40 < c.iloc[0]["end_pct"] < 60
    # the SPM{t} is the one-sample t of the differences at every defined node
    ya, yb, _, _ = subject_curves(table, CONTRAST, variable="pfj_stress", domain="stance")
    res = spm_paired(ya, yb, alpha=SIDAK4)
    D = (ya - yb)[:, :90]
    t = D.mean(0) / (D.std(0, ddof=1) / np.sqrt(len(D)))
    np.testing.assert_allclose(res.t[:90], t, rtol=1e-10)
    assert np.isnan(res.t[90:]).all()


def test_too_few_subjects_gives_status_rows_not_an_exception(result):
    summary, clusters = result
    small = summary[summary["dataset"] == "small"]
    assert set(small["variable"]) == set(UNITS)
    tested = small[small["domain"].notna()]
    assert tested["status"].str.startswith("skipped: 3 subject(s) with both levels < min_subjects").all()
    assert (tested["n_subjects"] == 3).all()
    assert "small" not in set(clusters["dataset"])


def test_deterministic_regardless_of_row_order(table, result):
    shuffled = table.sample(frac=1.0, random_state=3).reset_index(drop=True)
    s1, c1 = spm_contrasts(table, [CONTRAST])
    s2, c2 = spm_contrasts(shuffled, [CONTRAST])
    pd.testing.assert_frame_equal(s1, s2)
    pd.testing.assert_frame_equal(c1, c2)
    pd.testing.assert_frame_equal(s1, result[0][result[0]["dataset"] == "synth"].reset_index(drop=True))


def test_argument_validation(table):
    with pytest.raises(ValueError, match="min_subjects"):
        spm_contrasts(table, [CONTRAST], min_subjects=2)
    with pytest.raises(ValueError, match="alpha"):
        spm_contrasts(table, [CONTRAST], alpha=1.5)
    s, c = spm_contrasts(table.iloc[0:0], [CONTRAST])
    assert s.empty and list(s.columns) == SUMMARY_COLUMNS and list(c.columns) == CLUSTER_COLUMNS
