"""Adapter for GT23, the processed files of Scherpereel et al. 2023.

Scherpereel K, Molinaro D, Inan O, Shepherd M, Young A. A human lower-limb
biomechanics and wearable sensors dataset during cyclic and non-cyclic
activities. Sci Data 10:924 (2023). Data DOI 10.35090/gatech/70296, CC BY 4.0.

What is known of the files is in ``gt23-format.md`` (nobody on the project has
seen them); this module reads them defensively:

* Layout: ``[<prefix>/]ABxx/<trial>/ABxx_<trial>_<suffix>.csv``, one file per
  signal type; the optional prefix is usually ``ProcessedData/``.
* Every CSV: one header row, first column ``time`` (s) that does not start at
  0. Columns are read **by name**; unknown columns and unknown files are
  ignored. Empty fields and ``NaN`` text are NaN. Streams are joined on
  ``round(time * rate)``, never on float equality; the rate comes from the
  ``time`` column.
* ``_angle.csv``: ``knee_angle_l/r`` in degrees, **extension positive**, so
  canonical knee flexion is ``-knee_angle``; ``ankle_angle_l/r``
  dorsiflexion positive; ``hip_flexion_l/r`` (optional) flexion positive,
  canonical ``hip_flexion`` as is.
* ``_moment_filt.csv``: ``knee_angle_l/r_moment`` in N.m/kg, OpenSim sign:
  the generalised force about the coordinate's own positive direction, so
  its sign follows the angle's (extensor-positive while ``knee_angle`` is
  extension-positive; negated together with a flexion-positive angle).
  ``hip_flexion_l/r_moment`` (optional) is flexor-positive like its
  coordinate: the canonical internal hip extensor moment is its negative.
* ``_grf.csv``: ``{L,R}Force{X,Y_Vertical,Z}`` (N) and ``{L,R}COP{X,Y_Vertical,Z}``
  (m) of the two belts of the split-belt treadmill, Y up. One belt per foot,
  so the plates are ``L`` and ``R``. Usually one side is all NaN (one-legged
  kinetics); that side is kept as NaN.
* ``_emg.csv``: 16 raw EMG channels (``LTA`` ... ``RGMAX``), rate from time
  (about 2000 Hz), unit unknown (option ``emg_unit``, default V).
* ``_activity_flag.csv``: ``left``/``right`` 0/1 flags.

Runtime checks (gt23-format.md section 11) turn a wrong assumption into a
clear :class:`~retrogait.errors.DataError` or into an automatic correction
recorded in ``TrialMeta.notes`` and logged: knee sign, moment units, vertical
GRF sign and units, COP units, EMG rate, non-monotonic or duplicated time,
missing columns, file names that contradict their folder, and knee
kinematics that contradict the FW/BW label.

Checks on the data itself (docs/methods.md §0.4), recorded in each trial's
``checks`` table (``data_checks.parquet``, shown in the report's QC section):

* ``knee_angle_convention`` -- the swing-flexion peak fixes the angle's sign;
  the knee moment's sign is tied to it.
* ``knee_moment_sign`` -- FW trials: the knee work from foot strike to the
  loading-response flexion peak must be negative (K1 absorption, Winter
  1991). A positive one contradicts the angle convention: the run stops.
* ``ankle_angle_sign`` -- FW trials: the ankle plantarflexes over the last
  quarter of stance (push-off); a rising angle is plantarflexion-positive and
  is negated in every trial of the subject. BW trials inherit the subject's
  FW verdicts (same files and model).
* ``hip_angle_sign`` / ``hip_moment_sign`` -- FW trials: the hip is flexed at
  foot strike and extended at foot off (flexion at strike minus at off > 0),
  and the internal hip extensor moment is positive over the first 20 % of
  stance (H1, Winter 1991); a contradiction stops the run. BW: not checked.
* ``body_mass`` -- the mass the belt forces imply (2 x the mean vertical force
  of the one recorded belt over whole strides / g) against the table's mass:
  warning above ``mass_check.warn_above``, stop above
  ``mass_check.stop_above`` unless the subject is in ``mass_check.accept``.
* ``emg_time_base`` -- the EMG file starts and ends with the 200-Hz files
  (within ``emg_time_tolerance_s``), else the run stops naming the file.
* ``activity_flag`` -- samples with flag 0 (the cycles stage excludes the
  cycles that overlap them).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrogait.config import load_config
from retrogait.errors import ConfigError, DataError
from retrogait.io import sha256_file
from retrogait.ingest.physics import (ankle_pushoff_change, body_mass_from_belts, contacts,
                                      loading_response_knee_work, sign_verdict, strikes)
from retrogait.ingest.trial import SIDES, Stream, Trial, TrialMeta, check_row, checks_frame
from retrogait.ingest.units import G, conversion_to_si
from retrogait.ingest.adapters import register
from retrogait.ingest.adapters.base import Adapter, RawFile

__all__ = [
    "GT23Adapter", "OPTIONS_SCHEMA", "SUBJECTS", "DEFAULT_TRIALS", "FILE_TYPES", "EMG_CHANNELS",
    "TRIAL_PATTERN", "parse_trial", "read_masses_file",
]

log = logging.getLogger(__name__)

OPTIONS_SCHEMA = Path(__file__).with_name("schemas") / "gt23_options.schema.yaml"

#: The 12 GT23 subjects (AB04 was excluded from the dataset).
SUBJECTS: tuple[str, ...] = ("AB01", "AB02", "AB03", "AB05", "AB06", "AB07",
                             "AB08", "AB09", "AB10", "AB11", "AB12", "AB13")
DEFAULT_TRIALS: tuple[str, ...] = ("normal_walk_1_0-6", "normal_walk_1_1-2", "walk_backward_1_0-6",
                                   "walk_backward_1_0-8", "walk_backward_1_1-0")
FILE_TYPES: tuple[str, ...] = ("angle", "moment_filt", "grf", "emg", "activity_flag")

#: Trial folder names: direction, repetition, speed X-Y = X.Y m/s.
TRIAL_PATTERN = re.compile(r"^(normal_walk|walk_backward)_(\d+)_(\d+)-(\d+)$")
_DIRECTIONS = {"normal_walk": "FW", "walk_backward": "BW"}

#: GT23 EMG channel -> (side, canonical muscle).
EMG_CHANNELS: dict[str, tuple[str, str]] = {
    f"{side}{abbr}": (side, muscle)
    for abbr, muscle in (("TA", "tibialis_anterior"), ("RF", "rectus_femoris"), ("BF", "biceps_femoris"),
                         ("GMED", "gluteus_medius"), ("MGAS", "medial_gastrocnemius"),
                         ("VL", "vastus_lateralis"), ("GRAC", "gracilis"), ("GMAX", "gluteus_maximus"))
    for side in SIDES
}

_MASSES_FILE = "subject_masses.csv"
_EMG_UNITS = {"V", "mV", "uV"}

# Plausibility ranges of the runtime checks.
_KNEE_PEAK_FLEXION = (30.0, 100.0)     # 99th percentile of flexion (deg), swing
_KNEE_MIN_FLEXION = (-25.0, 30.0)      # 1st percentile of flexion (deg)
_ANKLE_PEAK_PER_KG = (0.5, 3.0)        # peak |ankle moment| in N.m/kg
_ANKLE_PEAK_ABS = (30.0, 250.0)        # ... in N.m
_GRF_PEAK_BW = (0.6, 3.0)              # peak vertical GRF / (m g)
_CONTACT_N = 20.0                      # vertical force threshold for stance (N)
_DIRECTION_MARGIN_DEG = 5.0            # knee change over the first 15 % of stance
_MASS_RANGE = (30.0, 250.0)
_K1_MARGIN_J_PER_KG = 0.002            # |median K1 work| below this is no judgement (J/kg)
_ANKLE_MARGIN_DEG = 5.0                # |median push-off change| below this is no judgement (deg)
_HIP_MARGIN_DEG = 10.0                 # |median FW hip flexion change strike - off| below this: no judgement
_HIP_MOMENT_MARGIN = 0.05              # |median early-stance hip moment| below this is no judgement (N.m/kg)


def parse_trial(name: str) -> tuple[str, float, str, int]:
    """``(direction, speed_mps, speed_label, repetition)`` of a GT23 walking trial name.

    >>> parse_trial("walk_backward_1_1-0")
    ('BW', 1.0, '1.0', 1)
    """
    m = TRIAL_PATTERN.match(name)
    if not m:
        raise ValueError(f"trial name {name!r} does not match {TRIAL_PATTERN.pattern}")
    kind, rep, whole, frac = m.groups()
    label = f"{int(whole)}.{frac}"
    return _DIRECTIONS[kind], float(label), label, int(rep)


# ---------------------------------------------------------------------------
# Small containers
# ---------------------------------------------------------------------------

@dataclass
class _Table:
    """One CSV read by name, with its sample keys ``round(time*rate)``."""

    relpath: str
    frame: pd.DataFrame
    rate: float
    keys: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class _Forces:
    """One trial's belt forces, read once (the body-mass check and the trial both use them)."""

    path: Path
    relpath: str
    stream: Stream
    sides: list[str]
    notes: list[str]
    scaled: bool          # the forces were not in N and were rescaled with the table mass


@dataclass(frozen=True)
class _Body:
    mass_kg: float
    height_m: float
    source: str
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------

