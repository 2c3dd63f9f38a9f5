"""Run every configured contrast on every dataset and measure.

For each (contrast, dataset, measure):

* subject means at both levels (kept cycles pooled) and the paired
  analysis on them (:func:`retrogait.stats.paired_summary`: mean difference
  with 95 % CI, paired t and Wilcoxon, Cohen's d_z and Hedges' g_av with CIs);
* a linear mixed model on cycle-level values (level fixed, covariates such as
  speed centred, subject random effect, lme4-equivalent REML fit with
  Satterthwaite df; :func:`retrogait.stats.mixed_model`) with a seeded
  subject-level cluster bootstrap-t CI;
* Holm adjustment [Holm1979]_ within each family and dataset (a family is one
  contrast unless the config declares a grouping), separately for the paired
  t and the mixed model. A measure that is an algebraic function of another
  one in the same comparison (:data:`retrogait.gait.catalog.TIES`: e.g.
  ``pfj_force_peak_n`` of ``pfj_force_peak``, cadence of stride time) is
  reported with ``role = "derived"`` and not counted in the family: the
  question is tested once. Every row says which adjustment its p values and
  CIs carry (``p_adjustment``, ``lmm_p_adjustment``, ``ci_adjustment``).

Subjects lacking one level are excluded from the paired analysis (not from
the mixed model) and listed in the exclusions table with the reason, so the
QC section can say which test each exclusion affected.

References
----------
.. [Holm1979] Holm S (1979). A simple sequentially rejective multiple test
   procedure. Scand J Stat 6:65-70.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from retrogait.analysis.contrasts import Contrast, select_levels, subject_level_pairs
from retrogait.gait.catalog import TIES
from retrogait.stats import holm, mixed_model, paired_summary, tost_paired

__all__ = ["run_contrasts", "RESULT_KEYS", "CI_ADJUSTMENT"]

log = logging.getLogger("retrogait.analysis.discrete")

RESULT_KEYS = ["contrast", "label", "family", "dataset", "factor", "level_a", "level_b", "measure", "unit"]
_PAIRED = ["n", "n_dropped", "mean_a", "mean_b", "sd_a", "sd_b", "r", "mean_diff", "sd_diff", "se_diff",
           "ci_low", "ci_high", "t", "df", "p_t", "w", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high",
           "g_av", "g_av_ci_low", "g_av_ci_high"]
_LMM = ["estimate", "se", "df", "t", "p", "ci_low", "ci_high", "boot_ci_low", "boot_ci_high", "n_boot", "seed",
        "n_obs", "n_subjects", "random_effects", "singular", "converged", "fitter", "se_method", "df_method",
        "boot_method", "sd_subject", "sd_slope", "corr_subject_slope", "sd_residual", "note"]
_LMM_COVARIATE = ("estimate", "se", "df", "ci_low", "ci_high", "p")
_TREADMILL_LENGTH = "belt speed x stride time"
#: What the confidence intervals of the contrasts table are (none is multiplicity-adjusted).
CI_ADJUSTMENT = ("none: per-test intervals (ci_*, dz_ci_*, g_av_ci_*, lmm_ci_*, lmm_boot_ci_* at "
                 "1 - alpha; tost_ci90_* at 1 - 2 alpha)")


def run_contrasts(measures: pd.DataFrame, contrasts: Sequence[Contrast], *, alpha: float = 0.05,
                  n_boot: int = 1000, seed: int = 0, only: Sequence[str] | None = None, workers: int = 1,
                  sesoi: Mapping[str, float] | None = None,
                  crosscheck: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results (one row per contrast x dataset x measure) and subject exclusions.

    Columns of the results: :data:`RESULT_KEYS`, ``n_subjects``,
    ``n_excluded``, the paired columns (``mean_diff``, ``ci_low``, ``dz``,
    ``p_t``, ...), the mixed-model columns prefixed ``lmm_`` and, for each
    covariate, ``lmm_<covariate>_estimate``/``_se``/``_df``/``_ci_low``/``_ci_high``/``_p``,
    then ``role`` (``tested`` or ``derived``), ``tested_as`` (for a derived
    measure: the measure tested instead and the relation), ``p_holm``,
    ``lmm_p_holm``, ``m_family``, ``lmm_m_family`` (tests in the Holm
    family), ``p_adjustment``, ``lmm_p_adjustment`` and ``ci_adjustment``
    (what adjustment the p values and CIs carry, in words).

    Every test uses the same ``seed``, so each is reproducible on its own;
    ``workers`` > 1 runs tests in parallel processes with identical results.
    ``crosscheck`` also fits every mixed model with statsmodels MixedLM
    (:func:`retrogait.stats.mixed_model`'s ``crosscheck``).
    """
    kept = measures[measures["qc_status"] == "kept"]
    if only:
        kept = kept[kept["measure"].isin(list(only))]
    tasks = []
    for c in contrasts:
        for dataset, data in kept.groupby("dataset", sort=True):
            sel = select_levels(data, c)
            if sel.empty or sel["level"].nunique() < 2:
                log.info("contrast %s does not apply to %s (a level has no data)", c.id, dataset)
                continue
            for measure, msel in sel.groupby("measure", sort=True):
                tasks.append((c, dataset, measure, msel))
    kw = dict(alpha=alpha, n_boot=n_boot, seed=seed, sesoi=dict(sesoi or {}), crosscheck=bool(crosscheck))
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_one_task, tasks, [kw] * len(tasks), chunksize=1))
    else:
        done = [_one_task(t, kw) for t in tasks]
    rows = [row for row, _ in done]
    exclusions = [e for _, excl in done for e in excl]
    results = pd.DataFrame(rows)
    if results.empty:
        results = pd.DataFrame(columns=RESULT_KEYS + ["n_subjects", "n_excluded"] + _PAIRED + ["p_holm"])
    else:
        results = _families(results)
        results = results.sort_values(["family", "contrast", "dataset", "measure"], kind="stable",
                                      ignore_index=True)
    excl = pd.DataFrame(exclusions, columns=["contrast", "dataset", "measure", "subject", "missing_level",
                                             "excluded_from", "reason"])
    return results, excl


