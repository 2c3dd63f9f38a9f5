"""Generic C3D adapter, driven by a YAML channel map.

Reads any lab's C3D files with ezc3d (Michaud & Begon 2021, J Open Source
Softw 6:2911) and turns them into canonical trials:

* model outputs (knee angles, knee moments in three planes, per-foot GRF)
  from every ``POINT:LABELS`` group (``LABELS``, ``LABELS2``, ...), with units
  converted to SI and moments normalised to body mass;
* marker trajectories used by event detection (heel, toe, knee, ankle,
  pelvis), in metres;
* force plates through ezc3d's platform filter (force, centre of pressure and
  free moment in the lab frame), in N, m and N.m;
* EMG channels named in the map, as canonical ``<side>_<muscle>`` in V;
* stored events (``EVENT`` group: Foot Strike / Foot Off with context
  Left/Right).

The map (``config/maps/*.yaml``, schema ``schemas/c3d_map.schema.yaml``) also
says how to find the subject and the condition of every file from its path.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrogait.config import load_config
from retrogait.errors import ConfigError, DataError
from retrogait.io import sha256_file
from retrogait.ingest.trial import SIDES, Stream, Trial, TrialMeta
from retrogait.ingest.units import conversion_to_si, moment_to_per_kg, normalise_unit
from retrogait.ingest.adapters import register
from retrogait.ingest.adapters.base import Adapter, RawFile

__all__ = ["C3DAdapter", "MAP_SCHEMA", "point_labels", "read_parameter"]

MAP_SCHEMA = Path(__file__).with_name("schemas") / "c3d_map.schema.yaml"

_EVENT_NAMES = {"foot strike": "foot_strike", "foot off": "foot_off"}
_CONTEXT_SIDES = {"left": "L", "right": "R"}
_MASS_UNITS = {"kg": 1.0, "g": 1e-3}
_LENGTH_UNITS = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}


def point_labels(parameters: Mapping[str, Any]) -> list[str]:
    """All point labels in data order: ``LABELS`` then ``LABELS2``, ``LABELS3``, ...

    Nexus writes more than 255 labels into continuation groups; ezc3d
    returns the data of all of them in this order.
    """
    point = parameters["POINT"]
    labels = list(point["LABELS"]["value"])
    n = 2
    while f"LABELS{n}" in point:
        labels += list(point[f"LABELS{n}"]["value"])
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


@register("c3d")
class C3DAdapter(Adapter):
    """Adapter for C3D files declared one by one in the manifest.

    Options (``options`` of the manifest entry): ``map``, the path of the
    channel map relative to the project root.
    """

    @cached_property
    def map(self) -> dict[str, Any]:
        path = self.spec.options.get("map")
        if not path:
            raise ConfigError(f"dataset '{self.spec.id}': the c3d adapter needs options.map (a channel map)")
        full = self.project_file(path, key="options.map")
        return load_config(full, MAP_SCHEMA, source=str(path))

    def config_files(self) -> list[str]:
        return [str(self.spec.options["map"])]

    # -- planning ------------------------------------------------------------
    def _subject_of(self, f: RawFile) -> str:
        how = self.map["subject"].get("from", "path")
        if how == "manifest":
            subject = self.spec.file_subjects.get(f.path)
            if not subject:
                raise ConfigError(f"dataset '{self.spec.id}': file {f.path} has no 'subject' in the manifest "
                                  "and the map says subjects come from the manifest")
            return subject
        pattern = self.map["subject"].get("pattern")
        if not pattern:
            raise ConfigError(f"dataset '{self.spec.id}': the map needs subject.pattern to derive subjects from paths")
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
        rows = []
        for subject, files in self.plan().items():
            for f in files:
                cond = self.condition_of(f.path)
                speed = cond.get("speed_mps")
                rows.append({"subject": subject, "trial": Path(f.path).stem, "condition": str(cond["condition"]),
                             "direction": str(cond["direction"]),
                             "speed_mps": float(speed) if speed is not None else float("nan"),
                             "surface": str(cond["surface"])})
        return pd.DataFrame(rows, columns=["subject", "trial", "condition", "direction", "speed_mps", "surface"])

    # -- reading -------------------------------------------------------------
    def read_subject(self, subject: str, raw_dir: str | os.PathLike) -> list[Trial]:
        files = self.plan().get(subject)
        if files is None:
            raise DataError("subject not in the manifest", dataset=self.spec.id, subject=subject)
        raw_dir = Path(raw_dir)
        trials = [self.read_file(raw_dir / f.path, relpath=f.path, subject=subject) for f in files]
        return trials

    def read_file(self, path: Path, *, relpath: str, subject: str) -> Trial:
        """Read one C3D file into a canonical trial."""
        import ezc3d  # imported here: only C3D datasets need it

        trial_id = Path(relpath).stem
        loc = dict(dataset=self.spec.id, subject=subject, trial=trial_id)
        if not path.exists():
            raise DataError(f"file not found: {path} (run the fetch step first)", **loc)
        try:
            c3d = ezc3d.c3d(str(path), extract_forceplat_data=True)
        except Exception as exc:  # ezc3d raises plain RuntimeError/IOError
            raise DataError(f"cannot read C3D file {relpath}: {exc}", **loc) from exc
        params = c3d["parameters"]
        header = c3d["header"]
        notes: list[str] = []

        cond = self.condition_of(relpath)
        mass = self._body_value(params, "mass", _MASS_UNITS, loc)
        height = self._body_value(params, "height", _LENGTH_UNITS, loc, required=False)

        point_rate = float(header["points"]["frame_rate"])
        n_frames = c3d["data"]["points"].shape[2]
        if n_frames < 2 or point_rate <= 0:
            raise DataError(f"no point frames in {relpath}", **loc)
        declared = declared_frames(path)
        if declared is not None and declared != n_frames:
            raise DataError(f"{relpath} is truncated or damaged: its header declares {declared} frames, the file "
                            f"holds {n_frames} ({path.stat().st_size} bytes)", **loc, file=relpath)
        t_point = (header["points"]["first_frame"] + np.arange(n_frames)) / point_rate

        kin_cols: dict[str, np.ndarray] = {"time_s": t_point}
        kin_units: dict[str, str] = {}
        labels = point_labels(params)
        points = c3d["data"]["points"]
        if len(labels) != points.shape[1]:
            raise DataError(f"{len(labels)} point labels but {points.shape[1]} point tracks in {relpath}", **loc)
        index = {lab: i for i, lab in enumerate(labels)}

        self._read_model_outputs(points, index, mass, kin_cols, kin_units, notes)
        self._read_markers(params, points, index, kin_cols, kin_units, notes, loc)

        kinetic_sides = [s for s in SIDES if f"{s}_knee_extensor_moment" in kin_cols
                         and np.isfinite(kin_cols[f"{s}_knee_extensor_moment"]).any()]
        kinematics = Stream(point_rate, pd.DataFrame(kin_cols), kin_units)

        forces, plates = self._read_plates(c3d, header, loc)
        emg = self._read_emg(c3d, params, header, notes, loc)
        events = self._read_events(params, loc)

        meta = TrialMeta(
            dataset=self.spec.id, subject=subject, trial=trial_id,
            condition=str(cond["condition"]), direction=str(cond["direction"]),
            speed_mps=float(cond["speed_mps"]) if cond.get("speed_mps") is not None else float("nan"),
            surface=str(cond["surface"]), mass_kg=mass, height_m=height,
            mass_source=self.map["body"]["mass"]["parameter"],
            source_files=relpath, source_sha256=sha256_file(path), adapter=self.name,
            kinetic_sides=",".join(kinetic_sides), notes="; ".join(notes))
        return Trial(meta=meta, kinematics=kinematics, forces=forces, emg=emg, events=events, plates=plates)

    def _body_value(self, params, key, units, loc, *, required=True) -> float:
        spec = self.map["body"].get(key)
        if spec is None:
            return float("nan")
        raw = read_parameter(params, spec["parameter"])
        try:
            value = float(raw) * units[spec["unit"]]
        except (TypeError, ValueError):
            value = float("nan")
        if not np.isfinite(value) or value <= 0:
            if required:
                raise DataError(f"body {key} parameter {spec['parameter']} is missing or not positive "
                                f"(read {raw!r})", **loc)
            return float("nan")
        return value

    def _read_model_outputs(self, points, index, mass, cols, units, notes) -> None:
        missing = []
        for entry in self.map["model_outputs"]:
            for side in SIDES:
                label = entry["label"].format(side=side)
                name = f"{side}_{entry['variable']}"
                if label not in index:
                    missing.append(label)
                    continue
                values = points[entry["component"], index[label], :].astype(float) * entry.get("sign", 1)
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
        if missing:
            notes.append("model outputs not in file: " + ", ".join(sorted(set(missing))))

    def _read_markers(self, params, points, index, cols, units, notes, loc) -> None:
        unit = read_parameter(params, "POINT:UNITS") or "mm"
        try:
            conv = conversion_to_si(unit)
        except ValueError:
            raise DataError(f"POINT:UNITS {unit!r} is not a length unit", **loc) from None
        if conv.unit != "m":
            raise DataError(f"POINT:UNITS {unit!r} is not a length unit", **loc)
        for marker, candidates in self.map["markers"].items():
            sides = [""] if marker == "pelvis" else list(SIDES)
            for side in sides:
                xyz = None
                for cand in candidates:
                    group = [cand] if isinstance(cand, str) else list(cand)
                    labels = [g.format(side=side) for g in group]
                    if all(lab in index for lab in labels):
                        stack = np.stack([points[:3, index[lab], :] for lab in labels])
                        xyz = np.nanmean(stack, axis=0) if len(labels) > 1 else stack[0]
                        break
                prefix = f"{side}_{marker}" if side else marker
                if xyz is None:
                    notes.append(f"marker {prefix} not found (candidates {candidates})")
                    continue
                for k, axis in enumerate("xyz"):
                    cols[f"{prefix}_{axis}"] = xyz[k].astype(float) * conv.factor
                    units[f"{prefix}_{axis}"] = "m"

    def _read_plates(self, c3d, header, loc) -> tuple[Stream | None, pd.DataFrame]:
        platforms = c3d["data"].get("platform", [])
        use = (self.map.get("force_plates") or {}).get("use", "all")
        wanted = range(1, len(platforms) + 1) if use == "all" else use
        plates = pd.DataFrame({"plate": pd.Series(dtype=str), "foot": pd.Series(dtype=str)})
        if not platforms:
            return None, plates
        rate = float(header["analogs"]["frame_rate"])
        n = platforms[0]["force"].shape[1]
        cols: dict[str, np.ndarray] = {"time_s": (header["analogs"]["first_frame"] + np.arange(n)) / rate}
        units: dict[str, str] = {}
        ids = []
        for k in wanted:
            if k > len(platforms):
                raise DataError(f"map asks for force plate {k} but the file has {len(platforms)}", **loc)
            p = platforms[k - 1]
            pid = f"fp{k}"
            f_conv = conversion_to_si(p.get("unit_force", "N"))
            pos_conv = conversion_to_si(p.get("unit_position", "mm"))
            m_conv = conversion_to_si(p.get("unit_moment", "Nmm"))
            for j, axis in enumerate("xyz"):
                cols[f"{pid}_f{axis}"] = p["force"][j].astype(float) * f_conv.factor
                cols[f"{pid}_cop_{axis}"] = p["center_of_pressure"][j].astype(float) * pos_conv.factor
                units[f"{pid}_f{axis}"] = "N"
                units[f"{pid}_cop_{axis}"] = "m"
            cols[f"{pid}_tz"] = p["Tz"][2].astype(float) * m_conv.factor
            units[f"{pid}_tz"] = "N.m"
            ids.append(pid)
        plates = pd.DataFrame({"plate": ids, "foot": [""] * len(ids)})
        return Stream(rate, pd.DataFrame(cols), units), plates

    def _read_emg(self, c3d, params, header, notes, loc) -> Stream | None:
        labels = [str(x).strip() for x in params["ANALOG"]["LABELS"]["value"]]
        file_units = [str(x).strip() for x in params["ANALOG"].get("UNITS", {}).get("value", [])]
        emg_map = self.map["emg"]["channels"]
        ignore = set(self.map["emg"].get("ignore", []))
        analogs = c3d["data"]["analogs"][0]
        rate = float(header["analogs"]["frame_rate"])
        cols: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        unmapped = []
        plate_channels = _plate_channel_indices(params)
        for j, label in enumerate(labels):
            if label in emg_map:
                spec = emg_map[label]
                name = f"{spec['side']}_{spec['muscle']}"
                if name in cols:
                    raise DataError(f"two analog channels map to {name}", **loc, channel=label)
                unit = self.map["emg"].get("unit") or (file_units[j] if j < len(file_units) else "V")
                conv = conversion_to_si(unit)
                if conv.unit != "V":
                    raise DataError(f"EMG channel unit {unit!r} is not a voltage", **loc, channel=label)
                cols[name] = analogs[j].astype(float) * conv.factor
                units[name] = "V"
            elif label not in ignore and j not in plate_channels:
                unmapped.append(label)
        if unmapped:
            notes.append("analog channels not in the map (not used): " + ", ".join(unmapped))
        missing = [lab for lab in emg_map if lab not in labels]
        if missing:
            notes.append("EMG channels of the map not in file: " + ", ".join(missing))
        if not cols:
            return None
        n = analogs.shape[1]
        frame = pd.DataFrame({"time_s": (header["analogs"]["first_frame"] + np.arange(n)) / rate, **cols})
        return Stream(rate, frame, units)

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
        return pd.DataFrame(rows).sort_values(["time_s", "side", "event"], kind="stable").reset_index(drop=True)


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
