"""Family-wise error control across a family of tests.

References
----------
.. [Holm1979] Holm S (1979). A simple sequentially rejective multiple test
   procedure. Scand J Stat 6:65-70.
.. [Sidak1967] Šidák Z (1967). Rectangular confidence regions for the means
   of multivariate normal distributions. J Am Stat Assoc 62:626-633.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

__all__ = ["holm", "sidak_alpha"]


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p values, NaN-aware.

    Wraps ``statsmodels.stats.multitest.multipletests(method="holm")``
    [Holm1979]_. NaN entries (tests that could not be run) stay NaN and do
    not count in the family size ``m``; the order of the input is kept.

    Parameters
    ----------
    pvalues : array-like of float
        Raw p values in [0, 1]; NaN allowed.

    Returns
    -------
    numpy.ndarray
        Adjusted p values (float, same shape as the input, capped at 1).

    Raises
    ------
    ValueError
        If the input is not 1-D or a non-NaN value lies outside [0, 1].
    """
    try:
        p = np.asarray(pvalues, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("holm: p values must be numbers (NaN allowed)") from None
    if p.ndim != 1:
        raise ValueError(f"holm: p values must be 1-D; got shape {p.shape}")
    ok = ~np.isnan(p)
    bad = ok & ((p < 0) | (p > 1))
    if bad.any():
        raise ValueError(f"holm: p values must lie in [0, 1]; bad values at positions "
                         f"{np.flatnonzero(bad).tolist()}: {p[bad].tolist()}")
    out = np.full(p.shape, np.nan)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def sidak_alpha(alpha: float, m: int) -> float:
    """Per-test level keeping the family-wise error at ``alpha`` over ``m`` tests.

    ``alpha_per = 1 - (1 - alpha) ** (1 / m)`` [Sidak1967]_ (docs/methods.md §6.1);
    exact for independent tests, conservative under positive dependence.

    Parameters
    ----------
    alpha : float
        Family-wise error rate in (0, 1).
    m : int
        Number of tests in the family (>= 1).
    """
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"sidak_alpha: alpha must be a number in (0, 1); got {alpha!r}") from None
    if not (0.0 < a < 1.0):
        raise ValueError(f"sidak_alpha: alpha must be in (0, 1); got {alpha!r}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"sidak_alpha: m must be an integer >= 1; got {m!r}")
    return float(-np.expm1(np.log1p(-a) / int(m)))
