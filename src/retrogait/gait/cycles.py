"""Gait cycles: events, segmentation, EMG envelopes and time normalisation.

For one subject, every trial is processed the same way:

1. gait events and candidate cycles with event-sequence QC
   (:func:`retrogait.gait.events.find_cycles`: force first, kinematic fallback,
   stored events only after the same checks);
2. EMG: what each channel holds (raw, rectified or envelope), linear
   envelopes of the continuous signals (never a band-pass on an envelope),
   and ONE channel QC decision per subject and channel from all its trials
   (:mod:`retrogait.gait.emg`, docs/methods.md §5.2);
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

import functools
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrogait.gait.contact import PATTERNS, contact_patterns
from retrogait.gait.emg import (EnvelopeParams, QualityParams, channel_quality, emg_form, normalisation_reference,
                                normalise, subject_channel_quality)
from retrogait.gait.events import EventParams, find_cycles
from retrogait.errors import ConfigError
from retrogait.gait.kneeload import PFJModel, pfj_load
from retrogait.gait.plausibility import check_pfj_model
from retrogait.ingest.trial import KINEMATIC_UNITS, Stream, Trial
from retrogait.ingest.units import G

__all__ = [
    "CycleSettings",
    "node_columns",
    "time_normalise",
    "sample_interval",
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
    quality: QualityParams = field(default_factory=QualityParams)
    normalisation_method: str = "max_all_conditions"
    reference_condition: str | None = None
    nodes: int = 101
    pfj: PFJModel = field(default_factory=PFJModel)
    #: A kept cycle with more missing samples than this (% of the cycle for
    #: joint angles, % of stance for the moments of a kinetics-valid stance)
    #: is rejected with that reason (config key cycles.max_missing_pct).
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
            quality=QualityParams.from_config(emg.get("quality", {})),
            normalisation_method=norm.get("method", "max_all_conditions"),
            reference_condition=norm.get("reference_condition"),
            nodes=int(config.get("cycles", {}).get("nodes", 101)),
            pfj=pfj,
            max_missing_pct=float(config.get("cycles", {}).get("max_missing_pct", 10.0)),
        )


def sample_interval(time_s: np.ndarray) -> float:
    """Median interval of a time base [s] (0 for fewer than two samples)."""
    time_s = np.asarray(time_s, dtype=float)
    return float(np.median(np.diff(time_s))) if len(time_s) > 1 else 0.0


def time_normalise(time_s: np.ndarray, values: np.ndarray, start_s: float, end_s: float, *,
                   nodes: int = 101, max_gap_samples: float = 2.5,
                   sample_interval_s: float | None = None) -> np.ndarray:
    """Resample ``values`` on ``nodes`` equally spaced times from ``start_s`` to ``end_s``.

    Linear interpolation between the two samples around each node
    (docs/methods.md §0.2: 101 nodes, linear interpolation). Non-finite samples
    are skipped; a node is NaN when it lies in a gap longer than
    ``max_gap_samples`` sample intervals or more than one sample interval
    outside the finite data, so missing data are never invented.

    ``sample_interval_s`` is the median interval of ``time_s``
    (:func:`sample_interval`); pass it when many curves are cut from one
    time base, so it is computed once.

    Examples
    --------
    >>> t = np.arange(0, 1.01, 0.01)
    >>> time_normalise(t, 2 * t, 0.0, 1.0, nodes=3).tolist()
    [0.0, 1.0, 2.0]
    """
    return _Signal(time_s, values, sample_interval_s=sample_interval_s).cut(
        start_s, end_s, nodes=nodes, max_gap_samples=max_gap_samples)


class _Signal:
    """One signal on its time base, from which many cycles are cut (:func:`time_normalise`).

    The finite samples are found once per signal, not once per cycle, and
    each cycle reads only the finite samples that bracket its nodes: cutting
    all cycles of a trial is linear in the trial's length, not quadratic.
    The result is the same number for number as interpolating on all finite
    samples: linear interpolation at a node and the gap rule read only the
    two finite samples around it, which the bracket always holds.
    """

    def __init__(self, time_s: np.ndarray, values: np.ndarray, *, sample_interval_s: float | None = None):
        time_s = np.asarray(time_s, dtype=float)
        values = np.asarray(values, dtype=float)
        if time_s.shape != values.shape or time_s.ndim != 1:
            raise ValueError("time and values must be 1-D arrays of equal length")
        ok = np.isfinite(values) & np.isfinite(time_s)
        self.t, self.v = (time_s, values) if ok.all() else (time_s[ok], values[ok])
        # interpolation and the brackets below read a sorted time base: a shuffled or repeated time would
        # otherwise give confident curves from the wrong samples
        if self.t.size > 1 and not (np.diff(self.t) > 0).all():
            k = int(np.argmin(np.diff(self.t) > 0))
            raise ValueError(f"time must increase strictly: sample {k + 1} at {self.t[k + 1]!r} s follows "
                             f"{self.t[k]!r} s")
        self.dt = sample_interval(time_s) if sample_interval_s is None else float(sample_interval_s)

    def cut(self, start_s: float, end_s: float, *, nodes: int = 101, max_gap_samples: float = 2.5) -> np.ndarray:
        """The curve from ``start_s`` to ``end_s`` on ``nodes`` nodes (NaN where unknown)."""
        if not end_s > start_s:
            raise ValueError(f"end ({end_s}) must be after start ({start_s})")
        t_nodes = np.linspace(start_s, end_s, nodes)
        t_all, n = self.t, self.t.size
        if n < 2:
            return np.full(nodes, np.nan)
        dt = self.dt
        # finite samples from one before the first node to one after the last (at least two)
        a = min(max(int(np.searchsorted(t_all, t_nodes[0], "left")) - 1, 0), n - 2)
        b = max(min(int(np.searchsorted(t_all, t_nodes[-1], "right")) + 1, n), a + 2)
        t, v = t_all[a:b], self.v[a:b]
        out = np.interp(t_nodes, t, v)
        # nodes outside the finite data (beyond one sample) are unknown
        out[(t_nodes < t_all[0] - 1.0 * dt) | (t_nodes > t_all[-1] + 1.0 * dt)] = np.nan
        # nodes inside a gap of missing samples are unknown
        idx = np.searchsorted(t, t_nodes).clip(1, len(t) - 1)
        gap = t[idx] - t[idx - 1]
        inside = (t_nodes >= t_all[0]) & (t_nodes <= t_all[-1])
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
        EMG channel: the subject-level QC decision, applied to every trial),
        ``emg_references`` (one row per side x muscle), ``trial_notes``
        (cycles kept/rejected and detector notes).
    """
    if not trials:
        raise ValueError("no trials")
    cycle_rows, event_rows, note_rows, quality_rows = [], [], [], []
    pooled: dict[str, list[np.ndarray]] = {}
    curves: list[tuple[dict[str, Any], np.ndarray]] = []
    for trial in trials:
        result = find_cycles(trial, params=settings.events)
        base = _trial_columns(trial)
        cyc = result.cycles
        # the trial's columns first, then the cycles and their contact patterns (one concat, not an insert each)
        cyc = pd.concat([pd.DataFrame(base, index=cyc.index), cyc,
                         contact_patterns(trial, cyc, flat_deg=settings.events.contact_flat_deg)], axis=1)
        # renamed in place: the concat above made a new table (rename would copy it again)
        cyc.columns = [_RENAMED.get(c, c) for c in cyc.columns]
        cyc = reject_missing_data(trial, cyc, max_missing_pct=settings.max_missing_pct)
        cycle_rows.append(cyc)
        event_rows.append(pd.concat([result.events, pd.DataFrame(base, index=result.events.index)], axis=1))
        kept = cyc[cyc["qc_status"] == "kept"]
        n_pattern = Counter(kept["contact_pattern"])
        pattern_counts = {f"n_contacts_{p.replace('-', '_')}": n_pattern[p] for p in PATTERNS}
        notes = list(result.notes)
        if len(kept):
            envelopes, quality = _emg_envelopes(trial, settings, pooled)
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
                          **pattern_counts,
                          "qc_exclusion": "" if len(kept) else _trial_exclusion(cyc, result.notes),
                          "event_methods": ",".join(sorted(kept["event_method"].unique())) if len(kept) else "",
                          "notes": "; ".join(notes)})

    cycles = pd.concat(cycle_rows, ignore_index=True)
    events = pd.concat(event_rows, ignore_index=True) if event_rows else pd.DataFrame()
    waveforms = _waveform_frame(curves, settings.nodes) if curves else pd.DataFrame(
        columns=[*_trial_columns(trials[0]), "side", "cycle", "domain", "variable", "unit",
                 *node_columns(settings.nodes)])
    waveforms, quality = _emg_channel_qc(waveforms, pd.DataFrame(quality_rows), pooled, settings)
    waveforms, references = _normalise_emg(waveforms, settings)
    return {"cycles": cycles, "events_used": events, "waveforms": waveforms, "emg_quality": quality,
            "emg_references": references, "trial_notes": pd.DataFrame(note_rows)}


