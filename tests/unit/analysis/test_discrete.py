"""run_contrasts: one Holm family per contrast and dataset, tied measures tested once, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrogait.analysis.contrasts import Contrast
from retrogait.analysis.discrete import CI_ADJUSTMENT, run_contrasts
from retrogait.stats import holm, paired_summary

G = 9.81


def _measures(seed: int = 0, n_subj: int = 8, n_cyc: int = 4) -> pd.DataFrame:
    """Treadmill cycles: BW and FW at 0.6 m/s, FW also at 1.2 m/s; tied measures built exactly."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subj):
        mass = 60.0 + 3 * s
        base_t, base_m = rng.normal(1.2, 0.1), rng.normal(1.0, 0.2)
        for direction, speed in (("BW", 0.6), ("FW", 0.6), ("FW", 1.2)):
            for cyc in range(n_cyc):
                stride_time = base_t - 0.1 * (direction == "BW") - 0.2 * (speed > 1) + rng.normal(0, 0.02)
                force_bw = base_m + 0.3 * (direction == "BW") + rng.normal(0, 0.05)
                vals = {"stride_time": (stride_time, "s", ""), "cadence": (120 / stride_time, "steps/min", ""),
                        "stride_length": (speed * stride_time, "m", "belt speed x stride time"),
                        "pfj_force_peak": (force_bw, "BW", ""), "pfj_force_peak_n": (force_bw * mass * G, "N", ""),
                        "knee_extensor_moment_peak": (rng.normal(0.8, 0.1), "N.m/kg", "")}
                for name, (v, unit, method) in vals.items():
                    rows.append(dict(dataset="tm", subject=f"S{s}", trial=f"{direction}_{speed}",
                                     condition=f"{direction}_{speed}", direction=direction, speed_mps=speed,
                                     surface="treadmill", side="L", cycle=cyc, measure=name, value=v, unit=unit,
                                     method=method, qc_status="kept", qc_reason=""))
    return pd.DataFrame(rows)


CONTRASTS = [
    Contrast.from_config({"id": "matched", "factor": "direction", "levels": ["BW", "FW"],
                          "filter": {"speed_mps": 0.6}}),
    Contrast.from_config({"id": "unmatched", "factor": "direction", "levels": ["BW", "FW"],
                          "level_filters": {"BW": {"speed_mps": 0.6}, "FW": {"speed_mps": 1.2}}}),
]


@pytest.fixture(scope="module")
def results():
    res, _ = run_contrasts(_measures(), CONTRASTS, n_boot=0)
    return res.set_index(["contrast", "measure"])


def test_each_contrast_is_its_own_family_by_default(results):
    assert set(results.loc["matched", "family"]) == {"matched"}
    assert set(results.loc["unmatched", "family"]) == {"unmatched"}


def test_tied_measures_are_reported_as_derived_and_not_counted(results):
    m = results.loc["matched"]
    assert m.loc["pfj_force_peak_n", "role"] == "derived"
    assert m.loc["pfj_force_peak_n", "tested_as"].startswith("pfj_force_peak (")
    assert m.loc["cadence", "role"] == "derived" and m.loc["cadence", "tested_as"].startswith("stride_time")
    # on a treadmill at one belt speed stride length is speed x stride time: tied
    assert m.loc["stride_length", "role"] == "derived"
    tested = m[m["role"] == "tested"]
    assert sorted(tested.index) == ["knee_extensor_moment_peak", "pfj_force_peak", "stride_time"]
    assert (tested["m_family"] == 3).all()
    np.testing.assert_allclose(tested["p_holm"], holm(tested["p_t"].to_numpy()))
    derived = m[m["role"] == "derived"]
    assert derived["p_holm"].isna().all() and derived["lmm_p_holm"].isna().all()
    assert derived["p_adjustment"].str.startswith("none: derived measure, not in the family").all()
    # the derived row still carries its own (unadjusted) paired statistics
    assert derived["p_t"].notna().all()


def test_stride_length_at_two_speeds_is_its_own_test(results):
    u = results.loc["unmatched"]
    assert u.loc["stride_length", "role"] == "tested"
    assert u.loc["cadence", "role"] == "derived"
    assert (u.loc[u["role"] == "tested", "m_family"] == 4).all()


def test_every_row_says_what_its_p_and_ci_carry(results):
    m = results.loc["matched"]
    t = m.loc["stride_time"]
    assert t["p_adjustment"] == "Holm over 3 test(s): family 'matched' (contrast(s) matched) in dataset tm"
    assert t["lmm_p_adjustment"].startswith("Holm over 3 test(s)")
    assert (results["ci_adjustment"] == CI_ADJUSTMENT).all()
    for col in ("lmm_df", "lmm_se_method", "lmm_df_method", "lmm_random_effects"):
        assert results[col].notna().all(), col
    assert (results["lmm_df_method"] == "Satterthwaite (lmerTest)").all()


def test_paired_statistics_are_the_paired_summary(results):
    """The paired columns are paired_summary on the subject means (the families change only p_holm)."""
    meas = _measures()
    sel = meas[(meas["measure"] == "pfj_force_peak") & (meas["speed_mps"] == 0.6)]
    means = sel.groupby(["subject", "direction"])["value"].mean().unstack()
    ref = paired_summary(means["BW"], means["FW"]).iloc[0]
    row = results.loc[("matched", "pfj_force_peak")]
    for col in ("mean_diff", "ci_low", "ci_high", "t", "p_t", "dz"):
        assert row[col] == pytest.approx(ref[col], rel=1e-12)


def test_a_declared_grouping_pools_contrasts():
    grouped = [Contrast.from_config({**c, "family": "direction"}) for c in (
        {"id": "matched", "factor": "direction", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6}},
        {"id": "unmatched", "factor": "direction", "levels": ["BW", "FW"],
         "level_filters": {"BW": {"speed_mps": 0.6}, "FW": {"speed_mps": 1.2}}})]
    res, _ = run_contrasts(_measures(), grouped, n_boot=0)
    tested = res[res["role"] == "tested"]
    assert (tested["m_family"] == 7).all()
    assert tested["p_adjustment"].iloc[0].startswith("Holm over 7 test(s): family 'direction' (contrast(s) "
                                                     "matched, unmatched)")
