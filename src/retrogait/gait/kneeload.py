"""Knee load: patellofemoral joint model, KAM and vGRF summaries, tibiofemoral proxies.

Implements docs/methods.md sections 1-3:

* Patellofemoral joint (PFJ) reaction force and stress from the internal
  knee extensor moment and knee flexion angle (torque-driven model of the
  Brechter & Powers / Ho / Wirtz / Willson lineage; docs/methods.md §1.1):
  ``Fq = M / MA_q(x)``, ``PFJRF = k(x) * Fq``, ``stress = PFJRF / CA(x)``.
  Coefficient sets are named, carry their reference and verification
  status, and the set used is recorded through :class:`PFJModel`.
* Knee adduction moment (KAM) peaks and impulse over one stance
  (docs/methods.md §2.4); a quasi-static lever-arm KAM *estimate* (docs/methods.md §2.3).
* The external-load medial tibiofemoral proxy ``F/2 + KAM/d``
  (OpenCap ``computeMCF``, Lerner 2015; docs/methods.md §3.1) -- never a contact force.
* Vertical GRF peaks and loading rate; moment peaks and impulses.
* Sagittal knee power ``P = -M_ext * d(theta)/dt`` (:func:`knee_power`,
  defined with the canonical sign conventions in :mod:`retrogait.ingest.physics`
  and re-exported here; docs/methods.md §0.4).

Conventions (docs/methods.md §0.2; :mod:`retrogait.ingest.trial`): knee flexion in
degrees, flexion positive; internal knee extensor moment positive; external
KAM positive (varus); N, m, N.m; body weight BW = m * 9.81 N.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.polynomial import polynomial as P

from retrogait._lazy import lazy_module
from retrogait.config import dataclass_options
from retrogait.errors import ConfigError
from retrogait.ingest.physics import knee_power
from retrogait.ingest.units import G

integrate = lazy_module("scipy.integrate")  # imported on first use

__all__ = [
    "Poly",
    "K_RATIO",
    "QUAD_MOMENT_ARM",
    "CONTACT_AREA",
    "PFJModel",
    "DEFAULT_PFJ_MODEL",
    "k_ratio",
    "quadriceps_moment_arm_m",
    "contact_area_mm2",
    "pfj_load",
    "kam_summary",
    "KAM_LEVER_ARM_DESCRIPTION",
    "kam_lever_arm",
    "MEDIAL_PROXY_DESCRIPTION",
    "medial_contact_proxy",
    "LOADING_RATE_METHODS",
    "vgrf_summary",
    "vgrf_peaks",
    "VGRF_MIN_PROMINENCE_BW",
    "moment_summary",
    "to_body_weight",
    "to_percent_bw_ht",
    "knee_power",
]


# --------------------------------------------------------------------------
# named coefficient sets

@dataclass(frozen=True, kw_only=True)
class Poly:
    """A named polynomial or rational function of knee flexion x [deg].

    ``f(x) = polyval(x, numerator) / polyval(x, denominator)`` with
    coefficients in ASCENDING powers of x (``c0 + c1*x + c2*x**2 + ...``).
    ``x`` is clamped to ``valid_deg`` before evaluation (the fits are not
    valid outside it: the k(x) denominator has a pole near 128 deg and the
    moment-arm and contact-area fits turn upwards beyond 90-100 deg;
    docs/methods.md §1.2-1.4).

    Attributes
    ----------
    name
        Key of the set (recorded in outputs).
    quantity
        What the function gives (``"k = PFJRF/Fq"`` ...).
    unit
        Unit of the result (``"1"``, ``"m"``, ``"mm2"``).
    numerator, denominator
        Ascending coefficients.
    valid_deg
        Clamping range [deg].
    reference
        Paper the fit is attributed to.
    source
        Where the coefficients were read (docs/methods.md provenance).
    status
        Verification status, e.g. ``"verified in code [V-repo]"`` or ``"UNVERIFIED [M]"``.
    note
        Pitfalls (typos, unit mix-ups) the set avoids.
    """

    name: str
    quantity: str
    unit: str
    numerator: tuple[float, ...]
    denominator: tuple[float, ...] = (1.0,)
    valid_deg: tuple[float, float] = (0.0, 90.0)
    reference: str
    source: str
    status: str
    note: str = ""

    @property
    def verified(self) -> bool:
        """False when the status says UNVERIFIED/unverified."""
        return "unverified" not in self.status.lower()

    def __call__(self, x_deg: Any) -> np.ndarray:
        """Evaluate at ``x_deg`` (clamped to ``valid_deg``); NaN stays NaN."""
        x = np.clip(np.asarray(x_deg, dtype=float), *self.valid_deg)
        return P.polyval(x, self.numerator) / P.polyval(x, self.denominator)

    def formula(self) -> str:
        """The function as text, x in degrees."""
        def poly(c: tuple[float, ...]) -> str:
            terms = [f"{v:+.6g}" + ("" if i == 0 else "*x" if i == 1 else f"*x^{i}") for i, v in enumerate(c)]
            return " ".join(terms).lstrip("+")
        num = poly(self.numerator)
        return num if self.denominator == (1.0,) else f"({num}) / ({poly(self.denominator)})"

    def describe(self) -> str:
        """One line for the report: name, formula, unit, range, reference, status."""
        lo, hi = self.valid_deg
        text = (f"{self.quantity} [{self.unit}] '{self.name}': {self.formula()}, x = knee flexion in degrees "
                f"clamped to [{lo:g}, {hi:g}]; {self.reference}; coefficients from {self.source}; {self.status}")
        return text + (f"; note: {self.note}" if self.note else "")


_FOX = "aaronsfox/pfjrf-methods"

#: k(x) = PFJRF / Fq (docs/methods.md §1.2).
K_RATIO: dict[str, Poly] = {
    "van_eijden_1986": Poly(
        name="van_eijden_1986", quantity="k = PFJRF/Fq", unit="1",
        numerator=(0.462, 0.00147, -3.84e-5),
        denominator=(1.0, -0.0162, 0.000155, -6.98e-7),
        reference="van Eijden et al. 1986 (J Biomech) fit, as the most common k(x) in Nunes et al. 2018",
        source=f"{_FOX}:code/calc_PFJRF.py@2d0076cc (docs/methods.md §1.2)",
        status="verified in code [V-repo]; paper not read",
        note="numerator has a LINEAR term 0.00147*x; the often-printed '0.00147*x^2' is a typo "
             "(gives k(60) = 12.9); radians instead of degrees give k ~0.46-0.48 everywhere"),
}

#: Effective quadriceps moment arm MA_q(x) [m] (docs/methods.md §1.3).
QUAD_MOMENT_ARM: dict[str, Poly] = {
    "van_eijden_1986_effective": Poly(
        name="van_eijden_1986_effective", quantity="effective quadriceps moment arm", unit="m",
        numerator=(0.046, 2.8e-4, -1.3e-5, 8.0e-8),
        reference="effective quadriceps lever arm (van Eijden et al. 1986 data, as used in Nunes et al. 2018), "
                  "metre form",
        source=f"{_FOX}:code/Fukuchi2017/calc_PFJRF.py@516a14de and code/calc_PFJRF.py@2d0076cc (docs/methods.md §1.3)",
        status="verified in code [V-repo]",
        note="consistent metre form; the printed '0.00008x^3 - 0.013x^2 + 0.28x + 0.046' mixes mm-scale "
             "coefficients with a metre constant (1.09 m at 20 deg)"),
}

#: Patellofemoral contact area CA(x) [mm^2] (docs/methods.md §1.4).
CONTACT_AREA: dict[str, Poly] = {
    "doyle2023_nunes2018": Poly(
        name="doyle2023_nunes2018", quantity="PF contact area", unit="mm2",
        numerator=(81.058, 3.5273, 0.1099, -0.0033, 2.0e-5),
        reference="4th-order fit attributed to Doyle et al. 2023 and Nunes et al. 2018",
        source=f"{_FOX}:code/Scherpereel2023/calc_PFJRF_squat.py@eef45e4e (docs/methods.md §1.4a)",
        status="verified in code [V-repo]",
        note="MINUS sign on x^3; older scripts in the same repository have +0.0033 (1660 mm2 at 60 deg, a bug)"),
    "kernozek_fox": Poly(
        name="kernozek_fox", quantity="PF contact area", unit="mm2",
        numerator=(73.81, 3.5071, -0.0082, -0.0001),
        reference="3rd-order fit labelled 'kernozek' (Kernozek et al. 2015) in the Fox scripts",
        source=f"{_FOX}:code/Fukuchi2017/calc_PFJRF.py@516a14de, variable ca_mm2_coeffs_kernozek (docs/methods.md §1.4b)",
        status="transcribed from code only; unverified against the paper",
        note="x assumed in degrees"),
    "ho_brechter_quadratic": Poly(
        name="ho_brechter_quadratic", quantity="PF contact area", unit="mm2",
        numerator=(151.75, 0.6763, 0.0781),
        reference="quadratic recalled from running PFJ-stress papers (Willson/Kernozek group) citing Powers-group "
                  "MRI contact areas (Brechter & Powers 2002; Ho et al.)",
        source="memory only (docs/methods.md §1.4c)",
        status="UNVERIFIED [M]: confirm against Wirtz et al. 2012 or Willson et al. 2014/2015 before use"),
}


def _lookup(table: dict[str, Poly], what: str, coefficients: str | Poly) -> Poly:
    if isinstance(coefficients, Poly):
        return coefficients
    try:
        return table[coefficients]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(coefficients), list(table), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown {what} coefficient set {coefficients!r}{hint}; known: {list(table)}") from None


def k_ratio(x_deg: Any, *, coefficients: str | Poly = "van_eijden_1986") -> np.ndarray:
    """Ratio k = PFJRF / Fq at knee flexion ``x_deg`` [deg] (docs/methods.md §1.2).

    van Eijden et al. (1986) fit:
    ``k(x) = (0.462 + 0.00147 x - 3.84e-5 x^2) / (1 - 0.0162 x + 0.000155 x^2 - 6.98e-7 x^3)``,
    x in DEGREES clamped to [0, 90] (k(0) = 0.462, k(20) = 0.650, k(60) = 0.947).
    Angles in radians are not detected here (they give k ~0.46-0.48 for any
    posture); :func:`pfj_load` guards against them.
    """
    return _lookup(K_RATIO, "k-ratio", coefficients)(x_deg)


def quadriceps_moment_arm_m(x_deg: Any, *, coefficients: str | Poly = "van_eijden_1986_effective") -> np.ndarray:
    """Effective quadriceps moment arm [m] at knee flexion ``x_deg`` [deg] (docs/methods.md §1.3).

    ``MA_q(x) = 8.0e-8 x^3 - 1.3e-5 x^2 + 2.8e-4 x + 0.046`` m, x clamped to
    [0, 90] deg (46.0 mm at 0 deg, 47.0 mm at 20 deg, 24.2 mm at 90 deg).
    """
    return _lookup(QUAD_MOMENT_ARM, "moment-arm", coefficients)(x_deg)


def contact_area_mm2(x_deg: Any, *, coefficients: str | Poly = "doyle2023_nunes2018") -> np.ndarray:
    """Patellofemoral contact area [mm^2] at knee flexion ``x_deg`` [deg] (docs/methods.md §1.4).

    Default set (a): ``2.0e-5 x^4 - 0.0033 x^3 + 0.1099 x^2 + 3.5273 x + 81.058``
    (Doyle et al. 2023 / Nunes et al. 2018), x clamped to [0, 90] deg. See
    :data:`CONTACT_AREA` for the alternatives and their verification status.
    """
    return _lookup(CONTACT_AREA, "contact-area", coefficients)(x_deg)


# --------------------------------------------------------------------------
# PFJ model

@dataclass(frozen=True)
class PFJModel:
    """A named choice of coefficient sets for the PFJ model (docs/methods.md §1.1-1.4).

    Parameters
    ----------
    name
        Label recorded with the results.
    k_ratio, moment_arm, contact_area
        Keys of :data:`K_RATIO`, :data:`QUAD_MOMENT_ARM` and :data:`CONTACT_AREA`.
        Defaults: van Eijden 1986 k(x), the effective moment-arm cubic in
        metres and contact-area set (a) -- the sets verified in
        ``aaronsfox/pfjrf-methods`` (docs/methods.md §1.4 recommendation).
    """

    _section: ClassVar[str] = "knee_load"

    name: str = "torque_driven_pfj"
    k_ratio: str = "van_eijden_1986"
    moment_arm: str = "van_eijden_1986_effective"
    contact_area: str = "doyle2023_nunes2018"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"PFJ model name must be a non-empty string, got {self.name!r}")
        _lookup(K_RATIO, "k-ratio", self.k_ratio)
        _lookup(QUAD_MOMENT_ARM, "moment-arm", self.moment_arm)
        _lookup(CONTACT_AREA, "contact-area", self.contact_area)

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None, *, name: str = "configured") -> "PFJModel":
        """Build from the ``knee_load`` config section; unknown keys raise :class:`ConfigError`."""
        mapping = dataclass_options(cls, mapping)
        mapping.setdefault("name", name)
        try:
            return cls(**mapping)
        except ValueError as exc:
            raise ConfigError(f"{cls._section}: {exc}") from exc

    @property
    def sets(self) -> tuple[Poly, Poly, Poly]:
        """The (k, moment arm, contact area) coefficient sets."""
        return (K_RATIO[self.k_ratio], QUAD_MOMENT_ARM[self.moment_arm], CONTACT_AREA[self.contact_area])

    @property
    def verified(self) -> bool:
        """False when any coefficient set is labelled unverified."""
        return all(p.verified for p in self.sets)

    def record(self) -> dict[str, str]:
        """Flat description for output tables (model and set names)."""
        return {"pfj_model": self.name, "pfj_k_ratio": self.k_ratio, "pfj_moment_arm": self.moment_arm,
                "pfj_contact_area": self.contact_area}

    def describe(self) -> str:
        """Report text: the model chain and each coefficient set with its reference and status."""
        lines = [
            f"PFJ model '{self.name}' (torque-driven; docs/methods.md §1.1): Fq = M_ext / MA_q(x) with Fq < 0 set to 0 "
            "(flexor moments give no PFJ load; docs/methods.md §1.5); PFJRF = k(x) * Fq; stress = PFJRF / CA(x) "
            "[N/mm2 = MPa]. Knee flexion x in degrees, clamped to [0, 90] deg: hyperextension is evaluated at "
            "0 deg rather than extrapolated (docs/methods.md §1.2). The model sees the net knee moment only, not "
            "co-contraction.",
        ]
        lines += ["- " + p.describe() for p in self.sets]
        if not self.verified:
            lines.append("WARNING: at least one coefficient set is UNVERIFIED against its source paper.")
        return "\n".join(lines)


#: Default model: verified sets (docs/methods.md §1.2-1.4).
DEFAULT_PFJ_MODEL = PFJModel()


def pfj_load(knee_flexion_deg: Any, knee_extensor_moment_nm: Any, *, model: PFJModel = DEFAULT_PFJ_MODEL,
             mass_kg: float | None = None, radians_check: bool = True) -> dict[str, np.ndarray]:
    """Patellofemoral joint reaction force and stress (docs/methods.md §1.1-1.5).

    ``Fq = M / MA_q(x)`` (set to 0 where negative, i.e. net flexor moment:
    Fox ``calc_PFJRF.py``, docs/methods.md §1.5); ``PFJRF = k(x) * Fq``;
    ``stress = PFJRF / CA(x)`` [MPa, since N/mm^2 = MPa]. Knee flexion is
    clamped to [0, 90] deg before every fit: hyperextension (x < 0) is
    evaluated at 0 deg rather than extrapolated (k(-10) = 0.376 would be
    extrapolation; docs/methods.md §1.2), and the fits are not valid above 90 deg.

    Worked example (docs/methods.md §1.7): m = 70 kg, M = 0.5 N.m/kg * 70 kg = 35 N.m
    at 20 deg -> MA_q 47.0 mm, Fq 744 N, k 0.650, PFJRF 484 N = 0.70 BW,
    stress 2.81 MPa (contact area set a).

    Parameters
    ----------
    knee_flexion_deg
        Knee flexion [deg], flexion positive. Scalars or arrays; NaN propagates.
    knee_extensor_moment_nm
        Internal knee extensor moment [N.m] (NOT N.m/kg: multiply by mass
        first), extensor positive; same shape as the angle (or broadcastable).
    model
        Coefficient sets (:class:`PFJModel`).
    mass_kg
        If given, ``pfjrf_bw`` (PFJRF / (m * 9.81)) is added.
    radians_check
        Refuse an angle series (>= 10 finite samples) whose largest absolute
        value is below pi/2: degrees in walking always exceed 1.6 deg
        somewhere, radians never reach 1.6. Set False for a truly straight knee.

    Returns
    -------
    dict
        ``knee_flexion_used_deg`` (clamped angle), ``flexion_clamped`` (bool),
        ``moment_arm_m``, ``quad_force_n``, ``k``, ``pfjrf_n``,
        ``contact_area_mm2``, ``stress_mpa`` and, with ``mass_kg``, ``pfjrf_bw``.

    Raises
    ------
    ValueError
        Shapes that do not broadcast, a non-positive mass, or angles that look
        like radians.
    """
    x = np.asarray(knee_flexion_deg, dtype=float)
    m = np.asarray(knee_extensor_moment_nm, dtype=float)
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError:
        raise ValueError(f"knee flexion {x.shape} and extensor moment {m.shape} have incompatible shapes") from None
    if not isinstance(model, PFJModel):
        raise ValueError(f"model must be a PFJModel, got {type(model).__name__}")
    finite = x[np.isfinite(x)]
    if radians_check and finite.size >= 10 and np.max(np.abs(finite)) < math.pi / 2:
        raise ValueError(
            f"knee flexion never exceeds {np.max(np.abs(finite)):.3f} over {finite.size} samples: the angles look "
            "like RADIANS. Every PFJ fit expects degrees (docs/methods.md §0.2); convert with numpy.rad2deg, or pass "
            "radians_check=False if the knee really stays straight.")
    k_set, ma_set, ca_set = model.sets
    lo, hi = 0.0, 90.0
    x_used = np.clip(x, lo, hi)
    clamped = np.isfinite(x) & ((x < lo) | (x > hi))
    ma = ma_set(x_used)
    fq = m / ma
    fq = np.where(fq < 0, 0.0, fq)
    k = k_set(x_used)
    pfjrf = k * fq
    ca = ca_set(x_used)
    out = {"knee_flexion_used_deg": x_used, "flexion_clamped": clamped, "moment_arm_m": ma, "quad_force_n": fq,
           "k": k, "pfjrf_n": pfjrf, "contact_area_mm2": ca, "stress_mpa": pfjrf / ca}
    if mass_kg is not None:
        out["pfjrf_bw"] = to_body_weight(pfjrf, mass_kg)
    return out


# --------------------------------------------------------------------------
# stance-phase summaries

def _stance(values: Any, time_s: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(values, dtype=float)
    t = np.asarray(time_s, dtype=float)
    if y.ndim != 1 or t.ndim != 1 or y.shape != t.shape:
        raise ValueError(f"{what} and time_s must be 1-D arrays of equal length, got {y.shape} and {t.shape}")
    if y.size < 3:
        raise ValueError(f"{what} needs at least 3 samples of one stance, got {y.size}")
    bad = ~np.isfinite(y)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(f"{what} has {idx.size} non-finite sample(s) in stance (first at index {idx[0]}, "
                         f"t = {t[idx[0]]:.4f} s); summaries need a complete stance")
    if not np.isfinite(t).all() or not (np.diff(t) > 0).all():
        raise ValueError("time_s must be finite and strictly increasing")
    return y, t


def _half_peak_index(y: np.ndarray, t: np.ndarray) -> tuple[int, int]:
    """Indices of the maxima in the first and in the second 50 % of stance time."""
    mid = t[0] + (t[-1] - t[0]) / 2.0
    first, second = np.flatnonzero(t <= mid), np.flatnonzero(t >= mid)
    return int(first[np.argmax(y[first])]), int(second[np.argmax(y[second])])


def _half_peaks(y: np.ndarray, t: np.ndarray) -> tuple[float, float, float, float]:
    """Maxima in the first and second 50 % of stance time, and their time in % stance."""
    t0, dur = t[0], t[-1] - t[0]
    i1, i2 = _half_peak_index(y, t)
    return float(y[i1]), 100.0 * (t[i1] - t0) / dur, float(y[i2]), 100.0 * (t[i2] - t0) / dur


def kam_summary(kam_nm_per_kg: Any, time_s: Any) -> dict[str, float]:
    """Knee adduction moment peaks and impulse over ONE stance (docs/methods.md §2.4).

    Parameters
    ----------
    kam_nm_per_kg
        External KAM [N.m/kg], positive = adduction (varus), sampled from foot
        strike to foot off (force-plate events, docs/methods.md §4).
    time_s
        Sample times [s].

    Returns
    -------
    dict
        ``peak1`` [N.m/kg]: maximum in the first 50 % of stance time;
        ``peak1_pct`` [% stance]; ``peak2``, ``peak2_pct``: same for the second
        50 %; ``impulse`` [N.m.s/kg]: knee adduction angular impulse, the
        trapezoidal time integral of the positive (adduction) part only;
        ``impulse_signed`` [N.m.s/kg]: integral of the signed curve;
        ``stance_time_s``. Integration is in time, not % stance, so the longer
        stance of slow BW steps is not hidden (docs/methods.md §2.4). In BW walking
        the first half of stance is not loading response (toe-first contact):
        keep the window definition but do not read ``peak1`` as such.
    """
    y, t = _stance(kam_nm_per_kg, time_s, "KAM")
    p1, p1t, p2, p2t = _half_peaks(y, t)
    return {"peak1": p1, "peak1_pct": p1t, "peak2": p2, "peak2_pct": p2t,
            "impulse": float(integrate.trapezoid(np.maximum(y, 0.0), t)),
            "impulse_signed": float(integrate.trapezoid(y, t)),
            "stance_time_s": float(t[-1] - t[0])}


def moment_summary(m_nm_per_kg: Any, time_s: Any) -> dict[str, float]:
    """Peaks and impulses of the internal knee extensor/flexor moment over one stance.

    Parameters
    ----------
    m_nm_per_kg
        Internal knee sagittal moment [N.m/kg], extensor positive (docs/methods.md §0.2).
    time_s
        Sample times [s].

    Returns
    -------
    dict
        ``extensor_peak`` [N.m/kg] (largest positive value; 0 if never
        positive), ``extensor_peak_pct`` [% stance; NaN if 0],
        ``flexor_peak`` [N.m/kg] as a POSITIVE number (largest flexor moment;
        0 if never negative), ``flexor_peak_pct``, ``extensor_impulse`` and
        ``flexor_impulse`` [N.m.s/kg] (time integrals of the positive and of
        the negated negative part, both >= 0; docs/methods.md §2.4: integrate in time).
    """
    y, t = _stance(m_nm_per_kg, time_s, "knee moment")
    t0, dur = t[0], t[-1] - t[0]
    ie, iflex = int(np.argmax(y)), int(np.argmin(y))
    ext = max(float(y[ie]), 0.0)
    flex = max(float(-y[iflex]), 0.0)
    return {"extensor_peak": ext, "extensor_peak_pct": 100.0 * (t[ie] - t0) / dur if ext > 0 else float("nan"),
            "flexor_peak": flex, "flexor_peak_pct": 100.0 * (t[iflex] - t0) / dur if flex > 0 else float("nan"),
            "extensor_impulse": float(integrate.trapezoid(np.maximum(y, 0.0), t)),
            "flexor_impulse": float(integrate.trapezoid(np.maximum(-y, 0.0), t))}


#: Loading-rate definitions of :func:`vgrf_summary`.
LOADING_RATE_METHODS: dict[str, str] = {
    "time_20_80": "slope of vGRF between 20 % and 80 % of the time from foot strike to the first peak [M]",
    "force_20_80": "slope between the instants vGRF first reaches 20 % and 80 % of the first peak "
                   "(average loading rate as in Milner et al. 2006, MSSE 38:323, for running [M])",
    "contact_to_peak": "average loading rate from ground contact to the first peak (F1LR; JSSM figure "
                       "https://jssm.org/figurejssm-06-126.xml/fig001.xml [V-page])",
}


def _crossing(t: np.ndarray, y: np.ndarray, level: float) -> float:
    """First time ``y`` reaches ``level`` (linear interpolation); NaN if never."""
    above = np.flatnonzero(y >= level)
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(t[0])
    return float(np.interp(level, [y[i - 1], y[i]], [t[i - 1], t[i]]))


#: Smallest prominence (BW) of a vGRF local maximum that counts as a peak of
#: :func:`vgrf_summary`. [D] 0.02 BW is 14 N for 70 kg and 6 N for a 30 kg
#: child, above the 1-3 N noise of laboratory force plates sampled at 1 kHz, and
#: below the shallowest real first hump of the ESMAC and gaitalytics recordings
#: (0.96 BW at 25 % stance over a 0.94 BW valley).
VGRF_MIN_PROMINENCE_BW = 0.02


def vgrf_peaks(f_bw: Any, time_s: Any, *, min_prominence_bw: float = VGRF_MIN_PROMINENCE_BW
               ) -> tuple[int | None, int | None, str, str]:
    """Indices of the loading-response (first) and push-off (second) vGRF peaks of one stance.

    The first peak is the highest local maximum of vGRF with a prominence of
    at least ``min_prominence_bw`` (:func:`scipy.signal.find_peaks`;
    prominence as in topography: how far the peak rises above the higher of
    the lowest points separating it from a higher peak or the stance ends)
    lying in the first half of stance time; the second is the same in the
    second half (docs/methods.md §4.1). A stance whose force only rises
    through the first half (a flat first hump with no local maximum, or a
    single central hump) has no first peak: the window edge is never taken
    for a peak.

    Returns
    -------
    (int or None, int or None, str, str)
        ``i1``, ``i2`` and, for a missing peak, the reason (else ``""``).
    """
    from scipy.signal import find_peaks

    f = np.asarray(f_bw, dtype=float)
    t = np.asarray(time_s, dtype=float)
    mid = t[0] + (t[-1] - t[0]) / 2.0
    peaks, _ = find_peaks(f, prominence=min_prominence_bw)
    first = [int(p) for p in peaks if t[p] < mid]
    second = [int(p) for p in peaks if t[p] > mid]
    i1 = max(first, key=lambda p: f[p]) if first else None
    i2 = max(second, key=lambda p: f[p]) if second else None
    why = "no local maximum of vertical GRF with prominence >= {:g} BW in the {} half of stance ({})"
    r1 = "" if i1 is not None else why.format(min_prominence_bw, "first",
                                               "flat or rising first hump: no loading-response peak")
    r2 = "" if i2 is not None else why.format(min_prominence_bw, "second", "no push-off peak")
    return i1, i2, r1, r2


def vgrf_summary(fz_n: Any, time_s: Any, *, body_weight_n: float,
                 loading_rate: str = "time_20_80",
                 min_prominence_bw: float = VGRF_MIN_PROMINENCE_BW) -> dict[str, Any]:
    """Vertical GRF peaks, valley and loading rate over ONE stance, in body weights.

    Parameters
    ----------
    fz_n
        Vertical ground reaction force on the foot [N], up positive, from foot
        strike to foot off.
    time_s
        Sample times [s].
    body_weight_n
        Body weight m * 9.81 [N].
    loading_rate
        Definition, one of :data:`LOADING_RATE_METHODS`. Default
        ``"time_20_80"``: ``(F(t80) - F(t20)) / (t80 - t20)`` with t20, t80 at
        20 % and 80 % of the time from foot strike to the first peak (values
        interpolated linearly). Loading rates in walking are of the order of
        5-15 BW/s (Keller et al. 1996, Clin Biomech 11:253: 8-30 BW/s from
        walking to running). In BW walking the first contact is by the toes,
        so this is not the heel-strike transient of FW walking.
    min_prominence_bw
        Smallest prominence of a peak [BW] (:func:`vgrf_peaks`).

    Returns
    -------
    dict
        ``peak1_bw`` (the loading-response peak: highest local maximum in
        the first 50 % of stance, :func:`vgrf_peaks`; NaN when there is
        none), ``peak1_pct`` [% stance], ``peak2_bw``, ``peak2_pct`` (second
        50 %), ``valley_bw`` (minimum between the two peaks; NaN without
        both), ``loading_rate_bw_s`` [BW/s] (NaN without a first peak, or
        when it lies at foot strike), ``stance_time_s``, and
        ``peak1_reason`` / ``peak2_reason`` (why a peak is missing, else
        ``""``).

    Raises
    ------
    ValueError
        Non-positive body weight, unknown loading-rate method, incomplete
        stance, or a force that is mostly negative (force on the plate instead
        of the reaction on the foot).
    """
    y, t = _stance(fz_n, time_s, "vertical GRF")
    bw = _positive_value("body_weight_n", body_weight_n)
    if loading_rate not in LOADING_RATE_METHODS:
        raise ValueError(f"unknown loading-rate method {loading_rate!r}; use one of {list(LOADING_RATE_METHODS)}")
    if np.median(y) < 0:
        raise ValueError("vertical GRF is mostly negative over stance: pass the ground reaction on the foot "
                         "(up positive), not the force on the plate")
    f = y / bw
    i1, i2, why1, why2 = vgrf_peaks(f, t, min_prominence_bw=min_prominence_bw)
    t0, dur = t[0], t[-1] - t[0]
    nan = float("nan")
    p1 = float(f[i1]) if i1 is not None else nan
    p2 = float(f[i2]) if i2 is not None else nan
    valley = float(np.min(f[i1:i2 + 1])) if i1 is not None and i2 is not None else nan
    rate = nan
    if i1 is not None and t[i1] > t0:
        tp = t[i1]
        if loading_rate == "time_20_80":
            ta, tb = t0 + 0.2 * (tp - t0), t0 + 0.8 * (tp - t0)
            rate = float((np.interp(tb, t, f) - np.interp(ta, t, f)) / (tb - ta))
        elif loading_rate == "force_20_80":
            ta = _crossing(t[:i1 + 1], f[:i1 + 1], 0.2 * p1)
            tb = _crossing(t[:i1 + 1], f[:i1 + 1], 0.8 * p1)
            rate = float(0.6 * p1 / (tb - ta)) if np.isfinite(ta) and np.isfinite(tb) and tb > ta else nan
        else:
            rate = float((p1 - f[0]) / (tp - t0))
    return {"peak1_bw": p1, "peak1_pct": 100.0 * (t[i1] - t0) / dur if i1 is not None else nan,
            "peak2_bw": p2, "peak2_pct": 100.0 * (t[i2] - t0) / dur if i2 is not None else nan,
            "valley_bw": valley, "loading_rate_bw_s": rate, "stance_time_s": float(dur),
            "peak1_reason": why1, "peak2_reason": why2}


# --------------------------------------------------------------------------
# KAM lever-arm estimate and tibiofemoral proxy

#: Label that must accompany any output of :func:`kam_lever_arm`.
KAM_LEVER_ARM_DESCRIPTION = (
    "quasi-static lever-arm ESTIMATE of the external knee adduction moment: moment of the ground reaction force "
    "about the knee joint centre in the lab frontal plane (no foot/shank mass or inertia, lab not tibial frame). "
    "A diagnostic only: peak lever-arm EKAM was 26.0 vs 40.2 N.m by inverse dynamics, with poor agreement "
    "(Knee 2015, doi:10.1016/j.knee.2015.04.003; docs/methods.md §2.3). Use inverse-dynamics KAM for results.")

#: Label that must accompany any output of :func:`medial_contact_proxy`.
MEDIAL_PROXY_DESCRIPTION = (
    "external-load medial proxy F/2 + KAM/d (d = 0.04 m; OpenCap computeMCF, Lerner 2015; docs/methods.md §3.1) from "
    "external loads only: a muscle-free lower bound, NOT a medial contact force (muscles add ~2-3 BW in walking).")


def _vectors(a: Any, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(a, dtype=float)
    if v.ndim == 1 and v.shape == (3,):
        v = v[None, :]
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) or (3,), got {v.shape}")
    if n is not None and v.shape[0] not in (1, n):
        raise ValueError(f"{name} has {v.shape[0]} rows, expected 1 or {n}")
    return v


def kam_lever_arm(grf_n: Any, cop_m: Any, kjc_m: Any, *, medial_axis: Any, up_axis: int = 2) -> np.ndarray:
    """Quasi-static lever-arm ESTIMATE of the external KAM [N.m] (docs/methods.md §2.3).

    This is an estimate, not a KAM measure (see
    :data:`KAM_LEVER_ARM_DESCRIPTION`, which must accompany its output):
    ``r = p_COP - p_KJC``; ``M = r x F``; ``KAM = M . (e_med x e_up)``, the
    component of the GRF moment about the knee along the horizontal axis
    normal to the frontal plane spanned by the medial and vertical axes.
    The free moment is vertical and drops out. In 2-D this is
    ``KAM = F_v * d_med + F_med * h``, with ``d_med`` the medial offset of the
    COP from the knee centre, ``F_med`` the medially directed GRF component
    and ``h`` the height of the knee centre above the COP (docs/methods.md §2.3
    writes ``F_v*d_ML - F_ML*h_KJC``; the sign of the second term depends on
    how F_ML is signed: here a medial GRF on the foot adducts the tibia).
    Positive = adduction (varus) for either leg, because the medial axis is
    given per leg.

    The medial direction comes from anatomy (e.g. from this knee's joint
    centre towards the pelvis centre or the other knee), never from the
    direction of travel, so FW and BW trials share one sign (docs/methods.md §2.1).

    Parameters
    ----------
    grf_n
        Ground reaction force acting ON THE FOOT [N], shape (n, 3), lab frame.
    cop_m
        Centre of pressure [m], (n, 3).
    kjc_m
        Knee joint centre [m], (n, 3) or (3,).
    medial_axis
        Vector(s) pointing medially for this leg, (3,) or (n, 3); only the
        horizontal part is used, normalised.
    up_axis
        Index of the vertical lab axis (0, 1 or 2).

    Returns
    -------
    numpy.ndarray
        KAM estimate [N.m], shape (n,). Divide by mass for N.m/kg.

    Raises
    ------
    ValueError
        Bad shapes, a medial axis without horizontal part, a GRF that points
        down (force on the plate passed), or positions that look like mm.
    """
    if up_axis not in (0, 1, 2):
        raise ValueError(f"up_axis must be 0, 1 or 2, got {up_axis!r}")
    f = _vectors(grf_n, "grf_n")
    n = f.shape[0]
    cop = _vectors(cop_m, "cop_m", n)
    kjc = _vectors(kjc_m, "kjc_m", n)
    med = _vectors(medial_axis, "medial_axis", n).copy()
    e_up = np.zeros(3)
    e_up[up_axis] = 1.0
    med[:, up_axis] = 0.0
    norm = np.linalg.norm(med, axis=1)
    if not (norm > 1e-9).all():
        raise ValueError("medial_axis has no horizontal component")
    med = med / norm[:, None]
    if np.nanmedian(f[:, up_axis]) <= 0:
        raise ValueError("vertical GRF is not positive: pass the ground reaction acting on the foot (up positive), "
                         "not the force on the plate")
    r = np.broadcast_to(cop, (n, 3)) - np.broadcast_to(kjc, (n, 3))
    dist = np.nanmedian(np.linalg.norm(r, axis=1))
    if dist > 2.0:
        raise ValueError(f"median knee-to-COP distance is {dist:.1f}: positions must be in metres (mm given?)")
    axis = np.cross(med, e_up)
    return np.einsum("ij,ij->i", np.cross(r, np.broadcast_to(f, (n, 3))), np.broadcast_to(axis, (n, 3)))


def medial_contact_proxy(axial_force_n: Any, kam_nm: Any, *, d_m: float = 0.04) -> np.ndarray:
    """External-load medial tibiofemoral proxy ``F/2 + KAM/d`` [N] (docs/methods.md §3.1).

    Same moment balance as OpenCap ``computeMCF``
    (stanfordnmbl/opencap-processing, computeJointLoading.py@162e65b6), with
    the intercondylar distance d = 0.04 m cited there as Lerner 2015, but fed
    with external loads only (e.g. vertical GRF and external KAM), so it is a
    muscle-free lower bound: an "external-load medial proxy", NEVER a medial
    contact force (:data:`MEDIAL_PROXY_DESCRIPTION`).

    Parameters
    ----------
    axial_force_n
        Compressive axial force [N], positive (e.g. vertical GRF).
    kam_nm
        External knee adduction moment [N.m] (NOT N.m/kg), adduction positive.
    d_m
        Distance between the medial and lateral contact points [m].

    Returns
    -------
    numpy.ndarray
        Proxy [N], broadcast shape of the inputs.
    """
    d = _positive_value("d_m", d_m)
    f = np.asarray(axial_force_n, dtype=float)
    kam = np.asarray(kam_nm, dtype=float)
    try:
        f, kam = np.broadcast_arrays(f, kam)
    except ValueError:
        raise ValueError(f"axial force {f.shape} and KAM {kam.shape} have incompatible shapes") from None
    if f.size and np.isfinite(f).any() and np.nanmedian(f) < 0:
        raise ValueError("axial force is mostly negative: pass the compressive force as a positive number")
    return f / 2.0 + kam / d


# --------------------------------------------------------------------------
# normalisation

def _positive_value(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def to_body_weight(force_n: Any, mass_kg: float) -> np.ndarray:
    """Force in body weights: ``F / (m * g)``, g = 9.81 m/s^2 (docs/methods.md §0.2)."""
    return np.asarray(force_n, dtype=float) / (_positive_value("mass_kg", mass_kg) * G)


def to_percent_bw_ht(moment_nm: Any, mass_kg: float, height_m: float) -> np.ndarray:
    """Moment in %BW*Ht: ``100 * M / (m * g * h)`` (docs/methods.md §2.2; Favre et al. 2012).

    1 N.m/kg = 100 / (g*h) %BW*Ht (5.82 %BW*Ht for h = 1.75 m).

    Raises
    ------
    ValueError
        If mass or standing height is not positive (NaN height = unknown).
    """
    m = _positive_value("mass_kg", mass_kg)
    h = _positive_value("height_m (standing height; unknown heights cannot give %BW*Ht)", height_m)
    return 100.0 * np.asarray(moment_nm, dtype=float) / (m * G * h)