def _families(results: pd.DataFrame) -> pd.DataFrame:
    """Tied measures marked derived; Holm within (family, dataset) over the tested rows; labels."""
    results = results.copy()
    results["role"] = "tested"
    results["tested_as"] = ""
    for (_, _), idx in results.groupby(["contrast", "dataset"]).groups.items():
        sub = results.loc[idx]
        present = set(sub["measure"])
        for tie in TIES:
            if tie.measure not in present or tie.primary not in present:
                continue
            i = sub.index[sub["measure"] == tie.measure][0]
            if tie.condition == "one_treadmill_speed" and not bool(results.at[i, "_one_treadmill_speed"]):
                continue
            results.at[i, "role"] = "derived"
            results.at[i, "tested_as"] = f"{tie.primary} ({tie.relation})"
    results = results.drop(columns=["_one_treadmill_speed"])
    results["p_holm"] = np.nan
    results["lmm_p_holm"] = np.nan
    results["m_family"] = 0
    results["lmm_m_family"] = 0
    results["p_adjustment"] = ""
    results["lmm_p_adjustment"] = ""
    tested = results["role"] == "tested"
    for (family, dataset), idx in results[tested].groupby(["family", "dataset"]).groups.items():
        for col, adj, m_col, label in (("p_t", "p_holm", "m_family", "p_adjustment"),
                                       ("lmm_p", "lmm_p_holm", "lmm_m_family", "lmm_p_adjustment")):
            p = results.loc[idx, col].to_numpy(dtype=float)
            m = int(np.isfinite(p).sum())
            results.loc[idx, adj] = holm(p)
            results.loc[idx, m_col] = m
            contrasts = sorted(set(results.loc[idx, "contrast"]))
            results.loc[idx, label] = (f"Holm over {m} test(s): family '{family}' (contrast(s) "
                                       f"{', '.join(contrasts)}) in dataset {dataset}")
    derived = ~tested
    results.loc[derived, "p_adjustment"] = ("none: derived measure, not in the family (tested as "
                                            + results.loc[derived, "tested_as"] + ")")
    results.loc[derived, "lmm_p_adjustment"] = results.loc[derived, "p_adjustment"]
    results["ci_adjustment"] = CI_ADJUSTMENT
    return results


def _one_task(task: tuple, kw: dict) -> tuple[dict, list[dict]]:
    c, dataset, measure, sel = task
    return _one(c, dataset, measure, sel, **kw)


