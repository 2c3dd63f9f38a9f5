"""Meta-analysis: dataset effects from the contrasts table, stratified pooling, forest plots."""

from __future__ import annotations

import logging
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from retrogait.analysis.literature import EFFECT_COLUMNS, literature_effects, read_literature  # noqa: E402
from retrogait.analysis.meta import POOLED_COLUMNS, STUDY_COLUMNS, dataset_effects, pool  # noqa: E402
from retrogait.stats.meta import POOLED_LABEL, random_effects  # noqa: E402


def _J(df: int) -> float:
    return math.exp(math.lgamma(df / 2) - 0.5 * math.log(df / 2) - math.lgamma((df - 1) / 2))


def _contrast_row(**kw):
    row = dict(contrast="bw_vs_fw_0.6", label="BW vs FW at 0.6 m/s", dataset="gt23", level_a="BW", level_b="FW",
               measure="pfj_force_peak", unit="BW", n=10, mean_a=10.0, mean_b=8.0, sd_a=2.0, sd_b=2.0, r=0.5,
               g_av=99.0)
    row.update(kw)
    return row


def _effect(label, g, var, *, activity="walking", measure="pfj_force_peak", source="literature", matched="yes"):
    return dict(source=source, study=label, label=label, doi="", contrast="", activity=activity, setting="unknown",
                speed_ms=np.nan, speed_matched=matched, design="paired", measure=measure, measure_text=measure,
                units="", n=10, g=g, var=var, se=math.sqrt(var), ci_low=np.nan, ci_high=np.nan, r=0.5,
                r_assumed=True, note="")


# ---------------------------------------------------------------- dataset effects
def test_dataset_effect_known_answer_uses_observed_r():
    eff = dataset_effects(pd.DataFrame([_contrast_row()]), contrast_ids=["bw_vs_fw_0.6"])
    assert list(eff.columns) == EFFECT_COLUMNS and len(eff) == 1
    row = eff.iloc[0]
    # n = 10, S_within = 2, d = 1, V_d = (1/10 + 1/20) * 2 * (1 - 0.5) = 0.15
    assert row.g == pytest.approx(_J(9)) and row["var"] == pytest.approx(_J(9) ** 2 * 0.15)
    assert row.g != 99.0  # the table's own g_av is not used
    assert (row.source, row.study, row.activity, row.contrast, row.r, row.r_assumed) == \
        ("dataset", "gt23", "walking", "bw_vs_fw_0.6", 0.5, False)
    r8 = dataset_effects(pd.DataFrame([_contrast_row(r=0.8)]), contrast_ids="bw_vs_fw_0.6").iloc[0]
    assert r8["var"] == pytest.approx(_J(9) ** 2 * 0.06)


def test_fw_minus_bw_contrast_is_sign_flipped():
    bw_fw = dataset_effects(pd.DataFrame([_contrast_row()]), contrast_ids=["bw_vs_fw_0.6"]).iloc[0]
    fw_bw = dataset_effects(pd.DataFrame([_contrast_row(contrast="fw_vs_bw", level_a="forward", level_b="backward",
                                                        mean_a=8.0, mean_b=10.0)]),
                            contrast_ids=["fw_vs_bw"]).iloc[0]
    assert bw_fw.g > 0 and fw_bw.g == pytest.approx(bw_fw.g) and fw_bw["var"] == pytest.approx(bw_fw["var"])
    assert "sign flipped" in fw_bw.note
    # an FW - BW contrast where forward is larger gives a negative BW - FW effect
    neg = dataset_effects(pd.DataFrame([_contrast_row(level_a="FW", level_b="BW")]),
                          contrast_ids=["bw_vs_fw_0.6"]).iloc[0]
    assert neg.g == pytest.approx(-bw_fw.g)