#: Column names of the cycles table that process_subject gives in the subject's table.
_RENAMED = {"stride_s": "stride_time_s", "stance_s": "stance_time_s"}


def _trial_exclusion(cycles: pd.DataFrame, notes: list[str]) -> str:
    """Why a trial has no kept cycle: the most frequent rejection reason, or the detector's note."""
    if cycles.empty:
        return next((n for n in notes if "no usable events" in n), "no gait events found")
    reasons = cycles["qc_reason"].fillna("").str.split("; ").explode()
    reasons = reasons[reasons != ""]
    if reasons.empty:
        return "no cycle kept"
    return "all cycles rejected: " + str(reasons.value_counts().index[0])


class _TrialColumns:
    """:meth:`Stream.has`, :meth:`Stream.get` and :attr:`Stream.time` of one trial's streams, each read once.

    For loops over a trial's cycles, which ask for the same columns cycle after cycle; the arrays are
    the streams' own (read-only views), so the numbers are the same. Use it while the trial is not
    changed.
    """

    def __init__(self, trial: Trial) -> None:
        streams = [s for s in (trial.kinematics, trial.forces, trial.emg) if s is not None]
        self._has = {id(s): functools.cache(s.has) for s in streams}
        self._get = {id(s): functools.cache(s.get) for s in streams}
        self._time = {id(s): s.time for s in streams}

    def has(self, stream: Stream, column: str) -> bool:
        return self._has[id(stream)](column)

    def get(self, stream: Stream, column: str) -> np.ndarray:
        return self._get[id(stream)](column)

    def time(self, stream: Stream) -> np.ndarray:
        return self._time[id(stream)]


