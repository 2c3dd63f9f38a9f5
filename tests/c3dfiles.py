"""Small C3D files written with ezc3d, for tests of the c3d adapter and the workflow.

:func:`write_c3d` writes points (with residuals), analog channels, type-2
force plates (the analog forces and moments that make ezc3d's platform
filter return the requested vertical force and centre of pressure),
parameters and events. :func:`walking_c3d` writes a synthetic walking trial
(the synthetic walker of ``tests/unit/gait/test_events.py``: known foot
strikes and foot-offs, heel/toe/pelvis markers, one force plate under one
stance of each foot) with a knee-angle model output and EMG, in whatever
labels a lab would use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

__all__ = ["write_c3d", "walking_c3d", "simple_map", "PLATE_SIZE_MM"]

#: Plate size (x, y) in mm.
PLATE_SIZE_MM = (500.0, 600.0)


def _int_parameter(c, group: str, name: str, values) -> None:
    import ezc3d
    from ezc3d import ezc3d as low

    assert isinstance(c, ezc3d.c3d)
    c.add_parameter(group, name, np.asarray(values, dtype=float))
    c["parameters"][group][name]["type"] = low.INT


def write_c3d(path: str | Path, *, point_rate: float = 100.0, n_frames: int | None = None,
              points: Mapping[str, np.ndarray] | None = None, residuals: Mapping[str, np.ndarray] | None = None,
              point_units: str | None = "mm", analog_rate: float = 1000.0,
              analogs: Mapping[str, np.ndarray] | None = None, analog_units: Mapping[str, str] | None = None,
              plates: Sequence[Mapping[str, Any]] = (), parameters: Mapping[str, Any] | None = None,
              events: Sequence[tuple[str, str, float]] = ()) -> Path:
    """Write a C3D file with ezc3d.

    Parameters
    ----------
    points
        label -> ``(n_frames, 3)`` coordinates in ``point_units`` (NaN allowed).
    residuals
        label -> ``(n_frames,)`` residuals (default 0 = valid; negative = invalid).
    analogs
        label -> samples at ``analog_rate`` (``n_frames * analog_rate / point_rate`` of them).
    plates
        One mapping per type-2 force plate: ``fz`` (vertical force on the foot
        [N], up positive, at the analog rate), ``cop`` (``(n, 2)`` centre of
        pressure x, y [mm] in the lab frame) and ``centre`` (plate centre x, y
        [mm]). Channels ``Fx<k>`` ... ``Mz<k>`` are appended to the analogs.
    parameters
        ``"GROUP:NAME"`` -> value (str, float or list of them).
    events
        ``(label, context, time_s)``, e.g. ``("Foot Strike", "Left", 1.2)``.
    """
    import ezc3d

    points = dict(points or {})
    residuals = dict(residuals or {})
    analogs = dict(analogs or {})
    analog_units = dict(analog_units or {})
    if n_frames is None:
        n_frames = next(iter(points.values())).shape[0] if points else \
            int(round(len(next(iter(analogs.values()))) * point_rate / analog_rate))
    ratio = int(round(analog_rate / point_rate))
    n_analog = n_frames * ratio
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [float(point_rate)]
    labels = list(points)
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    if point_units is not None:
        c["parameters"]["POINT"]["UNITS"]["value"] = [point_units]
    pts = np.zeros((4, len(labels), n_frames))
    pts[3] = 1.0
    res = np.zeros((1, len(labels), n_frames))
    for i, lab in enumerate(labels):
        xyz = np.asarray(points[lab], dtype=float)
        assert xyz.shape == (n_frames, 3), (lab, xyz.shape)
        pts[:3, i, :] = xyz.T
        if lab in residuals:
            res[0, i, :] = residuals[lab]
    c["data"]["points"] = pts
    c["data"]["meta_points"]["residuals"] = res

    channel_rows: list[np.ndarray] = []
    channel_labels: list[str] = []
    channel_units: list[str] = []
    for lab, x in analogs.items():
        x = np.asarray(x, dtype=float)
        assert x.shape == (n_analog,), (lab, x.shape, n_analog)
        channel_rows.append(x)
        channel_labels.append(lab)
        channel_units.append(analog_units.get(lab, "V"))
    corners, origins, channels = [], [], []
    for k, plate in enumerate(plates, start=1):
        fz = np.asarray(plate["fz"], dtype=float)
        cop = np.asarray(plate["cop"], dtype=float)
        cx, cy = plate["centre"]
        assert fz.shape == (n_analog,) and cop.shape == (n_analog, 2)
        # plate frame z points down: the analog Fz of a loaded plate is negative; ezc3d's
        # COP is then centre - (My, Mx) / Fz_analog (checked by tests/unit/test_c3dfiles.py)
        fa = -fz
        mx = (cy - np.nan_to_num(cop[:, 1], nan=cy)) * fa
        my = (cx - np.nan_to_num(cop[:, 0], nan=cx)) * fa
        first = len(channel_rows) + 1
        for name, x, unit in (("Fx", np.zeros(n_analog), "N"), ("Fy", np.zeros(n_analog), "N"), ("Fz", fa, "N"),
                              ("Mx", mx, "Nmm"), ("My", my, "Nmm"), ("Mz", np.zeros(n_analog), "Nmm")):
            channel_rows.append(x)
            channel_labels.append(f"{name}{k}")
            channel_units.append(unit)
        hx, hy = PLATE_SIZE_MM[0] / 2, PLATE_SIZE_MM[1] / 2
        corners.append([[cx + hx, cy - hy, 0], [cx - hx, cy - hy, 0], [cx - hx, cy + hy, 0], [cx + hx, cy + hy, 0]])
        origins.append([0.0, 0.0, 0.0])
        channels.append(list(range(first, first + 6)))
    if channel_rows:
        c["parameters"]["ANALOG"]["RATE"]["value"] = [float(analog_rate)]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(channel_labels)
        c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(channel_units)
        c["data"]["analogs"] = np.asarray(channel_rows)[None, :, :]
    if plates:
        n = len(plates)
        _int_parameter(c, "FORCE_PLATFORM", "USED", [n])
        _int_parameter(c, "FORCE_PLATFORM", "TYPE", [2] * n)
        _int_parameter(c, "FORCE_PLATFORM", "ZERO", [1, 0])
        c.add_parameter("FORCE_PLATFORM", "CORNERS", np.transpose(np.asarray(corners, float), (2, 1, 0)))
        c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.asarray(origins, float).T)
        _int_parameter(c, "FORCE_PLATFORM", "CHANNEL", np.asarray(channels).T)
    for name, value in (parameters or {}).items():
        group, _, key = name.partition(":")
        c.add_parameter(group, key, value if isinstance(value, (list, tuple, str)) else [value])
    for label, context, t in events:
        c.add_event(time=[0.0, float(t)], context=context, label=label)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c.write(str(path))
    return path


def _knee_flexion(t: np.ndarray, strikes: np.ndarray, stride: float) -> np.ndarray:
    """A knee flexion curve (deg): loading-response flexion ~20 deg, swing ~60 deg."""
    k = np.searchsorted(strikes, t, side="right") - 1
    phase = (t - strikes[np.clip(k, 0, len(strikes) - 1)]) / stride
    phase = np.mod(phase, 1.0)
    return 5.0 + 15.0 * np.exp(-((phase - 0.15) / 0.07) ** 2) + 55.0 * np.exp(-((phase - 0.72) / 0.12) ** 2)


def flat_first_hump(u: np.ndarray, weight_n: float) -> np.ndarray:
    """vGRF over one stance (``u`` in [0, 1]) whose first hump is flat: a quick rise to ~1 BW
    at 12 % stance, then a slow climb to mid-stance (no local maximum in the first half), a
    valley-free second peak of 1.15 BW at 78 % and unloading."""
    u = np.asarray(u, dtype=float)
    f = np.zeros_like(u)
    inside = (u > 0) & (u < 1)
    x = u[inside]
    rise = np.clip(x / 0.12, 0, 1)
    shape = (1.0 - (1.0 - rise) ** 2) * (1.0 + 0.06 * x) + 0.12 * np.exp(-((x - 0.78) / 0.1) ** 2)
    fall = np.clip((1.0 - x) / 0.12, 0, 1)
    f[inside] = weight_n * shape * (1.0 - (1.0 - fall) ** 2)
    return f


def walking_c3d(path: str | Path, *, markers: Mapping[str, str] | None = None, knee_label: str = "{side}KneeAngles",
                side_tokens: Mapping[str, str] | None = None, emg: Mapping[str, str] | None = None,
                mass_parameter: str | None = "PROCESSING:Bodymass", mass_kg: float = 70.0,
                plates: bool = True, points: bool = True, vgrf: str = "double",
                events_shift_s: Mapping[tuple[str, str, int], float] | None = None, stored_events: bool = True,
                zero_gap: tuple[str, int, int] | None = None, seed: int = 3) -> dict[str, Any]:
    """Write a synthetic forward-walking trial; return the planted truth.

    Parameters
    ----------
    markers
        canonical marker (``L_heel``, ``R_toe``, ``pelvis``...) -> point label;
        default Plug-in-Gait-like ``LHEE``, ``RTOE``, ``SACR``.
    knee_label
        label of the knee-angle output; ``{side}`` is replaced by ``side_tokens``.
    emg
        analog label -> canonical channel (``R_vastus_lateralis``) to synthesise.
    mass_parameter
        where the body mass is stored (None: nowhere).
    plates
        one type-2 plate under the third stance of each foot.
    points
        False: no points at all (an EMG-only file).
    vgrf
        ``double`` (a normal double hump) or ``flat`` (:func:`flat_first_hump`).
    events_shift_s
        ``(side, event, k) -> shift`` added to stored event number ``k``.
    zero_gap
        ``(label, first_frame, n_frames)`` written as exact (0, 0, 0) triplets.
    """
    from tests.unit.gait.test_events import FRATE, RATE, grf_profile, walk

    trial, truth = walk(travel="FW", plates="one_each" if plates else "none", n_strides=4, seed=seed)
    tokens = dict(side_tokens or {"L": "L", "R": "R"})
    kin = trial.kinematics.frame
    n = len(kin)
    t = kin["time_s"].to_numpy()
    default = {f"{s}_{m}": f"{s}{m[:3].upper()}" for s in "LR" for m in ("heel", "toe")}
    default["pelvis"] = "SACR"
    markers = dict(markers or default)
    pts: dict[str, np.ndarray] = {}
    if points:
        for canon, label in markers.items():
            pts[label] = 1000.0 * np.column_stack([kin[f"{canon}_{a}"].to_numpy() for a in "xyz"])
        stride = 1.1
        for side in "LR":
            strikes = np.array([a for a, _ in truth[side]["stance"]])
            flex = _knee_flexion(t, strikes, stride)
            label = knee_label.replace("{side}", tokens[side])
            pts[label] = np.column_stack([flex, 2.0 + np.sin(t), -3.0 + np.cos(t)])
        if zero_gap is not None:
            label, a, k = zero_gap
            pts[label][a:a + k] = 0.0
    rng = np.random.default_rng(seed)
    band = signal.butter(4, [30.0, 150.0], btype="bandpass", fs=FRATE, output="sos")
    n_analog = int(round(n * FRATE / RATE))
    tf = np.arange(n_analog) / FRATE
    analogs: dict[str, np.ndarray] = {}
    for label, channel in (emg or {}).items():
        side = channel.split("_", 1)[0]
        strikes = np.array([a for a, _ in truth[side]["stance"]])
        k = np.clip(np.searchsorted(strikes, tf, side="right") - 1, 0, len(strikes) - 1)
        phase = np.mod((tf - strikes[k]) / 1.1, 1.0)
        amp = 2e-4 * (0.2 + np.exp(-((phase - 0.1) / 0.08) ** 2))
        # surface-EMG-like: band-limited noise (median frequency ~80 Hz), bursts after foot strike
        analogs[label] = amp * signal.sosfiltfilt(band, rng.standard_normal(n_analog))
    plate_list = []
    if plates:
        weight = mass_kg * 9.81
        for side, (pid, centre) in (("L", ("fp1", (0.0, 0.0))), ("R", ("fp2", (0.0, 0.0)))):
            pid, on, off = truth[side]["plate"]
            u = (tf - on) / (off - on)
            fz = flat_first_hump(u, weight) if vgrf == "flat" else grf_profile(u, "fw", weight_n=weight)
            cop = np.column_stack([trial.forces.get(f"{pid}_cop_x"), trial.forces.get(f"{pid}_cop_y")]) * 1000.0
            mid = np.nanmean(cop, axis=0)
            plate_list.append({"fz": fz, "cop": cop, "centre": (float(mid[0]), float(mid[1]))})
    events = []
    shifts = dict(events_shift_s or {})
    if stored_events:
        context = {"L": "Left", "R": "Right"}
        for side in "LR":
            for k, (fs, fo) in enumerate(truth[side]["stance"]):
                if not (t[2] < fs < t[-3]) or not (t[2] < fo < t[-3]):
                    continue
                events.append(("Foot Strike", context[side], fs + shifts.get((side, "foot_strike", k), 0.0)))
                events.append(("Foot Off", context[side], fo + shifts.get((side, "foot_off", k), 0.0)))
    params: dict[str, Any] = {"SUBJECTS:NAMES": ["Synth"]}
    if mass_parameter:
        params[mass_parameter] = float(mass_kg)
    write_c3d(path, point_rate=RATE, n_frames=n, points=pts, analog_rate=FRATE, analogs=analogs,
              plates=plate_list, parameters=params, events=events)
    return {"truth": truth, "time": t, "events": events, "plates": plate_list}


def simple_map(*, markers: Mapping[str, list] | None = None, knee_label: Any = "{side}KneeAngles",
               side_tokens: Mapping[str, str] | None = None, emg: Mapping[str, Mapping[str, str]] | None = None,
               mass: Any = None, gaps: Mapping[str, Any] | None = None, conditions=None) -> dict[str, Any]:
    """A channel map for :func:`walking_c3d` files (subjects = first folder of the path)."""
    out: dict[str, Any] = {
        "subject": {"pattern": "^(?P<subject>[^/]+)/"},
        "conditions": conditions or [{"match": ".", "condition": "walk"}],
        "design": {"direction": "FW", "surface": "overground", "speed_mps": None},
        "body": {"mass": mass if mass is not None else {"parameter": "PROCESSING:Bodymass", "unit": "kg"}},
        "model_outputs": [{"label": knee_label, "component": 0, "variable": "knee_flexion", "unit": "deg"}],
        "markers": dict(markers or {"heel": ["{side}HEE"], "toe": ["{side}TOE"], "pelvis": ["SACR"]}),
        "emg": {"channels": dict(emg or {})},
    }
    if side_tokens:
        out["side_tokens"] = dict(side_tokens)
    if gaps:
        out["gaps"] = dict(gaps)
    return out
