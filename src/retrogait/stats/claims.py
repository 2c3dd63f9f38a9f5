"""Verdicts for the claims scorecard, by a rule fixed before the data are seen.

The claims form one confirmatory family: with ``m`` claims tested, every
claim's effect (a − b) gets the Bonferroni-adjusted ``1 − alpha/m``
confidence interval ``[lo, hi]`` (t-based, from the estimate, its SE and
df) [Dunn1961]_, so the ``m`` intervals hold simultaneously with probability
at least ``1 − alpha`` (:func:`adjusted_interval`). With ``S > 0`` the
smallest effect size of interest (SESOI, raw units; every claim has one),
the rule (:func:`verdict`) is:

expected = "increase" (or "decrease", its mirror image)
    negligible    if the whole interval lies inside the SESOI band
                  (``-S < lo`` and ``hi < S``): whatever its sign, the
                  effect is too small to matter, so the claim is not
                  supported even if the interval excludes 0;
    supported     otherwise, if ``lo > 0`` (decrease: ``hi < 0``);
    contradicted  otherwise, if ``hi < 0`` (decrease: ``lo > 0``);
    inconclusive  otherwise.
expected = "equivalent"
    supported     if the interval lies inside the band (equivalence
                  within ±S; this is a TOST at ``alpha/(2m)`` per side,
                  conservative);
    contradicted  if it lies entirely beyond one bound (``lo >= S`` or
                  ``hi <= −S``): the effect is at least the SESOI;
    inconclusive  otherwise.

A missing estimate or CI (NaN) gives "inconclusive" with the reason.

References
----------
.. [Lakens2018] Lakens D, Scheel AM, Isager PM (2018). Equivalence testing
   for psychological research: a tutorial. Adv Methods Pract Psychol Sci
   1:259-269 (combining tests against 0 and against the SESOI).
.. [Dunn1961] Dunn OJ (1961). Multiple comparisons among means. J Am Stat
   Assoc 56:52-64 (Bonferroni-adjusted simultaneous intervals).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from retrogait.stats.paired import _check_alpha

__all__ = ["verdict", "adjusted_interval", "constant_difference_interval", "score_claims", "EXPECTED", "VERDICTS"]

EXPECTED = ("increase", "decrease", "equivalent")
VERDICTS = ("supported", "contradicted", "negligible", "inconclusive")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def adjusted_interval(estimate: float, se: float, df: float, *, alpha: float = 0.05,
                      m: int = 1) -> tuple[float, float, float, float]:
    """Bonferroni-adjusted t interval and p of one member of a family of ``m`` [Dunn1961]_.

    ``estimate ± t_{1 - alpha/(2m), df} · se`` and ``p = 2 P(T_df > |estimate/se|)``,
    ``p_bonferroni = min(1, m p)``; the interval excludes 0 exactly when
    ``p_bonferroni < alpha``.

    Returns
    -------
    (ci_low, ci_high, p, p_bonferroni) : tuple of float (NaN when se or df is not finite/positive)
    """
    alpha = _check_alpha(alpha)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"adjusted_interval: m must be an integer >= 1; got {m!r}")
    est, se, df = float(estimate), float(se), float(df)
    if not (math.isfinite(est) and math.isfinite(se) and se > 0 and math.isfinite(df) and df > 0):
        return math.nan, math.nan, math.nan, math.nan
    from scipy import stats  # lazy: the workflow imports this module at parse time

    crit = float(stats.t.isf(alpha / (2.0 * m), df))
    p = float(2.0 * stats.t.sf(abs(est / se), df))
    return est - crit * se, est + crit * se, p, min(1.0, m * p)


def constant_difference_interval(estimate: float, n: int, *, alpha: float = 0.05,
                                 m: int = 1) -> tuple[float, float, float, float]:
    """Interval and p of ``n`` paired differences that are all equal (zero variance), Bonferroni over ``m``.

    The t interval is undefined (SE = 0; R's ``t.test`` stops with "data are
    essentially constant"). The distribution-free interval for the median
    difference from the order statistics (the sign-test inversion,
    [Conover1999]_ §3.4) needs only the signs: with all ``n`` differences
    equal to ``estimate`` it is the point ``[estimate, estimate]`` at every
    level the sample can reach, i.e. when the exact two-sided sign-test p of
    ``n`` same-signed differences, ``2 · 0.5^n``, is at most ``alpha / m``;
    below that ``n`` no interval at the level exists (NaN: inconclusive).
    ``p`` is that sign-test p (1 when ``estimate`` is 0), ``p_bonferroni =
    min(1, m p)``.

    References
    ----------
    .. [Conover1999] Conover WJ (1999). Practical Nonparametric Statistics,
       3rd ed. Wiley. Section 3.4 (the sign test and the confidence interval
       for the median).
    """
    alpha = _check_alpha(alpha)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"constant_difference_interval: m must be an integer >= 1; got {m!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"constant_difference_interval: n must be an integer >= 1; got {n!r}")
    est = float(estimate)
    if not math.isfinite(est):
        return math.nan, math.nan, math.nan, math.nan
    p = 1.0 if est == 0 else min(1.0, 2.0 * 0.5 ** int(n))
    reach = min(1.0, 2.0 * 0.5 ** int(n)) <= alpha / m
    lo, hi = (est, est) if reach else (math.nan, math.nan)
    return lo, hi, p, min(1.0, m * p)


def verdict(*, estimate: float, ci_low: float, ci_high: float, expected: str, sesoi: float,
            level: str = "95% CI") -> tuple[str, str]:
    """Apply the scorecard rule (module docstring) to one effect.

    Parameters
    ----------
    estimate, ci_low, ci_high : float, keyword-only
        Effect (a − b) and its (family-adjusted) confidence interval.
    expected : {"increase", "decrease", "equivalent"}, keyword-only
        Direction claimed for a − b.
    sesoi : float, keyword-only
        Smallest effect size of interest (> 0, the effect's units).
    level : str, keyword-only
        How the interval is named in the reason (e.g. ``"Bonferroni 99.4% CI"``).

    Returns
    -------
    (verdict, reason) : tuple of str
        ``verdict`` in :data:`VERDICTS`; ``reason`` is one line quoting the numbers.
    """
    if expected not in EXPECTED:
        raise ValueError(f"verdict: expected must be one of {EXPECTED}; got {expected!r}")
    try:
        S = float(sesoi)
    except (TypeError, ValueError):
        raise ValueError(f"verdict: every claim needs a sesoi (a positive number); got {sesoi!r}") from None
    if not (math.isfinite(S) and S > 0):
        raise ValueError(f"verdict: sesoi must be a positive number; got {sesoi!r}")
    est, lo, hi = (float(v) for v in (estimate, ci_low, ci_high))
    if any(math.isnan(v) for v in (est, lo, hi)):
        return "inconclusive", f"no estimate: estimate={est}, CI=[{lo}, {hi}] (missing data or test not run)"
    if lo > hi:
        raise ValueError(f"verdict: ci_low ({lo}) > ci_high ({hi})")
    if not lo <= est <= hi:
        raise ValueError(f"verdict: estimate {est} is outside its CI [{lo}, {hi}]")
    ci = f"estimate {_fmt(est)}, {level} [{_fmt(lo)}, {_fmt(hi)}]"
    band = f"±{_fmt(S)} (SESOI)"
    inside = -S < lo and hi < S

    if expected in ("increase", "decrease"):
        sign = 1.0 if expected == "increase" else -1.0
        if inside:
            return "negligible", f"{ci} lies inside {band}: the effect is too small to matter, whatever its sign"
        if (lo > 0 and sign > 0) or (hi < 0 and sign < 0):
            size = ("at least the SESOI" if (lo >= S if sign > 0 else hi <= -S)
                    else "possibly smaller than the SESOI")
            return "supported", f"{ci} excludes 0 in the expected direction ({expected}); effect {size}"
        if (hi < 0 and sign > 0) or (lo > 0 and sign < 0):
            return "contradicted", f"{ci} excludes 0 in the opposite direction to the expected {expected}"
        return "inconclusive", f"{ci} includes 0 and is not inside {band}"

    # expected == "equivalent"
    if inside:
        return "supported", f"{ci} lies inside {band}: equivalence shown"
    if lo >= S or hi <= -S:
        return "contradicted", f"{ci} lies entirely beyond {band}: the effect is at least the SESOI"
    if lo > 0 or hi < 0:
        return "inconclusive", f"{ci} excludes 0 but not {band}; equivalence not shown"
    return "inconclusive", f"{ci} includes 0 and overlaps {band}; equivalence not shown"


def score_claims(claims: Sequence[dict], results: pd.DataFrame, *,
                 keys: Sequence[str] = ("measure", "contrast"), alpha: float = 0.05) -> pd.DataFrame:
    """Apply :func:`verdict` to a family of claims with Bonferroni-adjusted intervals.

    Parameters
    ----------
    claims : sequence of dict
        Each with the ``keys`` (default ``measure`` and ``contrast``),
        ``expected``, ``sesoi`` and optionally ``id``.
    results : pandas.DataFrame
        Must have the ``keys`` columns and ``estimate, se, df``.
    keys : sequence of str, keyword-only
    alpha : float, keyword-only
        Family-wise error rate.

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``id``, the keys, ``expected, sesoi, estimate, se,
        df, ci_low, ci_high`` (Bonferroni ``1 − alpha/m``), ``ci_level``,
        ``p, p_bonferroni, m, verdict, reason``. ``m`` counts the claims with
        a result. A claim without a matching result row is "inconclusive"
        ("no result"); more than one matching row raises ValueError.
    """
    alpha = _check_alpha(alpha)
    keys = list(keys)
    need = [*keys, "estimate", "se", "df"]
    missing = [c for c in need if c not in results.columns]
    if missing:
        raise ValueError(f"score_claims: results lacks column(s) {missing}")
    matched = []
    for i, claim in enumerate(claims):
        absent = [k for k in (*keys, "expected", "sesoi") if k not in claim]
        if absent:
            raise ValueError(f"score_claims: claim #{i} ({claim.get('id', '?')}) lacks {absent}")
        mask = pd.Series(True, index=results.index)
        for k in keys:
            mask &= results[k] == claim[k]
        hit = results.loc[mask]
        if len(hit) > 1:
            raise ValueError(f"score_claims: claim {claim.get('id', i)!r} matches {len(hit)} result rows")
        matched.append(hit.iloc[0] if len(hit) else None)
    m = max(1, sum(r is not None for r in matched))
    level = f"Bonferroni {100 * (1 - alpha / m):.4g}% CI (m = {m})"
    rows = []
    for i, (claim, r) in enumerate(zip(claims, matched)):
        base = dict(id=claim.get("id", i), **{k: claim[k] for k in keys}, expected=claim["expected"],
                    sesoi=float(claim["sesoi"]))
        if r is None:
            rows.append({**base, "estimate": math.nan, "se": math.nan, "df": math.nan, "ci_low": math.nan,
                         "ci_high": math.nan, "ci_level": 1 - alpha / m, "p": math.nan, "p_bonferroni": math.nan,
                         "m": m, "verdict": "inconclusive", "reason": "no result for this measure/contrast"})
            continue
        lo, hi, p, p_adj = adjusted_interval(r["estimate"], r["se"], r["df"], alpha=alpha, m=m)
        v, why = verdict(estimate=r["estimate"], ci_low=lo, ci_high=hi, expected=claim["expected"],
                         sesoi=claim["sesoi"], level=level)
        rows.append({**base, "estimate": float(r["estimate"]), "se": float(r["se"]), "df": float(r["df"]),
                     "ci_low": lo, "ci_high": hi, "ci_level": 1 - alpha / m, "p": p, "p_bonferroni": p_adj,
                     "m": m, "verdict": v, "reason": why})
    return pd.DataFrame(rows, columns=["id", *keys, "expected", "sesoi", "estimate", "se", "df", "ci_low",
                                       "ci_high", "ci_level", "p", "p_bonferroni", "m", "verdict", "reason"])
