"""Paired (within-subject) comparison of two conditions.

One subject-level value per condition and subject goes in (for example the
subject's mean peak knee extensor moment in backward and in forward walking);
one tidy row of descriptive statistics, tests and effect sizes comes out.
The effect is always ``a - b``.

References
----------
.. [Lakens2013] Lakens D (2013). Calculating and reporting effect sizes to
   facilitate cumulative science: a practical primer for t-tests and ANOVAs.
   Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863
.. [Cumming2001] Cumming G, Finch S (2001). A primer on the understanding,
   use, and calculation of confidence intervals that are based on central and
   noncentral distributions. Educ Psychol Meas 61:532-574.
.. [Steiger2004] Steiger JH (2004). Beyond the F test: effect size confidence
   intervals and tests of close fit in the analysis of variance and contrast
   analysis. Psychol Methods 9:164-182.
.. [Hedges1981] Hedges LV (1981). Distribution theory for Glass's estimator
   of effect size and related estimators. J Educ Stat 6:107-128.
.. [AlginaKeselman2003] Algina J, Keselman HJ (2003). Approximate confidence
   intervals for effect sizes. Educ Psychol Meas 63:537-553.
.. [Wilcoxon1945] Wilcoxon F (1945). Individual comparisons by ranking
   methods. Biometrics Bull 1:80-83.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "paired_summary",
    "hedges_correction",
    "hedges_correction_approx",
    "cohens_dz_ci",
    "rounding_floor",
]

_PAIRED_COLUMNS = [
    "n", "n_dropped", "mean_a", "mean_b", "sd_a", "sd_b", "r",
    "mean_diff", "sd_diff", "se_diff", "ci_low", "ci_high", "t", "df", "p_t",
    "w", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high",
    "g_av", "g_av_ci_low", "g_av_ci_high",
    # additional columns (not part of the fixed contract, stable names too)
    "alpha", "n_zero_diff", "note",
]


# ---------------------------------------------------------------- validation
#: Largest |t| whose d_z interval is computed: scipy.special.nctdtrinc takes 0.01 s at |t| = 1e5
#: (4 df) and does not return within minutes at 1e6 (scipy 1.17); beyond this the interval is NaN
#: and noted, never a hung job.
NCT_MAX_T = 1e5

#: Relative size below which the spread of paired differences is floating-point rounding, not
#: data: the differences count as constant (scale-free, so a change of unit cannot change it).
ROUNDING_SPREAD = 1e-12


def rounding_floor(*values: np.ndarray) -> float:
    """The spread below which ``values`` differ only by floating-point rounding:
    ``ROUNDING_SPREAD * max|values|`` (scale-free, so a change of unit cannot change what counts)."""
    return ROUNDING_SPREAD * max((float(np.max(np.abs(v))) for v in values if np.size(v)), default=0.0)


def _rounding_only(d: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """True when the differences ``d = a - b`` vary only at rounding level (or not at all).

    Subject means of a design variable (e.g. a treadmill speed of 1.0 and 0.6 m/s) differ by
    0.39999999999999997 for one subject and 0.4 for another; their SD (~1e-17) is not a
    measured spread, and a t statistic or d_z divided by it (~1e16) would be a confident wrong
    number. The spread is rounding when ``sd(d) <= ROUNDING_SPREAD * max(|a|, |b|)``.
    """
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    return not sd > rounding_floor(a, b)


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1); got {alpha!r}") from None
    if not (0.0 < a < 1.0):
        raise ValueError(f"{name} must be in (0, 1); got {alpha!r}")
    return a


def _as_float_1d(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D float array or raise a ValueError naming ``name``."""
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be a 1-D sequence of numbers, not a string")
    if isinstance(x, (pd.Series, pd.Index)):
        x = x.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must contain only numbers (NaN allowed for missing)") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    return arr


