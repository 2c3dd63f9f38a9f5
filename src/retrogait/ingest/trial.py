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

``checks`` records what the adapter checked on the data itself (a sign
convention, the body mass, the EMG time base...) and the outcome: passed,
corrected (an automatic correction that was applied), a warning, overridden
by the user, or not checked and why (docs/methods.md §0.4). Failed checks
that cannot be corrected stop the run instead.

A subject's trials are stored as a folder of parquet files by
:func:`write_subject` and read back by :func:`read_subject`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
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
    "MUSCLE_ALIASES",
    "canonical_muscle",
    "TrialMeta",
    "Stream",
    "Trial",
    "SUBJECT_FILES",
    "CHECK_COLUMNS",
    "CHECK_STATUSES",
    "check_row",
    "checks_frame",
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
    "hip_flexion": "deg",             # hip flexion positive (thigh ahead of the pelvis), extension negative
    "hip_extensor_moment": "N.m/kg",  # internal hip extensor moment, extensor positive (same convention as the knee)
}

#: Marker trajectories used by event detection and lever-arm estimates (m);
#: ``kjc``/``hjc`` are the knee/hip joint centres of the model (e.g. Plug-in Gait's
#: femur origin; the joints of a BVH skeleton).
MARKERS = ("heel", "toe", "knee", "ankle", "kjc", "hjc")  # per side; plus side-less "pelvis"

#: Known muscles: canonical names that the measure catalogue, the
#: co-contraction index and the claims refer to. An EMG channel may map to
#: any other muscle too (:func:`canonical_muscle`); it is then analysed under
#: its own name.
MUSCLES = (
    "rectus_femoris", "vastus_lateralis", "vastus_medialis", "vastus_intermedius",
    "biceps_femoris", "semitendinosus", "semimembranosus", "hamstrings",
    "gastrocnemius", "medial_gastrocnemius", "lateral_gastrocnemius", "soleus",
    "tibialis_anterior", "tibialis_posterior", "peroneus_longus",
    "gluteus_medius", "gluteus_maximus", "gracilis", "adductor_longus", "sartorius",
    "tensor_fasciae_latae", "iliopsoas", "erector_spinae",
)

#: Other spellings of known muscles (after lower-casing and turning spaces,
#: hyphens and dots into underscores): lab abbreviations and long names.
MUSCLE_ALIASES: dict[str, str] = {
    "rf": "rectus_femoris", "rect": "rectus_femoris", "rectus": "rectus_femoris",
    "vl": "vastus_lateralis", "vas_lat": "vastus_lateralis", "vastus_lateral": "vastus_lateralis",
    "vm": "vastus_medialis", "vmo": "vastus_medialis", "vas_med": "vastus_medialis",
    "vastus_medial": "vastus_medialis", "vi": "vastus_intermedius",
    "bf": "biceps_femoris", "bfl": "biceps_femoris", "biceps_femoris_long_head": "biceps_femoris",
    "st": "semitendinosus", "sm": "semimembranosus",
    "ham": "hamstrings", "hams": "hamstrings", "hamstring": "hamstrings",
    "gas": "gastrocnemius", "gast": "gastrocnemius", "gastroc": "gastrocnemius",
    "mg": "medial_gastrocnemius", "gasmed": "medial_gastrocnemius", "gastrocnemius_medialis": "medial_gastrocnemius",
    "gastrocnemius_medial_head": "medial_gastrocnemius",
    "lg": "lateral_gastrocnemius", "gaslat": "lateral_gastrocnemius",
    "gastrocnemius_lateralis": "lateral_gastrocnemius", "gastrocnemius_lateral_head": "lateral_gastrocnemius",
    "sol": "soleus",
    "ta": "tibialis_anterior", "tib_ant": "tibialis_anterior", "tibant": "tibialis_anterior",
    "tp": "tibialis_posterior", "tib_post": "tibialis_posterior",
    "pl": "peroneus_longus", "fibularis_longus": "peroneus_longus", "per_long": "peroneus_longus",
    "gmed": "gluteus_medius", "glut_med": "gluteus_medius", "gmax": "gluteus_maximus", "glut_max": "gluteus_maximus",
    "add_long": "adductor_longus", "tfl": "tensor_fasciae_latae", "psoas": "iliopsoas", "iliacus": "iliopsoas",
    "es": "erector_spinae", "ers": "erector_spinae",
}

