"""Claims scorecard: popular claims about backward walking against the data.

Each claim in ``config/claims.yaml`` names a measure, a contrast and an
expected direction (``increase``, ``decrease`` or ``equivalent``). The
verdict (supported / contradicted / inconclusive) follows a rule fixed in
that file before the data are seen, applied by
:func:`retrogait.stats.claims.verdict` to the contrast's estimate and 95 % CI
in every dataset where the contrast applies (docs/methods.md section 8;
Lakens, Scheel & Isager 2018 for combining tests against 0 and against the
smallest effect size of interest).
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
from retrogait.stats.claims import verdict

__all__ = ["Claims", "load_claims", "score", "SCORECARD_COLUMNS"]

SCORECARD_COLUMNS = ["claim_id", "claim", "source", "measure", "unit", "contrast", "dataset", "expected",
                     "estimate_kind", "estimate", "ci_low", "ci_high", "n_subjects", "sesoi", "tost_p",
                     "verdict", "reason"]


@dataclass(frozen=True)
class Claims:
    """The claims and the verdict rule."""

    estimate: str
    alpha: float
    claims: tuple[Mapping[str, Any], ...]


def load_claims(path: str | os.PathLike, schema: str | os.PathLike, *, contrast_ids: Sequence[str],
                sesoi: Mapping[str, float]) -> Claims:
    """Read and check the claims file; unknown measures or contrasts are errors naming the claim."""
    data = load_config(path, schema, source=str(path))
    problems = []
    ids = [c["id"] for c in data["claims"]]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"claim id '{dup}' appears twice")
    for c in data["claims"]:
        try:
            describe(c["measure"])
        except KeyError:
            problems.append(f"claim '{c['id']}': unknown measure '{c['measure']}'")
        if c["contrast"] not in contrast_ids:
            problems.append(f"claim '{c['id']}': contrast '{c['contrast']}' is not in stats.contrasts "
                            f"({', '.join(contrast_ids)})")
        if c["expected"] == "equivalent" and c["measure"] not in sesoi:
            problems.append(f"claim '{c['id']}' expects equivalence but stats.sesoi has no bound for "
                            f"'{c['measure']}'")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    rule = data["rule"]
    return Claims(estimate=rule["estimate"], alpha=float(rule.get("alpha", 0.05)), claims=tuple(data["claims"]))


def score(claims: Claims, results: pd.DataFrame) -> pd.DataFrame:
    """One scorecard row per claim and dataset where its contrast applies.

    A claim whose contrast or measure has no result in any dataset gets one
    row with verdict ``not testable`` and the reason, so nothing disappears
    from the scorecard.
    """
    est_col, lo_col, hi_col = (("mean_diff", "ci_low", "ci_high") if claims.estimate == "paired"
                               else ("lmm_estimate", "lmm_ci_low", "lmm_ci_high"))
    rows = []
    for c in claims.claims:
        base = {"claim_id": c["id"], "claim": c["claim"], "source": c.get("source", ""), "measure": c["measure"],
                "unit": describe(c["measure"]).unit, "contrast": c["contrast"], "expected": c["expected"],
                "estimate_kind": claims.estimate}
        hits = results[(results["contrast"] == c["contrast"]) & (results["measure"] == c["measure"])] \
            if len(results) else results
        if hits.empty:
            why = ("the contrast applies to no dataset of this run" if len(results) == 0
                   or not (results["contrast"] == c["contrast"]).any()
                   else f"no dataset of this run has the measure {c['measure']}")
            rows.append({**base, "dataset": "", "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "n_subjects": 0, "sesoi": np.nan, "tost_p": np.nan, "verdict": "not testable",
                         "reason": why})
            continue
        for r in hits.itertuples(index=False):
            sesoi = getattr(r, "sesoi", np.nan)
            tost_p = getattr(r, "tost_p", np.nan)
            has_sesoi = sesoi is not None and np.isfinite(sesoi)
            v, reason = verdict(estimate=float(getattr(r, est_col)), ci_low=float(getattr(r, lo_col)),
                                ci_high=float(getattr(r, hi_col)), expected=c["expected"],
                                sesoi=float(sesoi) if has_sesoi else None,
                                tost_p=float(tost_p) if has_sesoi and np.isfinite(tost_p) else None,
                                alpha=claims.alpha)
            rows.append({**base, "dataset": r.dataset, "estimate": float(getattr(r, est_col)),
                         "ci_low": float(getattr(r, lo_col)), "ci_high": float(getattr(r, hi_col)),
                         "n_subjects": int(r.n_subjects), "sesoi": float(sesoi) if has_sesoi else np.nan,
                         "tost_p": float(tost_p) if has_sesoi else np.nan, "verdict": v, "reason": reason})
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