def _paired_arrays(a: object, b: object, *, min_n: int = 2,
                   func: str = "paired_summary") -> tuple[np.ndarray, np.ndarray, int]:
    """Validate paired inputs; drop pairs with a NaN, report how many.

    Returns ``(a, b, n_dropped)``. Raises ValueError for length mismatch,
    infinite values or fewer than ``min_n`` complete pairs.
    """
    a = _as_float_1d(a, "a")
    b = _as_float_1d(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{func}: a and b must have the same length (one value per subject "
                         f"and condition); got len(a)={a.shape[0]}, len(b)={b.shape[0]}")
    bad = np.isinf(a) | np.isinf(b)
    if bad.any():
        raise ValueError(f"{func}: infinite values at positions {np.flatnonzero(bad).tolist()}")
    keep = ~(np.isnan(a) | np.isnan(b))
    n_dropped = int((~keep).sum())
    a, b = a[keep], b[keep]
    if a.shape[0] < min_n:
        raise ValueError(f"{func} needs at least {min_n} complete pairs; got n={a.shape[0]} "
                         f"({n_dropped} pair(s) dropped because a or b was NaN)")
    return a, b, n_dropped


# ------------------------------------------------------------ effect sizes
def hedges_correction(df: float) -> float:
    """Exact small-sample bias correction J of Hedges (1981).

    ``J(df) = Gamma(df/2) / (sqrt(df/2) * Gamma((df-1)/2))`` [Hedges1981]_,
    as written in docs/methods.md §6.3 and the TOSTER SMD vignette. Evaluated with
    log-gamma functions for numerical stability. Returns NaN for ``df <= 1``
    (J is not defined there).

    Parameters
    ----------
    df : float
        Degrees of freedom of the standardiser (``n - 1`` for paired data).
    """
    df = float(df)
    if not np.isfinite(df) or df <= 1.0:
        return float("nan")
    from scipy import special  # lazy imports keep the workflow's parse time short

    return float(math.exp(special.gammaln(df / 2.0) - 0.5 * math.log(df / 2.0)
                          - special.gammaln((df - 1.0) / 2.0)))


def hedges_correction_approx(df: float) -> float:
    """Common approximation ``J ~ 1 - 3 / (4 df - 1)`` [Hedges1981]_ (for tests/comparison)."""
    df = float(df)
    if df <= 1.0:
        return float("nan")
    return 1.0 - 3.0 / (4.0 * df - 1.0)


def _nct_limits(t: float, df: float, alpha: float) -> tuple[float, float]:
    """Noncentrality parameters bracketing ``t`` (pivot / inversion method).

    ``lam_low`` solves ``P(T <= t | df, lam) = 1 - alpha/2`` and ``lam_high``
    solves ``P(T <= t | df, lam) = alpha/2`` for a noncentral t variable
    [Cumming2001]_ [Steiger2004]_. Uses scipy.special.nctdtrinc (the inverse
    of the noncentral t CDF with respect to the noncentrality parameter).
    """
    if not (np.isfinite(t) and np.isfinite(df) and df > 0) or abs(t) > NCT_MAX_T:
        return float("nan"), float("nan")
    from scipy import special

    lo = float(special.nctdtrinc(df, 1.0 - alpha / 2.0, t))
    hi = float(special.nctdtrinc(df, alpha / 2.0, t))
    return lo, hi


def cohens_dz_ci(t: float, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Confidence interval of Cohen's d_z from the paired t statistic.

    Noncentral-t inversion (TOSTER ``smd_ci = "nct"``; docs/methods.md §6.3):
    find the noncentrality parameters for which the observed ``t`` is the
    upper and lower ``alpha/2`` quantile, then ``d = lambda / sqrt(n)``
    [Cumming2001]_ [Steiger2004]_. This is the interval reported by the R
    package effectsize for paired samples.

    Parameters
    ----------
    t : float
        Observed paired t statistic (``mean_diff / (sd_diff / sqrt(n))``).
    n : int
        Number of pairs; ``df = n - 1``.
    alpha : float, keyword-only
        1 - confidence level.

    Returns
    -------
    (dz_ci_low, dz_ci_high) : tuple of float
    """
    alpha = _check_alpha(alpha)
    if n < 2:
        raise ValueError(f"cohens_dz_ci needs n >= 2; got n={n}")
    lo, hi = _nct_limits(float(t), n - 1.0, alpha)
    return lo / math.sqrt(n), hi / math.sqrt(n)


# ----------------------------------------------------------------- summary
def paired_summary(a: Sequence[float] | np.ndarray | pd.Series,
                   b: Sequence[float] | np.ndarray | pd.Series,
                   *, alpha: float = 0.05) -> pd.DataFrame:
    """Descriptives, paired t, Wilcoxon signed-rank and effect sizes (a − b).

    Parameters
    ----------
    a, b : array-like of float
        Paired subject-level values (same length, same subject order). Pairs
        with a NaN in ``a`` or ``b`` are dropped and counted in ``n_dropped``.
    alpha : float, keyword-only
        Two-sided error rate of all confidence intervals (default 0.05 → 95 %).

    Returns
    -------
    pandas.DataFrame
        One row. Columns (stable):

        ``n, n_dropped`` complete pairs used / pairs dropped for NaN;
        ``mean_a, mean_b, sd_a, sd_b`` (SD with ddof = 1); ``r`` Pearson
        correlation of a and b (NaN when either SD is 0);
        ``mean_diff, sd_diff, se_diff`` of ``d = a - b``;
        ``ci_low, ci_high`` t-based CI of ``mean_diff``;
        ``t, df, p_t`` paired t test (scipy.stats.ttest_rel, two-sided);
        ``w, p_wilcoxon`` Wilcoxon signed-rank test (scipy.stats.wilcoxon,
        two-sided, see Notes);
        ``dz, dz_ci_low, dz_ci_high`` Cohen's d_z = mean_diff / sd_diff = t/√n
        with noncentral-t CI [Lakens2013]_ [Cumming2001]_;
        ``g_av, g_av_ci_low, g_av_ci_high`` Hedges' g_av (see Notes);
        extra: ``alpha``, ``n_zero_diff`` (pairs with a − b == 0) and ``note``
        (empty string, or ``;``-separated caveats).

    Raises
    ------
    ValueError
        If a and b differ in length, contain inf, or fewer than 2 complete
        pairs remain (the message gives ``n`` and ``n_dropped``).

    Notes
    -----
    *Wilcoxon signed-rank* [Wilcoxon1945]_: ``zero_method="wilcox"`` (pairs
    with a − b == 0 are discarded, as in Wilcoxon's original test; their
    number is in ``n_zero_diff``) and ``method="auto"`` (scipy 1.17 rule: exact null
    distribution for n ≤ 50 without ties/zeros; with ties or zeros exact
    permutation for n ≤ 13, else the normal approximation). ``w`` is the
    smaller of the signed-rank sums. All differences zero → ``w``,
    ``p_wilcoxon`` NaN.

    *Cohen's d_z CI*: noncentral-t inversion via ``scipy.special.nctdtrinc``
    (TOSTER ``smd_ci = "nct"``, effectsize's default; docs/methods.md §6.3).

    *Hedges' g_av* ([Lakens2013]_, within-subjects designs): ``d_av = mean_diff /
    ((sd_a + sd_b) / 2)`` and ``g_av = d_av · J`` with the exact ``J``
    (gamma form, ``df = n - 1``; :func:`hedges_correction`). Its CI rescales
    the noncentral-t interval of the paired t: ``[λ_L, λ_U] / √n ·
    (sd_diff / s_av) · J``, i.e. the ratio ``sd_diff / s_av`` is treated as
    known. This is the noncentral-t approximation to a CI for a
    dependent-samples standardised mean difference discussed by
    [AlginaKeselman2003]_; it is approximate (coverage can fall below nominal
    for high r and small n), so report it as such and prefer d_z / the raw
    mean difference for inference.

    With ``n == 2`` (df = 1) J and therefore ``g_av`` are undefined (NaN);
    the t test, d_z and its CI are still returned. Zero variance of the
    differences makes t, its p value and d_z undefined (NaN, noted). So does
    a spread at floating-point rounding level, ``sd(d) <= 1e-12 max(|a|, |b|)``
    (:data:`ROUNDING_SPREAD`; e.g. a design variable such as treadmill speed):
    ``sd_diff`` and ``se_diff`` are then reported as 0 and the note says so,
    instead of a t and d_z of order 1e16.
    """
    from scipy import stats  # lazy: the workflow imports this module at parse time

    alpha = _check_alpha(alpha)
    a, b, n_dropped = _paired_arrays(a, b, min_n=2, func="paired_summary")
    n = int(a.shape[0])
    df = n - 1
    notes: list[str] = []
    d = a - b

    mean_a, mean_b = float(a.mean()), float(b.mean())
    sd_a, sd_b = float(a.std(ddof=1)), float(b.std(ddof=1))
    # an SD at rounding level (a level that is a design constant, e.g. one treadmill speed for all)
    # is no spread: no correlation and no g_av from it
    floor = rounding_floor(a, b)
    r = float(np.corrcoef(a, b)[0, 1]) if (sd_a > floor and sd_b > floor) else float("nan")
    mean_diff = float(d.mean())
    sd_diff = float(d.std(ddof=1))
    constant = _rounding_only(d, a, b)
    if constant:
        if sd_diff > 0:
            notes.append(f"differences vary only at rounding level (SD {sd_diff:.3g}): treated as constant")
        sd_diff = 0.0
    se_diff = sd_diff / math.sqrt(n)

    if not constant:
        res = stats.ttest_rel(a, b)
        t, p_t = float(res.statistic), float(res.pvalue)
        ci = res.confidence_interval(confidence_level=1.0 - alpha)
        ci_low, ci_high = float(ci.low), float(ci.high)
        dz = mean_diff / sd_diff
        dz_lo, dz_hi = cohens_dz_ci(t, n, alpha=alpha)
        if abs(t) > NCT_MAX_T:
            notes.append(f"|t| = {abs(t):.3g} > {NCT_MAX_T:g}: d_z and g_av intervals not computed "
                         "(the noncentral-t inversion does not converge)")
    else:
        t = p_t = dz = dz_lo = dz_hi = float("nan")
        ci_low = ci_high = mean_diff
        notes.append("differences have zero variance: t, p_t and d_z undefined")

    n_zero = int((d == 0).sum())
    if n_zero == n:
        w = p_w = float("nan")
        notes.append("all differences are zero: Wilcoxon test undefined")
    else:
        with warnings.catch_warnings():
            # scipy warns that exact p is unavailable with ties/zeros; we document the method instead
            warnings.simplefilter("ignore", category=UserWarning)
            wres = stats.wilcoxon(a, b, zero_method="wilcox", method="auto")
        w, p_w = float(wres.statistic), float(wres.pvalue)
        if n_zero:
            notes.append(f"Wilcoxon: {n_zero} zero difference(s) discarded (zero_method='wilcox')")

    s_av = (sd_a + sd_b) / 2.0
    J = hedges_correction(df)
    if s_av > floor and np.isfinite(J):
        d_av = mean_diff / s_av
        g_av = d_av * J
        if np.isfinite(dz_lo) and sd_diff > 0:
            scale = sd_diff / s_av * J
            g_lo, g_hi = dz_lo * scale, dz_hi * scale
        else:
            g_lo = g_hi = float("nan")
    else:
        g_av = g_lo = g_hi = float("nan")
        if not np.isfinite(J):
            notes.append("g_av undefined for n = 2 (Hedges' J needs df >= 2)")
        else:
            notes.append("g_av undefined: neither level varies between subjects (SDs at rounding level or 0)")

    row = dict(n=n, n_dropped=n_dropped, mean_a=mean_a, mean_b=mean_b, sd_a=sd_a, sd_b=sd_b,
               r=r, mean_diff=mean_diff, sd_diff=sd_diff, se_diff=se_diff,
               ci_low=ci_low, ci_high=ci_high, t=t, df=df, p_t=p_t, w=w, p_wilcoxon=p_w,
               dz=dz, dz_ci_low=dz_lo, dz_ci_high=dz_hi,
               g_av=g_av, g_av_ci_low=g_lo, g_av_ci_high=g_hi,
               alpha=alpha, n_zero_diff=n_zero, note="; ".join(notes))
    return pd.DataFrame([row], columns=_PAIRED_COLUMNS)
