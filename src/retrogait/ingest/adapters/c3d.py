"""Generic C3D adapter, driven by a YAML channel map.

Reads any lab's C3D files with ezc3d (Michaud & Begon 2021, J Open Source
Softw 6:2911) and turns them into canonical trials:

* model outputs (knee angles, knee moments in three planes, per-foot GRF)
  from every ``POINT:LABELS`` group (``LABELS``, ``LABELS2``, ...), with units
  converted to SI and moments normalised to body mass;
* marker trajectories used by event detection (heel, toe, knee, ankle,
  pelvis), in metres;
* force plates computed from their analog channels
  (:mod:`retrogait.ingest.forceplates`: force, centre of pressure and free
  moment in the lab frame, ezc3d's equations), in N, m and N.m;
* EMG channels named in the map, as canonical ``<side>_<muscle>`` in V
  (any muscle name; known muscles get their canonical name,
  :func:`retrogait.ingest.trial.canonical_muscle`);
* stored events (``EVENT`` group: Foot Strike / Foot Off with context
  Left/Right).

Invalid point samples are missing data, never numbers (docs/methods.md §0.3): a negative residual
(the C3D standard's mark of an invalid point; Motion Lab Systems, *The C3D
File Format User Guide*, 2008, "3D point residual") and an exact (0, 0, 0)
triplet (how many writers store a gap) become NaN, for markers and model
outputs alike. Short interior gaps are filled only when the map asks for it
(``gaps.fill``: linear or PCHIP, Fritsch & Carlson 1980, SIAM J Numer Anal
17:238), up to ``gaps.max_gap_s``; what was set missing and filled is
recorded in the trial's ``gaps`` column.

A file may hold only part of what the map names (EMG only, markers only):
it is read into the streams it has; what it lacks is recorded per trial
(``missing_outputs``, ``missing_markers``, ``missing_emg``,
``unmapped_analogs``) and shown in the report's QC section.

The map (``config/maps/*.yaml``, schema ``schemas/c3d_map.schema.yaml``) also
says how to find the subject and the condition of every file from its path,
and where body mass comes from (C3D parameters, a subjects table, the
manifest or a literal value, tried in order).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrogait.config import load_config, validate, load_yaml
from retrogait.errors import ConfigError, DataError
from retrogait.io import sha256_file
from retrogait.ingest.subjects import read_subjects_table
from retrogait.ingest.trial import SIDES, Stream, Trial, TrialMeta, canonical_muscle
from retrogait.ingest.forceplates import (ForcePlateError, PlateSignals, loaded_cop_outside, loaded_cop_travel,
                                          read_force_plates)
from retrogait.ingest.units import conversion_to_si, moment_to_per_kg, normalise_unit
from retrogait.ingest.adapters import register
from retrogait.ingest.adapters.base import Adapter, RawFile

__all__ = ["C3DAdapter", "MAP_SCHEMA", "OPTIONS_SCHEMA", "point_labels", "analog_labels", "read_parameter",
           "invalid_points"]

MAP_SCHEMA = Path(__file__).with_name("schemas") / "c3d_map.schema.yaml"
OPTIONS_SCHEMA = Path(__file__).with_name("schemas") / "c3d_options.schema.yaml"

_EVENT_NAMES = {"foot strike": "foot_strike", "foot off": "foot_off"}
_CONTEXT_SIDES = {"left": "L", "right": "R"}
_UNITS = {"mass": {"kg": 1.0, "g": 1e-3, "lb": 0.45359237}, "height": {"m": 1.0, "cm": 1e-2, "mm": 1e-3}}
_BODY_COLUMN = {"mass": "mass_kg", "height": "height_m"}
#: Plausible body values; outside them the declared unit is wrong (g read as kg, mm as m).
_BODY_RANGE = {"mass": (10.0, 300.0), "height": (0.5, 2.5)}
#: Sources giving values further apart than this are named in the trial's notes.
_BODY_TOLERANCE = {"mass": 0.5, "height": 0.01}
_BODY_UNIT = {"mass": "kg", "height": "m"}
#: The loaded centre of pressure of a plate may lie at most this far outside its outline (median over the
#: samples above 20 % of the peak force), checked only on plates stepped on: a vertical force that changes by
#: at least _MIN_CHECKED_LOAD_N over the trial (a constant offset of an unused plate is no foot).
_MAX_COP_OUTSIDE_M = 0.05
_MIN_CHECKED_LOAD_N = 100.0
#: ... and must move by at least this much over the plate (5th-95th percentile span, the larger of the plate's
#: two horizontal axes; a step rolls it over ~100-250 mm, quiet standing sways it by millimetres; 17 mm at the
#: least on the real fixtures).
_MIN_COP_TRAVEL_M = 0.002

#: SI unit each mapped variable must convert to (checked at parse time).
_VARIABLE_UNITS = {
    "knee_flexion": {"deg"}, "knee_adduction": {"deg"}, "knee_rotation": {"deg"}, "ankle_dorsiflexion": {"deg"},
    "knee_extensor_moment": {"N.m", "N.m/kg"}, "knee_adduction_moment": {"N.m", "N.m/kg"},
    "knee_rotation_moment": {"N.m", "N.m/kg"},
    "grf_x": {"N", "N/kg"}, "grf_y": {"N", "N/kg"}, "grf_z": {"N", "N/kg"},
}


def point_labels(parameters: Mapping[str, Any]) -> list[str]:
    """All point labels in data order: ``LABELS`` then ``LABELS2``, ``LABELS3``, ...

    Nexus writes more than 255 labels into continuation groups; ezc3d
    returns the data of all of them in this order.
    """
    return _labels(parameters, "POINT")


def analog_labels(parameters: Mapping[str, Any]) -> list[str]:
    """All analog channel labels in data order (``LABELS``, ``LABELS2``, ...)."""
    return _labels(parameters, "ANALOG")


def _labels(parameters: Mapping[str, Any], group: str) -> list[str]:
    grp = parameters.get(group) or {}
    if "LABELS" not in grp:
        return []
    labels = list(grp["LABELS"]["value"])
    n = 2
    while f"LABELS{n}" in grp:
        labels += list(grp[f"LABELS{n}"]["value"])
        n += 1
    return [str(x).strip() for x in labels]


def read_parameter(parameters: Mapping[str, Any], name: str) -> Any:
    """Value of a ``GROUP:NAME`` parameter, or ``None`` when absent."""
    group, _, key = name.partition(":")
    try:
        value = parameters[group][key]["value"]
    except KeyError:
        return None
    if isinstance(value, np.ndarray):
        return value.ravel()[0] if value.size else None
    if isinstance(value, list):
        return value[0] if value else None
    return value


def invalid_points(xyz: np.ndarray, residuals: np.ndarray | None = None) -> np.ndarray:
    """Invalid samples of point tracks: non-finite, negative residual or an exact (0, 0, 0) triplet.

    Parameters
    ----------
    xyz : numpy.ndarray
        Coordinates, shape ``(3, ...)`` (ezc3d: ``(3, n_points, n_frames)``).
    residuals : numpy.ndarray, optional
        Residuals, shape ``xyz.shape[1:]``; a negative residual marks an
        invalid point (C3D standard).

    Returns
    -------
    numpy.ndarray of bool
        Shape ``xyz.shape[1:]``; True where the sample is missing data.

    Examples
    --------
    >>> xyz = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 3.0, 5.0]])
    >>> invalid_points(xyz, np.array([0.0, -1.0, 0.0])).tolist()
    [True, True, False]
    """
    xyz = np.asarray(xyz, dtype=float)
    bad = ~np.isfinite(xyz).all(axis=0) | (xyz == 0.0).all(axis=0)
    if residuals is not None:
        bad |= np.asarray(residuals, dtype=float) < 0
    return bad


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fill_gaps(xyz: np.ndarray, missing: np.ndarray, *, max_samples: int, method: str) -> tuple[np.ndarray, int]:
    """Fill interior gaps of at most ``max_samples`` samples in a ``(3, n)`` track.

    Gaps touching either end are never filled (that would extrapolate).
    ``method``: ``linear`` (numpy.interp) or ``pchip`` (scipy
    PchipInterpolator on all valid samples: shape-preserving, no overshoot).

    Returns
    -------
    (numpy.ndarray, int)
        The filled copy (NaN where still missing) and the number of gaps filled.
    """
    out = np.array(xyz, dtype=float, copy=True)
    out[:, missing] = np.nan
    n = missing.size
    gaps = [(a, b) for a, b in _runs(missing) if a > 0 and b < n and b - a <= max_samples]
    if not gaps or (~missing).sum() < 2:
        return out, 0
    idx = np.arange(n)
    valid = idx[~missing]
    fill = np.concatenate([idx[a:b] for a, b in gaps])
    if method == "linear":
        for k in range(3):
            out[k, fill] = np.interp(fill, valid, out[k, valid])
    elif method == "pchip":
        from scipy.interpolate import PchipInterpolator

        out[:, fill] = PchipInterpolator(valid, out[:, valid], axis=1)(fill)
    else:
        raise ValueError(f"unknown gap-filling method {method!r}; use linear or pchip")
    return out, len(gaps)


class _LabelIndex:
    """Point or analog labels of one file, found exactly or without a Vicon subject prefix (``Sub:LHEE``)."""

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)
        self.exact = {lab: i for i, lab in enumerate(self.labels)}
        stripped: dict[str, list[int]] = {}
        for i, lab in enumerate(self.labels):
            if ":" in lab:
                stripped.setdefault(lab.rsplit(":", 1)[1], []).append(i)
        self.stripped = {k: v[0] for k, v in stripped.items() if len(v) == 1 and k not in self.exact}
        self.prefixed_used: set[str] = set()

    def find(self, label: str) -> int | None:
        if label in self.exact:
            return self.exact[label]
        if label in self.stripped:
            self.prefixed_used.add(self.labels[self.stripped[label]])
            return self.stripped[label]
        return None

    def __contains__(self, label: str) -> bool:
        return label in self.exact or label in self.stripped


@register("c3d")
class C3DAdapter(Adapter):
    """Adapter for C3D files declared one by one in the manifest.

    Options (``options`` of the manifest entry, merged with
    ``dataset_options.<id>`` of the run config; schema
    ``schemas/c3d_options.schema.yaml``): ``map``, the path of the channel
    map relative to the project root, and ``subjects``, per-subject
    ``mass_kg`` / ``height_m`` read where the map's body section lists
    ``{manifest: true}``.
    """

    @cached_property
    def opts(self) -> dict[str, Any]:
        merged = {**dict(self.spec.options or {}), **self.options}
        if not merged.get("map"):
            raise ConfigError(f"dataset '{self.spec.id}': the c3d adapter needs options.map (a channel map) "
                              "in its entry of config/datasets.yaml")
        validate(merged, load_yaml(OPTIONS_SCHEMA), source=f"dataset '{self.spec.id}' options (c3d adapter)")
        return merged

    @cached_property
    def map(self) -> dict[str, Any]:
        rel = self.opts["map"]
        full = self.project_file(rel, key="options.map")
        cmap = load_config(full, MAP_SCHEMA, source=str(rel))
        self._check_map(cmap, str(rel))
        return cmap

    def config_files(self) -> list[str]:
        files = [str(self.opts["map"])]
        for key in ("mass", "height"):
            files += [s["table"] for s in self._sources(key) if "table" in s]
        return list(dict.fromkeys(files))

    # -- checks of the map at parse time --------------------------------------
    def _check_map(self, cmap: Mapping[str, Any], source: str) -> None:
        """Checks the schema cannot express; each error names the map key."""
        def fail(key: str, message: str) -> None:
            raise ConfigError(f"{source}: '{key}': {message}")

        subj = cmap["subject"]
        if subj.get("from", "path") == "path":
            pattern = subj.get("pattern")
            if not pattern:
                fail("subject.pattern", "needed to derive subjects from file paths (or set subject.from: manifest)")
            try:
                rx = re.compile(pattern)
            except re.error as exc:
                fail("subject.pattern", f"not a valid regular expression: {exc}")
            if "subject" not in rx.groupindex:
                fail("subject.pattern", "needs a named group (?P<subject>...)")
        for i, rule in enumerate(cmap["conditions"]):
            try:
                re.compile(rule["match"])
            except re.error as exc:
                fail(f"conditions[{i}].match", f"not a valid regular expression: {exc}")
        for i, entry in enumerate(cmap["model_outputs"]):
            unit = normalise_unit(entry["unit"])  # the schema enum holds known spellings only
            allowed = _VARIABLE_UNITS[entry["variable"]]
            if conversion_to_si(unit).unit not in allowed:
                fail(f"model_outputs[{i}].unit", f"{entry['unit']!r} is not a unit of {entry['variable']} "
                     f"(expected a unit convertible to {' or '.join(sorted(allowed))})")
        for j, cand in enumerate(cmap["markers"].get("pelvis", [])):
            labels = [cand] if isinstance(cand, str) else cand
            if isinstance(labels, Mapping) or any("{side}" in lab for lab in labels):
                fail(f"markers.pelvis[{j}]", "the pelvis has no side: give labels without {side} or L/R")
        for label, spec in cmap["emg"]["channels"].items():
            try:
                canonical_muscle(spec["muscle"])
            except ValueError as exc:
                fail(f"emg.channels.{label}.muscle", str(exc))
        for key in ("mass", "height"):
            for k, s in enumerate(self._sources(key, cmap)):
                where = f"body.{key}[{k}]"
                if "table" in s:
                    path = self.project_file(s["table"], key=f"map {source}: {where}.table")
                    try:
                        read_subjects_table(path, name=s["table"])
                    except ConfigError as exc:
                        fail(f"{where}.table", str(exc))
                if "manifest" in s and not self.opts.get("subjects"):
                    fail(where, f"{{manifest: true}} reads options.subjects of dataset '{self.spec.id}' in "
                         "config/datasets.yaml, which has none")

    def _sources(self, key: str, cmap: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        body = (cmap if cmap is not None else self.map)["body"]
        spec = body.get(key)
        if spec is None:
            return []
        return [spec] if isinstance(spec, Mapping) else list(spec)

    @cached_property
    def _tables(self) -> dict[str, pd.DataFrame]:
        out = {}
        for key in ("mass", "height"):
            for s in self._sources(key):
                if "table" in s and s["table"] not in out:
                    out[s["table"]] = read_subjects_table(self.project_file(s["table"], key="map body table"),
                                                          name=s["table"])
        return out

    @property
    def side_tokens(self) -> dict[str, str]:
        return dict(self.map.get("side_tokens") or {"L": "L", "R": "R"})

    def expand(self, label: str | Mapping[str, str], side: str) -> str:
        """A map label for one side: ``{side}`` replaced by the side's token, or the side's own label."""
        if isinstance(label, Mapping):
            return str(label[side])
        return label.replace("{side}", self.side_tokens[side]) if side else label

    # -- planning ------------------------------------------------------------
    def _subject_of(self, f: RawFile) -> str:
        how = self.map["subject"].get("from", "path")
        if how == "manifest":
            subject = self.spec.file_subjects.get(f.path)
            if not subject:
                raise ConfigError(f"dataset '{self.spec.id}': file {f.path} has no 'subject' in the manifest "
                                  "and the map says subjects come from the manifest")
            return subject
        pattern = self.map["subject"]["pattern"]
        m = re.search(pattern, f.path)
        if not m or not m.groupdict().get("subject"):
            raise ConfigError(f"dataset '{self.spec.id}': subject pattern {pattern!r} does not match file {f.path}")
        return m.group("subject")

    def condition_of(self, path: str) -> dict[str, Any]:
        """Condition label and design fields of a file, from the map's patterns."""
        design = dict(self.map["design"])
        for rule in self.map["conditions"]:
            if re.search(rule["match"], path):
                out = {**design, **{k: v for k, v in rule.items() if k != "match"}}
                return out
        raise ConfigError(f"dataset '{self.spec.id}': no condition pattern matches file {path}; "
                          f"patterns: {[r['match'] for r in self.map['conditions']]}")

    def plan(self) -> dict[str, list[RawFile]]:
        plan: dict[str, list[RawFile]] = {}
        for f in self.spec.files:
            self.condition_of(f.path)  # fail early on files without a condition
            plan.setdefault(self._subject_of(f), []).append(f)
        return dict(sorted(plan.items()))

    def design(self) -> pd.DataFrame:
        """Planned trials and their conditions from the map's patterns (a measured speed is not known yet: NaN)."""
        return self._design_from_conditions()

    # -- reading -------------------------------------------------------------
    def read_subject(self, subject: str, raw_dir: str | os.PathLike) -> list[Trial]:
        files = self.plan().get(subject)
        if files is None:
            raise DataError("subject not in the manifest", dataset=self.spec.id, subject=subject)
        raw_dir = Path(raw_dir)
        ids = _trial_ids([f.path for f in files])
        return [self.read_file(raw_dir / f.path, relpath=f.path, subject=subject, trial_id=ids[f.path])
                for f in files]

    def read_file(self, path: Path, *, relpath: str, subject: str, trial_id: str | None = None) -> Trial:
        """Read one C3D file into a canonical trial (the streams it has; what it lacks is recorded)."""
        import ezc3d  # imported here: only C3D datasets need it

        trial_id = trial_id or Path(relpath).stem
        loc = dict(dataset=self.spec.id, subject=subject, trial=trial_id)
        if not path.exists():
            raise DataError(f"file not found: {path} (run the fetch step first)", **loc)
        notes: list[str] = []
        try:
            c3d = ezc3d.c3d(str(path))
        except Exception as exc:  # ezc3d raises plain RuntimeError/IOError
            raise DataError(f"cannot read C3D file {relpath}: {exc}", **loc) from None
        params = c3d["parameters"]
        try:
            platforms = read_force_plates(params, c3d["data"]["analogs"])
        except ForcePlateError as exc:  # a malformed FORCE_PLATFORM group alone must not cost the markers and EMG
            platforms = []
            notes.append(f"force plates not read: the FORCE_PLATFORM group cannot be interpreted ({exc})")
        header = c3d["header"]
        record: dict[str, list[str]] = {"missing_outputs": [], "missing_markers": [], "missing_emg": [],
                                        "unmapped_analogs": [], "gaps": []}

        cond = self.condition_of(relpath)
        mass, mass_source = self._body_value(params, subject, "mass", notes, loc)
        height, _ = self._body_value(params, subject, "height", notes, loc)
        n_frames = c3d["data"]["points"].shape[2]
        declared = declared_frames(path)
        if declared is not None and declared != n_frames:
            raise DataError(f"{relpath} is truncated or damaged: its header declares {declared} frames, the file "
                            f"holds {n_frames} ({path.stat().st_size} bytes)", **loc, file=relpath)

        kinematics = self._read_points(c3d, params, header, mass, notes, record, loc)
        kin_cols = kinematics.frame.columns if kinematics is not None else []
        kinetic_sides = [s for s in SIDES if f"{s}_knee_extensor_moment" in kin_cols
                         and kinematics.has(f"{s}_knee_extensor_moment")]

        forces, plates = self._read_plates(platforms, header, loc)
        emg = self._read_emg(c3d, params, header, notes, record, loc)
        events = self._read_events(params, loc)
        if kinematics is None and forces is None and emg is None:
            raise DataError(f"{relpath} holds none of the data the map names (no mapped model output or marker, "
                            "no force plate, no mapped EMG channel); check the labels with "
                            f"`python -m retrogait.ingest.inspect {relpath}`", **loc)

        meta = TrialMeta(
            dataset=self.spec.id, subject=subject, trial=trial_id,
            condition=str(cond["condition"]), direction=str(cond["direction"]),
            speed_mps=float(cond["speed_mps"]) if cond.get("speed_mps") is not None else float("nan"),
            surface=str(cond["surface"]), mass_kg=mass, height_m=height, mass_source=mass_source,
            source_files=relpath, source_sha256=sha256_file(path), adapter=self.name,
            kinetic_sides=",".join(kinetic_sides), notes="; ".join(notes),
            **{k: ", ".join(v) for k, v in record.items()})
        return Trial(meta=meta, kinematics=kinematics, forces=forces, emg=emg, events=events, plates=plates)

    # -- body mass and height ------------------------------------------------------
    def _body_value(self, params, subject: str, key: str, notes: list[str], loc) -> tuple[float, str]:
        """The first source of ``body.<key>`` that gives a value, and where it came from.

        Mass is required (a :class:`DataError` listing every source tried);
        height is NaN when no source gives it. Other sources that give a
        different value are named in the trial's notes.
        """
        sources = self._sources(key)
        found: list[tuple[float, str]] = []
        tried: list[str] = []
        for s in sources:
            value, label, why = self._one_source(params, subject, key, s)
            if value is None:
                tried.append(f"{label}: {why}")
            else:
                found.append((value, label))
        if not found:
            if key == "mass":
                raise DataError("no body mass for this trial (" + ("; ".join(tried) or "no source") + "). The map "
                                f"key body.mass ({self.opts['map']}) lists where mass may come from: C3D parameters "
                                "({parameter: GROUP:NAME, unit: kg}), a subjects table ({table: path.csv}), the "
                                "manifest ({manifest: true}) or one value ({value: 70, unit: kg})", **loc)
            return float("nan"), ""
        value, label = found[0]
        lo, hi = _BODY_RANGE[key]
        if not lo <= value <= hi:
            raise DataError(f"body {key} {value:g} {_BODY_UNIT[key]} from {label} is outside the plausible "
                            f"{lo:g}-{hi:g} {_BODY_UNIT[key]}: check the unit declared in the map's body.{key}", **loc)
        tol = _BODY_TOLERANCE[key]
        others = [f"{lab} gives {v:g} {_BODY_UNIT[key]}" for v, lab in found[1:] if abs(v - value) > tol]
        if others:
            notes.append(f"body {key} {value:g} {_BODY_UNIT[key]} from {label} used; " + "; ".join(others))
        return value, label

    def _one_source(self, params, subject: str, key: str, s: Mapping[str, Any]) -> tuple[float | None, str, str]:
        """(value in SI or None, label of the source, why it gave nothing)."""
        col = _BODY_COLUMN[key]
        if "parameter" in s:
            label = f"C3D parameter {s['parameter']}"
            raw = read_parameter(params, s["parameter"])
            if raw is None:
                return None, label, "absent"
            try:
                value = float(raw) * _UNITS[key][s["unit"]]
            except (TypeError, ValueError):
                return None, label, f"not a number ({raw!r})"
            if not (np.isfinite(value) and value > 0):
                return None, label, f"not positive ({raw!r})"
            return value, label, ""
        if "table" in s:
            table = self._tables[s["table"]]
            label = f"subjects table {s['table']}"
            if subject not in table.index:
                return None, label, f"no row for subject {subject}"
            value = float(table.at[subject, col])
            if not (np.isfinite(value) and value > 0):
                return None, label, f"no {col} for subject {subject}"
            src = table.at[subject, "source"]
            return value, label + (f" ({src})" if src else ""), ""
        if "manifest" in s:
            label = f"config/datasets.yaml options.subjects.{subject}.{col}"
            value = ((self.opts.get("subjects") or {}).get(subject) or {}).get(col)
            if value is None:
                return None, label, "not given"
            return float(value), label, ""
        value = float(s["value"]) * _UNITS[key][s["unit"]]
        return value, (f"ASSUMED {s['value']:g} {s['unit']} for every subject (map body.{key}), not measured"), ""

    # -- points: model outputs and markers -------------------------------------------
    def _read_points(self, c3d, params, header, mass, notes, record, loc) -> Stream | None:
        labels = point_labels(params)
        points = c3d["data"]["points"]
        point_rate = float(header["points"]["frame_rate"])
        n_frames = points.shape[2] if points.ndim == 3 else 0
        if not labels or n_frames < 2 or point_rate <= 0:
            record["missing_outputs"] += self._output_labels()
            record["missing_markers"] += self._marker_names()
            return None
        if len(labels) != points.shape[1]:
            raise DataError(f"{len(labels)} point labels but {points.shape[1]} point tracks", **loc)
        residuals = c3d["data"].get("meta_points", {}).get("residuals")
        residuals = residuals[0] if residuals is not None and np.size(residuals) else None
        tracks = _Tracks(points[:3].astype(float), residuals, point_rate, self.map.get("gaps") or {})
        index = _LabelIndex(labels)
        t_point = (header["points"]["first_frame"] + np.arange(n_frames)) / point_rate
        cols: dict[str, np.ndarray] = {"time_s": t_point}
        units: dict[str, str] = {}
        self._read_model_outputs(tracks, index, mass, cols, units, record)
        self._read_markers(params, tracks, index, cols, units, record, loc)
        record["gaps"] += tracks.summary()
        if index.prefixed_used:
            notes.append("point labels matched without their subject prefix: "
                         + ", ".join(sorted(index.prefixed_used)[:5]) + (" ..." if len(index.prefixed_used) > 5 else ""))
        if len(cols) == 1:
            return None
        return Stream(point_rate, pd.DataFrame(cols), units)

    def _output_labels(self) -> list[str]:
        return list(dict.fromkeys(self.expand(e["label"], s) for e in self.map["model_outputs"] for s in SIDES))

    def _marker_names(self) -> list[str]:
        return [m if m == "pelvis" else f"{s}_{m}" for m in self.map["markers"]
                for s in ([""] if m == "pelvis" else SIDES)]

    def _read_model_outputs(self, tracks, index, mass, cols, units, record) -> None:
        missing = []
        for entry in self.map["model_outputs"]:
            for side in SIDES:
                label = self.expand(entry["label"], side)
                name = f"{side}_{entry['variable']}"
                i = index.find(label)
                if i is None:
                    missing.append(label)
                    continue
                values = tracks.get(i, label)[entry["component"]] * entry.get("sign", 1)
                unit = normalise_unit(entry["unit"])
                if entry["variable"].endswith("_moment"):
                    cols[name] = moment_to_per_kg(values, unit, mass)
                    units[name] = "N.m/kg"
                elif entry["variable"].startswith("grf_"):
                    conv = conversion_to_si(unit)
                    cols[name] = values * conv.factor * (mass if conv.per_kg else 1.0)
                    units[name] = "N"
                else:
                    conv = conversion_to_si(unit)
                    cols[name] = values * conv.factor
                    units[name] = conv.unit
        record["missing_outputs"] += list(dict.fromkeys(missing))

    def _read_markers(self, params, tracks, index, cols, units, record, loc) -> None:
        unit = read_parameter(params, "POINT:UNITS") or "mm"
        try:
            conv = conversion_to_si(unit)
        except ValueError:
            conv = None
        if conv is None or conv.unit != "m":
            raise DataError(f"POINT:UNITS {unit!r} is not a length unit (mm, cm or m): marker positions cannot "
                            "be converted to metres", **loc, parameter="POINT:UNITS")
        for marker, candidates in self.map["markers"].items():
            for side in ([""] if marker == "pelvis" else list(SIDES)):
                xyz = None
                tried = []
                for cand in candidates:
                    group = cand[side] if isinstance(cand, Mapping) else cand
                    group = [group] if isinstance(group, str) else list(group)
                    labels = [self.expand(g, side) for g in group]
                    tried.append("+".join(labels))
                    found = [index.find(lab) for lab in labels]
                    if all(i is not None for i in found):
                        stack = np.stack([tracks.get(i, lab) for i, lab in zip(found, labels)])
                        # the mean of several markers is missing wherever one of them is
                        xyz = stack.mean(axis=0)
                        break
                prefix = f"{side}_{marker}" if side else marker
                if xyz is None:
                    record["missing_markers"].append(f"{prefix} ({' | '.join(tried)})")
                    continue
                for k, axis in enumerate("xyz"):
                    cols[f"{prefix}_{axis}"] = xyz[k] * conv.factor
                    units[f"{prefix}_{axis}"] = "m"

    # -- force plates ---------------------------------------------------------------
    def _read_plates(self, platforms: list[PlateSignals], header, loc) -> tuple[Stream | None, pd.DataFrame]:
        use = (self.map.get("force_plates") or {}).get("use", "all")
        wanted = range(1, len(platforms) + 1) if use == "all" else use
        plates = pd.DataFrame({"plate": pd.Series(dtype=str), "foot": pd.Series(dtype=str)})
        if not platforms:
            return None, plates
        rate = float(header["analogs"]["frame_rate"])
        n = platforms[0].force.shape[1]
        cols: dict[str, np.ndarray] = {"time_s": (header["analogs"]["first_frame"] + np.arange(n)) / rate}
        units: dict[str, str] = {}
        ids = []
        for k in wanted:
            if k > len(platforms):
                raise DataError(f"map asks for force plate {k} (force_plates.use) but the file has "
                                f"{len(platforms)}", **loc)
            p = platforms[k - 1]
            pid = f"fp{k}"
            try:
                f_conv = conversion_to_si(p.unit_force)
                pos_conv = conversion_to_si(p.unit_position)
                m_conv = conversion_to_si(p.unit_moment)
            except ValueError as exc:
                raise DataError(f"force plate {k}: {exc}", **loc, parameter="ANALOG:UNITS") from None
            self._check_plate_cop(k, p, f_conv.factor, pos_conv.factor, loc)
            for j, axis in enumerate("xyz"):
                cols[f"{pid}_f{axis}"] = p.force[j] * f_conv.factor
                cols[f"{pid}_cop_{axis}"] = p.center_of_pressure[j] * pos_conv.factor
                units[f"{pid}_f{axis}"] = "N"
                units[f"{pid}_cop_{axis}"] = "m"
            cols[f"{pid}_tz"] = p.free_moment[2] * m_conv.factor
            units[f"{pid}_tz"] = "N.m"
            ids.append(pid)
        if not ids:
            return None, plates
        plates = pd.DataFrame({"plate": ids, "foot": [""] * len(ids)})
        return Stream(rate, pd.DataFrame(cols), units), plates

    def _check_plate_cop(self, k: int, p: PlateSignals, force_si: float, position_si: float, loc) -> None:
        """Physical check of a plate stepped on: its loaded centre of pressure lies on the plate and moves.

        A COP outside the outline means a moment unit that is not FORCE_PLATFORM:UNITS x POINT:UNITS or an
        ORIGIN/CORNERS that do not belong to the plate; a COP that stands still means moment channels that
        read (almost) nothing (:func:`~retrogait.ingest.forceplates.loaded_cop_outside`,
        :func:`~retrogait.ingest.forceplates.loaded_cop_travel`). Raises :class:`DataError` naming the plate.
        """
        fz = np.abs(p.force[2]) * force_si
        change_n = float(np.nanmax(fz) - np.nanmin(fz)) if np.isfinite(fz).any() else 0.0
        if change_n < _MIN_CHECKED_LOAD_N:
            return
        outside_m = loaded_cop_outside(p) * position_si
        if outside_m > _MAX_COP_OUTSIDE_M:
            what = (f"lies a median {1000 * outside_m:.0f} mm outside the plate's outline: the moment unit "
                    f"({p.unit_moment} = FORCE_PLATFORM:UNITS x POINT:UNITS) or the plate's ORIGIN/CORNERS do not "
                    "fit its signals")
        elif (travel_m := loaded_cop_travel(p) * position_si) < _MIN_COP_TRAVEL_M:
            what = (f"moves by only {1000 * travel_m:.2f} mm (5th-95th percentile) where a foot rolls over it or at "
                    f"least sways (>= {1000 * _MIN_COP_TRAVEL_M:g} mm): the moment channels read (almost) nothing, "
                    f"unconnected or in a unit smaller than {p.unit_moment} (FORCE_PLATFORM:UNITS x POINT:UNITS)")
        else:
            return
        raise DataError(f"force plate {k}: while loaded (>= 20 % of its {float(np.nanmax(fz)):.0f} N peak) its centre "
                        f"of pressure {what}; leave the plate out with force_plates.use in the map "
                        f"({self.opts['map']}) or correct the file", **loc, parameter="FORCE_PLATFORM")

    # -- EMG ------------------------------------------------------------------------
    def _read_emg(self, c3d, params, header, notes, record, loc) -> Stream | None:
        labels = analog_labels(params)
        file_units = [str(x).strip() for x in (params.get("ANALOG") or {}).get("UNITS", {}).get("value", [])]
        emg_map = self.map["emg"]["channels"]
        ignore = set(self.map["emg"].get("ignore", []))
        analogs = c3d["data"]["analogs"]
        analogs = analogs[0] if np.ndim(analogs) == 3 else np.empty((0, 0))
        rate = float(header["analogs"]["frame_rate"])
        index = _LabelIndex(labels)
        plate_channels = _plate_channel_indices(params)
        # several map labels may name one muscle and side: the first present in map order is used
        chosen: dict[str, tuple[str, int]] = {}
        duplicates: dict[str, list[str]] = {}
        unknown: set[str] = set()
        for label, spec in emg_map.items():
            j = index.find(label)
            if j is None:
                record["missing_emg"].append(label)
                continue
            muscle, known = canonical_muscle(spec["muscle"])
            if not known:
                unknown.add(muscle)
            name = f"{spec['side']}_{muscle}"
            if name in chosen:
                duplicates.setdefault(name, [chosen[name][0]]).append(label)
                continue
            chosen[name] = (label, j)
        used = {j for _, j in chosen.values()} | {index.find(lab) for labs in duplicates.values() for lab in labs}
        record["unmapped_analogs"] += [lab for j, lab in enumerate(labels)
                                       if j not in used and lab not in ignore and j not in plate_channels]
        for name, labs in duplicates.items():
            notes.append(f"EMG {name}: analog channels {', '.join(repr(x) for x in labs)} all map to it; "
                         f"{labs[0]!r} used (first in the map), the others not analysed")
        if unknown:
            notes.append("EMG muscles not in the known list, analysed under their own name (no claim or "
                         "co-contraction index uses them): " + ", ".join(sorted(unknown)))
        if not chosen:
            return None
        if rate <= 0 or analogs.shape[1] < 2:
            raise DataError("mapped EMG channels but no analog samples (ANALOG:RATE or frames missing)", **loc)
        cols: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        for name, (label, j) in chosen.items():
            from_file = self.map["emg"].get("unit") is None
            unit = self.map["emg"].get("unit") or (file_units[j] if j < len(file_units) and file_units[j] else "V")
            try:
                conv = conversion_to_si(unit)
            except ValueError:
                conv = None
            if conv is None or conv.unit != "V":
                what = "ANALOG:UNITS of the file" if from_file else "emg.unit of the map"
                raise DataError(f"EMG channel unit {unit!r} ({what}) is not a voltage (V, mV, uV)"
                                + ("; if the file's units are wrong, set emg.unit in the map "
                                   f"({self.opts['map']})" if from_file else ""), **loc, channel=label)
            cols[name] = analogs[j].astype(float) * conv.factor
            units[name] = "V"
        n = analogs.shape[1]
        frame = pd.DataFrame({"time_s": (header["analogs"]["first_frame"] + np.arange(n)) / rate, **cols})
        return Stream(rate, frame, units)

    # -- stored events ----------------------------------------------------------------
    def _read_events(self, params, loc) -> pd.DataFrame:
        empty = pd.DataFrame({"side": pd.Series(dtype=str), "event": pd.Series(dtype=str),
                              "time_s": pd.Series(dtype=float), "source": pd.Series(dtype=str)})
        ev = params.get("EVENT")
        if not ev or "TIMES" not in ev or "LABELS" not in ev:
            return empty
        times = np.asarray(ev["TIMES"]["value"], dtype=float)
        labels = list(ev["LABELS"]["value"])
        contexts = list(ev.get("CONTEXTS", {}).get("value", [""] * len(labels)))
        if times.ndim != 2 or times.shape[1] != len(labels):
            raise DataError("EVENT:TIMES does not match EVENT:LABELS", **loc)
        seconds = times[0] * 60.0 + times[1]
        rows = []
        for label, context, t in zip(labels, contexts, seconds):
            event = _EVENT_NAMES.get(str(label).strip().lower())
            side = _CONTEXT_SIDES.get(str(context).strip().lower())
            if event and side:
                rows.append({"side": side, "event": event, "time_s": float(t), "source": "c3d:EVENT"})
        if not rows:
            return empty
        # by time, side and event (stable; an undefined time last, as sort_values puts it)
        rows.sort(key=lambda r: (0, r["time_s"], r["side"], r["event"]) if r["time_s"] == r["time_s"]
                  else (1, 0.0, r["side"], r["event"]))
        return pd.DataFrame({c: [r[c] for r in rows] for c in ("side", "event", "time_s", "source")})


