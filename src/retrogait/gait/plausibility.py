"""Plausibility rules for per-cycle knee-load measures and whole-trial unit/sign checks.

Two levels (docs/methods.md §1.7 and 2.2):

* :func:`flag_cycle` applies the per-cycle rules in :data:`RULES` to one
  cycle's measures and returns the rules broken, with the reasons. Each rule
  governs one *measure family* (:attr:`Rule.family`, e.g. every ``pfj_*``
  measure for the PFJ stress rule): only that family's values of the cycle
  are flagged and left out of the analysis, never the whole cycle (its
  kinematics, EMG and other measures stay). Because the rules sit on the
  outcomes themselves, they could remove values from one condition more than
  the other; :func:`flag_counts` counts per condition how many cycles each
  rule flagged, so the report can say so (docs/methods.md §1.7).
  :func:`check_cycle` returns the reasons only.
* :func:`check_trial_scale` looks at a whole trial at once and raises
  :class:`~retrogait.errors.DataError` when the values point to a unit or
  sign error (N.mm/kg read as N.m/kg, flipped moment sign, radians, flexion
  sign convention), which would otherwise silently shift every result.
* :func:`check_pfj_model` checks a PFJ coefficient choice over 0-90 deg
  (docs/methods.md §1.7: k within [0.3, 1.05], contact area > 0).

Rule quantities use the measure names of :mod:`retrogait.gait.measures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrogait.errors import DataError
from retrogait.gait.kneeload import PFJModel

__all__ = [
    "Rule",
    "RULES",
    "check_cycle",
    "flag_cycle",
    "flag_counts",
    "FLAG_COUNT_COLUMNS",
    "check_pfj_model",
    "TrialScaleLimits",
    "check_trial_scale",
]


@dataclass(frozen=True)
class Rule:
    """A plausibility rule: ``quantity`` must lie within [low, high].

    ``low``/``high`` may be ``None`` (no bound). ``low_inclusive=False``
    makes the lower bound strict (e.g. contact area must be > 0).
    ``family`` lists the measure-name prefixes the rule governs: when it is
    broken, these measures of the cycle are flagged (empty: the quantity
    itself only).
    """

    name: str
    quantity: str
    low: float | None
    high: float | None
    unit: str
    reference: str
    low_inclusive: bool = True
    family: tuple[str, ...] = ()

    def governs(self, measure: str) -> bool:
        """True when a broken rule flags ``measure`` (the quantity itself or a member of its family)."""
        return measure == self.quantity or any(measure.startswith(p) for p in self.family)

    def check(self, value: float) -> str | None:
        """The reason ``value`` breaks the rule, or None. NaN means "not measured" and passes."""
        v = float(value)
        if math.isnan(v):
            return None
        if self.low is not None and (v < self.low or (not self.low_inclusive and v == self.low)):
            op = ">=" if self.low_inclusive else ">"
            return (f"{self.quantity} = {v:.4g} {self.unit} violates {self.name}: must be {op} {self.low:g} "
                    f"{self.unit} ({self.reference})")
        if self.high is not None and v > self.high:
            return (f"{self.quantity} = {v:.4g} {self.unit} violates {self.name}: must be <= {self.high:g} "
                    f"{self.unit} ({self.reference})")
        return None


_KAM_BAND = ("loose band [D]: typical healthy FW first peak 0.35-0.6 N.m/kg (2-3.5 %BW*Ht, docs/methods.md §2.2 [M]); "
             "< -0.2 means abduction through half of stance (sign convention, docs/methods.md §2.1)")
_VGRF_BAND = ("loose band [D]: walking vGRF peaks ~1.2 BW (Keller et al. 1996, Clin Biomech 11:253, "
              "https://eurekamag.com/research/009/330/009330470.php)")

_PFJ = ("pfj_",)
_MOMENT = ("knee_extensor_moment", "knee_flexor_moment", "pfj_")   # the PFJ model is driven by the moment
_KAM = ("kam_", "medial_load_proxy")                                # the medial proxy uses the KAM
_VGRF = ("vgrf_", "medial_load_proxy")                              # ... and the vertical GRF

#: Per-cycle rules for walking (docs/methods.md §1.7, 2.2), each with the measure family it flags.
RULES: tuple[Rule, ...] = (
    Rule("pfj_stress_walking", "pfj_stress_peak", None, 10.0, "MPa",
         "docs/methods.md §1.7 hard-fail rule: stress > 10 MPa in walking; walking peaks 1.9 +/- 0.7 MPa "
         "(Ho et al. 2012)", family=_PFJ),
    Rule("pfjrf_walking", "pfj_force_peak", None, 3.0, "BW",
         "docs/methods.md §1.7 hard-fail rule: PFJRF > 3 BW in walking; typical 0.5-1.5 BW [M]", family=_PFJ),
    Rule("pfj_k_range", "pfj_k_min", 0.3, 1.05, "1", "docs/methods.md §1.7: k outside [0.3, 1.05] for x in [0, 90] deg",
         family=_PFJ),
    Rule("pfj_k_range", "pfj_k_max", 0.3, 1.05, "1", "docs/methods.md §1.7: k outside [0.3, 1.05] for x in [0, 90] deg",
         family=_PFJ),
    Rule("pfj_contact_area_positive", "pfj_contact_area_min", 0.0, None, "mm2",
         "docs/methods.md §1.7: any contact area <= 0", low_inclusive=False, family=_PFJ),
    Rule("knee_extensor_moment_walking", "knee_extensor_moment_peak", 0.05, 2.5, "N.m/kg",
         "project rule: peak internal knee extensor moment in walking 0.05-2.5 N.m/kg (loose; design brief)",
         family=_MOMENT),
    Rule("kam_walking", "kam_peak1", -0.2, 1.5, "N.m/kg", _KAM_BAND, family=_KAM),
    Rule("kam_walking", "kam_peak2", -0.2, 1.5, "N.m/kg", _KAM_BAND, family=_KAM),
    Rule("vgrf_walking", "vgrf_peak1", 0.6, 2.0, "BW", _VGRF_BAND, family=_VGRF),
    Rule("vgrf_walking", "vgrf_peak2", 0.6, 2.0, "BW", _VGRF_BAND, family=_VGRF),
    Rule("vgrf_loading_rate_walking", "vgrf_loading_rate", 1.0, 60.0, "BW/s",
         "loose band [D]: 8-30 BW/s from walking to running (Keller et al. 1996); a loading response "
         "reaches ~1 BW within 0.1-0.3 s (>= 3 BW/s), so < 1 BW/s means the first peak was not found "
         "(e.g. the edge of a flat first hump)", family=("vgrf_loading_rate",)),
    Rule("medial_proxy_walking", "medial_load_proxy_peak", 0.0, 5.0, "BW",
         "[D] from the vGRF (<= 2 BW) and KAM (<= 1.5 N.m/kg) bands: 2/2 + 1.5/(9.81*0.04) = 4.8 BW",
         family=("medial_load_proxy",)),
)


def flag_cycle(values: Mapping[str, float], *, rules: tuple[Rule, ...] = RULES) -> list[tuple[Rule, str]]:
    """The rules one cycle's measures break, each with its reason (empty list: plausible).

    Same inputs as :func:`check_cycle`; a measure of the cycle is to be
    flagged when a returned rule :meth:`~Rule.governs` it.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"values must be a mapping of measure name to value, got {type(values).__name__}")
    broken = []
    for rule in rules:
        if rule.quantity not in values or values[rule.quantity] is None:
            continue
        try:
            value = float(values[rule.quantity])
        except (TypeError, ValueError):
            raise ValueError(f"{rule.quantity} must be a number, got {values[rule.quantity]!r}") from None
        if math.isinf(value):
            broken.append((rule, f"{rule.quantity} is not finite ({value})"))
            continue
        reason = rule.check(value)
        if reason:
            broken.append((rule, reason))
    return broken


