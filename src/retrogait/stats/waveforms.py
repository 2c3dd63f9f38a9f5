"""SPM1D paired t tests on time-normalised waveforms.

References
----------
.. [Pataky2012] Pataky TC (2012). One-dimensional statistical parametric
   mapping in Python. Comput Methods Biomech Biomed Eng 15:295-301.
.. [Pataky2013] Pataky TC, Robinson MA, Vanrenterghem J (2013). Vector field
   statistical analysis of kinematic and force trajectories. J Biomech
   46:2394-2401.
.. [Worsley1996] Worsley KJ, Marrett S, Neelin P, Vandal AC, Friston KJ,
   Evans AC (1996). A unified statistical approach for determining
   significant signals in images of cerebral activation. Hum Brain Mapp
   4:58-73 (expected Euler characteristic of t fields).
.. [Sidak1967] Šidák Z (1967). J Am Stat Assoc 62:626-633.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retrogait.stats.multiplicity import sidak_alpha
from retrogait.stats.paired import _check_alpha

__all__ = ["SPMResult", "spm_paired", "spm_family"]

_SUMMARY_COLUMNS = ["n", "nodes", "alpha", "zstar", "fwhm", "h0reject", "n_clusters", "p_set",
                    "two_tailed", "t_max", "t_min"]
_CLUSTER_COLUMNS = ["cluster", "start_pct", "end_pct", "extent_pct", "centroid_pct", "p", "sign",
                    "start_node", "end_node"]


@dataclass
class SPMResult:
    """Result of :func:`spm_paired`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row: ``n`` (subjects), ``nodes`` (Q), ``alpha``, ``zstar``
        (critical t), ``fwhm`` (estimated smoothness, nodes), ``h0reject``,
        ``n_clusters``, ``p_set`` (set-level p), plus ``two_tailed``,
        ``t_max``, ``t_min``.
    clusters : pandas.DataFrame
        One row per supra-threshold cluster: ``cluster`` (1, 2, ...),
        ``start_pct, end_pct, extent_pct, centroid_pct`` (in % of the
        normalised cycle, ``node * 100 / (Q - 1)``; = node index for 101
        nodes), ``p`` (cluster-level RFT p), ``sign`` ("a>b" for positive t,
        "a<b" for negative t), plus ``start_node, end_node``.
    t : numpy.ndarray
        The SPM{t} curve (Q,).
    mean_diff : numpy.ndarray
        Mean of ``ya - yb`` across subjects (Q,).
    spmi : object
        The spm1d inference object (for plotting with spm1d).
    """

    summary: pd.DataFrame
    clusters: pd.DataFrame
    t: np.ndarray
    mean_diff: np.ndarray
    spmi: object = field(repr=False, default=None)


def _check_curves(ya: object, yb: object) -> tuple[np.ndarray, np.ndarray]:
    try:
        A = np.asarray(ya, dtype=float)
        B = np.asarray(yb, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("spm_paired: ya and yb must be numeric J x Q arrays") from None
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"spm_paired: ya and yb must be 2-D (subjects x nodes); got shapes {A.shape} and {B.shape}")
    if A.shape != B.shape:
        raise ValueError(f"spm_paired: ya and yb must have the same shape (paired subject curves); "
                         f"got {A.shape} and {B.shape}")
    J, Q = A.shape
    if J < 3:
        raise ValueError(f"spm_paired needs at least 3 subjects (rows); got {J}")
    if Q < 3:
        raise ValueError(f"spm_paired needs at least 3 nodes (columns); got {Q}")
    for name, M in (("ya", A), ("yb", B)):
        bad = ~np.isfinite(M)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1)).tolist()
            raise ValueError(f"spm_paired: {name} has NaN/inf in subject row(s) {rows}; "
                             "spm1d needs complete curves (remove or impute those subjects explicitly)")
    # spm1d refuses zero variance of the differences and of either level's curves
    for label, M in (("a - b", A - B), ("ya", A), ("yb", B)):
        sd = M.std(axis=0, ddof=1)
        zero = np.flatnonzero(sd <= 1e-12 * max(1.0, float(np.abs(M).max())))
        if zero.size:
            raise ValueError(f"spm_paired: zero variance of {label} at node(s) {zero.tolist()} "
                             "(degenerate curves); the t statistic is undefined there")
    return A, B


def spm_paired(ya: np.ndarray, yb: np.ndarray, *, alpha: float = 0.05,
               two_tailed: bool = True) -> SPMResult:
    """Paired SPM{t} test of two sets of subject-mean curves (ya − yb).

    ``spm1d.stats.ttest_paired(ya, yb).inference(alpha, two_tailed=...,
    interp=True)`` [Pataky2012]_: a one-sample t test on the differences at
    every node; the critical threshold ``zstar`` comes from random field
    theory for the estimated smoothness [Worsley1996]_ (docs/methods.md §6.1).

    Parameters
    ----------
    ya, yb : array-like, shape (J, Q)
        One curve per subject and condition, same subject order (J >= 3).
    alpha : float, keyword-only
        Type I error rate (two-tailed: alpha/2 per tail, spm1d's convention).
    two_tailed : bool, keyword-only
        Two-tailed inference (default).

    Returns
    -------
    SPMResult

    Raises
    ------
    ValueError
        Shape mismatch, fewer than 3 subjects or nodes, NaN/inf (subject rows
        named), or zero variance of ``ya - yb`` at any node (nodes named).
    """
    import spm1d  # imported lazily: it pulls in matplotlib

    alpha = _check_alpha(alpha)
    A, B = _check_curves(ya, yb)
    J, Q = A.shape
    spm = spm1d.stats.ttest_paired(A, B)
    spmi = spm.inference(alpha, two_tailed=bool(two_tailed), interp=True)
    t = np.asarray(spmi.z, dtype=float).copy()
    scale = 100.0 / (Q - 1)
    rows = []
    for i, c in enumerate(spmi.clusters, start=1):
        ends = c.endpoints
        if getattr(c, "iswrapped", False):  # only for circular fields; not used here
            ends = (ends[0][0], ends[1][1])
        x0, x1 = float(ends[0]), float(ends[1])
        cx = c.centroid[0] if not getattr(c, "iswrapped", False) else c.centroid[0][0]
        rows.append(dict(cluster=i, start_pct=x0 * scale, end_pct=x1 * scale,
                         extent_pct=float(c.extent) * scale, centroid_pct=float(cx) * scale,
                         p=float(c.P), sign="a>b" if c.csign > 0 else "a<b",
                         start_node=x0, end_node=x1))
    clusters = pd.DataFrame(rows, columns=_CLUSTER_COLUMNS)
    summary = pd.DataFrame([dict(n=J, nodes=Q, alpha=alpha, zstar=float(spmi.zstar),
                                 fwhm=float(spmi.fwhm), h0reject=bool(spmi.h0reject),
                                 n_clusters=len(rows), p_set=float(spmi.p_set),
                                 two_tailed=bool(two_tailed), t_max=float(t.max()),
                                 t_min=float(t.min()))], columns=_SUMMARY_COLUMNS)
    return SPMResult(summary=summary, clusters=clusters, t=t, mean_diff=(A - B).mean(axis=0),
                     spmi=spmi)


def spm_family(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, alpha: float = 0.05,
               correction: str = "sidak", two_tailed: bool = True
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired SPM tests for a family of waveforms at a family-wise alpha.

    Each variable is tested with :func:`spm_paired` at ``alpha_corrected``:
    Šidák ``1 - (1 - alpha)^(1/m)`` [Sidak1967]_ (docs/methods.md §6.1) or no
    correction (``correction="none"``). ``m`` is the number of variables
    submitted (the family is fixed before the data are seen, so a variable
    skipped for degenerate data still counts; this is conservative).

    Parameters
    ----------
    curves : mapping of str -> (ya, yb)
        Variable name → (J × Q array for condition a, same for b).
    alpha : float, keyword-only
        Family-wise error rate.
    correction : {"sidak", "none"}, keyword-only
    two_tailed : bool, keyword-only

    Returns
    -------
    (summary, clusters) : tuple of pandas.DataFrame
        ``summary``: one row per variable, ``variable`` + the
        :class:`SPMResult` summary columns + ``alpha_family,
        alpha_corrected, correction, m, status`` (``"ok"`` or
        ``"skipped: <reason>"``; a skipped variable has NaN statistics).
        ``clusters``: ``variable`` + the cluster columns.
    """
    alpha = _check_alpha(alpha)
    if correction not in ("sidak", "none"):
        raise ValueError(f"spm_family: correction must be 'sidak' or 'none'; got {correction!r}")
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError("spm_family: curves must be a non-empty mapping name -> (ya, yb)")
    m = len(curves)
    a_corr = sidak_alpha(alpha, m) if correction == "sidak" else alpha
    srows, crows = [], []
    for name, pair in curves.items():
        base = dict(variable=str(name), alpha_family=alpha, alpha_corrected=a_corr,
                    correction=correction, m=m)
        try:
            ya, yb = pair
        except (TypeError, ValueError):
            raise ValueError(f"spm_family: curves[{name!r}] must be a pair (ya, yb)") from None
        try:
            res = spm_paired(ya, yb, alpha=a_corr, two_tailed=two_tailed)
        except ValueError as exc:
            if "zero variance" not in str(exc).lower():
                raise ValueError(f"spm_family: variable {name!r}: {exc}") from exc
            row = {c: np.nan for c in _SUMMARY_COLUMNS}
            J, Q = np.shape(ya)
            row.update(n=J, nodes=Q, alpha=a_corr, two_tailed=bool(two_tailed), h0reject=False,
                       n_clusters=0)
            srows.append({**base, **row, "status": f"skipped: {exc}"})
            continue
        srows.append({**base, **res.summary.iloc[0].to_dict(), "status": "ok"})
        for rec in res.clusters.to_dict("records"):
            crows.append({"variable": str(name), **rec})
    summary = pd.DataFrame(srows, columns=["variable", *_SUMMARY_COLUMNS, "alpha_family",
                                           "alpha_corrected", "correction", "m", "status"])
    clusters = pd.DataFrame(crows, columns=["variable", *_CLUSTER_COLUMNS])
    return summary, clusters
