"""BVH adapter, driven by a YAML joint map.

Reads motion-capture BVH files (joint rotations; the format of the CMU
motion capture database, 100STYLE and the Bandai-Namco motion datasets) with
:func:`retrogait.ingest.skeleton.read_bvh` (bvhio parser, forward kinematics
to joint centres) and turns each file into a kinematics-only canonical trial
in the lab frame (x forward, y left, z up, metres):

* ``pelvis_x/y/z``: the pelvis joint (the root trajectory: travel direction
  and walking speed);
* ``<side>_hjc/kjc/ankle/toe_x/y/z``: hip, knee, ankle and toe joint
  centres; ``<side>_heel_x/y/z``: a heel point derived from the foot segment
  (:func:`retrogait.ingest.skeleton.derive_heel`; BVH skeletons have no heel);
* ``<side>_knee_flexion``: from the thigh and shank segments (deg, flexion
  positive; :func:`retrogait.ingest.skeleton.knee_flexion`).

No forces and no EMG: measures that need them are absent, not NaN. Body
mass is not recorded (``mass_kg`` NaN). The map (``config/maps/*.yaml``,
schema ``schemas/bvh_map.schema.yaml``) names the joints, the axes and
length unit of the files, and how subject and condition follow from each
file's path. A file lacking a mapped joint, or whose mapped joints lack the
channels the map needs, is an error naming the file and the joint.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrogait.config import load_config
from retrogait.errors import ConfigError, DataError
from retrogait.ingest.adapters import register
from retrogait.ingest.adapters.base import Adapter, RawFile
from retrogait.ingest.skeleton import BvhError, BvhMotion, axes_matrix, derive_heel, knee_flexion, read_bvh
from retrogait.ingest.trial import SIDES, Stream, Trial, TrialMeta
from retrogait.io import sha256_file

__all__ = ["BVHAdapter", "MAP_SCHEMA", "LENGTH_UNITS", "take_speed"]

MAP_SCHEMA = Path(__file__).with_name("schemas") / "bvh_map.schema.yaml"

#: Length units of BVH files and their size in metres.
LENGTH_UNITS = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "in": 0.0254}

_ROTATIONS = ("Xrotation", "Yrotation", "Zrotation")
_POSITIONS = ("Xposition", "Yposition", "Zposition")
_POINTS = ("hip", "knee", "ankle", "toe")
_COLUMN = {"hip": "hjc", "knee": "kjc", "ankle": "ankle", "toe": "toe"}


def take_speed(pelvis: np.ndarray, rate_hz: float, *, window_s: float = 1.0) -> float:
    """Walking speed of a take from its root trajectory (m/s).

    The median over the take of the horizontal pelvis speed measured over
    ``window_s`` (central difference of positions ``window_s`` apart, about
    one stride, so the within-stride speed oscillation averages out). The
    median is robust to the start and the end of an overground take.

    Parameters
    ----------
    pelvis : ndarray, shape (n, 3)
        Pelvis position in the lab frame (z up), metres.
    rate_hz : float
        Frame rate.
    window_s : float, keyword-only
        Difference window (s).

    Returns
    -------
    float
        Speed in m/s; NaN when the take is shorter than ``window_s``.
    """
    h = max(1, int(round(0.5 * window_s * rate_hz)))
    xy = np.asarray(pelvis, float)[:, :2]
    if len(xy) <= 2 * h:
        return float("nan")
    v = np.linalg.norm(xy[2 * h:] - xy[:-2 * h], axis=1) / (2 * h / rate_hz)
    return float(np.nanmedian(v))


@register("bvh")
class BVHAdapter(Adapter):
    """Adapter for BVH files declared one by one in the manifest.

    Options (``options`` of the manifest entry): ``map``, the path of the
    joint map relative to the project root.
    """

    @cached_property
    def map(self) -> dict[str, Any]:
        path = self.spec.options.get("map")
        if not path:
            raise ConfigError(f"dataset '{self.spec.id}': the bvh adapter needs options.map (a joint map)")
        cfg = load_config(self.project_file(path, key="options.map"), MAP_SCHEMA, source=str(path))
        try:
            cfg["_axes"] = axes_matrix(up=cfg["axes"]["up"], forward=cfg["axes"]["forward"])
        except ValueError as exc:
            raise ConfigError(f"{path}: axes: {exc}") from None
        return cfg

    def config_files(self) -> list[str]:
        return [str(self.spec.options["map"])]

    def limitations(self) -> list[str]:
        label = self.map["subject"].get("label", "subject")
        out = [f"{self.spec.id}: BVH joint rotations only (kinematics from forward kinematics of a skeleton): no "
               "force plates, no EMG and no body mass, so knee moments, knee-load estimates and muscle activity "
               "are absent for this dataset (not zero); the heel is a point derived from the foot segment "
               "(docs/methods.md §4.7) and events come from kinematics alone (docs/methods.md §4.9)."]
        if label != "subject" and not self.map.get("limitations"):
            out.append(f"{self.spec.id}: the pairing unit of within-subject tests is the {label}, not a person.")
        return out + [f"{self.spec.id}: {text}" for text in self.map.get("limitations", [])]

    # -- planning ------------------------------------------------------------
    def _subject_of(self, f: RawFile) -> str:
        pattern = self.map["subject"]["pattern"]
        m = re.search(pattern, f.path)
        if not m or not m.groupdict().get("subject"):
            raise ConfigError(f"dataset '{self.spec.id}': subject pattern {pattern!r} (map {self.spec.options['map']}) "
                              f"does not match file {f.path}")
        return m.group("subject")

    def condition_of(self, path: str) -> dict[str, Any]:
        """Condition label and design fields of a file, from the map's patterns."""
        design = dict(self.map["design"])
        for rule in self.map["conditions"]:
            if re.search(rule["match"], path):
                out = {**design, **{k: v for k, v in rule.items() if k != "match"}}
                if out.get("direction") not in ("FW", "BW"):
                    raise ConfigError(f"dataset '{self.spec.id}': file {path} has no direction (set it in the map's "
                                      "design or in the matching condition)")
                return out
        raise ConfigError(f"dataset '{self.spec.id}': no condition pattern matches file {path}; "
                          f"patterns: {[r['match'] for r in self.map['conditions']]}")

    def plan(self) -> dict[str, list[RawFile]]:
        plan: dict[str, list[RawFile]] = {}
        for f in self.spec.files:
            if not f.path.lower().endswith(".bvh"):
                raise ConfigError(f"dataset '{self.spec.id}': the bvh adapter reads .bvh files, got {f.path}")
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
        return [self.read_file(raw_dir / f.path, relpath=f.path, subject=subject) for f in files]

    def joint_names(self) -> dict[str, str]:
        """``{canonical point: BVH joint}``: ``pelvis`` and ``<side>_<point>`` for the leg points."""
        j = self.map["joints"]
        sides = j.get("sides") or {"L": "L", "R": "R"}
        out = {"pelvis": j["pelvis"]}
        for side in SIDES:
            for point in _POINTS:
                out[f"{side}_{point}"] = j[point].format(side=sides[side])
        return out

    def _check_joints(self, motion: BvhMotion, relpath: str, loc: dict) -> dict[str, str]:
        names = self.joint_names()
        missing = [f"{joint} ({point})" for point, joint in names.items() if joint not in motion.channels]
        if missing:
            raise DataError(f"{relpath}: joint(s) of the map {self.spec.options['map']} not in the file: "
                            f"{', '.join(missing)}; the file has {', '.join(motion.names)}", **loc)
        pelvis = names["pelvis"]
        if not all(c in motion.channels[pelvis] for c in _POSITIONS):
            raise DataError(f"{relpath}: pelvis joint {pelvis} has no position channels "
                            f"({' '.join(motion.channels[pelvis]) or 'none'}): no root trajectory", **loc)
        index = {n: i for i, n in enumerate(motion.names)}
        for point, joint in names.items():
            if point == "pelvis" or point.endswith("_toe"):
                continue  # the toe joint's own rotation moves only the toe tip
            i = index[joint]
            while i >= 0:
                name = motion.names[i]
                have = [c for c in _ROTATIONS if c in motion.channels[name]]
                if 0 < len(have) < 3 or (not have and name == joint):
                    raise DataError(f"{relpath}: joint {name} (on the chain to {point} = {joint}) has rotation "
                                    f"channels {have or 'none'}; the map needs all three", **loc)
                i = motion.parents[i]
        return names

    def read_file(self, path: Path, *, relpath: str, subject: str) -> Trial:
        """Read one BVH file into a canonical kinematics-only trial."""
        trial_id = Path(relpath).stem
        loc = dict(dataset=self.spec.id, subject=subject, trial=trial_id)
        if not path.exists():
            raise DataError(f"file not found: {path} (run the fetch step first)", **loc)
        try:
            motion = read_bvh(path)
        except BvhError as exc:
            raise DataError(f"cannot read BVH file {relpath}: {exc}", **loc) from None
        names = self._check_joints(motion, relpath, loc)
        cond = self.condition_of(relpath)
        notes: list[str] = []

        scale = LENGTH_UNITS[self.map["units"]["length"]]
        axes = self.map["_axes"]
        from scipy.spatial.transform import Rotation  # lazy: the workflow imports this module at parse time

        to_lab = Rotation.from_matrix(axes)
        pos = {p: (motion.positions[j] @ axes.T) * scale for p, j in names.items()}
        bad = [p for p, x in pos.items() if not np.isfinite(x).all()]
        if bad:
            raise DataError(f"{relpath}: non-finite positions for {', '.join(bad)}", **loc)
        n = motion.n_frames
        rate = motion.rate_hz
        t = np.arange(n) * motion.frame_time
        cols: dict[str, np.ndarray] = {"time_s": t}
        units: dict[str, str] = {}

        def put(prefix: str, xyz: np.ndarray) -> None:
            for k, axis in enumerate("xyz"):
                cols[f"{prefix}_{axis}"] = xyz[:, k]
                units[f"{prefix}_{axis}"] = "m"

        put("pelvis", pos["pelvis"])
        lateral = pos["L_hip"] - pos["R_hip"]  # points to the subject's left
        heel_cfg = self.map.get("heel") or {}
        up = np.array([0.0, 0.0, 1.0])
        for side in SIDES:
            for point in _POINTS:
                put(f"{side}_{_COLUMN[point]}", pos[f"{side}_{point}"])
            foot = to_lab * motion.rotations[names[f"{side}_ankle"]]
            try:
                heel, model = derive_heel(pos[f"{side}_ankle"], pos[f"{side}_toe"], foot, up=up,
                                          back_fraction=float(heel_cfg.get("back_fraction", 0.4)),
                                          flat_tolerance=float(heel_cfg.get("flat_tolerance_m", 0.01)))
            except ValueError as exc:
                raise DataError(f"{relpath}: cannot place the {side} heel: {exc}", **loc) from None
            put(f"{side}_heel", heel)
            notes.append(f"{side} heel derived: {100 * model.back:.1f} cm behind and {100 * model.drop:.1f} cm below "
                         f"the ankle centre at foot flat ({model.n_reference} foot-flat frames)")
            cols[f"{side}_knee_flexion"] = knee_flexion(pos[f"{side}_hip"], pos[f"{side}_knee"],
                                                        pos[f"{side}_ankle"], lateral)
            units[f"{side}_knee_flexion"] = "deg"
        kinematics = Stream(rate, pd.DataFrame(cols), units)

        speed = cond.get("speed_mps")
        if speed == "measured":
            speed = take_speed(pos["pelvis"], rate)
            notes.append(f"speed_mps measured: median horizontal pelvis speed over 1 s windows, {speed:.2f} m/s")
        speed = float(speed) if speed is not None else float("nan")
        notes.append(f"BVH {n} frames at {rate:g} Hz ({n * motion.frame_time:.2f} s); body mass not recorded")
        meta = TrialMeta(
            dataset=self.spec.id, subject=subject, trial=trial_id, condition=str(cond["condition"]),
            direction=str(cond["direction"]), speed_mps=speed, surface=str(cond["surface"]),
            mass_kg=float("nan"), height_m=float("nan"), mass_source="not recorded (BVH)",
            source_files=relpath, source_sha256=sha256_file(path), adapter=self.name,
            kinetic_sides="", notes="; ".join(notes))
        return Trial(meta=meta, kinematics=kinematics)
