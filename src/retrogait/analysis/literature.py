"""Published group means and SDs of forward (FW) vs backward (BW) locomotion.

This is the ``summary`` adapter of the meta-analysis. Unlike the trial
adapters of this package it reads no recordings and is not registered with
:func:`~retrogait.ingest.adapters.register`: it turns the curated literature table
``data/raw/literature/fw_bw_summary.csv`` (see the README next to it) into
standardised mean differences that can be pooled with the subject-level
datasets' own effects (:mod:`retrogait.analysis.meta`).

* :func:`read_literature` reads and validates the table up front; every
  problem raises :class:`~retrogait.errors.DataError` naming the file, the
  line (1-based, header = line 1) and the study.
* :func:`literature_effects` computes Hedges' g (BW − FW) and its variance
  per row with :func:`retrogait.stats.meta.smd_from_summary`.

References
----------
.. [Borenstein2009] Borenstein M, Hedges LV, Higgins JPT, Rothstein HR
   (2009). Introduction to Meta-Analysis. Wiley. Chapter 4 (effect sizes
   based on means: independent and matched groups).
.. [Follmann1992] Follmann D, Elliott P, Suh I, Cutler J (1992). Variance
   imputation for overviews of clinical trials with continuous response.
   J Clin Epidemiol 45:769-773.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from retrogait.errors import DataError
from retrogait.gait.catalog import describe
from retrogait.stats.meta import smd_from_summary

__all__ = ["read_literature", "literature_effects", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "EFFECT_COLUMNS",
           "ACTIVITIES", "DESIGNS", "SETTINGS", "SPEED_MATCHED", "DEFAULT_PATH"]

#: Where the committed literature table lives, relative to the project root.
DEFAULT_PATH = "data/raw/literature/fw_bw_summary.csv"

#: Columns every literature table must have (others are kept as they are).
REQUIRED_COLUMNS = ("study", "doi", "year", "n", "design", "activity", "setting", "speed_ms", "measure_text",
                    "measure", "units", "fw_mean", "fw_sd", "bw_mean", "bw_sd", "source_location", "notes")
#: Optional columns: a short plot label, group sizes of independent designs, why a measure was (not) mapped,
#: whether FW and BW were walked (run) at the same speed (``yes``/``no``/``unknown``; blank = unknown).
OPTIONAL_COLUMNS = ("label", "n_fw", "n_bw", "mapping_note", "speed_matched")
#: Values of ``speed_matched``: the meta-analysis pools each value in its own stratum.
SPEED_MATCHED = ("yes", "no", "unknown")

ACTIVITIES = ("walking", "running")
#: ``paired`` = within-subject (the same participants in both directions); ``within-subject`` is read as ``paired``.
DESIGNS = ("paired", "independent")
_DESIGN_ALIASES = {"paired": "paired", "within-subject": "paired", "independent": "independent"}
SETTINGS = ("treadmill", "overground", "unknown")

#: Columns of :func:`literature_effects` (and of ``retrogait.analysis.meta.dataset_effects``).
EFFECT_COLUMNS = ["source", "study", "label", "doi", "contrast", "activity", "setting", "speed_ms", "speed_matched",
                  "design", "measure", "measure_text", "units", "n", "g", "var", "se", "ci_low", "ci_high", "r",
                  "r_assumed", "note"]



def _fail(path: str, line: int | None, study: str | None, problem: str) -> DataError:
    where = f"{path}"
    if line is not None:
        where += f", line {line}"
    if study:
        where += f" (study {study!r})"
    return DataError(f"{where}: {problem}")


def _number(text: str, *, name: str, path: str, line: int, study: str, blank_ok: bool = False,
            positive: bool = False, integer: bool = False, minimum: float | None = None) -> float:
    text = text.strip()
    if not text:
        if blank_ok:
            return float("nan")
        raise _fail(path, line, study, f"{name} is blank; a number is required")
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, line, study, f"{name} must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise _fail(path, line, study, f"{name} must be finite; got {text!r}")
    if positive and value <= 0:
        raise _fail(path, line, study, f"{name} must be > 0; got {text!r}")
    if integer and value != int(value):
        raise _fail(path, line, study, f"{name} must be a whole number; got {text!r}")
    if minimum is not None and value < minimum:
        raise _fail(path, line, study, f"{name} must be >= {minimum:g}; got {text!r}")
    return value


def read_literature(path: str | os.PathLike = DEFAULT_PATH) -> pd.DataFrame:
    """Read and validate the curated FW vs BW literature table.

    Every row must be usable for a standardised mean difference: FW and BW
    means and SDs and the sample size are all present. The whole file is
    checked before anything is returned.

    Parameters
    ----------
    path : str or path-like
        CSV with the columns :data:`REQUIRED_COLUMNS` (UTF-8, one header
        line, no line breaks inside fields). Optional columns
        :data:`OPTIONAL_COLUMNS`: ``label`` (short study label for plots;
        defaults to ``study``), ``n_fw``/``n_bw`` (group sizes, required when
        ``design`` is ``independent``), ``mapping_note``.

    Returns
    -------
    pandas.DataFrame
        One row per data line, in file order, with a ``line`` column (the
        line number in the file). Numeric columns are floats (``n`` is an
        int), ``speed_ms``/``n_fw``/``n_bw`` are NaN when blank, ``measure``
        is ``""`` when no retrogait measure maps, ``design`` is
        ``paired``/``independent``.

    Raises
    ------
    retrogait.errors.DataError
        Naming the file, the line (header = line 1) and the study when: the
        file is missing or empty; a required column is missing; a mean is not
        a finite number; an SD is not > 0; ``n`` is not a whole number >= 2
        (paired) or ``n_fw``/``n_bw`` are missing for an independent design
        (``n`` must then equal ``n_fw + n_bw``); ``activity`` is not
        walking/running; ``design`` or ``setting`` is not a known value;
        ``speed_ms`` is not blank or > 0; ``measure`` is neither blank nor a
        known retrogait measure (:func:`retrogait.gait.catalog.describe`); or
        one study maps the same measure twice for one activity (the same
        participants would count twice in a pooled estimate).
    """
    p = str(path)
    if not Path(p).is_file():
        raise _fail(p, None, None, "literature table not found")
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise _fail(p, None, None, "file is empty (no header line)") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            # the header is not echoed: a file that fails validation may not be a literature table at all
            raise _fail(p, 1, None, f"missing required column(s) {missing} in the header line "
                                    f"({len(header)} field(s)); the required columns are {list(REQUIRED_COLUMNS)}")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise _fail(p, 1, None, f"duplicated column(s) {dupes}")
        records: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            study = cells[header.index("study")].strip() if len(cells) > header.index("study") else ""
            if len(cells) != len(header):
                raise _fail(p, line, study, f"{len(cells)} fields, header has {len(header)}")
            records.append((line, dict(zip(header, cells))))
    if not records:
        raise _fail(p, None, None, "no data rows")

    rows = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, rec in records:
        study = rec["study"].strip()
        if not study:
            raise _fail(p, line, None, "study is blank")
        kw = dict(path=p, line=line, study=study)
        row: dict[str, object] = {k: v.strip() for k, v in rec.items()}
        row["line"] = line
        design = _DESIGN_ALIASES.get(rec["design"].strip().lower())
        if design is None:
            raise _fail(p, line, study, f"design must be one of {sorted(_DESIGN_ALIASES)}; got {rec['design']!r}")
        row["design"] = design
        activity = rec["activity"].strip().lower()
        if activity not in ACTIVITIES:
            raise _fail(p, line, study, f"activity must be one of {list(ACTIVITIES)}; got {rec['activity']!r}")
        row["activity"] = activity
        setting = rec["setting"].strip().lower()
        if setting not in SETTINGS:
            raise _fail(p, line, study, f"setting must be one of {list(SETTINGS)}; got {rec['setting']!r}")
        row["setting"] = setting
        matched = str(rec.get("speed_matched", "") or "").strip().lower() or "unknown"
        if matched not in SPEED_MATCHED:
            raise _fail(p, line, study, f"speed_matched must be one of {list(SPEED_MATCHED)} or blank; "
                                        f"got {rec.get('speed_matched')!r}")
        row["speed_matched"] = matched
        for name in ("fw_mean", "bw_mean"):
            row[name] = _number(rec[name], name=name, **kw)
        for name in ("fw_sd", "bw_sd"):
            row[name] = _number(rec[name], name=name, positive=True, **kw)
        row["speed_ms"] = _number(rec["speed_ms"], name="speed_ms", blank_ok=True, positive=True, **kw)
        row["year"] = _number(rec["year"], name="year", integer=True, minimum=1800, **kw)
        n = _number(rec["n"], name="n", integer=True, minimum=2, **kw)
        row["n"] = int(n)
        for name in ("n_fw", "n_bw"):
            row[name] = _number(rec.get(name, ""), name=name, blank_ok=True, integer=True, minimum=2, **kw)
        if design == "independent":
            if not (np.isfinite(row["n_fw"]) and np.isfinite(row["n_bw"])):
                raise _fail(p, line, study, "independent design needs n_fw and n_bw (the two group sizes)")
            if row["n_fw"] + row["n_bw"] != n:
                raise _fail(p, line, study, f"n ({int(n)}) must equal n_fw + n_bw "
                                            f"({int(row['n_fw'])} + {int(row['n_bw'])})")
        measure = rec["measure"].strip()
        if measure:
            try:
                describe(measure)
            except KeyError:
                raise _fail(p, line, study, f"measure {measure!r} is not a retrogait measure "
                                            "(leave it blank when none maps)") from None
            key = (study, activity, measure)
            if key in seen:
                raise _fail(p, line, study, f"measure {measure!r} ({activity}) is already mapped on line "
                                            f"{seen[key]}: the same participants would be pooled twice")
            seen[key] = line
        row["measure"] = measure
        if not str(row.get("label", "")).strip():
            row["label"] = study
        row.setdefault("mapping_note", "")
        rows.append(row)
    out = pd.DataFrame(rows)
    out["year"] = out["year"].astype(int)
    lead = ["line", *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    return out[[c for c in lead if c in out.columns] + [c for c in out.columns if c not in lead]]


def literature_effects(table: pd.DataFrame, *, assumed_r: float = 0.5) -> pd.DataFrame:
    """Hedges' g (BW − FW) and its sampling variance for every literature row.

    Paired (within-subject) designs use the matched-groups formulas of
    [Borenstein2009]_ (ch. 4): the mean difference standardised by the
    within-condition SD ``sqrt((sd_bw^2 + sd_fw^2) / 2)`` and the variance
    ``(1/n + d^2/(2n)) * 2(1 - r)``, times Hedges' J. Papers do not publish
    the correlation r between a participant's FW and BW values, so
    ``assumed_r`` is imputed [Follmann1992]_: g does not depend on r, its
    variance (hence the study's weight and CI) does; larger r gives a
    smaller variance. Independent designs use the independent-groups
    formulas (pooled SD, variance ``(n1 + n2)/(n1 n2) + d^2/(2(n1 + n2))``)
    and need no r. The computation is
    :func:`retrogait.stats.meta.smd_from_summary`, the same as for the
    datasets' own effects, so all effects are on one scale.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`read_literature`.
    assumed_r : float, keyword-only
        Imputed FW-BW correlation for paired designs, in [-1, 1). Default
        0.5, a common choice; rerun with e.g. 0.3 and 0.8 to see how much the
        pooled CI depends on it.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS`, one row per input row (mapped or
        not): ``source = "literature"``, ``g`` (BW − FW), ``var``, ``se``,
        ``ci_low``/``ci_high`` (normal 95 % interval), ``r`` (the r used;
        NaN for independent designs), ``r_assumed`` (True when r was
        imputed) and ``note`` (assumption, mapping note).
    """
    from scipy import stats  # lazy: the workflow imports this module at parse time

    z95 = float(stats.norm.isf(0.025))
    needed = ["study", "doi", "activity", "setting", "speed_ms", "design", "measure", "measure_text", "units",
              "n", "fw_mean", "fw_sd", "bw_mean", "bw_sd"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"literature_effects: table lacks column(s) {missing}; read it with read_literature()")
    if not (-1.0 <= float(assumed_r) < 1.0):
        raise ValueError(f"literature_effects: assumed_r must be in [-1, 1); got {assumed_r!r}")
    rows = []
    for rec in table.to_dict("records"):
        paired = rec["design"] == "paired"
        if paired:
            n1 = n2 = int(rec["n"])
            g, var = smd_from_summary(rec["bw_mean"], rec["bw_sd"], n1, rec["fw_mean"], rec["fw_sd"], n2,
                                      paired=True, r=float(assumed_r))
            r, r_assumed = float(assumed_r), True
            note = f"paired, r not published: assumed r = {float(assumed_r):g} (Follmann et al. 1992)"
        else:
            n1, n2 = int(rec["n_bw"]), int(rec["n_fw"])
            g, var = smd_from_summary(rec["bw_mean"], rec["bw_sd"], n1, rec["fw_mean"], rec["fw_sd"], n2)
            r, r_assumed = float("nan"), False
            note = "independent groups"
        mapping = str(rec.get("mapping_note", "") or "").strip()
        if mapping:
            note += f"; {mapping}"
        se = math.sqrt(var)
        label = str(rec.get("label", "") or "").strip() or rec["study"]
        rows.append(dict(source="literature", study=rec["study"], label=label, doi=rec["doi"], contrast="",
                         activity=rec["activity"], setting=rec["setting"], speed_ms=rec["speed_ms"],
                         speed_matched=rec.get("speed_matched", "unknown") or "unknown",
                         design=rec["design"], measure=rec["measure"] or "", measure_text=rec["measure_text"],
                         units=rec["units"], n=int(rec["n"]), g=g, var=var, se=se, ci_low=g - z95 * se,
                         ci_high=g + z95 * se, r=r, r_assumed=r_assumed, note=note))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)
