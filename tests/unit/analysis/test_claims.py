"""Claims: the schema and load_claims refuse claims that cannot mean what they say; scoring is one family."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml
from scipy import stats

from retrogait.analysis.claims import SCORECARD_COLUMNS, Claims, load_claims, score
from retrogait.config import load_config
from retrogait.errors import ConfigError

SCHEMA = "workflow/schemas/claims.schema.yaml"
CONTRASTS = [
    {"id": "bw_vs_fw_0.6", "factor": "direction", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6}},
    {"id": "fw_vs_bw", "factor": "direction", "levels": ["FW", "BW"]},
    {"id": "turn_vs_straight", "factor": "condition", "levels": ["turn", "straight"]},
]
GOOD = dict(id="c1", claim="BW lowers PFJ stress", measure="pfj_stress_peak", contrast="bw_vs_fw_0.6",
            expected="decrease", sesoi=0.3)


def _write(tmp_path, claims, rule=None):
    p = tmp_path / "claims.yaml"
    p.write_text(yaml.safe_dump({"rule": rule or {"estimate": "paired"}, "claims": claims}))
    return p


def _load(tmp_path, repo_root, claims, sesoi=None, rule=None):
    return load_claims(_write(tmp_path, claims, rule), repo_root / SCHEMA, contrasts=CONTRASTS,
                       sesoi=sesoi or {})


def test_shipped_claims_are_valid(repo_root):
    cfg = load_config(repo_root / "config" / "config.yaml", repo_root / "workflow/schemas/config.schema.yaml")
    claims = load_claims(repo_root / "config" / "claims.yaml", repo_root / SCHEMA,
                         contrasts=cfg["stats"]["contrasts"], sesoi=cfg["stats"]["sesoi"])
    assert claims.estimate == "paired" and len(claims.claims) >= 9
    testable = [c for c in claims.claims if c.get("testable", True)]
    assert all(float(c["sesoi"]) > 0 for c in testable)
    # one SESOI per measure: every claim's equals stats.sesoi, which has every claim's measure
    sesoi = cfg["stats"]["sesoi"]
    assert {c["measure"]: float(c["sesoi"]) for c in testable} == \
        {c["measure"]: float(sesoi[c["measure"]]) for c in testable}
    assert all(c["why_not"] for c in claims.claims if not c.get("testable", True))


def test_shipped_claims_cover_every_claim_of_the_video(repo_root):
    """Issue 11: each claim of the video through a measure that says what it says, plus the untestable one."""
    data = yaml.safe_load((repo_root / "config" / "claims.yaml").read_text())
    by_measure: dict[str, set] = {}
    for c in data["claims"]:
        if c.get("testable", True):
            by_measure.setdefault(c["measure"], set()).add(c["expected"])
    wanted = {
        "toe_first_contact": "increase",                    # toes land first (proportion of contacts)
        "ankle_dorsiflexion_at_contact": "decrease",        # ... and the landing posture where no foot markers
        "hip_flexion_at_contact": "decrease",               # the leg reaches back
        "knee_flexion_at_contact": "increase",              # ... with a bent knee
        "knee_extension_excursion_stance": "increase",      # the knee straightens through stance
        "knee_flexion_at_toe_off": "decrease",              # the heel leaves with the knee straight
        "stride_length": "decrease",                        # shorter strides
        "knee_extensor_work_negative_stance": "decrease",   # quadriceps work lengthening (signed work <= 0)
        "emg_mean_vastus_lateralis": "increase",            # quadriceps "work harder" (EMG)
        "hip_flexor_work_negative_stance": "decrease",      # hip flexors lengthening
        "hip_extensor_work_positive_stance": "increase",    # glutes shortening
        "quadriceps_moment_arm_at_peak_extensor": "increase",  # "mechanical advantage" (interpretation)
        "pfj_stress_peak": "decrease", "pfj_force_peak": "decrease",  # less knee stress and compressive force
    }
    for measure, expected in wanted.items():
        assert expected in by_measure.get(measure, set()), measure
    assert "knee_flexion_mean_stance" not in by_measure  # "straightens" is an excursion, not a mean angle
    untestable = [c for c in data["claims"] if c.get("testable", True) is False]
    assert any("control" in c["claim"] and "control" in c["why_not"] for c in untestable)


def test_untestable_claim_has_a_reason_and_nothing_to_test(tmp_path, repo_root):
    nt = dict(id="ctl", claim="easier to control", testable=False, why_not="no measure of control")
    assert _load(tmp_path, repo_root, [GOOD, nt]).claims[1]["why_not"] == "no measure of control"
    with pytest.raises(ConfigError, match="why_not"):
        _load(tmp_path, repo_root, [{k: v for k, v in nt.items() if k != "why_not"}])
    with pytest.raises(ConfigError):
        _load(tmp_path, repo_root, [{**nt, "measure": "pfj_stress_peak"}])
    with pytest.raises(ConfigError):  # a testable claim cannot carry a why_not
        _load(tmp_path, repo_root, [{**GOOD, "why_not": "because"}])
    with pytest.raises(ConfigError, match="sesoi"):  # testable by default: needs its SESOI
        _load(tmp_path, repo_root, [{k: v for k, v in GOOD.items() if k != "sesoi"} | {"testable": True}])


def test_untestable_claim_is_on_the_scorecard_with_its_reason():
    claims = Claims(estimate="paired", alpha=0.05, claims=(
        dict(GOOD, id="stress"),
        dict(id="ctl", claim="easier to control", testable=False, why_not="no measure of control")))
    out = score(claims, _results())
    nt = out[out["claim_id"] == "ctl"]
    assert len(nt) == 1 and nt.iloc[0].verdict == "not testable" and nt.iloc[0].reason == "no measure of control"
    assert nt.iloc[0].measure == "" and math.isnan(nt.iloc[0].sesoi)
    tested = out[out["verdict"] != "not testable"]
    assert (tested["m"] == 2).all()  # the untestable claim is not in the Bonferroni family


def test_emg_claim_whose_channels_qc_excluded_everywhere_says_so():
    claims = Claims(estimate="paired", alpha=0.05, claims=(
        dict(GOOD, id="vl", measure="emg_mean_vastus_lateralis", expected="increase", sesoi=5.0),
        dict(GOOD, id="rf", measure="emg_mean_rectus_femoris", expected="increase", sesoi=5.0)))
    excluded = pd.DataFrame({"dataset": ["d1", "d1"], "muscle": ["vastus_lateralis", "rectus_femoris"],
                             "n_subjects": [3, 3], "n_used": [0, 2], "all_excluded": [True, False],
                             "reasons": ["flat (6 channels)", "flat (1 channels)"]})
    out = score(claims, _results(), excluded_muscles=excluded).set_index("claim_id")
    assert out.loc["vl", "reason"] == "all vastus lateralis channels excluded by QC in d1 (flat (6 channels))"
    assert out.loc["rf", "reason"] == "no dataset of this run has the measure emg_mean_rectus_femoris"


def test_every_claim_needs_a_sesoi(tmp_path, repo_root):
    bad = {k: v for k, v in GOOD.items() if k != "sesoi"}
    with pytest.raises(ConfigError, match="sesoi"):
        _load(tmp_path, repo_root, [bad])


@pytest.mark.parametrize("measure,words", [("kam_est_peak1", "pattern|estimate"),
                                           ("medial_load_proxy_peak", "pattern|proxy")])
def test_estimate_and_proxy_measures_are_refused(tmp_path, repo_root, measure, words):
    with pytest.raises(ConfigError, match=words):
        _load(tmp_path, repo_root, [{**GOOD, "measure": measure}])


def test_estimate_kind_is_refused_even_past_the_schema_pattern(tmp_path, repo_root, monkeypatch):
    """The catalogue's kind is checked too (a renamed estimate would pass the schema's name pattern)."""
    from retrogait.gait import catalog

    m = catalog.MEASURES["kam_peak1"]
    monkeypatch.setitem(catalog.MEASURES, "kam_peak1", catalog.Measure(m.name, m.unit, m.window, m.description,
                                                                       m.reference, "estimate"))
    with pytest.raises(ConfigError, match="claim 'c1': measure 'kam_peak1' is an estimate"):
        _load(tmp_path, repo_root, [{**GOOD, "measure": "kam_peak1"}])


def test_contrast_must_be_bw_minus_fw(tmp_path, repo_root):
    with pytest.raises(ConfigError, match="compares condition, not the direction of walking"):
        _load(tmp_path, repo_root, [{**GOOD, "contrast": "turn_vs_straight"}])
    with pytest.raises(ConfigError, match=r"\(FW − BW\), which inverts the expected direction 'decrease'"):
        _load(tmp_path, repo_root, [{**GOOD, "contrast": "fw_vs_bw"}])
    with pytest.raises(ConfigError, match="'nope' is not in stats.contrasts"):
        _load(tmp_path, repo_root, [{**GOOD, "contrast": "nope"}])


def test_sesoi_must_agree_with_stats_sesoi(tmp_path, repo_root):
    with pytest.raises(ConfigError, match="sesoi 0.3 differs from stats.sesoi.pfj_stress_peak = 0.5"):
        _load(tmp_path, repo_root, [GOOD], sesoi={"pfj_stress_peak": 0.5})
    assert _load(tmp_path, repo_root, [GOOD], sesoi={"pfj_stress_peak": 0.3}).claims[0]["id"] == "c1"


def _results():
    return pd.DataFrame({
        "contrast": ["bw_vs_fw_0.6"] * 3, "dataset": ["d1", "d2", "d1"],
        "measure": ["pfj_stress_peak", "pfj_stress_peak", "knee_extensor_moment_peak"],
        "n_subjects": [12, 10, 12],
        "mean_diff": [-0.8, -0.05, -2e-5], "se_diff": [0.1, 0.02, 5e-6], "df": [11, 9, 11],
        "lmm_estimate": [-0.7, -0.04, -1e-5], "lmm_se": [0.12, 0.03, 4e-6], "lmm_df": [11.4, 8.7, 14.0],
    })


def test_score_is_one_bonferroni_family_with_a_negligible_verdict():
    claims = Claims(estimate="paired", alpha=0.05, claims=(
        dict(GOOD, id="stress"),
        dict(GOOD, id="moment", measure="knee_extensor_moment_peak", sesoi=0.1),
        dict(GOOD, id="vl", measure="emg_mean_vastus_lateralis", expected="increase", sesoi=5.0)))
    out = score(claims, _results())
    assert list(out.columns) == SCORECARD_COLUMNS
    tested = out[out["verdict"] != "not testable"]
    assert len(tested) == 3 and (tested["m"] == 3).all()
    crit = stats.t.isf(0.05 / 6, 11)
    r = tested.iloc[0]
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.8 - crit * 0.1, -0.8 + crit * 0.1))
    assert r.verdict == "supported" and r.adjustment.startswith("claims family: Bonferroni over m = 3")
    # d2: CI inside +/- 0.3 although it may exclude 0: negligible, not supported
    assert tested.iloc[1].verdict == "negligible"
    # the case: -2e-5 N.m/kg, significant, but trivial
    m = tested[tested["claim_id"] == "moment"].iloc[0]
    assert m.ci_high < 0 and m.verdict == "negligible"
    nt = out[out["verdict"] == "not testable"].iloc[0]
    assert nt.claim_id == "vl" and nt.reason == "no dataset of this run has the measure emg_mean_vastus_lateralis"


def test_lmm_estimate_uses_the_satterthwaite_df():
    claims = Claims(estimate="lmm", alpha=0.05, claims=(dict(GOOD, id="stress"),))
    out = score(claims, _results())
    assert (out["m"] == 2).all()
    r = out.iloc[0]
    crit = stats.t.isf(0.05 / 4, 11.4)
    assert (r.estimate, r.se, r.df) == (-0.7, 0.12, 11.4)
    assert r.ci_low == pytest.approx(-0.7 - crit * 0.12)
    assert r.p == pytest.approx(2 * stats.t.sf(0.7 / 0.12, 11.4)) and not math.isnan(r.p_bonferroni)
