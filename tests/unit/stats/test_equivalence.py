"""TOST for paired data: statsmodels itself, a published TOSTER result and hand cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.weightstats import ttost_paired

from retrogait.stats import tost_paired

COLUMNS = ["low", "upp", "mean_diff", "ci90_low", "ci90_high", "p_lower", "p_upper", "p_tost",
           "equivalent"]


def test_matches_statsmodels_directly():
    rng = np.random.default_rng(3)
    a = rng.normal(10, 2, 15)
    b = a + rng.normal(0.2, 0.5, 15)
    out = tost_paired(a, b, low=-0.5, upp=0.5).iloc[0]
    p, (t1, p1, df1), (t2, p2, _) = ttost_paired(a, b, -0.5, 0.5)
    assert out.p_tost == pytest.approx(p)
    assert (out.p_lower, out.p_upper, out.t_lower, out.t_upper) == pytest.approx((p1, p2, t1, t2))
    assert out.df == df1 == 14
    assert list(tost_paired(a, b, low=-0.5, upp=0.5).columns[: len(COLUMNS)]) == COLUMNS


def test_reproduces_toster_known_result():
    """TOSTER tests/testthat/test-known_results.R ("raw paired two-sample t-test"):
    TOSTpaired.raw(n=65, m1=5.83, m2=5.75, sd1=1.17, sd2=1.30, r12=0.745, low=-0.34, high=0.34)
    -> TOST_t1 3.803437, p1 0.0001606103, TOST_t2 -2.354508, p2 0.01081349, df 64,
       90% CI [-0.1043032, 0.2643032]. Raw data with exactly these summary statistics are built here
    (TOST depends on the data only through n, mean and SD of the differences)."""
    n = 65
    sd_diff = math.sqrt(1.17 ** 2 + 1.30 ** 2 - 2 * 0.745 * 1.17 * 1.30)
    z = np.random.default_rng(0).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    d = 0.08 + sd_diff * z
    b = np.random.default_rng(1).normal(5.75, 1.3, n)
    out = tost_paired(b + d, b, low=-0.34, upp=0.34).iloc[0]
    assert out.t_lower == pytest.approx(3.803437, rel=1e-5)
    assert out.p_lower == pytest.approx(0.0001606103, rel=1e-4)
    assert out.t_upper == pytest.approx(-2.354508, rel=1e-5)
    assert out.p_upper == pytest.approx(0.01081349, rel=1e-4)
    assert out.df == 64
    assert out.ci90_low == pytest.approx(-0.1043032, abs=1e-6)
    assert out.ci90_high == pytest.approx(0.2643032, abs=1e-6)
    assert out.p_tost == pytest.approx(0.01081349, rel=1e-4) and bool(out.equivalent)


def test_hand_cases_clearly_equivalent_and_clearly_not():
    base = np.array([10.0, 12.0, 9.5, 11.0, 10.5, 13.0, 8.0, 12.5])
    eps = np.array([0.02, -0.01, 0.0, 0.01, -0.02, 0.01, -0.01, 0.0])
    yes = tost_paired(base + eps, base, low=-1.0, upp=1.0).iloc[0]
    assert bool(yes.equivalent) and yes.p_tost < 1e-6
    assert -1.0 < yes.ci90_low < yes.mean_diff < yes.ci90_high < 1.0
    no = tost_paired(base + 5.0 + eps, base, low=-1.0, upp=1.0).iloc[0]
    assert not bool(no.equivalent) and no.p_tost > 0.99
    assert no.ci90_low > 1.0


def test_equivalence_decision_equals_ci_inside_bounds():
    rng = np.random.default_rng(11)
    for _ in range(20):
        a = rng.normal(0, 1, 12)
        b = a + rng.normal(rng.uniform(-0.5, 0.5), 0.6, 12)
        r = tost_paired(a, b, low=-0.4, upp=0.4).iloc[0]
        assert bool(r.equivalent) == (r.ci90_low > -0.4 and r.ci90_high < 0.4)


def test_nan_and_input_errors():
    out = tost_paired([1.0, 2.0, np.nan, 4.0, 5.0], [1.1, 2.1, 3.0, 3.9, 5.2], low=-1, upp=1).iloc[0]
    assert out.n == 4 and out.n_dropped == 1
    with pytest.raises(ValueError, match="low < upp"):
        tost_paired([1, 2, 3], [1, 2, 3], low=1, upp=-1)
    with pytest.raises(ValueError, match=r"len\(a\)=2, len\(b\)=3"):
        tost_paired([1, 2], [1, 2, 3], low=-1, upp=1)
    const = tost_paired([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], low=-1, upp=1).iloc[0]
    assert np.isnan(const.p_tost) and not bool(const.equivalent) and "zero variance" in const.note


def test_rounding_level_spread_is_constant_for_tost_too():
    a = np.array([1.0, 1.0, 1.0, 1.0])
    b = np.array([0.6, 0.6000000000000001, 0.6, 0.6000000000000001])
    row = tost_paired(a, b, low=-0.5, upp=0.5).iloc[0]
    assert np.isnan(row.p_tost) and "zero variance" in row.note
