"""What a channel map needs from a C3D file: ``python -m retrogait.ingest.inspect FILE.c3d [...]``.

Prints, for each file: its size and sha256 (for the manifest entry), the
point and analog rates and frame counts, point labels grouped as the file
declares them (markers, angles, forces, moments, powers) with their units
and how many frames are valid (invalid = negative residual, NaN or an exact
(0, 0, 0) triplet), analog labels with their units (force-plate channels
marked), force plates, the parameters that may hold body mass or height,
subject names and stored events. docs/extending.md shows how to turn this
into a channel map (``config/maps/<id>.yaml``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrogait.io import sha256_file

__all__ = ["describe_c3d", "format_description", "main"]

#: Parameter names that may hold body values (case-insensitive search in every group).
_BODY_PARAMETER = re.compile(r"mass|weight|height|length|bmi", re.IGNORECASE)
#: POINT groups in which Vicon and others list model outputs, and the parameter with their unit.
_POINT_KINDS = (("ANGLES", "ANGLE_UNITS"), ("FORCES", "FORCE_UNITS"), ("MOMENTS", "MOMENT_UNITS"),
                ("POWERS", "POWER_UNITS"), ("SCALARS", "SCALAR_UNITS"))


def _values(params: Mapping[str, Any], group: str, name: str) -> list[Any]:
    try:
        value = params[group][name]["value"]
    except (KeyError, TypeError):
        return []
    if isinstance(value, np.ndarray):
        return value.ravel(order="F").tolist()
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _strings(params: Mapping[str, Any], group: str, name: str) -> list[str]:
    return [str(v).strip() for v in _values(params, group, name)]


def describe_c3d(path: str | Path) -> dict[str, Any]:
    """Everything a channel map needs from one C3D file, as plain data.

    Raises
    ------
    ValueError
        When ezc3d cannot read the file (the message names it).
    """
    import ezc3d

    from retrogait.ingest.adapters.c3d import analog_labels, invalid_points, point_labels
    from retrogait.ingest.forceplates import ForcePlateError, read_force_plates

    path = Path(path)
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises plain RuntimeError/IOError
        raise ValueError(f"cannot read C3D file {path}: {exc}") from None
    params, header, data = c3d["parameters"], c3d["header"], c3d["data"]
    labels = point_labels(params)
    points = data["points"]
    n_frames = points.shape[2] if points.ndim == 3 else 0
    residuals = data.get("meta_points", {}).get("residuals")
    point_info = []
    kind_of: dict[str, tuple[str, str]] = {}
    for group, unit_param in _POINT_KINDS:
        unit = (_strings(params, "POINT", unit_param) or [""])[0]
        for lab in _strings(params, "POINT", group):
            kind_of[lab] = (group.lower(), unit)
    point_unit = (_strings(params, "POINT", "UNITS") or [""])[0]
    for i, lab in enumerate(labels):
        if i >= points.shape[1]:
            break
        xyz = points[:3, i, :]
        res = residuals[0, i, :] if residuals is not None and np.size(residuals) else None
        bad = invalid_points(xyz, res)
        zeros = int(((xyz == 0).all(axis=0)).sum())
        kind, unit = kind_of.get(lab, ("markers and other points", point_unit))
        point_info.append({"label": lab, "kind": kind, "unit": unit, "valid_pct": 100.0 * (1 - bad.mean())
                           if n_frames else 0.0, "zero_frames": zeros})
    alabels = analog_labels(params)
    aunits = _strings(params, "ANALOG", "UNITS")
    plate_channels = {int(c) - 1 for c in _values(params, "FORCE_PLATFORM", "CHANNEL") if int(c) > 0}
    analog_info = [{"label": lab, "unit": aunits[j] if j < len(aunits) else "",
                    "force_plate": j in plate_channels} for j, lab in enumerate(alabels)]
    plates, plates_error = [], ""
    try:
        platforms = read_force_plates(params, data["analogs"])
    except ForcePlateError as exc:
        platforms, plates_error = [], str(exc)
    for p in platforms:
        fz = p.force[2]
        plates.append({"plate": p.number, "type": p.type,
                       "max_fz_n": float(np.nanmax(np.abs(fz))) if fz.size else float("nan"),
                       "centre_mm": [float(v) for v in np.mean(p.corners, axis=1)]})
    body = []
    for group, entries in params.items():
        if not isinstance(entries, Mapping):
            continue
        for name, entry in entries.items():
            if name == "__METADATA__" or not _BODY_PARAMETER.search(name):
                continue
            vals = _values(params, group, name)
            body.append({"parameter": f"{group}:{name}", "value": vals[0] if len(vals) == 1 else vals})
    contexts = _strings(params, "EVENT", "CONTEXTS")
    ev_labels = _strings(params, "EVENT", "LABELS")
    times = np.asarray(_values(params, "EVENT", "TIMES"), dtype=float).reshape(-1, 2)
    ev_times = (times[:, 0] * 60 + times[:, 1]).tolist() if times.size else []
    events = sorted(zip(contexts or [""] * len(ev_labels), ev_labels, ev_times), key=lambda e: e[2])
    return {
        "file": str(path), "size": path.stat().st_size, "sha256": sha256_file(path),
        "point_rate_hz": float(header["points"]["frame_rate"]), "point_frames": int(n_frames),
        "first_frame": int(header["points"]["first_frame"]),
        "analog_rate_hz": float(header["analogs"]["frame_rate"]),
        "analog_frames": int(data["analogs"].shape[2]) if np.ndim(data["analogs"]) == 3 else 0,
        "point_units": point_unit, "points": point_info, "analogs": analog_info, "plates": plates,
        "plates_error": plates_error,
        "body_parameters": body, "subjects": _strings(params, "SUBJECTS", "NAMES"),
        "events": [{"context": c, "label": lab, "time_s": t} for c, lab, t in events],
    }


def format_description(info: Mapping[str, Any], *, max_events: int = 12) -> str:
    """The text printed by the command for one file."""
    out = [f"== {info['file']}",
           "manifest entry: size: {size}, sha256: {sha256}".format(**info),
           f"points: {len(info['points'])} labels, {info['point_frames']} frames at {info['point_rate_hz']:g} Hz "
           f"(first frame {info['first_frame']}), POINT:UNITS {info['point_units'] or '(not set: mm assumed)'}",
           f"analogs: {len(info['analogs'])} channels, {info['analog_frames']} frames at "
           f"{info['analog_rate_hz']:g} Hz"]
    groups: dict[str, list[dict]] = {}
    for p in info["points"]:
        groups.setdefault(p["kind"], []).append(p)
    for kind, pts in groups.items():
        unit = Counter(p["unit"] for p in pts).most_common(1)[0][0]
        out.append(f"\n-- point labels: {kind} (unit {unit or 'not declared'}; valid % of frames"
                   "; frames stored as (0, 0, 0))")
        out.append(_columns([f"{p['label']} {p['valid_pct']:.0f}%" + (f" z{p['zero_frames']}" if p["zero_frames"]
                                                                     else "") for p in pts]))
    if info["analogs"]:
        out.append("\n-- analog labels (unit) [FP = force-plate channel]")
        out.append(_columns([f"{a['label']} ({a['unit'] or '?'})" + (" FP" if a["force_plate"] else "")
                             for a in info["analogs"]]))
    out.append(f"\n-- force plates: {len(info['plates'])}"
               + (f" (FORCE_PLATFORM group not interpretable: {info['plates_error']})" if info.get("plates_error")
                  else ""))
    for p in info["plates"]:
        out.append(f"  plate {p['plate']}: type {p['type']}, max |Fz| {p['max_fz_n']:.0f} N, centre "
                   f"({', '.join(f'{v:.0f}' for v in p['centre_mm'])}) mm")
    out.append("\n-- parameters that may hold body mass or height (map key body.mass / body.height)")
    for b in info["body_parameters"] or [{"parameter": "none found", "value": ""}]:
        out.append(f"  {b['parameter']}: {b['value']}")
    out.append(f"\n-- SUBJECTS:NAMES: {', '.join(info['subjects']) or 'none'}")
    ev = info["events"]
    counts = Counter((e["context"], e["label"]) for e in ev)
    out.append(f"\n-- stored events: {len(ev)} (" + (", ".join(f"{c} {lab}: {n}" for (c, lab), n in
                                                            sorted(counts.items())) or "none") + ")")
    for e in ev[:max_events]:
        out.append(f"  {e['time_s']:8.3f} s  {e['context']} {e['label']}")
    if len(ev) > max_events:
        out.append(f"  ... {len(ev) - max_events} more")
    return "\n".join(out)


def _columns(items: Sequence[str], width: int = 100) -> str:
    lines, line = [], "  "
    for item in items:
        if len(line) + len(item) + 3 > width and line.strip():
            lines.append(line.rstrip())
            line = "  "
        line += item + "   "
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print what a channel map needs from each C3D file given."""
    parser = argparse.ArgumentParser(
        prog="python -m retrogait.ingest.inspect",
        description="Print what a retrogait channel map needs from C3D files: labels, units, rates, "
                    "force plates, body parameters, events, and the size/sha256 for the manifest.")
    parser.add_argument("files", nargs="+", type=Path, help="C3D file(s)")
    args = parser.parse_args(argv)
    status = 0
    try:
        for f in args.files:
            try:
                text = format_description(describe_c3d(f))
            except (OSError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
                continue
            print(text + "\n", flush=True)
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    sys.exit(main())
