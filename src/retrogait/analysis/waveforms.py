"""SPM1D inference on time-normalised waveforms for every contrast.

For each configured :class:`~retrogait.analysis.contrasts.Contrast` and each dataset
where it applies (data at both levels), every waveform variable of the
``waveforms`` table (docs/tables.md) is tested with a paired SPM{t}
(docs/methods.md §6.1):

* one curve per subject and level: the mean of all that subject's cycles at
  the level (trials and both sides pooled), so the design is balanced as
  spm1d requires [Pataky2012]_; subjects with data at one level only are
  excluded and listed;
* the domain tested is fixed per variable (:data:`DEFAULT_DOMAINS`: knee
  flexion and EMG envelopes over the stride, moments, vertical GRF and
  patellofemoral stress over stance);
* two families per contrast x dataset, each at a family-wise ``alpha`` with
  the Šidák per-test level ``1 - (1 - alpha)^(1/m)`` [Sidak1967]_:
  ``"knee"`` (knee angle and moments, vertical GRF, PFJ stress) and
  ``"emg"`` (one envelope per muscle); ``m`` = number of variables of the
  family with enough paired subjects (a member that then cannot be tested
  still counts); the tests themselves are :func:`retrogait.stats.spm_family` /
  :func:`retrogait.stats.spm_paired` (two-tailed, random field theory
  threshold and cluster p values [Worsley1996]_).

A variable that cannot be tested (too few subjects with both levels, no
curves in its domain, no domain configured, non-finite values, mixed units,
differences with zero variance at (almost) every node) gets a summary row
whose ``status`` says why (``"skipped: ..."``); no exception is raised for
data problems. Every node is tested: the paired test is a one-sample test
on the difference curves (``spm1d.stats.ttest(ya - yb)``), so a level that
is constant across subjects at some nodes (PFJ stress clamped at 0 in one
direction) is no obstacle; nodes where the *differences* have zero
variance are named in ``untested_nodes`` / ``untested_note``
(:func:`retrogait.stats.spm_paired`).

Limitation: spm1d has no ANCOVA, so contrast covariates (e.g. speed) are
not modelled here; cycles of every condition matching a level are pooled
into that level's subject mean and the ``note`` column says so
(docs/methods.md §6.1, "Speed").

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
   4:58-73.
.. [Sidak1967] Šidák Z (1967). Rectangular confidence regions for the means
   of multivariate normal distributions. J Am Stat Assoc 62:626-633.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from retrogait.analysis.contrasts import Contrast, select_levels
from retrogait.stats import sidak_alpha, spm_family
from retrogait.stats.paired import _check_alpha

__all__ = [
    "DEFAULT_DOMAINS",
    "SUMMARY_COLUMNS",
    "CLUSTER_COLUMNS",
    "waveform_family",
    "subject_curves",
    "spm_contrasts",
]

log = logging.getLogger("retrogait.analysis.waveforms")

#: variable -> domain tested (knee variables); every ``emg_<muscle>`` -> ``"stride"``
#: unless the mapping has the variable itself or the key ``"emg_*"``.
DEFAULT_DOMAINS: dict[str, str] = {
    "knee_flexion": "stride",
    "knee_extensor_moment": "stance",
    "knee_adduction_moment": "stance",
    "pfj_stress": "stance",
    "vgrf": "stance",
}
_EMG_DEFAULT_DOMAIN = "stride"

_SPM_COLUMNS = ["n", "nodes", "alpha", "zstar", "fwhm", "h0reject", "n_clusters", "p_set", "two_tailed",
                "t_max", "t_min", "n_untested_nodes", "untested_nodes", "untested_note", "alpha_family",
                "alpha_corrected", "correction", "m", "status"]
#: Columns of the summary table returned by :func:`spm_contrasts`.
SUMMARY_COLUMNS = ["contrast", "label", "factor", "level_a", "level_b", "dataset", "family", "variable",
                   "domain", "unit", "n_subjects", "n_excluded", "excluded_subjects", *_SPM_COLUMNS,
                   "family_members", "note"]
#: Columns of the clusters table returned by :func:`spm_contrasts`.
CLUSTER_COLUMNS = ["contrast", "dataset", "family", "variable", "domain", "level_a", "level_b", "cluster",
                   "start_pct", "end_pct", "extent_pct", "centroid_pct", "p", "sign", "start_node", "end_node"]

_NODE_RE = re.compile(r"pct_(\d{3})")



# --------------------------------------------------------------------------- helpers

def waveform_family(variable: str) -> str:
    """Multiplicity family of a waveform variable: ``"emg"`` for ``emg_*``, else ``"knee"``."""
    return "emg" if str(variable).startswith("emg_") else "knee"


def _domain_for(variable: str, domains: Mapping[str, str]) -> str | None:
    if variable in domains:
        return str(domains[variable])
    if variable.startswith("emg_"):
        return str(domains.get("emg_*", _EMG_DEFAULT_DOMAIN))
    return None


def _node_columns(waveforms: pd.DataFrame) -> list[str]:
    cols = sorted((c for c in waveforms.columns if isinstance(c, str) and _NODE_RE.fullmatch(c)),
                  key=lambda c: int(c[4:]))
    if len(cols) < 3:
        raise ValueError("waveforms table has fewer than 3 node columns pct_000 ... pct_100 "
                         f"(found {cols})")
    return cols


def _one_dataset(waveforms: pd.DataFrame, who: str) -> None:
    if "dataset" in waveforms.columns:
        names = pd.unique(waveforms["dataset"].dropna().astype(str))
        if len(names) > 1:
            raise ValueError(f"{who}: rows of several datasets ({sorted(names)}); subject ids are only unique "
                             "within a dataset, so filter the waveforms table to one dataset first")


def _missing_columns(table: pd.DataFrame, contrast: Contrast) -> list[str]:
    need = {contrast.factor, *contrast.filter, *(k for f in contrast.level_filters.values() for k in f)}
    return sorted(c for c in need if c not in table.columns)


def _pair_curves(sel: pd.DataFrame, cols: list[str]
                 ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Subject-mean curves of level-tagged rows of ONE variable and domain."""
    Q = len(cols)
    if sel.empty:
        return np.empty((0, Q)), np.empty((0, Q)), [], []
    means = sel.groupby(["subject", "level"], sort=True, observed=True)[cols].mean()
    levels = means.index.get_level_values("level")
    subj = means.index.get_level_values("subject").astype(str)
    has_a, has_b = set(subj[levels == "a"]), set(subj[levels == "b"])
    both = sorted(has_a & has_b)
    excluded = sorted(has_a ^ has_b)
    if not both:
        return np.empty((0, Q)), np.empty((0, Q)), [], excluded
    flat = means.reset_index()
    flat["subject"] = flat["subject"].astype(str)
    a = flat[flat["level"] == "a"].set_index("subject").loc[both, cols].to_numpy(dtype=float)
    b = flat[flat["level"] == "b"].set_index("subject").loc[both, cols].to_numpy(dtype=float)
    return a, b, both, excluded