@register("gt23")
class GT23Adapter(Adapter):
    """Reads GT23 processed walking trials (FW and BW on a split-belt treadmill).

    Options (manifest ``options`` merged with config ``dataset_options.<id>``;
    schema ``schemas/gt23_options.schema.yaml``): ``subjects``, ``trials``,
    ``file_types``, ``emg_unit``, ``direction_check``, ``subjects_table``,
    ``mass_check`` and ``emg_time_tolerance_s``.
    They are validated when the adapter is created.
    """

    def __init__(self, spec, *, options=None, root=".", external_folders=()):
        super().__init__(spec, options=options, root=root, external_folders=external_folders)
        self.opts = self._validate_options()

    # -- options ---------------------------------------------------------------
    def _validate_options(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        sources = ((f"config/datasets.yaml: datasets.{self.spec.id}.options", self.spec.options),
                   (f"config.yaml: dataset_options.{self.spec.id}", self.options))
        for source, given in sources:
            given = dict(given or {})
            if given.get("direction_check") is False:  # YAML 1.1 reads a bare `off` as false
                given["direction_check"] = "off"
            _friendly_option_errors(given, source)
            load_config(given, OPTIONS_SCHEMA, source=source)
            merged.update(given)
        opts = load_config(merged, OPTIONS_SCHEMA, source=f"options of dataset '{self.spec.id}'")
        mc = opts["mass_check"]
        if not mc["warn_above"] < mc["stop_above"]:
            raise ConfigError(f"dataset_options.{self.spec.id}.mass_check: warn_above ({mc['warn_above']:g}) must "
                              f"be below stop_above ({mc['stop_above']:g})")
        # confined to the project, checked now (parse time), before any file is opened
        self.project_file(opts["subjects_table"], key="options.subjects_table")
        return opts

    # -- planning ---------------------------------------------------------------
    def members(self, subject: str) -> list[str]:
        """Archive members (no prefix) one subject needs, in reading order."""
        return [f"{subject}/{trial}/{subject}_{trial}_{suffix}.csv"
                for trial in self.opts["trials"] for suffix in self.opts["file_types"]]

    def config_files(self) -> list[str]:
        return [str(self.opts["subjects_table"])]

    def plan(self) -> dict[str, list[RawFile]]:
        # Subject_masses.csv is not planned: whether ProcessedData.zip holds it
        # is unknown (gt23-format.md section 2); it is read if present.
        return {s: [RawFile(path=m, member=m) for m in self.members(s)]
                for s in sorted(self.opts["subjects"])}

    def design(self) -> pd.DataFrame:
        rows = []
        for subject in sorted(self.opts["subjects"]):
            for trial in self.opts["trials"]:
                direction, speed, label, _rep = parse_trial(trial)
                rows.append({"subject": subject, "trial": trial, "condition": f"{direction}_{label}",
                             "direction": direction, "speed_mps": speed, "surface": "treadmill"})
        return pd.DataFrame(rows, columns=["subject", "trial", "condition", "direction", "speed_mps", "surface"])

    # -- body mass ----------------------------------------------------------------
    @cached_property
    def subjects_table(self) -> pd.DataFrame:
        """The subjects table (``subject`` index; ``mass_kg``, ``height_m``, ``source``)."""
        rel = self.opts["subjects_table"]
        path = self.project_file(rel, key="options.subjects_table")
        if not path.exists():
            raise ConfigError(f"dataset '{self.spec.id}': subjects table {rel} not found")
        try:
            table = pd.read_csv(path, encoding="utf-8-sig", dtype={"subject": str})
        except Exception as exc:  # pandas raises several parser errors
            raise ConfigError(f"{rel}: cannot read the subjects table: {exc}") from None
        table.columns = [str(c).strip() for c in table.columns]
        missing = [c for c in ("subject", "mass_kg") if c not in table.columns]
        if missing:
            raise ConfigError(f"{rel}: missing column(s) {missing}; expected subject,mass_kg,height_m,source")
        table["subject"] = table["subject"].astype(str).str.strip()
        dupes = sorted(table.loc[table["subject"].duplicated(), "subject"].unique())
        if dupes:
            raise ConfigError(f"{rel}: duplicate subject id(s) {dupes}")
        for col in ("mass_kg", "height_m"):
            if col not in table.columns:
                table[col] = np.nan
            values = pd.to_numeric(table[col], errors="coerce")
            bad = table.loc[values.isna() & table[col].notna(), "subject"].tolist()
            if bad:
                raise ConfigError(f"{rel}: non-numeric {col} for {bad}")
            table[col] = values.astype(float)
        if "source" not in table.columns:
            table["source"] = ""
        table["source"] = table["source"].fillna("").astype(str)
        return table.set_index("subject")

    def _body(self, subject: str, raw_dir: Path) -> _Body:
        loc = dict(dataset=self.spec.id, subject=subject)
        rel = self.opts["subjects_table"]
        row = self.subjects_table.loc[subject] if subject in self.subjects_table.index else None
        tab_mass = float(row["mass_kg"]) if row is not None else math.nan
        tab_height = float(row["height_m"]) if row is not None else math.nan
        height = tab_height if math.isfinite(tab_height) and tab_height > 0 else math.nan

        masses_path = _find_masses_file(raw_dir)
        if masses_path is not None:
            relpath = masses_path.relative_to(raw_dir).as_posix()
            found = read_masses_file(masses_path, relpath=relpath, dataset=self.spec.id)
            if subject in found:
                mass, file_height, unit_note = found[subject]
                notes = [unit_note] if unit_note else []
                if math.isfinite(tab_mass) and abs(tab_mass - mass) > 0.5:
                    notes.append(f"mass {mass:g} kg from {relpath} differs from {tab_mass:g} kg in {rel} "
                                 f"(the file in the raw folder wins)")
                if math.isfinite(file_height):
                    height = file_height
                return _Body(mass, height, f"{relpath} (raw folder)", tuple(notes))
            fallback_note = f"{relpath} has no row for {subject}, mass taken from {rel}"
        else:
            fallback_note = ""
        if not (math.isfinite(tab_mass) and _MASS_RANGE[0] <= tab_mass <= _MASS_RANGE[1]):
            raise DataError(f"no usable body mass: {rel} gives {tab_mass!r} kg and no Subject_masses.csv "
                            f"row was found in the raw folder", **loc, file=rel)
        source = f"{rel}" + (f" ({row['source']})" if row is not None and row["source"] else "")
        return _Body(tab_mass, height, source, (fallback_note,) if fallback_note else ())

    # -- reading ----------------------------------------------------------------
    def read_subject(self, subject: str, raw_dir: str | os.PathLike) -> list[Trial]:
        """Read one subject's trials, with the checks of docs/methods.md §0.4.

        Per trial: knee angle convention with the knee moment tied to it, knee
        power in the loading response (FW), ankle push-off (FW), EMG time
        base, activity flags. Per subject: body mass from the belt forces of
        all trials, and the FW verdicts on the ankle and knee-moment signs
        carried over to the BW trials (the same files and model).
        """
        if subject not in self.opts["subjects"]:
            raise DataError(f"subject is not among the selected subjects {self.opts['subjects']}",
                            dataset=self.spec.id, subject=subject)
        raw_dir = Path(raw_dir)
        bases = _subject_bases(raw_dir, subject)
        if not bases:
            raise DataError(f"subject folder {subject}/ not found under {raw_dir} (nor one level below, "
                            f"e.g. ProcessedData/{subject}/); run the fetch step first",
                            dataset=self.spec.id, subject=subject)
        body = self._body(subject, raw_dir)
        grfs = {}
        if "grf" in self.opts["file_types"]:
            for trial in self.opts["trials"]:
                grfs[trial] = self._read_grf(subject, trial, raw_dir, bases, body)
        body, mass_rows = self._mass_check(subject, grfs, body)
        parts = [self._read_trial(subject, trial, raw_dir, bases, body, grfs.get(trial), mass_rows.get(trial, []))
                 for trial in self.opts["trials"]]
        return self._subject_conventions(subject, parts)

    def _read_grf(self, subject: str, trial: str, raw_dir: Path, bases: Sequence[Path], body: _Body) -> _Forces:
        loc = dict(dataset=self.spec.id, subject=subject, trial=trial)
        path = self._locate(subject, trial, "grf", raw_dir, bases, loc)
        relpath = path.relative_to(raw_dir).as_posix()
        table = _read_table(path, relpath, [f"{s}Force{a}" for s in SIDES for a in ("X", "Y_Vertical", "Z")], loc,
                            optional=[f"{s}COP{a}" for s in SIDES for a in ("X", "Y_Vertical", "Z")])
        notes = list(table.notes)
        stream, sides, scaled = self._forces(table, body, notes, loc)
        return _Forces(path, relpath, stream, sides, notes, scaled)

    # -- body mass from the belt forces (docs/methods.md §0.4) ------------------------
    def _mass_check(self, subject: str, grfs: Mapping[str, _Forces], body: _Body) -> tuple[_Body, dict]:
        """Compare the table's body mass with the mass the belt forces imply; stop above the limit."""
        loc = dict(dataset=self.spec.id, subject=subject)
        opts = self.opts["mass_check"]
        key = f"dataset_options.{self.spec.id}.mass_check"
        expected = f"{body.mass_kg:g} kg ({body.source})"
        rows: dict[str, list[dict]] = {}
        if not grfs:
            return body, {}
        estimates: dict[str, tuple[float, int, str]] = {}
        for trial, g in grfs.items():
            if g.scaled:
                rows[trial] = [check_row("body_mass", "not checked", unit="kg", expected=expected,
                                         detail=f"{g.relpath}: forces were not in N (rescaled with the table "
                                                "mass), so they cannot estimate it")]
                continue
            if not g.sides:
                rows[trial] = [check_row("body_mass", "not checked", unit="kg", expected=expected,
                                         detail=f"{g.relpath}: no vertical force on either belt")]
                continue
            f = g.stream
            # both belts only when both are complete (GT23 has the other belt partly recorded in some trials)
            full = [s for s in g.sides if np.isfinite(f.get(f"{s}_fz")).mean() > 0.99] or g.sides[:1]
            belts = [f.get(f"{s}_fz") for s in full]
            fs = f.time[strikes(belts[0], f.rate_hz, threshold_n=_CONTACT_N)]
            m, n, how = body_mass_from_belts(f.time, belts, fs)
            estimates[trial] = (m, n, how)
        finite = {t: e for t, e in estimates.items() if math.isfinite(e[0])}
        for trial, (m, n, how) in estimates.items():
            if not math.isfinite(m):
                rows[trial] = [check_row("body_mass", "not checked", unit="kg", expected=expected,
                                         detail=f"{grfs[trial].relpath}: fewer than 2 whole strides with complete "
                                                f"force data ({n})")]
        if not finite:
            return body, rows
        est = float(np.median([e[0] for e in finite.values()]))
        diff = (body.mass_kg - est) / est
        summary = (f"table {body.mass_kg:g} kg ({body.source}); estimated from the forces {est:.1f} kg (median of "
                   f"{len(finite)} trials: {', '.join(f'{t} {e[0]:.1f}' for t, e in finite.items())}); the table "
                   f"is {100 * diff:+.1f} % off (warn above {100 * opts['warn_above']:g} %, stop above "
                   f"{100 * opts['stop_above']:g} %, {key})")
        accepted = opts["accept"].get(subject)
        if abs(diff) <= opts["warn_above"]:
            status = "passed"
        elif abs(diff) <= opts["stop_above"]:
            status = "warning"
            log.warning("%s %s: body mass: %s", self.spec.id, subject, summary)
        elif accepted is None:
            raise DataError(
                f"body mass: {summary}. A wrong mass scales the patellofemoral stress and every force in body "
                f"weights. Check the mass, or accept the difference for this subject with {key}.accept: "
                f"{{{subject}: table}} (keep the table mass) or {{{subject}: estimate}} (use the forces' mass)",
                **loc, file=self.opts["subjects_table"])
        else:
            status = "overridden"
            log.warning("%s %s: body mass: %s; accepted by %s.accept (%s mass used)", self.spec.id, subject,
                        summary, key, accepted)
        new_body = body
        if status == "overridden" and accepted == "estimate":
            new_body = _Body(est, body.height_m, f"estimated from the belt forces ({key}.accept); table "
                             f"{body.mass_kg:g} kg from {body.source}", body.notes)
        for trial, (m, n, how) in finite.items():
            detail = f"{how}; subject: {summary}"
            if status == "overridden":
                detail += f"; accepted, the {accepted} mass is used"
            rows[trial] = [check_row("body_mass", status, value=m, unit="kg", expected=expected, detail=detail)]
        return new_body, rows

    # -- one trial --------------------------------------------------------------------
    def _read_trial(self, subject: str, trial: str, raw_dir: Path, bases: Sequence[Path], body: _Body,
                    grf: _Forces | None, checks: list[dict]) -> tuple[Trial, dict[str, Any]]:
        """Read one trial folder into a canonical trial; also the FW sign verdicts for the subject."""
        loc = dict(dataset=self.spec.id, subject=subject, trial=trial)
        direction, speed, speed_label, _rep = parse_trial(trial)
        file_types = self.opts["file_types"]
        notes: list[str] = []
        checks = list(checks)
        info: dict[str, Any] = {"direction": direction}
        paths = {ft: self._locate(subject, trial, ft, raw_dir, bases, loc) for ft in file_types}
        rel = {ft: p.relative_to(raw_dir).as_posix() for ft, p in paths.items()}

        # ---- 200-Hz tables -------------------------------------------------
        tables: dict[str, _Table] = {}
        if "angle" in paths:
            tables["angle"] = _read_table(paths["angle"], rel["angle"], ["knee_angle_l", "knee_angle_r"], loc,
                                          optional=["ankle_angle_l", "ankle_angle_r", "hip_flexion_l", "hip_flexion_r"])
        if "moment_filt" in paths:
            tables["moment_filt"] = _read_table(
                paths["moment_filt"], rel["moment_filt"],
                ["knee_angle_l_moment", "knee_angle_r_moment", "ankle_angle_l_moment", "ankle_angle_r_moment"],
                loc, optional=["hip_flexion_l_moment", "hip_flexion_r_moment"])
        if "activity_flag" in paths:
            tables["activity_flag"] = _read_table(paths["activity_flag"], rel["activity_flag"],
                                                  ["left", "right"], loc)
        for t in tables.values():
            notes += t.notes

        kinematics, kin_info = self._kinematics(tables, body, notes, checks, loc)

        forces = None
        plates = pd.DataFrame({"plate": pd.Series(dtype=str), "foot": pd.Series(dtype=str)})
        grf_sides: list[str] = []
        if grf is not None:
            notes += grf.notes
            forces, grf_sides = grf.stream, grf.sides
            plates = pd.DataFrame({"plate": list(SIDES), "foot": list(SIDES)})

        emg = None
        if "emg" in paths:
            emg = self._emg(paths["emg"], rel["emg"], notes, loc)
            if kinematics is not None:
                checks.append(self._emg_time_base(emg, kinematics, rel["emg"], loc))

        # ---- kinetic sides --------------------------------------------------
        if "moment_filt" in tables:
            kinetic = kin_info["moment_sides"]
            if forces is not None and set(grf_sides) != set(kinetic):
                notes.append(f"sides with GRF ({','.join(grf_sides) or 'none'}) differ from sides with "
                             f"joint moments ({','.join(kinetic) or 'none'})")
        else:
            kinetic = grf_sides
        if not kinetic:
            notes.append("no kinetics on either side (all moments/GRF NaN)")
        elif len(kinetic) == 1:
            other = "R" if kinetic[0] == "L" else "L"
            notes.append(f"kinetics on {kinetic[0]} only ({other} belt and {other} moments all NaN, kept as NaN)")

        # ---- direction check --------------------------------------------------
        if self.opts["direction_check"] != "off":
            if "angle" in tables and forces is not None:
                self._direction_check(kinematics, forces, kinetic or grf_sides, direction, notes, loc,
                                      rel["angle"])
            else:
                notes.append("direction check skipped (needs the angle and grf files)")

        # ---- sign checks on the data (docs/methods.md §0.4) -------------------------
        stances = _stances(forces, grf_sides) if forces is not None else {}
        if "moment_filt" in tables and kinematics is not None:
            info["knee_moment"] = self._knee_moment_check(kinematics, stances, kinetic, direction, kin_info,
                                                          checks, notes, loc, rel["moment_filt"])
        if "angle" in tables and kinematics is not None:
            info["ankle"] = self._ankle_check(kinematics, stances, direction, checks, notes, loc, rel["angle"])
            self._hip_check(kinematics, stances, kinetic, direction, checks, loc,
                            rel["angle"], rel.get("moment_filt", ""))

        notes.append("GT23 processed files have no frontal-plane knee moment and no marker trajectories: "
                     "KAM not available")
        if emg is not None:
            notes.append(f"EMG unit assumed {self.opts['emg_unit']} (option emg_unit, the real GT23 EMG "
                         f"unit is unknown)")
        if forces is not None:
            notes.append("GRF frame: canonical (x, y, z) = (GT23 X, -GT23 Z, GT23 Y) with GT23 horizontal "
                         "axes assumed X = antero-posterior, Z = lateral (uncertain), no free moment in the file")
        notes.append("no stored gait events in GT23 processed files")
        notes += list(body.notes)

        files = [rel[ft] for ft in file_types]
        notes = _unique(notes)
        corrections = [n for n in notes if isinstance(n, _Correction)]
        meta = TrialMeta(
            dataset=self.spec.id, subject=subject, trial=trial,
            condition=f"{direction}_{speed_label}", direction=direction, speed_mps=speed,
            surface="treadmill", mass_kg=body.mass_kg, height_m=body.height_m, mass_source=body.source,
            source_files=";".join(files), source_sha256=";".join(sha256_file(paths[ft]) for ft in file_types),
            adapter=self.name, kinetic_sides=",".join(kinetic),
            notes="; ".join(_unique(n for n in notes if not isinstance(n, _Correction))),
            corrections=" | ".join(_unique(corrections)))
        trial_obj = Trial(meta=meta, kinematics=kinematics, forces=forces, emg=emg, plates=plates,
                          checks=checks_frame(checks))
        return trial_obj, info

    # -- files ------------------------------------------------------------------
    def _locate(self, subject: str, trial: str, suffix: str, raw_dir: Path, bases: Sequence[Path],
                loc: Mapping[str, str]) -> Path:
        name = f"{subject}_{trial}_{suffix}.csv"
        expected = f"{subject}/{trial}/{name}"
        for base in bases:
            p = base / expected
            if p.is_file():
                return p
        folders = [base / subject / trial for base in bases if (base / subject / trial).is_dir()]
        if not folders:
            raise DataError(f"trial folder {subject}/{trial}/ not found under {raw_dir} (run the fetch step, "
                            f"or remove the trial from the options)", **loc, file=expected)
        for folder in folders:
            for other in sorted(folder.glob(f"*_{suffix}.csv")):
                m = re.match(r"^(AB\d{2})_(.+)_" + re.escape(suffix) + r"\.csv$", other.name)
                if m and (m.group(1) != subject or m.group(2) != trial) and TRIAL_PATTERN.match(m.group(2)):
                    raise DataError(f"contradictory labels: {other.relative_to(raw_dir).as_posix()} names "
                                    f"subject {m.group(1)} / trial {m.group(2)} but sits in folder "
                                    f"{subject}/{trial}/", **loc, file=expected)
        raise DataError(f"file not found: {expected} (run the fetch step first)", **loc, file=expected)

    # -- kinematics ---------------------------------------------------------------
    def _kinematics(self, tables: dict[str, _Table], body: _Body, notes: list[str], checks: list[dict],
                    loc: Mapping[str, str]) -> tuple[Stream | None, dict[str, Any]]:
        info: dict[str, Any] = {"moment_sides": [], "flipped": set(), "angle_relpath": ""}
        if not tables:
            return None, info
        first = next(iter(tables.values()))
        rate = first.rate
        for t in tables.values():
            if abs(t.rate - rate) > 0.005 * rate:
                raise DataError(f"sampling rates differ: {first.relpath} {first.rate:g} Hz, "
                                f"{t.relpath} {t.rate:g} Hz", **loc, file=t.relpath)
        if abs(rate - 200.0) > 2.0:
            notes.append(f"kinematics rate {rate:g} Hz (GT23 processed files are expected at 200 Hz)")
        lo = min(int(t.keys[0]) for t in tables.values())
        hi = max(int(t.keys[-1]) for t in tables.values())
        full = np.arange(lo, hi + 1)
        counts = {t.relpath.rsplit("/", 1)[-1]: len(t.keys) for t in tables.values()}
        if len(set(counts.values())) > 1:
            notes.append("row counts differ (" + ", ".join(f"{k}: {v}" for k, v in counts.items())
                         + "), samples missing from a file are NaN")

        def col(table: str, name: str) -> np.ndarray:
            t = tables[table]
            out = np.full(len(full), np.nan)
            out[t.keys - lo] = t.frame[name].to_numpy(dtype=float)
            return out

        cols: dict[str, np.ndarray] = {"time_s": full / rate}
        units: dict[str, str] = {}
        if "angle" in tables:
            relpath = tables["angle"].relpath
            flex = {s: -col("angle", f"knee_angle_{s.lower()}") for s in SIDES}
            sign_notes, flipped = _check_knee_sign(flex, relpath, loc)
            notes += sign_notes
            info["flipped"], info["angle_relpath"] = flipped, relpath
            if not sign_notes:
                notes.append("knee_flexion = -knee_angle (GT23 knee angle is extension-positive)")
            for s in SIDES:
                col_name = f"knee_angle_{s.lower()}"
                if s in flipped:
                    checks.append(check_row(
                        "knee_angle_convention", "corrected", expected="extension-positive (GT23 documented)",
                        detail=f"{relpath}: {col_name} is flexion-positive (its swing peak is positive), so it is "
                               f"used as flexion without negation, and {col_name}_moment is negated with it: a "
                               "flexion-positive coordinate has a flexor-positive generalised force"))
                elif np.isfinite(flex[s]).sum() >= 10:
                    checks.append(check_row(
                        "knee_angle_convention", "passed", expected="extension-positive (GT23 documented)",
                        detail=f"{relpath}: {col_name} is extension-positive (swing flexion negative): flexion = "
                               f"-{col_name}; {col_name}_moment is read as extensor-positive"))
            for s in SIDES:
                cols[f"{s}_knee_flexion"] = flex[s]
                units[f"{s}_knee_flexion"] = "deg"
                if f"ankle_angle_{s.lower()}" in tables["angle"].frame.columns:
                    # OpenSim ankle_angle: dorsiflexion positive (gt23-format.md 3.1)
                    cols[f"{s}_ankle_dorsiflexion"] = col("angle", f"ankle_angle_{s.lower()}")
                    units[f"{s}_ankle_dorsiflexion"] = "deg"
                if f"hip_flexion_{s.lower()}" in tables["angle"].frame.columns:
                    # OpenSim hip_flexion: flexion positive (gt23-format.md 3.1); checked on FW trials
                    # (flexed at foot strike, extended at foot off: _hip_check)
                    cols[f"{s}_hip_flexion"] = col("angle", f"hip_flexion_{s.lower()}")
                    units[f"{s}_hip_flexion"] = "deg"
        if "moment_filt" in tables:
            relpath = tables["moment_filt"].relpath
            knee = {s: col("moment_filt", f"knee_angle_{s.lower()}_moment") for s in SIDES}
            ankle = {s: col("moment_filt", f"ankle_angle_{s.lower()}_moment") for s in SIDES}
            sides = [s for s in SIDES if np.isfinite(knee[s]).any()]
            for s in sides:
                frac = float(np.isfinite(knee[s]).mean())
                if frac < 0.95:
                    notes.append(f"{s} joint moments defined in {100 * frac:.0f} % of samples")
            info["moment_sides"] = sides
            factor = _check_moment_units(ankle, sides, body.mass_kg, relpath, loc, notes)
            for s in SIDES:
                # the moment's sign follows the angle's convention (docs/methods.md §0.4)
                sign = -1.0 if s in info["flipped"] else 1.0
                if sign < 0 and s in sides:
                    notes.append(f"knee_angle_{s.lower()}_moment negated with its flexion-positive angle "
                                 "(flexor-positive in the file)")
                cols[f"{s}_knee_extensor_moment"] = sign * knee[s] * factor
                units[f"{s}_knee_extensor_moment"] = "N.m/kg"
                if f"hip_flexion_{s.lower()}_moment" in tables["moment_filt"].frame.columns:
                    # the generalised force of the flexion-positive hip_flexion coordinate is flexor-positive:
                    # the canonical internal extensor moment is its negative (checked: _hip_check)
                    cols[f"{s}_hip_extensor_moment"] = -col("moment_filt", f"hip_flexion_{s.lower()}_moment") * factor
                    units[f"{s}_hip_extensor_moment"] = "N.m/kg"
        if "activity_flag" in tables:
            for s, name in (("L", "left"), ("R", "right")):
                flag = col("activity_flag", name)
                cols[f"{s}_activity_flag"] = flag
                units[f"{s}_activity_flag"] = "1"
                inactive = int(np.sum(flag == 0))
                n_flag = int(np.isfinite(flag).sum())
                relpath = tables["activity_flag"].relpath
                if inactive:
                    notes.append(f"{name} activity flag is 0 in {inactive} of {len(flag)} samples (kept; the "
                                 f"cycles stage excludes the {s} cycles that overlap them)")
                    checks.append(check_row(
                        "activity_flag", "warning", value=100.0 * inactive / max(n_flag, 1), unit="%",
                        expected="1 throughout a cyclic walking window",
                        detail=f"{relpath}: column {name} is 0 in {inactive} of {n_flag} samples"
                               + (" (every sample: no cycle of this leg is usable)" if inactive == n_flag else "")
                               + f"; {s} cycles overlapping them are excluded in the cycles stage with a reason"))
                else:
                    checks.append(check_row("activity_flag", "passed", value=0.0, unit="%",
                                            expected="1 throughout a cyclic walking window",
                                            detail=f"{relpath}: column {name} is 1 in every sample"))
        if len(full) < 2:
            raise DataError("fewer than two samples in the 200-Hz files", **loc, file=first.relpath)
        return Stream(rate, pd.DataFrame(cols), units), info

    # -- forces --------------------------------------------------------------------
    def _forces(self, grf: _Table, body: _Body, notes: list[str],
                loc: Mapping[str, str]) -> tuple[Stream, list[str], bool]:
        """Belt forces in the canonical frame, the sides with data, and whether they were rescaled."""
        f = grf.frame
        n = len(grf.keys)
        lo = int(grf.keys[0])
        full = np.arange(lo, int(grf.keys[-1]) + 1)

        def get(name: str) -> np.ndarray:
            out = np.full(len(full), np.nan)
            if name in f.columns:
                out[grf.keys - lo] = f[name].to_numpy(dtype=float)
            return out

        if len(full) != n:
            notes.append(f"{len(full) - n} missing samples in {grf.relpath} set to NaN")
        cols: dict[str, np.ndarray] = {"time_s": full / grf.rate}
        units: dict[str, str] = {}
        sides = []
        n_notes = len(notes)
        for s in SIDES:
            fx, fy, fz = get(f"{s}ForceX"), get(f"{s}ForceY_Vertical"), get(f"{s}ForceZ")
            cx, cy, cz = get(f"{s}COPX"), get(f"{s}COPY_Vertical"), get(f"{s}COPZ")
            if np.isfinite(fy).any():
                sides.append(s)
                fx, fy, fz = _check_vertical_force(fx, fy, fz, s, body.mass_kg, grf.relpath, loc, notes)
                cx, cy, cz = _check_cop_units(cx, cy, cz, s, grf.relpath, notes)
                missing = [c for c in (f"{s}COPX", f"{s}COPY_Vertical", f"{s}COPZ") if c not in f.columns]
                if missing:
                    notes.append(f"{grf.relpath}: COP column(s) {missing} absent (NaN)")
            # GT23 (X fwd, Y up, Z lateral) -> canonical right-handed, z up: (X, -Z, Y)
            for key, values, unit in (("fx", fx, "N"), ("fy", -fz, "N"), ("fz", fy, "N"),
                                      ("cop_x", cx, "m"), ("cop_y", -cz, "m"), ("cop_z", cy, "m")):
                cols[f"{s}_{key}"] = values
                units[f"{s}_{key}"] = unit
        scaled = any("GRF units corrected" in n for n in notes[n_notes:])
        return Stream(grf.rate, pd.DataFrame(cols), units), sides, scaled

    # -- EMG --------------------------------------------------------------------------
    def _emg(self, path: Path, relpath: str, notes: list[str], loc: Mapping[str, str]) -> Stream:
        table = _read_table(path, relpath, [], loc, optional=list(EMG_CHANNELS), emg=True)
        notes += table.notes
        present = [c for c in EMG_CHANNELS if c in table.frame.columns]
        if not present:
            raise DataError(f"{relpath}: none of the 16 EMG channels {list(EMG_CHANNELS)} found; "
                            f"columns present: {list(table.frame.columns)}", **loc, file=relpath)
        missing = [c for c in EMG_CHANNELS if c not in present]
        if missing:
            notes.append(f"EMG channels missing from {relpath}: {', '.join(missing)}")
        rate = table.rate
        if rate < 500.0:
            # not raw EMG any more (one report says GT23 EMG was downsampled to 200 Hz); keep it: the cycles
            # stage uses channels that hold envelopes and excludes raw ones this rate cannot band-pass, with a reason
            notes.append(f"EMG rate {rate:g} Hz from time in {relpath}: too low for raw surface EMG "
                         f"(expected 1000-2000 Hz); channels holding envelopes are used, raw ones are excluded in QC")
        elif min(abs(rate - 1000.0), abs(rate - 2000.0)) > 0.01 * rate:
            notes.append(f"EMG rate {rate:g} Hz from time (expected 1000 or 2000 Hz)")
        factor = conversion_to_si(self.opts["emg_unit"]).factor
        cols: dict[str, np.ndarray] = {"time_s": table.keys / rate}
        units: dict[str, str] = {}
        empty, flat = [], []
        for ch in present:
            side, muscle = EMG_CHANNELS[ch]
            x = table.frame[ch].to_numpy(dtype=float) * factor
            finite = x[np.isfinite(x)]
            if finite.size == 0:
                empty.append(ch)
            elif np.ptp(finite) == 0:
                flat.append(ch)
            cols[f"{side}_{muscle}"] = x
            units[f"{side}_{muscle}"] = "V"
        if empty:
            notes.append(f"EMG channels all NaN: {', '.join(empty)}")
        if flat:
            notes.append(f"EMG channels constant: {', '.join(flat)}")
        allv = np.concatenate([cols[k][np.isfinite(cols[k])] for k in units]) if units else np.array([])
        if allv.size:
            p99 = float(np.percentile(np.abs(allv), 99))
            if p99 > 0.05:
                notes.append(f"EMG 99th percentile |x| = {p99:.3g} V looks too large for raw surface EMG in V "
                             f"(unit mV? set emg_unit)")
            elif 0 < p99 < 1e-7:
                notes.append(f"EMG 99th percentile |x| = {p99:.3g} V looks too small (unit?)")
        return Stream(rate, pd.DataFrame(cols), units)

    # -- checks of sign and alignment on the data (docs/methods.md §0.4) ---------------------
    def _emg_time_base(self, emg: Stream, kin: Stream, relpath: str, loc: Mapping[str, str]) -> dict:
        """The EMG file must cover the 200-Hz files' time span: same start and end within the tolerance."""
        tol = float(self.opts["emg_time_tolerance_s"])
        k0, k1 = float(kin.time[0]), float(kin.time[-1])
        e0, e1 = float(emg.time[0]), float(emg.time[-1])
        start, end = e0 - k0, e1 - k1
        overlap = max(0.0, min(k1, e1) - max(k0, e0))
        coverage = overlap / (k1 - k0) if k1 > k0 else math.nan
        text = (f"EMG {e0:.4f}-{e1:.4f} s, 200-Hz files {k0:.4f}-{k1:.4f} s: start offset {start:+.4f} s, end "
                f"offset {end:+.4f} s, EMG covers {100 * coverage:.1f} % of the 200-Hz span")
        if abs(start) > tol or abs(end) > tol:
            raise DataError(
                f"{relpath}: EMG time base does not match the 200-Hz files: {text}. GT23's files of one trial "
                f"share the raw trial's time base and window; an offset means the EMG is misaligned (or in "
                f"another time base) and its envelopes would be cut at the wrong gait phase. Tolerance "
                f"{tol:g} s (dataset_options.{self.spec.id}.emg_time_tolerance_s)", **loc, file=relpath)
        return check_row("emg_time_base", "passed", value=start, unit="s",
                         expected=f"|offset| <= {tol:g} s at both ends", detail=f"{relpath}: {text}")

    def _knee_moment_check(self, kin: Stream, stances: Mapping[str, list], kinetic: Sequence[str], direction: str,
                           kin_info: Mapping[str, Any], checks: list[dict], notes: list[str],
                           loc: Mapping[str, str], relpath: str) -> str:
        """K1: in FW loading response the knee absorbs energy; stop when the moment's sign says otherwise."""
        expected = "< 0 J/kg in the FW loading response (K1 absorption, Winter 1991)"
        sides = [s for s in kinetic if stances.get(s)]
        if direction != "FW":
            checks.append(check_row("knee_moment_sign", "not checked", unit="J/kg", expected=expected,
                                    detail="K1 absorption is a forward-walking pattern; the BW moment sign "
                                           "follows the angle convention (see the subject's FW trials)"))
            return "not applicable"
        if not sides:
            checks.append(check_row("knee_moment_sign", "not checked", unit="J/kg", expected=expected,
                                    detail="no complete stance with knee moments"))
            return "not checked"
        work = np.concatenate([loading_response_knee_work(kin.time, kin.get(f"{s}_knee_flexion"),
                                                          kin.get(f"{s}_knee_extensor_moment"), stances[s])
                               for s in sides])
        result = sign_verdict(work, expected=-1, margin=_K1_MARGIN_J_PER_KG)
        flipped = [s for s in sides if s in kin_info["flipped"]]
        conv = ("flexion-positive (corrected), so its moment was negated" if flipped else
                "extension-positive, so its moment is read as extensor-positive")
        what = (f"loading-response knee work (foot strike to the first knee-flexion peak, power "
                f"-M_ext*dtheta/dt) {result.describe('J/kg')}")
        if result.verdict == "contradicted":
            raise DataError(
                f"{relpath}: knee moment sign contradicts the knee angle convention. Check 1 (angle convention): "
                f"knee_angle_{sides[0].lower()} in {kin_info['angle_relpath']} is {conv}. Check 2 (physics): in "
                f"the loading response of forward walking the knee flexes under an internal extensor moment, so "
                f"knee power is negative there (K1 energy absorption; Winter 1991); with the moment read as above "
                f"the {what}, i.e. the knee would generate energy. The file's moment sign convention differs from "
                f"its angle's, or the files are mislabelled; the run stops instead of guessing "
                f"(docs/methods.md §0.4)", **loc, file=relpath, column=f"knee_angle_{sides[0].lower()}_moment")
        if result.verdict == "confirmed":
            checks.append(check_row("knee_moment_sign", "passed", value=result.median, unit="J/kg",
                                    expected=expected, detail=f"{what}: agrees with the angle convention ({conv})"))
        else:
            msg = f"knee moment sign not confirmed by physics: {what} (inconclusive)"
            notes.append(msg)
            log.warning("%s %s %s: %s", loc["dataset"], loc["subject"], loc["trial"], msg)
            checks.append(check_row("knee_moment_sign", "warning", value=result.median, unit="J/kg",
                                    expected=expected, detail=f"{what}: inconclusive; the angle convention "
                                                              f"({conv}) is used"))
        return result.verdict

    def _ankle_check(self, kin: Stream, stances: Mapping[str, list], direction: str, checks: list[dict],
                     notes: list[str], loc: Mapping[str, str], relpath: str) -> str:
        """FW push-off: the ankle plantarflexes over the last quarter of stance; a rising angle is flipped."""
        expected = "< 0 deg over the last 25 % of FW stance (push-off plantarflexion)"
        cols = [c for c in kin.frame.columns if c.endswith("_ankle_dorsiflexion")]
        if not cols:
            return "not checked"
        if direction != "FW":
            checks.append(check_row("ankle_angle_sign", "not checked", unit="deg", expected=expected,
                                    detail="push-off plantarflexion is a forward-walking pattern (see the "
                                           "subject's FW trials)"))
            return "not applicable"
        sides = [s for s in SIDES if stances.get(s) and f"{s}_ankle_dorsiflexion" in kin.frame.columns]
        if not sides:
            checks.append(check_row("ankle_angle_sign", "not checked", unit="deg", expected=expected,
                                    detail="no complete stance"))
            return "not checked"
        change = np.concatenate([ankle_pushoff_change(kin.time, kin.get(f"{s}_ankle_dorsiflexion"), stances[s])
                                 for s in sides])
        result = sign_verdict(change, expected=-1, margin=_ANKLE_MARGIN_DEG)
        what = f"ankle angle change over the last 25 % of stance {result.describe('deg')}"
        if result.verdict == "confirmed":
            checks.append(check_row("ankle_angle_sign", "passed", value=result.median, unit="deg",
                                    expected=expected, detail=f"{relpath}: {what}: ankle_angle is "
                                                              "dorsiflexion-positive as documented"))
        elif result.verdict == "contradicted":
            _negate(kin, cols)
            msg = (f"ankle sign corrected: {what} in {relpath}, i.e. ankle_angle is plantarflexion-positive, not "
                   f"dorsiflexion-positive as documented: negated")
            notes.append(msg)
            log.warning("%s %s %s: %s", loc["dataset"], loc["subject"], loc["trial"], msg)
            checks.append(check_row("ankle_angle_sign", "corrected", value=result.median, unit="deg",
                                    expected=expected, detail=f"{relpath}: {what}: plantarflexion-positive, "
                                                              "negated (and in the subject's BW trials)"))
        else:
            msg = f"ankle sign not confirmed: {what} (inconclusive)"
            notes.append(msg)
            log.warning("%s %s %s: %s", loc["dataset"], loc["subject"], loc["trial"], msg)
            checks.append(check_row("ankle_angle_sign", "warning", value=result.median, unit="deg",
                                    expected=expected, detail=f"{relpath}: {what}: inconclusive, used as "
                                                              "documented (dorsiflexion positive)"))
        return result.verdict

    def _hip_check(self, kin: Stream, stances: Mapping[str, list], kinetic: Sequence[str], direction: str,
                   checks: list[dict], loc: Mapping[str, str], angle_relpath: str, moment_relpath: str) -> None:
        """FW: the hip is flexed at foot strike and extended at foot off, under an early-stance extensor moment.

        Two checks on forward-walking trials (docs/methods.md §0.4), each stopping the run when the data
        contradict the documented convention (hip flexion positive; generalised force flexor-positive,
        negated into the canonical extensor moment): (1) hip flexion at foot strike minus at foot off > 0
        (about +40 deg in adult walking: +30 at contact, -10 at toe-off; Winter 2009 ch. 5); (2) the mean
        internal hip extensor moment over the first 20 % of stance > 0 (the hip extensors hold the trunk
        in the loading response, H1 of Winter 1991). Not checkable in BW (noted as such).
        """
        cols = [f"{s}_hip_flexion" for s in SIDES if kin.has(f"{s}_hip_flexion")]
        if not cols:
            return
        exp_angle = "> 0 deg: hip flexion at FW foot strike minus at foot off (flexed at contact, extended at toe-off)"
        exp_moment = "> 0 N.m/kg: mean internal hip extensor moment over the first 20 % of FW stance (H1)"
        have_moment = [s for s in kinetic if kin.has(f"{s}_hip_extensor_moment")]
        if direction != "FW":
            checks.append(check_row("hip_angle_sign", "not checked", unit="deg", expected=exp_angle,
                                    detail="a forward-walking pattern; the BW files share the subject's convention"))
            if have_moment:
                checks.append(check_row("hip_moment_sign", "not checked", unit="N.m/kg", expected=exp_moment,
                                        detail="a forward-walking pattern; the BW files share the subject's "
                                               "convention"))
            return
        change, early = [], []
        for s in SIDES:
            if not stances.get(s) or not kin.has(f"{s}_hip_flexion"):
                continue
            t, hip = kin.time, kin.get(f"{s}_hip_flexion")
            ext = kin.get(f"{s}_hip_extensor_moment") if s in have_moment else None
            for fs, fo in stances[s]:
                if fs < t[0] or fo > t[-1]:
                    continue
                change.append(float(np.interp(fs, t, hip) - np.interp(fo, t, hip)))
                if ext is not None:
                    sel = (t >= fs) & (t <= fs + 0.2 * (fo - fs))
                    early.append(float(np.mean(ext[sel])) if sel.sum() >= 3 else math.nan)
        for name, values, margin, unit, expected, relpath, column in (
                ("hip_angle_sign", change, _HIP_MARGIN_DEG, "deg", exp_angle, angle_relpath, "hip_flexion"),
                ("hip_moment_sign", early, _HIP_MOMENT_MARGIN, "N.m/kg", exp_moment, moment_relpath,
                 "hip_flexion_moment")):
            if name == "hip_moment_sign" and not have_moment:
                continue
            result = sign_verdict(values, expected=1, margin=margin)
            what = f"{relpath}: {result.describe(unit)}"
            if result.verdict == "contradicted":
                raise DataError(
                    f"{relpath}: {name.replace('_', ' ')} contradicts the documented convention: {what}; expected "
                    f"{expected}. The file's hip {'angle' if unit == 'deg' else 'moment'} sign differs from the "
                    f"OpenSim convention the adapter assumes; the run stops instead of guessing "
                    f"(docs/methods.md §0.4)", **loc, file=relpath, column=column)
            status = "passed" if result.verdict == "confirmed" else "warning"
            if status == "warning":
                log.warning("%s %s %s: %s not confirmed: %s", loc["dataset"], loc["subject"], loc["trial"], name,
                            what)
            checks.append(check_row(name, status, value=result.median, unit=unit, expected=expected,
                                    detail=what + ("" if status == "passed" else " (inconclusive; used as documented)")))

    def _subject_conventions(self, subject: str, parts: list[tuple[Trial, dict[str, Any]]]) -> list[Trial]:
        """Carry the FW sign verdicts over to the subject's BW trials (same files, same model)."""
        fw = [(t, i) for t, i in parts if i["direction"] == "FW"]
        ankle = {t.meta.trial: i.get("ankle") for t, i in fw if i.get("ankle") in ("confirmed", "contradicted")}
        if len(set(ankle.values())) > 1:
            raise DataError("ankle angle sign differs between the subject's forward trials ("
                            + ", ".join(f"{t}: {'dorsiflexion' if v == 'confirmed' else 'plantarflexion'}-positive"
                                        for t, v in ankle.items())
                            + "); one subject's files should share one convention (docs/methods.md §0.4)",
                            dataset=self.spec.id, subject=subject)
        ankle_verdict = next(iter(ankle.values()), None)
        knee_ok = [t.meta.trial for t, i in fw if i.get("knee_moment") == "confirmed"]
        out = []
        for trial, info in parts:
            if info["direction"] != "BW":
                out.append(trial)
                continue
            rows = trial.checks.to_dict("records")
            extra_notes = []
            for row in rows:
                if row["check"] == "ankle_angle_sign" and row["status"] == "not checked":
                    cols = [c for c in trial.kinematics.frame.columns if c.endswith("_ankle_dorsiflexion")]
                    if ankle_verdict == "contradicted":
                        _negate(trial.kinematics, cols)
                        row.update(status="corrected",
                                   detail=f"not checkable in BW; the subject's FW trials ({', '.join(ankle)}) show a "
                                          "plantarflexion-positive ankle_angle: negated here too")
                        extra_notes.append("ankle sign corrected as in the subject's FW trials")
                    elif ankle_verdict == "confirmed":
                        row.update(status="passed",
                                   detail=f"not checkable in BW; the subject's FW trials ({', '.join(ankle)}) confirm "
                                          "dorsiflexion-positive ankle_angle")
                    else:
                        row.update(status="warning", detail="not checkable in BW and no FW trial of the subject "
                                                            "confirms the ankle sign")
                if row["check"] == "knee_moment_sign" and row["status"] == "not checked" and \
                        row["detail"].startswith("K1 absorption"):
                    if knee_ok:
                        row.update(status="passed",
                                   detail=f"not checkable in BW (K1 is a forward-walking pattern); the moment sign "
                                          f"follows the angle convention, which K1 confirms in the subject's FW "
                                          f"trials ({', '.join(knee_ok)})")
                    else:
                        row.update(status="warning",
                                   detail="not checkable in BW and no FW trial of the subject confirms the knee "
                                          "moment sign by physics; the angle convention is used")
            trial.checks = checks_frame(rows)
            if extra_notes:
                trial.meta = dataclasses.replace(trial.meta, notes="; ".join(
                    _unique([*trial.meta.notes.split("; "), *extra_notes])))
            out.append(trial)
        return out

    # -- direction -------------------------------------------------------------------
    def _direction_check(self, kin: Stream, forces: Stream, sides: Sequence[str], direction: str,
                         notes: list[str], loc: Mapping[str, str], relpath: str) -> None:
        """FW: the knee flexes over the first 15 % of stance; BW (toe-first): it extends."""
        deltas = []
        for s in sides:
            col = f"{s}_knee_flexion"
            if col not in kin.frame.columns or f"{s}_fz" not in forces.frame.columns:
                continue
            deltas += _early_stance_knee_change(forces.time, forces.get(f"{s}_fz"), forces.rate_hz,
                                                kin.time, kin.get(col))
        if len(deltas) < 2:
            notes.append("direction check skipped (fewer than 2 complete stances)")
            return
        d = float(np.median(deltas))
        expected = 1.0 if direction == "FW" else -1.0
        if d * expected >= 0:
            return
        msg = (f"knee flexion changes by {d:+.1f} deg over the first 15 % of stance (median of {len(deltas)} "
               f"stances) but the trial is labelled {direction}: FW should flex after foot strike, BW "
               f"(toe-first) should extend")
        if abs(d) > _DIRECTION_MARGIN_DEG and self.opts["direction_check"] == "error":
            raise DataError(f"contradictory direction label: {msg}. Set dataset_options.{self.spec.id}."
                            f"direction_check: warn to accept it", **loc, file=relpath)
        notes.append(f"direction check: {msg}")
        log.warning("%s %s %s: %s", loc["dataset"], loc["subject"], loc["trial"], msg)


# ---------------------------------------------------------------------------
# Helpers (module level so tests can call them)
# ---------------------------------------------------------------------------

def _friendly_option_errors(given: Mapping[str, Any], source: str) -> None:
    subjects = given.get("subjects")
    if isinstance(subjects, list):
        bad = [s for s in subjects if s not in SUBJECTS]
        if bad:
            raise ConfigError(f"{source}: 'subjects': unknown GT23 subject(s) {bad}; GT23 has {', '.join(SUBJECTS)} "
                              f"(AB04 was excluded from the dataset)")
    trials = given.get("trials")
    if isinstance(trials, list):
        bad = [t for t in trials if not (isinstance(t, str) and TRIAL_PATTERN.match(t))]
        if bad:
            raise ConfigError(f"{source}: 'trials': {bad} do not match the GT23 walking trial pattern "
                              f"<normal_walk|walk_backward>_<repetition>_<X>-<Y> (X.Y m/s), e.g. "
                              f"normal_walk_1_0-6 or walk_backward_1_1-0")
    ftypes = given.get("file_types")
    if isinstance(ftypes, list):
        bad = [t for t in ftypes if t not in FILE_TYPES]
        if bad:
            raise ConfigError(f"{source}: 'file_types': unknown file type(s) {bad}; the gt23 adapter reads "
                              f"{', '.join(FILE_TYPES)}")
    unit = given.get("emg_unit")
    if unit is not None and unit not in _EMG_UNITS:
        raise ConfigError(f"{source}: 'emg_unit': {unit!r} is not one of {sorted(_EMG_UNITS)}")


class _Correction(str):
    """A note that records an automatic correction of the data (e.g. a sign flipped, rows dropped).

    Corrections go to ``TrialMeta.corrections`` (not ``notes``); the ingest
    stage logs each as a warning (console) and the report lists them in its
    QC section.
    """


def _unique(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if x and not (x in seen or seen.add(x))]


def _subject_bases(raw_dir: Path, subject: str) -> list[Path]:
    """Folders holding ``<subject>/``: ``raw_dir`` itself, then its sub-folders (e.g. ProcessedData/)."""
    bases = []
    if (raw_dir / subject).is_dir():
        bases.append(raw_dir)
    if raw_dir.is_dir():
        for sub in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
            if (sub / subject).is_dir() and not re.fullmatch(r"AB\d{2}", sub.name):
                bases.append(sub)
    return bases


def _find_masses_file(raw_dir: Path) -> Path | None:
    if not raw_dir.is_dir():
        return None
    candidates = [p for p in raw_dir.iterdir() if p.is_file() and p.name.lower() == _MASSES_FILE]
    if not candidates:
        for sub in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
            candidates += [p for p in sub.iterdir() if p.is_file() and p.name.lower() == _MASSES_FILE]
    return sorted(candidates)[0] if candidates else None


def read_masses_file(path: str | os.PathLike, *, relpath: str | None = None,
                     dataset: str = "gt23") -> dict[str, tuple[float, float, str]]:
    """Read a ``Subject_masses.csv`` of unknown header: ``{subject: (mass_kg, height_m, note)}``.

    The subject column is the first column whose values look like ``AB01``;
    the mass column is the one whose header mentions mass, weight or kg (else
    the first other numeric column). A header mentioning ``lb`` converts
    pounds to kg. A header mentioning height gives heights (cm or mm are
    converted to m). The header row itself is optional.
    """
    path = Path(path)
    relpath = relpath or path.name
    loc = dict(dataset=dataset, file=relpath)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {relpath}: {exc}", **loc) from None
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
        rows = [r for r in csv.reader(text.splitlines(), dialect) if any(c.strip() for c in r)]
    except csv.Error:
        rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{relpath} is empty", **loc)
    subj_re = re.compile(r"AB\d{2}", re.IGNORECASE)
    has_header = not any(subj_re.search(c or "") for c in rows[0])
    header = [c.strip() for c in rows[0]] if has_header else []
    data = rows[1:] if has_header else rows
    width = max(len(r) for r in data) if data else 0
    if not data or width < 2:
        raise DataError(f"{relpath}: expected a subject column and a mass column", **loc)
    data = [r + [""] * (width - len(r)) for r in data]
    header = header + [""] * (width - len(header))

    def matches(j: int) -> int:
        return sum(bool(subj_re.search(r[j])) for r in data)

    subj_col = next((j for j in range(width) if matches(j) >= max(1, len(data) // 2)), None)
    if subj_col is None:
        raise DataError(f"{relpath}: no column of subject ids like AB01", **loc)

    def numeric(j: int) -> list[float] | None:
        out = []
        for r in data:
            cell = r[j].strip()
            if not cell:
                out.append(math.nan)
                continue
            try:
                out.append(float(cell))
            except ValueError:
                return None
        return out if any(math.isfinite(v) for v in out) else None

    others = [j for j in range(width) if j != subj_col]
    named = [j for j in others if re.search(r"mass|weight|kg|lb", header[j], re.IGNORECASE)
             and not re.search(r"height", header[j], re.IGNORECASE)]
    mass_col = next((j for j in named + others if numeric(j) is not None), None)
    if mass_col is None:
        raise DataError(f"{relpath}: no numeric mass column (header {header})", **loc)
    masses = numeric(mass_col) or []
    note = ""
    if re.search(r"lb", header[mass_col], re.IGNORECASE):
        masses = [m * 0.45359237 for m in masses]
        note = _Correction(f"{relpath}: masses converted from lb to kg (header {header[mass_col]!r})")
    height_col = next((j for j in others if re.search(r"height", header[j], re.IGNORECASE)), None)
    heights = (numeric(height_col) if height_col is not None else None) or [math.nan] * len(data)
    out: dict[str, tuple[float, float, str]] = {}
    for r, m, h in zip(data, masses, heights):
        sid = subj_re.search(r[subj_col])
        if not sid:
            continue
        subject = sid.group(0).upper()
        if subject in out:
            raise DataError(f"{relpath}: subject {subject} listed twice", **loc)
        if not (math.isfinite(m) and _MASS_RANGE[0] <= m <= _MASS_RANGE[1]):
            raise DataError(f"{relpath}: mass {m!r} of {subject} is not a body mass in kg "
                            f"(column {header[mass_col] or mass_col + 1})", **loc, subject=subject)
        if math.isfinite(h):
            h = h / 100.0 if 100 <= h <= 250 else (h / 1000.0 if h >= 1000 else h)
            if not 1.0 <= h <= 2.5:
                h = math.nan
        out[subject] = (float(m), float(h), note)
    return out


def _read_header(path: Path, relpath: str, loc: Mapping[str, str]) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise DataError(f"{relpath} is not UTF-8 text: {exc}", **loc, file=relpath) from None
    if not first.strip():
        raise DataError(f"{relpath} is empty or has no header row", **loc, file=relpath)
    return [c.strip() for c in next(csv.reader([first]))]


def _read_table(path: Path, relpath: str, required: Sequence[str], loc: Mapping[str, str], *,
                optional: Sequence[str] = (), emg: bool = False) -> _Table:
    """Read the named columns of a GT23 CSV and check its time base."""
    header = _read_header(path, relpath, loc)
    wanted = ["time", *required, *optional]
    missing = [c for c in ["time", *required] if c not in header]
    if missing:
        raise DataError(f"{relpath}: required column(s) {missing} not found; columns present: {header}",
                        **loc, file=relpath, column=",".join(missing))
    dupes = sorted({c for c in header if c in wanted and header.count(c) > 1})
    if dupes:
        raise DataError(f"{relpath}: column(s) {dupes} appear more than once", **loc, file=relpath)
    use = [c for c in wanted if c in header]
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", usecols=lambda c: str(c).strip() in use,
                            skipinitialspace=True)
    except Exception as exc:  # pandas parser errors have several types
        raise DataError(f"cannot parse {relpath}: {exc}", **loc, file=relpath) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"{relpath} has a header but no data rows", **loc, file=relpath)
    for c in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[c].dtype):
            coerced = pd.to_numeric(frame[c], errors="coerce")
            bad = frame[c].notna() & coerced.isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"{relpath}: non-numeric value {frame[c].iloc[i]!r} in column {c} "
                                f"(data row {i + 1})", **loc, file=relpath, column=c)
            frame[c] = coerced
        frame[c] = frame[c].astype(float)
    notes: list[str] = []
    try:
        checked = _dedupe_time(frame, relpath, loc, notes)
        rate, keys = _time_base(checked["time"].to_numpy(), relpath, loc, allow_gaps=not emg)
    except DataError:
        rebuilt = _rebuild_emg_time(frame["time"].to_numpy()) if emg else None
        if rebuilt is None:
            raise
        rate, keys, resolution = rebuilt
        notes = [_Correction(f"{relpath}: time printed with {resolution:g}-s resolution, too coarse for {rate:g} Hz; "
                             f"rebuilt as t0 + k/{rate:g} from the row count")]
        return _Table(relpath, frame, rate, keys, notes)
    return _Table(relpath, checked, rate, keys, notes)


