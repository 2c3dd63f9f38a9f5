"""Subjects tables: body mass and height per subject, from a CSV file.

A subjects table is how a dataset supplies what its raw files do not hold
(body mass from the lab sheet): a CSV with the columns ``subject``,
``mass_kg`` and optionally ``height_m`` and ``source`` (where the number
comes from, shown in the report's QC section).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from retrogait.errors import ConfigError

__all__ = ["read_subjects_table"]


def read_subjects_table(path: str | os.PathLike, *, name: str | None = None) -> pd.DataFrame:
    """Read a subjects table; return it indexed by ``subject``.

    Parameters
    ----------
    path : path-like
        The CSV file.
    name : str, optional, keyword-only
        How to name the file in messages (default: ``path``).

    Returns
    -------
    pandas.DataFrame
        Index ``subject`` (str); columns ``mass_kg`` [kg], ``height_m`` [m]
        (NaN where blank) and ``source`` (str, empty where blank).

    Raises
    ------
    ConfigError
        Missing file or columns, duplicate subjects, non-numeric values.
    """
    name = name or str(path)
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"subjects table {name} not found")
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", dtype={"subject": str})
    except Exception as exc:  # pandas raises several parser errors
        raise ConfigError(f"{name}: cannot read the subjects table: {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("subject", "mass_kg") if c not in table.columns]
    if missing:
        raise ConfigError(f"{name}: missing column(s) {missing}; expected subject,mass_kg[,height_m,source]")
    table["subject"] = table["subject"].astype(str).str.strip()
    dupes = sorted(table.loc[table["subject"].duplicated(), "subject"].unique())
    if dupes:
        raise ConfigError(f"{name}: duplicate subject id(s) {dupes}")
    for col in ("mass_kg", "height_m"):
        if col not in table.columns:
            table[col] = np.nan
        values = pd.to_numeric(table[col], errors="coerce")
        bad = table.loc[values.isna() & table[col].notna(), "subject"].tolist()
        if bad:
            raise ConfigError(f"{name}: non-numeric {col} for subject(s) {bad}")
        table[col] = values.astype(float)
    if "source" not in table.columns:
        table["source"] = ""
    table["source"] = table["source"].fillna("").astype(str)
    return table.set_index("subject")[["mass_kg", "height_m", "source"]]
