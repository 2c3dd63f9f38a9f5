"""Claims scorecard: popular claims about backward walking against the data.

Each claim in ``config/claims.yaml`` names a measure, a contrast of the
direction (BW − FW), an expected direction (``increase``, ``decrease`` or
``equivalent``) and its smallest effect size of interest. The claims are
one confirmatory family: every row's interval is Bonferroni-adjusted over
the ``m`` claim × dataset rows tested [Dunn1961]_, and the verdict
(supported / contradicted / negligible / inconclusive) follows the rule of
:func:`retrogait.stats.claims.verdict`, fixed in that file before the data
are seen (docs/methods.md section 8; Lakens, Scheel & Isager 2018 for
combining tests against 0 and against the SESOI).

A claim is refused when it could not mean what it says: a measure that is
a labelled ESTIMATE or a proxy (:data:`retrogait.gait.catalog.KINDS`), a
contrast whose factor is not the direction of walking, or levels in the
order FW − BW (the expected direction is stated for BW − FW, so the
reversed order would invert it).

References
----------
.. [Dunn1961] Dunn OJ (1961). Multiple comparisons among means. J Am Stat
   Assoc 56:52-64.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrogait.config import load_config
from retrogait.errors import ConfigError
from retrogait.gait.catalog import describe
from retrogait.stats.claims import adjusted_interval, constant_difference_interval, verdict

__all__ = ["Claims", "load_claims", "score", "SCORECARD_COLUMNS", "ESTIMATE_COLUMNS"]

SCORECARD_COLUMNS = ["claim_id", "claim", "source", "measure", "unit", "contrast", "dataset", "expected",
                     "estimate_kind", "estimate", "se", "df", "ci_low", "ci_high", "ci_level", "p",
                     "p_bonferroni", "m", "adjustment", "n_subjects", "sesoi", "verdict", "reason",
                     "interpretation"]

#: Columns of the contrasts table behind each estimate kind: (estimate, SE, df, what the CI is).
ESTIMATE_COLUMNS = {
    "paired": ("mean_diff", "se_diff", "df", "paired t on subject means (df = n - 1)"),
    "lmm": ("lmm_estimate", "lmm_se", "lmm_df", "mixed model, lme4 SE, Satterthwaite df"),
}
_BW = frozenset({"bw", "backward", "backwards", "retro"})
_FW = frozenset({"fw", "forward", "forwards"})


@dataclass(frozen=True)
class Claims:
    """The claims and the verdict rule."""

    estimate: str
    alpha: float
    claims: tuple[Mapping[str, Any], ...]


def load_claims(path: str | os.PathLike, schema: str | os.PathLike, *, contrasts: Sequence[Mapping[str, Any]],
                sesoi: Mapping[str, float]) -> Claims:
    """Read and check the claims file; every problem is named with its claim.

    Refused (:class:`~retrogait.errors.ConfigError`): an unknown measure; a
    measure whose kind is ``estimate`` or ``proxy``; an unknown contrast; a
    contrast whose factor is not ``direction`` or whose levels are not
    ``[BW, FW]`` in that order (the expected direction is for BW − FW); a
    claim SESOI that differs from ``stats.sesoi`` for the same measure; a
    duplicate id. The schema requires a positive ``sesoi`` on every claim.
    """
    data = load_config(path, schema, source=str(path))
    by_id = {c["id"]: c for c in contrasts}
    problems = []
    ids = [c["id"] for c in data["claims"]]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"claim id '{dup}' appears twice")
    for c in data["claims"]:
        who = f"claim '{c['id']}'"
        if c.get("testable", True) is False:
            continue  # listed with its reason; the schema forbids a measure, contrast, direction or SESOI
        try:
            kind = describe(c["measure"]).kind
        except KeyError:
            problems.append(f"{who}: unknown measure '{c['measure']}'")
        else:
            if kind in ("estimate", "proxy"):
                problems.append(f"{who}: measure '{c['measure']}' is a{'n' if kind == 'estimate' else ''} {kind} "
                                f"(not the quantity the claim is about); a claim must rest on a measured or "
                                "modelled quantity")
        contrast = by_id.get(c["contrast"])
        if contrast is None:
            problems.append(f"{who}: contrast '{c['contrast']}' is not in stats.contrasts ({', '.join(by_id)})")
        else:
            factor = contrast.get("factor", "direction")
            levels = [str(x).strip().lower() for x in contrast.get("levels", [])]
            if factor != "direction":
                problems.append(f"{who}: contrast '{c['contrast']}' compares {factor}, not the direction of walking; "
                                "a claim about backward walking needs a BW vs FW contrast")
            elif len(levels) == 2 and levels[0] in _FW and levels[1] in _BW:
                problems.append(f"{who}: contrast '{c['contrast']}' has levels {contrast['levels']} (FW − BW), which "
                                f"inverts the expected direction '{c['expected']}' stated for BW − FW; use a contrast "
                                "with levels [BW, FW]")
            elif not (len(levels) == 2 and levels[0] in _BW and levels[1] in _FW):
                problems.append(f"{who}: contrast '{c['contrast']}' has levels {contrast.get('levels')}; a claim "
                                "needs levels [BW, FW]")
        if c["measure"] in sesoi and float(sesoi[c["measure"]]) != float(c["sesoi"]):
            problems.append(f"{who}: sesoi {c['sesoi']} differs from stats.sesoi.{c['measure']} = "
                            f"{sesoi[c['measure']]}; one smallest effect size of interest per measure")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    rule = data["rule"]
    return Claims(estimate=rule["estimate"], alpha=float(rule.get("alpha", 0.05)), claims=tuple(data["claims"]))


def _emg_exclusion(measure: str, excluded: pd.DataFrame | None) -> str:
    """Why an EMG claim has no result: its muscle's channels were excluded by QC for every subject."""
    if excluded is None or excluded.empty or not measure.startswith("emg_"):
        return ""
    gone = excluded[excluded["all_excluded"].astype(bool)]
    hits = [r for r in gone.itertuples(index=False) if measure.endswith(f"_{r.muscle}")]
    return "; ".join(f"all {r.muscle.replace('_', ' ')} channels excluded by QC in {r.dataset} ({r.reasons})"
                     for r in hits)