def _signals_used(trial: Trial, row, columns: _TrialColumns | None = None
                  ) -> list[tuple[str, np.ndarray, np.ndarray, float, float]]:
    """``(name, time, values, t0, t1)`` of every signal that can reject a cycle, with its window.

    Knee and ankle angles of the cycle's side over the stride (stance for a
    stance-only cycle); joint moments of the side and the plate's vertical
    force over stance, when the cycle's kinetics are valid. Columns the
    trial does not have at all (every sample NaN) are not used, so they
    cannot reject a cycle. Not used: EMG channels (a gap costs only that
    channel's curves and measures, which become QC rows, rather than the
    cycle's kinematics) and markers (they feed event detection and
    estimates, whose own checks handle their gaps).

    ``columns`` reads the trial's columns (:class:`_TrialColumns`; a caller
    looping over cycles passes one).
    """
    columns = columns or _TrialColumns(trial)
    has = columns.has
    side = row.side
    t1 = row.next_fs_s if row.kind == "stride" and np.isfinite(row.next_fs_s) else row.fo_s
    out = []
    kin = trial.kinematics
    if kin is not None:
        for var in KINEMATIC_UNITS:
            col = f"{side}_{var}"
            if not has(kin, col):
                continue
            if var.endswith("_moment"):
                if row.kinetics_valid:
                    out.append((col, columns.time(kin), columns.get(kin, col), row.fs_s, row.fo_s))
            else:
                out.append((col, columns.time(kin), columns.get(kin, col), row.fs_s, t1))
    forces = trial.forces
    if row.kinetics_valid and forces is not None and row.plate and has(forces, f"{row.plate}_fz"):
        out.append((f"{row.plate}_fz", columns.time(forces), columns.get(forces, f"{row.plate}_fz"), row.fs_s,
                    row.fo_s))
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
    columns = _TrialColumns(trial)  # each column read and scanned once per trial, not once per cycle
    used = ["side", "kind", "fs_s", "fo_s", "next_fs_s", "kinetics_valid", "plate", "qc_status", "qc_reason"]
    for idx, row in zip(out.index, out[used].itertuples(index=False)):  # only the columns read: faster rows
        if row.qc_status != "kept":
            continue
        reasons = []
        for name, t, y, t0, t1 in _signals_used(trial, row, columns):
            # the samples in [t0, t1] (time bases increase strictly: Stream checks it)
            lo, hi = int(np.searchsorted(t, t0, "left")), int(np.searchsorted(t, t1, "right"))
            n = max(hi - lo, 0)
            if n == 0:
                continue
            pct = 100.0 * float((~np.isfinite(y[lo:hi])).sum()) / n
            if pct > max_missing_pct:
                reasons.append(f"{name}: {pct:.0f} % of its {n} samples in the cycle missing")
        if reasons:
            out.at[idx, "qc_status"] = "rejected"
            reason = (f"missing data ({'; '.join(reasons)}) above cycles.max_missing_pct = {max_missing_pct:g} %")
            prior = str(row.qc_reason or "")
            out.at[idx, "qc_reason"] = f"{prior}; {reason}" if prior else reason
    return out


