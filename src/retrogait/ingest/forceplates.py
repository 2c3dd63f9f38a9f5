"""Force-platform signals of a C3D file, computed from its analog channels with numpy.

A C3D file stores a force platform as raw analog channels plus the
``FORCE_PLATFORM`` parameters that say how to read them (``TYPE``,
``CHANNEL``, ``CORNERS``, ``ORIGIN``, ``CAL_MATRIX``, ``FPCOPPOLY``). This
module turns them into the ground reaction force, the moment about the
plate's centre, the centre of pressure and the free moment, in the lab
frame, for platform types 1 to 4 (Motion Lab Systems 2008, *The C3D File
Format User Guide*, chapter "The FORCE_PLATFORM group"; the type-3 centre of
pressure correction as in Kistler's manual, type 9281/9287 plates).

The equations, the parameter rules and the sign conventions are those of
ezc3d's ``ForcePlatforms`` module (Michaud & Begon 2021, *ezc3d: An
easy-to-use C3D file reader and writer*, JOSS 6(58):2911), evaluated in the
same order of operations, so the result is ezc3d's to the last bit (the
test suite checks it on every fixture file and on written files of each
type). The computation is vectorised over frames: ezc3d's Python wrapper
converts its per-frame C++ vectors to numpy one frame at a time, which was
60 % of the time of reading a C3D trial. Everything else about the file
(points, analogs, parameters) is still read by ezc3d.

Public API: :class:`PlateSignals`, :func:`read_force_plates`,
:func:`loaded_cop_outside` (a physical check of the result),
:class:`ForcePlateError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ForcePlateError", "PlateSignals", "read_force_plates", "loaded_cop_outside", "loaded_cop_travel"]

#: Analog channels per platform type (C3D User Guide, FORCE_PLATFORM:CHANNEL).
_N_CHANNELS = {1: 6, 2: 6, 3: 8, 4: 6}
_UNSUPPORTED = {5: "type 5 (6 channels with an 8-channel calibration) is not supported",
                6: "type 6 (12 channels, 12 x 12 calibration) is not supported",
                7: "type 7 (8 channels, 8 x 8 calibration) is not supported",
                11: "type 11 (Kistler split-belt treadmill) is not supported",
                12: "type 12 (Gaitway treadmill) is not supported",
                21: "type 21 (AMTI stairs) is not supported"}


class ForcePlateError(ValueError):
    """The FORCE_PLATFORM group cannot be interpreted (the message says which parameter and plate)."""


@dataclass(frozen=True)
class PlateSignals:
    """One force platform's signals in the lab frame, at the analog rate.

    Attributes
    ----------
    number
        Platform number, 1-based (the order of ``FORCE_PLATFORM:TYPE``).
    type
        C3D platform type (1-4).
    force
        ``(3, n)`` force exerted on the plate [``unit_force``].
    moment
        ``(3, n)`` moment about the plate's centre [``unit_moment``].
    center_of_pressure
        ``(3, n)`` centre of pressure [``unit_position``]; NaN or inf where
        the vertical force is 0.
    free_moment
        ``(3, n)`` free moment ("Tz") about the centre of pressure
        [``unit_moment``].
    corners, origin
        ``(3, 4)`` plate corners in the lab and ``(3,)`` the sensor origin
        relative to the plate centre (sign-normalised: z <= 0 for types 1-4).
    unit_force, unit_moment, unit_position
        Units as declared (``FORCE_PLATFORM:UNITS`` or N; ``POINT:UNITS`` or
        m; the moment's is their product, e.g. ``Nmm``).
    """

    number: int
    type: int
    force: np.ndarray
    moment: np.ndarray
    center_of_pressure: np.ndarray
    free_moment: np.ndarray
    corners: np.ndarray
    origin: np.ndarray
    unit_force: str
    unit_moment: str
    unit_position: str


def _param(params: Mapping[str, Any], group: str, name: str) -> Any:
    """The value of ``GROUP:NAME`` or None."""
    entry = (params.get(group) or {}).get(name)
    return None if entry is None else entry.get("value")


def _flat(value: Any) -> np.ndarray:
    """Parameter values in file order (the first dimension varies fastest)."""
    return np.asarray(value, dtype=float).ravel(order="F")


def _first_string(value: Any) -> str | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return str(items[0]).strip() if items else None


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a x b for ``(3, n)`` or ``(3,)`` operands (component order as in ezc3d's Vector3d)."""
    return np.stack([a[1] * b[2] - a[2] * b[1],
                     a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _rotate(frame: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``frame @ v`` summed left to right, for a ``(3, n)`` block of vectors."""
    return np.stack([frame[i, 0] * v[0] + frame[i, 1] * v[1] + frame[i, 2] * v[2] for i in range(3)])


def _reference_frame(corners: np.ndarray) -> np.ndarray:
    """Plate axes (columns) in the lab frame from its corners: x = c1 - c2, y = c1 - c4,
    z = x cross y, y = z cross x, each normalised (ezc3d's convention)."""
    x = corners[:, 0] - corners[:, 1]
    y = corners[:, 0] - corners[:, 3]
    z = _cross(x, y)
    y = _cross(z, x)
    axes = [v * (1.0 / np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])) for v in (x, y, z)]  # ezc3d: v *= 1 / |v|
    return np.stack(axes, axis=1)


def _plate(params: Mapping[str, Any], analogs: np.ndarray, idx: int, units: tuple[str, str, str]) -> PlateSignals:
    where = f"force plate {idx + 1}"
    types = _flat(_param(params, "FORCE_PLATFORM", "TYPE"))
    if types.size < idx + 1:
        raise ForcePlateError(f"FORCE_PLATFORM:TYPE has {types.size} value(s) but FORCE_PLATFORM:USED "
                              f"declares at least {idx + 1} plates")
    ptype = int(types[idx])
    if ptype not in _N_CHANNELS:
        raise ForcePlateError(f"{where}: " + _UNSUPPORTED.get(ptype, f"type {ptype} is not a C3D platform type"))

    corner_values = _param(params, "FORCE_PLATFORM", "CORNERS")
    all_corners = _flat(corner_values if corner_values is not None else [])
    if all_corners.size < 12 * (idx + 1):
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CORNERS has {all_corners.size} values, "
                              f"{12 * (idx + 1)} needed")
    corners = all_corners[12 * idx:12 * (idx + 1)].reshape(4, 3).T
    mean_corners = np.zeros(3)
    for k in range(4):
        mean_corners = mean_corners + corners[:, k]
    mean_corners = mean_corners * (1.0 / 4)

    origin_values = _param(params, "FORCE_PLATFORM", "ORIGIN")
    all_origins = _flat(origin_values if origin_values is not None else [])
    if all_origins.size < 3 * (idx + 1):
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:ORIGIN has {all_origins.size} values, {3 * (idx + 1)} needed")
    origin = all_origins[3 * idx:3 * (idx + 1)].copy()
    if ptype == 1:
        origin[:2] = 0.0
    if origin[2] > 0.0:  # the sensor lies below the surface: z <= 0 whatever sign the lab wrote
        origin = -1 * origin

    n_ch = _N_CHANNELS[ptype]
    cal = _calibration(params, idx, ptype, n_ch, where)

    channel_entry = (params.get("FORCE_PLATFORM") or {}).get("CHANNEL")
    if channel_entry is None:
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CHANNEL is missing")
    channel_values = np.asarray(channel_entry.get("value"))
    dims = list(channel_values.shape) + [1] * (2 - channel_values.ndim)
    if dims[0] < n_ch or dims[1] < idx + 1:
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CHANNEL is {dims[0]} x {dims[1]}; a type-{ptype} plate "
                              f"needs {n_ch} channels for each of {idx + 1} plates")
    flat = channel_values.ravel(order="F").astype(int)
    channels = flat[idx * dims[0]:idx * dims[0] + n_ch] - 1
    bad = [int(c) + 1 for c in channels if not 0 <= c < analogs.shape[0]]
    if bad:
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CHANNEL names analog channel(s) {bad}, but the file has "
                              f"{analogs.shape[0]}")
    ch = analogs[channels].astype(float, copy=False)
    frame = _reference_frame(corners)
    unit_force, unit_moment, unit_position = units

    with np.errstate(divide="ignore", invalid="ignore"):
        if ptype == 1:
            force_raw = ch[0:3]
            zeros = np.zeros_like(ch[0])
            cop_raw = np.stack([ch[3], ch[4], zeros])
            tz_raw = np.stack([zeros, zeros, ch[5]])
            force = _rotate(frame, force_raw)
            cop = _rotate(frame, cop_raw)
            free = _rotate(frame, tz_raw)
            moment = _cross(force, cop) - free
            cop = cop + mean_corners[:, None]
        else:
            if ptype == 3:
                force_raw = np.stack([ch[0] + ch[1], ch[2] + ch[3], ch[4] + ch[5] + ch[6] + ch[7]])
                moment_raw = np.stack([origin[1] * (ch[4] + ch[5] - ch[6] - ch[7]),
                                       origin[0] * (ch[5] + ch[6] - ch[4] - ch[7]),
                                       origin[1] * (ch[1] - ch[0]) + origin[0] * (ch[2] - ch[3])])
                moment_raw = moment_raw + _cross(force_raw, np.array([0.0, 0.0, origin[2]]))
            else:
                raw = ch[0:6]
                if ptype == 4:
                    raw = np.stack([_sum_left_to_right(cal[i], raw) for i in range(6)])
                force_raw, moment_raw = raw[0:3], raw[3:6]
                moment_raw = moment_raw + _cross(force_raw, origin)
            force = _rotate(frame, force_raw)
            moment = _rotate(frame, moment_raw)
            cop_raw = np.stack([-moment_raw[1] / force_raw[2], moment_raw[0] / force_raw[2],
                                np.zeros_like(force_raw[2])])
            if ptype == 3:
                cop_raw = _kistler_cop(params, idx, cop_raw, where)
            cop = _rotate(frame, cop_raw) + mean_corners[:, None]
            free = _rotate(frame, moment_raw - _cross(force_raw, -1 * cop_raw))
    return PlateSignals(number=idx + 1, type=ptype, force=force, moment=moment, center_of_pressure=cop,
                        free_moment=free, corners=corners, origin=origin, unit_force=unit_force,
                        unit_moment=unit_moment, unit_position=unit_position)


