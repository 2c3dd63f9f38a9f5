"""Gait events and cycles for forward (FW) and backward (BW) walking.

Three sources of events, in order of preference (docs/methods.md §4):

``force``
    Vertical ground reaction force of each force plate or instrumented belt,
    thresholded with optional hysteresis and minimum state durations
    (:func:`force_contacts`). Each plate contact is given to a foot from the
    centre of pressure (COP) against the heel and toe markers of both feet,
    or from ``plates.foot`` when the plate or belt belongs to one foot. A
    contact edge is *clean* only if exactly one foot makes it, it lies
    inside the record (and away from NaN force) and the foot really lands /
    leaves there (a foot that is already / still on the floor beside the
    plate makes a partial plate contact); only clean edges become events.
    NaN force is unknown, never swing.
``kinematic``
    A direction-agnostic form of Zeni et al. (2008). The direction of
    travel comes from the pelvis velocity relative to the stance foot
    (``v_pelvis - v_stance_foot``), which works overground and on a belt,
    never from the way the pelvis or the feet face. Contact = local maximum
    of (contact marker - pelvis) along the travel direction; foot-off = local
    minimum of (last marker - pelvis). When the subject travels the way the
    feet point (FW) the contact marker is the heel and the last marker the
    toe; when travelling backward the contact is toe-first and the heel
    leaves last.
``stored``
    Events stored in the source file. They fill only gaps that neither force
    nor kinematics cover, and go through the same cycle checks.

:func:`find_cycles` combines them per side (force first; kinematic events
where no plate saw the event, giving ``event_method = "force+kinematic"``
cycles), compares kinematic with force events where both exist (the bias is
reported per travel direction and, by default, removed from the trial's
kinematic events: ``correct_kinematic_bias``), and runs the event-sequence
checks of docs/methods.md §4.5. Rejected cycles stay in the table with a
reason. A cycle is ``kinetics_valid`` only when its whole stance is one
clean single-foot plate or belt contact.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrogait._lazy import lazy_module
from retrogait.config import dataclass_options
from retrogait.errors import ConfigError
from retrogait.ingest.trial import SIDES, Stream, Trial

signal = lazy_module("scipy.signal")  # imported on first use

__all__ = [
    "EVENT_TYPES",
    "EVENT_COLUMNS",
    "CONTACT_COLUMNS",
    "CYCLE_COLUMNS",
    "EventParams",
    "TravelInfo",
    "CycleResult",
    "force_contacts",
    "travel_direction",
    "detect_events",
    "build_cycles",
    "find_cycles",
]

EVENT_TYPES = ("foot_strike", "foot_off")

#: Columns of the event tables (the first six are the contract).
EVENT_COLUMNS = ["side", "event", "time_s", "method", "detail", "clean",
                 "plate", "contact", "contact_clean", "reason"]

_CONTACT_TYPES = {"on_s": float, "off_s": float, "on_idx": int, "off_idx": int, "on_clean": bool, "off_clean": bool,
                  "peak_n": float, "on_reason": str, "off_reason": str}
#: Columns of :func:`force_contacts` (the first seven are the contract).
CONTACT_COLUMNS = list(_CONTACT_TYPES)

#: Columns of ``CycleResult.cycles`` (up to ``qc_reason`` the contract).
CYCLE_COLUMNS = ["side", "cycle", "fs_s", "fo_s", "next_fs_s", "kind", "event_method", "travel",
                 "kinetics_valid", "plate", "qc_status", "qc_reason",
                 "stride_s", "stance_s", "stance_pct", "fs_method", "fo_method", "next_fs_method",
                 "qc_flags"]

_METHOD_ORDER = ("force", "kinematic", "stored")


# ---------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EventParams:
    """Parameters of event detection and cycle checks.

    Defaults and where they come from (docs/methods.md §4 unless stated):
    """

    #: Fz above this is contact (N). 20 N rising edge:
    #: aaronsfox/pfjrf-methods code/calc_PFJRF.py@2d0076cc; section 4.1 rule.
    force_threshold_n: float = 20.0
    #: Fz below this ends a contact (N); ``None`` = ``force_threshold_n``
    #: (no hysteresis). Section 4.1: use a 10-20 N band on noisy belts.
    force_off_threshold_n: float | None = None
    #: Zero-lag low-pass of Fz before thresholding (Hz); ``None`` = none.
    #: Section 4.1: "~20-50 Hz with zero lag".
    force_lowpass_hz: float | None = 30.0
    #: A state (contact or no contact) must persist this long (s). Section
    #: 4.1: 20 ms; kenaifjords/Treadmill 20-sample persistence; Moissenet
    #: GaitEventsAlgorithms 5 frames.
    min_state_s: float = 0.02
    #: Shortest stance (s); shorter interior plate contacts are spikes.
    #: Section 4.1 (walking).
    min_stance_s: float = 0.25
    #: Shortest swing (s); shorter unloaded gaps on one plate are bridged.
    #: Section 4.1 (walking).
    min_swing_s: float = 0.20
    #: Stride duration bounds (s): gt23-format.md section 7 [S4], "keep
    #: cycles ... 0.6-3.0 s".
    min_stride_s: float = 0.6
    max_stride_s: float = 3.0
    #: Stride time must lie within trial median +/- this fraction.
    #: Section 4.5 (median +/- 25 %).
    stride_tolerance: float = 0.25
    #: Plausible stance % of the stride, FW or BW. Section 4.5 gives
    #: 55-70 %; widened by 5 points on each side for the longer BW stance
    #: (0.61-0.63, gt23-format.md section 7) and kinematic event error.
    stance_pct_range: tuple[float, float] = (50.0, 75.0)
    #: Marker low-pass for the kinematic method (Hz). 6 Hz: the usual
    #: marker cut-off for walking (Winter, Biomechanics and Motor Control
    #: of Human Movement) [M]; section 4.2 implementations use 10-15 Hz.
    kinematic_lowpass_hz: float = 6.0
    #: Kinematic vs force events further apart than this are flagged (s).
    #: Section 4.5.
    max_event_disagreement_s: float = 0.05
    #: Use events stored in the file (after the same checks) where neither
    #: force nor kinematics give the event.
    use_stored: bool = True
    #: A trial must contain at least one complete stride (foot strike to the
    #: next foot strike of the same foot); otherwise its stance-only cycles
    #: are rejected as "too short for a full stride": their events cannot be
    #: checked against the trial's stride time (section 4.5). [D]
    require_stride: bool = True
    #: Foot angle at contact within +/- this band (deg) is a flat-foot
    #: contact; below it toe-first, above it heel-first (section 4.8). [D]
    #: the mid-stance reference removes marker offsets; 5 deg is about the
    #: between-session error of sagittal angles (McGinley et al. 2009).
    contact_flat_deg: float = 5.0
    #: A stored event further than this from the detected event used for the
    #: same occurrence (s) makes the cycles using that event ``rejected`` or
    #: ``flagged`` (``stored_disagreement``): one of the two is wrong and the
    #: data cannot tell which. [D] 0.05 s as for kinematic vs force; stored and
    #: detected events agree within 36 ms in ESMAC and gaitalytics but for two
    #: ESMAC foot-offs (87 and 274 ms).
    max_stored_disagreement_s: float = 0.05
    #: ``reject`` (default) or ``flag`` the cycles of a disagreeing stored event.
    stored_disagreement: str = "reject"
    # -- further parameters (not in the config schema; defaults are [D]) --
    #: Unloaded-plate offset removed from Fz when smaller than this (N);
    #: ``None`` = never. [D] gaitalytics test_small: offsets -15.6 N (fp4)
    #: and -31.7 N (fp3, unloaded).
    force_max_offset_n: float | None = 50.0
    #: Events of one side and type from two sources closer than this are the
    #: same event (s); half the shortest stride.
    match_window_s: float = 0.3
    #: COP further than this from the heel-toe line of every foot: foot
    #: unknown (m). [D] foot half-width plus marker placement.
    cop_tolerance_m: float = 0.15
    #: COP step between kinematic frames (overground plates) or within
    #: ``cop_jump_window_s`` (belts of one foot) larger than this is a jump:
    #: a second foot on the plate (m). [D] a single foot moves its COP
    #: < 0.3 m over a whole stance (< 0.08 m in 50 ms even at 1.5 m/s);
    #: a second foot lands a step length (0.4-0.7 m) away.
    cop_jump_m: float = 0.10
    #: Window of the COP-jump test on a belt of one foot (s). [D] the
    #: loading of a landing foot takes 50-100 ms.
    cop_jump_window_s: float = 0.05
    #: A contact on a belt of one foot whose peak is below this fraction of
    #: the belt's median contact peak: the foot was partly on the other belt
    #: (its kinetics are excluded). [D] cycle-to-cycle vGRF peaks vary by
    #: 3-5 % in steady treadmill walking.
    crossover_min_peak_fraction: float = 0.6
    #: ... whose duration exceeds this factor times the median contact: a
    #: second foot shared the belt. [D]
    crossover_max_duration_factor: float = 1.5
    #: Travel direction is undefined below this speed relative to the
    #: stance foot (m/s). [D]
    min_travel_speed_mps: float = 0.15
    #: Moving-median window of the travel and facing vectors (s). [D]
    travel_window_s: float = 0.5
    #: A kinematic extremum must rise/fall by at least this on both sides
    #: (m). [D] a walking step moves the foot 0.3-0.8 m relative to the pelvis.
    kinematic_min_excursion_m: float = 0.05
    #: A foot moving faster than this relative to the surface is in swing
    #: and cannot be the foot loading a plate (m/s). [D] mid-swing foot
    #: speed is 2-4 m/s, mid-stance < 0.3 m/s (ESMAC, gaitalytics).
    swing_speed_mps: float = 1.5
    #: Mean foot speed in the 50 ms before a plate loads (after it unloads)
    #: below which the foot was already (still) on the ground: a partial
    #: plate contact, edge not clean (m/s). [D] ESMAC + gaitalytics: >= 0.65
    #: before genuine contacts, >= 1.15 after genuine foot-offs, 0.07 at a
    #: foot that left the plate edge while still on the floor (HC032A18).
    partial_contact_speed_mps: float = 0.3
    #: Shift kinematic events by the median kinematic-minus-force difference
    #: of the same trial and event type when force pairs exist. [D] Zeni
    #: foot strikes are 30-40 ms early against force in ESMAC and
    #: gaitalytics; the raw bias is always reported.
    correct_kinematic_bias: bool = True

    def __post_init__(self) -> None:
        def positive(name: str, allow_none: bool = False, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or v < 0 or (v == 0 and not allow_zero):
                raise ConfigError(f"events.{name} must be a {'non-negative' if allow_zero else 'positive'} "
                                  f"number, got {v!r}")

        positive("force_threshold_n")
        positive("force_off_threshold_n", allow_none=True)
        positive("force_lowpass_hz", allow_none=True)
        positive("force_max_offset_n", allow_none=True, allow_zero=True)
        for name in ("min_state_s", "min_stance_s", "min_swing_s"):
            positive(name, allow_zero=True)
        for name in ("min_stride_s", "max_stride_s", "stride_tolerance", "kinematic_lowpass_hz",
                     "max_event_disagreement_s", "max_stored_disagreement_s", "match_window_s",
                     "cop_tolerance_m", "cop_jump_m",
                     "cop_jump_window_s", "crossover_min_peak_fraction", "crossover_max_duration_factor",
                     "min_travel_speed_mps", "travel_window_s", "kinematic_min_excursion_m",
                     "swing_speed_mps", "partial_contact_speed_mps"):
            positive(name)
        if self.force_off_threshold_n is not None and self.force_off_threshold_n > self.force_threshold_n:
            raise ConfigError(f"events.force_off_threshold_n ({self.force_off_threshold_n}) must not exceed "
                              f"events.force_threshold_n ({self.force_threshold_n}): hysteresis needs off <= on")
        if self.max_stride_s <= self.min_stride_s:
            raise ConfigError(f"events.max_stride_s ({self.max_stride_s}) must exceed "
                              f"events.min_stride_s ({self.min_stride_s})")
        rng = tuple(self.stance_pct_range)
        if (len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng)
                or not 0 <= rng[0] < rng[1] <= 100):
            raise ConfigError(f"events.stance_pct_range must be [low, high] with 0 <= low < high <= 100, "
                              f"got {self.stance_pct_range!r}")
        object.__setattr__(self, "stance_pct_range", (float(rng[0]), float(rng[1])))
        if not self.crossover_min_peak_fraction < 1:
            raise ConfigError(f"events.crossover_min_peak_fraction must be below 1, got "
                              f"{self.crossover_min_peak_fraction!r}")
        if not self.crossover_max_duration_factor > 1:
            raise ConfigError(f"events.crossover_max_duration_factor must exceed 1, got "
                              f"{self.crossover_max_duration_factor!r}")
        positive("contact_flat_deg", allow_zero=True)
        for name in ("use_stored", "correct_kinematic_bias", "require_stride"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"events.{name} must be true or false, got {getattr(self, name)!r}")
        if self.stored_disagreement not in ("reject", "flag"):
            raise ConfigError(f"events.stored_disagreement must be 'reject' or 'flag', "
                              f"got {self.stored_disagreement!r}")

    @property
    def off_threshold_n(self) -> float:
        """The contact-off threshold actually used (N)."""
        return self.force_threshold_n if self.force_off_threshold_n is None else self.force_off_threshold_n

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None) -> "EventParams":
        """Parameters from the ``events`` section of the run configuration.

        Keys whose value is ``None`` (YAML ``null``) are ignored and keep
        their default. Unknown keys are a :class:`ConfigError` naming the key,
        the closest known key and the list of known ones.
        """
        mapping = dataclass_options(cls, mapping, section="events")
        kwargs = {k: v for k, v in mapping.items() if v is not None}
        if "stance_pct_range" in kwargs:
            kwargs["stance_pct_range"] = tuple(kwargs["stance_pct_range"])
        return cls(**kwargs)


# ---------------------------------------------------------------------------
# result containers
# ---------------------------------------------------------------------------

@dataclass
class TravelInfo:
    """Direction of travel of one trial.

    ``vector`` is the per-sample unit horizontal (x, y) travel direction in
    the lab frame, relative to the supporting surface (NaN where the speed
    is below ``min_travel_speed_mps``); ``filled`` the same with gaps filled
    from the nearest known sample (used for projections). ``facing`` is the
    unit heel-to-toe direction of the feet. ``relative`` is +1 where the
    subject travels the way the feet point (FW), -1 opposite (BW), 0 unknown.
    ``direction`` summarises it for the trial.
    """

    time: np.ndarray
    vector: np.ndarray
    filled: np.ndarray
    facing: np.ndarray
    relative: np.ndarray
    direction: str
    method: str
    note: str
    speed_mps: float = float("nan")
    agreement: float = float("nan")
    surface_velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def at(self, t: float) -> str:
        """``FW``/``BW`` at time ``t`` (the trial summary where unknown)."""
        if len(self.time) == 0 or not np.isfinite(t):
            return self.direction
        i = int(np.clip(np.searchsorted(self.time, t), 0, len(self.time) - 1))
        r = self.relative[i]
        return "FW" if r > 0 else "BW" if r < 0 else self.direction


@dataclass
class CycleResult:
    """Result of :func:`find_cycles` for one trial.

    ``events``: the events used to build the cycles (columns
    :data:`EVENT_COLUMNS`). ``cycles``: one row per cycle (columns
    :data:`CYCLE_COLUMNS`), rejected ones included with ``qc_reason``.
    ``notes``: human-readable remarks (detector used, travel direction,
    kinematic-vs-force bias, stored events). ``contacts``: plate contacts per
    foot. ``agreement``: pairs of events from two sources (``pair`` =
    ``kinematic-force`` or ``stored-used``) with ``dt_ms`` = first - second.
    """

    events: pd.DataFrame
    cycles: pd.DataFrame
    notes: list[str]
    travel: TravelInfo | None = None
    contacts: pd.DataFrame = field(default_factory=lambda: _empty_contacts_per_foot())
    agreement: pd.DataFrame = field(default_factory=lambda: _empty_agreement())


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "side": pd.Series(dtype=str), "event": pd.Series(dtype=str), "time_s": pd.Series(dtype=float),
        "method": pd.Series(dtype=str), "detail": pd.Series(dtype=str), "clean": pd.Series(dtype=bool),
        "plate": pd.Series(dtype=str), "contact": pd.Series(dtype=str),
        "contact_clean": pd.Series(dtype=bool), "reason": pd.Series(dtype=str)})


_EVENT_DEFAULTS = {"detail": "", "plate": "", "contact": "", "reason": "", "clean": True, "contact_clean": False}


def _event_records(rows: list[dict]) -> list[dict]:
    """Event rows with every column of :data:`EVENT_COLUMNS`, in table order.

    Missing optional columns take their defaults, ``time_s`` is a float and
    the two flags are bools; the rows are sorted by time, side and event
    (stable, an undefined time last), as ``_events_frame`` orders its table.
    """
    out = []
    for r in rows:
        d = {c: r[c] if c in r else _EVENT_DEFAULTS[c] for c in EVENT_COLUMNS}
        d["time_s"] = float(d["time_s"])
        d["clean"] = bool(d["clean"])
        d["contact_clean"] = bool(d["contact_clean"])
        out.append(d)
    out.sort(key=_event_order)
    return out


def _event_order(r: dict) -> tuple:
    t = r["time_s"]
    return (0, t, r["side"], r["event"]) if t == t else (1, 0.0, r["side"], r["event"])


def _events_frame(records: list[dict]) -> pd.DataFrame:
    """The events table of rows already passed through :func:`_event_records`."""
    if not records:
        return _empty_events()
    # typed columns built directly: the same table as DataFrame(records).astype(...), without its per-call cost
    types = {"time_s": float, "clean": bool, "contact_clean": bool}
    return pd.DataFrame({c: np.array([r[c] for r in records], dtype=types[c]) if c in types else [r[c] for r in records]
                         for c in EVENT_COLUMNS})


def _empty_cycles() -> pd.DataFrame:
    types = {"side": str, "cycle": int, "fs_s": float, "fo_s": float, "next_fs_s": float, "kind": str,
             "event_method": str, "travel": str, "kinetics_valid": bool, "plate": str, "qc_status": str,
             "qc_reason": str, "stride_s": float, "stance_s": float, "stance_pct": float,
             "fs_method": str, "fo_method": str, "next_fs_method": str, "qc_flags": str}
    return pd.DataFrame({c: pd.Series(dtype=types[c]) for c in CYCLE_COLUMNS})


def _empty_contacts_per_foot() -> pd.DataFrame:
    return pd.DataFrame({
        "plate": pd.Series(dtype=str), "contact": pd.Series(dtype=str), "side": pd.Series(dtype=str),
        "on_s": pd.Series(dtype=float), "off_s": pd.Series(dtype=float),
        "on_clean": pd.Series(dtype=bool), "off_clean": pd.Series(dtype=bool),
        "single_foot": pd.Series(dtype=bool), "peak_n": pd.Series(dtype=float),
        "reason": pd.Series(dtype=str)})


def _empty_agreement() -> pd.DataFrame:
    return pd.DataFrame({
        "pair": pd.Series(dtype=str), "side": pd.Series(dtype=str), "event": pd.Series(dtype=str),
        "travel": pd.Series(dtype=str), "time_s": pd.Series(dtype=float),
        "other_s": pd.Series(dtype=float), "dt_ms": pd.Series(dtype=float)})


# ---------------------------------------------------------------------------
# signal helpers
# ---------------------------------------------------------------------------

def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` index ranges where ``mask`` is true."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), stops.tolist()))


def _fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation over interior NaN gaps of at most ``max_gap`` samples."""
    x = np.array(x, dtype=float)
    bad = ~np.isfinite(x)
    if not bad.any() or bad.all():
        return x
    idx = np.arange(x.size)
    good = ~bad
    first, last = idx[good][0], idx[good][-1]
    for a, b in _runs(bad):
        if a > first and b <= last and b - a <= max_gap:
            x[a:b] = np.interp(idx[a:b], idx[good], x[good])
    return x