def check_cycle(values: Mapping[str, float], *, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Reasons one cycle's measures are implausible (empty list: plausible).

    Parameters
    ----------
    values
        Measure name -> value, in the units of :data:`RULES` (e.g.
        ``pfj_stress_peak`` in MPa, ``pfj_force_peak`` in BW,
        ``knee_extensor_moment_peak`` in N.m/kg). Names without a rule are
        ignored; NaN/None mean "not measured" and pass.
    rules
        Rules to apply.

    Returns
    -------
    list of str
        One reason per broken rule, naming the quantity, its value and unit,
        the bound and the reference.
    """
    return [reason for _, reason in flag_cycle(values, rules=rules)]


#: Columns of :func:`flag_counts`.
FLAG_COUNT_COLUMNS = ["dataset", "condition", "direction", "speed_mps", "rule", "quantity", "flags", "n_cycles",
                      "n_flagged", "pct_flagged"]


def flag_counts(measures: Any, *, rules: tuple[Rule, ...] = RULES) -> Any:
    """How many cycles each per-cycle rule flagged, per dataset and condition.

    Parameters
    ----------
    measures
        The ``measures`` table (docs/tables.md): one row per cycle and
        measure with ``qc_rule`` (rules that flagged the row) and the trial
        columns.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLAG_COUNT_COLUMNS`: ``rule``, its ``quantity``,
        ``flags`` (the measure family it flags), ``n_cycles`` (cycles where
        the quantity was measured), ``n_flagged`` and ``pct_flagged`` (%);
        one row per dataset, condition and rule whose quantity was measured.
    """
    import pandas as pd

    keys = ["dataset", "condition", "direction", "speed_mps"]
    cycle = ["subject", "trial", "side", "cycle"]
    rows = []
    if len(measures) == 0:
        return pd.DataFrame(columns=FLAG_COUNT_COLUMNS)
    seen = set()
    for rule in rules:
        if (rule.name, rule.quantity) in seen:
            continue
        seen.add((rule.name, rule.quantity))
        q = measures[measures["measure"] == rule.quantity]
        if q.empty:
            continue
        hit = q["qc_rule"].fillna("").astype(str).str.split(",").apply(lambda names: rule.name in names)
        g = q.assign(_hit=hit).groupby(keys, dropna=False, sort=True)
        for key, grp in g:
            n = int(grp[cycle].drop_duplicates().shape[0])
            k = int(grp.loc[grp["_hit"], cycle].drop_duplicates().shape[0])
            rows.append(dict(zip(keys, key), rule=rule.name, quantity=rule.quantity,
                             flags=", ".join(p.rstrip("_") + ("*" if p.endswith("_") else "") for p in rule.family)
                             or rule.quantity, n_cycles=n, n_flagged=k, pct_flagged=100.0 * k / n if n else float("nan")))
    return pd.DataFrame(rows, columns=FLAG_COUNT_COLUMNS)


def check_pfj_model(model: Any, *, step_deg: float = 1.0) -> list[str]:
    """Check a PFJ model's k(x) and contact area over 0-90 deg (docs/methods.md §1.7).

    Returns reasons (empty = fine): any k outside [0.3, 1.05] or any contact
    area <= 0 on a grid of ``step_deg``. Catches the x^2 typo in k(x)
    (k(60) = 12.9).
    """
    if not isinstance(model, PFJModel):
        raise ValueError(f"model must be a PFJModel, got {type(model).__name__}")
    x = np.arange(0.0, 90.0 + step_deg / 2, step_deg)
    k_set, _, ca_set = model.sets
    k, ca = k_set(x), ca_set(x)
    values = {"pfj_k_min": float(k.min()), "pfj_k_max": float(k.max()), "pfj_contact_area_min": float(ca.min())}
    return [f"PFJ model '{model.name}': {r}" for r in check_cycle(values)]


@dataclass(frozen=True)
class TrialScaleLimits:
    """Thresholds of :func:`check_trial_scale`.

    Parameters
    ----------
    plausible_peak_nm_per_kg
        Band of walking knee extensor peaks (0.05-2.5 N.m/kg, as in :data:`RULES`).
    too_large_nm_per_kg
        A trial whose median peak exceeds this (2x the upper band) has a unit error.
    too_small_nm_per_kg
        A trial whose median peak is below this (1/5 of the lower band) has a unit error.
    min_cycles_sign
        Fewest cycles for the "all extensor peaks <= 0" sign test.
    radians_max_range_deg
        Knee flexion range over a whole trial below this (with all values
        within +/- 2 pi) means radians; walking knee ROM is >= 40 deg [M].
    sign_min_deg, sign_max_deg
        Minimum below ``sign_min_deg`` and maximum below ``sign_max_deg``:
        flexion is negative, i.e. extension-positive convention.
    """

    plausible_peak_nm_per_kg: tuple[float, float] = (0.05, 2.5)
    too_large_nm_per_kg: float = 5.0
    too_small_nm_per_kg: float = 0.01
    min_cycles_sign: int = 2
    radians_max_range_deg: float = 5.0
    sign_min_deg: float = -25.0
    sign_max_deg: float = 10.0


def _candidates(median: float, band: tuple[float, float], factors: list[tuple[str, float]]) -> str:
    lo, hi = band
    hits = [f"{label} (x{f:g} gives {median * f:.3g} N.m/kg)" for label, f in factors if lo <= median * f <= hi]
    return "; ".join(hits) if hits else "no simple unit factor brings them into range"


def check_trial_scale(*, peak_extensor_moments_nm_per_kg: Any,
                      knee_flexion_range_deg: tuple[float, float] | None = None,
                      where: Mapping[str, Any], limits: TrialScaleLimits = TrialScaleLimits()) -> None:
    """Raise :class:`DataError` when a whole trial points to a unit or sign error.

    Single implausible cycles are left to :func:`check_cycle`; this looks for
    patterns across all cycles of a trial that no gait can produce:

    * every extensor peak <= 0 (at least ``min_cycles_sign`` cycles): the
      moment sign is flipped (OpenSim's knee_angle moment is flexion
      positive; docs/methods.md §0.2). A flipped sign can also show as positive
      "extensor" peaks equal to the flexor moment, which this cannot detect.
    * median peak > ``too_large_nm_per_kg``: N.mm/kg read as N.m/kg (x1000)
      or N.m not divided by body mass.
    * median peak < ``too_small_nm_per_kg``: N.m/kg divided by 1000 or by
      mass twice.
    * knee flexion range (min, max) over the trial narrower than
      ``radians_max_range_deg`` within +/- 2 pi: radians.
    * knee flexion minimum < ``sign_min_deg`` with maximum < ``sign_max_deg``:
      flexion negative (extension-positive convention).

    Parameters
    ----------
    peak_extensor_moments_nm_per_kg
        Per-cycle peak internal knee extensor moments [N.m/kg]; NaN ignored.
    knee_flexion_range_deg
        (min, max) knee flexion over the whole trial [deg], or None.
    where
        Location for the error: ``dataset``, ``subject``, ``trial`` (and extras).
    limits
        Thresholds.

    Raises
    ------
    DataError
        With the location, the evidence and the likely cause.
    """
    if not isinstance(where, Mapping):
        raise ValueError(f"where must be a mapping (dataset, subject, trial), got {type(where).__name__}")
    loc = {str(k): v for k, v in where.items()}

    def fail(message: str) -> None:
        raise DataError(message, **loc)

    peaks = np.asarray(peak_extensor_moments_nm_per_kg, dtype=float).ravel()
    peaks = peaks[np.isfinite(peaks)]
    band = limits.plausible_peak_nm_per_kg
    if peaks.size:
        n = peaks.size
        if n >= limits.min_cycles_sign and (peaks <= 0).all():
            fail(f"all {n} peak knee extensor moments are <= 0 (max {peaks.max():.3g} N.m/kg): walking always has "
                 "an internal extensor moment, so the moment sign is flipped (flexion-positive source such as "
                 "OpenSim's knee_angle moment; the pipeline needs internal extensor positive, docs/methods.md §0.2)")
        positive = peaks[peaks > 0]
        if positive.size:
            med = float(np.median(positive))
            if med > limits.too_large_nm_per_kg:
                likely = _candidates(med, band, [("N.mm/kg read as N.m/kg", 1e-3),
                                                 ("N.m not divided by a 40-70 kg body mass", 1 / 55),
                                                 ("N.m not divided by a 70-130 kg body mass", 1 / 100)])
                fail(f"peak knee extensor moments across the trial (median {med:.4g} N.m/kg over {positive.size} "
                     f"cycles) are far above walking values {band[0]:g}-{band[1]:g} N.m/kg: unit error. Likely: "
                     f"{likely}. Check the moment unit declared for this dataset (docs/methods.md §0.2)")
            if med < limits.too_small_nm_per_kg:
                likely = _candidates(med, band, [("N.m/kg divided by 1000 (read as N.mm/kg)", 1e3),
                                                 ("divided by body mass twice", 60.0)])
                fail(f"peak knee extensor moments across the trial (median {med:.3g} N.m/kg over {positive.size} "
                     f"cycles) are far below walking values {band[0]:g}-{band[1]:g} N.m/kg: unit error. Likely: "
                     f"{likely}")
    if knee_flexion_range_deg is not None:
        try:
            lo, hi = (float(v) for v in knee_flexion_range_deg)
        except (TypeError, ValueError):
            raise ValueError(f"knee_flexion_range_deg must be (min, max), got {knee_flexion_range_deg!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"knee_flexion_range_deg must be finite (min, max) with min <= max, got ({lo}, {hi})")
        if hi - lo < limits.radians_max_range_deg and max(abs(lo), abs(hi)) <= 2 * math.pi:
            fail(f"knee flexion spans only {lo:.3g} to {hi:.3g} over the whole trial: the angles look like RADIANS "
                 "(walking knee range is >= 40 deg); convert with numpy.rad2deg (docs/methods.md §0.2)")
        if lo < limits.sign_min_deg and hi < limits.sign_max_deg:
            fail(f"knee flexion ranges from {lo:.3g} to {hi:.3g} deg: mostly negative, so the source uses "
                 "extension positive; the pipeline needs flexion positive (docs/methods.md §0.2)")
