"""Gait cycles: events, segmentation, EMG envelopes and time normalisation.

For one subject, every trial is processed the same way:

1. gait events and candidate cycles with event-sequence QC
   (:func:`retrogait.gait.events.find_cycles`: force first, kinematic fallback,
   stored events only after the same checks);
2. EMG channel QC and linear envelopes of the continuous signals
   (:mod:`retrogait.gait.emg`);
3. each kept cycle is time-normalised to ``nodes`` points (0-100 %) over the
   stride (foot strike to the next ipsilateral foot strike) and over stance
   (foot strike to foot off), by linear interpolation (docs/methods.md §0.2);
4. EMG envelopes are normalised per subject, side and muscle to one
   reference spanning all conditions (never per trial; CEDE rule, docs/methods.md §5.4), so condition differences in amplitude remain visible.

Rejected cycles stay in the cycles table with their reason. A kept cycle in
which more than ``cycles.max_missing_pct`` % of the samples of a signal it
uses are missing (NaN) is rejected with the signal and the percentage
(docs/methods.md §0.3); a curve that cannot be time-normalised without
inventing data is not written, and the trial's notes say which.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrogait.gait.emg import EnvelopeParams, channel_quality, linear_envelope, normalisation_reference, normalise
from retrogait.gait.events import EventParams, find_cycles
from retrogait.errors import ConfigError
from retrogait.gait.kneeload import PFJModel, pfj_load
from retrogait.gait.plausibility import check_pfj_model
from retrogait.ingest.trial import KINEMATIC_UNITS, Trial
from retrogait.ingest.units import G

__all__ = [
    "CycleSettings",
    "node_columns",
    "time_normalise",
    "process_subject",
    "WAVEFORM_UNITS",
]

log = logging.getLogger("retrogait.gait.cycles")

#: Units of the time-normalised waveform variables.
WAVEFORM_UNITS: dict[str, str] = {
    "knee_flexion": "deg",
    "knee_extensor_moment": "N.m/kg",
    "knee_adduction_moment": "N.m/kg",
    "vgrf": "BW",
    "pfj_force": "BW",
    "pfj_stress": "MPa",
    # EMG envelopes: "emg_<muscle>" in %ref (percent of the subject's reference)
}


def node_columns(nodes: int = 101) -> list[str]:
    """Names of the waveform value columns: ``pct_000`` ... ``pct_100``."""
    return [f"pct_{round(100 * k / (nodes - 1)):03d}" if nodes == 101 else f"node_{k:03d}" for k in range(nodes)]


@dataclass(frozen=True)
class CycleSettings:
    """Parameters of the cycles stage, built from ``config.yaml`` sections."""

    events: EventParams = field(default_factory=EventParams)
    envelope: EnvelopeParams = field(default_factory=EnvelopeParams)
    normalisation_method: str = "max_all_conditions"
    reference_condition: str | None = None
    nodes: int = 101
    pfj: PFJModel = field(default_factory=PFJModel)
    max_missing_pct: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "CycleSettings":
        emg = config.get("emg", {})
        norm = emg.get("normalisation", {})
        kl = config.get("knee_load") or {}
        pfj = PFJModel.from_config(kl)
        # docs/methods.md §1.7: a coefficient set giving k outside [0.3, 1.05] or a contact area <= 0
        # anywhere in 0-90 deg is a transcription error, not data: stop before any cycle is computed
        reasons = check_pfj_model(pfj)
        if reasons:
            raise ConfigError("config key 'knee_load' selects an implausible patellofemoral model: "
                              + "; ".join(reasons))
        return cls(
            events=EventParams.from_config(config.get("events", {})),
            envelope=EnvelopeParams.from_config(emg.get("envelope", {})),
            normalisation_method=norm.get("method", "max_all_conditions"),
            reference_condition=norm.get("reference_condition"),
            nodes=int(config.get("cycles", {}).get("nodes", 101)),
            pfj=pfj,
            max_missing_pct=float(config.get("cycles", {}).get("max_missing_pct", 10.0)),
        )


def time_normalise(time_s: np.ndarray, values: np.ndarray, start_s: float, end_s: float, *,
                   nodes: int = 101, max_gap_samples: float = 2.5) -> np.ndarray:
    """Resample ``values`` on ``nodes`` equally spaced times from ``start_s`` to ``end_s``.

    Linear interpolation between the two samples around each node
    (docs/methods.md §0.2: 101 nodes, linear interpolation). Non-finite samples
    are skipped; a node is NaN when it lies in a gap longer than
    ``max_gap_samples`` sample intervals or more than one sample interval
    outside the finite data, so missing data are never invented.

    Examples
    --------
    >>> t = np.arange(0, 1.01, 0.01)
    >>> time_normalise(t, 2 * t, 0.0, 1.0, nodes=3).tolist()
    [0.0, 1.0, 2.0]
    """
    time_s = np.asarray(time_s, dtype=float)
    values = np.asarray(values, dtype=float)
    if time_s.shape != values.shape or time_s.ndim != 1:
        raise ValueError("time and values must be 1-D arrays of equal length")
    if not end_s > start_s:
        raise ValueError(f"end ({end_s}) must be after start ({start_s})")
    t_nodes = np.linspace(start_s, end_s, nodes)
    ok = np.isfinite(values) & np.isfinite(time_s)
    if ok.sum() < 2:
        return np.full(nodes, np.nan)
    t, v = time_s[ok], values[ok]
    dt = float(np.median(np.diff(time_s))) if len(time_s) > 1 else 0.0
    out = np.interp(t_nodes, t, v)
    # nodes outside the finite data (beyond one sample) are unknown
    out[(t_nodes < t[0] - 1.0 * dt) | (t_nodes > t[-1] + 1.0 * dt)] = np.nan
    # nodes inside a gap of missing samples are unknown
    idx = np.searchsorted(t, t_nodes).clip(1, len(t) - 1)
    gap = t[idx] - t[idx - 1]
    inside = (t_nodes >= t[0]) & (t_nodes <= t[-1])
    out[inside & (gap > max_gap_samples * dt)] = np.nan
    return out


# --------------------------------------------------------------------------
def process_subject(trials: list[Trial], *, settings: CycleSettings = CycleSettings()) -> dict[str, pd.DataFrame]:
    """Cycles, waveforms and EMG QC/references of one subject's trials.

    Returns
    -------
    dict
        ``cycles`` (every candidate cycle with QC status and reason),
        ``events_used`` (events used, with the method that found them),
        ``waveforms`` (kept cycles, one row per cycle x domain x variable,
        columns ``pct_000`` ... ``pct_100``), ``emg_quality`` (one row per
        trial x EMG channel), ``emg_references`` (one row per side x
        muscle), ``trial_notes`` (cycles kept/rejected and detector notes).
    """
    if not trials:
        raise ValueError("no trials")
    cycle_rows, event_rows, note_rows, quality_rows = [], [], [], []
    curves: list[dict[str, Any]] = []
    for trial in trials:
        result = find_cycles(trial, params=settings.events)
        base = _trial_columns(trial)
        cyc = result.cycles.copy()
        for col, value in reversed(list(base.items())):
            cyc.insert(0, col, value)
        cyc = cyc.rename(columns={"stride_s": "stride_time_s", "stance_s": "stance_time_s"})
        cyc = reject_missing_data(trial, cyc, max_missing_pct=settings.max_missing_pct)
        cycle_rows.append(cyc)
        event_rows.append(result.events.assign(**base))
        kept = cyc[cyc["qc_status"] == "kept"]
        notes = list(result.notes)
        if len(kept):
            envelopes, quality = _emg_envelopes(trial, settings)
            quality_rows.extend({**base, **q} for q in quality)
            new, dropped = _cycle_curves(trial, kept, envelopes, settings)
            curves.extend(new)
            if dropped:
                shown = ", ".join(dropped[:10]) + (f" and {len(dropped) - 10} more" if len(dropped) > 10 else "")
                notes.append(f"{len(dropped)} curve(s) not time-normalised because samples are missing in the "
                             f"window (their measures are QC rows of the measures table): {shown}")
        else:
            log.warning("%s/%s/%s: no kept cycle (%s)", *trial.key, "; ".join(notes) or "no events")
        note_rows.append({**base, "n_cycles_kept": int(len(kept)),
                          "n_cycles_rejected": int((cyc["qc_status"] != "kept").sum()),
                          "event_methods": ",".join(sorted(kept["event_method"].unique())) if len(kept) else "",
                          "notes": "; ".join(notes)})

    cycles = pd.concat(cycle_rows, ignore_index=True)
    events = pd.concat(event_rows, ignore_index=True) if event_rows else pd.DataFrame()
    waveforms = pd.DataFrame(curves)
    waveforms, references = _normalise_emg(waveforms, settings)
    quality = pd.DataFrame(quality_rows, columns=_QUALITY_COLUMNS) if not quality_rows else pd.DataFrame(quality_rows)
    return {"cycles": cycles, "events_used": events, "waveforms": waveforms, "emg_quality": quality,
            "emg_references": references, "trial_notes": pd.DataFrame(note_rows)}


_QUALITY_COLUMNS = ["dataset", "subject", "trial", "condition", "direction", "speed_mps", "surface",
                    "side", "muscle", "channel", "status", "flat", "saturated", "mains_hum", "reason"]


def _signals_used(trial: Trial, row) -> list[tuple[str, np.ndarray, np.ndarray, float, float]]:
    """``(name, time, values, t0, t1)`` of every signal that can reject a cycle, with its window.

    Knee and ankle angles of the cycle's side over the stride (stance for a
    stance-only cycle); joint moments of the side and the plate's vertical
    force over stance, when the cycle's kinetics are valid. Columns the
    trial does not have at all (every sample NaN) are not used, so they
    cannot reject a cycle. Not used: EMG channels (a gap costs only that
    channel's curves and measures, which become QC rows, rather than the
    cycle's kinematics) and markers (they feed event detection and
    estimates, whose own checks handle their gaps).
    """
    side = row.side
    t1 = row.next_fs_s if row.kind == "stride" and np.isfinite(row.next_fs_s) else row.fo_s
    out = []
    kin = trial.kinematics
    if kin is not None:
        for var in KINEMATIC_UNITS:
            col = f"{side}_{var}"
            if not kin.has(col):
                continue
            if var.endswith("_moment"):
                if row.kinetics_valid:
                    out.append((col, kin.time, kin.get(col), row.fs_s, row.fo_s))
            else:
                out.append((col, kin.time, kin.get(col), row.fs_s, t1))
    if row.kinetics_valid and trial.forces is not None and row.plate and trial.forces.has(f"{row.plate}_fz"):
        out.append((f"{row.plate}_fz", trial.forces.time, trial.forces.get(f"{row.plate}_fz"), row.fs_s, row.fo_s))
    return out


def reject_missing_data(trial: Trial, cycles: pd.DataFrame, *, max_missing_pct: float) -> pd.DataFrame:
    """Reject kept cycles in which a signal they use has more than ``max_missing_pct`` % of its samples missing.

    The percentage is the share of NaN samples of the signal inside the
    window the cycle uses it over (:func:`_signals_used`). A rejected cycle
    gets ``qc_status = "rejected"`` and a ``qc_reason`` naming each signal,
    its missing percentage and the config key ``cycles.max_missing_pct``
    (docs/methods.md §0.3). Cycles are never removed.

    Parameters
    ----------
    trial : Trial
        The trial the cycles belong to.
    cycles : pandas.DataFrame
        Its cycles table (``side``, ``kind``, ``fs_s``, ``fo_s``,
        ``next_fs_s``, ``kinetics_valid``, ``plate``, ``qc_status``,
        ``qc_reason``).
    max_missing_pct : float, keyword-only
        The limit, in percent of a window's samples (0-100).

    Returns
    -------
    pandas.DataFrame
        A copy of ``cycles`` with the rejections applied.
    """
    if not 0.0 <= max_missing_pct <= 100.0:
        raise ValueError(f"max_missing_pct must be within 0-100, got {max_missing_pct!r}")
    out = cycles.copy()
    for idx, row in out.iterrows():
        if row["qc_status"] != "kept":
            continue
        reasons = []
        for name, t, y, t0, t1 in _signals_used(trial, row):
            win = (t >= t0) & (t <= t1)
            n = int(win.sum())
            if n == 0:
                continue
            pct = 100.0 * float((~np.isfinite(y[win])).sum()) / n
            if pct > max_missing_pct:
                reasons.append(f"{name}: {pct:.0f} % of its {n} samples in the cycle missing")
        if reasons:
            out.at[idx, "qc_status"] = "rejected"
            reason = (f"missing data ({'; '.join(reasons)}) above cycles.max_missing_pct = {max_missing_pct:g} %")
            prior = str(row["qc_reason"] or "")
            out.at[idx, "qc_reason"] = f"{prior}; {reason}" if prior else reason
    return out


def _trial_columns(trial: Trial) -> dict[str, Any]:
    m = trial.meta
    return {"dataset": m.dataset, "subject": m.subject, "trial": m.trial, "condition": m.condition,
            "direction": m.direction, "speed_mps": m.speed_mps, "surface": m.surface}


def _emg_envelopes(trial: Trial, settings: CycleSettings) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Envelopes (V) of usable EMG channels and one QC row per channel."""
    if trial.emg is None:
        return {}, []
    envelopes, rows = {}, []
    rate = trial.emg.rate_hz
    band_high = settings.envelope.band_hz[1]
    for channel in trial.emg.signals:
        side, muscle = channel.split("_", 1)
        x = trial.emg.get(channel)
        finite = np.isfinite(x)
        if not finite.any():
            rows.append({"side": side, "muscle": muscle, "channel": channel, "status": "excluded",
                         "flat": False, "saturated": False, "mains_hum": False,
                         "reason": "no data: every sample of the channel is missing (NaN) in the source file"})
            continue
        if band_high >= rate / 2:
            rows.append({"side": side, "muscle": muscle, "channel": channel, "status": "excluded",
                         "flat": False, "saturated": False, "mains_hum": False,
                         "reason": f"sampling rate {rate:g} Hz cannot carry the {band_high:g} Hz band-pass edge "
                                   f"(needs > {2 * band_high:g} Hz): not raw EMG"})
            continue
        q = channel_quality(x, rate, envelope=settings.envelope)
        usable = not (q.flat or q.saturated or q.mains_hum)
        reason = q.reason
        if usable and not finite.all():
            reason = (f"{int((~finite).sum())} of {x.size} samples missing (NaN): the envelope is NaN there"
                      + (f"; {reason}" if reason else ""))
        rows.append({"side": side, "muscle": muscle, "channel": channel,
                     "status": "used" if usable else "excluded", "flat": bool(q.flat),
                     "saturated": bool(q.saturated), "mains_hum": bool(q.mains_hum), "reason": reason})
        if usable:
            envelopes[channel] = _envelope_with_gaps(x, rate, settings)
    return envelopes, rows


