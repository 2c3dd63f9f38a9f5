"""Discrete per-cycle measures, each with a unit and a reference.

Kinematic and kinetic measures are computed on the raw samples inside each
cycle's window (not on the 101-node curves), so peaks and loading rates
keep the recording's time resolution; EMG measures use the time-normalised,
reference-normalised envelopes (a 6 Hz envelope is fully described by 101
nodes per cycle). Kinetic measures need a kinetics-valid stance: one clean
single-foot contact on a force plate or belt.

The output is a long (tidy) table: one row per cycle and measure, with
``qc_status``/``qc_reason``/``qc_rule`` from the plausibility rules
(:mod:`retrogait.gait.plausibility`): a broken rule flags only the measure
family it governs in that cycle, never the cycle's other measures. A
measure that cannot be computed because samples it needs are missing (NaN)
is never dropped silently: it is a row with ``value`` NaN,
``qc_status="missing"`` and the reason (which signal, how many samples of
which window), docs/methods.md §0.3.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from retrogait.gait.catalog import HAMSTRINGS, QUADRICEPS, describe
from retrogait.gait.cycles import node_columns
from retrogait.gait.emg import co_contraction
from retrogait.gait.jointwork import moment_arm_at_peak, stance_work
from retrogait.gait.kneeload import (KAM_LEVER_ARM_DESCRIPTION, MEDIAL_PROXY_DESCRIPTION, PFJModel, kam_lever_arm, kam_summary,
                       medial_contact_proxy, moment_summary, pfj_load, to_percent_bw_ht, vgrf_summary)
from retrogait.gait.plausibility import check_trial_scale, flag_cycle
from retrogait.ingest.trial import Trial
from retrogait.ingest.units import G

__all__ = ["subject_measures", "subject_means"]

log = logging.getLogger("retrogait.gait.measures")


# --------------------------------------------------------------------------
def subject_measures(trials: list[Trial], cycles: pd.DataFrame, waveforms: pd.DataFrame, *,
                     pfj: PFJModel = PFJModel(), nodes: int = 101) -> pd.DataFrame:
    """Long table of per-cycle measures of one subject (kept cycles only).

    A broken plausibility rule flags the measure family it governs in that
    cycle (e.g. every ``pfj_*`` value when the PFJ stress is implausible):
    those rows keep their values with ``qc_status="rejected"``, the reason
    and the rule name (``qc_rule``); the cycle's other measures stay
    ``kept``. A pattern that means a unit or sign error across a whole trial
    stops the run with the dataset, subject and trial named
    (:func:`retrogait.gait.plausibility.check_trial_scale`).
    """
    by_trial = {t.meta.trial: t for t in trials}
    rows: list[dict[str, Any]] = []
    kept = cycles[cycles["qc_status"] == "kept"]
    emg_curves = _emg_curves(waveforms, node_columns(nodes))
    for trial_id, tcycles in kept.groupby("trial", sort=False):
        trial = by_trial[trial_id]
        per_cycle = []
        for row in tcycles.itertuples(index=False):
            values, methods, missing = _cycle_values(trial, row, pfj)
            values.update(_emg_values(emg_curves.get((trial_id, row.side, int(row.cycle)), {})))
            per_cycle.append((row, values, methods, missing))
        _missing_against_siblings(per_cycle)
        peaks = np.array([v.get("knee_extensor_moment_peak", np.nan) for _, v, _, _ in per_cycle])
        if np.isfinite(peaks).any():
            check_trial_scale(peak_extensor_moments_nm_per_kg=peaks[np.isfinite(peaks)],
                              where=dict(dataset=trial.meta.dataset, subject=trial.meta.subject, trial=trial_id))
        for row, values, methods, missing in per_cycle:
            for name, value in values.items():
                if value is None or not np.isfinite(value):
                    missing.setdefault(name, "the value is not a finite number (missing samples in its window)")
            finite = {k: v for k, v in values.items() if k not in missing}
            broken = flag_cycle(finite)
            base = {"dataset": row.dataset, "subject": row.subject, "trial": row.trial,
                    "condition": row.condition, "direction": row.direction, "speed_mps": row.speed_mps,
                    "surface": row.surface, "side": row.side, "cycle": int(row.cycle),
                    "event_method": row.event_method}
            for name, value in finite.items():
                hits = [(rule, why) for rule, why in broken if rule.governs(name)]
                rows.append({**base, "measure": name, "value": float(value), "unit": describe(name).unit,
                             "method": _method(name, methods), "qc_status": "rejected" if hits else "kept",
                             "qc_reason": "; ".join(why for _, why in hits),
                             "qc_rule": ",".join(sorted({rule.name for rule, _ in hits}))})
            for name, why in missing.items():
                rows.append({**base, "measure": name, "value": float("nan"), "unit": describe(name).unit,
                             "method": _method(name, methods), "qc_status": "missing",
                             "qc_reason": f"not computed: {why}", "qc_rule": ""})
    columns = ["dataset", "subject", "trial", "condition", "direction", "speed_mps", "surface", "side", "cycle",
               "event_method", "measure", "value", "unit", "method", "qc_status", "qc_reason", "qc_rule"]
    return pd.DataFrame(rows, columns=columns)


def _missing_against_siblings(per_cycle: list) -> None:
    """Record, for each cycle, the measures its sibling cycles have but it lacks.

    Siblings are the cycles of the same trial, side, kind (stride or
    stance-only) and kinetics validity, so they can give the same measures by
    design. A measure a sibling has and this cycle neither computed nor
    reported missing lost a signal in this cycle's window (e.g. an EMG curve
    not normalised over a gap): it becomes a ``missing`` QC row too, so no
    measure vanishes silently. Modifies the ``missing`` dicts in place.
    """
    groups: dict[tuple, set[str]] = {}
    for row, values, _methods, missing in per_cycle:
        key = (row.side, row.kind, bool(row.kinetics_valid))
        groups.setdefault(key, set()).update(values, missing)
    for row, values, _methods, missing in per_cycle:
        for name in sorted(groups[(row.side, row.kind, bool(row.kinetics_valid))] - set(values) - set(missing)):
            if name.startswith(("emg_", "cci_")):
                missing[name] = ("no EMG envelope curve of this cycle for it (samples of the channel missing in the "
                                 "cycle's window; the cycles stage notes name the curve)")
            else:
                missing[name] = ("other cycles of this trial and side have it, this one cannot give it (a signal it "
                                 "needs is missing in the cycle's window)")


def _window(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (t >= t0) & (t <= t1)


def _method(name: str, methods: dict[str, str]) -> str:
    """How a measure's value was obtained (model, coefficient set, estimate)."""
    for prefix, label in methods.items():
        if name.startswith(prefix):
            return label
    return ""