def score(claims: Claims, results: pd.DataFrame, *, excluded_muscles: pd.DataFrame | None = None) -> pd.DataFrame:
    """One scorecard row per claim and dataset where its contrast applies.

    The rows with a result are one family of ``m`` tests: each interval is
    the Bonferroni ``1 − alpha/m`` t interval of the rule's estimate
    (``paired``: mean difference of subject means, df = n − 1; ``lmm``:
    mixed-model estimate with its lme4 SE and Satterthwaite df) and
    ``p_bonferroni = min(1, m p)``. A claim whose contrast or measure has no
    result in any dataset gets one row with verdict ``not testable`` and the
    reason, so nothing disappears from the scorecard: among the reasons, an
    EMG claim whose muscle's channels were excluded by QC for every subject
    (``excluded_muscles``, :func:`retrogait.gait.emg.muscles_excluded`) and
    a claim the data cannot test at all (``testable: false`` with its
    ``why_not`` in the claims file).
    """
    est_col, se_col, df_col, what = ESTIMATE_COLUMNS[claims.estimate]
    rows: list[dict] = []
    tested: list[tuple[dict, Any]] = []
    nothing = {"dataset": "", "estimate": np.nan, "se": np.nan, "df": np.nan, "ci_low": np.nan, "ci_high": np.nan,
               "ci_level": np.nan, "p": np.nan, "p_bonferroni": np.nan, "m": 0, "adjustment": "not tested",
               "n_subjects": 0, "verdict": "not testable"}
    for c in claims.claims:
        if c.get("testable", True) is False:
            rows.append({"claim_id": c["id"], "claim": c["claim"], "source": c.get("source", ""), "measure": "",
                         "unit": "", "contrast": "", "expected": "", "estimate_kind": claims.estimate,
                         "sesoi": np.nan, **nothing, "reason": c["why_not"],
                         "interpretation": c.get("interpretation", "")})
            continue
        base = {"claim_id": c["id"], "claim": c["claim"], "source": c.get("source", ""), "measure": c["measure"],
                "unit": describe(c["measure"]).unit, "contrast": c["contrast"], "expected": c["expected"],
                "estimate_kind": claims.estimate, "sesoi": float(c["sesoi"]),
                "interpretation": c.get("interpretation", "")}
        hits = results[(results["contrast"] == c["contrast"]) & (results["measure"] == c["measure"])] \
            if len(results) else results
        if hits.empty:
            why = ("the contrast applies to no dataset of this run" if len(results) == 0
                   or not (results["contrast"] == c["contrast"]).any()
                   else f"no dataset of this run has the measure {c['measure']}")
            why = _emg_exclusion(c["measure"], excluded_muscles) or why
            rows.append({**base, **nothing, "reason": why})
            continue
        for r in hits.itertuples(index=False):
            tested.append(({**base, "dataset": r.dataset, "n_subjects": int(r.n_subjects)}, r))
    m = max(1, len(tested))
    alpha = claims.alpha
    level = f"Bonferroni {100 * (1 - alpha / m):.4g}% CI"
    adjustment = (f"claims family: Bonferroni over m = {m} claim x dataset row(s); CI at {100 * (1 - alpha / m):.4g} %"
                  f" ({what}), p_bonferroni = min(1, m p)")
    for base, r in tested:
        est, se, df = (float(getattr(r, col)) for col in (est_col, se_col, df_col))
        constant = claims.estimate == "paired" and se == 0 and base["n_subjects"] >= 1
        if constant:  # every pairing unit differs by the same amount: no t interval, the sign-test one
            lo, hi, p, p_adj = constant_difference_interval(est, base["n_subjects"], alpha=alpha, m=m)
        else:
            lo, hi, p, p_adj = adjusted_interval(est, se, df, alpha=alpha, m=m)
        v, reason = verdict(estimate=est, ci_low=lo, ci_high=hi, expected=base["expected"], sesoi=base["sesoi"],
                            level=level)
        if constant:
            reason = (f"all {base['n_subjects']} paired differences equal {est:.6g} (zero variance, no t interval): "
                      "distribution-free interval for the median difference (sign test), "
                      + ("the point itself; " if np.isfinite(lo) else "too few pairs for this level; ") + reason)
        rows.append({**base, "estimate": est, "se": se, "df": df, "ci_low": lo, "ci_high": hi,
                     "ci_level": 1 - alpha / m, "p": p, "p_bonferroni": p_adj, "m": m, "adjustment": adjustment,
                     "verdict": v, "reason": reason})
    order = {c["id"]: i for i, c in enumerate(claims.claims)}
    rows.sort(key=lambda d: (order[d["claim_id"]], str(d["dataset"])))
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
