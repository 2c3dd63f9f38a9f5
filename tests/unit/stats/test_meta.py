"""Meta-analysis against metafor's published numbers and effect-size formulas."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import effectsize_smd

from retrogait.stats import (POOLED_LABEL, effect_from_paired, hedges_correction, random_effects,
                             smd_from_summary)

# Kacker (2004) example as run through R metafor::rma() and stored in statsmodels'
# test suite (statsmodels/stats/tests/results/results_meta.py, objects exk1_dl and exk1_metafor)
KACKER_Y = np.array([61.0, 61.4, 62.21, 62.3, 62.34, 62.6, 62.7, 62.84, 65.9])
KACKER_V = np.array([0.2025, 1.21, 0.09, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225])
LABELS = [f"study{i}" for i in range(1, 10)]

COLUMNS = ["label", "effect", "var", "se", "ci_low", "ci_high", "weight", "tau2", "i2", "q", "p_q",
           "method"]


def test_dersimonian_laird_matches_metafor():
    # rma(y, v, method = "DL"): b 62.3901386044504, se 0.245749668040304,
    # ci 61.9084781058787..62.8717991030221, tau2 0.288049246973751, QE 24.801897741835,
    # QEp 0.00167935146372742, I2 67.744403741711
    out = random_effects(KACKER_Y, KACKER_V, labels=LABELS, method="dl", ci="normal")
    assert list(out.columns[: len(COLUMNS)]) == COLUMNS
    assert len(out) == 10 and out.label.iloc[-1] == POOLED_LABEL
    pooled = out.iloc[-1]
    assert pooled.effect == pytest.approx(62.3901386044504, rel=1e-10)
    assert pooled.se == pytest.approx(0.245749668040304, rel=1e-8)
    assert pooled.ci_low == pytest.approx(61.9084781058787, rel=1e-9)
    assert pooled.ci_high == pytest.approx(62.8717991030221, rel=1e-9)
    assert pooled.tau2 == pytest.approx(0.288049246973751, rel=1e-8)
    assert pooled.q == pytest.approx(24.801897741835, rel=1e-10)
    assert pooled.p_q == pytest.approx(0.00167935146372742, rel=1e-8)
    assert pooled.i2 == pytest.approx(67.744403741711, rel=1e-8)
    assert pooled.method == "DerSimonian-Laird"
    assert out.weight.iloc[:-1].sum() == pytest.approx(1.0)
    # study rows: own effect with a normal CI
    s1 = out.iloc[0]
    assert (s1.effect, s1.se) == (61.0, pytest.approx(0.45))
    assert s1.ci_low == pytest.approx(61.0 - 1.959963984540054 * 0.45)


def test_paule_mandel_matches_metafor():
    # rma(y, v, method = "PM", control = list(tol = 1e-9)): b 62.4076199113286,
    # se 0.338030602684471, tau2 0.705395309224248 (the estimating equation is now iterated to 1e-12)
    pooled = random_effects(KACKER_Y, KACKER_V, labels=LABELS, method="pm", ci="normal").iloc[-1]
    assert pooled.effect == pytest.approx(62.4076199113286, abs=1e-6)
    assert pooled.se == pytest.approx(0.338030602684471, abs=1e-7)
    assert pooled.tau2 == pytest.approx(0.705395309224248, abs=1e-6)
    assert pooled.method == "Paule-Mandel"


# Hartung-Knapp-Sidik-Jonkman reference numbers computed once with R 4.x, metafor 3.8.1:
#   library(metafor)
#   yi <- c(0.8, 1.2, 0.5, 0.3, 1.0); vi <- c(0.05, 0.08, 0.10, 0.04, 0.12)
#   rma(yi, vi, method = "DL", test = "knha")
#   rma(yi, vi, method = "PM", test = "knha", control = list(tol = 1e-12))
#   yi3 <- c(-0.7, -2.0, -1.1); vi3 <- c(0.04, 0.30, 0.09)
#   rma(yi3, vi3, method = "PM", test = "knha", control = list(tol = 1e-12))
#   rma(yi3, vi3, method = "DL", test = "knha")
#   yh <- c(0.50, 0.52, 0.49, 0.51); vh <- c(0.05, 0.06, 0.04, 0.05)   # Q < k - 1
#   rma(yh, vh, method = "DL", test = "knha")
# printing b, se, ci.lb, ci.ub, tau2, pval with %.10g (df = k - 1).
HKSJ = [
    # y, v, method, (b, se, ci.lb, ci.ub, tau2, pval)
    ([0.8, 1.2, 0.5, 0.3, 1.0], [0.05, 0.08, 0.10, 0.04, 0.12], "dl",
     (0.7281767184, 0.1660130476, 0.2672506049, 1.189102832, 0.07677083333, 0.01181701241)),
    ([0.8, 1.2, 0.5, 0.3, 1.0], [0.05, 0.08, 0.10, 0.04, 0.12], "pm",
     (0.725460901, 0.1661575909, 0.2641334711, 1.186788331, 0.06630380557, 0.01200464037)),
    ([-0.7, -2.0, -1.1], [0.04, 0.30, 0.09], "pm",
     (-1.132390403, 0.3508261299, -2.641873409, 0.3770926029, 0.2535078495, 0.08405732717)),
    ([-0.7, -2.0, -1.1], [0.04, 0.30, 0.09], "dl",
     (-1.101541423, 0.3404298665, -2.566292917, 0.3632100714, 0.1712790698, 0.08369493308)),
    ([0.50, 0.52, 0.49, 0.51], [0.05, 0.06, 0.04, 0.05], "dl",
     (0.5034693878, 0.00644717102, 0.4829516122, 0.5239871633, 0.0, 4.628100614e-06)),
]


@pytest.mark.parametrize("y,v,method,ref", HKSJ)
def test_hartung_knapp_matches_metafor_knha(y, v, method, ref):
    b, se, lb, ub, tau2, pval = ref
    pooled = random_effects(y, v, labels=[f"s{i}" for i in range(len(y))], method=method).iloc[-1]
    assert pooled.effect == pytest.approx(b, rel=1e-8)
    assert pooled.se == pytest.approx(se, rel=1e-8)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx((lb, ub), rel=1e-8)
    assert pooled.tau2 == pytest.approx(tau2, rel=1e-8, abs=1e-12)
    assert pooled.p == pytest.approx(pval, rel=1e-7)
    assert pooled.df == len(y) - 1 and pooled.ci_method.startswith("Hartung-Knapp-Sidik-Jonkman")


def test_random_effects_input_errors():
    with pytest.raises(ValueError, match="at least 2 studies"):
        random_effects([0.1], [0.01], labels=["a"])
    with pytest.raises(ValueError, match=r"variances must be > 0; not for \['b'\]"):
        random_effects([0.1, 0.2], [0.01, 0.0], labels=["a", "b"])
    with pytest.raises(ValueError, match="equal length"):
        random_effects([0.1, 0.2], [0.01, 0.02], labels=["a"])
    with pytest.raises(ValueError, match="method"):
        random_effects([0.1, 0.2], [0.01, 0.02], labels=["a", "b"], method="reml")
    with pytest.raises(ValueError, match="ci must be"):
        random_effects([0.1, 0.2], [0.01, 0.02], labels=["a", "b"], ci="z")


def test_smd_independent_groups_formula_and_statsmodels():
    # Worked example of Borenstein et al. (2009) ch. 4 as recalled (not re-verified against the book in
    # this session): means 103 vs 100, SDs 5.5 and 4.5, n = 50 each -> S_within 5.0249, d 0.5970,
    # V_d 0.0418. The hand arithmetic below checks the formulas independently of that recollection.
    g, v = smd_from_summary(103, 5.5, 50, 100, 4.5, 50)
    s_within = math.sqrt((49 * 5.5 ** 2 + 49 * 4.5 ** 2) / 98)
    d = 3 / s_within
    assert round(s_within, 4) == 5.0249 and round(d, 4) == 0.5970
    v_d = 100 / 2500 + d ** 2 / 200
    assert round(v_d, 4) == 0.0418
    J = hedges_correction(98)
    assert g == pytest.approx(J * d) and v == pytest.approx(J ** 2 * v_d)
    # statsmodels' effectsize_smd: approximate J = 1 - 3/(4N - 9) and the Hedges-Olkin variance
    # N/(n1 n2) + g^2/(2(N - 3.94)) without the J^2 factor of Borenstein's V_g
    g_sm, v_sm = effectsize_smd(103, 5.5, 50, 100, 4.5, 50)
    assert g == pytest.approx(g_sm, abs=1e-5)
    assert v == pytest.approx(J ** 2 * v_sm, rel=2e-3)


def test_smd_paired_assumed_r_is_stated():
    with pytest.warns(UserWarning, match="assumed r = 0.5"):
        g, v = smd_from_summary(10.0, 2.0, 12, 9.0, 2.0, 12, paired=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g2, v2 = smd_from_summary(10.0, 2.0, 12, 9.0, 2.0, 12, paired=True, r=0.5)
    assert (g, v) == (g2, v2)
    J = hedges_correction(11)
    d = 1.0 / 2.0
    assert g == pytest.approx(J * d)
    assert v == pytest.approx(J ** 2 * (1 / 12 + d ** 2 / 24) * 2 * (1 - 0.5))
    # higher r -> smaller variance, same g
    g8, v8 = smd_from_summary(10.0, 2.0, 12, 9.0, 2.0, 12, paired=True, r=0.8)
    assert g8 == pytest.approx(g) and v8 < v
    with pytest.raises(ValueError, match="n1 == n2"):
        smd_from_summary(10.0, 2.0, 12, 9.0, 2.0, 11, paired=True, r=0.5)
    with pytest.raises(ValueError, match="sd2"):
        smd_from_summary(10.0, 2.0, 12, 9.0, -1.0, 12)


def test_effect_from_paired_and_pooling_with_literature():
    rng = np.random.default_rng(5)
    b = rng.normal(1.0, 0.3, 12)
    a = b + rng.normal(0.25, 0.15, 12)
    row = effect_from_paired(a, b, label="GT23").iloc[0]
    r = np.corrcoef(a, b)[0, 1]
    g, v = smd_from_summary(a.mean(), a.std(ddof=1), 12, b.mean(), b.std(ddof=1), 12, paired=True, r=r)
    assert (row.effect, row["var"], row.n, row.kind) == (pytest.approx(g), pytest.approx(v), 12, "g")
    dz = effect_from_paired(a, b, kind="dz").iloc[0]
    d = a - b
    e = d.mean() / d.std(ddof=1)
    assert dz.effect == pytest.approx(e) and dz["var"] == pytest.approx(1 / 12 + e ** 2 / 24)
    with pytest.warns(UserWarning):
        lit = [smd_from_summary(1.30, 0.35, 15, 1.02, 0.30, 15, paired=True),
               smd_from_summary(1.10, 0.28, 20, 0.95, 0.33, 20, paired=True)]
    eff = [row.effect] + [x[0] for x in lit]
    var = [row["var"]] + [x[1] for x in lit]
    out = random_effects(eff, var, labels=["GT23", "Lit A", "Lit B"])
    assert list(out.label) == ["GT23", "Lit A", "Lit B", POOLED_LABEL]
    assert min(eff) <= out.effect.iloc[-1] <= max(eff)


def test_negative_dl_tau2_is_truncated_to_zero():
    # three nearly identical effects: Q < k - 1, untruncated DL tau2 < 0
    eff, var = [0.50, 0.51, 0.49], [0.04, 0.05, 0.06]
    out = random_effects(eff, var, labels=["a", "b", "c"], ci="normal")
    pooled = out.iloc[-1]
    w = 1 / np.array(var)
    assert pooled.tau2 == 0.0 and "truncated to 0" in pooled.note
    assert pooled.effect == pytest.approx((w * eff).sum() / w.sum())
    assert pooled.se == pytest.approx(1 / math.sqrt(w.sum()))
    np.testing.assert_allclose(out.weight.iloc[:-1], w / w.sum())


def test_effect_from_paired_refuses_rounding_level_spread():
    # a design constant (one treadmill speed per level): SDs ~1e-17 would give g and d_z of ~1e16
    a = np.array([1.0, 1.0, 1.0, 1.0])
    b = np.array([0.6, 0.6000000000000001, 0.6, 0.6000000000000001])
    with pytest.raises(ValueError, match="zero variance"):
        effect_from_paired(a, b)
    with pytest.raises(ValueError, match="rounding level"):
        effect_from_paired(a, b, kind="dz")
