"""Physical checks of a dataset's sign and scale conventions, on the data (docs/methods.md §0.4).

Which way a joint angle is positive, whether a joint moment is extensor- or
flexor-positive and which body mass belongs to a recording are assumptions
about a dataset until its data confirm them. The functions here test them
with mechanics that holds in all healthy walking, from what an adapter has at
ingest: joint angles and moments, the vertical force of each treadmill belt
(or force plate) and the foot contacts found from that force. They need no
gait events of the later cycles stage, so an adapter can stop a run on the
files that broke an assumption.

* :func:`knee_power` -- sagittal knee power from the canonical signals,
  ``P = -M_ext * d(theta)/dt``: the definition that ties the sign of the knee
  moment to the sign of the knee angle.
* :func:`contacts` and :func:`strikes` -- complete contacts and foot strikes
  of one belt or plate from its vertical force.
* :func:`loading_response_knee_work` -- knee work from foot strike to the
  loading-response flexion peak (K1 of [Winter1991]_; negative in forward
  walking).
* :func:`ankle_pushoff_change` -- change of ankle dorsiflexion over the last
  quarter of stance (push-off plantarflexion; negative in forward walking).
* :func:`body_mass_from_belts` -- body mass from the mean vertical force over
  whole strides.
* :func:`sign_verdict` -- one decision from the per-stance values.

References
----------
.. [Winter1991] Winter DA (1991). The Biomechanics and Motor Control of Human
   Gait: Normal, Elderly and Pathological, 2nd ed. University of Waterloo Press.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrogait.ingest.units import G

__all__ = [
    "knee_power",
    "contacts",
    "strikes",
    "loading_response_knee_work",
    "ankle_pushoff_change",
    "body_mass_from_belts",
    "SignCheck",
    "sign_verdict",
]


def _series(name: str, x, n: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if n is not None and a.size != n:
        raise ValueError(f"{name} has {a.size} samples, expected {n} (same as time_s)")
    return a


def knee_power(knee_flexion_deg, knee_extensor_moment, time_s) -> np.ndarray:
    """Sagittal knee joint power from canonical signals (docs/methods.md §0.4).

    Joint power is the moment times the angular velocity about the same axis.
    In the canonical conventions (docs/methods.md §0.2) the knee angle
    ``theta`` is positive in flexion and the internal moment ``M_ext`` is
    positive when extensor, i.e. about the flexion axis the moment is
    ``-M_ext``. Hence

    ``P = -M_ext * d(theta)/dt``,  theta in rad.

    ``P < 0`` is energy absorbed (the muscles lengthen under load: the knee
    extensors in the loading response of forward walking, K1 of
    [Winter1991]_), ``P > 0`` energy generated. This formula is what ties the
    sign of the moment to the sign of the angle: a source whose knee
    coordinate is flexion-positive has a flexor-positive generalised force,
    and reading one without the other flips the power.

    Parameters
    ----------
    knee_flexion_deg
        Knee flexion [deg], flexion positive.
    knee_extensor_moment
        Internal knee moment, extensor positive, in N.m/kg (power in W/kg) or
        N.m (power in W).
    time_s
        Sample times [s], strictly increasing (need not be uniform).

    Returns
    -------
    numpy.ndarray
        Knee power, same length as the inputs. The angular velocity is the
        second-order central difference (:func:`numpy.gradient` with the
        sample times); a NaN sample makes its neighbours' power NaN.

    Examples
    --------
    A knee flexing at 1 rad/s under a 1 N.m/kg extensor moment absorbs 1 W/kg:

    >>> t = np.linspace(0.0, 1.0, 11)
    >>> knee_power(np.degrees(t), np.ones(11), t).round(12).tolist()[:3]
    [-1.0, -1.0, -1.0]
    """
    t = _series("time_s", time_s)
    if t.size < 2:
        raise ValueError("knee_power needs at least 2 samples")
    if not np.all(np.diff(t) > 0):
        raise ValueError("time_s must increase strictly")
    theta = np.radians(_series("knee_flexion_deg", knee_flexion_deg, t.size))
    m = _series("knee_extensor_moment", knee_extensor_moment, t.size)
    return -m * np.gradient(theta, t)


def contacts(fz, rate_hz: float, *, threshold_n: float = 20.0, min_state_s: float = 0.02,
             stance_range_s: tuple[float, float] = (0.2, 2.5)) -> np.ndarray:
    """Complete contacts of one belt or plate: ``[[strike, off], ...]`` sample indices.

    A sample is loaded when ``fz > threshold_n``; runs of either state shorter
    than ``min_state_s`` are merged into the preceding run (20 N and 20 ms as
    the force events of docs/methods.md §4.1). ``strike`` is the first loaded
    sample, ``off`` the first unloaded sample after it. Only complete contacts
    count: unloaded samples on both sides, no NaN from the sample before the
    strike to the off sample (NaN is unknown, never swing), and a duration
    within ``stance_range_s``.

    Parameters
    ----------
    fz
        Vertical force on the foot [N], up positive.
    rate_hz
        Sampling rate [Hz].
    threshold_n, min_state_s, stance_range_s
        Contact threshold [N], shortest state [s], plausible stance durations [s].

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(n, 2)``.
    """
    finite, strikes, offs = _edges(fz, rate_hz, threshold_n, min_state_s)
    out = []
    lo, hi = stance_range_s
    for s in strikes:
        later = offs[offs > s]
        if not later.size:
            break
        o = int(later[0])
        if not finite[s - 1:o + 1].all():
            continue
        if lo <= (o - s) / rate_hz <= hi:
            out.append((int(s), o))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def strikes(fz, rate_hz: float, *, threshold_n: float = 20.0, min_state_s: float = 0.02) -> np.ndarray:
    """Foot strikes on one belt or plate: sample indices where a contact starts (see :func:`contacts`).

    Unlike :func:`contacts`, the contact need not end inside the record (the
    last foot strike of a window closes the last whole stride); the sample
    before the strike must be finite and unloaded.
    """
    finite, on_edges, _ = _edges(fz, rate_hz, threshold_n, min_state_s)
    return np.array([int(i) for i in on_edges if finite[i - 1] and finite[i]], dtype=np.int64)


def _edges(fz, rate_hz: float, threshold_n: float, min_state_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite mask, rising and falling edges of the persisted contact state."""
    f = _series("fz", fz)
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
    finite = np.isfinite(f)
    on = np.where(finite, f, -np.inf) > threshold_n
    min_run = max(1, int(round(min_state_s * rate_hz)))
    edges = np.flatnonzero(np.diff(on.astype(np.int8)) != 0) + 1
    bounds = np.concatenate([[0], edges, [on.size]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < min_run and a > 0:
            on[a:b] = on[a - 1]
    d = np.diff(on.astype(np.int8))
    return finite, np.flatnonzero(d == 1) + 1, np.flatnonzero(d == -1) + 1


def loading_response_knee_work(time_s, knee_flexion_deg, knee_extensor_moment,
                               stances: Sequence[tuple[float, float]], *, window_fraction: float = 0.4,
                               min_flexion_deg: float = 2.0) -> np.ndarray:
    """Knee work in the loading response of each stance [J/kg with moments in N.m/kg].

    The loading response runs from foot strike to the peak of knee flexion
    within the first ``window_fraction`` of stance. In forward walking the
    knee flexes there under an internal extensor moment, so the work is
    negative: the K1 energy absorption of [Winter1991]_ (docs/methods.md
    §0.4). The work is the trapezoidal time integral of :func:`knee_power`.

    Parameters
    ----------
    time_s, knee_flexion_deg, knee_extensor_moment
        Canonical signals on one time base (see :func:`knee_power`).
    stances
        ``(foot_strike_s, foot_off_s)`` of each stance of this leg.
    window_fraction
        Part of stance searched for the flexion peak (default 0.4; the
        loading-response peak lies at about 15 % of the stride, 25 % of
        stance, in forward walking).
    min_flexion_deg
        A stance whose knee flexes less than this from foot strike to the
        peak has no loading response to judge: NaN.

    Returns
    -------
    numpy.ndarray
        One value per stance; NaN where the stance lies outside the data, has
        missing samples or no loading-response flexion.
    """
    t = _series("time_s", time_s)
    flex = _series("knee_flexion_deg", knee_flexion_deg, t.size)
    power = knee_power(flex, knee_extensor_moment, t)
    out = []
    for fs, fo in stances:
        sel = np.flatnonzero((t >= fs) & (t <= fs + window_fraction * (fo - fs)))
        if sel.size < 3 or not (np.isfinite(flex[sel]).all() and np.isfinite(power[sel]).all()):
            out.append(math.nan)
            continue
        peak = sel[int(np.argmax(flex[sel]))]
        if flex[peak] - flex[sel[0]] < min_flexion_deg or peak - sel[0] < 2:
            out.append(math.nan)
            continue
        w = slice(sel[0], peak + 1)
        out.append(float(np.trapezoid(power[w], t[w])))
    return np.array(out, dtype=float)


def ankle_pushoff_change(time_s, ankle_dorsiflexion_deg, stances: Sequence[tuple[float, float]], *,
                         fraction: float = 0.25) -> np.ndarray:
    """Change of ankle dorsiflexion over the last ``fraction`` of each stance [deg].

    ``theta(foot_off) - theta(foot_off - fraction * stance_time)``. In
    forward walking the ankle, dorsiflexed about 10 deg in late stance,
    plantarflexes to about -15 to -20 deg at toe-off (push-off, A2 of
    [Winter1991]_), so the change is about -20 to -30 deg in a
    dorsiflexion-positive angle and positive in a plantarflexion-positive one
    (docs/methods.md §0.4). Linear interpolation on the finite samples; NaN
    when the window is not inside the data.
    """
    t = _series("time_s", time_s)
    y = _series("ankle_dorsiflexion_deg", ankle_dorsiflexion_deg, t.size)
    ok = np.isfinite(y)
    out = []
    for fs, fo in stances:
        a = fo - fraction * (fo - fs)
        inside = ok & (t >= a - 1e-9) & (t <= fo + 1e-9)
        if ok.sum() < 2 or inside.sum() < 2 or a < t[ok][0] or fo > t[ok][-1]:
            out.append(math.nan)
            continue
        ya, yb = np.interp([a, fo], t[ok], y[ok])
        out.append(float(yb - ya))
    return np.array(out, dtype=float)


def body_mass_from_belts(time_s, belts_fz: Sequence, strike_times_s, *, g: float = G) -> tuple[float, int, str]:
    """Body mass from the vertical ground reaction force over whole strides (docs/methods.md §0.4).

    Over whole strides of steady treadmill walking the body's centre of mass
    has no net vertical acceleration, so the time-mean of the total vertical
    force equals body weight: ``m = mean(F_L + F_R) / g``. With the force of
    ONE belt only (one foot), the mean is about half the body weight if the
    two legs carry equal vertical impulses: ``m = 2 * mean(F) / g``; this
    assumes left-right symmetry (healthy walking: within a few per cent) and
    is the only estimate single-belt files allow.

    Parameters
    ----------
    time_s
        Sample times [s] of the forces.
    belts_fz
        Vertical force of each belt [N], one array per belt: one belt (one
        foot) or two (both feet).
    strike_times_s
        Foot strikes of one foot on its belt [s]; the mean is taken from the
        first to the last (whole strides only).

    Returns
    -------
    mass_kg, n_strides, method
        The estimate (NaN with fewer than 2 whole strides or missing samples
        inside them), the number of strides and a one-line description.
    """
    t = _series("time_s", time_s)
    if not 1 <= len(belts_fz) <= 2:
        raise ValueError(f"give the vertical force of one or two belts, got {len(belts_fz)}")
    total = np.zeros(t.size)
    for k, f in enumerate(belts_fz):
        total = total + _series(f"belts_fz[{k}]", f, t.size)
    strikes = np.sort(np.asarray(strike_times_s, dtype=float))
    n = max(int(strikes.size) - 1, 0)
    factor = 2.0 if len(belts_fz) == 1 else 1.0
    how = (f"{factor:g} x mean vertical force of one belt over {n} whole strides / g (assumes left-right "
           "symmetric loading)" if factor == 2.0 else
           f"mean vertical force of both belts over {n} whole strides / g")
    if n < 2:
        return math.nan, n, how
    sel = (t >= strikes[0]) & (t < strikes[-1])
    if sel.sum() < 2 or not np.isfinite(total[sel]).all():
        return math.nan, n, how
    # the time-mean over [first, last strike): trapezoid on the samples inside / covered span
    mean = float(np.trapezoid(total[sel], t[sel]) / (t[sel][-1] - t[sel][0]))
    return factor * mean / g, n, how


@dataclass(frozen=True)
class SignCheck:
    """Result of :func:`sign_verdict`.

    ``verdict`` is ``"confirmed"`` (the values have the expected sign),
    ``"contradicted"`` (they have the opposite sign) or ``"inconclusive"``;
    ``median`` the median of the finite values; ``n`` their number;
    ``n_expected`` / ``n_opposite`` how many have the expected / opposite
    sign beyond ``margin``.
    """

    verdict: str
    median: float
    n: int
    n_expected: int
    n_opposite: int

    def describe(self, unit: str) -> str:
        return (f"median {self.median:+.3g} {unit} over {self.n} stances ({self.n_expected} with the expected "
                f"sign, {self.n_opposite} opposite)")


def sign_verdict(values, *, expected: int, margin: float, min_n: int = 2, agreement: float = 2 / 3) -> SignCheck:
    """Decide whether per-stance values have the expected sign.

    ``confirmed`` when at least ``min_n`` values are finite, the median has
    the expected sign with magnitude above ``margin`` and at least
    ``agreement`` of the values have that sign beyond ``margin``;
    ``contradicted`` when the same holds for the opposite sign; else
    ``inconclusive``.
    """
    if expected not in (-1, 1):
        raise ValueError("expected must be -1 or +1")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return SignCheck("inconclusive", math.nan, 0, 0, 0)
    med = float(np.median(v))
    n_exp = int(np.sum(expected * v > margin))
    n_opp = int(np.sum(-expected * v > margin))
    verdict = "inconclusive"
    if v.size >= min_n:
        if expected * med > margin and n_exp >= agreement * v.size:
            verdict = "confirmed"
        elif -expected * med > margin and n_opp >= agreement * v.size:
            verdict = "contradicted"
    return SignCheck(verdict, med, int(v.size), n_exp, n_opp)