class _Tracks:
    """Point tracks of one file with invalid samples set missing and short gaps filled as configured.

    Records, per label read, how many samples were exact (0, 0, 0) triplets
    and how many gaps were filled.
    """

    def __init__(self, points: np.ndarray, residuals: np.ndarray | None, rate_hz: float, gaps: Mapping[str, Any]):
        self.points = points
        self.residuals = residuals
        self.rate = rate_hz
        self.method = gaps.get("fill", "none")
        self.max_gap_s = float(gaps.get("max_gap_s", 0.05))
        self.cache: dict[int, np.ndarray] = {}
        self.zeros: dict[str, int] = {}
        self.filled: dict[str, int] = {}

    def get(self, i: int, label: str) -> np.ndarray:
        if i not in self.cache:
            xyz = self.points[:, i, :]
            res = self.residuals[i] if self.residuals is not None else None
            missing = invalid_points(xyz, res)
            flagged = res < 0 if res is not None else np.zeros(xyz.shape[1], dtype=bool)
            zeros = int(((xyz == 0.0).all(axis=0) & ~flagged).sum())
            if zeros:
                self.zeros[label] = zeros
            if self.method != "none":
                max_samples = int(np.floor(self.max_gap_s * self.rate + 1e-9))
                out, n_filled = fill_gaps(xyz, missing, max_samples=max_samples, method=self.method)
                if n_filled:
                    self.filled[label] = n_filled
            else:
                out = np.where(missing, np.nan, xyz)
            self.cache[i] = out
        return self.cache[i]

    def summary(self) -> list[str]:
        out = [f"{lab}: {n} frames stored as (0, 0, 0) set missing" for lab, n in sorted(self.zeros.items())]
        if self.filled:
            out.append(f"gaps up to {self.max_gap_s:g} s filled ({self.method}): "
                       + ", ".join(f"{lab} x{n}" for lab, n in sorted(self.filled.items())))
        return out


