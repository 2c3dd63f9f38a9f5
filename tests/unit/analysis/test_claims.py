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
    assert all(float(c["sesoi"]) > 0 for c in claims.claims)


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
