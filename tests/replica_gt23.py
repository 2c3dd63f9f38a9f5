"""Format-faithful synthetic replica of GT23 ``ProcessedData.zip``.

GT23 is Scherpereel et al. 2023 (Sci Data 10:924, DOI 10.35090/gatech/70296,
CC BY 4.0). Nobody on the project has seen its files: the layout written here
follows ``gt23-format.md`` section 10 (the replica recipe) and section 3 (the
per-file specification). The signals are synthetic but physically plausible,
and they carry **known planted FW/BW differences** (:data:`PLANTED_EFFECTS`) so
that tests and benchmarks can check that the whole pipeline recovers them.

Layout (``prefix`` is ``""`` or e.g. ``"ProcessedData/"``)::

    <prefix>ABxx/                              directory entry
    <prefix>ABxx/<trial>/                      directory entry
    <prefix>ABxx/<trial>/ABxx_<trial>_angle.csv          200 Hz, 13 columns (§3.1 order)
    <prefix>ABxx/<trial>/ABxx_<trial>_moment_filt.csv    200 Hz, time + R block + L block, N.m/kg
    <prefix>ABxx/<trial>/ABxx_<trial>_grf.csv            200 Hz, time + 12 columns (§3.4 order), N and m
    <prefix>ABxx/<trial>/ABxx_<trial>_emg.csv            emg_rate_hz, time + 16 channels (§3.5 order), V
    <prefix>ABxx/<trial>/ABxx_<trial>_activity_flag.csv  200 Hz, time,left,right (integer 1)
    extra_files=True adds, per trial, files the adapter must ignore:
    <prefix>ABxx/<trial>/ABxx_<trial>_velocity.csv       deg/s (gradient of the angles)
    <prefix>ABxx/<trial>/ABxx_<trial>_imu_real.csv       42 IMU columns
    <prefix>ABxx/<trial>/ABxx_<trial>_moment.csv         unfiltered moments (moment_filt + noise)
    <prefix>ABxx/<trial>/ABxx_<trial>_link_angle.csv     unknown suffix (near-miss of "_angle")
    masses_csv=True adds <prefix>Subject_masses.csv (header ``subject,mass_kg``).

Conventions reproduced: ``knee_angle_*`` negative in flexion (OpenSim,
extension positive); ``*_moment`` in N.m/kg with OpenSim signs (knee extensor
positive, ankle plantarflexor negative); GRF in N in a Y-up frame (X = AP,
Y = up, Z = lateral right) with the **right belt all NaN** (one-legged
kinetics, §3.3) and right moments all NaN; ``time = t0 + k/200`` with ``t0`` a
non-zero multiple of 0.005 s that differs per trial, printed with 3 decimals
(EMG time with 4 decimals at 2000 Hz).

EMG is a unit-variance carrier (Gaussian noise band-passed 30-200 Hz, so its
median frequency is that of surface EMG, about 100 Hz) multiplied by an
amplitude profile of bursts timed to the cycle (different timing in FW and
BW), by per-subject channel gains (~1e-4 V) and by the planted condition
amplitude. Signed, zero-mean, unrectified: like GT23's raw EMG.

Cycle model
-----------
Each trial is a sequence of left-foot cycles FS_i -> FO_i -> FS_{i+1} with
per-cycle stride time ``T_i`` and stance fraction ``s_i``. A sample at time
``t`` in cycle ``i`` has cycle fraction ``u = (t - FS_i)/T_i``; it is mapped
to the template phase ``phi`` in which foot-off sits at the condition's
nominal stance fraction, piecewise linearly in stance and swing. All
waveforms are templates of ``phi`` (the right leg uses ``phi + 0.5``), scaled
by per-subject, per-subject-x-condition and per-cycle factors.

Random structure (all seeded; the same seed gives byte-identical archives and
a subject's files do not depend on which other subjects are built):

* subject-level terms for all 12 GT23 subjects are drawn together from
  ``seed`` and **centred over the 12 subjects**, as are the
  subject x condition terms, so that with all 12 subjects the across-subject
  mean of every design value equals :data:`CONDITION_MEANS` exactly and the
  planted contrasts hold exactly at design level;
* cycle-to-cycle noise and the EMG carrier are drawn per (subject, trial).
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline
from scipy.signal import butter, sosfilt, sosfiltfilt

__all__ = [
    "SUBJECTS", "TRIALS", "ALL_TRIALS", "S1_MASSES", "FILE_TYPES", "EXTRA_SUFFIXES",
    "ANGLE_COLUMNS", "VELOCITY_COLUMNS", "MOMENT_COLUMNS", "GRF_COLUMNS", "EMG_CHANNELS",
    "IMU_COLUMNS", "EMG_MUSCLES", "CONDITION_MEANS", "PLANTED_EFFECTS", "MEASURE_DEFINITIONS",
    "NOISE", "MemberInfo", "ReplicaInfo", "build_replica", "member_name", "trial_condition", "extract",
    "read_member",
]

# ---------------------------------------------------------------------------
# Dataset facts (independent transcription of gt23-format.md; the adapter has
# its own copy, so a typo in one is caught by the tests)
# ---------------------------------------------------------------------------

#: The 12 GT23 subjects (AB04 excluded from the dataset), §2.
SUBJECTS: tuple[str, ...] = ("AB01", "AB02", "AB03", "AB05", "AB06", "AB07",
                             "AB08", "AB09", "AB10", "AB11", "AB12", "AB13")

#: The walking trials the pipeline uses by default (§4.1, §10).
TRIALS: tuple[str, ...] = ("normal_walk_1_0-6", "normal_walk_1_1-2", "walk_backward_1_0-6",
                           "walk_backward_1_0-8", "walk_backward_1_1-0")
#: Trials the replica can generate (the defaults plus FW 1.8 m/s).
ALL_TRIALS: tuple[str, ...] = TRIALS + ("normal_walk_1_1-8",)

#: Body masses (kg): S1 ``subject_mass.csv`` column of gt23-format.md §2 (AB03 = 113.5, §11 item 7).
S1_MASSES: dict[str, float] = {
    "AB01": 78.9, "AB02": 82.2, "AB03": 113.5, "AB05": 71.5, "AB06": 79.1, "AB07": 62.3,
    "AB08": 87.6, "AB09": 84.1, "AB10": 67.5, "AB11": 65.1, "AB12": 64.0, "AB13": 67.6,
}

#: File types the adapter reads by default.
FILE_TYPES: tuple[str, ...] = ("angle", "moment_filt", "grf", "emg", "activity_flag")
#: Extra per-trial files written when ``extra_files=True`` (the adapter must ignore them).
EXTRA_SUFFIXES: tuple[str, ...] = ("velocity", "imu_real", "moment", "link_angle")

ANGLE_COLUMNS: tuple[str, ...] = (
    "time", "hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
    "subtalar_angle_r", "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l",
    "ankle_angle_l", "subtalar_angle_l")
VELOCITY_COLUMNS: tuple[str, ...] = (
    "time", "hip_flexion_velocity_l", "hip_adduction_velocity_l", "hip_rotation_velocity_l",
    "hip_flexion_velocity_r", "hip_adduction_velocity_r", "hip_rotation_velocity_r",
    "knee_velocity_r", "ankle_velocity_r", "subtalar_velocity_r",
    "knee_velocity_l", "ankle_velocity_l", "subtalar_velocity_l")
_MOMENT_JOINTS = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle", "subtalar_angle")
MOMENT_COLUMNS: tuple[str, ...] = ("time",) + tuple(
    f"{j}_{s}_moment" for s in ("r", "l") for j in _MOMENT_JOINTS)
GRF_COLUMNS: tuple[str, ...] = (
    "time", "RForceX", "RForceY_Vertical", "RForceZ", "RCOPX", "RCOPY_Vertical", "RCOPZ",
    "LForceX", "LForceY_Vertical", "LForceZ", "LCOPX", "LCOPY_Vertical", "LCOPZ")
EMG_CHANNELS: tuple[str, ...] = ("LTA", "RTA", "LRF", "RRF", "LBF", "RBF", "LGMED", "RGMED",
                                 "LMGAS", "RMGAS", "LVL", "RVL", "LGRAC", "RGRAC", "LGMAX", "RGMAX")
IMU_COLUMNS: tuple[str, ...] = ("time",) + tuple(
    f"{seg}_{q}" for seg in ("RShank", "RAThigh", "RPThigh", "LAThigh", "LPThigh", "LPelvis", "RPelvis")
    for q in ("ACCX", "ACCY", "ACCZ", "GYROX", "GYROY", "GYROZ"))
#: GT23 EMG channel abbreviation -> canonical muscle name (retrogait.ingest.trial.MUSCLES).
EMG_MUSCLES: dict[str, str] = {
    "TA": "tibialis_anterior", "RF": "rectus_femoris", "BF": "biceps_femoris",
    "GMED": "gluteus_medius", "MGAS": "medial_gastrocnemius", "VL": "vastus_lateralis",
    "GRAC": "gracilis", "GMAX": "gluteus_maximus",
}

_G = 9.81
_KIN_RATE = 200.0
_ZIP_DATE = (2023, 12, 1, 0, 0, 0)

#: ZIP comment of every replica archive: synthetic data, never the published GT23 archive.
REPLICA_COMMENT = "retrogait GT23 replica: synthetic data generated by tests/replica_gt23.py, not the published archive"

# ---------------------------------------------------------------------------
# Design: condition means and planted effects
# ---------------------------------------------------------------------------

_MUSCLES = tuple(EMG_MUSCLES.values())


def _emg_amp(vl_rf: float, others: float) -> dict[str, float]:
    return {m: (vl_rf if m in ("vastus_lateralis", "rectus_femoris") else others) for m in _MUSCLES}


#: Population design values per condition (across-subject means with all 12 subjects).
#:
#: ``stride_time`` s; ``stance_pct`` % of the stride; ``knee_flexion_at_contact``
#: deg (flexion positive, left leg); ``knee_extensor_moment_peak`` N.m/kg (max
#: internal extensor moment over left stance); ``swing_knee_flexion_peak`` deg;
#: ``ankle_pf_peak`` N.m/kg
#: (most negative ankle moment); ``emg_amplitude`` mean linear-envelope
#: amplitude over the stride, relative to FW 0.6 m/s (= 1) for each muscle and
#: both sides. The vertical GRF has no design peak: as in real steady walking,
#: each stance's vertical impulse is m g T / 2 (the two legs share body weight
#: over a stride of duration T), times the cycle-to-cycle gain.
CONDITION_MEANS: dict[str, dict[str, Any]] = {
    "FW_0.6": dict(direction="FW", speed_mps=0.6, stride_time=1.40, stance_pct=61.0,
                   knee_flexion_at_contact=3.0, knee_extensor_moment_peak=0.55,
                   swing_knee_flexion_peak=58.0, ankle_pf_peak=-1.25,
                   emg_amplitude=_emg_amp(1.0, 1.0)),
    "FW_1.2": dict(direction="FW", speed_mps=1.2, stride_time=1.09, stance_pct=60.0,
                   knee_flexion_at_contact=4.0, knee_extensor_moment_peak=0.70,
                   swing_knee_flexion_peak=63.0, ankle_pf_peak=-1.45,
                   emg_amplitude=_emg_amp(1.5, 1.4)),
    "FW_1.8": dict(direction="FW", speed_mps=1.8, stride_time=0.98, stance_pct=58.0,
                   knee_flexion_at_contact=6.0, knee_extensor_moment_peak=0.90,
                   swing_knee_flexion_peak=66.0, ankle_pf_peak=-1.55,
                   emg_amplitude=_emg_amp(2.0, 1.8)),
    "BW_0.6": dict(direction="BW", speed_mps=0.6, stride_time=1.15, stance_pct=63.0,
                   knee_flexion_at_contact=23.0, knee_extensor_moment_peak=0.40,
                   swing_knee_flexion_peak=46.0, ankle_pf_peak=-1.20,
                   emg_amplitude=_emg_amp(1.4, 1.0)),
    "BW_0.8": dict(direction="BW", speed_mps=0.8, stride_time=1.05, stance_pct=62.0,
                   knee_flexion_at_contact=24.0, knee_extensor_moment_peak=0.45,
                   swing_knee_flexion_peak=47.0, ankle_pf_peak=-1.28,
                   emg_amplitude=_emg_amp(1.6, 1.15)),
    "BW_1.0": dict(direction="BW", speed_mps=1.0, stride_time=0.95, stance_pct=61.0,
                   knee_flexion_at_contact=25.0, knee_extensor_moment_peak=0.50,
                   swing_knee_flexion_peak=48.0, ankle_pf_peak=-1.35,
                   emg_amplitude=_emg_amp(1.8, 1.3)),
}

#: How each planted measure maps to a per-cycle value (left leg, the kinetic side).
MEASURE_DEFINITIONS: dict[str, str] = {
    "knee_flexion_at_contact": "knee flexion (deg, flexion positive = -knee_angle_l) at foot strike (FS)",
    "knee_extensor_moment_peak": "max of the internal knee extensor moment (N.m/kg, knee_angle_l_moment) over stance FS..FO",
    "stance_pct": "100*(FO - FS)/(next FS - FS), events from the left belt vertical GRF (20 N threshold)",
    "stride_time": "next FS - FS (s)",
    "emg_mean_<muscle>": "mean of the EMG linear envelope over the stride FS..next FS (retrogait.gait.measures "
                         "emg_mean_<muscle>); planted as a ratio BW/FW, invariant to one amplitude reference per "
                         "subject and muscle; holds for the L and the R channel",
}


def _diff(a: str, b: str, key: str) -> float:
    return round(CONDITION_MEANS[a][key] - CONDITION_MEANS[b][key], 10)


def _ratio(a: str, b: str, muscle: str) -> float:
    return round(CONDITION_MEANS[a]["emg_amplitude"][muscle] / CONDITION_MEANS[b]["emg_amplitude"][muscle], 10)


def _slope(levels: Sequence[str], key: str) -> float:
    x = np.array([CONDITION_MEANS[c]["speed_mps"] for c in levels])
    y = np.array([CONDITION_MEANS[c][key] for c in levels])
    return round(float(np.polyfit(x, y, 1)[0]), 10)


#: Planted effects the pipeline must recover (machine-readable). For each
#: contrast: the two condition labels (``a`` minus/over ``b``) and per measure
#: the value, unit and kind (``difference`` a - b, ``ratio`` a / b, ``slope``
#: per m/s over ``levels``). ``null`` lists measures planted with no effect
#: (ratio 1 / difference 0), useful as false-positive checks.
PLANTED_EFFECTS: dict[str, dict[str, Any]] = {
    "BW_vs_FW_0.6": {
        "description": "BW - FW at the matched speed 0.6 m/s (walk_backward_1_0-6 vs normal_walk_1_0-6)",
        "a": "BW_0.6", "b": "FW_0.6",
        "effects": {
            "knee_flexion_at_contact": {"value": _diff("BW_0.6", "FW_0.6", "knee_flexion_at_contact"),
                                        "unit": "deg", "kind": "difference"},
            "knee_extensor_moment_peak": {"value": _diff("BW_0.6", "FW_0.6", "knee_extensor_moment_peak"),
                                          "unit": "N.m/kg", "kind": "difference"},
            "stance_pct": {"value": _diff("BW_0.6", "FW_0.6", "stance_pct"), "unit": "%", "kind": "difference"},
            "stride_time": {"value": _diff("BW_0.6", "FW_0.6", "stride_time"), "unit": "s", "kind": "difference"},
            "emg_mean_vastus_lateralis": {"value": _ratio("BW_0.6", "FW_0.6", "vastus_lateralis"),
                                               "unit": "1", "kind": "ratio"},
            "emg_mean_rectus_femoris": {"value": _ratio("BW_0.6", "FW_0.6", "rectus_femoris"),
                                             "unit": "1", "kind": "ratio"},
        },
        "null": {f"emg_mean_{m}": {"value": 1.0, "unit": "1", "kind": "ratio"}
                 for m in _MUSCLES if m not in ("vastus_lateralis", "rectus_femoris")},
    },
    "BW_speed": {
        "description": "effect of speed within BW walking (0.6, 0.8, 1.0 m/s), least-squares slope per m/s",
        "levels": ["BW_0.6", "BW_0.8", "BW_1.0"],
        "effects": {
            "stride_time": {"value": _slope(["BW_0.6", "BW_0.8", "BW_1.0"], "stride_time"),
                            "unit": "s per m/s", "kind": "slope"},
            "stance_pct": {"value": _slope(["BW_0.6", "BW_0.8", "BW_1.0"], "stance_pct"),
                           "unit": "% per m/s", "kind": "slope"},
            "knee_extensor_moment_peak": {"value": _slope(["BW_0.6", "BW_0.8", "BW_1.0"],
                                                          "knee_extensor_moment_peak"),
                                          "unit": "N.m/kg per m/s", "kind": "slope"},
        },
    },
}

#: Size of the random terms (SDs). ``*_subject`` terms are shared by all
#: conditions of a subject; ``*_sxc`` are subject x condition terms; ``*_cycle``
#: cycle-to-cycle. Subject and subject x condition terms are centred over the
#: 12 subjects.
NOISE: dict[str, float] = {
    "stride_rel_subject": 0.05, "stride_sxc": 0.02, "stride_rel_cycle": 0.015,
    "stance_pct_subject": 0.8, "stance_pct_sxc": 0.4, "stance_pct_cycle": 0.5,
    "knee_deg_subject": 2.5, "knee_deg_sxc": 1.5, "knee_deg_cycle": 1.0,
    "moment_subject": 0.07, "moment_sxc": 0.03, "moment_rel_cycle": 0.04,
    "grf_rel_cycle": 0.03, "grf_noise_n": 1.5,
    "emg_log_gain_subject": 0.3, "emg_log_sxc": 0.05, "emg_log_cycle": 0.08,
}

_TRIAL_CONDITION = {
    "normal_walk_1_0-6": "FW_0.6", "normal_walk_1_1-2": "FW_1.2", "normal_walk_1_1-8": "FW_1.8",
    "walk_backward_1_0-6": "BW_0.6", "walk_backward_1_0-8": "BW_0.8", "walk_backward_1_1-0": "BW_1.0",
}


def trial_condition(trial: str) -> str:
    """Condition label (``FW_0.6``) of a replica trial name."""
    try:
        return _TRIAL_CONDITION[trial]
    except KeyError:
        raise ValueError(f"the replica cannot generate trial {trial!r}; known: {sorted(_TRIAL_CONDITION)}") from None


def member_name(subject: str, trial: str, suffix: str, prefix: str = "") -> str:
    """Archive member name of one processed CSV."""
    return f"{_norm_prefix(prefix)}{subject}/{trial}/{subject}_{trial}_{suffix}.csv"


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

class MemberInfo(NamedTuple):
    """One archive member: compressed size, CRC-32 and uncompressed size (bytes)."""

    compress_size: int
    crc: int
    file_size: int


@dataclass
class ReplicaInfo:
    """What :func:`build_replica` wrote.

    ``members`` maps every *file* member (directories excluded) to its
    :class:`MemberInfo`. ``design`` maps ``(subject, trial)`` to that
    subject's design values (condition mean + subject terms, before
    cycle-to-cycle noise). ``events`` maps ``(subject, trial)`` to the true
    left-foot events inside the window (``foot_strike``, ``foot_off``,
    seconds in the file's time base). ``t0`` maps ``(subject, trial)`` to the
    first time value.
    """

    path: Path
    prefix: str
    seed: int
    subjects: list[str]
    trials: list[str]
    masses: dict[str, float]
    members: dict[str, MemberInfo]
    planted_effects: dict[str, Any]
    condition_means: dict[str, dict[str, Any]]
    design: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)
    t0: dict[tuple[str, str], float] = field(default_factory=dict)
    n_rows: int = 0
    emg_rows: int = 0
    emg_rate_hz: float = 2000.0

    def needed_members(self, file_types: Iterable[str] = FILE_TYPES) -> list[str]:
        """Members the adapter reads (with the replica's prefix), sorted."""
        return sorted(member_name(s, t, ft, self.prefix) for s in self.subjects for t in self.trials
                      for ft in file_types)


# ---------------------------------------------------------------------------
# Waveform templates (functions of the template phase phi in [0, 1))
# ---------------------------------------------------------------------------

def _gauss(x: np.ndarray, mu: float, w: float) -> np.ndarray:
    return np.exp(-(((x - mu) / w) ** 2))


def _cgauss(phi: np.ndarray, mu: float, w: float) -> np.ndarray:
    """Gaussian bump on the circle (phase wraps at 1)."""
    d = np.mod(phi - mu + 0.5, 1.0) - 0.5
    return np.exp(-((d / w) ** 2))


def _periodic_spline(points: Sequence[tuple[float, float]]) -> CubicSpline:
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    if x[0] != 0.0:
        raise ValueError("spline points must start at phase 0")
    x = np.append(x, 1.0)
    y = np.append(y, y[0])
    return CubicSpline(x, y, bc_type="periodic")


def _knee_template(direction: str, st: float, contact: float, swing_peak: float) -> CubicSpline:
    """Knee flexion (deg, flexion positive); value at phase 0 = ``contact``."""
    sw = 1.0 - st
    if direction == "FW":
        pts = [(0.0, contact), (0.25 * st, contact + 14.0), (0.65 * st, contact - 7.0), (st, 38.0),
               (st + 0.30 * sw, swing_peak), (st + 0.72 * sw, 20.0), (st + 0.92 * sw, contact - 5.0)]
    else:  # BW: toe-first contact with a flexed knee, the knee extends through stance
        pts = [(0.0, contact), (0.30 * st, contact - 12.0), (0.70 * st, 6.0), (st, 5.0),
               (st + 0.35 * sw, swing_peak), (st + 0.75 * sw, contact + 10.0)]
    return _periodic_spline(pts)


def _hip_template(direction: str, st: float) -> CubicSpline:
    sw = 1.0 - st
    if direction == "FW":
        pts = [(0.0, 25.0), (0.9 * st, -12.0), (st + 0.6 * sw, 27.0)]
    else:
        pts = [(0.0, -8.0), (st, 22.0), (st + 0.5 * sw, 10.0)]
    return _periodic_spline(pts)


def _ankle_template(direction: str, st: float) -> CubicSpline:
    sw = 1.0 - st
    if direction == "FW":  # dorsiflexion positive: +11 mid-stance, about -18 at toe-off
        pts = [(0.0, 0.0), (0.12 * st, -5.0), (0.75 * st, 11.0), (st, -18.0), (st + 0.35 * sw, 2.0)]
    else:
        pts = [(0.0, -18.0), (0.6 * st, 8.0), (st, 12.0), (st + 0.5 * sw, -5.0)]
    return _periodic_spline(pts)


def _vgrf_shape(direction: str) -> tuple[float, float, float, float]:
    """(mu1, mu2, height ratio of hump 2 to hump 1, mean over stance) of the vertical GRF shape."""
    mu1, mu2, h2 = (0.23, 0.77, 0.96) if direction == "FW" else (0.28, 0.75, 1.0)
    psi = np.linspace(0.0, 1.0, 20001)
    raw = _vgrf_raw(psi, mu1, mu2, h2)
    return mu1, mu2, h2, float(np.trapezoid(raw, psi))


def _vgrf_raw(psi: np.ndarray, mu1: float, mu2: float, h2: float) -> np.ndarray:
    # peak / stance mean about 1.37-1.42: with the impulse m g T / 2, peaks of 1.1-1.2 BW and a
    # mid-stance valley of about 0.8 BW, as in walking at 0.6-1.2 m/s
    env = np.sin(np.pi * np.clip(psi, 0.0, 1.0)) ** 0.35
    return env * (0.70 + 0.40 * _gauss(psi, mu1, 0.11) + 0.40 * h2 * _gauss(psi, mu2, 0.11))


_EMG_PROFILES: dict[str, dict[str, list[tuple[float, float, float]]]] = {
    # (weight, centre phase, width) of circular Gaussian bursts; FS at 0, FO at ~0.61 (FW) / ~0.63 (BW)
    "FW": {
        "tibialis_anterior": [(1.0, 0.04, 0.06), (0.6, 0.78, 0.10)],
        "rectus_femoris": [(1.0, 0.06, 0.06), (0.6, 0.58, 0.05)],
        "biceps_femoris": [(1.0, 0.94, 0.06), (0.5, 0.07, 0.06)],
        "gluteus_medius": [(1.0, 0.15, 0.10)],
        "medial_gastrocnemius": [(1.0, 0.42, 0.09)],
        "vastus_lateralis": [(1.0, 0.08, 0.07), (0.4, 0.96, 0.03)],
        "gracilis": [(1.0, 0.66, 0.08)],
        "gluteus_maximus": [(1.0, 0.05, 0.07)],
    },
    "BW": {
        "tibialis_anterior": [(1.0, 0.05, 0.08), (0.6, 0.55, 0.08)],
        "rectus_femoris": [(1.0, 0.25, 0.12), (0.5, 0.75, 0.08)],
        "biceps_femoris": [(1.0, 0.70, 0.10), (0.5, 0.10, 0.08)],
        "gluteus_medius": [(1.0, 0.20, 0.12)],
        "medial_gastrocnemius": [(1.0, 0.10, 0.08)],
        "vastus_lateralis": [(1.0, 0.25, 0.14)],
        "gracilis": [(1.0, 0.60, 0.10)],
        "gluteus_maximus": [(1.0, 0.45, 0.10)],
    },
}
_EMG_BASE = 0.03


def _emg_profile(direction: str, muscle: str, phi: np.ndarray) -> np.ndarray:
    """Burst profile with mean 1 over the cycle."""
    grid = np.linspace(0.0, 1.0, 4000, endpoint=False)

    def raw(p):
        return _EMG_BASE + sum(w * _cgauss(p, mu, wd) for w, mu, wd in _EMG_PROFILES[direction][muscle])

    return raw(phi) / float(raw(grid).mean())


# ---------------------------------------------------------------------------
# Random terms
# ---------------------------------------------------------------------------

def _centred(rng: np.random.Generator, sd: float, n: int) -> np.ndarray:
    x = rng.normal(0.0, sd, n)
    return x - x.mean()


def _subject_terms(seed: int) -> dict[str, dict[str, Any]]:
    """Subject and subject x condition terms for all 12 subjects (centred)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xAB]))
    n = len(SUBJECTS)
    conds = list(CONDITION_MEANS)
    out = {s: {"sxc": {c: {} for c in conds}} for s in SUBJECTS}
    subj = {
        "stride_rel": _centred(rng, NOISE["stride_rel_subject"], n),
        "stance_pct": _centred(rng, NOISE["stance_pct_subject"], n),
        "knee_deg": _centred(rng, NOISE["knee_deg_subject"], n),
        "moment": _centred(rng, NOISE["moment_subject"], n),
    }
    for i, s in enumerate(SUBJECTS):
        out[s].update({k: float(v[i]) for k, v in subj.items()})
        out[s]["emg_gain"] = {}
    for side in ("L", "R"):
        for m in _MUSCLES:
            g = np.exp(rng.normal(math.log(1.0e-4), NOISE["emg_log_gain_subject"], n))
            for i, s in enumerate(SUBJECTS):
                out[s]["emg_gain"][(side, m)] = float(g[i])
    for c in conds:
        terms = {
            "stride_s": _centred(rng, NOISE["stride_sxc"], n),
            "stance_pct": _centred(rng, NOISE["stance_pct_sxc"], n),
            "knee_deg": _centred(rng, NOISE["knee_deg_sxc"], n),
            "moment": _centred(rng, NOISE["moment_sxc"], n),
        }
        emg = {m: _centred(rng, NOISE["emg_log_sxc"], n) for m in _MUSCLES}
        for i, s in enumerate(SUBJECTS):
            out[s]["sxc"][c] = {k: float(v[i]) for k, v in terms.items()}
            out[s]["sxc"][c]["emg_log"] = {m: float(emg[m][i]) for m in _MUSCLES}
    return out


def _design(cond: str, terms: Mapping[str, Any]) -> dict[str, Any]:
    """Design values of one subject in one condition."""
    cm = CONDITION_MEANS[cond]
    sxc = terms["sxc"][cond]
    return {
        "condition": cond,
        "direction": cm["direction"],
        "speed_mps": cm["speed_mps"],
        "stride_time": cm["stride_time"] * (1.0 + terms["stride_rel"]) + sxc["stride_s"],
        "stance_pct": cm["stance_pct"] + terms["stance_pct"] + sxc["stance_pct"],
        "knee_flexion_at_contact": cm["knee_flexion_at_contact"] + terms["knee_deg"] + sxc["knee_deg"],
        "knee_extensor_moment_peak": cm["knee_extensor_moment_peak"] + terms["moment"] + sxc["moment"],
        "swing_knee_flexion_peak": cm["swing_knee_flexion_peak"] + terms["knee_deg"] + sxc["knee_deg"],
        "ankle_pf_peak": cm["ankle_pf_peak"],
        "emg_amplitude": {m: cm["emg_amplitude"][m] * math.exp(sxc["emg_log"][m]) for m in _MUSCLES},
    }


# ---------------------------------------------------------------------------
# One trial
# ---------------------------------------------------------------------------

@dataclass
class _Cycles:
    fs: np.ndarray        # foot strikes (s), covering the window with margin
    stance: np.ndarray    # stance fraction per cycle
    knee_delta: np.ndarray  # per-cycle knee offset at FS (deg)
    moment_gain: np.ndarray
    grf_gain: np.ndarray
    emg_gain: np.ndarray  # (cycles, 2 sides, muscles)

    def locate(self, t: np.ndarray, st_nominal: float) -> dict[str, np.ndarray]:
        i = np.clip(np.searchsorted(self.fs, t, side="right") - 1, 0, len(self.fs) - 2)
        T = self.fs[i + 1] - self.fs[i]
        u = (t - self.fs[i]) / T
        s = self.stance[i]
        stance = u < s
        psi = np.where(stance, u / s, (u - s) / (1.0 - s))  # within-stance / within-swing fraction
        phi = np.where(stance, psi * st_nominal, st_nominal + psi * (1.0 - st_nominal))
        # knee offset interpolated linearly between FS knots (continuous)
        kd = self.knee_delta[i] + (self.knee_delta[i + 1] - self.knee_delta[i]) * u
        return {"i": i, "u": u, "stance": stance, "psi": psi, "phi": phi, "knee_delta": kd}


def _make_cycles(rng: np.random.Generator, d: Mapping[str, Any], t_start: float, t_end: float) -> _Cycles:
    T = d["stride_time"]
    st = d["stance_pct"] / 100.0
    n = int(math.ceil((t_end - t_start) / T)) + 4
    periods = T * (1.0 + NOISE["stride_rel_cycle"] * rng.standard_normal(n))
    phase0 = rng.uniform(0.0, 1.0)
    fs = t_start - (1.0 + phase0) * T + np.concatenate([[0.0], np.cumsum(periods)])
    stance = st + NOISE["stance_pct_cycle"] / 100.0 * rng.standard_normal(len(fs))
    knee_delta = NOISE["knee_deg_cycle"] * rng.standard_normal(len(fs))
    moment_gain = 1.0 + NOISE["moment_rel_cycle"] * rng.standard_normal(len(fs))
    grf_gain = 1.0 + NOISE["grf_rel_cycle"] * rng.standard_normal(len(fs))
    emg_gain = np.exp(NOISE["emg_log_cycle"] * rng.standard_normal((len(fs), 2, len(_MUSCLES))))
    return _Cycles(fs, stance, knee_delta, moment_gain, grf_gain, emg_gain)


def _trial_frames(subject: str, trial: str, d: Mapping[str, Any], terms: Mapping[str, Any], mass: float,
                  rng: np.random.Generator, t0: float, n_rows: int, emg_rate: float,
                  extra: bool) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    direction = d["direction"]
    st_nom = d["stance_pct"] / 100.0
    k = np.arange(n_rows)
    t = t0 + k / _KIN_RATE
    emg_step = int(round(emg_rate / _KIN_RATE))
    n_emg = (n_rows - 1) * emg_step + 1
    te = t0 + np.arange(n_emg) / emg_rate
    cyc = _make_cycles(rng, d, t0, t[-1])
    L = cyc.locate(t, st_nom)
    R_phi = np.mod(L["phi"] + 0.5, 1.0)

    # ---- angles (deg) -------------------------------------------------------
    knee_tpl = _knee_template(direction, st_nom, d["knee_flexion_at_contact"], d["swing_knee_flexion_peak"])
    hip_tpl = _hip_template(direction, st_nom)
    ank_tpl = _ankle_template(direction, st_nom)
    flex_l = knee_tpl(L["phi"]) + L["knee_delta"]
    flex_r = knee_tpl(R_phi) + L["knee_delta"]
    two_pi = 2.0 * np.pi
    ang = {
        "hip_flexion_r": hip_tpl(R_phi), "hip_adduction_r": 5.0 * np.sin(two_pi * R_phi),
        "hip_rotation_r": 4.0 * np.sin(two_pi * R_phi + 1.0), "knee_angle_r": -flex_r,
        "ankle_angle_r": ank_tpl(R_phi), "subtalar_angle_r": 3.0 * np.sin(two_pi * R_phi + 2.0),
        "hip_flexion_l": hip_tpl(L["phi"]), "hip_adduction_l": 5.0 * np.sin(two_pi * L["phi"]),
        "hip_rotation_l": 4.0 * np.sin(two_pi * L["phi"] + 1.0), "knee_angle_l": -flex_l,
        "ankle_angle_l": ank_tpl(L["phi"]), "subtalar_angle_l": 3.0 * np.sin(two_pi * L["phi"] + 2.0),
    }
    ang = {key: v + 0.05 * rng.standard_normal(n_rows) for key, v in ang.items()}

    # ---- moments (N.m/kg, OpenSim signs), left leg only ----------------------
    psi, stance = L["psi"], L["stance"]
    mg = cyc.moment_gain[L["i"]]
    P = d["knee_extensor_moment_peak"]
    if direction == "FW":
        knee_st = P * _gauss(psi, 0.22, 0.08) - 0.25 * _gauss(psi, 0.62, 0.12) + 0.12 * _gauss(psi, 0.90, 0.05)
        knee_sw = -0.15 * _gauss(psi, 0.85, 0.10)
        ank_st = 0.10 * _gauss(psi, 0.06, 0.04) + d["ankle_pf_peak"] * _gauss(psi, 0.75, 0.14)
        hip_st = -0.70 * _gauss(psi, 0.15, 0.10) + 0.70 * _gauss(psi, 0.80, 0.12)
    else:
        knee_st = P * _gauss(psi, 0.35, 0.12) - 0.10 * _gauss(psi, 0.85, 0.07)
        knee_sw = -0.05 * _gauss(psi, 0.50, 0.15)
        ank_st = d["ankle_pf_peak"] * _gauss(psi, 0.30, 0.16)
        hip_st = 0.60 * _gauss(psi, 0.20, 0.10) - 0.50 * _gauss(psi, 0.75, 0.12)
    knee_m = np.where(stance, mg * knee_st, knee_sw)
    ank_m = np.where(stance, mg * ank_st, 0.0)
    hip_m = np.where(stance, mg * hip_st, 0.08 * np.sin(two_pi * psi))
    mom = {
        "hip_flexion_l_moment": hip_m,
        "hip_adduction_l_moment": np.where(stance, -0.6 * (_gauss(psi, 0.25, 0.12) + _gauss(psi, 0.75, 0.12)), 0.0),
        "hip_rotation_l_moment": np.where(stance, 0.10 * np.sin(two_pi * psi), 0.0),
        "knee_angle_l_moment": knee_m,
        "ankle_angle_l_moment": ank_m,
        "subtalar_angle_l_moment": np.where(stance, 0.08 * np.sin(np.pi * psi), 0.0),
    }
    mom = {key: v + 0.005 * rng.standard_normal(n_rows) for key, v in mom.items()}
    for j in _MOMENT_JOINTS:
        mom[f"{j}_r_moment"] = np.full(n_rows, np.nan)

    # ---- GRF (N, Y up; X = AP, Z = lateral right), left belt only ------------
    # Over whole strides the two belts together carry body weight (no net vertical acceleration of the
    # centre of mass), and a symmetric gait puts half of it on each: each stance's vertical impulse is
    # m g T / 2 (T the cycle's stride time), scaled by the cycle-to-cycle gain.
    mu1, mu2, h2, mean_raw = _vgrf_shape(direction)
    w = mass * _G * cyc.grf_gain[L["i"]]
    level = 0.5 / cyc.stance[L["i"]] / mean_raw  # stance lasts stance * T, so the impulse is w T / 2
    fy = np.where(stance, w * level * _vgrf_raw(psi, mu1, mu2, h2), 0.0)
    env = np.sin(np.pi * psi) ** 0.5
    ap_sign = -1.0 if direction == "FW" else 1.0  # FW: braking (-X) then propulsion (+X)
    fx = np.where(stance, ap_sign * 0.16 * w * np.sin(two_pi * psi) * env, 0.0)
    fz = np.where(stance, 0.05 * w * np.sin(np.pi * psi), 0.0)
    offset = rng.normal(0.0, 0.8, 3)
    noise = NOISE["grf_noise_n"]
    fx = fx + offset[0] + noise * rng.standard_normal(n_rows)
    fy = fy + offset[1] + noise * rng.standard_normal(n_rows)
    fz = fz + offset[2] + noise * rng.standard_normal(n_rows)
    T_st = st_nom * d["stride_time"]
    drift = 0.20 - d["speed_mps"] * T_st  # heel->toe on the foot minus belt displacement (FW)
    drift = drift if direction == "FW" else -drift
    cop_x = np.where(stance, -drift / 2.0 + drift * psi, 0.0)
    cop_z = np.where(stance, -0.10 + 0.01 * psi, 0.0)
    nanv = np.full(n_rows, np.nan)
    grf = {"RForceX": nanv, "RForceY_Vertical": nanv, "RForceZ": nanv, "RCOPX": nanv,
           "RCOPY_Vertical": nanv, "RCOPZ": nanv,
           "LForceX": fx, "LForceY_Vertical": fy, "LForceZ": fz, "LCOPX": cop_x,
           "LCOPY_Vertical": np.zeros(n_rows), "LCOPZ": cop_z}

    # ---- EMG (V) ------------------------------------------------------------
    Le = cyc.locate(te, st_nom)
    phi_e = {"L": Le["phi"], "R": np.mod(Le["phi"] + 0.5, 1.0)}
    carrier = _emg_carrier(rng, n_emg, len(EMG_CHANNELS), emg_rate)
    emg = {}
    for j, ch in enumerate(EMG_CHANNELS):
        side, abbr = ch[0], ch[1:]
        muscle = EMG_MUSCLES[abbr]
        mi = _MUSCLES.index(muscle)
        si = 0 if side == "L" else 1
        sigma = (terms["emg_gain"][(side, muscle)] * d["emg_amplitude"][muscle]
                 * _emg_profile(direction, muscle, phi_e[side]) * cyc.emg_gain[Le["i"], si, mi])
        emg[ch] = sigma * carrier[:, j]

    frames: dict[str, pd.DataFrame] = {
        "angle": _frame(t, ANGLE_COLUMNS, ang, 3),
        "moment_filt": _frame(t, MOMENT_COLUMNS, mom, 3),
        "grf": _frame(t, GRF_COLUMNS, grf, 3),
        "emg": _frame(te, ("time",) + EMG_CHANNELS, emg, 4 if emg_rate > 1000 else 3),
        "activity_flag": _frame(t, ("time", "left", "right"),
                                {"left": np.ones(n_rows, dtype=np.int64),
                                 "right": np.ones(n_rows, dtype=np.int64)}, 3),
    }
    if extra:
        vel = {}
        for side in ("l", "r"):
            for j in ("hip_flexion", "hip_adduction", "hip_rotation"):
                vel[f"{j}_velocity_{side}"] = np.gradient(ang[f"{j}_{side}"], 1.0 / _KIN_RATE)
            vel[f"knee_velocity_{side}"] = np.gradient(ang[f"knee_angle_{side}"], 1.0 / _KIN_RATE)
            vel[f"ankle_velocity_{side}"] = np.gradient(ang[f"ankle_angle_{side}"], 1.0 / _KIN_RATE)
            vel[f"subtalar_velocity_{side}"] = np.gradient(ang[f"subtalar_angle_{side}"], 1.0 / _KIN_RATE)
        frames["velocity"] = _frame(t, VELOCITY_COLUMNS, vel, 3)
        imu = {c: np.sin(two_pi * L["phi"] + h) * (9.81 if "ACC" in c else 120.0) + rng.standard_normal(n_rows)
               for h, c in enumerate(IMU_COLUMNS[1:])}
        frames["imu_real"] = _frame(t, IMU_COLUMNS, imu, 3)
        raw_m = {c: (v + 0.02 * rng.standard_normal(n_rows)) for c, v in mom.items()}
        frames["moment"] = _frame(t, MOMENT_COLUMNS, raw_m, 3)
        frames["link_angle"] = _frame(t, ("time", "thigh_l", "shank_l", "foot_l"),
                                      {"thigh_l": ang["hip_flexion_l"], "shank_l": ang["knee_angle_l"],
                                       "foot_l": ang["ankle_angle_l"]}, 3)

    in_window = (cyc.fs >= t[0]) & (cyc.fs <= t[-1])
    fo = cyc.fs[:-1] + cyc.stance[:-1] * np.diff(cyc.fs)
    events = {"foot_strike": cyc.fs[in_window].copy(),
              "foot_off": fo[(fo >= t[0]) & (fo <= t[-1])].copy()}
    return frames, events


def _emg_carrier(rng: np.random.Generator, n: int, channels: int, rate: float) -> np.ndarray:
    """Unit-variance surface-EMG-like noise: Gaussian noise band-passed 30-200 Hz.

    White noise would have a median frequency near the band centre (about
    235 Hz in a 20-450 Hz band), which EMG quality checks rightly take for
    amplifier noise; surface EMG has a median frequency of about 50-130 Hz.
    """
    sos = butter(2, [30.0, 200.0], btype="bandpass", fs=rate, output="sos")
    lead = int(rate * 0.2)  # discard the filter start-up
    x = sosfilt(sos, rng.standard_normal((n + lead, channels)), axis=0)[lead:]
    return x / x.std(axis=0)


def _emg_form(frame: pd.DataFrame, form: str, rate: float) -> pd.DataFrame:
    """The EMG channels rectified, or as linear envelopes (|x|, zero-lag 6 Hz low-pass, order 2)."""
    out = frame.copy()
    sos = butter(2, 6.0, btype="lowpass", fs=rate, output="sos")
    for c in out.columns[1:]:
        x = np.abs(out[c].to_numpy(dtype=float))
        out[c] = x if form == "rectified" else np.maximum(sosfiltfilt(sos, x), 0.0)
    return out


def _frame(t: np.ndarray, columns: Sequence[str], data: Mapping[str, np.ndarray], decimals: int) -> pd.DataFrame:
    df = pd.DataFrame({c: data[c] for c in columns[1:]})
    df.insert(0, "time", np.char.mod(f"%.{decimals}f", t))
    return df


def _to_csv(df: pd.DataFrame, suffix: str, nan_text: str, bom: bool) -> bytes:
    """CSV text with ``time`` as pre-formatted strings, floats as %.6g, ints as %d.

    Row-wise %-formatting is about 5x faster than ``DataFrame.to_csv`` with a
    float format and does not depend on the pandas version.
    """
    if suffix == "emg":
        return _emg_csv(df, bom)
    fmts = []
    for c in df.columns:
        if c == "time":
            fmts.append("%s")
        elif pd.api.types.is_integer_dtype(df[c].dtype):
            fmts.append("%d")
        else:
            fmts.append("%.6g")
    row_fmt = ",".join(fmts)
    cols = [df[c].tolist() for c in df.columns]
    lines = [",".join(df.columns)]
    lines += [row_fmt % row for row in zip(*cols)]
    text = "\n".join(lines) + "\n"
    if "nan" in text:
        text = _NAN_RE.sub(nan_text, text)
    data = text.encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


_NAN_RE = re.compile(r"(?<=,)nan(?=,|\n)")


def _emg_csv(df: pd.DataFrame, bom: bool) -> bytes:
    """EMG files (40 001 x 17, no NaN) through pyarrow's C++ writer: values rounded to 1e-8 V."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({c: (df[c].to_numpy() if c == "time" else np.round(df[c].to_numpy(dtype=float), 8))
                      for c in df.columns})
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    data = (",".join(df.columns) + "\n").encode() + buf.getvalue()
    return (b"\xef\xbb\xbf" + data) if bom else data


