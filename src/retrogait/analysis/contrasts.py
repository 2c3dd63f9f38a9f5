"""Contrasts declared in config: which cycles form each level of a comparison.

A contrast names a factor (a trial column such as ``direction`` or
``condition``), two levels ``[a, b]`` (the effect is a - b, within
subjects), an optional filter applied to both levels, optional per-level
filters (e.g. each direction at its own speed) and covariates. It applies
to every dataset that has data at both levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Contrast", "select_levels", "subject_level_pairs"]

_SPEED_TOL = 1e-6


@dataclass(frozen=True)
class Contrast:
    """A within-subject comparison ``levels[0] - levels[1]`` of ``factor``."""

    id: str
    factor: str
    levels: tuple[Any, Any]
    label: str = ""
    filter: Mapping[str, Any] = field(default_factory=dict)
    level_filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    covariates: tuple[str, ...] = ()
    family: str = ""
    #: which estimate answers the contrast: "paired" or "mixed" ("" = mixed with covariates, else paired)
    primary: str = ""

    def __post_init__(self) -> None:
        if not self.family:  # one multiplicity family per contrast unless a grouping is declared
            object.__setattr__(self, "family", self.id)
        if not self.primary:  # paired for a matched design; a covariate needs the mixed model
            object.__setattr__(self, "primary", "mixed" if self.covariates else "paired")
        if self.primary not in ("paired", "mixed"):
            raise ValueError(f"contrast {self.id}: primary must be 'paired' or 'mixed', not {self.primary!r} "
                             "(config key stats.contrasts[].primary)")
        if self.primary == "paired" and self.covariates:
            raise ValueError(f"contrast {self.id}: primary 'paired' ignores its covariates "
                             f"{', '.join(self.covariates)}; use primary: mixed (config key "
                             "stats.contrasts[].primary)")

    @classmethod
    def from_config(cls, c: Mapping[str, Any]) -> "Contrast":
        return cls(id=c["id"], factor=c.get("factor", "direction"), levels=tuple(c["levels"]),
                   label=c.get("label") or c["id"], filter=dict(c.get("filter", {})),
                   level_filters={str(k): dict(v) for k, v in c.get("level_filters", {}).items()},
                   covariates=tuple(c.get("covariates", ())), family=c.get("family") or c["id"],
                   primary=c.get("primary") or "")

    def describe(self) -> str:
        parts = [f"{self.factor}: {self.levels[0]} - {self.levels[1]}"]
        if self.filter:
            parts.append("where " + ", ".join(f"{k} = {v}" for k, v in self.filter.items()))
        for lvl, flt in self.level_filters.items():
            parts.append(f"{lvl} at " + ", ".join(f"{k} = {v}" for k, v in flt.items()))
        if self.covariates:
            parts.append("covariates: " + ", ".join(self.covariates))
        return "; ".join(parts)


def _matches(df: pd.DataFrame, flt: Mapping[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for col, want in flt.items():
        values = want if isinstance(want, Sequence) and not isinstance(want, str) else [want]
        if col == "speed_mps":
            col_values = df[col].to_numpy(dtype=float)
            hit = np.zeros(len(df), dtype=bool)
            for v in values:
                hit |= np.abs(col_values - float(v)) < _SPEED_TOL
            mask &= hit
        else:
            mask &= df[col].astype(str).isin([str(v) for v in values])
    return mask


def _is_level(df: pd.DataFrame, factor: str, level: Any) -> pd.Series:
    return _matches(df, {factor: level})


def select_levels(rows: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Rows (cycles or measures) belonging to either level, with a ``level`` column ("a"/"b")."""
    base = rows[_matches(rows, contrast.filter)] if contrast.filter else rows
    parts = []
    for tag, level in zip(("a", "b"), contrast.levels):
        mask = _is_level(base, contrast.factor, level)
        extra = contrast.level_filters.get(str(level))
        if extra:
            mask &= _matches(base, extra)
        parts.append(base[mask].assign(level=tag, level_value=str(level)))
    return pd.concat(parts, ignore_index=True)


def subject_level_pairs(selected: pd.DataFrame, *, value: str = "value") -> tuple[pd.DataFrame, list[str]]:
    """Per-subject means at each level (cycles pooled) and subjects missing a level.

    Returns
    -------
    pairs
        Columns ``subject, a, b, n_a, n_b`` for subjects with data at both levels.
    missing
        Subjects that have data at only one level (excluded from paired tests).
    """
    g = selected.groupby(["subject", "level"])[value].agg(["mean", "count"]).unstack("level")
    for tag in ("a", "b"):
        if ("mean", tag) not in g.columns:
            g[("mean", tag)] = np.nan
            g[("count", tag)] = 0
    pairs = pd.DataFrame({"subject": g.index, "a": g[("mean", "a")].to_numpy(), "b": g[("mean", "b")].to_numpy(),
                          "n_a": g[("count", "a")].fillna(0).astype(int).to_numpy(),
                          "n_b": g[("count", "b")].fillna(0).astype(int).to_numpy()})
    complete = pairs["a"].notna() & pairs["b"].notna()
    missing = sorted(pairs.loc[~complete, "subject"].astype(str))
    return pairs[complete].reset_index(drop=True), missing