def _rebuild_emg_time(t: np.ndarray) -> tuple[float, np.ndarray, float] | None:
    """Keys of an EMG time column rounded too coarsely (e.g. 1 ms at 2000 Hz), or None.

    Accepted only when it is unambiguous: time never decreases, the row
    count over the span gives 1000 or 2000 Hz within 0.5 %, and every printed
    value is within 0.6 x its resolution of the rebuilt ``t0 + k/rate``.
    """
    n = len(t)
    if n < 100 or (np.diff(t) < 0).any() or not np.isfinite(t).all():
        return None
    span = float(t[-1] - t[0])
    if span <= 0:
        return None
    rate = next((r for r in (1000.0, 2000.0) if abs((n - 1) / span - r) <= 0.005 * r), None)
    if rate is None:
        return None
    steps = np.diff(t)
    resolution = float(steps[steps > 0].min())
    k = np.arange(n)
    k0 = int(np.rint(np.median(t * rate - k)))
    keys = (k0 + k).astype(np.int64)
    if np.abs(t - keys / rate).max() > 0.6 * resolution + 1e-9:
        return None
    return rate, keys, round(resolution, 9)


def _dedupe_time(frame: pd.DataFrame, relpath: str, loc: Mapping[str, str], notes: list[str]) -> pd.DataFrame:
    t = frame["time"].to_numpy()
    if not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise DataError(f"{relpath}: time is empty or NaN at data row {i + 1}", **loc, file=relpath)
    d = np.diff(t)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0])
        raise DataError(f"{relpath}: time is not monotonic: {t[i]:.6g} s at data row {i + 1} is followed by "
                        f"{t[i + 1]:.6g} s", **loc, file=relpath)
    if (d == 0).any():
        dup = frame.duplicated(keep="first")
        same_t = frame["time"].duplicated(keep="first")
        if (same_t & ~dup).any():
            i = int(np.flatnonzero((same_t & ~dup).to_numpy())[0])
            raise DataError(f"{relpath}: duplicated time {t[i]:.6g} s with different values (data row {i + 1})",
                            **loc, file=relpath)
        notes.append(_Correction(f"{relpath}: {int(dup.sum())} exactly duplicated rows dropped"))
        frame = frame.loc[~dup].reset_index(drop=True)
    return frame


