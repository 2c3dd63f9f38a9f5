"""Combining published FW vs BW effects with the datasets' own effects.

Three steps, each a function:

* :func:`dataset_effects` turns the pipeline's ``contrasts`` table into one
  Hedges' g (BW − FW) per dataset and measure, from the same summary
  statistics and the same formula as the literature rows
  (:func:`retrogait.analysis.literature.literature_effects`), so every effect
  is on one scale;
* :func:`pool` pools, per measure, studies of one activity (walking, the
  main estimate, or running, never together) and one kind of speed matching
  (FW and BW at the same speed, not at the same speed, or not reported; never
  together), with a random-effects model and a Hartung-Knapp-Sidik-Jonkman
  interval (:func:`retrogait.stats.meta.random_effects`, statsmodels
  ``combine_effects``), only when a stratum has at least 3 studies;
* :func:`retrogait.report.forest.plot_forest` draws one measure's forest plot.

Sign convention everywhere: positive g = larger when walking (or running)
backward than forward.

References
----------
.. [Borenstein2009] Borenstein M, Hedges LV, Higgins JPT, Rothstein HR
   (2009). Introduction to Meta-Analysis. Wiley. Chapter 4 (matched groups).
.. [Follmann1992] Follmann D, Elliott P, Suh I, Cutler J (1992). Variance
   imputation for overviews of clinical trials with continuous response.
   J Clin Epidemiol 45:769-773.
.. [Paule1982] Paule RC, Mandel J (1982). J Res Natl Bur Stand 87:377-385.
.. [HartungKnapp2001] Hartung J, Knapp G (2001). Stat Med 20:1771-1782.
.. [SidikJonkman2002] Sidik K, Jonkman JN (2002). Stat Med 21:3153-3159.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from retrogait.analysis.literature import ACTIVITIES, EFFECT_COLUMNS, SPEED_MATCHED
from retrogait.errors import DataError
from retrogait.stats.meta import POOLED_LABEL, random_effects, smd_from_summary

__all__ = ["dataset_effects", "pool", "speed_matching", "stratum_label", "STUDY_COLUMNS", "POOLED_COLUMNS",
           "EFFECT_COLUMNS", "STRATA", "SPEED_STRATA", "BW_LEVELS", "FW_LEVELS"]

log = logging.getLogger("retrogait.analysis.meta")

#: Columns of the study rows returned by :func:`pool`.
STUDY_COLUMNS = ["measure", "stratum", "activity", "speed_matched", "label", "source", "study", "doi", "contrast",
                 "n", "effect", "var", "se", "ci_low", "ci_high", "weight", "note"]
#: Columns of the pooled rows returned by :func:`pool`.
POOLED_COLUMNS = ["measure", "stratum", "activity", "speed_matched", "label", "source", "effect", "var", "se", "df",
                  "ci_low", "ci_high", "p", "ci_method", "weight", "tau2", "i2", "q", "p_q", "k", "k_literature",
                  "k_dataset", "method", "note"]
#: Activities in plotting order; walking is the main estimate, running is never pooled with it.
STRATA = ACTIVITIES
#: Speed matching in plotting order (``speed_matched`` values); each is its own stratum.
SPEED_STRATA = SPEED_MATCHED
_SPEED_WORDS = {"yes": "speed-matched", "no": "speed not matched", "unknown": "speed matching not reported"}

#: Level names (case-insensitive) read as backward / forward in a contrast.
BW_LEVELS = frozenset({"bw", "backward", "backwards", "retro"})
FW_LEVELS = frozenset({"fw", "forward", "forwards"})

_CONTRAST_COLUMNS = ("contrast", "dataset", "level_a", "level_b", "measure", "unit", "n", "mean_a", "mean_b",
                     "sd_a", "sd_b", "r")
_EFFECT_NEEDED = ("source", "label", "activity", "measure", "g", "var")
_METHOD_NAMES = {"dl": "DerSimonian-Laird", "pm": "Paule-Mandel"}


# --------------------------------------------------------------------------
def _direction_sign(level_a: object, level_b: object) -> int | None:
    """+1 if the contrast is BW − FW, −1 if FW − BW, None if it is not a direction contrast."""
    a, b = str(level_a).strip().lower(), str(level_b).strip().lower()
    if a in BW_LEVELS and b in FW_LEVELS:
        return 1
    if a in FW_LEVELS and b in BW_LEVELS:
        return -1
    return None


def stratum_label(activity: str, speed_matched: str) -> str:
    """``"walking, speed-matched"``, ``"running, speed not matched"``, ..."""
    return f"{activity}, {_SPEED_WORDS.get(speed_matched, speed_matched)}"


def speed_matching(contrast: Mapping[str, object]) -> str:
    """``"yes"`` when a contrast (config mapping) compares its levels at one speed, else ``"no"``.

    Matched: the common filter fixes ``speed_mps`` to one value, or both
    level filters fix it to the same single value. Anything else (levels at
    their own speeds, a speed covariate, speed not filtered) is ``"no"``:
    the paired summary pools the levels' own speeds.
    """
    def one(flt: object) -> float | None:
        if not isinstance(flt, Mapping) or "speed_mps" not in flt:
            return None
        v = flt["speed_mps"]
        vals = list(v) if isinstance(v, (list, tuple)) else [v]
        return float(vals[0]) if len(vals) == 1 else None

    if one(contrast.get("filter")) is not None:
        return "yes"
    lf = contrast.get("level_filters") or {}
    levels = [str(x) for x in contrast.get("levels", [])]
    speeds = [one(lf.get(lv)) for lv in levels]
    if len(speeds) == 2 and None not in speeds and abs(speeds[0] - speeds[1]) < 1e-9:
        return "yes"
    return "no"


def dataset_effects(contrasts: pd.DataFrame, *, contrast_ids: str | Sequence[str],
                    assumed_r: float | None = None,
                    settings: Mapping[str, str] | None = None,
                    speed_matched: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Hedges' g (BW − FW) of each dataset and measure from the contrasts table.

    For each row of ``contrasts`` whose contrast is in ``contrast_ids`` the
    matched-groups g and its variance [Borenstein2009]_ (ch. 4) are computed
    from the row's subject-level summary (``mean_a, sd_a, mean_b, sd_b, n``
    and the observed correlation ``r``) with
    :func:`retrogait.stats.meta.smd_from_summary` (``paired=True``): the
    formula used for the literature, so the pooled scale is consistent (the
    table's own ``g_av`` uses a different standardiser and is not used).

    Parameters
    ----------
    contrasts : pandas.DataFrame
        The pipeline's contrasts results table (``reports/tables/
        contrasts.csv``); needs the columns ``contrast, dataset, level_a,
        level_b, measure, unit, n, mean_a, mean_b, sd_a, sd_b, r``
        (``label``, ``note`` are used when present).
    contrast_ids : str or sequence of str, keyword-only
        Contrasts to take effects from. Only FW vs BW contrasts are used:
        ``level_a``/``level_b`` must be a backward and a forward level
        (:data:`BW_LEVELS`, :data:`FW_LEVELS`, e.g. ``BW``/``FW``). A
        ``FW − BW`` contrast is sign-flipped to ``BW − FW``. Other contrasts
        (e.g. turn vs straight) are skipped with a warning on the
        ``retrogait.analysis.meta`` logger; so are ids with no rows.
    assumed_r : float or None, keyword-only
        Used only for rows whose observed ``r`` is missing or not in
        [-1, 1) (imputation as in [Follmann1992]_; ``r_assumed`` is then
        True). With None such rows get ``g = NaN`` and a note.
    settings : mapping of str to str, optional, keyword-only
        Dataset id → ``treadmill``/``overground`` (the contrasts table does
        not say); default ``unknown``.
    speed_matched : mapping of str to str, optional, keyword-only
        Contrast id → ``yes``/``no``/``unknown`` (:func:`speed_matching` of
        the contrast's config); default ``unknown``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS` (as ``literature_effects``):
        ``source = "dataset"``, ``study = label =`` dataset id,
        ``contrast`` = contrast id, ``activity = "walking"``,
        ``design = "paired"``, ``r`` = the r used. Empty (with these
        columns) when no requested contrast is a FW vs BW contrast.

    Raises
    ------
    retrogait.errors.DataError
        When required columns are missing.
    ValueError
        When two requested contrasts give the same dataset and measure: the
        same participants would enter one pooled estimate twice (choose one
        contrast per dataset, e.g. the speed-matched one).
    """
    missing = [c for c in _CONTRAST_COLUMNS if c not in contrasts.columns]
    if missing:
        raise DataError(f"dataset_effects: contrasts table lacks column(s) {missing}")
    ids = [contrast_ids] if isinstance(contrast_ids, str) else list(contrast_ids)
    if assumed_r is not None and not (-1.0 <= float(assumed_r) < 1.0):
        raise ValueError(f"dataset_effects: assumed_r must be in [-1, 1); got {assumed_r!r}")
    settings = dict(settings or {})
    matched = dict(speed_matched or {})
    z = float(stats.norm.isf(0.025))
    rows: list[dict[str, object]] = []
    seen: dict[tuple[str, str], str] = {}
    for cid in ids:
        sub = contrasts[contrasts["contrast"].astype(str) == str(cid)]
        if sub.empty:
            log.warning("meta-analysis: contrast %r has no rows in the contrasts table; skipped", cid)
            continue
        signs: dict[tuple[str, str, str], int | None] = {}
        for rec in sub.to_dict("records"):
            levels = (str(rec["dataset"]), str(rec["level_a"]), str(rec["level_b"]))
            if levels not in signs:
                signs[levels] = _direction_sign(rec["level_a"], rec["level_b"])
                if signs[levels] is None:
                    log.warning("meta-analysis: contrast %r (dataset %s) compares %r with %r, not backward with "
                                "forward; not pooled", cid, *levels)
            sign = signs[levels]
            if sign is None:
                continue
            dataset, measure = str(rec["dataset"]), str(rec["measure"])
            key = (dataset, measure)
            if key in seen and seen[key] != str(cid):
                raise ValueError(f"dataset_effects: dataset {dataset!r}, measure {measure!r} comes from both "
                                 f"contrast {seen[key]!r} and {cid!r}; the same participants would be pooled "
                                 "twice: pass one FW vs BW contrast per dataset")
            seen[key] = str(cid)
            bw = ("a", "b") if sign == 1 else ("b", "a")
            notes = [f"contrast {cid}" + ("" if sign == 1 else " (FW - BW, sign flipped to BW - FW)")]
            r_obs = pd.to_numeric(pd.Series([rec["r"]]), errors="coerce").iloc[0]
            r_assumed = False
            if np.isfinite(r_obs) and -1.0 <= r_obs < 1.0:
                r = float(r_obs)
                notes.append(f"observed r = {r:.3g}")
            elif assumed_r is not None:
                r, r_assumed = float(assumed_r), True
                notes.append(f"observed r unusable ({rec['r']!r}): assumed r = {r:g}")
            else:
                r = float("nan")
            g = var = float("nan")
            if np.isfinite(r):
                try:
                    n = int(rec["n"])
                    g, var = smd_from_summary(rec[f"mean_{bw[0]}"], rec[f"sd_{bw[0]}"], n,
                                              rec[f"mean_{bw[1]}"], rec[f"sd_{bw[1]}"], n, paired=True, r=r)
                except (TypeError, ValueError) as exc:
                    notes.append(f"not estimable: {exc}")
            else:
                notes.append(f"not estimable: observed r unusable ({rec['r']!r}) and no assumed_r given")
            extra = str(rec.get("note", "") or "").strip()
            if extra and extra.lower() != "nan":
                notes.append(extra)
            se = math.sqrt(var) if np.isfinite(var) else float("nan")
            n_val = pd.to_numeric(pd.Series([rec["n"]]), errors="coerce").iloc[0]
            rows.append(dict(source="dataset", study=dataset, label=dataset, doi="", contrast=str(cid),
                             activity="walking", setting=settings.get(dataset, "unknown"), speed_ms=float("nan"),
                             speed_matched=matched.get(str(cid), "unknown"), design="paired", measure=measure,
                             measure_text=str(rec.get("label", "") or measure), units=rec["unit"],
                             n=int(n_val) if np.isfinite(n_val) else np.nan, g=g, var=var, se=se,
                             ci_low=g - z * se, ci_high=g + z * se, r=r, r_assumed=r_assumed,
                             note="; ".join(notes)))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


