"""Verdicts for the claims scorecard, by a rule fixed before the data are seen.

Rule (``verdict``), with ``[lo, hi]`` the 95 % CI of the effect (a − b) and
``S`` the smallest effect size of interest (SESOI, raw units, > 0):

expected = "increase"
    supported     if lo > 0;
    contradicted  if hi < 0, or if equivalence to 0 within ±S is shown
                  (``tost_p < alpha``; without ``tost_p``: ``-S < lo`` and
                  ``hi < S``);
    inconclusive  otherwise.
expected = "decrease"
    mirror image (supported if hi < 0; contradicted if lo > 0 or equivalence).

For "increase"/"decrease" the tests against 0 take precedence: an effect that
is significantly in the expected direction but smaller than the SESOI (CI
excludes 0 and equivalence is also shown) is "supported" — the claim is about
direction — and the reason quotes both results.
expected = "equivalent" (needs S)
    supported     if equivalence is shown (``tost_p < alpha``, i.e. the
                  1 − 2·alpha CI inside ±S; without ``tost_p`` the stricter
                  check that the 95 % CI lies inside ±S);
    contradicted  if the whole 95 % CI lies beyond one bound (lo >= S or
                  hi <= −S): the effect is shown to be at least as large as
                  the SESOI (a minimal-effect test at alpha/2 per side);
    inconclusive  otherwise — including a CI that excludes 0 but not ±S (a
                  "statistically different but possibly trivial" effect is
                  not evidence against equivalence).

A missing estimate or CI (NaN) gives "inconclusive" with the reason.

References
----------
.. [Lakens2018] Lakens D, Scheel AM, Isager PM (2018). Equivalence testing
   for psychological research: a tutorial. Adv Methods Pract Psychol Sci
   1:259-269 (combining tests against 0 and against the SESOI; minimal-effect
   tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from retrogait.stats.paired import _check_alpha

__all__ = ["verdict", "score_claims", "EXPECTED", "VERDICTS"]

EXPECTED = ("increase", "decrease", "equivalent")
VERDICTS = ("supported", "contradicted", "inconclusive")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def verdict(*, estimate: float, ci_low: float, ci_high: float, expected: str,
            sesoi: float | None = None, tost_p: float | None = None,
            alpha: float = 0.05) -> tuple[str, str]:
    """Apply the scorecard rule (module docstring) to one effect.

    Parameters
    ----------
    estimate, ci_low, ci_high : float, keyword-only
        Effect (a − b) and its 95 % (1 − alpha) CI.
    expected : {"increase", "decrease", "equivalent"}, keyword-only
        Direction claimed for a − b.
    sesoi : float or None, keyword-only
        Smallest effect size of interest (> 0, same units); required for
        "equivalent".
    tost_p : float or None, keyword-only
        TOST p value for bounds ±sesoi (e.g. ``tost_paired(...).p_tost``).
    alpha : float, keyword-only

    Returns
    -------
    (verdict, reason) : tuple of str
        ``verdict`` in ("supported", "contradicted", "inconclusive"); ``reason``
        is one line quoting the numbers.
    """
    alpha = _check_alpha(alpha)
    if expected not in EXPECTED:
        raise ValueError(f"verdict: expected must be one of {EXPECTED}; got {expected!r}")
    if sesoi is not None:
        sesoi = float(sesoi)
        if not (math.isfinite(sesoi) and sesoi > 0):
            raise ValueError(f"verdict: sesoi must be a positive number; got {sesoi!r}")
    if expected == "equivalent" and sesoi is None:
        raise ValueError("verdict: expected='equivalent' needs a sesoi")
    if tost_p is not None:
        tost_p = float(tost_p)
        if not (math.isnan(tost_p) or 0.0 <= tost_p <= 1.0):
            raise ValueError(f"verdict: tost_p must be in [0, 1]; got {tost_p!r}")
        if sesoi is None:
            raise ValueError("verdict: tost_p given without the sesoi it was computed for")
    est, lo, hi = (float(v) for v in (estimate, ci_low, ci_high))
    if any(math.isnan(v) for v in (est, lo, hi)):
        return "inconclusive", f"no estimate: estimate={est}, CI=[{lo}, {hi}] (missing data or test not run)"
    if lo > hi:
        raise ValueError(f"verdict: ci_low ({lo}) > ci_high ({hi})")
    if not lo <= est <= hi:
        raise ValueError(f"verdict: estimate {est} is outside its CI [{lo}, {hi}]")
    level = f"{100 * (1 - alpha):.0f}% CI"
    ci = f"estimate {_fmt(est)}, {level} [{_fmt(lo)}, {_fmt(hi)}]"

    equiv, equiv_txt = False, ""
    if sesoi is not None:
        if tost_p is not None and not math.isnan(tost_p):
            equiv = tost_p < alpha
            equiv_txt = f"TOST p = {tost_p:.3g} {'<' if equiv else '>='} {alpha:g} for bounds ±{_fmt(sesoi)}"
        else:
            equiv = -sesoi < lo and hi < sesoi
            equiv_txt = f"{level} {'inside' if equiv else 'not inside'} ±{_fmt(sesoi)} (no TOST p given)"

    if expected in ("increase", "decrease"):
        sign = 1.0 if expected == "increase" else -1.0
        if (lo > 0 and sign > 0) or (hi < 0 and sign < 0):
            extra = f"; but the effect is within ±{_fmt(sesoi)} ({equiv_txt})" if equiv else ""
            return "supported", f"{ci} excludes 0 in the expected direction ({expected}){extra}"
        if (hi < 0 and sign > 0) or (lo > 0 and sign < 0):
            return "contradicted", f"{ci} excludes 0 in the opposite direction to the expected {expected}"
        if equiv:
            return "contradicted", f"{ci}; equivalence shown ({equiv_txt}), expected {expected}"
        extra = f"; {equiv_txt}" if equiv_txt else ""
        return "inconclusive", f"{ci} includes 0{extra}"

    # expected == "equivalent"
    if equiv:
        return "supported", f"{ci}; equivalence shown ({equiv_txt})"
    if lo >= sesoi or hi <= -sesoi:
        return "contradicted", f"{ci} lies entirely beyond ±{_fmt(sesoi)} (effect at least the SESOI)"
    if lo > 0 or hi < 0:
        return "inconclusive", (f"{ci} excludes 0 but not ±{_fmt(sesoi)}; equivalence not shown "
                                f"({equiv_txt})")
    return "inconclusive", f"{ci} includes 0 and overlaps ±{_fmt(sesoi)}; equivalence not shown ({equiv_txt})"


def score_claims(claims: Sequence[dict], results: pd.DataFrame, *,
                 keys: Sequence[str] = ("measure", "contrast"), alpha: float = 0.05) -> pd.DataFrame:
    """Apply :func:`verdict` to a list of claims.

    Parameters
    ----------
    claims : sequence of dict
        Each with the ``keys`` (default ``measure`` and ``contrast``),
        ``expected`` and optionally ``id``, ``sesoi``.
    results : pandas.DataFrame
        Must have the ``keys`` columns and ``estimate, ci_low, ci_high``;
        optional ``p_tost`` (TOST p for the claim's sesoi).
    keys : sequence of str, keyword-only
    alpha : float, keyword-only

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``id``, the keys, ``expected, sesoi, estimate,
        ci_low, ci_high, p_tost, verdict, reason``. A claim without a
        matching result row is "inconclusive" ("no result"); more than one
        matching row raises ValueError.
    """
    keys = list(keys)
    need = [*keys, "estimate", "ci_low", "ci_high"]
    missing = [c for c in need if c not in results.columns]
    if missing:
        raise ValueError(f"score_claims: results lacks column(s) {missing}")
    rows = []
    for i, claim in enumerate(claims):
        absent = [k for k in (*keys, "expected") if k not in claim]
        if absent:
            raise ValueError(f"score_claims: claim #{i} ({claim.get('id', '?')}) lacks {absent}")
        mask = pd.Series(True, index=results.index)
        for k in keys:
            mask &= results[k] == claim[k]
        hit = results.loc[mask]
        base = dict(id=claim.get("id", i), **{k: claim[k] for k in keys}, expected=claim["expected"],
                    sesoi=claim.get("sesoi"))
        if len(hit) == 0:
            rows.append({**base, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                         "p_tost": math.nan, "verdict": "inconclusive",
                         "reason": "no result for this measure/contrast"})
            continue
        if len(hit) > 1:
            raise ValueError(f"score_claims: claim {base['id']!r} matches {len(hit)} result rows")
        r = hit.iloc[0]
        p_tost = r["p_tost"] if "p_tost" in hit.columns and pd.notna(r["p_tost"]) else None
        v, why = verdict(estimate=r["estimate"], ci_low=r["ci_low"], ci_high=r["ci_high"],
                         expected=claim["expected"], sesoi=claim.get("sesoi"),
                         tost_p=p_tost if claim.get("sesoi") is not None else None, alpha=alpha)
        rows.append({**base, "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "p_tost": math.nan if p_tost is None else p_tost, "verdict": v, "reason": why})
    return pd.DataFrame(rows, columns=["id", *keys, "expected", "sesoi", "estimate", "ci_low",
                                       "ci_high", "p_tost", "verdict", "reason"])