def _time_base(t: np.ndarray, relpath: str, loc: Mapping[str, str], *,
               allow_gaps: bool) -> tuple[float, np.ndarray]:
    """Sampling rate and integer sample keys ``round(time*rate)``.

    The rate is first ``1/median(diff(time))``, then refined over the whole
    record. Irregular samples (off the grid by more than 0.2 sample) are an
    error; whole missing samples are gaps (allowed or not).
    """
    if len(t) < 2:
        raise DataError(f"{relpath}: fewer than two samples", **loc, file=relpath)
    dt = float(np.median(np.diff(t)))
    if not dt > 0:
        raise DataError(f"{relpath}: cannot derive a sampling rate from time", **loc, file=relpath)
    # refine over the whole record (printed times are rounded), then snap to a
    # whole number of Hz only when that cannot drift by 0.1 sample over the record
    steps_est = float(np.rint((t[-1] - t[0]) / dt))
    rate = steps_est / float(t[-1] - t[0]) if steps_est >= 1 else 1.0 / dt
    if abs(rate - round(rate)) * float(t[-1] - t[0]) < 0.1:
        rate = float(round(rate))
    rel = (t - t[0]) * rate
    k = np.rint(rel)
    off = np.abs(rel - k)
    steps = np.diff(k)
    if off.max() > 0.2 or (steps < 1).any():
        i = int(np.argmax(off)) if off.max() > 0.2 else int(np.flatnonzero(steps < 1)[0])
        raise DataError(f"{relpath}: irregular time: sample {i + 1} at {t[i]:.6g} s is off the "
                        f"{rate:g}-Hz grid (rate from 1/median(diff(time)))", **loc, file=relpath)
    gaps = int((steps - 1).sum())
    if gaps and not allow_gaps:
        i = int(np.flatnonzero(steps > 1)[0])
        raise DataError(f"{relpath}: irregular time: {gaps} samples missing at the {rate:g}-Hz rate "
                        f"(first gap after {t[i]:.6g} s)", **loc, file=relpath)
    keys = (k + np.rint(t[0] * rate)).astype(np.int64)
    return rate, keys