def _trial_ids(paths: Sequence[str]) -> dict[str, str]:
    """Trial id of each file of one subject: the file stem, or the path without suffix where stems repeat."""
    stems = [Path(p).stem for p in paths]
    out = {}
    for p, stem in zip(paths, stems):
        if stems.count(stem) > 1:
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(p).with_suffix("").as_posix())
        out[p] = stem
    return out


def declared_frames(path: str | os.PathLike) -> int | None:
    """Number of point frames the C3D header declares (last - first + 1), read from the file's bytes.

    ezc3d reads a truncated file without complaint and rewrites its header
    (and ``POINT:FRAMES``) to the frames it could read, so the declared count
    must come from the file itself: words 4 and 5 of the header block
    (1-based first and last frame, 16-bit, byte order from the processor
    type in the parameter section: 84 Intel, 85 DEC, 86 MIPS big-endian;
    C3D.org, *The C3D File Format User Guide*, 2008, ch. 3). Returns None when
    the header cannot say (not a C3D header, or ``last frame`` = 65535, the
    marker of more frames than 16 bits hold).
    """
    with open(path, "rb") as fh:
        head = fh.read(512)
        if len(head) < 10 or head[1] != 0x50 or head[0] < 2:
            return None
        fh.seek((head[0] - 1) * 512)
        phead = fh.read(4)
    if len(phead) < 4 or phead[3] not in (84, 85, 86):
        return None
    first, last = struct.unpack((">" if phead[3] == 86 else "<") + "HH", head[6:10])
    if last == 0xFFFF or last < first:
        return None
    return last - first + 1


def _plate_channel_indices(params) -> set[int]:
    """0-based analog indices used by force plates (FORCE_PLATFORM:CHANNEL)."""
    try:
        channels = np.asarray(params["FORCE_PLATFORM"]["CHANNEL"]["value"])
    except KeyError:
        return set()
    return {int(c) - 1 for c in channels.ravel() if int(c) > 0}
