"""Equivalence testing (two one-sided tests, TOST) for paired data.

References
----------
.. [Schuirmann1987] Schuirmann DJ (1987). A comparison of the two one-sided
   tests procedure and the power approach for assessing the equivalence of
   average bioavailability. J Pharmacokinet Biopharm 15:657-680.
.. [Lakens2017] Lakens D (2017). Equivalence tests: a practical primer for t
   tests, correlations, and meta-analyses. Soc Psychol Personal Sci 8:355-362.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

from retrogait.stats.paired import _check_alpha, _paired_arrays, _rounding_only

__all__ = ["tost_paired"]

_TOST_COLUMNS = [
    "low", "upp", "mean_diff", "ci90_low", "ci90_high", "p_lower", "p_upper", "p_tost",
    "equivalent",
    # additional columns
    "n", "n_dropped", "t_lower", "t_upper", "df", "alpha", "ci_level", "note",
]


def tost_paired(a: Sequence[float] | np.ndarray | pd.Series,
                b: Sequence[float] | np.ndarray | pd.Series,
                *, low: float, upp: float, alpha: float = 0.05) -> pd.DataFrame:
    """TOST equivalence test of the paired mean difference ``a - b``.

    H0: ``md <= low`` or ``md >= upp``; H1: ``low < md < upp``;
    ``p_tost = max(p_lower, p_upper)`` [Schuirmann1987]_ [Lakens2017]_
    (docs/methods.md §6.4). Computed by
    ``statsmodels.stats.weightstats.ttost_paired``; the ``1 - 2·alpha``
    confidence interval by ``DescrStatsW(a - b).tconfint_mean(2·alpha)``.

    Parameters
    ----------
    a, b : array-like of float
        Paired subject-level values. Pairs with a NaN are dropped and counted
        in ``n_dropped``.
    low, upp : float, keyword-only
        Equivalence bounds in raw units (``low < upp``), fixed a priori.
    alpha : float, keyword-only
        Level of each one-sided test (default 0.05).

    Returns
    -------
    pandas.DataFrame
        One row: ``low, upp, mean_diff, ci90_low, ci90_high, p_lower,
        p_upper, p_tost, equivalent`` (bool, ``p_tost < alpha``, which is the
        same as the ``1 - 2·alpha`` CI lying inside (low, upp)), plus ``n,
        n_dropped, t_lower, t_upper, df, alpha, ci_level, note``. The columns
        ``ci90_*`` hold the ``1 - 2·alpha`` interval (90 % for the default
        alpha; ``ci_level`` states the level).

    Raises
    ------
    ValueError
        Length mismatch, inf, fewer than 2 complete pairs, non-finite bounds
        or ``low >= upp``.

    Notes
    -----
    If all differences are identical (zero variance) the t statistics are
    undefined: p values are NaN, ``equivalent`` is False and ``note`` says why.
    """
    alpha = _check_alpha(alpha)
    try:
        low_f, upp_f = float(low), float(upp)
    except (TypeError, ValueError):
        raise ValueError(f"tost_paired: low and upp must be numbers; got low={low!r}, upp={upp!r}") from None
    if not (np.isfinite(low_f) and np.isfinite(upp_f)):
        raise ValueError(f"tost_paired: bounds must be finite; got low={low!r}, upp={upp!r}")
    if not low_f < upp_f:
        raise ValueError(f"tost_paired: need low < upp; got low={low_f}, upp={upp_f}")
    a, b, n_dropped = _paired_arrays(a, b, min_n=2, func="tost_paired")
    n = int(a.shape[0])
    d = a - b
    mean_diff = float(d.mean())
    note = ""
    if not _rounding_only(d, a, b):
        p_tost, (t1, p1, df1), (t2, p2, _df2) = ttost_paired(a, b, low_f, upp_f)
        lo90, hi90 = DescrStatsW(d).tconfint_mean(alpha=2.0 * alpha)
        p_tost, t1, p1, t2, p2 = (float(v) for v in (p_tost, t1, p1, t2, p2))
        df = float(df1)
        lo90, hi90 = float(lo90), float(hi90)
    else:
        p_tost = t1 = p1 = t2 = p2 = float("nan")
        df = float(n - 1)
        lo90 = hi90 = mean_diff
        note = "differences have zero variance: TOST undefined"
    equivalent = bool(np.isfinite(p_tost) and p_tost < alpha)
    row = dict(low=low_f, upp=upp_f, mean_diff=mean_diff, ci90_low=lo90, ci90_high=hi90,
               p_lower=p1, p_upper=p2, p_tost=p_tost, equivalent=equivalent,
               n=n, n_dropped=n_dropped, t_lower=t1, t_upper=t2, df=df, alpha=alpha,
               ci_level=1.0 - 2.0 * alpha, note=note)
    return pd.DataFrame([row], columns=_TOST_COLUMNS)