def test_non_direction_contrast_is_not_pooled(caplog):
    turn = _contrast_row(contrast="turn_vs_straight", dataset="biomechzoo-esmac", level_a="turn",
                         level_b="straight")
    with caplog.at_level(logging.WARNING, logger="retrogait.analysis.meta"):
        eff = dataset_effects(pd.DataFrame([turn, dict(turn, measure="cadence")]),
                              contrast_ids=["turn_vs_straight"])
    assert eff.empty and list(eff.columns) == EFFECT_COLUMNS
    assert "not backward with forward" in caplog.text
    assert caplog.text.count("turn_vs_straight") == 1  # once per contrast and dataset, not per measure


def test_missing_r_needs_assumed_r_and_duplicates_refused():
    rows = pd.DataFrame([_contrast_row(r=np.nan)])
    eff = dataset_effects(rows, contrast_ids=["bw_vs_fw_0.6"]).iloc[0]
    assert math.isnan(eff.g) and "not estimable" in eff.note
    eff = dataset_effects(rows, contrast_ids=["bw_vs_fw_0.6"], assumed_r=0.5).iloc[0]
    assert eff.g == pytest.approx(_J(9)) and eff.r_assumed
    two = pd.DataFrame([_contrast_row(), _contrast_row(contrast="bw_1.0_vs_fw_1.2")])
    with pytest.raises(ValueError, match="pooled twice"):
        dataset_effects(two, contrast_ids=["bw_vs_fw_0.6", "bw_1.0_vs_fw_1.2"])


# ---------------------------------------------------------------- pooling
def test_strata_never_mixed_and_match_random_effects():
    rows = [_effect("W1", 0.8, 0.05), _effect("W2", 1.2, 0.08, source="dataset"), _effect("W3", 0.5, 0.10),
            _effect("R1", -0.7, 0.04, activity="running"), _effect("R2", -2.0, 0.30, activity="running"),
            _effect("R3", -1.1, 0.09, activity="running"), _effect("unmapped", 3.0, 0.1, measure="")]
    studies, pooled = pool(pd.DataFrame(rows), method="dl")
    assert list(studies.columns) == STUDY_COLUMNS and list(pooled.columns) == POOLED_COLUMNS
    assert "unmapped" not in set(studies["label"])
    walking, running = "walking, speed-matched", "running, speed-matched"
    assert set(studies.loc[studies.stratum == walking, "label"]) == {"W1", "W2", "W3"}
    assert set(studies.loc[studies.stratum == running, "label"]) == {"R1", "R2", "R3"}
    walk = pooled[pooled.stratum == walking].iloc[0]
    run = pooled[pooled.stratum == running].iloc[0]
    ref_w = random_effects([0.8, 1.2, 0.5], [0.05, 0.08, 0.10], labels=["W1", "W2", "W3"], method="dl").iloc[-1]
    ref_r = random_effects([-0.7, -2.0, -1.1], [0.04, 0.30, 0.09], labels=["R1", "R2", "R3"], method="dl").iloc[-1]
    assert walk.effect == pytest.approx(ref_w.effect) and run.effect == pytest.approx(ref_r.effect)
    assert walk.ci_low == pytest.approx(ref_w.ci_low) and walk.tau2 == pytest.approx(ref_w.tau2)
    assert walk.df == 2 and walk.ci_method.startswith("Hartung-Knapp")
    assert (walk.k, walk.k_literature, walk.k_dataset, run.k) == (3, 2, 1, 3)
    assert walk.effect > 0 > run.effect  # a mixed pool would sit in between
    assert walk.label == POOLED_LABEL and walk.method == "DerSimonian-Laird"
    w = studies.loc[studies.stratum == walking, "weight"]
    assert w.sum() == pytest.approx(1.0)


