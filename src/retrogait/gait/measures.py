"""Discrete per-cycle measures, each with a unit and a reference.

Kinematic and kinetic measures are computed on the raw samples inside each
cycle's window (not on the 101-node curves), so peaks and loading rates
keep the recording's time resolution; EMG measures use the time-normalised,
reference-normalised envelopes (a 6 Hz envelope is fully described by 101
nodes per cycle). Kinetic measures need a kinetics-valid stance: one clean
single-foot contact on a force plate or belt.

The output is a long (tidy) table: one row per cycle and measure, with
``qc_status``/``qc_reason`` from the plausibility rules
(:mod:`retrogait.gait.plausibility`); a measure that the cycle's data should
give but do not (a vertical GRF without a loading-response peak) is a row
with a NaN value, ``qc_status = "missing"`` and the reason.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from retrogait.gait.catalog import HAMSTRINGS, QUADRICEPS, describe
from retrogait.gait.cycles import node_columns
from retrogait.gait.emg import co_contraction
from retrogait.gait.kneeload import (KAM_LEVER_ARM_DESCRIPTION, MEDIAL_PROXY_DESCRIPTION, PFJModel, kam_lever_arm, kam_summary,
                       medial_contact_proxy, moment_summary, pfj_load, to_percent_bw_ht, vgrf_summary)
from retrogait.gait.plausibility import check_cycle, check_trial_scale
from retrogait.ingest.trial import Trial
from retrogait.ingest.units import G

__all__ = ["subject_measures", "subject_means"]

log = logging.getLogger("retrogait.gait.measures")


# --------------------------------------------------------------------------
def subject_measures(trials: list[Trial], cycles: pd.DataFrame, waveforms: pd.DataFrame, *,
                     pfj: PFJModel = PFJModel(), nodes: int = 101) -> pd.DataFrame:
    """Long table of per-cycle measures of one subject (kept cycles only).

    Plausibility rules may reject a cycle's measures; those rows keep their
    values with ``qc_status="rejected"`` and the reason. A pattern that
    means a unit or sign error across a whole trial stops the run
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
            missing: dict[str, str] = {}
            values, methods = _cycle_values(trial, row, pfj, missing)
            values.update(_emg_values(emg_curves.get((trial_id, row.side, int(row.cycle)), {})))
            per_cycle.append((row, values, methods, missing))
        peaks = np.array([v.get("knee_extensor_moment_peak", np.nan) for _, v, _, _ in per_cycle])
        if np.isfinite(peaks).any():
            check_trial_scale(peak_extensor_moments_nm_per_kg=peaks[np.isfinite(peaks)],
                              where=dict(dataset=trial.meta.dataset, subject=trial.meta.subject, trial=trial_id))
        for row, values, methods, missing in per_cycle:
            reasons = check_cycle(values)
            status = "rejected" if reasons else "kept"
            for name, value in values.items():
                finite = value is not None and np.isfinite(value)
                if not finite and name not in missing:
                    continue
                m = describe(name)
                rows.append({
                    "dataset": row.dataset, "subject": row.subject, "trial": row.trial,
                    "condition": row.condition, "direction": row.direction, "speed_mps": row.speed_mps,
                    "surface": row.surface, "side": row.side, "cycle": int(row.cycle),
                    "event_method": row.event_method, "measure": name,
                    "value": float(value) if finite else float("nan"), "unit": m.unit,
                    "method": _method(name, methods), "qc_status": status if finite else "missing",
                    "qc_reason": "; ".join(reasons) if finite else missing[name]})
    columns = ["dataset", "subject", "trial", "condition", "direction", "speed_mps", "surface", "side", "cycle",
               "event_method", "measure", "value", "unit", "method", "qc_status", "qc_reason"]
    return pd.DataFrame(rows, columns=columns)