def _nonfinite_rows(sel: pd.DataFrame, cols: list[str]) -> int:
    if sel.empty:
        return 0
    return int((~np.isfinite(sel[cols].to_numpy(dtype=float))).any(axis=1).sum())


# --------------------------------------------------------------------------- public API

def subject_curves(waveforms: pd.DataFrame, contrast: Contrast, *, variable: str, domain: str
                   ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Paired subject-mean curves of one variable for the two levels of a contrast.

    The rows of ``variable`` in ``domain`` are split into the contrast's
    levels with :func:`retrogait.analysis.contrasts.select_levels`; each subject's
    curve at a level is the node-wise mean of all its cycles there (every
    trial and both sides pooled, each cycle weighted equally). spm1d needs
    one curve per subject and condition (balanced design, docs/methods.md §6.1,
    [Pataky2012]_), so subjects with cycles at one level only are excluded
    and returned.

    Parameters
    ----------
    waveforms : pandas.DataFrame
        ``waveforms`` table (docs/tables.md) of ONE dataset (the caller
        filters; several datasets raise, as subject ids may collide).
    contrast : Contrast
        The comparison ``levels[0] - levels[1]``.
    variable, domain : str, keyword-only
        E.g. ``"knee_flexion"``, ``"stride"``.

    Returns
    -------
    ya, yb : numpy.ndarray, shape (J, Q)
        Subject-mean curves at level a and level b, rows in the order of
        ``subjects`` (sorted); J = 0 when no subject has both levels.
    subjects : list of str
        Subjects used (data at both levels), sorted.
    excluded : list of str
        Subjects with data at one level only, sorted.

    Raises
    ------
    ValueError
        Several datasets in the table, no node columns, a column the
        contrast needs is missing, or a selected curve has NaN/inf values
        (the table promises complete curves; nothing is dropped silently).
    """
    _one_dataset(waveforms, "subject_curves")
    cols = _node_columns(waveforms)
    missing = _missing_columns(waveforms, contrast)
    if missing:
        raise ValueError(f"subject_curves: contrast {contrast.id!r} needs column(s) {missing}, "
                         "absent from the waveforms table")
    rows = waveforms[(waveforms["variable"].astype(str) == str(variable))
                     & (waveforms["domain"].astype(str) == str(domain))]
    sel = select_levels(rows, contrast)
    bad = _nonfinite_rows(sel, cols)
    if bad:
        raise ValueError(f"subject_curves: {bad} curve(s) of {variable!r} ({domain}) have NaN/inf nodes; "
                         "remove or repair them explicitly")
    return _pair_curves(sel, cols)


def spm_contrasts(waveforms: pd.DataFrame, contrasts: Sequence[Contrast], *, alpha: float = 0.05,
                  domains: Mapping[str, str] | None = None, min_subjects: int = 5
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired SPM{t} tests of every waveform variable for every contrast and dataset.

    For each contrast and each dataset where it applies (cycles at both
    levels), every variable present in the contrast's rows is assigned to a
    family (:func:`waveform_family`) and tested over its domain on subject
    mean curves (:func:`subject_curves`). Every variable of a family with at
    least ``min_subjects`` paired subjects and finite curves counts in the
    family size ``m`` (listed in ``family_members``); each is tested by
    :func:`retrogait.stats.spm_family` (two-tailed SPM{t} [Pataky2012]_,
    random-field-theory threshold and cluster p values [Worsley1996]_,
    docs/methods.md §6.1) at the Šidák level ``alpha_corrected = 1 - (1 -
    alpha)^(1/m)`` [Sidak1967]_. A member that cannot be tested because of
    zero variance still counts in ``m`` (the family is fixed before the
    results are seen; conservative), as in ``spm_family``.

    Every node of the domain is tested (one-sample SPM{t} on the difference
    curves): a level that is constant across subjects at some nodes (PFJ
    stress clamped at 0 in one direction) does not remove those nodes. Nodes
    where the differences themselves have zero variance (e.g. both levels
    clamped at 0 for every subject) have no t statistic; they are listed in
    ``untested_nodes`` and ``untested_note`` and left out of the random
    field by spm1d's region-of-interest mask.

    Parameters
    ----------
    waveforms : pandas.DataFrame
        ``waveforms`` table (docs/tables.md), one or several datasets.
    contrasts : sequence of Contrast
    alpha : float, keyword-only
        Family-wise error rate of each family (per contrast x dataset).
    domains : mapping of str -> str, keyword-only
        Variable -> domain tested; replaces :data:`DEFAULT_DOMAINS` when
        given. EMG envelopes (``emg_*``) not listed use the key ``"emg_*"``
        if present, else ``"stride"``. Other variables not listed (e.g.
        ``pfj_force``) get a ``skipped`` row.
    min_subjects : int, keyword-only
        Minimum number of subjects with both levels (>= 3, spm1d's minimum).

    Returns
    -------
    summary : pandas.DataFrame
        One row per contrast x dataset x variable, columns
        :data:`SUMMARY_COLUMNS`: ``contrast, label, factor, level_a,
        level_b, dataset, family, variable, domain, unit, n_subjects,
        n_excluded, excluded_subjects`` (comma-separated ids with data at
        one level only), the :func:`~retrogait.stats.spm_family` columns
        ``n`` (subjects tested), ``nodes`` (nodes tested), ``alpha``
        (per-test level used), ``zstar`` (critical t), ``fwhm, h0reject,
        n_clusters, p_set, two_tailed, t_max, t_min, n_untested_nodes,
        untested_nodes, untested_note`` (nodes whose differences have zero
        variance), ``alpha_family, alpha_corrected, correction``
        (``"sidak"``), ``m, status`` (``"ok"`` or ``"skipped: <reason>"``;
        statistics NaN when skipped), then ``family_members`` (variables
        counted in ``m``) and ``note`` (covariates not modelled). Sorted by
        contrast, dataset, family, variable.
    clusters : pandas.DataFrame
        One row per supra-threshold cluster, columns :data:`CLUSTER_COLUMNS`:
        ``contrast, dataset, family, variable, domain, level_a, level_b,
        cluster, start_pct, end_pct, extent_pct, centroid_pct`` (% of the
        domain), ``p`` (cluster-level RFT p), ``sign`` (``"a>b"`` when
        level a is higher), ``start_node, end_node`` (node indices,
        interpolated). Sorted like the summary, then by cluster.

    Raises
    ------
    ValueError
        Invalid ``alpha`` or ``min_subjects``, or a non-empty table without
        node columns.
    """
    alpha = _check_alpha(alpha)
    if isinstance(min_subjects, bool) or not isinstance(min_subjects, (int, np.integer)) or min_subjects < 3:
        raise ValueError(f"spm_contrasts: min_subjects must be an integer >= 3 (spm1d's minimum); "
                         f"got {min_subjects!r}")
    min_subjects = int(min_subjects)
    domains = dict(DEFAULT_DOMAINS if domains is None else domains)
    srows: list[dict] = []
    crows: list[dict] = []
    if len(waveforms) == 0:
        return pd.DataFrame(columns=SUMMARY_COLUMNS), pd.DataFrame(columns=CLUSTER_COLUMNS)
    cols = _node_columns(waveforms)
    for c in contrasts:
        missing = _missing_columns(waveforms, c)
        if missing:
            log.warning("contrast %s not tested on waveforms: column(s) %s absent", c.id, missing)
            continue
        for dataset, data in waveforms.groupby("dataset", sort=True, observed=True):
            sel = select_levels(data, c)
            if sel.empty or sel["level"].nunique() < 2:
                log.info("contrast %s does not apply to %s waveforms (a level has no data)", c.id, dataset)
                continue
            s, k = _contrast_dataset(c, str(dataset), sel, cols, alpha=alpha, domains=domains,
                                     min_subjects=min_subjects)
            srows.extend(s)
            crows.extend(k)
    summary = pd.DataFrame(srows, columns=SUMMARY_COLUMNS)
    clusters = pd.DataFrame(crows, columns=CLUSTER_COLUMNS)
    summary = summary.sort_values(["contrast", "dataset", "family", "variable"], kind="stable",
                                  ignore_index=True)
    clusters = clusters.sort_values(["contrast", "dataset", "family", "variable", "cluster"], kind="stable",
                                    ignore_index=True)
    return summary, clusters


def _contrast_dataset(c: Contrast, dataset: str, sel: pd.DataFrame, cols: list[str], *, alpha: float,
                      domains: Mapping[str, str], min_subjects: int) -> tuple[list[dict], list[dict]]:
    """Summary and cluster rows of one contrast on one dataset (``sel`` = select_levels output)."""
    note = ""
    if c.covariates:
        note = (f"covariate(s) {', '.join(c.covariates)} not modelled (spm1d has no ANCOVA): cycles of all "
                "conditions at each level pooled into the subject mean")
    Q = len(cols)
    key = dict(contrast=c.id, label=c.label, factor=c.factor, level_a=str(c.levels[0]),
               level_b=str(c.levels[1]), dataset=dataset)
    by_var = {str(v): g for v, g in sel.groupby(sel["variable"].astype(str), sort=True)}
    members: dict[str, list[str]] = {}  # family -> variables counted in m
    to_test: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}  # family -> variable -> curves
    rows: dict[str, dict] = {}
    for var, vrows in by_var.items():
        fam = waveform_family(var)
        dom = _domain_for(var, domains)
        units = sorted(pd.unique(vrows["unit"].astype(str))) if "unit" in vrows else []
        row = dict(key, family=fam, variable=var, domain=dom, unit=",".join(units), n_subjects=0,
                   n_excluded=0, excluded_subjects="", alpha_family=alpha, correction="sidak",
                   n=0, nodes=Q, h0reject=False, n_clusters=0, two_tailed=True, family_members="",
                   n_untested_nodes=0, untested_nodes="", untested_note="", note=note)
        rows[var] = row
        if dom is None:
            row["status"] = ("skipped: no domain configured for this variable (not in the domains mapping, "
                             "not an EMG envelope)")
            continue
        drows = vrows[vrows["domain"].astype(str) == dom]
        if drows.empty:
            have = ", ".join(sorted(pd.unique(vrows["domain"].astype(str))))
            row["status"] = f"skipped: no curves in domain {dom!r} (present in: {have})"
            continue
        ya, yb, used, excluded = _pair_curves(drows, cols)
        row.update(n_subjects=len(used), n_excluded=len(excluded), excluded_subjects=",".join(excluded),
                   n=len(used))
        if len(units) > 1:
            row["status"] = f"skipped: several units ({', '.join(units)}) for one variable"
            continue
        if (bad := _nonfinite_rows(drows, cols)):
            row["status"] = f"skipped: {bad} curve(s) with NaN/inf nodes"
            continue
        if len(used) < min_subjects:
            row["status"] = (f"skipped: {len(used)} subject(s) with both levels < min_subjects = "
                             f"{min_subjects}")
            continue
        # a testable variable: it counts in the family size m from here on
        members.setdefault(fam, []).append(var)
        to_test.setdefault(fam, {})[var] = (ya, yb)
    clusters: list[dict] = []
    for fam, names in members.items():
        m = len(names)
        a_corr = sidak_alpha(alpha, m)
        fam_cols = dict(alpha=a_corr, alpha_family=alpha, alpha_corrected=a_corr, correction="sidak", m=m,
                        family_members=",".join(sorted(names)))
        for var in names:
            rows[var].update(fam_cols)
        curves = to_test.get(fam, {})
        if not curves:
            continue
        # Šidák level for all m members (an untestable member still counts), applied per test
        try:
            summ, clus = spm_family(curves, alpha=a_corr, correction="none", two_tailed=True)
        except ValueError as exc:  # unexpected after the checks above; report, do not crash the run
            for var in curves:
                rows[var]["status"] = f"skipped: spm_family failed: {exc}"
            continue
        for rec in summ.to_dict("records"):
            var = rec.pop("variable")
            rows[var].update({k: rec[k] for k in _SPM_COLUMNS if k in rec})
            rows[var].update(fam_cols)
        for rec in clus.to_dict("records"):
            var = rec["variable"]
            clusters.append(dict(contrast=c.id, dataset=dataset, family=fam, domain=rows[var]["domain"],
                                 level_a=key["level_a"], level_b=key["level_b"], **rec))
    return list(rows.values()), clusters