def test_speed_matched_and_unmatched_studies_are_separate_strata():
    rows = [_effect("M1", 0.8, 0.05), _effect("M2", 1.0, 0.06), _effect("M3", 0.6, 0.05),
            _effect("U1", 0.2, 0.05, matched="no"), _effect("U2", 0.1, 0.04, matched="no"),
            _effect("U3", 0.3, 0.06, matched="no"), _effect("X1", 2.0, 0.1, matched="unknown")]
    studies, pooled = pool(pd.DataFrame(rows))
    p = pooled.set_index("stratum")
    assert set(p.index) == {"walking, speed-matched", "walking, speed not matched",
                            "walking, speed matching not reported"}
    assert p.loc["walking, speed-matched", "k"] == 3 and p.loc["walking, speed not matched", "k"] == 3
    assert p.loc["walking, speed-matched", "effect"] > 0.5 > p.loc["walking, speed not matched", "effect"]
    assert math.isnan(p.loc["walking, speed matching not reported", "effect"])
    with pytest.raises(ValueError, match="speed_matched"):
        pool(pd.DataFrame([_effect("A", 0.1, 0.1, matched="maybe")]))


def test_two_study_stratum_is_listed_not_pooled():
    rows = [_effect("W1", 0.8, 0.05), _effect("W2", 1.1, 0.06), _effect("R1", -0.7, 0.04, activity="running"),
            _effect("R2", -0.9, 0.05, activity="running"), _effect("R3", -0.8, 0.05, activity="running")]
    studies, pooled = pool(pd.DataFrame(rows))
    walk = pooled[pooled.stratum == "walking, speed-matched"].iloc[0]
    assert walk.k == 2 and math.isnan(walk.effect) and walk.note.startswith("k=2: not pooled")
    s = studies[studies.label == "W1"].iloc[0]
    assert s.effect == 0.8 and math.isnan(s.weight)
    assert s.ci_high == pytest.approx(0.8 + 1.959963985 * math.sqrt(0.05))
    assert np.isfinite(pooled[pooled.stratum == "running, speed-matched"].iloc[0].effect)
    # min_studies raises the bar
    _, p4 = pool(pd.DataFrame(rows), min_studies=4)
    assert p4["effect"].isna().all() and p4.loc[p4.stratum == "running, speed-matched", "note"].iloc[0].startswith("k=3")


def test_speed_matching_of_a_contrast():
    from retrogait.analysis.meta import speed_matching

    assert speed_matching({"id": "m", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6}}) == "yes"
    assert speed_matching({"id": "x", "levels": ["BW", "FW"],
                           "level_filters": {"BW": {"speed_mps": 1.0}, "FW": {"speed_mps": 1.2}}}) == "no"
    assert speed_matching({"id": "s", "levels": ["BW", "FW"],
                           "level_filters": {"BW": {"speed_mps": 0.8}, "FW": {"speed_mps": [0.8]}}}) == "yes"
    assert speed_matching({"id": "c", "levels": ["BW", "FW"], "covariates": ["speed_mps"]}) == "no"
    eff = dataset_effects(pd.DataFrame([_contrast_row()]), contrast_ids=["bw_vs_fw_0.6"],
                          speed_matched={"bw_vs_fw_0.6": "yes"})
    assert eff.iloc[0].speed_matched == "yes"


def test_pool_input_errors():
    rows = pd.DataFrame([_effect("A", 0.1, 0.1), _effect("A", 0.2, 0.1)])
    with pytest.raises(ValueError, match="repeated"):
        pool(rows)
    with pytest.raises(ValueError, match="activity"):
        pool(pd.DataFrame([_effect("A", 0.1, 0.1, activity="cycling")]))
    with pytest.raises(ValueError, match="method"):
        pool(pd.DataFrame([_effect("A", 0.1, 0.1)]), method="reml")
    with pytest.raises(ValueError, match="min_studies"):
        pool(pd.DataFrame([_effect("A", 0.1, 0.1)]), min_studies=2)


def test_committed_literature_pools_running_only(repo_root):
    lit = literature_effects(read_literature(repo_root / "data/raw/literature/fw_bw_summary.csv"))
    studies, pooled = pool(lit)
    # no usable published walking rows; Roos (same speed) and Flynn (self-selected) never pooled together
    assert set(studies["activity"]) == {"running"}
    assert set(studies["stratum"]) == {"running, speed-matched", "running, speed not matched"}
    pfj = pooled[(pooled.measure == "pfj_force_peak")]
    assert (pfj.k == 1).all() and pfj.effect.isna().all()  # one study per stratum: listed, not pooled