def _check_knee_sign(flex: dict[str, np.ndarray], relpath: str,
                     loc: Mapping[str, str]) -> tuple[list[str], set[str]]:
    """Check (and if needed flip) knee flexion per side; returns notes and the flipped sides.

    In walking the swing-phase knee flexion is the largest excursion: after
    the negation, the 99th percentile should be 30-100 deg and the 1st
    percentile -25..30 deg. The mirror image means the file is flexion-positive.
    """
    notes = []
    flipped: set[str] = set()
    for s in SIDES:
        f = flex[s]
        v = f[np.isfinite(f)]
        if v.size < 10:
            notes.append(f"{s} knee angle has no data")
            continue
        lo, hi = (float(x) for x in np.percentile(v, [1, 99]))
        ok = _KNEE_PEAK_FLEXION[0] <= hi <= _KNEE_PEAK_FLEXION[1] and _KNEE_MIN_FLEXION[0] <= lo <= _KNEE_MIN_FLEXION[1]
        mirrored = (_KNEE_PEAK_FLEXION[0] <= -lo <= _KNEE_PEAK_FLEXION[1]
                    and _KNEE_MIN_FLEXION[0] <= -hi <= _KNEE_MIN_FLEXION[1])
        if ok:
            continue
        col = f"knee_angle_{s.lower()}"
        if mirrored:
            flex[s] = -f
            flipped.add(s)
            msg = (f"knee sign corrected: {col} in {relpath} is flexion-positive (range {-hi:.0f}..{-lo:.0f} deg), "
                   f"not extension-positive as assumed, so it is used as flexion without negation")
            notes.append(_Correction(msg))
            continue
        raise DataError(f"{relpath}: {col} does not look like a knee angle in degrees with either sign: "
                        f"flexion (-{col}) spans {lo:.1f}..{hi:.1f} deg (1st..99th percentile); expected "
                        f"{_KNEE_MIN_FLEXION[0]:g}..{_KNEE_MIN_FLEXION[1]:g} to "
                        f"{_KNEE_PEAK_FLEXION[0]:g}..{_KNEE_PEAK_FLEXION[1]:g} deg (radians?)",
                        **loc, file=relpath, column=col)
    return notes, flipped