# ---------------------------------------------------------------------------
# The archive
# ---------------------------------------------------------------------------

def _norm_prefix(prefix: str) -> str:
    p = prefix.strip("/")
    return f"{p}/" if p else ""


def _t0(rng: np.random.Generator, trial_index: int) -> float:
    """A non-zero multiple of 0.005 s, different for every trial of a subject."""
    k = int(rng.integers(0, 2000))  # up to 10 s of jitter
    return round(20.0 + 40.0 * trial_index + 0.005 * k, 3)


def build_replica(path: str | os.PathLike, *, subjects: Sequence[str] = SUBJECTS,
                  trials: Sequence[str] = TRIALS, prefix: str = "", seed: int = 0,
                  n_rows: int | None = None, emg_rate_hz: float = 2000.0, duration_s: float = 20.0,
                  extra_files: bool = True, masses_csv: bool = False, nan_text: str = "",
                  shuffle_columns: bool = False, bom: bool = False, knee_sign: int = -1,
                  knee_moment_sign: int | None = None, ankle_sign: int = 1, emg_form: str = "raw",
                  emg_time_offset_s: float = 0.0, moment_unit: str = "N.m/kg", dir_entries: bool = True,
                  compresslevel: int = 6) -> ReplicaInfo:
    """Write a GT23-format ZIP (deflate) at ``path`` and describe it.

    Parameters
    ----------
    subjects, trials
        Which of :data:`SUBJECTS` and :data:`ALL_TRIALS` to generate.
    prefix
        ``""`` (entries start with ``ABxx/``, the verified layout) or a folder
        such as ``"ProcessedData/"`` wrapping everything.
    seed
        All randomness derives from it; the same arguments give byte-identical
        archives, and a subject's files do not depend on the other subjects.
    n_rows
        Rows of the 200-Hz files. Default ``round(duration_s*200) + 1`` (4001
        for 20 s, both ends included); pass ``round(duration_s*200)`` for the
        4000-row variant. EMG files have ``(n_rows-1)*emg_rate_hz/200 + 1`` rows.
    emg_rate_hz
        EMG sampling rate (2000 or 1000; must be a multiple of 200).
    extra_files
        Also write ``_velocity``, ``_imu_real``, ``_moment`` and an unknown
        ``_link_angle`` file per trial.
    masses_csv
        Also write ``Subject_masses.csv`` (header ``subject,mass_kg``) at the root.
    nan_text
        How NaN is printed: ``""`` (empty field) or e.g. ``"NaN"``.
    shuffle_columns
        Shuffle the non-time columns of every file (seeded; values unchanged).
    bom
        Prefix every CSV with a UTF-8 byte-order mark.
    knee_sign
        ``-1`` writes the GT23 convention (knee_angle = -flexion); ``+1`` the
        opposite, to exercise the adapter's sign check.
    knee_moment_sign
        Sign of ``knee_angle_*_moment`` relative to knee extension: ``+1``
        extensor-positive, ``-1`` flexor-positive. Default: what the angle's
        convention implies (OpenSim gives a coordinate's generalised force
        about its own positive direction), i.e. ``-knee_sign``. Passing the
        other sign plants a moment whose sign contradicts its angle.
    ankle_sign
        ``+1`` writes ``ankle_angle_*`` dorsiflexion-positive (GT23); ``-1``
        plantarflexion-positive (angle and ankle moment negated).
    emg_form
        ``"raw"`` (signed, zero-mean, like GT23), ``"rectified"`` (absolute
        value) or ``"envelope"`` (linear envelope: absolute value, zero-lag
        6 Hz Butterworth low-pass of order 2).
    emg_time_offset_s
        Added to the EMG file's time column (a misaligned EMG time base).
    moment_unit
        ``"N.m/kg"`` (GT23) or ``"N.m"`` (moments multiplied by body mass), to
        exercise the adapter's unit check.
    dir_entries
        Write directory entries (``ABxx/``, ``ABxx/<trial>/``) as GUI zip tools do.
    compresslevel
        Deflate level (1 is about 3x faster to write than the default 6, for
        large benchmark replicas).
    """
    path = Path(path)
    subjects = list(subjects)
    trials = list(trials)
    unknown = [s for s in subjects if s not in SUBJECTS]
    if unknown:
        raise ValueError(f"unknown GT23 subjects {unknown}; known: {SUBJECTS}")
    for tr in trials:
        trial_condition(tr)
    if len(set(subjects)) != len(subjects) or len(set(trials)) != len(trials):
        raise ValueError("duplicate subjects or trials")
    if knee_sign not in (1, -1):
        raise ValueError("knee_sign must be 1 or -1")
    if knee_moment_sign is None:
        knee_moment_sign = -knee_sign
    if knee_moment_sign not in (1, -1) or ankle_sign not in (1, -1):
        raise ValueError("knee_moment_sign and ankle_sign must be 1 or -1")
    if emg_form not in ("raw", "rectified", "envelope"):
        raise ValueError("emg_form must be 'raw', 'rectified' or 'envelope'")
    if moment_unit not in ("N.m/kg", "N.m"):
        raise ValueError("moment_unit must be 'N.m/kg' or 'N.m'")
    step = emg_rate_hz / _KIN_RATE
    if abs(step - round(step)) > 1e-9 or step < 1:
        raise ValueError("emg_rate_hz must be a multiple of 200 Hz")
    if n_rows is None:
        n_rows = int(round(duration_s * _KIN_RATE)) + 1
    if n_rows < 10:
        raise ValueError("n_rows must be at least 10")
    pre = _norm_prefix(prefix)
    terms = _subject_terms(seed)

    files: dict[str, bytes] = {}
    info = ReplicaInfo(path=path, prefix=pre, seed=seed, subjects=subjects, trials=trials,
                       masses={s: S1_MASSES[s] for s in subjects}, members={},
                       planted_effects=PLANTED_EFFECTS, condition_means=CONDITION_MEANS,
                       n_rows=n_rows, emg_rows=(n_rows - 1) * int(round(step)) + 1, emg_rate_hz=emg_rate_hz)
    for s in subjects:
        si = SUBJECTS.index(s)
        for tr in trials:
            ti = ALL_TRIALS.index(tr)
            rng = np.random.default_rng(np.random.SeedSequence([seed, si, ti]))
            t0 = _t0(rng, ti)
            d = _design(trial_condition(tr), terms[s])
            frames, events = _trial_frames(s, tr, d, terms[s], S1_MASSES[s], rng, t0, n_rows,
                                           emg_rate_hz, extra_files)
            if knee_sign == 1:
                for side in ("l", "r"):
                    frames["angle"][f"knee_angle_{side}"] *= -1.0
            if knee_moment_sign == -1:
                for side in ("l", "r"):
                    frames["moment_filt"][f"knee_angle_{side}_moment"] *= -1.0
            if ankle_sign == -1:
                for side in ("l", "r"):
                    frames["angle"][f"ankle_angle_{side}"] *= -1.0
                    frames["moment_filt"][f"ankle_angle_{side}_moment"] *= -1.0
            if emg_form != "raw":
                frames["emg"] = _emg_form(frames["emg"], emg_form, emg_rate_hz)
            if emg_time_offset_s:
                te_text = frames["emg"]["time"]
                decimals = len(te_text.iloc[0].split(".")[1])
                frames["emg"]["time"] = np.char.mod(f"%.{decimals}f", te_text.astype(float).to_numpy()
                                                    + emg_time_offset_s)
            if moment_unit == "N.m":
                for c in MOMENT_COLUMNS[1:]:
                    frames["moment_filt"][c] *= S1_MASSES[s]
            shuffle_rng = np.random.default_rng(np.random.SeedSequence([seed, si, ti, 7]))
            for suffix in sorted(frames):
                df = frames[suffix]
                if shuffle_columns:
                    cols = list(df.columns[1:])
                    order = [cols[i] for i in shuffle_rng.permutation(len(cols))]
                    df = df[["time"] + order]
                files[member_name(s, tr, suffix, pre)] = _to_csv(df, suffix, nan_text, bom)
            info.design[(s, tr)] = d
            info.events[(s, tr)] = events
            info.t0[(s, tr)] = t0
    if masses_csv:
        lines = ["subject,mass_kg"] + [f"{s},{S1_MASSES[s]}" for s in SUBJECTS]
        files[f"{pre}Subject_masses.csv"] = ("\n".join(lines) + "\n").encode()

    dirs: set[str] = set()
    if dir_entries:
        for name in files:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]) + "/")

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            # the replica says what it is; the report shows this (see retrogait.report.sections)
            zf.comment = REPLICA_COMMENT.encode()
            for name in sorted(set(files) | dirs):
                zi = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                zi.create_system = 3
                if name.endswith("/"):
                    zi.external_attr = (0o40755 << 16) | 0x10
                    zf.writestr(zi, b"", compress_type=zipfile.ZIP_STORED)
                else:
                    zi.external_attr = 0o100644 << 16
                    zf.writestr(zi, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with zipfile.ZipFile(path) as zf:
        for zi in zf.infolist():
            if not zi.is_dir():
                info.members[zi.filename] = MemberInfo(zi.compress_size, zi.CRC, zi.file_size)
    return info


def extract(info_or_path: ReplicaInfo | str | os.PathLike, dest: str | os.PathLike,
            members: Iterable[str] | None = None) -> Path:
    """Extract (some) members of a replica into ``dest`` (test helper)."""
    src = info_or_path.path if isinstance(info_or_path, ReplicaInfo) else Path(info_or_path)
    dest = Path(dest)
    with zipfile.ZipFile(src) as zf:
        zf.extractall(dest, members=None if members is None else list(members))
    return dest


def read_member(info: ReplicaInfo, name: str) -> pd.DataFrame:
    """Read one CSV member of a replica with pandas (test helper)."""
    with zipfile.ZipFile(info.path) as zf:
        return pd.read_csv(io.BytesIO(zf.read(name)), encoding="utf-8-sig")