def _window(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (t >= t0) & (t <= t1)


def _method(name: str, methods: dict[str, str]) -> str:
    """How a measure's value was obtained (model, coefficient set, estimate)."""
    for prefix, label in methods.items():
        if name.startswith(prefix):
            return label
    return ""


def _cycle_values(trial: Trial, row, pfj: PFJModel,
                  missing: dict[str, str] | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """Discrete measures of one kept cycle from raw samples, and how each family was computed.

    A measure that is defined for the cycle but cannot be found in its data
    (a vGRF without a loading-response peak) is NaN, with the reason in
    ``missing`` (written as a ``qc_status = "missing"`` row).
    """
    missing = {} if missing is None else missing
    v: dict[str, float] = {"stance_time": row.fo_s - row.fs_s}
    methods: dict[str, str] = {}
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
        speed, how = _walking_speed(trial, row)
        if speed is not None:
            v["walking_speed"], methods["walking_speed"] = speed, how
    angle = float(getattr(row, "foot_angle_contact_deg", np.nan))
    if np.isfinite(angle):
        v["foot_angle_at_contact"] = angle
        v["toe_first_contact"] = 100.0 if getattr(row, "contact_pattern", "") == "toe-first" else 0.0
        methods["foot_angle_"] = methods["toe_first_"] = "heel and toe trajectories at foot strike vs mid-stance"
    if kin is None:
        return v, methods
    t = kin.time
    stance = _window(t, row.fs_s, row.fo_s)
    if kin.has(f"{side}_ankle_dorsiflexion"):
        v["ankle_dorsiflexion_at_contact"] = float(np.interp(row.fs_s, t, kin.get(f"{side}_ankle_dorsiflexion")))
    if kin.has(f"{side}_knee_flexion"):
        flex = kin.get(f"{side}_knee_flexion")
        v["knee_flexion_at_contact"] = float(np.interp(row.fs_s, t, flex))
        v["knee_flexion_at_toe_off"] = float(np.interp(row.fo_s, t, flex))
        v["knee_extension_excursion_stance"] = v["knee_flexion_at_contact"] - v["knee_flexion_at_toe_off"]
        fs = flex[stance]
        if np.isfinite(fs).all() and fs.size:
            v["knee_flexion_peak_stance"] = float(fs.max())
            v["knee_flexion_mean_stance"] = float(np.trapezoid(fs, t[stance]) / (t[stance][-1] - t[stance][0])) \
                if fs.size > 1 else float(fs[0])
            v["knee_flexion_rom_stance"] = float(fs.max() - fs.min())
        if stride:
            fw = flex[_window(t, row.fs_s, row.next_fs_s)]
            if np.isfinite(fw).all() and fw.size:
                v["knee_flexion_rom_stride"] = float(fw.max() - fw.min())
            sw = flex[_window(t, row.fo_s, row.next_fs_s)]
            if np.isfinite(sw).all() and sw.size:
                v["knee_flexion_peak_swing"] = float(sw.max())
    if not row.kinetics_valid:
        return v, methods
    ts = t[stance]
    if kin.has(f"{side}_knee_extensor_moment"):
        m = kin.get(f"{side}_knee_extensor_moment")[stance]
        if np.isfinite(m).all() and m.size > 2:
            s = moment_summary(m, ts)
            v.update({"knee_extensor_moment_peak": s["extensor_peak"], "knee_flexor_moment_peak": s["flexor_peak"],
                      "knee_extensor_moment_impulse": s["extensor_impulse"],
                      "knee_flexor_moment_impulse": s["flexor_impulse"]})
            if kin.has(f"{side}_knee_flexion"):
                load = pfj_load(kin.get(f"{side}_knee_flexion")[stance], m * mass, model=pfj)
                stress = load["stress_mpa"]
                v["pfj_force_peak_n"] = float(np.max(load["pfjrf_n"]))
                v["pfj_force_peak"] = v["pfj_force_peak_n"] / (mass * G)
                v["pfj_stress_peak"] = float(np.max(stress))
                v["pfj_stress_integral"] = float(np.trapezoid(stress, ts))
                v["pfj_stress_peak_time"] = float(100.0 * (ts[np.argmax(stress)] - row.fs_s) / (row.fo_s - row.fs_s))
                methods["pfj_"] = (f"torque-driven PFJ model: k {pfj.k_ratio}, moment arm {pfj.moment_arm}, "
                                   f"contact area {pfj.contact_area}")
    kam = None
    if kin.has(f"{side}_knee_adduction_moment"):
        kam = kin.get(f"{side}_knee_adduction_moment")[stance]
        if np.isfinite(kam).all() and kam.size > 2:
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
        if np.isfinite(fz).all() and fz.size > 2:
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
    return v, methods


def _stride_length(trial: Trial, row) -> tuple[float | None, str]:
    """Stride length: belt speed x stride time on a treadmill, foot-centre displacement overground."""
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
        else (None, "")


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