def _check_moment_units(ankle: dict[str, np.ndarray], sides: Sequence[str], mass: float, relpath: str,
                        loc: Mapping[str, str], notes: list[str]) -> float:
    """Factor that brings the moments to N.m/kg (1, or 1/mass when they are in N.m)."""
    values = np.concatenate([np.abs(ankle[s][np.isfinite(ankle[s])]) for s in sides]) if sides else np.array([])
    if values.size < 10:
        if sides:
            notes.append("moment units not checked (no ankle moment data)")
        return 1.0
    peak = float(np.percentile(values, 99.5))
    if _ANKLE_PEAK_PER_KG[0] <= peak <= _ANKLE_PEAK_PER_KG[1]:
        return 1.0
    if _ANKLE_PEAK_ABS[0] <= peak <= _ANKLE_PEAK_ABS[1] and \
            _ANKLE_PEAK_PER_KG[0] <= peak / mass <= _ANKLE_PEAK_PER_KG[1]:
        msg = (f"moment units corrected: peak |ankle moment| {peak:.1f} in {relpath} means N.m, not N.m/kg, so the "
               f"moments were divided by the body mass {mass:g} kg")
        notes.append(_Correction(msg))
        return 1.0 / mass
    raise DataError(f"{relpath}: peak |ankle moment| is {peak:.4g}, neither N.m/kg "
                    f"({_ANKLE_PEAK_PER_KG[0]:g}-{_ANKLE_PEAK_PER_KG[1]:g}) nor N.m "
                    f"({_ANKLE_PEAK_ABS[0]:g}-{_ANKLE_PEAK_ABS[1]:g}) for walking",
                    **loc, file=relpath, column="ankle_angle_*_moment")


