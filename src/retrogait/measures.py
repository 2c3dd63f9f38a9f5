"""Discrete per-cycle measures, each with a unit and a reference.

Kinematic and kinetic measures are computed on the raw samples inside each
cycle's window (not on the 101-node curves), so peaks and loading rates
keep the recording's time resolution; EMG measures use the time-normalised,
reference-normalised envelopes (a 6 Hz envelope is fully described by 101
nodes per cycle). Kinetic measures need a kinetics-valid stance: one clean
single-foot contact on a force plate or belt.

The output is a long (tidy) table: one row per cycle and measure, with
``qc_status``/``qc_reason`` from the plausibility rules
(:mod:`retrogait.plausibility`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cycles import node_columns
from .emg import co_contraction
from .kneeload import PFJModel, kam_summary, medial_contact_proxy, moment_summary, pfj_load, vgrf_summary
from .plausibility import check_cycle, check_trial_scale
from .trial import Trial
from .units import G

__all__ = ["Measure", "MEASURES", "emg_measure", "subject_measures", "subject_means", "QUADRICEPS", "HAMSTRINGS"]

log = logging.getLogger("retrogait.measures")


@dataclass(frozen=True)
class Measure:
    """A per-cycle outcome: its unit, window and where its definition comes from."""

    name: str
    unit: str
    window: str          # "stride", "stance" or "contact"
    description: str
    reference: str


_M = [
    Measure("stride_time", "s", "stride", "foot strike to next ipsilateral foot strike", "methods.md 4.5"),
    Measure("stance_time", "s", "stance", "foot strike to foot off", "methods.md 4.5"),
    Measure("stance_pct", "%", "stride", "stance duration as % of stride", "methods.md 4.5"),
    Measure("cadence", "steps/min", "stride", "120 / stride time", "-"),
    Measure("knee_flexion_at_contact", "deg", "contact", "knee flexion at foot strike (flexion +)", "methods.md 0.2"),
    Measure("knee_flexion_at_toe_off", "deg", "contact", "knee flexion at foot off", "methods.md 0.2"),
    Measure("knee_flexion_peak_stance", "deg", "stance", "maximum knee flexion in stance", "methods.md 0.2"),
    Measure("knee_flexion_mean_stance", "deg", "stance", "mean knee flexion over stance (time average)",
            "methods.md 0.2"),
    Measure("knee_flexion_rom_stance", "deg", "stance", "max - min knee flexion in stance", "methods.md 0.2"),
    Measure("knee_flexion_rom_stride", "deg", "stride", "max - min knee flexion over the stride", "methods.md 0.2"),
    Measure("knee_extensor_moment_peak", "N.m/kg", "stance", "peak internal knee extensor moment in stance",
            "methods.md 0.2; 2.4 (KFM)"),
    Measure("knee_flexor_moment_peak", "N.m/kg", "stance", "peak internal knee flexor moment in stance (positive)",
            "methods.md 0.2"),
    Measure("knee_extensor_moment_impulse", "N.m.s/kg", "stance", "time integral of the extensor moment in stance",
            "methods.md 2.4 (integrate in time)"),
    Measure("knee_flexor_moment_impulse", "N.m.s/kg", "stance", "time integral of the flexor moment in stance",
            "methods.md 2.4"),
    Measure("kam_peak1", "N.m/kg", "stance", "first-half-stance peak external knee adduction moment",
            "methods.md 2.4"),
    Measure("kam_peak2", "N.m/kg", "stance", "second-half-stance peak external knee adduction moment",
            "methods.md 2.4"),
    Measure("kam_impulse", "N.m.s/kg", "stance", "knee adduction angular impulse (positive part, in time)",
            "methods.md 2.4"),
    Measure("pfj_force_peak", "BW", "stance", "peak patellofemoral joint reaction force",
            "methods.md 1.1-1.4 (van Eijden 1986 k, effective moment arm, contact area set)"),
    Measure("pfj_stress_peak", "MPa", "stance", "peak patellofemoral joint stress", "methods.md 1.1-1.4"),
    Measure("pfj_stress_integral", "MPa.s", "stance", "stress-time integral over stance",
            "methods.md 1.1 (Vannatta & Kernozek 2015)"),
    Measure("pfj_stress_peak_time", "% stance", "stance", "time of peak PFJ stress", "methods.md 1.5, 1.7"),
    Measure("medial_load_proxy_peak", "BW", "stance",
            "external-load medial tibiofemoral proxy F/2 + KAM/d (not a contact force)",
            "methods.md 3.1 (OpenCap computeMCF, d = 0.04 m)"),
    Measure("vgrf_peak1", "BW", "stance", "first peak of vertical GRF", "methods.md 4.1"),
    Measure("vgrf_peak2", "BW", "stance", "second peak of vertical GRF", "methods.md 4.1"),
    Measure("vgrf_loading_rate", "BW/s", "stance", "vertical GRF loading rate", "retrogait.kneeload.vgrf_summary"),
]
MEASURES: dict[str, Measure] = {m.name: m for m in _M}

#: Muscles pooled for the quadriceps-hamstrings co-contraction index.
QUADRICEPS = ("rectus_femoris", "vastus_lateralis", "vastus_medialis")
HAMSTRINGS = ("biceps_femoris", "semitendinosus", "hamstrings")


def emg_measure(name: str) -> Measure | None:
    """Describe an EMG measure name (``emg_mean_<muscle>``, ``emg_peak_<muscle>``, ``cci_*``)."""
    for prefix, what, window in (("emg_mean_stance_", "mean envelope in stance", "stance"),
                                 ("emg_mean_", "mean envelope over the stride", "stride"),
                                 ("emg_peak_", "peak envelope over the stride", "stride")):
        if name.startswith(prefix):
            muscle = name.removeprefix(prefix)
            return Measure(name, "%ref", window, f"{muscle.replace('_', ' ')}: {what}",
                           "methods.md 5.3-5.4 (linear envelope, one reference per subject across conditions)")
    if name == "cci_rudolph_stance":
        return Measure(name, "%ref", "stance", "quadriceps-hamstrings co-contraction, Rudolph index, mean over stance",
                       "Rudolph et al. 2000 (KSSTA 8:262); methods.md 5.6")
    if name == "cci_falconer_winter_stance":
        return Measure(name, "%", "stance", "quadriceps-hamstrings co-contraction, Falconer & Winter %COACT, stance",
                       "Falconer & Winter 1985; methods.md 5.6")
    return None


def describe(name: str) -> Measure:
    """Registry lookup for any measure name (fixed or EMG)."""
    m = MEASURES.get(name) or emg_measure(name)
    if m is None:
        raise KeyError(f"unknown measure {name!r}")
    return m


# --------------------------------------------------------------------------
def subject_measures(trials: list[Trial], cycles: pd.DataFrame, waveforms: pd.DataFrame, *,
                     pfj: PFJModel = PFJModel(), nodes: int = 101) -> pd.DataFrame:
    """Long table of per-cycle measures of one subject (kept cycles only).

    Plausibility rules may reject a cycle's measures; those rows keep their
    values with ``qc_status="rejected"`` and the reason. A pattern that
    means a unit or sign error across a whole trial stops the run
    (:func:`retrogait.plausibility.check_trial_scale`).
    """
    by_trial = {t.meta.trial: t for t in trials}
    rows: list[dict[str, Any]] = []
    kept = cycles[cycles["qc_status"] == "kept"]
    emg_curves = _emg_curves(waveforms, node_columns(nodes))
    for trial_id, tcycles in kept.groupby("trial", sort=False):
        trial = by_trial[trial_id]
        per_cycle = []
        for row in tcycles.itertuples(index=False):
            values = _cycle_values(trial, row, pfj)
            values.update(_emg_values(emg_curves.get((trial_id, row.side, int(row.cycle)), {})))
            per_cycle.append((row, values))
        peaks = np.array([v.get("knee_extensor_moment_peak", np.nan) for _, v in per_cycle])
        if np.isfinite(peaks).any():
            check_trial_scale(peak_extensor_moments_nm_per_kg=peaks[np.isfinite(peaks)],
                              where=dict(dataset=trial.meta.dataset, subject=trial.meta.subject, trial=trial_id))
        for row, values in per_cycle:
            reasons = check_cycle(values)
            status = "rejected" if reasons else "kept"
            for name, value in values.items():
                if value is None or not np.isfinite(value):
                    continue
                m = describe(name)
                rows.append({
                    "dataset": row.dataset, "subject": row.subject, "trial": row.trial,
                    "condition": row.condition, "direction": row.direction, "speed_mps": row.speed_mps,
                    "surface": row.surface, "side": row.side, "cycle": int(row.cycle),
                    "event_method": row.event_method, "measure": name, "value": float(value), "unit": m.unit,
                    "qc_status": status, "qc_reason": "; ".join(reasons)})
    columns = ["dataset", "subject", "trial", "condition", "direction", "speed_mps", "surface", "side", "cycle",
               "event_method", "measure", "value", "unit", "qc_status", "qc_reason"]
    return pd.DataFrame(rows, columns=columns)


def _window(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (t >= t0) & (t <= t1)


def _cycle_values(trial: Trial, row, pfj: PFJModel) -> dict[str, float]:
    v: dict[str, float] = {"stance_time": row.fo_s - row.fs_s}
    stride = row.kind == "stride" and np.isfinite(row.next_fs_s)
    if stride:
        v["stride_time"] = row.next_fs_s - row.fs_s
        v["stance_pct"] = 100.0 * v["stance_time"] / v["stride_time"]
        v["cadence"] = 120.0 / v["stride_time"]
    kin = trial.kinematics
    side = row.side
    mass = trial.meta.mass_kg
    if kin is None:
        return v
    t = kin.time
    stance = _window(t, row.fs_s, row.fo_s)
    if kin.has(f"{side}_knee_flexion"):
        flex = kin.get(f"{side}_knee_flexion")
        v["knee_flexion_at_contact"] = float(np.interp(row.fs_s, t, flex))
        v["knee_flexion_at_toe_off"] = float(np.interp(row.fo_s, t, flex))
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
    if not row.kinetics_valid:
        return v
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
                v["pfj_force_peak"] = float(np.max(load["pfjrf_n"]) / (mass * G))
                v["pfj_stress_peak"] = float(np.max(stress))
                v["pfj_stress_integral"] = float(np.trapezoid(stress, ts))
                v["pfj_stress_peak_time"] = float(100.0 * (ts[np.argmax(stress)] - row.fs_s) / (row.fo_s - row.fs_s))
    kam = None
    if kin.has(f"{side}_knee_adduction_moment"):
        kam = kin.get(f"{side}_knee_adduction_moment")[stance]
        if np.isfinite(kam).all() and kam.size > 2:
            s = kam_summary(kam, ts)
            v.update({"kam_peak1": s["peak1"], "kam_peak2": s["peak2"], "kam_impulse": s["impulse"]})
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
            if kam is not None:
                fz_kin = np.interp(ts, tf[win], fz)
                proxy = medial_contact_proxy(fz_kin, kam * mass)
                v["medial_load_proxy_peak"] = float(np.max(proxy) / (mass * G))
    return v


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
    kept = measures[measures["qc_status"] == "kept"]
    if kept.empty:
        return pd.DataFrame(columns=keys + ["n_cycles", "mean", "sd"])
    g = kept.groupby(keys, dropna=False, sort=True)["value"]
    out = g.agg(n_cycles="count", mean="mean", sd="std").reset_index()
    return out
