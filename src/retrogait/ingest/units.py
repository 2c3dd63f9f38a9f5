"""Unit conversion to the SI units used in every canonical table.

Canonical units (ASCII spellings used in tables and parquet metadata):

========================  ==========
quantity                  unit
========================  ==========
joint angle               ``deg``
length, position          ``m``
force                     ``N``
joint moment (mass-norm)  ``N.m/kg``
moment (absolute)         ``N.m``
EMG (raw)                 ``V``
time                      ``s``
========================  ==========

Joint angles are kept in degrees (not radians) because every knee-load
polynomial in the literature takes degrees (docs/methods.md §0.2).
Body-weight normalisation uses g = 9.81 m/s^2 (docs/methods.md §0.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "G",
    "Conversion",
    "normalise_unit",
    "conversion_to_si",
    "to_si",
    "moment_to_per_kg",
]

#: Standard gravity used for body-weight normalisation [m/s^2].
G = 9.81


@dataclass(frozen=True)
class Conversion:
    """Multiply by ``factor`` to express a value in ``unit``."""

    factor: float
    unit: str
    per_kg: bool  # True when ``unit`` is already normalised to body mass


# Keys are normalised spellings (see normalise_unit).
_TABLE: dict[str, Conversion] = {
    # angles
    "deg": Conversion(1.0, "deg", False),
    "rad": Conversion(180.0 / np.pi, "deg", False),
    # lengths
    "m": Conversion(1.0, "m", False),
    "cm": Conversion(1e-2, "m", False),
    "mm": Conversion(1e-3, "m", False),
    # forces
    "N": Conversion(1.0, "N", False),
    "kN": Conversion(1e3, "N", False),
    "N/kg": Conversion(1.0, "N/kg", True),
    # moments
    "N.m": Conversion(1.0, "N.m", False),
    "N.mm": Conversion(1e-3, "N.m", False),
    "N.m/kg": Conversion(1.0, "N.m/kg", True),
    "N.mm/kg": Conversion(1e-3, "N.m/kg", True),
    # electrical (EMG)
    "V": Conversion(1.0, "V", False),
    "mV": Conversion(1e-3, "V", False),
    "uV": Conversion(1e-6, "V", False),
    # time
    "s": Conversion(1.0, "s", False),
    "ms": Conversion(1e-3, "s", False),
}

_ALIASES = {
    "degrees": "deg", "degree": "deg", "°": "deg",
    "radians": "rad", "radian": "rad",
    "nmm": "N.mm", "n.mm": "N.mm", "nm": "N.m", "n.m": "N.m",
    "nmm/kg": "N.mm/kg", "n.mm/kg": "N.mm/kg", "nm/kg": "N.m/kg", "n.m/kg": "N.m/kg",
    "newton": "N", "n": "N", "kn": "kN", "n/kg": "N/kg",
    "volt": "V", "volts": "V", "v": "V", "mv": "mV", "uv": "uV", "µv": "uV", "μv": "uV",
    "mm": "mm", "cm": "cm", "m": "m", "meter": "m", "metre": "m",
    "sec": "s", "seconds": "s", "ms": "ms",
}


def normalise_unit(unit: str) -> str:
    """Return the canonical spelling of ``unit`` (``'Nmm/kg'`` -> ``'N.mm/kg'``).

    Raises
    ------
    ValueError
        If the unit is not known.
    """
    raw = str(unit).strip()
    key = re.sub(r"\s+", "", raw).replace("·", ".").replace("*", ".")
    if key in _TABLE:
        return key
    lowered = key.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    raise ValueError(f"unknown unit {unit!r}; known units: {sorted(_TABLE)}")


def conversion_to_si(unit: str) -> Conversion:
    """Conversion from ``unit`` to its canonical SI unit."""
    return _TABLE[normalise_unit(unit)]


def to_si(values: np.ndarray, unit: str) -> tuple[np.ndarray, str]:
    """Convert ``values`` given in ``unit`` to the canonical unit.

    Examples
    --------
    >>> to_si(np.array([500.0]), "Nmm/kg")
    (array([0.5]), 'N.m/kg')
    """
    conv = conversion_to_si(unit)
    return np.asarray(values, dtype=float) * conv.factor, conv.unit


def moment_to_per_kg(values: np.ndarray, unit: str, mass_kg: float | None) -> np.ndarray:
    """Express a joint moment in N.m/kg.

    Moments already normalised to body mass (``N.mm/kg``, ``N.m/kg``) are only
    rescaled; absolute moments (``N.mm``, ``N.m``) are divided by ``mass_kg``.

    Raises
    ------
    ValueError
        If the moment is absolute and no positive body mass is given.
    """
    conv = conversion_to_si(unit)
    if conv.unit not in {"N.m", "N.m/kg"}:
        raise ValueError(f"{unit!r} is not a moment unit")
    out = np.asarray(values, dtype=float) * conv.factor
    if conv.per_kg:
        return out
    if mass_kg is None or not np.isfinite(mass_kg) or mass_kg <= 0:
        raise ValueError(f"moment given in {unit!r} needs a positive body mass to normalise, got {mass_kg!r}")
    return out / mass_kg