def _envelope_with_gaps(x: np.ndarray, rate: float, settings: CycleSettings) -> np.ndarray:
    """Linear envelope of ``x``; samples missing in ``x`` stay missing (NaN) in the envelope.

    Gaps are bridged linearly only so that the zero-lag filters can run over
    the record (:func:`retrogait.gait.emg.linear_envelope`, ``max_gap_s``);
    the bridged samples carry no activity and are set back to NaN, so a
    cycle over a gap gets no EMG curve rather than an invented one.
    """
    bad = ~np.isfinite(x)
    if not bad.any():
        return linear_envelope(x, rate, params=settings.envelope)
    env = linear_envelope(x, rate, params=settings.envelope, max_gap_s=float("inf"))
    env[bad] = np.nan
    return env


def _cycle_curves(trial: Trial, kept: pd.DataFrame, envelopes: dict[str, np.ndarray],
                  settings: CycleSettings) -> tuple[list[dict[str, Any]], list[str]]:
    """Time-normalised curves of the kept cycles, and the curves not written (missing samples)."""
    nodes = settings.nodes
    dropped: list[str] = []
    cols = node_columns(nodes)
    kin = trial.kinematics
    mass = trial.meta.mass_kg
    bw = mass * G
    out = []
    emg_time = trial.emg.time if trial.emg is not None else None
    for row in kept.itertuples(index=False):
        side = row.side
        windows = {"stance": (row.fs_s, row.fo_s)}
        if row.kind == "stride" and np.isfinite(row.next_fs_s):
            windows["stride"] = (row.fs_s, row.next_fs_s)
        signals: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
        if kin is not None:
            t = kin.time
            if kin.has(f"{side}_knee_flexion"):
                signals["knee_flexion"] = (t, kin.get(f"{side}_knee_flexion"), "all")
            if row.kinetics_valid:
                for var in ("knee_extensor_moment", "knee_adduction_moment"):
                    if kin.has(f"{side}_{var}"):
                        signals[var] = (t, kin.get(f"{side}_{var}"), "all")
                if kin.has(f"{side}_knee_extensor_moment") and kin.has(f"{side}_knee_flexion"):
                    pfj = pfj_load(kin.get(f"{side}_knee_flexion"), kin.get(f"{side}_knee_extensor_moment") * mass,
                                   model=settings.pfj)
                    signals["pfj_force"] = (t, pfj["pfjrf_n"] / bw, "stance")
                    signals["pfj_stress"] = (t, pfj["stress_mpa"], "stance")
        if row.kinetics_valid and trial.forces is not None and row.plate and \
                trial.forces.has(f"{row.plate}_fz"):
            signals["vgrf"] = (trial.forces.time, trial.forces.get(f"{row.plate}_fz") / bw, "stance")
        for channel, env in envelopes.items():
            if channel.startswith(f"{side}_"):
                signals["emg_" + channel.split("_", 1)[1]] = (emg_time, env, "all")
        for domain, (t0, t1) in windows.items():
            for var, (t, y, scope) in signals.items():
                if scope == "stance" and domain != "stance":
                    continue
                curve = time_normalise(t, y, t0, t1, nodes=nodes)
                if not np.isfinite(curve).all():
                    # never invented: the curve is left out and named in the trial's notes
                    dropped.append(f"{side} cycle {int(row.cycle)} {var} ({domain})")
                    continue
                out.append({**_trial_columns(trial), "side": side, "cycle": int(row.cycle),
                            "domain": domain, "variable": var,
                            "unit": WAVEFORM_UNITS.get(var, "V"), **dict(zip(cols, curve))})
    return out, dropped