def _one(c: Contrast, dataset: str, measure: str, sel: pd.DataFrame, *, alpha: float, n_boot: int,
         seed: int, sesoi: Mapping[str, float], crosscheck: bool) -> tuple[dict, list[dict]]:
    unit = str(sel["unit"].iloc[0])
    row: dict = {"contrast": c.id, "label": c.label, "family": c.family, "dataset": dataset, "factor": c.factor,
                 "level_a": str(c.levels[0]), "level_b": str(c.levels[1]), "measure": measure, "unit": unit}
    pairs, missing = subject_level_pairs(sel)
    exclusions = []
    for subject in missing:
        have = set(sel.loc[sel["subject"] == subject, "level"])
        lack = str(c.levels[1]) if "a" in have else str(c.levels[0])
        exclusions.append({"contrast": c.id, "dataset": dataset, "measure": measure, "subject": subject,
                           "missing_level": lack, "excluded_from": "paired analysis (kept in mixed model)",
                           "reason": f"no kept cycle at {c.factor} = {lack}"})
    row["n_subjects"] = int(len(pairs))
    row["n_excluded"] = len(missing)
    if len(pairs) >= 2:
        paired = paired_summary(pairs["a"].to_numpy(), pairs["b"].to_numpy(), alpha=alpha).iloc[0].to_dict()
    else:
        paired = {k: np.nan for k in _PAIRED}
        paired["n"] = len(pairs)
    row.update({k: paired.get(k, np.nan) for k in _PAIRED})
    # the paired test's caveats (constant differences, undefined g_av, intervals not computed)
    row["paired_note"] = str(paired.get("note") or "") if len(pairs) >= 2 else "fewer than 2 complete pairs"
    if measure in sesoi:
        row.update(_tost(pairs, sesoi[measure], alpha=alpha))
    row.update(_mixed(c, sel, alpha=alpha, n_boot=n_boot, seed=seed, crosscheck=crosscheck))
    methods = sel["method"].fillna("").astype(str) if "method" in sel.columns else pd.Series([""])
    speeds = pd.to_numeric(sel["speed_mps"], errors="coerce") if "speed_mps" in sel.columns else pd.Series([np.nan])
    row["_one_treadmill_speed"] = bool((methods == _TREADMILL_LENGTH).all() and speeds.notna().all()
                                       and speeds.nunique() == 1)
    return row, exclusions


def _tost(pairs: pd.DataFrame, bound: float, *, alpha: float) -> dict:
    out = {"sesoi": float(bound), "tost_p": np.nan, "tost_ci90_low": np.nan, "tost_ci90_high": np.nan,
           "equivalent": False}
    if len(pairs) < 2:
        return out
    t = tost_paired(pairs["a"].to_numpy(), pairs["b"].to_numpy(), low=-bound, upp=bound, alpha=alpha).iloc[0]
    out.update(tost_p=float(t["p_tost"]), tost_ci90_low=float(t["ci90_low"]), tost_ci90_high=float(t["ci90_high"]),
               equivalent=bool(t["equivalent"]))
    return out


def _mixed(c: Contrast, sel: pd.DataFrame, *, alpha: float, n_boot: int, seed: int, crosscheck: bool) -> dict:
    out = {f"lmm_{k}": np.nan for k in _LMM}
    covariates = [cv for cv in c.covariates if cv in sel.columns and sel[cv].notna().all()]
    if set(c.covariates) - set(covariates):
        out["lmm_note"] = f"covariate(s) {sorted(set(c.covariates) - set(covariates))} missing: not used"
    if sel["subject"].nunique() < 3:
        out["lmm_note"] = "fewer than 3 subjects: mixed model not fitted"
        return out
    try:
        fit = mixed_model(sel, value="value", factor="level", levels=("a", "b"), subject="subject",
                          covariates=covariates, alpha=alpha, n_boot=n_boot, seed=seed, crosscheck=crosscheck)
    except (ValueError, np.linalg.LinAlgError) as exc:
        out["lmm_note"] = f"mixed model not fitted: {exc}"
        return out
    main = fit[fit["term"] == "level"]
    if len(main):
        out.update({f"lmm_{k}": main.iloc[0][k] for k in _LMM if k in main.columns})
    for cv in covariates:
        r = fit[fit["term"] == f"{cv}_c"]
        if len(r):
            for k in _LMM_COVARIATE:
                out[f"lmm_{cv}_{k}"] = r.iloc[0][k]
    return out
