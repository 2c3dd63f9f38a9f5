"""Standardised mean differences from summary data and random-effects pooling.

References
----------
.. [Borenstein2009] Borenstein M, Hedges LV, Higgins JPT, Rothstein HR
   (2009). Introduction to Meta-Analysis. Wiley. Chapter 4 ("Effect sizes
   based on means": d and g for independent groups and for matched groups /
   pre-post scores, with their variances).
.. [Hedges1981] Hedges LV (1981). J Educ Stat 6:107-128 (bias correction J).
.. [DerSimonian1986] DerSimonian R, Laird N (1986). Meta-analysis in clinical
   trials. Control Clin Trials 7:177-188.
.. [Paule1982] Paule RC, Mandel J (1982). Consensus values and weighting
   factors. J Res Natl Bur Stand 87:377-385.
.. [Higgins2002] Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in
   a meta-analysis. Stat Med 21:1539-1558.
.. [Follmann1992] Follmann D, Elliott P, Suh I, Cutler J (1992). Variance
   imputation for overviews of clinical trials with continuous response.
   J Clin Epidemiol 45:769-773 (imputing an unknown within-subject r).
.. [HartungKnapp2001] Hartung J, Knapp G (2001). On tests of the overall
   treatment effect in meta-analysis with normally distributed responses.
   Stat Med 20:1771-1782.
.. [SidikJonkman2002] Sidik K, Jonkman JN (2002). A simple confidence interval
   for meta-analysis. Stat Med 21:3153-3159.
.. [IntHout2014] IntHout J, Ioannidis JPA, Borm GF (2014). The
   Hartung-Knapp-Sidik-Jonkman method for random effects meta-analysis is
   straightforward and considerably outperforms the standard
   DerSimonian-Laird method. BMC Med Res Methodol 14:25.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from retrogait.stats.paired import _check_alpha, _paired_arrays, _rounding_only, hedges_correction, rounding_floor

__all__ = ["smd_from_summary", "random_effects", "effect_from_paired", "POOLED_LABEL", "HKSJ_LABEL"]

POOLED_LABEL = "pooled (random effects)"
_ASSUMED_R = 0.5
_META_COLUMNS = ["label", "effect", "var", "se", "ci_low", "ci_high", "weight", "tau2", "i2",
                 "q", "p_q", "method", "k", "note", "df", "p", "ci_method"]
_CI_METHODS = ("hksj", "normal")
#: How the pooled CI is computed (``ci_method`` column).
HKSJ_LABEL = "Hartung-Knapp-Sidik-Jonkman: t(k-1) with the weighted residual variance"
_METHODS = {"dl": ("chi2", "DerSimonian-Laird"), "pm": ("iterated", "Paule-Mandel")}


def _pos_number(v: object, name: str, *, integer: bool = False, minimum: float = 0.0) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"smd_from_summary: {name} must be a number; got {v!r}") from None
    if not np.isfinite(f):
        raise ValueError(f"smd_from_summary: {name} must be finite; got {v!r}")
    if integer and f != int(f):
        raise ValueError(f"smd_from_summary: {name} must be an integer; got {v!r}")
    if f < minimum:
        raise ValueError(f"smd_from_summary: {name} must be >= {minimum}; got {v!r}")
    return f


def smd_from_summary(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int,
                     *, paired: bool = False, r: float | None = None) -> tuple[float, float]:
    """Hedges' g (group 1 − group 2) and its sampling variance from summary data.

    Independent groups [Borenstein2009]_ (ch. 4)::

        S_within = sqrt(((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2))
        d = (mean1 - mean2) / S_within
        V_d = (n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2))
        g = J d,  V_g = J^2 V_d,  J = J(n1 + n2 - 2)

    Paired / matched groups (``paired=True``, ``n1 == n2 == n`` pairs)
    [Borenstein2009]_ (ch. 4, matched groups)::

        S_within = sqrt((sd1^2 + sd2^2) / 2)
        d = (mean1 - mean2) / S_within
        V_d = (1/n + d^2 / (2 n)) * 2 (1 - r)
        g = J d,  V_g = J^2 V_d,  J = J(n - 1)

    ``J`` is the exact Hedges correction (:func:`~retrogait.stats.paired.
    hedges_correction`, [Hedges1981]_). For paired data the effect is
    standardised by the within-condition SD, so it is on the same scale as
    between-subject literature effects (a d_av-type effect; the root mean
    square of the two SDs, as in Borenstein et al., not their arithmetic
    mean as in Lakens' d_av).

    Parameters
    ----------
    mean1, sd1, n1, mean2, sd2, n2 : float / int
        Summary statistics (SD > 0, n >= 2).
    paired : bool, keyword-only
        Matched/paired design (requires ``n1 == n2``).
    r : float or None, keyword-only
        Correlation between the paired measurements (paired only). **If None,
        r = 0.5 is assumed** (a common imputation when studies do not report
        it, [Follmann1992]_) and a ``UserWarning`` says so; pass ``r=0.5``
        explicitly to silence it. Larger r → smaller variance.

    Returns
    -------
    (g, var_g) : tuple of float
    """
    m1 = _pos_number(mean1, "mean1", minimum=-np.inf)
    m2 = _pos_number(mean2, "mean2", minimum=-np.inf)
    s1 = _pos_number(sd1, "sd1")
    s2 = _pos_number(sd2, "sd2")
    k1 = _pos_number(n1, "n1", integer=True, minimum=2)
    k2 = _pos_number(n2, "n2", integer=True, minimum=2)
    if s1 <= 0 or s2 <= 0:
        raise ValueError(f"smd_from_summary: SDs must be > 0; got sd1={sd1!r}, sd2={sd2!r}")
    if not paired:
        if r is not None:
            raise ValueError("smd_from_summary: r is only used with paired=True")
        s_within = math.sqrt(((k1 - 1) * s1 ** 2 + (k2 - 1) * s2 ** 2) / (k1 + k2 - 2))
        d = (m1 - m2) / s_within
        v_d = (k1 + k2) / (k1 * k2) + d ** 2 / (2 * (k1 + k2))
        J = hedges_correction(k1 + k2 - 2)
    else:
        if k1 != k2:
            raise ValueError(f"smd_from_summary: paired data need n1 == n2 (number of pairs); "
                             f"got n1={n1}, n2={n2}")
        if r is None:
            warnings.warn("smd_from_summary: paired design with unknown r: assumed r = 0.5 "
                          "(pass r explicitly to silence)", UserWarning, stacklevel=2)
            r = _ASSUMED_R
        rr = _pos_number(r, "r", minimum=-1.0)
        if rr >= 1.0:
            raise ValueError(f"smd_from_summary: r must be in [-1, 1); got {r!r}")
        n = k1
        s_within = math.sqrt((s1 ** 2 + s2 ** 2) / 2.0)
        d = (m1 - m2) / s_within
        v_d = (1.0 / n + d ** 2 / (2.0 * n)) * 2.0 * (1.0 - rr)
        J = hedges_correction(n - 1)
    if not np.isfinite(J):
        raise ValueError("smd_from_summary: Hedges' J undefined (need df >= 2)")
    return float(J * d), float(J ** 2 * v_d)


def effect_from_paired(a: Sequence[float] | np.ndarray | pd.Series,
                       b: Sequence[float] | np.ndarray | pd.Series,
                       *, kind: str = "g", label: str = "this dataset") -> pd.DataFrame:
    """Effect size and variance of a subject-level paired dataset, ready to pool.

    Parameters
    ----------
    a, b : array-like of float
        Paired subject-level values (effect = a − b); NaN pairs are dropped
        and counted.
    kind : {"g", "dz"}, keyword-only
        ``"g"`` (default): Hedges' g for matched groups from the dataset's own
        means, SDs and observed r via :func:`smd_from_summary` — the metric to
        pool with literature rows computed by :func:`smd_from_summary`.
        ``"dz"``: Cohen's d_z = mean(a − b) / sd(a − b) with the large-sample
        variance ``1/n + dz^2 / (2 n)`` [Borenstein2009]_; only poolable with
        other d_z values.
    label : str, keyword-only
        Row label.

    Returns
    -------
    pandas.DataFrame
        One row: ``label, effect, var, se, n, n_dropped, kind, r``.
    """
    if kind not in ("g", "dz"):
        raise ValueError(f"effect_from_paired: kind must be 'g' or 'dz'; got {kind!r}")
    a, b, n_dropped = _paired_arrays(a, b, min_n=3, func="effect_from_paired")
    n = int(a.size)
    sd_a, sd_b = float(a.std(ddof=1)), float(b.std(ddof=1))
    # an SD at floating-point rounding level is no spread (as in paired_summary): no r, no g, no d_z
    floor = rounding_floor(a, b)
    r = float(np.corrcoef(a, b)[0, 1]) if sd_a > floor and sd_b > floor else float("nan")
    if kind == "g":
        if not np.isfinite(r):
            raise ValueError("effect_from_paired: a or b has zero variance; g is undefined")
        eff, var = smd_from_summary(a.mean(), sd_a, n, b.mean(), sd_b, n, paired=True, r=r)
    else:
        d = a - b
        sd = float(d.std(ddof=1))
        if _rounding_only(d, a, b):
            raise ValueError("effect_from_paired: differences have zero variance (or vary only at rounding "
                             "level); d_z is undefined")
        eff = float(d.mean() / sd)
        var = 1.0 / n + eff ** 2 / (2.0 * n)
    return pd.DataFrame([dict(label=label, effect=eff, var=var, se=math.sqrt(var), n=n,
                              n_dropped=n_dropped, kind=kind, r=r)])


def random_effects(effects: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray,
                   *, labels: Sequence[str], method: str = "dl", alpha: float = 0.05,
                   ci: str = "hksj") -> pd.DataFrame:
    """Random-effects meta-analysis with a forest-plot-ready table.

    Wraps ``statsmodels.stats.meta_analysis.combine_effects`` (verified by
    statsmodels against R metafor). ``method="dl"``: DerSimonian-Laird
    moment estimator of tau² [DerSimonian1986]_ (``method_re="chi2"``);
    ``method="pm"``: Paule-Mandel [Paule1982]_ (``method_re="iterated"``,
    iterated to an estimating-equation error below 1e-12).

    The pooled CI is, by default (``ci="hksj"``), the
    Hartung-Knapp-Sidik-Jonkman interval [HartungKnapp2001]_
    [SidikJonkman2002]_: ``mu ± t_{k-1, 1-alpha/2} · se`` with ``se^2 =
    sum w_i (y_i - mu)^2 / ((k - 1) sum w_i)`` (random-effects weights
    ``w_i``; no truncation, as metafor's ``test = "knha"``) and a t test with
    ``k - 1`` df; it keeps its coverage with few studies where the normal
    interval does not [IntHout2014]_. ``ci="normal"`` gives the classical
    ``mu ± z · (sum w_i)^(-1/2)``.

    Parameters
    ----------
    effects, variances : array-like of float
        One effect and its sampling variance (> 0) per study (k >= 2).
    labels : sequence of str, keyword-only
        Study labels (unique; not the pooled label).
    method : {"dl", "pm"}, keyword-only
    alpha : float, keyword-only
    ci : {"hksj", "normal"}, keyword-only
        Pooled CI and test.

    Returns
    -------
    pandas.DataFrame
        k study rows then one row ``label = "pooled (random effects)"``.
        Columns ``label, effect, var, se, ci_low, ci_high`` (studies: their
        own normal CI; pooled: per ``ci``), ``weight`` (relative
        random-effects weight, sums to 1 over studies; 1 on the pooled row),
        and, repeated on every row, ``tau2, i2`` (I² in percent,
        ``100 (Q - df) / Q`` truncated at 0 [Higgins2002]_; equals metafor's
        I² for DL), ``q`` (Cochran's Q), ``p_q`` (chi² with k − 1 df),
        ``method``, ``k`` and ``note``; then ``df`` (pooled: k − 1 for HKSJ,
        inf for normal), ``p`` (pooled test of 0) and ``ci_method``.

    Notes
    -----
    statsmodels' DL estimate is not truncated at 0; here a negative value
    (Q < k − 1) is set to 0 as DerSimonian & Laird define it (and metafor
    does), so the pooled row is then the fixed-effect estimate and ``note``
    says so.
    """
    from scipy import stats  # lazy: the workflow imports this module at parse time
    from statsmodels.stats.meta_analysis import combine_effects

    alpha = _check_alpha(alpha)
    if method not in _METHODS:
        raise ValueError(f"random_effects: method must be one of {sorted(_METHODS)}; got {method!r}")
    if ci not in _CI_METHODS:
        raise ValueError(f"random_effects: ci must be one of {list(_CI_METHODS)}; got {ci!r}")
    try:
        y = np.asarray(effects, dtype=float)
        v = np.asarray(variances, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("random_effects: effects and variances must be numbers") from None
    labels = [str(x) for x in labels]
    if y.ndim != 1 or v.ndim != 1 or not (y.size == v.size == len(labels)):
        raise ValueError(f"random_effects: effects, variances and labels must be 1-D of equal length; "
                         f"got {y.shape}, {v.shape}, {len(labels)}")
    if y.size < 2:
        raise ValueError(f"random_effects needs at least 2 studies; got k={y.size}")
    bad = ~np.isfinite(y) | ~np.isfinite(v)
    if bad.any():
        raise ValueError(f"random_effects: non-finite effect/variance for {[labels[i] for i in np.flatnonzero(bad)]}")
    if (v <= 0).any():
        raise ValueError(f"random_effects: variances must be > 0; not for {[labels[i] for i in np.flatnonzero(v <= 0)]}")
    if len(set(labels)) != len(labels) or POOLED_LABEL in labels:
        raise ValueError(f"random_effects: labels must be unique and differ from {POOLED_LABEL!r}")
    method_re, method_name = _METHODS[method]
    kwds = dict(atol=1e-12, maxiter=500) if method == "pm" else {}
    with np.errstate(invalid="ignore"):  # sqrt of a negative untruncated DL variance; handled below
        res = combine_effects(y, v, method_re=method_re, row_names=labels, alpha=alpha, **kwds)
    k = int(y.size)
    q = float(res.q)
    p_q = float(stats.chi2.sf(q, k - 1))
    i2 = 100.0 * max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    tau2 = float(res.tau2)
    note = ""
    if tau2 < 0:
        # statsmodels' DL moment estimator is not truncated; DerSimonian & Laird define
        # tau2 = max(0, (Q - df) / c), as metafor does. With tau2 = 0 the random-effects
        # estimate equals the fixed-effect (inverse-variance) estimate.
        note = f"DL tau2 = {tau2:.3g} < 0 (Q < k - 1) truncated to 0: pooled = fixed-effect estimate"
        tau2 = 0.0
        w = np.asarray(res.weights_rel_fe, dtype=float)
        m_re, se_re, var_hk = float(res.mean_effect_fe), float(res.sd_eff_w_fe), float(res.var_hksj_fe)
    else:
        w = np.asarray(res.weights_rel_re, dtype=float)
        m_re, se_re, var_hk = float(res.mean_effect_re), float(res.sd_eff_w_re), float(res.var_hksj_re)
    z = stats.norm.isf(alpha / 2.0)
    se = np.sqrt(v)
    rows = [dict(label=labels[i], effect=y[i], var=v[i], se=se[i], ci_low=y[i] - z * se[i],
                 ci_high=y[i] + z * se[i], weight=w[i], df=np.nan, p=np.nan, ci_method="normal") for i in range(k)]
    if ci == "hksj":
        se_p, df_p = math.sqrt(var_hk), float(k - 1)
        crit = float(stats.t.isf(alpha / 2.0, df_p))
        p_pool = float(2.0 * stats.t.sf(abs(m_re / se_p), df_p)) if se_p > 0 else float("nan")
        ci_method = HKSJ_LABEL
    else:
        se_p, df_p, crit = se_re, float("inf"), float(z)
        p_pool = float(2.0 * stats.norm.sf(abs(m_re / se_p)))
        ci_method = "normal (z)"
    rows.append(dict(label=POOLED_LABEL, effect=m_re, var=se_p ** 2, se=se_p, ci_low=m_re - crit * se_p,
                     ci_high=m_re + crit * se_p, weight=1.0, df=df_p, p=p_pool, ci_method=ci_method))
    out = pd.DataFrame(rows)
    out["tau2"], out["i2"], out["q"], out["p_q"] = tau2, i2, q, p_q
    out["method"], out["k"], out["note"] = method_name, k, note
    return out[_META_COLUMNS]