def _lowpass(x: np.ndarray, rate_hz: float, cutoff_hz: float | None, order: int = 2) -> np.ndarray:
    """Zero-lag Butterworth low-pass of each finite run; NaN stays NaN.

    ``x`` is one signal, or signals in columns (each filtered on its own
    runs). Runs too short to filter are left as they are.
    """
    x = np.array(x, dtype=float)
    if cutoff_hz is None or cutoff_hz >= 0.95 * rate_hz / 2:
        return x
    sos = _butter_lowpass(order, float(cutoff_hz), float(rate_hz)).copy()
    finite = np.isfinite(x)
    if x.ndim == 2 and not (finite == finite[:, :1]).all():
        for k in range(x.shape[1]):
            x[:, k] = _lowpass(x[:, k], rate_hz, cutoff_hz, order)
        return x
    # one signal, or columns with the same gaps: filtered together along time
    for a, b in _runs(finite if x.ndim == 1 else finite[:, 0]):
        if b - a >= 12:
            x[a:b] = signal.sosfiltfilt(sos, x[a:b], axis=0, padlen=min(3 * (2 * len(sos) + 1), b - a - 1))
    return x


@functools.lru_cache(maxsize=32)
def _butter_lowpass(order: int, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Butterworth low-pass sections, designed once per order, cut-off and rate (callers get a copy)."""
    return signal.butter(order, cutoff_hz, btype="low", fs=rate_hz, output="sos")


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward fill NaN (leading NaN stay NaN)."""
    v = np.asarray(values, dtype=float)
    idx = np.where(np.isfinite(v), np.arange(v.size), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.full(v.size, np.nan)
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    return out


def _moving_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median of each column, ignoring NaN."""
    frame = pd.DataFrame(np.asarray(x, dtype=float))
    return frame.rolling(max(1, int(window)), center=True, min_periods=1).median().to_numpy()


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / n
    u[~np.isfinite(u).all(axis=-1) | (n[..., 0] == 0)] = np.nan
    return u


def _fill_nearest(v: np.ndarray) -> np.ndarray:
    """Fill NaN rows with the nearest finite row (forward, then backward)."""
    v = np.array(v, dtype=float)
    ok = np.isfinite(v).all(axis=1)
    if not ok.any():
        return v
    idx = np.arange(len(v))
    good = idx[ok]
    pos = np.clip(np.searchsorted(good, idx), 0, len(good) - 1)
    prev = good[np.clip(pos - 1, 0, len(good) - 1)]
    nxt = good[pos]
    nearest = np.where(np.abs(idx - prev) <= np.abs(nxt - idx), prev, nxt)
    return v[nearest]


def _checked_time(trial: Trial, stream: Stream, name: str) -> np.ndarray:
    """Time of a stream, checked: present, finite, strictly increasing, at its rate."""
    if "time_s" not in stream.frame.columns:
        raise trial.error(f"{name} stream has no time_s column")
    t = stream.frame["time_s"].to_numpy(dtype=float)
    if t.size == 0:
        raise trial.error(f"{name} stream is empty")
    if not np.isfinite(t).all():
        raise trial.error(f"{name} stream time_s has non-finite values")
    if t.size > 1:
        dt = np.diff(t)
        if not (dt > 0).all():
            raise trial.error(f"{name} stream time_s is not strictly increasing "
                              f"(first problem at sample {int(np.argmin(dt > 0)) + 1})")
        step = float(np.median(dt))
        if abs(step * stream.rate_hz - 1.0) > 0.05:
            raise trial.error(f"{name} stream: time_s step {step:.6g} s does not match rate "
                              f"{stream.rate_hz:g} Hz")
    return t


# ---------------------------------------------------------------------------
# force-based contacts
# ---------------------------------------------------------------------------

def _unloaded_offset(fz: np.ndarray, params: EventParams) -> float:
    """Level of an unloaded plate (N), 0 when it cannot be told or is too large."""
    limit = params.force_max_offset_n
    v = fz[np.isfinite(fz)]
    if limit is None or v.size < 20:
        return 0.0
    low = np.sort(v)[: max(10, v.size // 10)]
    b = float(np.median(low))
    band = params.force_threshold_n
    for _ in range(3):
        near = v[np.abs(v - b) < band]
        if near.size < max(10, v.size // 20):
            return 0.0
        b = float(np.median(near))
    return b if abs(b) <= limit else 0.0


def force_contacts(fz: np.ndarray, rate_hz: float, *, params: EventParams = EventParams(),
                   time: np.ndarray | None = None) -> pd.DataFrame:
    """Contacts of one plate or belt from its vertical force.

    Steps (docs/methods.md §4.1): remove the unloaded offset when it is
    small (``force_max_offset_n``); zero-lag low-pass; contact ON above
    ``force_threshold_n`` and OFF below ``force_off_threshold_n``
    (hysteresis); ON and OFF states shorter than ``min_state_s`` are
    discarded; then interior contacts shorter than ``min_stance_s`` are
    dropped as spikes; then unloaded gaps shorter than ``min_swing_s`` are
    bridged (a foot cannot swing that fast; two feet in such a merged
    contact are told apart later from the COP).

    NaN force is unknown, never unloaded: a contact next to a NaN gap or the
    record boundary has that edge not clean (``on_clean``/``off_clean``
    false, with ``on_reason``/``off_reason``). ``on_idx`` is the first
    sample in contact, ``off_idx`` the first sample after it (the last
    sample when the contact runs to the end). Times come from ``time`` when
    given, else ``index / rate_hz``. ``peak_n`` is the peak filtered force.
    ``attrs``: ``offset_n`` (removed offset) and ``n_spikes`` (dropped
    contacts).
    """
    rows, offset, spikes, _ = _contacts(fz, rate_hz, params=params, time=time)
    # typed columns built directly (the same frame as DataFrame(rows).astype(...), without its per-call cost)
    df = pd.DataFrame({c: (pd.array([r[c] for r in rows], dtype=str) if t is str
                           else np.array([r[c] for r in rows], dtype=t)) for c, t in _CONTACT_TYPES.items()})
    df.attrs["offset_n"] = offset
    df.attrs["n_spikes"] = spikes
    return df


def _contacts(fz: np.ndarray, rate_hz: float, *, params: EventParams,
              time: np.ndarray | None) -> tuple[list[dict], float, int, np.ndarray]:
    """:func:`force_contacts` as rows, with its offset, its spike count and the filtered force it thresholded."""
    fz = np.asarray(fz, dtype=float).ravel()
    n = fz.size
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
    if time is None:
        time = np.arange(n) / rate_hz
    time = np.asarray(time, dtype=float)
    if time.size != n:
        raise ValueError(f"time has {time.size} samples, fz has {n}")

    offset = _unloaded_offset(fz, params)
    x = _lowpass(fz - offset, rate_hz, params.force_lowpass_hz)
    on_thr, off_thr = params.force_threshold_n, params.off_threshold_n
    min_state = int(round(params.min_state_s * rate_hz))
    min_gap = max(min_state, int(round(params.min_swing_s * rate_hz)))
    min_stance = int(round(params.min_stance_s * rate_hz))

    rows = []
    spikes = 0
    for a, b in _runs(np.isfinite(x)):
        seg = x[a:b]
        raw = np.full(seg.size, np.nan)
        raw[seg > on_thr] = 1.0
        raw[seg < off_thr] = 0.0
        state = _ffill(raw)
        state[~np.isfinite(state)] = 0.0  # between thresholds at the start: not yet in contact
        on = state > 0.5
        # ON must persist min_state_s ...
        for s, e in _runs(on):
            if e - s < min_state:
                on[s:e] = False
        # ... and so must OFF
        for s, e in _runs(~on):
            if s > 0 and e < seg.size and e - s < min_state:
                on[s:e] = True
        # interior contacts shorter than a stance are spikes, not steps
        for s, e in _runs(on):
            if s > 0 and e < seg.size and e - s < min_stance:
                on[s:e] = False
                spikes += 1
        # unloaded gaps shorter than a swing are dropouts within one loading
        for s, e in _runs(~on):
            if s > 0 and e < seg.size and e - s < min_gap:
                on[s:e] = True
        for s, e in _runs(on):
            on_clean, off_clean = s > 0, e < seg.size
            i0, i1 = a + s, a + e if off_clean else a + e - 1
            rows.append({
                "on_s": float(time[i0]), "off_s": float(time[i1]), "on_idx": int(i0), "off_idx": int(i1),
                "on_clean": bool(on_clean), "off_clean": bool(off_clean),
                "peak_n": float(np.max(seg[s:e])),
                "on_reason": "" if on_clean else ("record start" if a == 0 else "force data gap"),
                "off_reason": "" if off_clean else ("record end" if a + e == n else "force data gap"),
            })
    return rows, offset, spikes, x


# ---------------------------------------------------------------------------
# kinematics
# ---------------------------------------------------------------------------

@dataclass
class _Kin:
    time: np.ndarray
    rate: float
    heel: dict[str, np.ndarray]
    toe: dict[str, np.ndarray]
    pelvis: np.ndarray | None
    notes: list[str]

    @property
    def feet(self) -> list[str]:
        return [s for s in SIDES if s in self.heel and s in self.toe]

    def foot_speed(self, side: str, surface_velocity: np.ndarray) -> np.ndarray:
        """Speed of the foot centre (mean of heel and toe) relative to the surface (m/s)."""
        centre = (self.heel[side] + self.toe[side]) / 2
        v = np.gradient(centre, self.time, axis=0)
        v[:, :2] -= np.asarray(surface_velocity, dtype=float)[:2]
        return np.linalg.norm(v, axis=1)

    def reference(self) -> tuple[np.ndarray, str]:
        """Horizontal reference point: pelvis, else the mean of the feet."""
        if self.pelvis is not None:
            return self.pelvis[:, :2], "pelvis"
        feet = self.feet
        pts = [self.heel[s][:, :2] for s in feet] + [self.toe[s][:, :2] for s in feet]
        # the body's progression: the feet's mean without its step-frequency swing
        mean = np.mean(pts, axis=0)
        smooth = _lowpass(mean, self.rate, 0.5)
        return smooth, "low-passed (0.5 Hz) mean of the foot markers (no pelvis marker)"


def _prepare_kinematics(trial: Trial, params: EventParams) -> _Kin | None:
    k = trial.kinematics
    if k is None:
        return None
    t = _checked_time(trial, k, "kinematics")
    rate = float(k.rate_hz)
    max_gap = int(round(0.1 * rate))

    def marker(name: str) -> np.ndarray | None:
        cols = [f"{name}_{ax}" for ax in "xyz"]
        if not all(k.has(c) for c in cols):
            return None
        return _lowpass(np.column_stack([_fill_gaps(k.get(c), max_gap) for c in cols]), rate,
                        params.kinematic_lowpass_hz)

    heel, toe, missing = {}, {}, []
    for s in SIDES:
        h, o = marker(f"{s}_heel"), marker(f"{s}_toe")
        if h is not None:
            heel[s] = h
        else:
            missing.append(f"{s}_heel")
        if o is not None:
            toe[s] = o
        else:
            missing.append(f"{s}_toe")
    pelvis = marker("pelvis")
    notes = []
    if not heel and not toe and pelvis is None:
        notes.append("no marker trajectories (heel, toe, pelvis): no kinematic events")
    else:
        if missing:
            notes.append("markers missing for kinematic events: " + ", ".join(missing))
        if pelvis is None:
            notes.append("no pelvis marker: travel and events use the low-passed mean of the foot markers")
    return _Kin(t, rate, heel, toe, pelvis, notes)


def _travel_from_metadata(trial: Trial, time: np.ndarray, why: str) -> TravelInfo:
    n = len(time)
    nan2 = np.full((n, 2), np.nan)
    rel = np.full(n, 0.0)
    return TravelInfo(time=time, vector=nan2, filled=nan2.copy(), facing=nan2.copy(), relative=rel,
                      direction=trial.meta.direction, method="metadata",
                      note=f"travel direction from metadata ({trial.meta.direction}): {why}")


def _travel(trial: Trial, kin: _Kin | None, params: EventParams) -> TravelInfo:
    if kin is None:
        return _travel_from_metadata(trial, np.zeros(0), "no kinematics")
    t, rate = kin.time, kin.rate
    feet = kin.feet
    if not feet:
        return _travel_from_metadata(trial, t, "no foot with both heel and toe markers")
    window = max(1, int(round(params.travel_window_s * rate)))

    # which way the feet point (heel -> toe), both feet pooled
    f = np.zeros((len(t), 2))
    for s in feet:
        u = _unit(kin.toe[s][:, :2] - kin.heel[s][:, :2])
        f += np.nan_to_num(u)
    facing = _unit(_moving_median(_unit(f), window))

    # velocity of the reference (pelvis) relative to the stance foot: the
    # lower foot moves with the supporting surface (ground or belt). A foot
    # counts only while it is near its own ground level, so that with one
    # foot's markers its swing is not taken for stance.
    centre = {s: (kin.heel[s] + kin.toe[s]) / 2 for s in feet}
    height = np.column_stack([centre[s][:, 2] for s in feet])
    ground = np.array([np.nanpercentile(height[:, k], 5) if np.isfinite(height[:, k]).any() else np.nan
                       for k in range(len(feet))])
    vel = {s: np.gradient(centre[s][:, :2], t, axis=0) for s in feet}
    with np.errstate(invalid="ignore"):
        on_ground = height <= ground + 0.03
    h = np.where(np.isfinite(height) & on_ground, height, np.inf)
    low = np.argmin(h, axis=1)
    v_stance = np.stack([vel[s] for s in feet], axis=1)[np.arange(len(t)), low]
    v_stance[~np.isfinite(h).any(axis=1)] = np.nan
    ref, ref_name = kin.reference()
    v_ref = np.gradient(ref, t, axis=0)
    v_rel = _moving_median(v_ref - v_stance, window)
    speed = np.linalg.norm(v_rel, axis=1)
    vector = _unit(v_rel)
    vector[~(speed >= params.min_travel_speed_mps)] = np.nan
    surface_velocity = np.nanmedian(v_stance, axis=0) if np.isfinite(v_stance).any() else np.zeros(2)

    dot = np.sum(vector * facing, axis=1)
    relative = np.where(dot >= 0.5, 1.0, np.where(dot <= -0.5, -1.0, 0.0))
    relative[~np.isfinite(dot)] = 0.0
    n_fw, n_bw = int(np.sum(relative > 0)), int(np.sum(relative < 0))
    if n_fw + n_bw == 0:
        info = _travel_from_metadata(trial, t, "no samples with a known travel and facing direction "
                                               f"(speed below {params.min_travel_speed_mps} m/s or sideways)")
        info.facing = facing
        return info
    direction = "FW" if n_fw >= n_bw else "BW"
    agreement = max(n_fw, n_bw) / (n_fw + n_bw)
    med_speed = float(np.nanmedian(speed[np.isfinite(vector).all(axis=1)]))
    method = f"{ref_name} velocity relative to the stance foot"
    note = (f"travel {direction} (feet point {'along' if direction == 'FW' else 'against'} the travel direction "
            f"in {100 * agreement:.0f}% of {n_fw + n_bw} samples; {method}; median speed {med_speed:.2f} m/s)")
    if agreement < 0.8:
        note += "; MIXED: travel relative to the feet changes within the trial"
    if direction != trial.meta.direction:
        note += f"; DISAGREES with metadata direction {trial.meta.direction}"
    return TravelInfo(time=t, vector=vector, filled=_fill_nearest(vector), facing=facing, relative=relative,
                      direction=direction, method=method, note=note, speed_mps=med_speed,
                      agreement=agreement, surface_velocity=np.asarray(surface_velocity, dtype=float))


def travel_direction(trial: Trial, *, params: EventParams = EventParams()) -> TravelInfo:
    """Direction of travel of a trial, relative to the supporting surface.

    The travel vector is the horizontal velocity of the pelvis minus that of
    the stance foot (the lower foot), smoothed with a moving median: on the
    ground the stance foot is still, on a treadmill it moves with the belt
    while the pelvis stays, so the same formula works on both. It is
    compared with the way the feet point (heel to toe) to tell FW from BW;
    the way the pelvis faces is never used. Without usable markers the
    metadata direction is returned (``method = "metadata"``).
    """
    return _travel(trial, _prepare_kinematics(trial, params), params)


def _extrema(y: np.ndarray, rate: float, params: EventParams) -> list[tuple[float, bool]]:
    """Local maxima of ``y`` that rise and fall by ``kinematic_min_excursion_m``.

    Returns ``(fractional index, near_boundary)``. Near the record or a gap
    the truncated side needs only a fifth of the excursion over >= 3 samples.
    """
    thr = params.kinematic_min_excursion_m
    w = max(3, int(round(0.5 * params.min_stride_s * rate)))
    out: list[tuple[float, float, bool]] = []
    for a, b in _runs(np.isfinite(y)):
        seg = y[a:b]
        if seg.size < 5:
            continue
        peaks, _ = signal.find_peaks(seg)
        for p in peaks:
            l0, r1 = max(0, p - w), min(seg.size, p + w + 1)
            left = seg[p] - np.min(seg[l0:p + 1])
            right = seg[p] - np.min(seg[p:r1])
            l_trunc, r_trunc = p - w < 0, p + w + 1 > seg.size
            ok_l = left >= thr or (l_trunc and p >= 3 and left >= thr / 5)
            ok_r = right >= thr or (r_trunc and seg.size - 1 - p >= 3 and right >= thr / 5)
            if not (ok_l and ok_r):
                continue
            # parabolic refinement of the peak position
            y0, y1, y2 = seg[p - 1], seg[p], seg[p + 1]
            den = y0 - 2 * y1 + y2
            delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            out.append((a + p + float(np.clip(delta, -0.5, 0.5)), float(seg[p]),
                        bool(l_trunc or r_trunc)))
    # keep the highest of extrema closer than half the shortest stride
    out.sort(key=lambda e: -e[1])
    kept: list[tuple[float, float, bool]] = []
    for e in out:
        if all(abs(e[0] - k[0]) >= w for k in kept):
            kept.append(e)
    kept.sort()
    return [(i, near) for i, _, near in kept]


def _kinematic_events(kin: _Kin, travel: TravelInfo, params: EventParams) -> list[dict]:
    if not kin.feet or not np.isfinite(travel.filled).any():
        return []
    d = travel.filled
    ref, _ = kin.reference()
    bw = travel.direction == "BW"
    rows = []
    t = kin.time
    idx = np.arange(len(t))
    for s in kin.feet:
        contact, last = (kin.toe[s], kin.heel[s]) if bw else (kin.heel[s], kin.toe[s])
        s_fs = np.sum((contact[:, :2] - ref) * d, axis=1)
        s_fo = np.sum((last[:, :2] - ref) * d, axis=1)
        for event, y, detail in (("foot_strike", s_fs, "toe-first" if bw else "heel-first"),
                                 ("foot_off", -s_fo, "heel-last" if bw else "toe-last")):
            for i, near in _extrema(y, kin.rate, params):
                rows.append({"side": s, "event": event, "time_s": float(np.interp(i, idx, t)),
                             "method": "kinematic", "detail": detail, "clean": True,
                             "reason": "near record boundary" if near else ""})
    return rows


# ---------------------------------------------------------------------------
# plate contacts per foot
# ---------------------------------------------------------------------------

def _seg_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, toe_ext: float = 0.05) -> np.ndarray:
    """Horizontal distance of points ``p`` to segments heel ``a`` -> toe ``b``.

    The segment is extended ``toe_ext`` m beyond the toe marker (the toes).
    """
    ab = b - a
    length = np.linalg.norm(ab, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = ab / length[:, None]
        proj = np.sum((p - a) * u, axis=1)
        proj = np.clip(proj, 0.0, length + toe_ext)
    closest = a + u * proj[:, None]
    return np.linalg.norm(p - closest, axis=1)


def _plate_ids(trial: Trial) -> list[tuple[str, str]]:
    """``(plate, foot)`` of every plate with a vertical force column."""
    forces = trial.forces
    if forces is None:
        return []
    declared = {}
    if trial.plates is not None and len(trial.plates):
        for row in trial.plates.itertuples(index=False):
            foot = getattr(row, "foot", "")
            foot = foot if isinstance(foot, str) and foot in SIDES else ""
            declared[str(row.plate)] = foot
    cols = [c[:-3] for c in forces.frame.columns if c.endswith("_fz")]
    ids = list(declared) + [c for c in cols if c not in declared]
    return [(p, declared.get(p, "")) for p in ids if f"{p}_fz" in forces.frame.columns]


# The two below run once per kinematic frame of every plate contact: numpy's own functions spend most
# of their time there on argument checks. They do the same operations, so they give the same bits.

def _nanmean(w: np.ndarray, n_nan: int) -> float:
    """``np.nanmean`` of a 1-D float window holding ``n_nan`` NaN (NaN when all are, without its warning)."""
    if n_nan == 0:
        return float(w.sum() / w.size)
    n = w.size - n_nan
    return float(np.where(np.isnan(w), 0.0, w).sum() / n) if n else math.nan


def _weighted_mean(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``np.average(points, axis=0, weights=weights)`` of ``(n, k)`` points and ``n`` positive weights."""
    w = weights[:, None]
    return np.multiply(points, w).sum(axis=0) / w.sum(axis=0)


def _assign_contact(pid: str, cid: str, c: dict, foot: str, fz: np.ndarray, cop: np.ndarray | None,
                    tf: np.ndarray, kin: _Kin | None, speeds: dict[str, np.ndarray],
                    params: EventParams, belt_reason: str = "") -> list[dict]:
    """Split one plate contact into per-foot contacts.

    ``belt_reason`` (plates of one foot only, from :func:`_belt_crossover`)
    marks the contact as not single-foot: its kinetics are excluded.
    """
    base = {"plate": pid, "contact": cid, "peak_n": c["peak_n"]}
    on_r, off_r = c["on_reason"], c["off_reason"]

    def one(side, on_s, off_s, on_clean, off_clean, single, reason, on_reason="", off_reason=""):
        return {**base, "side": side, "on_s": on_s, "off_s": off_s, "on_clean": on_clean,
                "off_clean": off_clean, "single_foot": single, "reason": reason,
                "on_reason": on_reason, "off_reason": off_reason}

    if foot:
        return [one(foot, c["on_s"], c["off_s"], c["on_clean"], c["off_clean"], not belt_reason, belt_reason,
                    on_r, off_r)]
    if kin is None or not kin.feet:
        return [one("", c["on_s"], c["off_s"], False, False, False, "no foot markers to assign the contact",
                    on_r or "foot unknown", off_r or "foot unknown")]
    # force samples grouped by kinematic frame, loaded samples only
    tk = kin.time
    sel = (tk >= c["on_s"]) & (tk <= c["off_s"])
    frames = np.flatnonzero(sel)
    i0, i1 = c["on_idx"], c["off_idx"] + 1
    loaded_thr = max(params.force_threshold_n, 0.03 * c["peak_n"])
    half = 0.5 / kin.rate
    cop_k = np.full((frames.size, 2), np.nan)
    load_k = np.zeros(frames.size)
    if cop is not None and frames.size:
        # force samples [starts, ends) of each frame, relative to the contact's first sample
        starts = np.searchsorted(tf[i0:i1], tk[frames] - half)
        ends = np.searchsorted(tf[i0:i1], tk[frames] + half)
        fz_c, cop_c = fz[i0:i1], cop[i0:i1]
        # loaded samples with a COP, and NaN force samples, counted up to each sample (a window's count
        # is a difference): a window needs no mask when all or none of its samples count
        use = (fz_c > loaded_thr) & np.isfinite(cop_c).all(axis=1)
        n_use = np.concatenate([[0], np.cumsum(use)])
        n_nan = np.concatenate([[0], np.cumsum(np.isnan(fz_c))])
        for j in np.flatnonzero(ends > starts):
            a, b = starts[j], ends[j]
            w = fz_c[a:b]
            load_k[j] = _nanmean(w, int(n_nan[b] - n_nan[a]))
            used = n_use[b] - n_use[a]
            if used == b - a:
                cop_k[j] = _weighted_mean(cop_c[a:b], w)
            elif used:
                ok = use[a:b]
                cop_k[j] = _weighted_mean(cop_c[a:b][ok], w[ok])
    valid = np.isfinite(cop_k).all(axis=1)
    feet = kin.feet
    if valid.sum() < 2:
        # no usable COP: take the foot that moves least relative to the plate
        speeds = {}
        for s in feet:
            centre = (kin.heel[s][frames, :2] + kin.toe[s][frames, :2]) / 2
            if len(frames) >= 2:
                speeds[s] = float(np.nanmedian(np.linalg.norm(np.gradient(centre, tk[frames], axis=0), axis=1)))
        if not speeds:
            return [one("", c["on_s"], c["off_s"], False, False, False, "contact too short to assign",
                        on_r or "foot unknown", off_r or "foot unknown")]
        side = min(speeds, key=speeds.get)
        return [one(side, c["on_s"], c["off_s"], c["on_clean"], c["off_clean"], False,
                    "no COP: foot from marker speed, single foot not verified", on_r, off_r)]
    dist = np.column_stack([_seg_distance(cop_k, kin.heel[s][frames, :2], kin.toe[s][frames, :2])
                            for s in feet])
    dist[~valid] = np.nan
    vf = np.flatnonzero(valid & np.isfinite(dist).any(axis=1))
    if vf.size < 2:
        return [one("", c["on_s"], c["off_s"], False, False, False, "foot markers missing during contact",
                    on_r or "foot unknown", off_r or "foot unknown")]
    d = np.where(np.isfinite(dist[vf]), dist[vf], np.inf)
    # the owner is the nearest foot among those close enough to the COP,
    # preferring feet that are not in swing (fast relative to the surface)
    fast = np.column_stack([speeds[s][frames[vf]] > params.swing_speed_mps for s in feet])
    near = d <= params.cop_tolerance_m
    slow_near = near & ~fast
    pick = np.where(slow_near.any(axis=1)[:, None], np.where(slow_near, d, np.inf),
                    np.where(near.any(axis=1)[:, None], np.where(near, d, np.inf), d))
    owner = np.argmin(pick, axis=1)
    dmin = d[np.arange(vf.size), owner]
    # owner runs shorter than 3 frames are noise: merge into a neighbouring run
    min_run = 3
    changed = True
    while changed:
        changed = False
        runs = _owner_runs(owner)
        if len(runs) > 1:
            for k, (a, b, _) in enumerate(runs):
                if b - a < min_run:
                    owner[a:b] = runs[k - 1][2] if k > 0 else runs[k + 1][2]
                    changed = True
                    break
    runs = _owner_runs(owner)
    reasons = []
    far = float(np.mean(dmin > params.cop_tolerance_m))
    if far > 0.2:
        reasons.append(f"COP more than {params.cop_tolerance_m:g} m from every foot with markers in "
                       f"{100 * far:.0f}% of the contact")
    # COP jumps, judged where the plate is well loaded (the COP of a lightly
    # loaded plate is noisy)
    step = np.linalg.norm(np.diff(cop_k[vf], axis=0), axis=1)
    heavy = load_k[vf] > 0.1 * c["peak_n"]
    gap_ok = (np.diff(vf) == 1) & heavy[:-1] & heavy[1:]
    jumps = np.flatnonzero(gap_ok & (step > params.cop_jump_m))
    if len(runs) > 1:
        reasons.append("two feet on plate (" + "->".join(feet[o] for _, _, o in runs) + ")")
    elif jumps.size:
        reasons.append(f"COP jumps {float(np.max(step[jumps])):.2f} m in one frame")
    uncertain = far > 0.2
    out = []
    for k, (a, b, o) in enumerate(runs):
        first, last = k == 0, k == len(runs) - 1
        on_s = c["on_s"] if first else 0.5 * (tk[frames[vf[a - 1]]] + tk[frames[vf[a]]])
        off_s = c["off_s"] if last else 0.5 * (tk[frames[vf[b - 1]]] + tk[frames[vf[b]]])
        on_clean = first and c["on_clean"] and not uncertain
        off_clean = last and c["off_clean"] and not uncertain
        on_reason = on_r if first and on_r else ("" if on_clean else ("foot uncertain" if uncertain
                                                                     else "other foot on plate"))
        off_reason = off_r if last and off_r else ("" if off_clean else ("foot uncertain" if uncertain
                                                                        else "other foot on plate"))
        out.append(one("" if uncertain else feet[o], float(on_s), float(off_s), bool(on_clean),
                       bool(off_clean), not reasons, "; ".join(reasons), on_reason, off_reason))
    return out


def _belt_crossover(records: list[dict], fz: np.ndarray, cop: np.ndarray | None, tf: np.ndarray,
                    params: EventParams) -> list[str]:
    """Why each contact of a belt (or plate) of ONE foot is not that foot alone, or "" (docs/methods.md §4.1).

    On a split-belt treadmill each belt carries one foot; a foot that crosses
    onto the other belt shows as (a) a centre-of-pressure jump while the belt
    is loaded (a second foot lands a step length away: more than
    ``cop_jump_m`` within ``cop_jump_window_s``), (b) a contact whose peak is
    below ``crossover_min_peak_fraction`` of the belt's median peak (the foot
    partly on the other belt: force on both belts), or (c) a contact lasting
    more than ``crossover_max_duration_factor`` times the median contact
    (another foot shared the belt). (b) and (c) need at least 3 clean
    contacts on the belt for the reference.
    """
    out = []
    clean = [c for c in records if c["on_clean"] and c["off_clean"]]
    ref_peak = float(np.median([c["peak_n"] for c in clean])) if len(clean) >= 3 else math.nan
    ref_dur = float(np.median([c["off_s"] - c["on_s"] for c in clean])) if len(clean) >= 3 else math.nan
    rate = 1.0 / float(np.median(np.diff(tf))) if tf.size > 1 else math.nan
    win = max(1, int(round(params.cop_jump_window_s * rate))) if math.isfinite(rate) else 1
    for c in records:
        why = []
        if math.isfinite(ref_peak) and c["peak_n"] < params.crossover_min_peak_fraction * ref_peak:
            why.append(f"peak {c['peak_n']:.0f} N is {100 * c['peak_n'] / ref_peak:.0f} % of the belt's median "
                       "contact peak: the foot was partly on the other belt")
        dur = c["off_s"] - c["on_s"]
        if math.isfinite(ref_dur) and dur > params.crossover_max_duration_factor * ref_dur:
            why.append(f"contact lasts {dur:.2f} s, {dur / ref_dur:.1f} x the median: another foot shared the belt")
        if cop is not None:
            i0, i1 = int(c["on_idx"]), int(c["off_idx"]) + 1
            level = 0.2 * (ref_peak if math.isfinite(ref_peak) else c["peak_n"])
            w = fz[i0:i1]
            p = cop[i0:i1]
            loaded = (w > level) & np.isfinite(p).all(axis=1)
            if loaded.sum() > win:
                idx = np.flatnonzero(loaded[:-win] & loaded[win:])
                if idx.size:
                    d = np.linalg.norm(p[idx + win] - p[idx], axis=1)
                    k = int(np.argmax(d))
                    if d[k] > params.cop_jump_m:
                        why.append(f"COP jumps {d[k]:.2f} m within {1000 * params.cop_jump_window_s:.0f} ms at "
                                   f"{tf[i0 + idx[k]]:.2f} s while loaded: a second foot on the belt")
        out.append("crossover: " + "; ".join(why) if why else "")
    return out


def _owner_runs(owner: np.ndarray) -> list[tuple[int, int, int]]:
    runs = []
    start = 0
    for i in range(1, len(owner) + 1):
        if i == len(owner) or owner[i] != owner[start]:
            runs.append((start, i, int(owner[start])))
            start = i
    return runs


def _plate_contacts(trial: Trial, kin: _Kin | None, travel: TravelInfo,
                    params: EventParams) -> tuple[pd.DataFrame, list[dict], list[str]]:
    """Per-foot contacts of all plates (the table and its rows, in its order), and notes."""
    forces = trial.forces
    notes: list[str] = []
    if forces is None:
        return _empty_contacts_per_foot(), [], notes
    tf = _checked_time(trial, forces, "forces")
    speeds = ({s: kin.foot_speed(s, travel.surface_velocity) for s in kin.feet} if kin is not None else {})
    rows = []
    for pid, foot in _plate_ids(trial):
        fz = forces.get(f"{pid}_fz")
        if not np.isfinite(fz).any():
            notes.append(f"plate {pid}: no vertical force data (all NaN)")
            continue
        records, offset, _, fz_f = _contacts(fz, forces.rate_hz, params=params, time=tf)
        if not records:
            peak = float(np.nanmax(fz))
            notes.append(f"plate {pid}: no contact (Fz never above {params.force_threshold_n:g} N for "
                         f"{1000 * params.min_state_s:.0f} ms; max {peak:.1f} N"
                         + (f", unloaded offset {offset:.1f} N" if offset else "") + ")")
            continue
        if abs(offset) >= 1.0:
            notes.append(f"plate {pid}: unloaded offset {offset:.1f} N removed before thresholding")
        cop = None
        if forces.has(f"{pid}_cop_x") and forces.has(f"{pid}_cop_y"):
            cop = np.column_stack([forces.get(f"{pid}_cop_x"), forces.get(f"{pid}_cop_y")])
        belt = _belt_crossover(records, fz_f, cop, tf, params) if foot else [""] * len(records)
        for k, c in enumerate(records):
            if belt[k]:
                notes.append(f"plate {pid} (foot {foot}) contact at {c['on_s']:.2f} s: {belt[k]}; its kinetics "
                             "are excluded")
            rows += _assign_contact(pid, f"{pid}#{k}", c, foot, fz_f, cop, tf, kin, speeds, params, belt[k])
    if not rows:
        return _empty_contacts_per_foot(), rows, notes
    if kin is not None:
        for r in rows:
            _check_partial(r, kin, speeds, params)
    # by contact time, then foot (stable; an undefined time last, as sort_values puts it)
    rows.sort(key=lambda r: (0, r["on_s"], r["side"]) if r["on_s"] == r["on_s"] else (1, 0.0, r["side"]))
    return pd.DataFrame(rows), rows, notes


def _check_partial(r: dict, kin: _Kin, speeds: dict[str, np.ndarray], params: EventParams) -> None:
    """Mark contact edges where the foot was already / still on the ground.

    A foot landing on the plate moves fast just before the plate loads, and
    a foot leaving it moves fast just after it unloads. A foot that is
    (nearly) still there touches the floor or another plate beside this one:
    the edge is a plate edge, not a foot strike or foot-off.
    """
    side = r["side"]
    if side not in speeds:
        return
    t, v = kin.time, speeds[side]
    win = 0.05

    def mean_speed(a: float, b: float) -> float:
        sel = (t >= a - 0.5 / kin.rate) & (t <= b + 0.5 / kin.rate)
        if sel.sum() < 2 or a < t[0] or b > t[-1]:
            return math.nan
        return float(np.nanmean(v[sel]))

    extra = []
    if r["on_clean"]:
        sp = mean_speed(r["on_s"] - win, r["on_s"])
        if sp < params.partial_contact_speed_mps:
            r["on_clean"] = False
            r["on_reason"] = f"foot already on the ground when the plate loads ({sp:.2f} m/s): partial plate contact"
            extra.append("partial plate contact")
    if r["off_clean"]:
        sp = mean_speed(r["off_s"], r["off_s"] + win)
        if sp < params.partial_contact_speed_mps:
            r["off_clean"] = False
            r["off_reason"] = f"foot still on the ground when the plate unloads ({sp:.2f} m/s): partial plate contact"
            extra.append("partial plate contact")
    if extra:
        r["reason"] = "; ".join(x for x in (r["reason"], extra[0]) if x)


def _force_event_rows(contacts: list[dict]) -> list[dict]:
    rows = []
    for c in contacts:
        clean_contact = bool(c["single_foot"] and c["on_clean"] and c["off_clean"])
        for event, t, clean, why in (("foot_strike", c["on_s"], c["on_clean"], c["on_reason"]),
                                     ("foot_off", c["off_s"], c["off_clean"], c["off_reason"])):
            rows.append({"side": c["side"], "event": event, "time_s": float(t), "method": "force",
                         "detail": c["plate"], "clean": bool(clean and c["side"] in SIDES),
                         "plate": c["plate"], "contact": c["contact"], "contact_clean": clean_contact,
                         "reason": "; ".join(r for r in (why, c["reason"]) if r)})
    return rows


def _stored_event_rows(trial: Trial, t_range: tuple[float, float] | None) -> list[dict]:
    ev = trial.events
    if ev is None or ev.empty:
        return []
    rows = []
    n = len(ev)
    sides, events, times, sources = (ev[c].to_numpy() if c in ev else [default] * n
                                     for c, default in (("side", None), ("event", None), ("time_s", None),
                                                        ("source", "")))
    for side, event, t, source in zip(sides, events, times, sources):
        if side not in SIDES or event not in EVENT_TYPES:
            continue
        t = float(t)
        inside = t_range is None or (t_range[0] <= t <= t_range[1])
        rows.append({"side": side, "event": event, "time_s": t, "method": "stored",
                     "detail": str(source), "clean": bool(np.isfinite(t) and inside),
                     "reason": "" if inside else "outside the recorded data"})
    return rows


def _data_range(trial: Trial) -> tuple[float, float] | None:
    ranges = [(float(s.time[0]), float(s.time[-1])) for s in (trial.kinematics, trial.forces)
              if s is not None and len(s.frame)]
    if not ranges:
        return None
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _detect(trial: Trial, params: EventParams):
    kin = _prepare_kinematics(trial, params)
    travel = _travel(trial, kin, params)
    contacts, contact_rows, plate_notes = _plate_contacts(trial, kin, travel, params)
    rows = _force_event_rows(contact_rows)
    if kin is not None:
        rows += _kinematic_events(kin, travel, params)
    rows += _stored_event_rows(trial, _data_range(trial))
    notes = (kin.notes if kin is not None else ["no kinematics: no kinematic events"]) + plate_notes
    return _event_records(rows), travel, contacts, notes


def detect_events(trial: Trial, *, params: EventParams = EventParams()) -> pd.DataFrame:
    """All candidate events of a trial from every source.

    Columns (:data:`EVENT_COLUMNS`): ``side``, ``event`` (``foot_strike`` |
    ``foot_off``), ``time_s``, ``method`` (``force`` | ``kinematic`` |
    ``stored``), ``detail`` (plate id for force; ``heel-first`` /
    ``toe-first`` / ``toe-last`` / ``heel-last`` for kinematics; the source
    for stored), ``clean`` (force: the contact edge is made by one foot
    inside the record), ``plate``, ``contact`` (plate contact id),
    ``contact_clean`` (the whole contact is one clean single-foot contact)
    and ``reason`` (why not clean). Force events whose foot could not be
    told have ``side = ""``. Kinematic candidates are as detected (not yet
    bias-corrected; :func:`find_cycles` may shift them).
    """
    events, _, _, _ = _detect(trial, params)
    return _events_frame(events)


# ---------------------------------------------------------------------------
# combining sources and cycle checks
# ---------------------------------------------------------------------------

def _nearest(candidates: list[dict], t: float, win: float) -> dict | None:
    near = [c for c in candidates if abs(c["time_s"] - t) < win]
    return min(near, key=lambda c: abs(c["time_s"] - t)) if near else None


def _combine(events: list[dict], contacts: pd.DataFrame, travel: TravelInfo,
             params: EventParams) -> tuple[list[dict], list[dict], list[str]]:
    """Choose one event per occurrence: force, else kinematic, else stored.

    Kinematic events are paired with clean force events of the same side
    and type closer than ``match_window_s``; with ``correct_kinematic_bias``
    every kinematic event of that type is then shifted by the median
    difference of the trial's pairs before gaps are filled. ``events`` and
    the events used are rows of :func:`_event_records`; the pairs compared
    are rows of the agreement table.
    """
    win = params.match_window_s
    notes: list[str] = []
    ev = [dict(e) for e in events]
    force = [e for e in ev if e["method"] == "force" and e["clean"]]
    kinematic = [e for e in ev if e["method"] == "kinematic"]
    stored = [e for e in ev if e["method"] == "stored" and e["clean"]] if params.use_stored else []

    pairs: list[dict] = []
    for e in kinematic:
        f = _nearest([x for x in force if x["side"] == e["side"] and x["event"] == e["event"]], e["time_s"], win)
        if f is not None:
            e["_pair"] = f
            pairs.append({"pair": "kinematic-force", "side": e["side"], "event": e["event"],
                          "travel": travel.at(f["time_s"]), "time_s": e["time_s"],
                          "other_s": f["time_s"], "dt_ms": 1000 * (e["time_s"] - f["time_s"])})
    if params.correct_kinematic_bias:
        for event in EVENT_TYPES:
            dts = [p["dt_ms"] for p in pairs if p["event"] == event]
            if not dts:
                if any(e["event"] == event for e in kinematic):
                    notes.append(f"kinematic {event} events not bias-corrected: no force event to compare")
                continue
            shift = float(np.median(dts))
            spread = (max(dts) - min(dts)) / 1000
            if len(dts) < 3 and spread > params.max_event_disagreement_s:
                notes.append(f"kinematic {event} events not bias-corrected: the n={len(dts)} force pairs disagree "
                             f"({', '.join(f'{d:+.0f}' for d in dts)} ms)")
                continue
            for e in kinematic:
                if e["event"] == event:
                    e["time_s"] -= shift / 1000
                    e["reason"] = "; ".join(x for x in (e["reason"], f"shifted {-shift:+.0f} ms (force-calibrated)")
                                            if x)
            notes.append(f"kinematic {event} events shifted by {-shift:+.0f} ms (median kinematic-minus-force "
                         f"difference of n={len(dts)} pairs in this trial)")

    on, off, feet = (contacts[c].to_numpy() for c in ("on_s", "off_s", "side"))
    stance = {side: [(float(a), float(b)) for a, b, f in zip(on, off, feet) if f == side] for side in SIDES}

    def inside_stance(e: dict) -> bool:
        return any(a + win < e["time_s"] < b - win for a, b in stance[e["side"]])

    used = list(force)
    for e in kinematic:
        if "_pair" in e:
            continue
        if _nearest([x for x in force if x["side"] == e["side"] and x["event"] == e["event"]], e["time_s"], win):
            continue  # pairs only after the shift: still the same occurrence
        if inside_stance(e):
            notes.append(f"kinematic {e['side']} {e['event']} at {e['time_s']:.3f} s lies inside a force-plate "
                         "stance of that foot: not used")
            continue
        used.append(e)
    for e in stored:
        u = _nearest([x for x in used if x["side"] == e["side"] and x["event"] == e["event"]], e["time_s"], win)
        if u is not None:
            pairs.append({"pair": "stored-used", "side": e["side"], "event": e["event"],
                          "travel": travel.at(u["time_s"]), "time_s": e["time_s"],
                          "other_s": u["time_s"], "dt_ms": 1000 * (e["time_s"] - u["time_s"])})
            continue
        if inside_stance(e):
            notes.append(f"stored {e['side']} {e['event']} at {e['time_s']:.3f} s lies inside a force-plate "
                         "stance of that foot: not used")
            continue
        used.append(e)
    for e in used:
        e.pop("_pair", None)
    return _event_records([e for e in used if e["side"] in SIDES]), pairs, notes


def _bias_notes(pairs: list[dict], params: EventParams) -> list[str]:
    """Notes on the agreement rows of :func:`_combine`: bias per travel direction, flags, stored events.

    Means and medians are numpy's (pairwise sums), as pandas computes them.
    """
    notes = []
    kf = [p for p in pairs if p["pair"] == "kinematic-force"]
    for travel in sorted({p["travel"] for p in kf}):
        parts = []
        for event in EVENT_TYPES:
            d = np.array([p["dt_ms"] for p in kf if p["travel"] == travel and p["event"] == event], dtype=float)
            if d.size:
                parts.append(f"{event} {d.sum() / d.size:+.0f} ms (n={d.size}, max |d| {np.abs(d).max():.0f} ms)")
        notes.append(f"kinematic-vs-force bias ({travel}): " + "; ".join(parts))
    lim = 1000 * params.max_event_disagreement_s
    for r in kf:
        if abs(r["dt_ms"]) > lim:
            notes.append(f"FLAG: kinematic {r['side']} {r['event']} differs from force by {r['dt_ms']:+.0f} ms "
                         f"at {r['other_s']:.3f} s (> {lim:.0f} ms); force event used")
    st = np.abs(np.array([p["dt_ms"] for p in pairs if p["pair"] == "stored-used"], dtype=float))
    if st.size:
        notes.append(f"stored events vs events used: median |d| {np.median(st):.0f} ms, "
                     f"max {st.max():.0f} ms (n={st.size})")
    return notes


def _flag_cycles(cycles: list[dict], side: str, t: float, column: str, msg: str) -> list[dict]:
    """Append ``msg`` to ``column`` of the cycles of ``side`` that start, change phase or end at ``t`` (in place)."""
    hit = []
    for col in ("fs_s", "fo_s", "next_fs_s"):
        for r in cycles:
            if r["side"] == side and np.isclose(r[col], t):
                r[column] = f"{r[column]}; {msg}" if r[column] else msg
                hit.append(r)
    return hit


def _stored_disagreement(cycles: list[dict], pairs: list[dict], params: EventParams,
                         notes: list[str]) -> None:
    """Reject (or flag) the cycles using an event that a stored event contradicts (in place).

    A stored event further than ``max_stored_disagreement_s`` from the
    detected event used for the same occurrence means one of them is wrong;
    every cycle that starts, ends or changes phase at that event is
    rejected (``stored_disagreement: reject``) or flagged (``flag``) with
    both times in its reason (docs/methods.md §4.5). ``cycles`` are the rows
    of :func:`_cycle_rows` and ``pairs`` the agreement rows of
    :func:`_combine`.
    """
    lim = 1000 * params.max_stored_disagreement_s
    reject = params.stored_disagreement == "reject"
    for r in pairs:
        if r["pair"] != "stored-used" or not abs(r["dt_ms"]) > lim:
            continue
        msg = (f"stored {r['event']} at {r['time_s']:.3f} s differs by {r['dt_ms']:+.0f} ms from the detected "
               f"event used at {r['other_s']:.3f} s (> {lim:.0f} ms, events.max_stored_disagreement_s)")
        notes.append(("REJECTED" if reject else "FLAG") + f": {r['side']} {msg}")
        for c in _flag_cycles(cycles, r["side"], r["other_s"], "qc_reason" if reject else "qc_flags", msg):
            if reject:
                c["qc_status"] = "rejected"


def _methods_label(methods: list[str]) -> str:
    present = {m for m in methods if m}
    return "+".join(m for m in _METHOD_ORDER if m in present)


def build_cycles(events: pd.DataFrame, *, params: EventParams = EventParams(),
                 travel: str | TravelInfo = "FW") -> pd.DataFrame:
    """Cycles and their checks from one event table (one event per occurrence).

    Every foot strike starts a cycle: a ``stride`` up to the next foot strike
    of that side, or a ``stance`` (FS to FO) when there is no next foot
    strike. Checks (docs/methods.md §4.5), each adding a reason to a
    rejected cycle: exactly one foot-off between the foot strikes; stride
    time within [min_stride_s, max_stride_s]; with ``require_stride``, at
    least one stride in the trial; stance and swing at least
    min_stance_s / min_swing_s; stance % within ``stance_pct_range``;
    stride time within the trial median +/- ``stride_tolerance``; where the
    other side has events around the cycle, exactly one contralateral
    foot-off followed by one contralateral foot strike inside it.

    ``events`` needs ``side``, ``event``, ``time_s`` and ``method``; the
    optional ``contact``/``contact_clean``/``plate`` columns give
    ``kinetics_valid`` and ``plate``.
    """
    ev = events.copy()
    for col, default in (("method", ""), ("contact", ""), ("contact_clean", False), ("plate", ""), ("reason", "")):
        if col not in ev:
            ev[col] = default
    ev = ev[ev["side"].isin(SIDES) & ev["event"].isin(EVENT_TYPES) & np.isfinite(ev["time_s"].astype(float))]
    ev = ev.sort_values("time_s", kind="stable")
    return _cycles_frame(_cycle_rows(ev.to_dict("records"), params, travel))


def _cycle_rows(events: list[dict], params: EventParams, travel: TravelInfo | str) -> list[dict]:
    """The cycles of :func:`build_cycles` as rows, from its events as rows in time order.

    Rows of another side or event type, or without a finite time, are left
    out here as ``build_cycles`` leaves them out of its table.
    """
    ev = [e for e in events if e["side"] in SIDES and e["event"] in EVENT_TYPES and math.isfinite(e["time_s"])]
    ev.sort(key=lambda e: e["time_s"])
    lo, hi = params.stance_pct_range
    rows = []
    for side in SIDES:
        mine = [e for e in ev if e["side"] == side]
        # the other side's events in time order, as arrays (read once per cycle below)
        other_t = np.array([e["time_s"] for e in ev if e["side"] != side], dtype=float)
        other_event = np.array([e["event"] for e in ev if e["side"] != side], dtype=object)
        fss = [e for e in mine if e["event"] == "foot_strike"]
        fos = [e for e in mine if e["event"] == "foot_off"]
        for k, fs in enumerate(fss):
            t0 = fs["time_s"]
            nxt = fss[k + 1] if k + 1 < len(fss) else None
            t1 = nxt["time_s"] if nxt is not None else math.inf
            inner = [e for e in fos if t0 < e["time_s"] < t1]
            reasons, flags = [], []
            if nxt is None:
                if not inner:
                    continue  # a last foot strike without foot-off: no cycle at all
                kind = "stance"
                fo = inner[0]
            else:
                kind = "stride"
                fo = inner[0] if inner else None
                if not inner:
                    reasons.append("order: no foot-off between foot strikes")
                elif len(inner) > 1:
                    reasons.append(f"order: {len(inner)} foot-offs between foot strikes")
            fo_s = fo["time_s"] if fo is not None else math.nan
            next_s = t1 if nxt is not None else math.nan
            stride = next_s - t0
            stance = fo_s - t0
            pct = 100 * stance / stride if kind == "stride" and np.isfinite(stance) else math.nan
            if kind == "stride" and not (params.min_stride_s <= stride <= params.max_stride_s):
                reasons.append(f"stride {stride:.3f} s outside [{params.min_stride_s:g}, {params.max_stride_s:g}] s")
            if np.isfinite(stance) and stance < params.min_stance_s:
                reasons.append(f"stance {stance:.3f} s shorter than {params.min_stance_s:g} s")
            if kind == "stance" and np.isfinite(stance) and stance > params.max_stride_s * hi / 100:
                reasons.append(f"stance {stance:.3f} s longer than {params.max_stride_s * hi / 100:.2f} s")
            if kind == "stride" and np.isfinite(stance):
                swing = stride - stance
                if swing < params.min_swing_s:
                    reasons.append(f"swing {swing:.3f} s shorter than {params.min_swing_s:g} s")
                if not (lo <= pct <= hi):
                    reasons.append(f"stance {pct:.1f}% outside [{lo:g}, {hi:g}]%")
            # contralateral events, where the other side's events cover the cycle
            end = t1 if kind == "stride" else fo_s
            if np.isfinite(end) and other_t.size and other_t.min() < t0 and other_t.max() > end:
                seq = other_event[(other_t > t0) & (other_t < end)].tolist()
                if seq != ["foot_off", "foot_strike"]:
                    found = ", ".join("FO" if s == "foot_off" else "FS" for s in seq) or "none"
                    reasons.append(f"contralateral events: expected FO then FS, found {found}")
            methods = [fs["method"], fo["method"] if fo is not None else "", nxt["method"] if nxt is not None else ""]
            contact_ok = (fo is not None and fs["method"] == "force" and fo["method"] == "force"
                          and fs["contact"] and fs["contact"] == fo["contact"])
            if contact_ok and not fs["contact_clean"] and "crossover" in str(fs.get("reason", "")):
                why = next(r for r in str(fs["reason"]).split("; ") if r.startswith("crossover"))
                flags.append(f"kinetics excluded: {why}")
            rows.append({
                "side": side, "fs_s": t0, "fo_s": fo_s, "next_fs_s": next_s, "kind": kind,
                "event_method": _methods_label(methods),
                "travel": travel.at(0.5 * (t0 + (next_s if kind == "stride" else fo_s)))
                if isinstance(travel, TravelInfo) else str(travel),
                "kinetics_valid": bool(contact_ok and fs["contact_clean"] and fo["contact_clean"]),
                "plate": str(fs["plate"]) if contact_ok else "",
                "reasons": reasons, "flags": flags,
                "stride_s": stride, "stance_s": stance, "stance_pct": pct,
                "fs_method": methods[0], "fo_method": methods[1], "next_fs_method": methods[2],
            })
    # a trial without any complete stride: its stance-only cycles cannot be
    # checked against the trial's stride time (too short for a full stride)
    if params.require_stride and rows and not any(r["kind"] == "stride" for r in rows):
        times = [e["time_s"] for e in ev]
        span = float(max(times) - min(times)) if times else math.nan
        for r in rows:
            r["reasons"].append(f"too short for a full stride: no foot strike is followed by the next foot strike "
                                f"of the same foot (events span {span:.2f} s)")
    # stride time against the trial median (strides passing the other checks)
    good = [r["stride_s"] for r in rows if r["kind"] == "stride" and not r["reasons"]]
    if len(good) >= 2:
        med = float(np.median(good))
        tol = params.stride_tolerance
        for r in rows:
            if r["kind"] == "stride" and np.isfinite(r["stride_s"]) and abs(r["stride_s"] - med) > tol * med:
                r["reasons"].append(f"stride {r['stride_s']:.3f} s deviates more than {100 * tol:.0f}% "
                                    f"from the trial median {med:.3f} s")
    # the table's rows: by side and foot strike, numbered per side, reasons and flags joined
    rows.sort(key=lambda r: (r["side"], r["fs_s"]))
    numbers: Counter = Counter()
    out = []
    for r in rows:
        row = {c: r[c] for c in CYCLE_COLUMNS if c in r}
        row["cycle"] = numbers[r["side"]]
        numbers[r["side"]] += 1
        row["qc_status"] = "rejected" if r["reasons"] else "kept"
        row["qc_reason"] = "; ".join(r["reasons"])
        row["qc_flags"] = "; ".join(r["flags"])
        out.append(row)
    return out


def _cycles_frame(rows: list[dict]) -> pd.DataFrame:
    """The cycles table (:data:`CYCLE_COLUMNS`) of :func:`_cycle_rows`' rows."""
    if not rows:
        return _empty_cycles()
    types = {"cycle": int, "kinetics_valid": bool, "fs_s": float, "fo_s": float, "next_fs_s": float}
    return pd.DataFrame({c: np.array([r[c] for r in rows], dtype=types[c]) if c in types else [r[c] for r in rows]
                         for c in CYCLE_COLUMNS})


def _activity_flag_exclusions(trial: Trial, cycles: list[dict]) -> list[str]:
    """Reject cycles outside the flagged activity (``<side>_activity_flag`` = 0 inside the cycle).

    Datasets such as GT23 flag, per leg, the samples where the leg performs
    the activity of the trial (``_activity_flag.csv``). A cycle of a side whose
    flag is 0 anywhere from its foot strike to its end (next foot strike, or
    foot off for a stance) is rejected with the reason; unknown (NaN) flags
    do not reject. ``cycles`` are the rows of :func:`_cycle_rows`, changed
    in place; the notes are returned.
    """
    kin = trial.kinematics
    if kin is None or not cycles:
        return []
    t = kin.time
    n = {}
    for r in cycles:
        side = r["side"]
        col = f"{side}_activity_flag"
        if col not in kin.frame.columns:
            continue
        end = r["next_fs_s"] if r["kind"] == "stride" else r["fo_s"]
        sel = (t >= r["fs_s"]) & (t <= end)
        flag = kin.get(col)[sel]
        zero = int(np.sum(flag == 0))
        if not zero:
            continue
        why = (f"outside the flagged activity: {side} activity flag 0 in {100 * zero / max(sel.sum(), 1):.0f} % of "
               "the cycle")
        prev = r["qc_reason"]
        r["qc_reason"] = f"{prev}; {why}" if prev else why
        r["qc_status"] = "rejected"
        n[side] = n.get(side, 0) + 1
    return [f"{k} {side} cycle(s) rejected: outside the flagged activity (activity flag 0)" for side, k in n.items()]


def find_cycles(trial: Trial, *, params: EventParams = EventParams()) -> CycleResult:
    """Gait cycles of one trial, with the events and the checks used.

    Force events are preferred (exact timing); kinematic events fill what no
    plate saw (a full stride after a single plate contact gives
    ``event_method = "force+kinematic"``); stored events fill the remaining
    gaps when ``use_stored``. Kinematic and force events of the same
    occurrence are compared and their bias (ms) per travel direction is in
    ``notes``; differences above ``max_event_disagreement_s`` are flagged in
    ``notes`` and the affected cycles' ``qc_flags``. A foot strike with a
    foot-off but no next foot strike gives a ``stance`` cycle. A trial with
    no usable events gives an empty ``cycles`` table and a note; malformed
    time bases raise :class:`~retrogait.errors.DataError`.
    """
    events, travel, contacts, notes = _detect(trial, params)
    notes = list(notes)
    notes.insert(0, travel.note)
    used, pairs, combine_notes = _combine(events, contacts, travel, params)
    notes += combine_notes
    n_by = Counter(e["method"] for e in events)
    sources = ", ".join(f"{m}: {n_by[m]}" for m in _METHOD_ORDER if m in n_by) or "none"
    notes.append(f"candidate events by source: {sources}")
    stored = Counter((e["side"], e["event"]) for e in events if e["method"] == "stored")
    if stored and max(stored.values()) <= 1:
        notes.append("stored events incomplete (at most one per side and type): a stride needs detected events")
    notes += _bias_notes(pairs, params)
    cycles = _cycle_rows(used, params, travel)
    notes += _activity_flag_exclusions(trial, cycles)
    if cycles:
        _stored_disagreement(cycles, pairs, params, notes)
        # flag cycles containing an event whose kinematic estimate disagreed
        lim = 1000 * params.max_event_disagreement_s
        for r in pairs:
            if r["pair"] == "kinematic-force" and abs(r["dt_ms"]) > lim:
                _flag_cycles(cycles, r["side"], r["other_s"], "qc_flags",
                             f"kinematic {r['event']} {r['dt_ms']:+.0f} ms from force")
        kept = [c for c in cycles if c["qc_status"] == "kept"]
        by_method = Counter(c["event_method"] for c in kept)
        methods = ", ".join(f"{m}: {by_method[m]}" for m in sorted(by_method))
        notes.append(f"cycles: {len(kept)} kept of {len(cycles)} ({methods or 'none kept'}); "
                     f"{sum(bool(c['kinetics_valid']) for c in kept)} kinetics-valid")
    else:
        notes.append("no usable events: no cycles")
    return CycleResult(events=_events_frame(used), cycles=_cycles_frame(cycles), notes=notes, travel=travel,
                       contacts=contacts, agreement=pd.DataFrame(pairs) if pairs else _empty_agreement())