def _gaps(values: np.ndarray, label: str) -> str | None:
    """Why ``values`` (the samples of one window) cannot give a measure, or None when all are finite."""
    bad = int((~np.isfinite(values)).sum())
    if values.size == 0:
        return f"no {label} samples"
    return f"{bad} of {values.size} {label} samples missing (NaN)" if bad else None


def _at(t: np.ndarray, y: np.ndarray, when: float, label: str) -> tuple[float, str | None]:
    """Linear interpolation of ``y`` at ``when`` from the two samples around it, or a reason it is missing."""
    i = int(np.searchsorted(t, when))
    around = y[max(i - 1, 0):i + 1]
    if around.size == 0 or not np.isfinite(around).all():
        return float("nan"), f"{label} missing (NaN) at {when:.3f} s"
    return float(np.interp(when, t, y)), None


def _cycle_values(trial: Trial, row, pfj: PFJModel
                  ) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Discrete measures of one kept cycle from raw samples.

    Returns the values, how each family was computed, and the measures that
    cannot be computed with the reason (missing samples in the window they
    need; never an argmax or a peak over NaN).
    """
    v: dict[str, float] = {"stance_time": row.fo_s - row.fs_s}
    methods: dict[str, str] = {}
    missing: dict[str, str] = {}

    def lack(names, why):
        for n in names:
            missing.setdefault(n, why)
    stride = row.kind == "stride" and np.isfinite(row.next_fs_s)
    kin = trial.kinematics
    side = row.side
    mass = trial.meta.mass_kg
    if stride:
        v["stride_time"] = row.next_fs_s - row.fs_s
        v["stance_pct"] = 100.0 * v["stance_time"] / v["stride_time"]
        v["cadence"] = 120.0 / v["stride_time"]
        length, how = _stride_length(trial, row)
        if length is not None:
            v["stride_length"], methods["stride_length"] = length, how
        elif how:
            lack(["stride_length"], how)
        speed, how = _walking_speed(trial, row)
        if speed is not None:
            v["walking_speed"], methods["walking_speed"] = speed, how
    angle = float(getattr(row, "foot_angle_contact_deg", np.nan))
    if np.isfinite(angle):
        v["foot_angle_at_contact"] = angle
        v["toe_first_contact"] = 100.0 if getattr(row, "contact_pattern", "") == "toe-first" else 0.0
        methods["foot_angle_"] = methods["toe_first_"] = "heel and toe trajectories at foot strike vs mid-stance"
    if kin is None:
        return v, methods, missing
    t = kin.time
    stance = _window(t, row.fs_s, row.fo_s)
    if kin.has(f"{side}_ankle_dorsiflexion"):
        value, why = _at(t, kin.get(f"{side}_ankle_dorsiflexion"), row.fs_s, f"{side}_ankle_dorsiflexion")
        if why:
            lack(["ankle_dorsiflexion_at_contact"], why)
        else:
            v["ankle_dorsiflexion_at_contact"] = value
    flex_ok = False
    if kin.has(f"{side}_knee_flexion"):
        flex = kin.get(f"{side}_knee_flexion")
        for name, when in (("knee_flexion_at_contact", row.fs_s), ("knee_flexion_at_toe_off", row.fo_s)):
            value, why = _at(t, flex, when, f"{side}_knee_flexion")
            if why:
                lack([name], why)
            else:
                v[name] = value
        if "knee_flexion_at_contact" in v and "knee_flexion_at_toe_off" in v:
            v["knee_extension_excursion_stance"] = v["knee_flexion_at_contact"] - v["knee_flexion_at_toe_off"]
        else:
            lack(["knee_extension_excursion_stance"], missing.get("knee_flexion_at_contact")
                 or missing.get("knee_flexion_at_toe_off", "knee flexion missing at contact or toe-off"))
        fs = flex[stance]
        why = _gaps(fs, f"{side}_knee_flexion stance")
        if why:
            lack(["knee_flexion_peak_stance", "knee_flexion_mean_stance", "knee_flexion_rom_stance"], why)
        else:
            flex_ok = True
            v["knee_flexion_peak_stance"] = float(fs.max())
            v["knee_flexion_mean_stance"] = float(np.trapezoid(fs, t[stance]) / (t[stance][-1] - t[stance][0])) \
                if fs.size > 1 else float(fs[0])
            v["knee_flexion_rom_stance"] = float(fs.max() - fs.min())
        if stride:
            fw = flex[_window(t, row.fs_s, row.next_fs_s)]
            why = _gaps(fw, f"{side}_knee_flexion stride")
            if why:
                lack(["knee_flexion_rom_stride"], why)
            else:
                v["knee_flexion_rom_stride"] = float(fw.max() - fw.min())
            sw = flex[_window(t, row.fo_s, row.next_fs_s)]
            why = _gaps(sw, f"{side}_knee_flexion swing")
            if why:
                lack(["knee_flexion_peak_swing"], why)
            else:
                v["knee_flexion_peak_swing"] = float(sw.max())
    if kin.has(f"{side}_hip_flexion"):
        hip = kin.get(f"{side}_hip_flexion")
        value, why = _at(t, hip, row.fs_s, f"{side}_hip_flexion")
        if why:
            lack(["hip_flexion_at_contact"], why)
        else:
            v["hip_flexion_at_contact"] = value
        hs = hip[stance]
        why = _gaps(hs, f"{side}_hip_flexion stance")
        if why:
            lack(["hip_flexion_peak_stance"], why)
        else:
            v["hip_flexion_peak_stance"] = float(hs.max())
    if not row.kinetics_valid:
        return v, methods, missing
    ts = t[stance]
    _joint_work(kin, side, stance, ts, v, methods, lack, pfj)
    if kin.has(f"{side}_knee_extensor_moment"):
        m = kin.get(f"{side}_knee_extensor_moment")[stance]
        why = _gaps(m, f"{side}_knee_extensor_moment stance") or (None if m.size > 2 else "fewer than 3 stance samples")
        pfj_names = ["pfj_force_peak_n", "pfj_force_peak", "pfj_stress_peak", "pfj_stress_integral",
                     "pfj_stress_peak_time"]
        if why:
            lack(["knee_extensor_moment_peak", "knee_flexor_moment_peak", "knee_extensor_moment_impulse",
                  "knee_flexor_moment_impulse"], why)
            if kin.has(f"{side}_knee_flexion"):
                lack(pfj_names, why)
        else:
            s = moment_summary(m, ts)
            v.update({"knee_extensor_moment_peak": s["extensor_peak"], "knee_flexor_moment_peak": s["flexor_peak"],
                      "knee_extensor_moment_impulse": s["extensor_impulse"],
                      "knee_flexor_moment_impulse": s["flexor_impulse"]})
            if kin.has(f"{side}_knee_flexion") and not flex_ok:
                lack(pfj_names, missing.get("knee_flexion_peak_stance", "knee flexion missing in stance"))
            elif kin.has(f"{side}_knee_flexion"):
                load = pfj_load(kin.get(f"{side}_knee_flexion")[stance], m * mass, model=pfj)
                stress = load["stress_mpa"]
                why = _gaps(np.asarray(stress, dtype=float), "patellofemoral stress")
                if why:
                    lack(pfj_names, why)
                else:
                    v["pfj_force_peak_n"] = float(np.max(load["pfjrf_n"]))
                    v["pfj_force_peak"] = v["pfj_force_peak_n"] / (mass * G)
                    v["pfj_stress_peak"] = float(np.max(stress))
                    v["pfj_stress_integral"] = float(np.trapezoid(stress, ts))
                    v["pfj_stress_peak_time"] = float(100.0 * (ts[np.argmax(stress)] - row.fs_s)
                                                      / (row.fo_s - row.fs_s))
                methods["pfj_"] = (f"torque-driven PFJ model: k {pfj.k_ratio}, moment arm {pfj.moment_arm}, "
                                   f"contact area {pfj.contact_area}")
    kam = None
    if kin.has(f"{side}_knee_adduction_moment"):
        kam = kin.get(f"{side}_knee_adduction_moment")[stance]
        why = _gaps(kam, f"{side}_knee_adduction_moment stance")
        if why:
            lack(["kam_peak1", "kam_peak2", "kam_impulse"], why)
        if not why and kam.size > 2:
            s = kam_summary(kam, ts)
            v.update({"kam_peak1": s["peak1"], "kam_peak2": s["peak2"], "kam_impulse": s["impulse"]})
            methods["kam_"] = "external KAM from the dataset's inverse dynamics (frontal knee moment in the file)"
            height = trial.meta.height_m
            if np.isfinite(height) and height > 0:
                v["kam_peak1_bwht"] = float(to_percent_bw_ht(s["peak1"] * mass, mass, height))
                v["kam_peak2_bwht"] = float(to_percent_bw_ht(s["peak2"] * mass, mass, height))
        else:
            kam = None
    forces = trial.forces
    if forces is not None and row.plate and forces.has(f"{row.plate}_fz"):
        tf = forces.time
        win = _window(tf, row.fs_s, row.fo_s)
        fz = forces.get(f"{row.plate}_fz")[win]
        why = _gaps(fz, f"{row.plate}_fz stance")
        if why:
            lack(["vgrf_peak1", "vgrf_peak2", "vgrf_loading_rate"], why)
        if not why and fz.size > 2:
            s = vgrf_summary(fz, tf[win], body_weight_n=mass * G)
            v.update({"vgrf_peak1": s["peak1_bw"], "vgrf_peak2": s["peak2_bw"],
                      "vgrf_loading_rate": s["loading_rate_bw_s"]})
            for name, why in (("vgrf_peak1", s["peak1_reason"]), ("vgrf_loading_rate", s["peak1_reason"]),
                              ("vgrf_peak2", s["peak2_reason"])):
                if why:
                    missing[name] = why
            # measured and estimated KAM never share a measure name (docs/methods.md §2.3)
            fz_kin = np.interp(ts, tf[win], fz)
            if kam is None:
                est, how = _kam_estimate(trial, row, ts)
                if est is not None:
                    s = kam_summary(est, ts)
                    v.update({"kam_est_peak1": s["peak1"], "kam_est_peak2": s["peak2"],
                              "kam_est_impulse": s["impulse"]})
                    methods["kam_est_"] = f"{KAM_LEVER_ARM_DESCRIPTION} Medio-lateral axis: {how}."
                    proxy = medial_contact_proxy(fz_kin, est * mass)
                    v["medial_load_proxy_est_peak"] = float(np.max(proxy) / (mass * G))
                    methods["medial_load_proxy_est"] = MEDIAL_PROXY_DESCRIPTION + " KAM: the lever-arm ESTIMATE."
            else:
                proxy = medial_contact_proxy(fz_kin, kam * mass)
                v["medial_load_proxy_peak"] = float(np.max(proxy) / (mass * G))
                methods["medial_load_proxy_peak"] = MEDIAL_PROXY_DESCRIPTION
    return v, methods, missing


def _joint_work(kin, side: str, stance: np.ndarray, ts: np.ndarray, v: dict, methods: dict, lack, pfj: PFJModel) -> None:
    """Knee and hip power and work in stance, hip moment peaks and the quadriceps moment arm at the
    extensor peak (docs/methods.md §4.10; :mod:`retrogait.gait.jointwork`)."""
    for joint in ("knee", "hip"):
        flex_col, mom_col = f"{side}_{joint}_flexion", f"{side}_{joint}_extensor_moment"
        if not (kin.has(flex_col) and kin.has(mom_col)):
            continue
        flex, m = kin.get(flex_col)[stance], kin.get(mom_col)[stance]
        if joint == "knee":
            names = ["knee_work_negative_stance", "knee_work_positive_stance", "knee_extensor_work_negative_stance",
                     "knee_extensor_work_positive_stance", "quadriceps_moment_arm_at_peak_extensor"]
        else:
            names = ["hip_extensor_moment_peak", "hip_flexor_moment_peak", "hip_flexor_work_negative_stance",
                     "hip_extensor_work_positive_stance"]
        why = (_gaps(flex, f"{flex_col} stance") or _gaps(m, f"{mom_col} stance")
               or (None if m.size > 2 else "fewer than 3 stance samples"))
        if why:
            lack(names, why)
            continue
        w = stance_work(flex, m, ts)
        how = ("P = -M_ext * d(flexion)/dt (rad/s), trapezoidal work over stance, split by the sign of the moment "
               "(Winter 1991)")
        if joint == "knee":
            v.update({"knee_work_negative_stance": w["negative"], "knee_work_positive_stance": w["positive"],
                      "knee_extensor_work_negative_stance": w["extensor_negative"],
                      "knee_extensor_work_positive_stance": w["extensor_positive"]})
            methods["knee_work_"] = methods["knee_extensor_work_"] = how
            arm = moment_arm_at_peak(flex, m, pfj.sets[1])
            if np.isfinite(arm):
                v["quadriceps_moment_arm_at_peak_extensor"] = arm
                methods["quadriceps_moment_arm_"] = f"moment-arm set {pfj.moment_arm} at the peak extensor moment"
            else:
                lack(["quadriceps_moment_arm_at_peak_extensor"], "no extensor moment in stance")
        else:
            s = moment_summary(m, ts)
            v.update({"hip_extensor_moment_peak": s["extensor_peak"], "hip_flexor_moment_peak": s["flexor_peak"],
                      "hip_flexor_work_negative_stance": w["flexor_negative"],
                      "hip_extensor_work_positive_stance": w["extensor_positive"]})
            methods["hip_"] = how


def _stride_length(trial: Trial, row) -> tuple[float | None, str]:
    """Stride length: belt speed x stride time on a treadmill, foot-centre displacement overground.

    Returns ``(length, how)``; ``(None, reason)`` when the markers exist but
    a sample needed is missing, ``(None, "")`` when the data cannot give it.
    """
    stride_time = row.next_fs_s - row.fs_s
    if trial.meta.surface == "treadmill":
        if np.isfinite(trial.meta.speed_mps):
            return float(trial.meta.speed_mps * stride_time), "belt speed x stride time"
        return None, ""
    kin = trial.kinematics
    cols = [f"{row.side}_{m}_{a}" for m in ("heel", "toe") for a in "xy"]
    if kin is None or not all(kin.has(c) for c in cols):
        return None, ""
    t = kin.time
    pos = []
    for when in (row.fs_s, row.next_fs_s):
        xy = [np.interp(when, t, kin.get(c)) for c in cols]
        pos.append(np.array([(xy[0] + xy[2]) / 2, (xy[1] + xy[3]) / 2]))
    length = float(np.hypot(*(pos[1] - pos[0])))
    return (length, "foot-centre (heel-toe midpoint) displacement between foot strikes") if np.isfinite(length) \
        else (None, "heel or toe marker missing (NaN) at a foot strike")


def _walking_speed(trial: Trial, row) -> tuple[float | None, str]:
    """Walking speed over one stride: belt speed on a treadmill, pelvis displacement / stride time overground."""
    stride_time = row.next_fs_s - row.fs_s
    if trial.meta.surface == "treadmill":
        if np.isfinite(trial.meta.speed_mps):
            return float(trial.meta.speed_mps), "belt speed"
        return None, ""
    kin = trial.kinematics
    cols = ["pelvis_x", "pelvis_y"]
    if kin is None or not all(kin.has(c) for c in cols) or not stride_time > 0:
        return None, ""
    t = kin.time
    if row.fs_s < t[0] or row.next_fs_s > t[-1]:
        return None, ""
    a = np.array([np.interp(row.fs_s, t, kin.get(c)) for c in cols])
    b = np.array([np.interp(row.next_fs_s, t, kin.get(c)) for c in cols])
    speed = float(np.hypot(*(b - a)) / stride_time)
    return (speed, "horizontal pelvis displacement over the stride / stride time") if np.isfinite(speed) \
        else (None, "")


#: Accepted medio-lateral distance between the lateral knee marker and the knee joint centre (m):
#: half a knee width plus the marker radius is 0.05-0.08 m in adults and children [D].
_KNEE_HALF_WIDTH_M = (0.02, 0.15)


def _kam_estimate(trial: Trial, row, ts: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Lever-arm KAM estimate (N.m/kg) over stance with an anatomical medio-lateral axis, or (None, why).

    The axis is the knee's own epicondylar (flexion) axis: from the lateral
    knee marker to the knee joint centre of the same leg (Plug-in Gait places
    the KJC medial to the KNE marker on the flexion axis), so it never depends
    on where the other leg is. The direction towards the other knee would mix
    in the sagittal moment whenever the knees are apart along the walking
    direction, with opposite signs in FW and BW (docs/methods.md §2.3). Without
    both markers, or when they are not a half knee width apart, or when the
    axis points laterally (away from the other knee on average), there is no
    estimate.
    """
    kin, forces, side = trial.kinematics, trial.forces, row.side
    need_kin = [f"{side}_{m}_{a}" for m in ("kjc", "knee") for a in "xyz"]
    need_f = [f"{row.plate}_{c}" for c in ("fx", "fy", "fz", "cop_x", "cop_y", "cop_z")]
    if not all(kin.has(c) for c in need_kin) or not all(forces.has(c) for c in need_f):
        return None, "no lateral knee marker and knee joint centre: no estimate"
    t, tf = kin.time, forces.time
    sel = (t >= ts[0]) & (t <= ts[-1])
    kjc = np.column_stack([kin.get(f"{side}_kjc_{a}")[sel] for a in "xyz"])
    knee = np.column_stack([kin.get(f"{side}_knee_{a}")[sel] for a in "xyz"])
    medial = kjc - knee
    grf = np.column_stack([np.interp(ts, tf, forces.get(f"{row.plate}_f{a}")) for a in "xyz"])
    cop = np.column_stack([np.interp(ts, tf, forces.get(f"{row.plate}_cop_{a}")) for a in "xyz"])
    if not (np.isfinite(kjc).all() and np.isfinite(medial).all() and np.isfinite(cop).all()):
        return None, "missing marker or COP samples"
    half = float(np.median(np.linalg.norm(medial[:, :2], axis=1)))
    if not _KNEE_HALF_WIDTH_M[0] <= half <= _KNEE_HALF_WIDTH_M[1]:
        return None, f"knee marker to joint centre {half:.3f} m, not a half knee width"
    other = "R" if side == "L" else "L"
    if all(kin.has(f"{other}_kjc_{a}") for a in "xyz"):
        to_other = np.column_stack([kin.get(f"{other}_kjc_{a}")[sel] for a in "xyz"]) - kjc
        if np.nanmedian(np.einsum("ij,ij->i", to_other[:, :2], medial[:, :2])) <= 0:
            return None, "the knee-marker-to-joint-centre axis points away from the other knee (labels swapped?)"
    return (kam_lever_arm(grf, cop, kjc, medial_axis=medial, up_axis=2) / trial.meta.mass_kg,
            "epicondylar: lateral knee marker to knee joint centre of the same leg")


