"""Known-answer tests for retrogait.stats.paired."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from retrogait.stats import (cohens_dz_ci, hedges_correction, hedges_correction_approx,
                             paired_summary)

# Student's sleep data (R datasets::sleep; Cushny & Peebles 1905): extra sleep with drug 1 and 2
SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])
# R datasets::mtcars$wt (1000 lbs); mean 3.21725, sd 0.9784574
MTCARS_WT = np.array([2.620, 2.875, 2.320, 3.215, 3.440, 3.460, 3.570, 3.190, 3.150, 3.440, 3.440,
                      4.070, 3.730, 3.780, 5.250, 5.424, 5.345, 2.200, 1.615, 1.835, 2.465, 3.520,
                      3.435, 3.840, 3.845, 1.935, 2.140, 1.513, 3.170, 2.770, 3.570, 2.780])

COLUMNS = ["n", "n_dropped", "mean_a", "mean_b", "sd_a", "sd_b", "r", "mean_diff", "sd_diff",
           "se_diff", "ci_low", "ci_high", "t", "df", "p_t", "w", "p_wilcoxon", "dz", "dz_ci_low",
           "dz_ci_high", "g_av", "g_av_ci_low", "g_av_ci_high"]


def test_columns_contract_and_one_row():
    out = paired_summary(SLEEP_1, SLEEP_2)
    assert isinstance(out, pd.DataFrame) and len(out) == 1
    assert list(out.columns[: len(COLUMNS)]) == COLUMNS


def test_hand_computation_tiny_vectors():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.5])
    b = np.array([0.5, 2.5, 2.0, 3.0, 4.0])
    d = [0.5, -0.5, 1.0, 1.0, 1.5]              # a - b by hand
    n = 5
    mean = sum(d) / n                            # 0.7
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    se = sd / math.sqrt(n)
    t = mean / se
    p = 2 * stats.t.sf(abs(t), n - 1)
    half = stats.t.ppf(0.975, n - 1) * se
    row = paired_summary(a, b).iloc[0]
    assert mean == pytest.approx(0.7)
    assert row.n == 5 and row.n_dropped == 0 and row.df == 4
    assert row.mean_diff == pytest.approx(mean)
    assert row.sd_diff == pytest.approx(sd)
    assert row.se_diff == pytest.approx(se)
    assert row.t == pytest.approx(t)
    assert row.p_t == pytest.approx(p)
    assert row.ci_low == pytest.approx(mean - half)
    assert row.ci_high == pytest.approx(mean + half)
    assert row.dz == pytest.approx(t / math.sqrt(n))          # d_z = t / sqrt(n)
    assert row.mean_a == pytest.approx(3.1) and row.mean_b == pytest.approx(2.4)
    # Wilcoxon: same call as scipy's default (zero_method="wilcox")
    w = stats.wilcoxon(a, b)
    assert row.w == pytest.approx(w.statistic) and row.p_wilcoxon == pytest.approx(w.pvalue)


def test_hedges_j_exact_vs_approximation():
    # exact gamma form, evaluated independently with math.gamma
    for df in (5, 9, 19, 40):
        exact = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
        assert hedges_correction(df) == pytest.approx(exact, rel=1e-12)
    # methods.md §6.3: n = 10 -> 0.9139 (exact) vs 0.9143 (approx); n = 20 -> 0.9599 vs 0.9600
    assert round(hedges_correction(9), 4) == 0.9139
    assert round(hedges_correction_approx(9), 4) == 0.9143
    assert round(hedges_correction(19), 4) == 0.9599
    assert round(hedges_correction_approx(19), 4) == 0.9600
    assert abs(hedges_correction(9) - hedges_correction_approx(9)) < 5e-4
    assert abs(hedges_correction(19) - hedges_correction_approx(19)) < 1e-4
    assert math.isnan(hedges_correction(1))


def test_dz_ci_matches_effectsize_documentation():
    """R effectsize, reference page of cohens_d() (easystats.github.io/effectsize/reference/cohens_d),
    Examples, 'Paired Samples': cohens_d(Pair(extra[group == 1], extra[group == 2]) ~ 1, data = sleep)
    -> -1.28 [-2.12, -0.41]; with mu = -1 -> -0.47 [-1.12, 0.20];
    hedges_g(...) -> -1.17 [-1.94, -0.38]; one sample cohens_d(wt ~ 1, data = mtcars) -> 3.29 [2.40, 4.17].
    effectsize uses the noncentral-t (pivot) method, as TOSTER smd_ci = "nct"."""
    row = paired_summary(SLEEP_1, SLEEP_2).iloc[0]
    assert round(row.dz, 2) == -1.28
    assert (round(row.dz_ci_low, 2), round(row.dz_ci_high, 2)) == (-2.12, -0.41)
    # Hedges' g_z = d_z * J, CI scaled by J
    J = hedges_correction(9)
    assert (round(row.dz * J, 2), round(row.dz_ci_low * J, 2), round(row.dz_ci_high * J, 2)) == (-1.17, -1.94, -0.38)
    shifted = paired_summary(SLEEP_1 + 1.0, SLEEP_2).iloc[0]   # difference from mu = -1
    assert (round(shifted.dz, 2), round(shifted.dz_ci_low, 2), round(shifted.dz_ci_high, 2)) == (-0.47, -1.12, 0.20)
    assert np.mean(MTCARS_WT) == pytest.approx(3.21725)
    one = paired_summary(MTCARS_WT, np.zeros_like(MTCARS_WT)).iloc[0]
    assert (round(one.dz, 2), round(one.dz_ci_low, 2), round(one.dz_ci_high, 2)) == (3.29, 2.40, 4.17)


def test_dz_ci_equals_independent_nct_inversion():
    """Independent inversion: brentq on scipy.stats.nct.cdf (the library uses special.nctdtrinc)."""
    rng = np.random.default_rng(7)
    for n, shift in ((6, 0.3), (12, 1.0), (25, -0.4)):
        a = rng.normal(shift, 1.0, n)
        b = rng.normal(0.0, 1.0, n)
        row = paired_summary(a, b, alpha=0.10).iloc[0]
        t, df = row.t, n - 1
        lam_lo = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - 0.95, t - 15, t + 15, xtol=1e-12)
        lam_hi = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - 0.05, t - 15, t + 15, xtol=1e-12)
        assert row.dz_ci_low == pytest.approx(lam_lo / math.sqrt(n), abs=1e-7)
        assert row.dz_ci_high == pytest.approx(lam_hi / math.sqrt(n), abs=1e-7)
        assert cohens_dz_ci(t, n, alpha=0.10) == pytest.approx((row.dz_ci_low, row.dz_ci_high))


def test_g_av_definition_and_ci_scaling():
    row = paired_summary(SLEEP_1, SLEEP_2).iloc[0]
    s_av = (SLEEP_1.std(ddof=1) + SLEEP_2.std(ddof=1)) / 2        # Lakens (2013) d_av denominator
    J = hedges_correction(9)
    assert row.g_av == pytest.approx((SLEEP_1 - SLEEP_2).mean() / s_av * J)
    scale = row.sd_diff / s_av * J
    assert row.g_av_ci_low == pytest.approx(row.dz_ci_low * scale)
    assert row.g_av_ci_high == pytest.approx(row.dz_ci_high * scale)
    assert row.g_av_ci_low < row.g_av < row.g_av_ci_high


def test_nan_pairs_dropped_and_counted():
    a = np.r_[SLEEP_1, np.nan, 1.0]
    b = np.r_[SLEEP_2, 2.0, np.nan]
    out = paired_summary(pd.Series(a), pd.Series(b)).iloc[0]
    ref = paired_summary(SLEEP_1, SLEEP_2).iloc[0]
    assert out.n == 10 and out.n_dropped == 2
    assert out.t == pytest.approx(ref.t) and out.dz_ci_low == pytest.approx(ref.dz_ci_low)


def test_input_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"len\(a\)=3, len\(b\)=4"):
        paired_summary([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"n=1 \(2 pair"):
        paired_summary([1.0, np.nan, 3.0], [1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="infinite"):
        paired_summary([1.0, np.inf, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="alpha"):
        paired_summary(SLEEP_1, SLEEP_2, alpha=1.5)
    with pytest.raises(ValueError, match="1-D"):
        paired_summary(np.ones((3, 2)), np.ones((3, 2)))


def test_n_equal_2_does_not_crash():
    row = paired_summary([1.0, 2.0], [0.0, 3.0]).iloc[0]
    assert row.n == 2 and row.df == 1
    assert np.isfinite(row.t) and np.isfinite(row.p_t)
    assert np.isfinite(row.dz_ci_low) and np.isfinite(row.dz_ci_high)
    assert np.isnan(row.g_av) and np.isnan(row.g_av_ci_low)
    assert "g_av undefined" in row.note


def test_zero_variance_of_differences_is_reported_not_crashing():
    row = paired_summary([1.0, 2.0, 3.0], [0.0, 1.0, 2.0]).iloc[0]
    assert row.mean_diff == 1.0 and row.sd_diff == 0.0
    assert np.isnan(row.t) and np.isnan(row.dz)
    assert "zero variance" in row.note
    same = paired_summary([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).iloc[0]
    assert np.isnan(same.p_wilcoxon) and "all differences are zero" in same.note


def test_differences_varying_only_by_rounding_count_as_constant():
    # subject means of a design variable: 1.0 - 0.6 is 0.4 for some subjects, 0.39999999999999997 for others
    a = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    b = np.array([0.6, 0.6, 0.6000000000000001, 0.6, 0.6000000000000001])
    assert float((a - b).std(ddof=1)) > 0  # the raw spread is rounding noise, not zero
    row = paired_summary(a, b).iloc[0]
    assert row.sd_diff == 0.0 and row.se_diff == 0.0
    assert np.isnan(row.t) and np.isnan(row.p_t) and np.isnan(row.dz)  # not a d_z of ~1e16
    assert row.ci_low == row.ci_high == pytest.approx(0.4)
    assert "rounding level" in row.note and "zero variance" in row.note
    assert np.isnan(row.g_av) and np.isnan(row.r)  # both levels are design constants: no g_av of ~1e16
    # the same data in other units (mm/s): the same decision
    mm = paired_summary(a * 1000, b * 1000).iloc[0]
    assert mm.sd_diff == 0.0 and np.isnan(mm.dz)
    # a real, small spread is kept: 1e-6 relative is data, not rounding
    real = paired_summary(a + np.array([0, 1e-3, 0, -1e-3, 0]), b).iloc[0]
    assert real.sd_diff > 0 and np.isfinite(real.dz) and np.isfinite(real.dz_ci_low)


def test_huge_t_gives_a_noted_nan_interval_not_a_hung_job():
    # |t| ~ 1.3e6: scipy's nctdtrinc does not return within minutes there
    a = np.array([1.0, 1.000001, 1.0, 0.999999, 1.0])
    row = paired_summary(a, np.full(5, 0.6)).iloc[0]
    assert abs(row.t) > 1e5 and np.isfinite(row.dz)
    assert np.isnan(row.dz_ci_low) and np.isnan(row.g_av_ci_low)
    assert "intervals not computed" in row.note
