"""Canonical trials: what every adapter produces and every later stage reads.

A :class:`Trial` is one recording of one subject in one condition. It holds
metadata (:class:`TrialMeta`) and up to three signal :class:`Stream` s, each
with its own sampling rate and explicit units:

``kinematics``
    Model outputs and marker trajectories at the motion-capture rate.
    Columns are ``<side>_<variable>`` (``L_knee_flexion``) or, for
    side-less markers, ``<variable>`` (``pelvis_x``); see :data:`KINEMATIC_UNITS`.
``forces``
    Ground reaction force, centre of pressure and free moment of each force
    plate or instrumented belt: ``<plate>_fx`` ... ``<plate>_cop_z``,
    ``<plate>_tz`` in the lab frame (z up), N, m and N.m.
``emg``
    Raw EMG at the analog rate: ``<side>_<muscle>`` in V.

Conventions (docs/methods.md §0.2): knee flexion in degrees, flexion
positive; knee sagittal moment is the *internal extensor* moment, positive
extensor, in N.m/kg; frontal moment is the *external adduction* moment
(KAM), positive varus, in N.m/kg; lab frame right-handed with z vertical up.

Stored events (from the source file) are kept in ``events`` with their
source; later stages decide whether to trust them.

A subject's trials are stored as a folder of parquet files by
:func:`write_subject` and read back by :func:`read_subject`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retrogait.errors import DataError
from retrogait.io import read_parquet, write_parquet

__all__ = [
    "SIDES",
    "DIRECTIONS",
    "SURFACES",
    "KINEMATIC_UNITS",
    "MARKERS",
    "MUSCLES",
    "TrialMeta",
    "Stream",
    "Trial",
    "SUBJECT_FILES",
    "write_subject",
    "read_subject",
]

SIDES = ("L", "R")
DIRECTIONS = ("FW", "BW")
SURFACES = ("overground", "treadmill")

#: Canonical kinematic/kinetic variables per side and their units.
KINEMATIC_UNITS: dict[str, str] = {
    "knee_flexion": "deg",            # flexion positive
    "knee_adduction": "deg",          # varus (adduction) positive
    "knee_rotation": "deg",           # internal rotation positive
    "ankle_dorsiflexion": "deg",      # dorsiflexion positive (plantarflexion negative)
    "knee_extensor_moment": "N.m/kg",  # internal extensor moment, extensor positive
    "knee_adduction_moment": "N.m/kg",  # external adduction moment (KAM), varus positive
    "knee_rotation_moment": "N.m/kg",  # as provided by the source model
}

#: Marker trajectories used by event detection and lever-arm estimates (m);
#: ``kjc`` is the knee joint centre of the model (e.g. Plug-in Gait's femur origin).
MARKERS = ("heel", "toe", "knee", "ankle", "kjc")  # per side; plus side-less "pelvis"

#: Canonical muscle names an EMG channel may map to.
MUSCLES = (
    "rectus_femoris", "vastus_lateralis", "vastus_medialis",
    "biceps_femoris", "semitendinosus", "hamstrings",
    "gastrocnemius", "medial_gastrocnemius", "lateral_gastrocnemius", "soleus",
    "tibialis_anterior", "tibialis_posterior",
    "gluteus_medius", "gluteus_maximus", "gracilis", "erector_spinae",
)


@dataclass(frozen=True)
class TrialMeta:
    """Metadata of one canonical trial (one row of the ``trials`` table)."""

    dataset: str
    subject: str
    trial: str
    condition: str
    direction: str                 # "FW" or "BW" (direction of travel)
    speed_mps: float               # belt or walking speed; NaN when not controlled
    surface: str                   # "overground" or "treadmill"
    mass_kg: float
    height_m: float                # NaN when unknown
    mass_source: str               # where the mass came from (file parameter, table)
    source_files: str              # ';'-separated paths relative to data/raw/<dataset>/
    source_sha256: str             # ';'-separated sha256 of those files, same order
    adapter: str
    kinetic_sides: str = ""        # sides with joint moments, e.g. "L,R" or "L"
    notes: str = ""                # adapter remarks (assumptions, unmapped channels)
    corrections: str = ""          # automatic corrections of the data (" | "-separated): logged as warnings, in the QC

    def __post_init__(self) -> None:
        loc = dict(dataset=self.dataset, subject=self.subject, trial=self.trial)
        if self.direction not in DIRECTIONS:
            raise DataError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}", **loc)
        if self.surface not in SURFACES:
            raise DataError(f"surface must be one of {SURFACES}, got {self.surface!r}", **loc)
        if not (isinstance(self.mass_kg, (int, float)) and math.isfinite(self.mass_kg) and self.mass_kg > 0):
            raise DataError(f"body mass must be a positive number of kg, got {self.mass_kg!r}", **loc)
        for name in ("dataset", "subject", "trial", "condition"):
            if not str(getattr(self, name)).strip():
                raise DataError(f"{name} must not be empty", **loc)


@dataclass
class Stream:
    """Uniformly sampled signals sharing one time base.

    Parameters
    ----------
    rate_hz
        Sampling rate.
    frame
        One row per sample; column ``time_s`` holds the time in the source
        file's own time base (it need not start at 0); the other columns are
        signals whose units are in ``units``.
    units
        Unit of every signal column.
    """

    rate_hz: float
    frame: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "time_s" not in self.frame.columns:
            raise ValueError("a stream needs a 'time_s' column")
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"sampling rate must be positive, got {self.rate_hz!r}")
        missing = [c for c in self.frame.columns if c != "time_s" and c not in self.units]
        if missing:
            raise ValueError(f"stream columns without a unit: {missing}")
        t = self.frame["time_s"].to_numpy()
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise ValueError("time_s must increase strictly")

    @property
    def time(self) -> np.ndarray:
        return self.frame["time_s"].to_numpy(dtype=float)

    @property
    def signals(self) -> list[str]:
        return [c for c in self.frame.columns if c != "time_s"]

    def has(self, column: str) -> bool:
        return column in self.frame.columns and bool(np.isfinite(self.frame[column].to_numpy(dtype=float)).any())

    def get(self, column: str) -> np.ndarray:
        return self.frame[column].to_numpy(dtype=float)


@dataclass
class Trial:
    """One recording: metadata, signal streams, stored events and plates.

    ``events`` columns: ``side`` (L/R), ``event`` (``foot_strike`` or
    ``foot_off``), ``time_s``, ``source`` (e.g. ``c3d:EVENT``).
    ``plates`` columns: ``plate`` (id used in force columns), ``foot``
    (``L``/``R`` when the plate or belt belongs to one foot, else empty).
    """

    meta: TrialMeta
    kinematics: Stream | None = None
    forces: Stream | None = None
    emg: Stream | None = None
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"side": pd.Series(dtype=str), "event": pd.Series(dtype=str),
         "time_s": pd.Series(dtype=float), "source": pd.Series(dtype=str)}))
    plates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"plate": pd.Series(dtype=str), "foot": pd.Series(dtype=str)}))

    @property
    def key(self) -> tuple[str, str, str]:
        return self.meta.dataset, self.meta.subject, self.meta.trial

    def error(self, message: str) -> DataError:
        """A :class:`DataError` located at this trial."""
        return DataError(message, dataset=self.meta.dataset, subject=self.meta.subject, trial=self.meta.trial)


_STREAMS = ("kinematics", "forces", "emg")

#: Files written by :func:`write_subject`, in a subject's folder.
SUBJECT_FILES = ("trials.parquet", *(f"{s}.parquet" for s in _STREAMS), "events.parquet", "plates.parquet")


def write_subject(trials: list[Trial], folder: str | os.PathLike) -> None:
    """Store one subject's canonical trials in ``folder`` (parquet files).

    Files (always all of them, see :data:`SUBJECT_FILES`): ``trials.parquet``
    (metadata and stream rates), one parquet per stream holding all trials
    (column ``trial``; empty when no trial has the stream),
    ``events.parquet`` and ``plates.parquet``. Each file is written atomically.
    """
    if not trials:
        raise ValueError("no trials to write")
    folder = Path(folder)
    subjects = {t.meta.subject for t in trials}
    if len(subjects) != 1:
        raise ValueError(f"trials of several subjects given: {sorted(subjects)}")
    names = [t.meta.trial for t in trials]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise trials[0].error(f"duplicate trial ids within subject: {dupes}")

    rows = []
    for t in trials:
        row = dataclasses.asdict(t.meta)
        for s in _STREAMS:
            stream = getattr(t, s)
            row[f"{s}_rate_hz"] = stream.rate_hz if stream is not None else float("nan")
        for s in _STREAMS:
            stream = getattr(t, s)
            # the trial's own columns: a column all NaN in this trial (an empty EMG channel) is read
            # back as NaN, not confused with a column only another trial has
            row[f"{s}_signals"] = ";".join(stream.signals) if stream is not None else ""
        rows.append(row)
    meta = pd.DataFrame(rows)
    write_parquet(meta, folder / "trials.parquet", units={
        "speed_mps": "m/s", "mass_kg": "kg", "height_m": "m",
        **{f"{s}_rate_hz": "Hz" for s in _STREAMS}})

    for s in _STREAMS:
        parts, units = [], {}
        for t in trials:
            stream = getattr(t, s)
            if stream is None:
                continue
            part = stream.frame.copy()
            part.insert(0, "trial", t.meta.trial)
            parts.append(part)
            for col, unit in stream.units.items():
                if units.setdefault(col, unit) != unit:
                    raise t.error(f"column {col} of stream {s} has unit {unit}, "
                                  f"another trial has {units[col]}")
        if parts:
            frame = pd.concat(parts, ignore_index=True)
        else:  # no trial has this stream: an empty table keeps the file set fixed
            frame = pd.DataFrame({"trial": pd.Series(dtype=str), "time_s": pd.Series(dtype=float)})
        write_parquet(frame, folder / f"{s}.parquet", units={"time_s": "s", **units})

    events = pd.concat([t.events.assign(trial=t.meta.trial) for t in trials], ignore_index=True)
    write_parquet(events[["trial", "side", "event", "time_s", "source"]], folder / "events.parquet",
                  units={"time_s": "s"})
    plates = pd.concat([t.plates.assign(trial=t.meta.trial) for t in trials], ignore_index=True)
    write_parquet(plates[["trial", "plate", "foot"]], folder / "plates.parquet")


def read_subject(folder: str | os.PathLike) -> list[Trial]:
    """Read the trials stored by :func:`write_subject`, in stored order."""
    folder = Path(folder)
    meta, _ = read_parquet(folder / "trials.parquet")
    streams: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
    for s in _STREAMS:
        streams[s] = read_parquet(folder / f"{s}.parquet")
    events, _ = read_parquet(folder / "events.parquet")
    plates, _ = read_parquet(folder / "plates.parquet")

    fields = {f.name for f in dataclasses.fields(TrialMeta)}
    trials = []
    for row in meta.to_dict("records"):
        m = TrialMeta(**{k: row[k] for k in fields})
        kw = {}
        for s in _STREAMS:
            rate = row[f"{s}_rate_hz"]
            if not np.isfinite(rate):
                kw[s] = None
                continue
            frame, units = streams[s]
            part = frame.loc[frame["trial"] == m.trial].drop(columns="trial")
            listed = row.get(f"{s}_signals")
            if isinstance(listed, str):  # the trial's own columns, all-NaN ones included
                own = [c for c in listed.split(";") if c]
                missing = [c for c in own if c not in part.columns]
                if missing:
                    raise DataError(f"{s}.parquet lacks column(s) {missing} of this trial", dataset=m.dataset,
                                    subject=m.subject, trial=m.trial)
                keep = ["time_s"] + own
            else:  # written before the column lists existed: drop all-NaN extras
                keep = ["time_s"] + [c for c in part.columns if c != "time_s" and part[c].notna().any()]
            part = part[keep].reset_index(drop=True)
            kw[s] = Stream(rate_hz=float(rate), frame=part,
                           units={c: units[c] for c in keep if c != "time_s"})
        ev = events.loc[events["trial"] == m.trial].drop(columns="trial").reset_index(drop=True)
        pl = plates.loc[plates["trial"] == m.trial].drop(columns="trial").reset_index(drop=True)
        trials.append(Trial(meta=m, events=ev, plates=pl, **kw))
    return trials