def _trial_columns(trial: Trial) -> dict[str, Any]:
    m = trial.meta
    return {"dataset": m.dataset, "subject": m.subject, "trial": m.trial, "condition": m.condition,
            "direction": m.direction, "speed_mps": m.speed_mps, "surface": m.surface}


def _emg_envelopes(trial: Trial, settings: CycleSettings,
                   pooled: dict[str, list[np.ndarray]]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Envelopes (V) of every processable EMG channel of one trial, and the trial's QC metrics per channel.

    The envelope follows what the channel holds (:func:`~retrogait.gait.emg.emg_form`): raw EMG is
    band-passed, rectified and low-passed; rectified EMG and envelopes are only low-passed. The
    moving-average envelopes behind the dynamic range are added to ``pooled`` (per channel) for the
    subject's decision.
    """
    if trial.emg is None:
        return {}, []
    envelopes, rows = {}, []
    rate = trial.emg.rate_hz
    band_high = settings.envelope.band_hz[1]
    qp = settings.quality
    step = max(1, int(rate // 200))
    for channel in trial.emg.signals:
        side, muscle = channel.split("_", 1)
        x = trial.emg.get(channel)
        row = {"side": side, "muscle": muscle, "channel": channel, "form": "raw", "problem": "", "constant": False,
               "saturated": False, "mains_hum": False, "rail_fraction": np.nan, "mains_fraction": np.nan,
               "median_frequency_hz": np.nan, "n_samples": int(x.size), "reason": ""}
        rows.append(row)
        if not np.isfinite(x).any():
            row["problem"] = "no data: every sample of the channel is missing (NaN) in the source file"
            continue
        # channel_quality tells the form from the same stretch and spectrum as emg_form; the form is
        # asked first only where the rate cannot carry the band-pass, which raw EMG needs
        form = emg_form(x, rate, params=qp)[0] if band_high >= rate / 2 else None
        if form == "raw":
            row["problem"] = (f"sampling rate {rate:g} Hz cannot carry the {band_high:g} Hz band-pass edge "
                              f"(needs > {2 * band_high:g} Hz) and the channel is not an envelope: not raw EMG")
            continue
        try:
            q = channel_quality(x, rate, params=qp, envelope=settings.envelope, form=form)
        except ValueError as exc:  # e.g. too short: recorded, and the subject's decision excludes the channel
            row["form"] = form or emg_form(x, rate, params=qp)[0]
            row["problem"] = str(exc)
            continue
        row["form"] = q.form
        constant = q.envelope is None
        env = None
        if not constant:
            # the envelope of the analysed stretch only: exporter padding and NaN stay NaN (never "silence")
            a, b = q.core
            env = np.full(x.size, np.nan)
            env[a:b] = q.envelope
        reason = q.reason
        if q.metrics.get("nan_samples", 0) > 0:  # said, never silent: only the longest finite stretch is used
            a, b = q.core
            reason = "; ".join(r for r in (reason, f"{int(q.metrics['nan_samples'])} non-finite samples: envelope "
                                                   f"over the longest finite stretch only ({(b - a) / rate:.1f} s of "
                                                   f"{x.size / rate:.1f} s)") if r)
        row.update(constant=bool(constant), saturated=bool(q.saturated), mains_hum=bool(q.mains_hum),
                   rail_fraction=q.metrics.get("rail_fraction", np.nan),
                   mains_fraction=q.metrics.get("mains_fraction", np.nan),
                   median_frequency_hz=q.metrics.get("median_frequency_hz", np.nan), reason=reason)
        if env is not None:
            envelopes[channel] = env
            pooled.setdefault(channel, []).append(q.dr_envelope[::step])
    return envelopes, rows


def _emg_channel_qc(waveforms: pd.DataFrame, trial_rows: pd.DataFrame, pooled: dict[str, list[np.ndarray]],
                    settings: CycleSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One QC decision per subject and channel; the excluded channels' curves are dropped from every trial."""
    from retrogait.gait.emg import QUALITY_COLUMNS

    if trial_rows.empty:
        return waveforms, pd.DataFrame(columns=QUALITY_COLUMNS)
    cols = node_columns(settings.nodes)
    curves: dict[str, list[np.ndarray]] = {}
    if not waveforms.empty:
        emg = waveforms[waveforms["variable"].str.startswith("emg_")]
        domain = "stride" if (emg["domain"] == "stride").any() else "stance"
        emg = emg[emg["domain"] == domain]
        for (trial, side, variable), grp in emg.groupby(["trial", "side", "variable"], sort=True):
            curves.setdefault(f"{side}_{variable.removeprefix('emg_')}", []).append(grp[cols].to_numpy(dtype=float))
    quality = subject_channel_quality(trial_rows, pooled, curves, params=settings.quality)
    for r in quality.itertuples(index=False):
        if r.form not in ("raw", "mixed"):
            log.warning("%s/%s: EMG channel %s holds %s EMG, not raw: low-pass only, no band-pass "
                        "(docs/methods.md §5.2)", r.dataset, r.subject, r.channel, r.form)
        if r.status != "used":
            log.warning("%s/%s: EMG channel %s excluded in every trial: %s", r.dataset, r.subject, r.channel,
                        r.reason)
    excluded = set(quality.loc[quality["status"] != "used", "channel"])
    if excluded and not waveforms.empty:
        var_channel = waveforms["side"].astype(str) + "_" + waveforms["variable"].str.removeprefix("emg_")
        drop = waveforms["variable"].str.startswith("emg_") & var_channel.isin(excluded)
        waveforms = waveforms[~drop].reset_index(drop=True)
    return waveforms, quality


def _cycle_curves(trial: Trial, kept: pd.DataFrame, envelopes: dict[str, np.ndarray],
                  settings: CycleSettings) -> tuple[list[tuple[dict[str, Any], np.ndarray]], list[str]]:
    """Time-normalised curves of the kept cycles, and the curves not written (missing samples).

    Each curve comes with its table columns (trial, side, cycle, domain,
    variable, unit); :func:`_waveform_frame` makes the table.
    """
    nodes = settings.nodes
    dropped: list[str] = []
    kin = trial.kinematics
    mass = trial.meta.mass_kg
    bw = mass * G
    out = []
    # each time base and its median sample interval once per trial, and each signal (its finite samples,
    # the PFJ load of a side, the body-weight-scaled force of a plate) once per trial, not once per cycle:
    # the same arrays, so the same numbers
    kin_time = kin.time if kin is not None else None
    force_time = trial.forces.time if trial.forces is not None else None
    emg_time = trial.emg.time if trial.emg is not None else None
    times = {"kin": kin_time, "forces": force_time, "emg": emg_time}
    interval = {name: sample_interval(t) for name, t in times.items() if t is not None}
    columns = _TrialColumns(trial)
    has = columns.has
    pfj_of_side: dict[str, dict[str, np.ndarray]] = {}
    cutters: dict[tuple[str, str], _Signal] = {}

    def pfj(side: str) -> dict[str, np.ndarray]:
        if side not in pfj_of_side:
            pfj_of_side[side] = pfj_load(columns.get(kin, f"{side}_knee_flexion"),
                                         columns.get(kin, f"{side}_knee_extensor_moment") * mass, model=settings.pfj)
        return pfj_of_side[side]

    def cutter(source: tuple[str, str]) -> _Signal:
        """The signal of ``(kind, name)``, made once per trial."""
        if source not in cutters:
            kind, name = source
            if kind == "kin":
                base, values = "kin", columns.get(kin, name)
            elif kind == "pfj_force":
                base, values = "kin", pfj(name)["pfjrf_n"] / bw
            elif kind == "pfj_stress":
                base, values = "kin", pfj(name)["stress_mpa"]
            elif kind == "vgrf":
                base, values = "forces", columns.get(trial.forces, name) / bw
            else:
                base, values = "emg", envelopes[name]
            cutters[source] = _Signal(times[base], values, sample_interval_s=interval[base])
        return cutters[source]

    used = ["side", "cycle", "kind", "fs_s", "fo_s", "next_fs_s", "kinetics_valid", "plate"]
    for row in kept[used].itertuples(index=False):  # only the columns read: faster rows
        side = row.side
        windows = {"stance": (row.fs_s, row.fo_s)}
        if row.kind == "stride" and np.isfinite(row.next_fs_s):
            windows["stride"] = (row.fs_s, row.next_fs_s)
        # variable -> ((kind, name) of its signal, scope)
        signals: dict[str, tuple[tuple[str, str], str]] = {}
        if kin is not None:
            if has(kin, f"{side}_knee_flexion"):
                signals["knee_flexion"] = (("kin", f"{side}_knee_flexion"), "all")
            if row.kinetics_valid:
                for var in ("knee_extensor_moment", "knee_adduction_moment"):
                    if has(kin, f"{side}_{var}"):
                        signals[var] = (("kin", f"{side}_{var}"), "all")
                if has(kin, f"{side}_knee_extensor_moment") and has(kin, f"{side}_knee_flexion"):
                    signals["pfj_force"] = (("pfj_force", side), "stance")
                    signals["pfj_stress"] = (("pfj_stress", side), "stance")
        if row.kinetics_valid and trial.forces is not None and row.plate and has(trial.forces, f"{row.plate}_fz"):
            signals["vgrf"] = (("vgrf", f"{row.plate}_fz"), "stance")
        for channel in envelopes:
            if channel.startswith(f"{side}_"):
                signals["emg_" + channel.split("_", 1)[1]] = (("emg", channel), "all")
        for domain, (t0, t1) in windows.items():
            for var, (source, scope) in signals.items():
                if scope == "stance" and domain != "stance":
                    continue
                curve = cutter(source).cut(t0, t1, nodes=nodes)
                if not np.isfinite(curve).all():
                    # never invented: the curve is left out and named in the trial's notes
                    dropped.append(f"{side} cycle {int(row.cycle)} {var} ({domain})")
                    continue
                out.append(({**_trial_columns(trial), "side": side, "cycle": int(row.cycle),
                             "domain": domain, "variable": var, "unit": WAVEFORM_UNITS.get(var, "V")}, curve))
    return out, dropped


def _waveform_frame(curves: list[tuple[dict[str, Any], np.ndarray]], nodes: int) -> pd.DataFrame:
    """The waveforms table of :func:`_cycle_curves`' (columns, curve) pairs: the columns, then ``pct_*``."""
    values = pd.DataFrame(np.vstack([c for _, c in curves]), columns=node_columns(nodes))
    return pd.concat([pd.DataFrame([m for m, _ in curves]), values], axis=1)


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