_MUSCLE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def canonical_muscle(name: str) -> tuple[str, bool]:
    """Canonical spelling of a muscle name and whether it is a known muscle.

    The name is lower-cased, spaces, hyphens and dots become underscores,
    and :data:`MUSCLE_ALIASES` turn abbreviations into canonical names
    (``"VL"``, ``"Vastus Lateralis"`` -> ``"vastus_lateralis"``). Names that
    are not known muscles are kept as given (normalised), so any muscle can
    be analysed under its own name; only known muscles enter the
    co-contraction index and the claims.

    Examples
    --------
    >>> canonical_muscle("Tib Ant")
    ('tibialis_anterior', True)
    >>> canonical_muscle("iliacus")
    ('iliopsoas', True)
    >>> canonical_muscle("Vastus intermedius distal")
    ('vastus_intermedius_distal', False)

    Raises
    ------
    ValueError
        When the normalised name is not a lower-case identifier
        (``[a-z][a-z0-9_]*``) or starts with ``stance_`` (reserved: EMG
        measure names are ``emg_mean_stance_<muscle>``).
    """
    key = re.sub(r"[\s.\-]+", "_", str(name).strip().lower()).strip("_")
    key = MUSCLE_ALIASES.get(key, key)
    if not _MUSCLE_NAME.fullmatch(key) or key.startswith("stance_"):
        raise ValueError(f"muscle name {name!r} is not usable: it must become a lower-case identifier "
                         "(letters, digits, underscores, starting with a letter, not 'stance_...')")
    return key, key in MUSCLES


#: Columns of a trial's ``checks`` table (one row per check).
CHECK_COLUMNS = ("check", "status", "value", "unit", "expected", "detail")
#: Outcomes of a check that did not stop the run.
CHECK_STATUSES = ("passed", "corrected", "warning", "overridden", "not checked")


def check_row(check: str, status: str, *, value: float = math.nan, unit: str = "", expected: str = "",
              detail: str = "") -> dict:
    """One row of a trial's ``checks`` table (see :data:`CHECK_COLUMNS`)."""
    if status not in CHECK_STATUSES:
        raise ValueError(f"check status must be one of {CHECK_STATUSES}, got {status!r}")
    if not check or not isinstance(check, str):
        raise ValueError("a check needs a name")
    return {"check": check, "status": status, "value": float(value), "unit": unit, "expected": expected,
            "detail": detail}