def _sum_left_to_right(row: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``row @ block`` as ``row[0]*block[0] + row[1]*block[1] + ...`` in that order (ezc3d's Matrix66)."""
    out = row[0] * block[0]
    for k in range(1, len(row)):
        out = out + row[k] * block[k]
    return out


def _calibration(params, idx: int, ptype: int, n_ch: int, where: str) -> np.ndarray:
    """The plate's calibration matrix (used by type 4; C3D User Guide: zeros where it is not needed)."""
    cal = np.zeros((n_ch, n_ch))
    entry = (params.get("FORCE_PLATFORM") or {}).get("CAL_MATRIX")
    if entry is None:
        if ptype == 2:
            return cal
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CAL_MATRIX is missing; a type-{ptype} plate needs it")
    value = np.asarray(entry.get("value"), dtype=float)
    dims = list(value.shape)
    if len(dims) < 3 or dims[2] <= idx:
        if ptype in (1, 2, 3):
            return cal
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CAL_MATRIX has dimensions {dims}; a type-4 plate needs a "
                              f"{n_ch} x {n_ch} matrix for each of {idx + 1} plates")
    flat = value.ravel(order="F")
    if flat.size == 0:  # Motion Analysis files: an empty matrix means identity
        return np.eye(n_ch)
    skip = dims[0] * dims[1]
    need = skip * idx + n_ch * n_ch
    if flat.size < need:
        raise ForcePlateError(f"{where}: FORCE_PLATFORM:CAL_MATRIX has {flat.size} values, {need} needed")
    for i in range(n_ch):
        for j in range(n_ch):
            cal[i, j] = flat[skip * idx + j * n_ch + i]
    return cal


def _kistler_cop(params, idx: int, cop_raw: np.ndarray, where: str) -> np.ndarray:
    """Type-3 centre of pressure corrected by the plate's FPCOPPOLY polynomial (Kistler's manual; offsets
    subtracted after being computed from the raw centre of pressure)."""
    poly = np.zeros(12)
    value = _param(params, "FORCE_PLATFORM", "FPCOPPOLY")
    if value is not None:
        flat = _flat(value)
        if flat.size:
            if flat.size < 12 * (idx + 1):
                raise ForcePlateError(f"{where}: FORCE_PLATFORM:FPCOPPOLY has {flat.size} values, "
                                      f"{12 * (idx + 1)} needed")
            poly = flat[12 * idx:12 * (idx + 1)]
    x, y = cop_raw[0], cop_raw[1]
    x_offset = ((poly[0] * y ** 4 + poly[1] * y ** 2 + poly[2]) * x ** 3
                + (poly[3] * y ** 4 + poly[4] * y ** 2 + poly[5]) * x)
    y_offset = ((poly[6] * x ** 4 + poly[7] * x ** 2 + poly[8]) * y ** 3
                + (poly[9] * x ** 4 + poly[10] * x ** 2 + poly[11]) * y)
    return np.stack([x - x_offset, y - y_offset, cop_raw[2]])


def read_force_plates(params: Mapping[str, Any], analogs: np.ndarray) -> list[PlateSignals]:
    """Every platform that ``FORCE_PLATFORM:USED`` declares, computed from the analog channels.

    Parameters
    ----------
    params
        The file's parameters as ezc3d gives them (``c3d["parameters"]``).
    analogs
        The analog samples, ``(channels, samples)`` or ezc3d's
        ``(1, channels, samples)``, scaled as ezc3d returns them
        (ANALOG:SCALE, GEN_SCALE and OFFSET applied).

    Returns
    -------
    list of PlateSignals
        Empty when the file declares no platform.

    Raises
    ------
    ForcePlateError
        When the group cannot be interpreted: an unsupported type, or a
        TYPE, CORNERS, ORIGIN, CHANNEL, CAL_MATRIX or FPCOPPOLY parameter
        too short for the plates declared, or a channel outside the file.
    """
    used = _param(params, "FORCE_PLATFORM", "USED")
    n_plates = int(_flat(used)[0]) if used is not None and np.size(used) else 0
    if n_plates <= 0:
        return []
    analogs = np.asarray(analogs)
    if analogs.ndim == 3:
        analogs = analogs[0]
    if analogs.ndim != 2:
        analogs = np.empty((0, 0))
    unit_position = _first_string(_param(params, "POINT", "UNITS")) or "m"
    unit_force = _first_string(_param(params, "FORCE_PLATFORM", "UNITS")) or "N"
    units = (unit_force, unit_force + unit_position, unit_position)
    return [_plate(params, analogs, idx, units) for idx in range(n_plates)]


def _loaded_cop_local(plate: PlateSignals, load_fraction: float, min_samples: int
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """The centre of pressure of the loaded samples (vertical force above ``load_fraction`` of its maximum)
    in the plate's own axes about its centre (3, n), and the plate's half-sizes along those axes (3,);
    None when fewer than ``min_samples`` samples are loaded."""
    fz = np.abs(plate.force[2])
    if not np.isfinite(fz).any() or np.nanmax(fz) <= 0:
        return None
    loaded = np.isfinite(fz) & (fz > load_fraction * np.nanmax(fz)) & np.isfinite(plate.center_of_pressure).all(axis=0)
    if loaded.sum() < min_samples:
        return None
    frame = _reference_frame(plate.corners)
    centre = plate.corners.mean(axis=1)
    local = frame.T @ (plate.center_of_pressure[:, loaded] - centre[:, None])
    half = np.abs(frame.T @ (plate.corners - centre[:, None])).max(axis=1)
    return local, half


def loaded_cop_outside(plate: PlateSignals, *, load_fraction: float = 0.2, min_samples: int = 10) -> float:
    """How far outside the plate the loaded centre of pressure lies: the median, over the samples whose
    vertical force exceeds ``load_fraction`` of its maximum, of the distance [``unit_position``] from the
    centre of pressure to the plate's outline (0 inside), in the plate's own axes.

    A foot on a plate presses inside it, so a loaded centre of pressure outside is a wrong reading: a
    moment unit that is not ``FORCE_PLATFORM:UNITS`` x ``POINT:UNITS``, an ``ORIGIN`` or ``CORNERS``
    that do not belong to the plate. On every real fixture it is 0 (all loaded samples inside).
    NaN when fewer than ``min_samples`` samples are loaded.
    """
    got = _loaded_cop_local(plate, load_fraction, min_samples)
    if got is None:
        return float("nan")
    local, half = got
    outside = np.hypot(np.maximum(np.abs(local[0]) - half[0], 0.0), np.maximum(np.abs(local[1]) - half[1], 0.0))
    return float(np.median(outside))


def loaded_cop_travel(plate: PlateSignals, *, load_fraction: float = 0.2, min_samples: int = 10) -> float:
    """How far the loaded centre of pressure moves over the plate: the larger, of the plate's two
    horizontal axes, 95th minus 5th percentile of the centre of pressure [``unit_position``] over the
    samples whose vertical force exceeds ``load_fraction`` of its maximum.

    A foot rolls from heel to toe over a plate (the centre of pressure travels about the length of the
    foot in a step [Winter2009]_), and even quiet standing sways it by millimetres; a centre of pressure
    that does not move while the plate is loaded comes from moment channels that read (almost) nothing:
    unconnected, or in a unit far smaller than ``FORCE_PLATFORM:UNITS`` x ``POINT:UNITS`` (it then sits
    at the point below the plate's origin, *inside* the plate, where :func:`loaded_cop_outside` cannot
    see it). The smallest value on the real fixtures is 17 mm (a turn, ESMAC HC032A18).
    NaN when fewer than ``min_samples`` samples are loaded.

    References
    ----------
    .. [Winter2009] Winter DA (2009). Biomechanics and Motor Control of Human Movement, 4th ed. Wiley,
       chapter 5 (kinetics: force plates and the centre of pressure).
    """
    got = _loaded_cop_local(plate, load_fraction, min_samples)
    if got is None:
        return float("nan")
    local, _ = got
    span = np.percentile(local[:2], 95, axis=1) - np.percentile(local[:2], 5, axis=1)
    return float(np.max(span))