def _check_vertical_force(fx: np.ndarray, fy: np.ndarray, fz: np.ndarray, side: str, mass: float, relpath: str,
                          loc: Mapping[str, str], notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical GRF must be positive (reaction, up) and in N; correct and note otherwise."""
    v = fy[np.isfinite(fy)]
    hi, lo = float(np.percentile(v, 99.5)), float(np.percentile(v, 0.5))
    if -lo > hi:
        fx, fy, fz = -fx, -fy, -fz
        hi = -lo
        msg = f"{side} GRF sign corrected: vertical force in {relpath} was negative (action force), all components negated"
        notes.append(_Correction(msg))
    weight = mass * G
    if _GRF_PEAK_BW[0] <= hi / weight <= _GRF_PEAK_BW[1]:
        return fx, fy, fz
    if _GRF_PEAK_BW[0] <= hi <= _GRF_PEAK_BW[1]:
        notes.append(_Correction(f"{side} GRF units corrected: peak {hi:.3g} in {relpath} means body weights; "
                                 "multiplied by m*g"))
        return fx * weight, fy * weight, fz * weight
    if _GRF_PEAK_BW[0] * G <= hi <= _GRF_PEAK_BW[1] * G:
        notes.append(_Correction(f"{side} GRF units corrected: peak {hi:.3g} in {relpath} means N/kg; multiplied by "
                                 "mass"))
        return fx * mass, fy * mass, fz * mass
    raise DataError(f"{relpath}: peak {side} vertical GRF {hi:.4g} is {hi / weight:.3g} body weights for "
                    f"{mass:g} kg; expected {_GRF_PEAK_BW[0]:g}-{_GRF_PEAK_BW[1]:g} for walking (N)",
                    **loc, file=relpath, column=f"{side}ForceY_Vertical")


def _check_cop_units(cx: np.ndarray, cy: np.ndarray, cz: np.ndarray, side: str, relpath: str,
                     notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = np.concatenate([np.abs(cx[np.isfinite(cx)]), np.abs(cz[np.isfinite(cz)])])
    if h.size and float(np.percentile(h, 99)) > 5.0:
        notes.append(_Correction(f"{side} COP in {relpath} exceeds 5 m: taken as mm and divided by 1000"))
        return cx / 1000.0, cy / 1000.0, cz / 1000.0
    return cx, cy, cz


def _early_stance_knee_change(t_force: np.ndarray, fz: np.ndarray, rate: float, t_kin: np.ndarray,
                              flex: np.ndarray) -> list[float]:
    """Knee flexion change (deg) from foot strike to 15 % of stance, per complete stance."""
    finite = np.isfinite(flex)
    if finite.sum() < 2:
        return []
    out = []
    for fs, fo in contacts(fz, rate, threshold_n=_CONTACT_N):
        dur = t_force[fo] - t_force[fs]
        a, b = np.interp([t_force[fs], t_force[fs] + 0.15 * dur], t_kin[finite], flex[finite])
        out.append(float(b - a))
    return out


def _negate(stream: Stream, columns: Sequence[str]) -> None:
    for c in columns:
        stream.frame[c] = -stream.frame[c]


def _stances(forces: Stream, sides: Sequence[str]) -> dict[str, list[tuple[float, float]]]:
    """``(foot strike, foot off)`` times of the complete contacts on each belt with data."""
    out = {}
    for s in sides:
        c = contacts(forces.get(f"{s}_fz"), forces.rate_hz, threshold_n=_CONTACT_N)
        t = forces.time
        out[s] = [(float(t[a]), float(t[b])) for a, b in c]
    return out