def checks_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    """A ``checks`` table from :func:`check_row` rows (empty table with the right columns if none)."""
    rows = list(rows or [])
    text = ("check", "status", "unit", "expected", "detail")
    if all(type(r) is dict and all(type(r.get(c)) is str for c in text) and type(r.get("value")) is float
           for r in rows):
        # no rows, or rows of check_row: the typed columns directly, the same table as the general path below
        return pd.DataFrame({c: np.array([r[c] for r in rows], dtype=float) if c == "value"
                             else pd.array([r[c] for r in rows], dtype=str) for c in CHECK_COLUMNS})
    frame = pd.DataFrame(rows, columns=list(CHECK_COLUMNS))
    return frame.astype({"check": str, "status": str, "value": float, "unit": str, "expected": str,
                         "detail": str})


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
    mass_kg: float                 # NaN when not recorded (then the trial may have no kinetics)
    height_m: float                # NaN when unknown
    mass_source: str               # where the mass came from (file parameter, table)
    source_files: str              # ';'-separated paths relative to data/raw/<dataset>/
    source_sha256: str             # ';'-separated sha256 of those files, same order
    adapter: str
    kinetic_sides: str = ""        # sides with joint moments, e.g. "L,R" or "L"
    notes: str = ""                # adapter remarks (assumptions, unmapped channels)
    # what ingest noticed, shown per trial in the report's QC section (comma-separated lists)
    missing_outputs: str = ""      # model outputs the channel map names that the file lacks
    missing_markers: str = ""      # canonical markers (e.g. L_heel) no candidate label was found for
    missing_emg: str = ""          # EMG channel labels of the map that the file lacks
    unmapped_analogs: str = ""     # analog channels neither mapped, ignored nor force-plate channels
    gaps: str = ""                 # invalid samples set missing, gaps filled (method)
    corrections: str = ""          # automatic corrections of the data (" | "-separated): logged as warnings, in the QC

    def __post_init__(self) -> None:
        loc = dict(dataset=self.dataset, subject=self.subject, trial=self.trial)
        if self.direction not in DIRECTIONS:
            raise DataError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}", **loc)
        if self.surface not in SURFACES:
            raise DataError(f"surface must be one of {SURFACES}, got {self.surface!r}", **loc)
        if not (isinstance(self.mass_kg, (int, float)) and (math.isnan(self.mass_kg) or
                                                            (math.isfinite(self.mass_kg) and self.mass_kg > 0))):
            raise DataError(f"body mass must be a positive number of kg (NaN when not recorded), "
                            f"got {self.mass_kg!r}", **loc)
        if math.isnan(self.mass_kg) and self.kinetic_sides:
            raise DataError(f"body mass not recorded but kinetic sides {self.kinetic_sides!r} given: moments "
                            "cannot be normalised to body mass", **loc)
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
    ``checks``: what was checked on the data and the outcome
    (:data:`CHECK_COLUMNS`, built with :func:`check_row`).
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
    checks: pd.DataFrame = field(default_factory=checks_frame)

    def __post_init__(self) -> None:
        if self.forces is not None and not math.isfinite(self.meta.mass_kg):
            raise self.error("a trial with force data needs the body mass (mass_kg is NaN): forces are "
                             "normalised to body weight")

    @property
    def key(self) -> tuple[str, str, str]:
        return self.meta.dataset, self.meta.subject, self.meta.trial

    def error(self, message: str) -> DataError:
        """A :class:`DataError` located at this trial."""
        return DataError(message, dataset=self.meta.dataset, subject=self.meta.subject, trial=self.meta.trial)


_STREAMS = ("kinematics", "forces", "emg")

#: Files written by :func:`write_subject`, in a subject's folder.
SUBJECT_FILES = ("trials.parquet", *(f"{s}.parquet" for s in _STREAMS), "events.parquet", "plates.parquet",
                 "data_checks.parquet")


def write_subject(trials: list[Trial], folder: str | os.PathLike) -> None:
    """Store one subject's canonical trials in ``folder`` (parquet files).

    Files (always all of them, see :data:`SUBJECT_FILES`): ``trials.parquet``
    (metadata and stream rates), one parquet per stream holding all trials
    (column ``trial``; empty when no trial has the stream),
    ``events.parquet``, ``plates.parquet`` and ``data_checks.parquet`` (the
    trials' ``checks`` with identifier columns). Each file is written atomically.
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
    checks = pd.concat([checks_frame(t.checks.to_dict("records")).assign(
        dataset=t.meta.dataset, subject=t.meta.subject, trial=t.meta.trial, condition=t.meta.condition)
        for t in trials], ignore_index=True)
    write_parquet(checks[["dataset", "subject", "trial", "condition", *CHECK_COLUMNS]],
                  folder / "data_checks.parquet")


def read_subject(folder: str | os.PathLike) -> list[Trial]:
    """Read the trials stored by :func:`write_subject`, in stored order."""
    folder = Path(folder)
    meta, _ = read_parquet(folder / "trials.parquet")
    streams: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
    for s in _STREAMS:
        streams[s] = read_parquet(folder / f"{s}.parquet")
    events, _ = read_parquet(folder / "events.parquet")
    plates, _ = read_parquet(folder / "plates.parquet")
    checks, _ = read_parquet(folder / "data_checks.parquet")

    fields = {f.name for f in dataclasses.fields(TrialMeta)}
    trials = []
    for row in meta.to_dict("records"):
        m = TrialMeta(**{k: row[k] for k in fields if k in row})
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
        ck = checks_frame(checks.loc[checks["trial"] == m.trial, list(CHECK_COLUMNS)].to_dict("records"))
        trials.append(Trial(meta=m, events=ev, plates=pl, checks=ck, **kw))
    return trials
