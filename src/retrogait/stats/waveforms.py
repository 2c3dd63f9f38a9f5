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
                    "two_tailed", "t_max", "t_min", "n_untested_nodes", "untested_nodes", "untested_note"]
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
        ``t_max``, ``t_min``, ``n_untested_nodes``, ``untested_nodes``
        (nodes where the differences have zero variance, e.g. ``"40-60"``;
        empty when every node was tested) and ``untested_note`` (what the
        differences are there).
    clusters : pandas.DataFrame
        One row per supra-threshold cluster: ``cluster`` (1, 2, ...),
        ``start_pct, end_pct, extent_pct, centroid_pct`` (in % of the
        normalised cycle, ``node * 100 / (Q - 1)``; = node index for 101
        nodes), ``p`` (cluster-level RFT p), ``sign`` ("a>b" for positive t,
        "a<b" for negative t), plus ``start_node, end_node``.
    t : numpy.ndarray
        The SPM{t} curve (Q,); NaN at untested nodes.
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
    return A, B


def _runs(idx: np.ndarray) -> str:
    """Compact node list: [3, 4, 5, 9] -> "3-5, 9"."""
    if idx.size == 0:
        return ""
    parts, lo, prev = [], int(idx[0]), int(idx[0])
    for i in map(int, idx[1:]):
        if i != prev + 1:
            parts.append(f"{lo}-{prev}" if prev > lo else f"{lo}")
            lo = i
        prev = i
    parts.append(f"{lo}-{prev}" if prev > lo else f"{lo}")
    return ", ".join(parts)


def zero_variance_nodes(D: np.ndarray) -> np.ndarray:
    """Nodes where the subject-wise differences ``D`` (J x Q) have zero variance (the t statistic is
    undefined there): SD <= 1e-12 x max(1, max |D|)."""
    sd = D.std(axis=0, ddof=1)
    return sd <= 1e-12 * max(1.0, float(np.abs(D).max()))


def spm_paired(ya: np.ndarray, yb: np.ndarray, *, alpha: float = 0.05,
               two_tailed: bool = True) -> SPMResult:
    """Paired SPM{t} test of two sets of subject-mean curves: a one-sample test on ``ya − yb``.

    ``spm1d.stats.ttest(ya - yb).inference(alpha, two_tailed=..., interp=True)``
    [Pataky2012]_: a one-sample t test on the subject-wise difference curves
    at every node; the critical threshold ``zstar`` comes from random field
    theory for the estimated smoothness [Worsley1996]_ (docs/methods.md §6.1).
    A paired test needs variance of the *differences* only: a level whose
    curves are identical across subjects at some nodes (e.g. patellofemoral
    stress clamped to 0 in one direction) is tested like any other node.

    Where the differences themselves have zero variance (every subject's
    ``a − b`` is the same, e.g. both levels clamped to 0 at the same nodes)
    the t statistic is undefined. Those nodes are named in the summary and
    left out of the search region with spm1d's region-of-interest mask: the
    same one-sample GLM that ``ttest`` runs (``spm1d.stats.glm(D, 1, 1,
    roi=...)``), the smoothness estimated from the defined nodes and the
    random-field geometry (resel counts) of the region actually tested.

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
        named), or zero variance of ``ya - yb`` at every node but two or fewer.
    """
    import spm1d  # imported lazily: it pulls in matplotlib

    alpha = _check_alpha(alpha)
    A, B = _check_curves(ya, yb)
    J, Q = A.shape
    D = A - B
    zero = zero_variance_nodes(D)
    untested, note = "", ""
    if zero.any():
        untested = _runs(np.flatnonzero(zero))
        vals = D[0, zero]
        same = np.allclose(vals, 0.0, atol=1e-12 * max(1.0, float(np.abs(D).max())))
        note = (f"differences have zero variance at node(s) {untested} "
                + ("(a - b = 0 for every subject there)" if same else
                   f"(every subject has the same a - b there: {np.min(vals):.4g} to {np.max(vals):.4g})")
                + ": t undefined, not tested")
        if (~zero).sum() < 3:
            raise ValueError(f"spm_paired: zero variance of a - b at node(s) {untested}; fewer than 3 nodes left "
                             "to test")
        Dn = D.copy()
        Dn[:, zero] = np.nan
        spm = spm1d.stats.glm(Dn, np.ones((J, 1)), (1,), roi=~zero)
    else:
        spm = spm1d.stats.ttest(D)
    spmi = spm.inference(alpha, two_tailed=bool(two_tailed), interp=True)
    t = np.asarray(np.ma.filled(np.ma.asarray(spmi.z, dtype=float), np.nan), dtype=float).copy()
    t[zero] = np.nan
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
    summary = pd.DataFrame([dict(n=J, nodes=int((~zero).sum()), alpha=alpha, zstar=float(spmi.zstar),
                                 fwhm=float(spmi.fwhm), h0reject=bool(spmi.h0reject),
                                 n_clusters=len(rows), p_set=float(spmi.p_set),
                                 two_tailed=bool(two_tailed), t_max=float(np.nanmax(t)),
                                 t_min=float(np.nanmin(t)), n_untested_nodes=int(zero.sum()),
                                 untested_nodes=untested, untested_note=note)], columns=_SUMMARY_COLUMNS)
    return SPMResult(summary=summary, clusters=clusters, t=t, mean_diff=D.mean(axis=0), spmi=spmi)


def spm_family(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, alpha: float = 0.05,
               correction: str = "sidak", two_tailed: bool = True
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired SPM tests for a family of waveforms at a family-wise alpha.

    Each variable is tested with :func:`spm_paired` at ``alpha_corrected``:
    Šidák ``1 - (1 - alpha)^(1/m)`` [Sidak1967]_ (docs/methods.md §6.1) or no
    correction (``correction="none"``). ``m`` is the number of variables
    submitted (the family is fixed before the data are seen, so a variable
    that cannot be tested still counts; this is conservative).

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
        ``"skipped: <reason>"``; a skipped variable, whose differences have
        zero variance at all but two nodes or fewer, has NaN statistics).
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
            row.update(n=J, nodes=0, alpha=a_corr, two_tailed=bool(two_tailed), h0reject=False,
                       n_clusters=0, n_untested_nodes=Q, untested_nodes=f"0-{Q - 1}",
                       untested_note="differences have zero variance at (almost) every node")
            srows.append({**base, **row, "status": f"skipped: {exc}"})
            continue
        srows.append({**base, **res.summary.iloc[0].to_dict(), "status": "ok"})
        for rec in res.clusters.to_dict("records"):
            crows.append({"variable": str(name), **rec})
    summary = pd.DataFrame(srows, columns=["variable", *_SUMMARY_COLUMNS, "alpha_family",
                                           "alpha_corrected", "correction", "m", "status"])
    clusters = pd.DataFrame(crows, columns=["variable", *_CLUSTER_COLUMNS])
    return summary, clusters