def _normalise_emg(waveforms: pd.DataFrame, settings: CycleSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Divide EMG curves by one per-subject, side and muscle reference (all conditions)."""
    ref_cols = ["subject", "side", "muscle", "reference", "method", "detail", "domain"]
    if waveforms.empty:
        return waveforms, pd.DataFrame(columns=ref_cols)
    is_emg = waveforms["variable"].str.startswith("emg_")
    if not is_emg.any():
        return waveforms, pd.DataFrame(columns=ref_cols)
    emg = waveforms[is_emg].copy()
    emg["muscle"] = emg["variable"].str.removeprefix("emg_")
    # reference from stride-normalised envelopes wherever a side x muscle has strides, else from
    # stance (a side with only stance phases, e.g. strides on one belt and stances on the other)
    has_stride = emg.groupby(["subject", "side", "muscle"])["domain"].transform(lambda d: (d == "stride").any())
    domain = np.where(has_stride, "stride", "stance")
    source = emg[emg["domain"] == domain]
    parts = []
    for dom in ("stride", "stance"):
        sel = source[source["domain"] == dom]
        if len(sel):
            parts.append(normalisation_reference(sel, method=settings.normalisation_method,
                                                 reference_condition=settings.reference_condition)
                         .assign(domain=dom))
    refs = pd.concat(parts, ignore_index=True).sort_values(["subject", "side", "muscle"], kind="stable",
                                                             ignore_index=True)
    normalised = normalise(emg, refs.drop(columns="domain")).drop(columns="muscle")
    normalised["unit"] = "%ref"
    out = pd.concat([waveforms[~is_emg], normalised], ignore_index=True)
    return out, refs
