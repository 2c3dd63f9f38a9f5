"""SPM1D paired tests on the dataset bundled with spm1d.

Reference numbers. spm1d's documentation shows this example
(./spm1d/examples/stats1d/ex_ttest_paired.py, dataset
spm1d.data.uv1d.tpaired.PlantarArchAngle, Caravaggi et al. 2010 J Anat 217:254,
normal vs fast walking, J = 10, Q = 101) only as figures, so no printed
numbers exist to copy. The test therefore (1) pins the values printed by
``print(spmi)`` / ``print(spmi.clusters)`` with spm1d 0.4.55 and (2) checks
them against an independent re-computation from the published formulas:
FWHM from the residual derivatives (Kiebel et al. 1999, NeuroImage 10:756; as
described in spm1d's docs, "Test outputs" page), the critical threshold from
the expected Euler characteristic of a 1D t field (Worsley et al. 1996, Hum
Brain Mapp 4:58; the "rft1d" formulas used by spm1d) and the cluster
endpoints by linear interpolation of the SPM{t} at the threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
import spm1d
from scipy import optimize, stats

from retrogait.stats import SPMResult, sidak_alpha, spm_family, spm_paired


@pytest.fixture(scope="module")
def arch():
    d = spm1d.data.uv1d.tpaired.PlantarArchAngle()
    return np.asarray(d.YA, float), np.asarray(d.YB, float)


def _fwhm_independent(ya, yb):
    D = ya - yb
    R = D - D.mean(axis=0)
    v = (np.gradient(R, axis=1) ** 2).sum(axis=0) / (R ** 2).sum(axis=0)
    return 1.0 / np.mean(np.sqrt(v / (4 * np.log(2))))


def _zstar_independent(fwhm, J, Q, alpha, two_tailed):
    nu = J - 1
    resels = (Q - 1) / fwhm

    def p_max(u):  # P(max SPM{t} > u) = 1 - exp(-E[EC]) for a 1D t field
        ec0 = stats.t.sf(u, nu)
        ec1 = resels * np.sqrt(4 * np.log(2)) / (2 * np.pi) * (1 + u * u / nu) ** (-(nu - 1) / 2)
        return 1 - np.exp(-(ec0 + ec1))

    target = alpha / 2 if two_tailed else alpha
    return optimize.brentq(lambda u: p_max(u) - target, 0.5, 50, xtol=1e-12)


def test_two_tailed_reference_values(arch):
    ya, yb = arch
    res = spm_paired(ya, yb, alpha=0.05, two_tailed=True)
    assert isinstance(res, SPMResult)
    s = res.summary.iloc[0]
    assert list(res.summary.columns[:8]) == ["n", "nodes", "alpha", "zstar", "fwhm", "h0reject",
                                             "n_clusters", "p_set"]
    # spm1d 0.4.55 print(spmi): fwhm 20.37196, zstar 3.93947, p_set 0.037, one cluster P 0.03730
    assert (s.n, s.nodes) == (10, 101)
    assert s.fwhm == pytest.approx(20.37196, abs=1e-5)
    assert s.zstar == pytest.approx(3.93947, abs=1e-5)
    assert bool(s.h0reject) and s.n_clusters == 1
    assert s.p_set == pytest.approx(0.03730, abs=1e-5)
    c = res.clusters.iloc[0]
    assert list(res.clusters.columns[:7]) == ["cluster", "start_pct", "end_pct", "extent_pct",
                                              "centroid_pct", "p", "sign"]
    assert c.start_pct == pytest.approx(95.566, abs=1e-3) and c.end_pct == pytest.approx(100.0)
    assert c.extent_pct == pytest.approx(4.434, abs=1e-3)
    assert c.centroid_pct == pytest.approx(97.891, abs=1e-3)
    assert c.p == pytest.approx(0.03730, abs=1e-5)
    assert c.sign == "a>b"  # normal-speed arch angle > fast-speed at the end of the cycle


def test_one_tailed_reference_values(arch):
    # spm1d 0.4.55, the documented call spm.inference(0.05, two_tailed=False, interp=True):
    # zstar 3.40590, cluster endpoints (94.457, 100.000), P 0.03528
    res = spm_paired(*arch, alpha=0.05, two_tailed=False)
    s, c = res.summary.iloc[0], res.clusters.iloc[0]
    assert s.zstar == pytest.approx(3.40590, abs=1e-5)
    assert c.start_pct == pytest.approx(94.457, abs=1e-3) and c.p == pytest.approx(0.03528, abs=1e-5)


def test_against_independent_rft_computation(arch):
    ya, yb = arch
    J, Q = ya.shape
    fwhm = _fwhm_independent(ya, yb)
    for two_tailed in (True, False):
        res = spm_paired(ya, yb, two_tailed=two_tailed)
        s = res.summary.iloc[0]
        assert s.fwhm == pytest.approx(fwhm, rel=1e-9)
        zstar = _zstar_independent(fwhm, J, Q, 0.05, two_tailed)
        assert s.zstar == pytest.approx(zstar, abs=1e-6)
        # SPM{t}: plain one-sample t on the differences at each node
        D = ya - yb
        t = D.mean(0) / (D.std(0, ddof=1) / np.sqrt(J))
        np.testing.assert_allclose(res.t, t, rtol=1e-10)
        np.testing.assert_allclose(res.mean_diff, D.mean(0))
        # cluster start = linear interpolation of t at the threshold crossing
        i = int(np.flatnonzero(t > zstar)[0])
        x0 = (i - 1) + (zstar - t[i - 1]) / (t[i] - t[i - 1])
        assert res.clusters.iloc[0].start_pct == pytest.approx(x0, abs=1e-6)


def test_negative_effect_sign_and_swapped_inputs(arch):
    ya, yb = arch
    res = spm_paired(yb, ya)
    assert res.clusters.iloc[0].sign == "a<b"
    assert res.summary.iloc[0].zstar == pytest.approx(spm_paired(ya, yb).summary.iloc[0].zstar)


def test_zero_variance_differences_are_named_and_left_out(arch):
    """Every subject has the same a - b at nodes 0-2: t is undefined there; those nodes are named and
    left out of the random field (spm1d ROI), the others are tested as usual."""
    ya, yb = arch
    yb2 = yb.copy()
    yb2[:, :3] = ya[:, :3] + 1.0
    res = spm_paired(ya, yb2)
    s = res.summary.iloc[0]
    assert s.n_untested_nodes == 3 and s.untested_nodes == "0-2" and s.nodes == 98
    assert "every subject has the same a - b there: -1 to -1" in s.untested_note
    assert np.isnan(res.t[:3]).all() and np.isfinite(res.t[3:]).all()
    D = ya - yb2
    np.testing.assert_allclose(res.t[3:], D.mean(0)[3:] / (D.std(0, ddof=1)[3:] / np.sqrt(10)), rtol=1e-10)
    # two segments in the search region? no: one contiguous region 3-100 -> resels of 97 node intervals
    assert res.spmi.resels[0] == 1
    with pytest.raises(ValueError, match="fewer than 3 nodes left"):
        spm_paired(ya, ya + 1.0)


def test_invalid_input(arch):
    ya, yb = arch
    bad = ya.copy()
    bad[4, 50] = np.nan
    with pytest.raises(ValueError, match=r"ya has NaN/inf in subject row\(s\) \[4\]"):
        spm_paired(bad, yb)
    with pytest.raises(ValueError, match="same shape"):
        spm_paired(ya, yb[:9])
    with pytest.raises(ValueError, match="at least 3 subjects"):
        spm_paired(ya[:2], yb[:2])


def test_family_sidak_and_skips(arch):
    ya, yb = arch
    flat_b = ya + 1.0
    summary, clusters = spm_family({"arch": (ya, yb), "arch_rev": (yb, ya), "flat": (ya, flat_b)},
                                   alpha=0.05)
    a3 = sidak_alpha(0.05, 3)
    assert list(summary.variable) == ["arch", "arch_rev", "flat"]
    assert (summary.alpha_corrected == a3).all() and (summary.m == 3).all()
    ok = summary.set_index("variable")
    assert ok.loc["arch", "status"] == "ok" and ok.loc["flat", "status"].startswith("skipped:")
    assert np.isnan(ok.loc["flat", "zstar"]) and ok.loc["flat", "n"] == 10
    single = spm_paired(ya, yb, alpha=a3).summary.iloc[0]
    assert ok.loc["arch", "zstar"] == pytest.approx(single.zstar)
    assert ok.loc["arch", "zstar"] > spm_paired(ya, yb).summary.iloc[0].zstar
    assert set(clusters.variable) == {"arch", "arch_rev"}
    assert list(clusters.columns[:2]) == ["variable", "cluster"]
    none, _ = spm_family({"arch": (ya, yb)}, correction="none")
    assert none.alpha_corrected.iloc[0] == 0.05
    with pytest.raises(ValueError, match="correction"):
        spm_family({"arch": (ya, yb)}, correction="bonf")


def test_a_condition_constant_over_half_the_cycle_is_tested_at_every_node():
    """Level a is 0 for every subject over half the cycle (e.g. PFJ stress clamped): the paired test
    is spm1d.stats.ttest(ya - yb), the differences vary, so every node is tested and the clamped
    half, where b is clearly above 0, forms a cluster a<b."""
    import spm1d

    rng = np.random.default_rng(3)
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    smooth = lambda: np.array([np.convolve(r, k / k.sum(), mode="same") for r in rng.normal(size=(8, 101))])
    yb = 2.0 + smooth()
    ya = 2.0 + smooth()
    ya[:, :51] = 0.0  # constant in condition a over half the cycle
    res = spm_paired(ya, yb)
    s = res.summary.iloc[0]
    assert s.nodes == 101 and s.n_untested_nodes == 0 and s.untested_nodes == ""
    ref = spm1d.stats.ttest(ya - yb).inference(0.05, two_tailed=True, interp=True)
    np.testing.assert_allclose(res.t, ref.z, rtol=1e-12)
    assert s.zstar == pytest.approx(ref.zstar, rel=1e-12)
    c = res.clusters
    assert len(c) >= 1 and c.iloc[0].sign == "a<b" and c.iloc[0].start_pct == 0.0 and c.iloc[0].end_pct > 45
    summary, _ = spm_family({"clamped": (ya, yb)}, alpha=0.05)
    assert summary["status"].iloc[0] == "ok"