# --------------------------------------------------------------------------
def pool(effects: pd.DataFrame, *, method: str = "pm", alpha: float = 0.05,
         min_studies: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random-effects pooling per measure and stratum (activity x speed matching).

    Rows without a ``measure`` are listed nowhere (they are in the effects
    table, not pooled). For each measure, studies are pooled within strata
    that never mix: walking (the main estimate) and running, and within each,
    FW and BW at the same speed (``speed_matched = yes``), not at the same
    speed (``no``) and not reported (``unknown``). Pooling uses
    :func:`retrogait.stats.meta.random_effects` (statsmodels
    ``combine_effects``; Paule-Mandel [Paule1982]_ by default) with the
    Hartung-Knapp-Sidik-Jonkman t interval (k − 1 df) [HartungKnapp2001]_
    [SidikJonkman2002]_. A stratum with fewer than ``min_studies``
    estimable studies is listed but not pooled: with two studies tau² is
    not estimable in any useful sense and a t interval with 1 df is uselessly
    wide.

    Parameters
    ----------
    effects : pandas.DataFrame
        Rows of ``literature_effects`` and/or :func:`dataset_effects`
        (columns ``source, label, activity, measure, g, var``; ``study, doi,
        contrast, n, note, speed_matched`` when present; a missing
        ``speed_matched`` is ``unknown``).
    method : {"pm", "dl"}, keyword-only
        tau² estimator: Paule-Mandel or DerSimonian-Laird.
    alpha : float, keyword-only
        CIs are 100 (1 − alpha) %.
    min_studies : int, keyword-only
        Strata with fewer estimable studies (finite g and var > 0) are not
        pooled (>= 3).

    Returns
    -------
    study_rows : pandas.DataFrame
        Columns :data:`STUDY_COLUMNS`, one row per study in each stratum:
        its own g and normal CI, and its relative random-effects ``weight``
        (NaN when the stratum is not pooled or the study not estimable).
    pooled_rows : pandas.DataFrame
        Columns :data:`POOLED_COLUMNS`, one row per measure and stratum
        that has studies; ``label`` is ``"pooled (random effects)"``,
        ``source = "pooled"``; ``se``, ``df`` (k − 1), ``ci_low``,
        ``ci_high``, ``p`` and ``ci_method`` are the HKSJ ones. When fewer
        than ``min_studies`` are estimable, ``effect`` and its CI are NaN and
        ``note`` starts ``"k=2: not pooled"`` (with the actual k).

    Raises
    ------
    ValueError
        Unknown ``method``, ``min_studies < 3``, an ``activity`` other than
        walking/running, a ``speed_matched`` other than yes/no/unknown, or a
        label repeated within one measure and stratum.
    """
    if method not in _METHOD_NAMES:
        raise ValueError(f"pool: method must be one of {sorted(_METHOD_NAMES)}; got {method!r}")
    if int(min_studies) != min_studies or min_studies < 3:
        raise ValueError(f"pool: min_studies must be an integer >= 3; got {min_studies!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"pool: alpha must be in (0, 1); got {alpha!r}")
    missing = [c for c in _EFFECT_NEEDED if c not in effects.columns]
    if missing:
        raise DataError(f"pool: effects table lacks column(s) {missing}")
    z = float(stats.norm.isf(alpha / 2.0))
    eff = effects.copy()
    eff["measure"] = eff["measure"].fillna("").astype(str).str.strip()
    eff = eff[eff["measure"] != ""]
    if "speed_matched" not in eff.columns:
        eff["speed_matched"] = "unknown"
    eff["speed_matched"] = eff["speed_matched"].fillna("unknown").astype(str).str.strip().str.lower() \
        .replace("", "unknown")
    bad = sorted(set(eff["activity"].astype(str)) - set(STRATA))
    if bad:
        raise ValueError(f"pool: activity must be one of {list(STRATA)}; got {bad}")
    bad = sorted(set(eff["speed_matched"]) - set(SPEED_STRATA))
    if bad:
        raise ValueError(f"pool: speed_matched must be one of {list(SPEED_STRATA)}; got {bad}")
    study_out: list[dict[str, object]] = []
    pooled_out: list[dict[str, object]] = []
    nan_pooled = dict(effect=np.nan, var=np.nan, se=np.nan, df=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan,
                      ci_method="", weight=np.nan, tau2=np.nan, i2=np.nan, q=np.nan, p_q=np.nan)
    for measure in sorted(eff["measure"].unique()):
        for activity in STRATA:
            for matched in SPEED_STRATA:
                sub = eff[(eff["measure"] == measure) & (eff["activity"] == activity)
                          & (eff["speed_matched"] == matched)]
                if sub.empty:
                    continue
                stratum = stratum_label(activity, matched)
                labels = sub["label"].astype(str)
                if labels.duplicated().any():
                    raise ValueError(f"pool: label(s) {sorted(set(labels[labels.duplicated()]))} repeated for "
                                     f"measure {measure!r}, {stratum}: one row per study and measure")
                g = pd.to_numeric(sub["g"], errors="coerce").to_numpy(dtype=float)
                v = pd.to_numeric(sub["var"], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(g) & np.isfinite(v) & (v > 0)
                k = int(ok.sum())
                src = sub["source"].astype(str).to_numpy()
                weights = np.full(len(sub), np.nan)
                base = dict(measure=measure, stratum=stratum, activity=activity, speed_matched=matched,
                            label=POOLED_LABEL, source="pooled", k=k,
                            k_literature=int((ok & (src == "literature")).sum()),
                            k_dataset=int((ok & (src == "dataset")).sum()), method=_METHOD_NAMES[method])
                if k >= min_studies:
                    res = random_effects(g[ok], v[ok], labels=list(labels[ok]), method=method, alpha=alpha,
                                         ci="hksj")
                    weights[ok] = res["weight"].to_numpy()[:-1]
                    p = res.iloc[-1]
                    pooled_out.append({**base, **{c: p[c] for c in ("effect", "var", "se", "df", "ci_low",
                                                                    "ci_high", "p", "ci_method", "weight", "tau2",
                                                                    "i2", "q", "p_q")},
                                       "note": str(p["note"] or "")})
                else:
                    note = f"k={k}: not pooled (fewer than min_studies={int(min_studies)} studies)"
                    pooled_out.append({**base, **nan_pooled, "note": note})
                for i, rec in enumerate(sub.to_dict("records")):
                    se = math.sqrt(v[i]) if ok[i] else np.nan
                    effect = g[i] if ok[i] else np.nan
                    note = str(rec.get("note", "") or "")
                    if not ok[i]:
                        note = "not estimable; " + note if note else "not estimable"
                    study_out.append(dict(measure=measure, stratum=stratum, activity=activity, speed_matched=matched,
                                          label=labels.iloc[i], source=rec["source"],
                                          study=rec.get("study", labels.iloc[i]), doi=rec.get("doi", ""),
                                          contrast=rec.get("contrast", ""), n=rec.get("n", np.nan), effect=effect,
                                          var=v[i] if ok[i] else np.nan, se=se, ci_low=effect - z * se,
                                          ci_high=effect + z * se, weight=weights[i], note=note))
    return (pd.DataFrame(study_out, columns=STUDY_COLUMNS),
            pd.DataFrame(pooled_out, columns=POOLED_COLUMNS))
