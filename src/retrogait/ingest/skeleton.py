"""Skeletal motion (BVH) to joint centres and segment angles.

BVH files (Biovision hierarchy; Meredith & Maddock 2001) store a joint
hierarchy (each joint's offset from its parent) and, per frame, each joint's
local translation and Euler rotation in the order its ``CHANNELS`` line
lists them. This module

* reads a file with the maintained reader ``bvhio`` (Euler angles converted
  to quaternions in each joint's own channel order, intrinsic rotations;
  position channels of non-root joints replace the offset, as bvhio and
  the format's exporters do) and composes the joints' world poses by
  forward kinematics with :class:`scipy.spatial.transform.Rotation`
  (:func:`read_bvh`, :func:`forward_kinematics`);
* turns the world positions into the lab frame of the canonical trial
  (z up, metres; :func:`axes_matrix`);
* computes knee flexion from the thigh and shank segments
  (:func:`knee_flexion`) and a heel point fixed in the foot segment
  (:func:`derive_heel`), because BVH skeletons have no heel.

Conventions and references are in docs/methods.md §4.7.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: the workflow imports this module at parse time
    from scipy.spatial.transform import Rotation

__all__ = [
    "BvhMotion",
    "read_bvh",
    "forward_kinematics",
    "axes_matrix",
    "knee_flexion",
    "derive_heel",
    "HeelModel",
    "BvhError",
]

_AXES = {"x": 0, "y": 1, "z": 2}


class BvhError(ValueError):
    """A BVH file that cannot be read or does not have what is asked of it."""


@dataclass
class BvhMotion:
    """World poses of every joint of a BVH file (file units, file axes).

    Attributes
    ----------
    names
        Joint names in file order (end sites excluded).
    parents
        Index of each joint's parent in ``names`` (-1 for the root).
    channels
        The ``CHANNELS`` of each joint, as written in the file.
    frame_time
        Seconds per frame (``Frame Time``), snapped to an exact 1/N s when
        the file wrote 1/N truncated to 6-7 digits.
    positions
        ``{joint: (n_frames, 3)}`` world position of each joint centre.
    rotations
        ``{joint: Rotation}`` world orientation of each joint's frame
        (``n_frames`` rotations).
    """

    names: list[str]
    parents: list[int]
    channels: dict[str, list[str]]
    frame_time: float
    positions: dict[str, np.ndarray] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(next(iter(self.positions.values())).shape[0]) if self.positions else 0

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.frame_time


def _snap_frame_time(frame_time: float) -> float:
    """``1/N`` exactly when ``frame_time`` is 1/N written with 6-7 significant digits."""
    rate = 1.0 / frame_time
    nearest = round(rate)
    if nearest > 0 and abs(rate - nearest) < 1e-4 * nearest:
        return 1.0 / nearest
    return frame_time


def forward_kinematics(parents: list[int], local_positions: list[np.ndarray],
                       local_rotations: list[Rotation]) -> tuple[list[np.ndarray], list[Rotation]]:
    """World positions and orientations of a joint tree.

    For each joint ``j`` with parent ``p`` (parents listed before children):
    ``R_j = R_p * r_j`` and ``x_j = x_p + R_p t_j``, where ``t_j`` is the
    joint's local translation (its offset, or its position channels) and
    ``r_j`` its local rotation; the root's world pose is its local pose.
    This is the BVH composition rule (Meredith & Maddock 2001).

    Parameters
    ----------
    parents : list of int
        Parent index of each joint, -1 for the root; a parent must come
        before its children.
    local_positions : list of ndarray, shape (n_frames, 3)
        Local translation of each joint.
    local_rotations : list of scipy Rotation
        Local rotation of each joint (``n_frames`` rotations each).

    Returns
    -------
    positions, rotations : list
        World position (n_frames, 3) and world Rotation of each joint.
    """
    if not (len(parents) == len(local_positions) == len(local_rotations)):
        raise ValueError("parents, local_positions and local_rotations must have one entry per joint")
    world_p: list[np.ndarray] = []
    world_r: list[Rotation] = []
    for j, p in enumerate(parents):
        t = np.asarray(local_positions[j], dtype=float)
        if p < 0:
            world_p.append(t.copy())
            world_r.append(local_rotations[j])
            continue
        if p >= j:
            raise ValueError(f"joint {j}: its parent {p} must come before it")
        world_p.append(world_p[p] + world_r[p].apply(t))
        world_r.append(world_r[p] * local_rotations[j])
    return world_p, world_r


def read_bvh(path: str | os.PathLike) -> BvhMotion:
    """Read a BVH file and compute every joint's world pose.

    Parsing and the Euler-to-quaternion conversion in each joint's channel
    order are bvhio's (``readAsBvh``); the composition is
    :func:`forward_kinematics`.

    Raises
    ------
    BvhError
        The file cannot be parsed (the message names the file and bvhio's
        reason) or has no frames.
    """
    import warnings

    with warnings.catch_warnings():  # bvhio imports PyGLM as "glm", which PyGLM >= 2.8 flags as pending deprecation
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import bvhio  # imported here: only BVH datasets need it

    path = Path(path)
    try:
        container = bvhio.readAsBvh(str(path))
    except FileNotFoundError:
        raise BvhError(f"{path.name}: file not found") from None
    except Exception as exc:  # bvhio raises SyntaxError/ValueError/IndexError on malformed files
        raise BvhError(f"{path.name}: not a readable BVH file ({type(exc).__name__}: {exc})") from None
    if container.FrameCount < 1 or not (container.FrameTime and container.FrameTime > 0):
        raise BvhError(f"{path.name}: no motion frames (Frames: {container.FrameCount}, "
                       f"Frame Time: {container.FrameTime})")
    names: list[str] = []
    parents: list[int] = []
    channels: dict[str, list[str]] = {}
    local_p: list[np.ndarray] = []
    from scipy.spatial.transform import Rotation

    local_r: list[Rotation] = []

    def visit(joint, parent: int) -> None:
        if joint.Name in channels:
            raise BvhError(f"{path.name}: joint name {joint.Name!r} appears twice")
        if len(joint.Keyframes) != container.FrameCount:
            raise BvhError(f"{path.name}: joint {joint.Name} has {len(joint.Keyframes)} frames, "
                           f"the file declares {container.FrameCount}")
        idx = len(names)
        names.append(joint.Name)
        parents.append(parent)
        channels[joint.Name] = list(joint.Channels)
        local_p.append(np.array([[k.Position.x, k.Position.y, k.Position.z] for k in joint.Keyframes], dtype=float))
        quat = np.array([[k.Rotation.x, k.Rotation.y, k.Rotation.z, k.Rotation.w] for k in joint.Keyframes],
                        dtype=float)
        local_r.append(Rotation.from_quat(quat))
        for child in joint.Children:
            visit(child, idx)

    visit(container.Root, -1)
    world_p, world_r = forward_kinematics(parents, local_p, local_r)
    return BvhMotion(names=names, parents=parents, channels=channels,
                     frame_time=_snap_frame_time(float(container.FrameTime)),
                     positions=dict(zip(names, world_p)), rotations=dict(zip(names, world_r)))


def _axis(spec: str) -> np.ndarray:
    s = spec.strip().lower()
    sign = -1.0 if s.startswith("-") else 1.0
    name = s.lstrip("+-")
    if name not in _AXES:
        raise ValueError(f"axis {spec!r} is not one of +x, -x, +y, -y, +z, -z")
    v = np.zeros(3)
    v[_AXES[name]] = sign
    return v


def axes_matrix(*, up: str, forward: str) -> np.ndarray:
    """Rotation from the file's axes to the lab frame (x forward, y left, z up).

    Parameters
    ----------
    up, forward : str, keyword-only
        The file axis pointing up and the file axis pointing forward (the
        capture volume's forward direction), each one of ``+x``, ``-x``,
        ``+y``, ``-y``, ``+z``, ``-z``.

    Returns
    -------
    ndarray, shape (3, 3)
        ``A`` with ``p_lab = A @ p_file``; its rows are the lab axes in file
        coordinates: forward, up x forward (left), up. A proper rotation
        (det +1) for a right-handed file frame.

    Raises
    ------
    ValueError
        When ``up`` and ``forward`` are not perpendicular axes.
    """
    u, f = _axis(up), _axis(forward)
    if abs(float(u @ f)) > 0:
        raise ValueError(f"up ({up}) and forward ({forward}) must be two different axes")
    return np.vstack([f, np.cross(u, f), u])


def knee_flexion(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, lateral_axis: np.ndarray) -> np.ndarray:
    """Knee flexion from the thigh and shank segments (deg, flexion positive).

    The magnitude is the 3-D angle between the thigh (hip -> knee joint
    centres) and the shank (knee -> ankle joint centres): 0 deg with the leg
    straight. Its sign is the sign of ``(thigh x shank) . lateral_axis``,
    where ``lateral_axis`` points to the subject's LEFT (e.g. right hip ->
    left hip): positive when the shank is rotated backwards relative to the
    thigh (flexion), negative in hyperextension, for either leg (sagittal
    joint-angle convention, docs/methods.md §0.2 and §4.7).

    Parameters
    ----------
    hip, knee, ankle : ndarray, shape (n, 3)
        Joint-centre trajectories in one right-handed frame.
    lateral_axis : ndarray, shape (n, 3) or (3,)
        Direction to the subject's left.

    Returns
    -------
    ndarray, shape (n,)
        Knee flexion in degrees; NaN where a segment has zero length.
    """
    thigh = np.asarray(knee, float) - np.asarray(hip, float)
    shank = np.asarray(ankle, float) - np.asarray(knee, float)
    lat = np.broadcast_to(np.asarray(lateral_axis, float), thigh.shape)
    nt = np.linalg.norm(thigh, axis=-1)
    ns = np.linalg.norm(shank, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(thigh * shank, axis=-1) / (nt * ns)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    sign = np.where(np.sum(np.cross(thigh, shank) * lat, axis=-1) < 0, -1.0, 1.0)
    out = sign * angle
    out[~((nt > 0) & (ns > 0))] = np.nan
    return out


@dataclass(frozen=True)
class HeelModel:
    """How the heel point was placed (one foot of one trial).

    ``local`` is the heel's position in the foot joint's frame (the units of
    the positions given); ``n_reference`` the number of foot-flat frames it
    was averaged over; ``back`` the heel's distance behind the ankle centre,
    along the foot, at foot flat; ``drop`` how far below the ankle centre.
    """

    local: np.ndarray
    n_reference: int
    back: float
    drop: float


def derive_heel(ankle: np.ndarray, toe: np.ndarray, foot_rotation: Rotation, *, up: np.ndarray,
                back_fraction: float = 0.4, flat_tolerance: float = 0.01) -> tuple[np.ndarray, HeelModel]:
    """A heel point fixed in the foot segment (BVH skeletons have no heel).

    Definition (docs/methods.md §4.7): the heel is the point rigidly attached
    to the foot joint's frame that, while the foot is flat on the floor, lies
    at the height of the toe (metatarsophalangeal) joint and
    ``back_fraction`` x (ankle-to-toe distance) behind the ankle joint
    centre along the foot's horizontal direction. So, like a Plug-in Gait
    heel marker placed at the height of the toe marker, the heel-toe line is
    horizontal at foot flat: it is tilted toe-up when the foot lands
    heel-first and toe-down when it lands toe-first. Foot-flat frames are
    those in which both the ankle and the toe joint are within
    ``flat_tolerance`` of their lowest height in the trial (5th
    percentile); the heel's foot-frame position is the mean over them.

    The heel's HEIGHT relative to the toe, and so the foot angle and the
    toe-first / heel-first classification, does not depend on
    ``back_fraction``; it only moves the heel along the foot.

    Parameters
    ----------
    ankle, toe : ndarray, shape (n, 3)
        Ankle and toe joint centres (lab frame).
    foot_rotation : scipy Rotation
        World orientation of the foot joint in the same frame (``n``
        rotations).
    up : ndarray, shape (3,), keyword-only
        Unit vertical of that frame.
    back_fraction : float, keyword-only
        Heel distance behind the ankle as a fraction of the ankle-to-toe
        distance. 0.4 [D]: adult feet, heel to ankle centre about 5 cm and
        ankle centre to the metatarsal heads about 13 cm.
    flat_tolerance : float, keyword-only
        Height band above the lowest ankle and toe heights that counts as
        foot flat (units of the positions; 0.01 for metres).

    Returns
    -------
    heel : ndarray, shape (n, 3)
    model : HeelModel

    Raises
    ------
    ValueError
        When no frame has the foot flat (the message says which heights
        were seen), or on malformed input.
    """
    ankle = np.asarray(ankle, float)
    toe = np.asarray(toe, float)
    up = np.asarray(up, float)
    if ankle.shape != toe.shape or ankle.ndim != 2 or ankle.shape[1] != 3:
        raise ValueError("ankle and toe must be (n, 3) arrays of the same shape")
    if len(foot_rotation) != len(ankle):
        raise ValueError("foot_rotation must have one rotation per frame")
    if not (math.isfinite(back_fraction) and back_fraction >= 0):
        raise ValueError(f"back_fraction must be >= 0, got {back_fraction!r}")
    if not (math.isfinite(flat_tolerance) and flat_tolerance > 0):
        raise ValueError(f"flat_tolerance must be > 0, got {flat_tolerance!r}")
    up = up / np.linalg.norm(up)
    ha, ht = ankle @ up, toe @ up
    ok = np.isfinite(ha) & np.isfinite(ht)
    if not ok.any():
        raise ValueError("no finite ankle and toe positions")
    la, lt = np.percentile(ha[ok], 5), np.percentile(ht[ok], 5)
    flat = ok & (ha <= la + flat_tolerance) & (ht <= lt + flat_tolerance)
    if flat.sum() < 1:
        raise ValueError(f"no foot-flat frame: the ankle is never within {flat_tolerance:g} of its lowest height "
                         f"({la:.3g}) while the toe is within {flat_tolerance:g} of its lowest ({lt:.3g})")
    d = toe[flat] - ankle[flat]
    length = np.linalg.norm(d, axis=1)
    horiz = d - np.outer(d @ up, up)
    hn = np.linalg.norm(horiz, axis=1)
    good = hn > 1e-9
    if not good.any():
        raise ValueError("the foot is vertical in every foot-flat frame")
    fwd = horiz[good] / hn[good, None]
    drop = (ha[flat] - ht[flat])[good]
    back = back_fraction * length[good]
    offset_world = -drop[:, None] * up - back[:, None] * fwd
    local = foot_rotation[np.flatnonzero(flat)[good]].inv().apply(offset_world).mean(axis=0)
    heel = ankle + foot_rotation.apply(np.tile(local, (len(ankle), 1)))
    return heel, HeelModel(local=local, n_reference=int(good.sum()), back=float(np.mean(back)),
                           drop=float(np.mean(drop)))