def _emg_curves(waveforms: pd.DataFrame, cols: list[str]) -> dict[tuple, dict[tuple[str, str], np.ndarray]]:
    """``{(trial, side, cycle): {(muscle, domain): curve}}`` of the normalised EMG curves."""
    if waveforms.empty:
        return {}
    emg = waveforms[waveforms["variable"].str.startswith("emg_")]
    values = emg[cols].to_numpy(dtype=float)
    out: dict[tuple, dict[tuple[str, str], np.ndarray]] = {}
    keys = zip(emg["trial"], emg["side"], emg["cycle"].astype(int), emg["variable"], emg["domain"])
    for (trial, side, cycle, variable, domain), curve in zip(keys, values):
        out.setdefault((trial, side, cycle), {})[(variable.removeprefix("emg_"), domain)] = curve
    return out


def _emg_values(curves: dict[tuple[str, str], np.ndarray]) -> dict[str, float]:
    """EMG measures of one cycle from its normalised stride and stance envelopes."""
    v: dict[str, float] = {}
    stance_curves: dict[str, np.ndarray] = {}
    for (muscle, domain), y in curves.items():
        if domain == "stride":
            v[f"emg_mean_{muscle}"] = float(y.mean())
            v[f"emg_peak_{muscle}"] = float(y.max())
        else:
            v[f"emg_mean_stance_{muscle}"] = float(y.mean())
            stance_curves[muscle] = y
    quad = [stance_curves[m] for m in QUADRICEPS if m in stance_curves]
    hams = [stance_curves[m] for m in HAMSTRINGS if m in stance_curves]
    if quad and hams:
        q, h = np.mean(quad, axis=0), np.mean(hams, axis=0)
        v["cci_rudolph_stance"] = co_contraction(q, h, method="rudolph")
        v["cci_falconer_winter_stance"] = co_contraction(q, h, method="falconer_winter")
    return v


def subject_means(measures: pd.DataFrame) -> pd.DataFrame:
    """Subject x condition means of kept cycles (sides pooled), with n and SD."""
    keys = ["dataset", "subject", "condition", "direction", "speed_mps", "surface", "measure", "unit"]
    if "qc_status" not in measures.columns:
        return pd.DataFrame(columns=keys + ["n_cycles", "mean", "sd"])
    kept = measures[measures["qc_status"] == "kept"]
    if kept.empty:
        return pd.DataFrame(columns=keys + ["n_cycles", "mean", "sd"])
    g = kept.groupby(keys, dropna=False, sort=True)["value"]
    out = g.agg(n_cycles="count", mean="mean", sd="std").reset_index()
    return out
