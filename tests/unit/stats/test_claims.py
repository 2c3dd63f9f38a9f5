"""Table-driven tests of the claims scorecard rule."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from retrogait.stats import score_claims, verdict

CASES = [
    # expected, estimate, lo, hi, sesoi, tost_p, verdict, words in reason
    ("increase", 0.30, 0.10, 0.50, None, None, "supported", "excludes 0 in the expected direction"),
    ("increase", -0.30, -0.50, -0.10, None, None, "contradicted", "opposite direction"),
    ("increase", 0.10, -0.10, 0.30, None, None, "inconclusive", "includes 0"),
    ("increase", 0.01, -0.05, 0.07, 0.2, 0.001, "contradicted", "equivalence shown"),
    ("increase", 0.01, -0.05, 0.07, 0.2, 0.20, "inconclusive", "TOST p = 0.2 >= 0.05"),
    ("increase", 0.01, -0.05, 0.07, 0.2, None, "contradicted", "inside ±0.2"),
    ("increase", 0.05, 0.01, 0.09, 0.2, 0.001, "supported", "but the effect is within ±0.2"),
    ("decrease", -0.30, -0.50, -0.10, None, None, "supported", "expected direction (decrease)"),
    ("decrease", 0.30, 0.10, 0.50, None, None, "contradicted", "opposite direction"),
    ("decrease", -0.10, -0.30, 0.10, None, None, "inconclusive", "includes 0"),
    ("decrease", -0.30, -0.50, -0.10, 0.2, 0.9, "supported", "expected direction"),
    ("equivalent", 0.02, -0.08, 0.12, 0.3, 0.004, "supported", "equivalence shown"),
    ("equivalent", 0.02, -0.08, 0.12, 0.3, None, "supported", "inside ±0.3"),
    ("equivalent", 0.60, 0.40, 0.80, 0.3, 0.99, "contradicted", "entirely beyond ±0.3"),
    ("equivalent", -0.60, -0.80, -0.31, 0.3, None, "contradicted", "entirely beyond ±0.3"),
    ("equivalent", 0.20, 0.05, 0.35, 0.3, 0.12, "inconclusive", "excludes 0 but not ±0.3"),
    ("equivalent", 0.05, -0.40, 0.50, 0.3, 0.40, "inconclusive", "includes 0 and overlaps"),
]


@pytest.mark.parametrize("expected,est,lo,hi,sesoi,tost_p,want,words", CASES)
def test_verdict_table(expected, est, lo, hi, sesoi, tost_p, want, words):
    v, reason = verdict(estimate=est, ci_low=lo, ci_high=hi, expected=expected, sesoi=sesoi,
                        tost_p=tost_p)
    assert v == want
    assert words in reason
    assert "\n" not in reason and f"{lo:.3g}" in reason and f"{hi:.3g}" in reason


def test_missing_estimate_is_inconclusive():
    v, reason = verdict(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, expected="increase")
    assert v == "inconclusive" and "no estimate" in reason


@pytest.mark.parametrize("kwargs,match", [
    (dict(expected="bigger"), "expected must be one of"),
    (dict(expected="equivalent"), "needs a sesoi"),
    (dict(expected="increase", sesoi=-1.0), "sesoi must be a positive"),
    (dict(expected="increase", tost_p=0.01), "without the sesoi"),
    (dict(expected="increase", estimate=2.0), "outside its CI"),
])
def test_verdict_input_errors(kwargs, match):
    args = dict(estimate=0.1, ci_low=0.0, ci_high=0.2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        verdict(**args)


def test_score_claims_table():
    results = pd.DataFrame({
        "measure": ["pfj_stress_peak", "knee_ext_moment_peak", "stride_time"],
        "contrast": ["bw_vs_fw_0.6"] * 3,
        "estimate": [-0.8, -0.3, 0.01], "ci_low": [-1.1, -0.6, -0.02], "ci_high": [-0.5, 0.05, 0.04],
        "p_tost": [float("nan"), float("nan"), 0.001],
    })
    claims = [
        dict(id="C1", measure="pfj_stress_peak", contrast="bw_vs_fw_0.6", expected="decrease"),
        dict(id="C2", measure="knee_ext_moment_peak", contrast="bw_vs_fw_0.6", expected="decrease"),
        dict(id="C3", measure="stride_time", contrast="bw_vs_fw_0.6", expected="equivalent", sesoi=0.05),
        dict(id="C4", measure="quad_emg_peak", contrast="bw_vs_fw_0.6", expected="increase"),
    ]
    out = score_claims(claims, results)
    assert list(out.verdict) == ["supported", "inconclusive", "supported", "inconclusive"]
    assert out.reason.iloc[3] == "no result for this measure/contrast"
    assert list(out.columns) == ["id", "measure", "contrast", "expected", "sesoi", "estimate",
                                 "ci_low", "ci_high", "p_tost", "verdict", "reason"]
