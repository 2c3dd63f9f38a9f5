"""Table-driven tests of the claims scorecard rule and the Bonferroni-adjusted claims family."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from retrogait.stats import adjusted_interval, score_claims, verdict

CASES = [
    # expected, estimate, lo, hi, sesoi, verdict, words in reason
    ("increase", 0.30, 0.25, 0.50, 0.2, "supported", "excludes 0 in the expected direction (increase); effect at "
                                                     "least the SESOI"),
    ("increase", 0.30, 0.10, 0.50, 0.2, "supported", "possibly smaller than the SESOI"),
    ("increase", -0.30, -0.50, -0.10, 0.2, "contradicted", "opposite direction"),
    ("increase", 0.10, -0.10, 0.30, 0.2, "inconclusive", "includes 0 and is not inside ±0.2"),
    # the case: an effect significantly in the expected direction but inside the band
    ("increase", 0.05, 0.01, 0.09, 0.2, "negligible", "inside ±0.2 (SESOI)"),
    ("decrease", -2e-5, -4e-5, -1e-5, 0.1, "negligible", "too small to matter"),
    ("increase", 0.01, -0.05, 0.07, 0.2, "negligible", "inside ±0.2"),
    ("decrease", -0.30, -0.50, -0.10, 0.2, "supported", "expected direction (decrease)"),
    ("decrease", 0.30, 0.10, 0.50, 0.2, "contradicted", "opposite direction"),
    ("decrease", -0.10, -0.30, 0.10, 0.2, "inconclusive", "includes 0"),
    ("equivalent", 0.02, -0.08, 0.12, 0.3, "supported", "inside ±0.3 (SESOI): equivalence shown"),
    ("equivalent", 0.60, 0.40, 0.80, 0.3, "contradicted", "entirely beyond ±0.3"),
    ("equivalent", -0.60, -0.80, -0.31, 0.3, "contradicted", "entirely beyond ±0.3"),
    ("equivalent", 0.20, 0.05, 0.35, 0.3, "inconclusive", "excludes 0 but not ±0.3"),
    ("equivalent", 0.05, -0.40, 0.50, 0.3, "inconclusive", "includes 0 and overlaps"),
]


@pytest.mark.parametrize("expected,est,lo,hi,sesoi,want,words", CASES)
def test_verdict_table(expected, est, lo, hi, sesoi, want, words):
    v, reason = verdict(estimate=est, ci_low=lo, ci_high=hi, expected=expected, sesoi=sesoi)
    assert v == want
    assert words in reason
    assert "\n" not in reason and f"{lo:.3g}" in reason and f"{hi:.3g}" in reason


def test_missing_estimate_is_inconclusive():
    v, reason = verdict(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, expected="increase", sesoi=1.0)
    assert v == "inconclusive" and "no estimate" in reason


@pytest.mark.parametrize("kwargs,match", [
    (dict(expected="bigger", sesoi=1.0), "expected must be one of"),
    (dict(expected="increase", sesoi=None), "every claim needs a sesoi"),
    (dict(expected="equivalent", sesoi=0.0), "sesoi must be a positive"),
    (dict(expected="increase", sesoi=-1.0), "sesoi must be a positive"),
    (dict(expected="increase", sesoi=1.0, estimate=2.0), "outside its CI"),
])
def test_verdict_input_errors(kwargs, match):
    args = dict(estimate=0.1, ci_low=0.0, ci_high=0.2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        verdict(**args)


def test_adjusted_interval_is_bonferroni_t():
    lo, hi, p, p_adj = adjusted_interval(1.0, 0.4, 11, alpha=0.05, m=5)
    crit = stats.t.isf(0.05 / 10, 11)
    assert (lo, hi) == pytest.approx((1.0 - crit * 0.4, 1.0 + crit * 0.4))
    assert p == pytest.approx(2 * stats.t.sf(2.5, 11)) and p_adj == pytest.approx(min(1.0, 5 * p))
    # the adjusted interval excludes 0 exactly when p_bonferroni < alpha
    for est in (0.5, 1.2, 1.5, 2.0):
        lo, hi, _, p_adj = adjusted_interval(est, 0.4, 11, alpha=0.05, m=5)
        assert (lo > 0) == (p_adj < 0.05)
    assert all(math.isnan(v) for v in adjusted_interval(1.0, 0.0, 11))


def test_constant_differences_get_the_sign_test_interval():
    from retrogait.stats import constant_difference_interval

    # 14 pairs all +100: sign-test p = 2 * 0.5**14 = 1.2207e-4 (R: binom.test(14, 14)$p.value)
    lo, hi, p, p_adj = constant_difference_interval(100.0, 14, alpha=0.05, m=5)
    assert (lo, hi) == (100.0, 100.0) and p == pytest.approx(1.220703125e-4, rel=1e-12)
    assert p_adj == pytest.approx(5 * 1.220703125e-4)
    assert verdict(estimate=100.0, ci_low=lo, ci_high=hi, expected="increase", sesoi=20.0)[0] == "supported"
    # 6 pairs: 2 * 0.5**6 = 0.03125 > 0.05 / 5, so no interval at the Bonferroni level exists
    lo, hi, p, p_adj = constant_difference_interval(100.0, 6, alpha=0.05, m=5)
    assert math.isnan(lo) and math.isnan(hi) and p == 0.03125 and p_adj == 0.15625
    assert constant_difference_interval(0.0, 14)[2] == 1.0
    with pytest.raises(ValueError, match="n must be"):
        constant_difference_interval(1.0, 0)
    with pytest.raises(ValueError, match="m must be"):
        adjusted_interval(1.0, 0.4, 11, m=0)


def test_score_claims_is_one_family():
    results = pd.DataFrame({
        "measure": ["pfj_stress_peak", "knee_ext_moment_peak", "stride_time"],
        "contrast": ["bw_vs_fw_0.6"] * 3,
        "estimate": [-0.8, -0.3, 0.01], "se": [0.1, 0.15, 0.01], "df": [11, 11, 11],
    })
    claims = [
        dict(id="C1", measure="pfj_stress_peak", contrast="bw_vs_fw_0.6", expected="decrease", sesoi=0.3),
        dict(id="C2", measure="knee_ext_moment_peak", contrast="bw_vs_fw_0.6", expected="decrease", sesoi=0.1),
        dict(id="C3", measure="stride_time", contrast="bw_vs_fw_0.6", expected="equivalent", sesoi=0.05),
        dict(id="C4", measure="quad_emg_peak", contrast="bw_vs_fw_0.6", expected="increase", sesoi=5.0),
    ]
    out = score_claims(claims, results)
    # m = 3 claims with a result: 1 - 0.05/3 intervals
    assert (out.m == 3).all() and out.ci_level.iloc[0] == pytest.approx(1 - 0.05 / 3)
    crit = stats.t.isf(0.05 / 6, 11)
    assert out.ci_low.iloc[1] == pytest.approx(-0.3 - crit * 0.15)
    # C2: the unadjusted 95 % CI (-0.63, 0.03) would include 0 too; adjusted it is wider still
    assert list(out.verdict) == ["supported", "inconclusive", "supported", "inconclusive"]
    assert "Bonferroni 98.33% CI (m = 3)" in out.reason.iloc[0]
    assert out.reason.iloc[3] == "no result for this measure/contrast"
    assert list(out.columns) == ["id", "measure", "contrast", "expected", "sesoi", "estimate", "se", "df",
                                 "ci_low", "ci_high", "ci_level", "p", "p_bonferroni", "m", "verdict", "reason"]
