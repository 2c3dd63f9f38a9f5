"""Are the plausibility flags balanced between the two levels of each contrast?

The per-cycle plausibility rules (:mod:`retrogait.gait.plausibility`) sit on
the outcomes themselves (PFJ stress, knee moment, vertical GRF, ...), so a
rule that flags more cycles in one condition than in the other removes data
from one side of the very comparison it protects. For every contrast,
dataset and rule, :func:`plausibility_by_contrast` counts the cycles checked
and flagged at each level and warns when the rates differ: Fisher's exact
test of the 2 x 2 table (flagged / not flagged x level a / b;
``scipy.stats.fisher_exact``, two-sided) gives p < ``alpha``, or the rates
differ by at least ``min_pct_diff`` percentage points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from retrogait.analysis.contrasts import Contrast, select_levels
from retrogait.gait.plausibility import RULES, Rule

__all__ = ["plausibility_by_contrast", "CONTRAST_FLAG_COLUMNS"]

#: Columns of :func:`plausibility_by_contrast`.
CONTRAST_FLAG_COLUMNS = ["contrast", "dataset", "level_a", "level_b", "rule", "quantity", "n_a", "flagged_a",
                         "pct_a", "n_b", "flagged_b", "pct_b", "p_fisher", "warning", "note"]

_CYCLE = ["subject", "trial", "side", "cycle"]


def plausibility_by_contrast(measures: pd.DataFrame, contrasts: Sequence[Contrast], *,
                             rules: tuple[Rule, ...] = RULES, alpha: float = 0.05,
                             min_pct_diff: float = 5.0) -> pd.DataFrame:
    """Cycles checked and flagged by each rule at both levels of each contrast, with a warning.

    Parameters
    ----------
    measures : pandas.DataFrame
        The ``measures`` table of one or several datasets (docs/tables.md),
        all rows (kept and flagged), with ``qc_rule``.
    contrasts : sequence of Contrast
    rules : tuple of Rule, keyword-only
    alpha : float, keyword-only
        Level of Fisher's exact test.
    min_pct_diff : float, keyword-only
        Rate difference (percentage points) that warns whatever the test says.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CONTRAST_FLAG_COLUMNS`: per contrast, dataset and
        rule whose quantity was measured at both levels, ``n_a``/``n_b``
        cycles checked, ``flagged_a``/``flagged_b`` and ``pct_a``/``pct_b``
        (%), ``p_fisher``, ``warning`` (bool) and ``note`` (the warning in
        words, naming the measures whose values were removed unevenly).
    """
    rows = []
    if len(measures) == 0:
        return pd.DataFrame(columns=CONTRAST_FLAG_COLUMNS)
    seen: list[tuple[str, str]] = []
    unique = []
    for rule in rules:
        if (rule.name, rule.quantity) not in seen:
            seen.append((rule.name, rule.quantity))
            unique.append(rule)
    for c in contrasts:
        for dataset, data in measures.groupby("dataset", sort=True):
            sel = select_levels(data, c)
            if sel.empty or sel["level"].nunique() < 2:
                continue
            for rule in unique:
                q = sel[sel["measure"] == rule.quantity]
                if q.empty or q["level"].nunique() < 2:
                    continue
                hit = q["qc_rule"].fillna("").astype(str).str.split(",").apply(lambda names: rule.name in names)
                q = q.assign(_hit=hit)
                counts = {}
                for tag in ("a", "b"):
                    lv = q[q["level"] == tag]
                    counts[tag] = (int(lv[_CYCLE].drop_duplicates().shape[0]),
                                   int(lv.loc[lv["_hit"], _CYCLE].drop_duplicates().shape[0]))
                (n_a, k_a), (n_b, k_b) = counts["a"], counts["b"]
                pct_a, pct_b = 100.0 * k_a / n_a, 100.0 * k_b / n_b
                p = float(stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]])[1]) if (k_a + k_b) else 1.0
                warn = bool(p < alpha or abs(pct_a - pct_b) >= min_pct_diff)
                note = ""
                if warn:
                    fam = ", ".join(p_.rstrip("_") + ("*" if p_.endswith("_") else "") for p_ in rule.family) \
                        or rule.quantity
                    note = (f"WARNING rule {rule.name} flagged {pct_a:.1f} % of cycles at {c.levels[0]} and "
                            f"{pct_b:.1f} % at {c.levels[1]} (Fisher p = {p:.3g}): the {fam} values removed "
                            "are not balanced between the levels, so the contrast of those measures may be biased")
                rows.append(dict(contrast=c.id, dataset=str(dataset), level_a=str(c.levels[0]),
                                 level_b=str(c.levels[1]), rule=rule.name, quantity=rule.quantity, n_a=n_a,
                                 flagged_a=k_a, pct_a=pct_a, n_b=n_b, flagged_b=k_b, pct_b=pct_b,
                                 p_fisher=p if np.isfinite(p) else np.nan, warning=warn, note=note))
    return pd.DataFrame(rows, columns=CONTRAST_FLAG_COLUMNS)
