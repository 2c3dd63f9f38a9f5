"""Which part of the foot lands first: foot angle at contact, toe-first vs heel-first.

The event detector (:mod:`retrogait.gait.events`) finds WHEN a foot lands;
it assumes heel-first contact when travelling forward and toe-first when
travelling backward, so its own ``detail`` cannot be evidence of either.
This module measures the landing independently, from the heel and toe
trajectories at the detected foot strike (docs/methods.md §4.8):

``foot angle``
    Angle of the heel -> toe line to the horizontal plane (deg), positive
    toe up. :func:`foot_angle`.
``foot angle at contact``
    The foot angle at foot strike minus the cycle's foot-flat reference:
    the median foot angle over the middle third of the same stance
    (33-67 %), when the foot is flat on the floor in forward and backward
    walking. Positive: the toe is higher than at foot flat (heel lower: a
    heel-first landing); negative: toe lower (toe-first). The reference
    removes the marker or model offset between heel and toe (a heel marker
    sits higher above the sole than a toe marker in some marker sets).
``contact pattern``
    ``toe-first`` when the angle at contact is below ``-flat_deg``,
    ``heel-first`` above ``+flat_deg``, ``flat`` in between, ``unknown``
    without heel and toe trajectories.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from retrogait.ingest.trial import Trial

__all__ = ["PATTERNS", "foot_angle", "contact_patterns", "REFERENCE_WINDOW"]

#: Contact patterns, in the order the tables count them.
PATTERNS = ("toe-first", "heel-first", "flat", "unknown")

#: Part of stance (fraction) whose median foot angle is the foot-flat reference.
REFERENCE_WINDOW = (1 / 3, 2 / 3)


def foot_angle(heel: np.ndarray, toe: np.ndarray) -> np.ndarray:
    """Angle of the heel -> toe line to the horizontal (deg, toe up positive).

    Parameters
    ----------
    heel, toe : ndarray, shape (n, 3)
        Trajectories in the lab frame, z vertical up.

    Returns
    -------
    ndarray, shape (n,)
        ``atan2(dz, |(dx, dy)|)`` in degrees, in [-90, 90]; NaN where a
        coordinate is missing.

    Examples
    --------
    >>> foot_angle(np.array([[0.0, 0, 0]]), np.array([[0.2, 0, 0.2]])).round(6).tolist()
    [45.0]
    """
    d = np.asarray(toe, float) - np.asarray(heel, float)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError("heel and toe must be (n, 3) arrays")
    return np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))


def contact_patterns(trial: Trial, cycles: pd.DataFrame, *, flat_deg: float = 5.0) -> pd.DataFrame:
    """Foot angle at contact and contact pattern of every cycle of one trial.

    Parameters
    ----------
    trial : Trial
        The trial; its kinematics need ``<side>_heel_x/y/z`` and
        ``<side>_toe_x/y/z`` (m, z up).
    cycles : pandas.DataFrame
        Cycles of the trial (columns ``side``, ``fs_s``, ``fo_s``).
    flat_deg : float, keyword-only
        Half-width of the ``flat`` band (deg).

    Returns
    -------
    pandas.DataFrame
        Same index as ``cycles``; columns ``foot_angle_contact_deg`` (NaN
        when not measurable) and ``contact_pattern`` (:data:`PATTERNS`).
    """
    if not (isinstance(flat_deg, (int, float)) and math.isfinite(flat_deg) and flat_deg >= 0):
        raise ValueError(f"flat_deg must be a non-negative number, got {flat_deg!r}")
    values = np.full(len(cycles), np.nan)
    patterns = ["unknown"] * len(cycles)
    kin = trial.kinematics
    if kin is None or cycles.empty:
        return pd.DataFrame({"foot_angle_contact_deg": values, "contact_pattern": patterns}, index=cycles.index)
    t = kin.time
    angles: dict[str, np.ndarray] = {}
    for side in set(cycles["side"]):
        cols = [f"{side}_{m}_{a}" for m in ("heel", "toe") for a in "xyz"]
        if all(kin.has(c) for c in cols):
            heel = np.column_stack([kin.get(c) for c in cols[:3]])
            toe = np.column_stack([kin.get(c) for c in cols[3:]])
            angles[side] = foot_angle(heel, toe)
    lo, hi = REFERENCE_WINDOW
    for k, (side, fs, fo) in enumerate(zip(cycles["side"], cycles["fs_s"], cycles["fo_s"])):
        a = angles.get(side)
        fs, fo = float(fs), float(fo)
        if a is None or not (np.isfinite(fs) and np.isfinite(fo) and fo > fs):
            continue
        mid = (t >= fs + lo * (fo - fs)) & (t <= fs + hi * (fo - fs)) & np.isfinite(a)
        ok = np.isfinite(a)
        if not mid.any() or ok.sum() < 2 or not (t[ok][0] <= fs <= t[ok][-1]):
            continue
        value = float(np.interp(fs, t[ok], a[ok]) - np.median(a[mid]))
        values[k] = value
        patterns[k] = "toe-first" if value < -flat_deg else "heel-first" if value > flat_deg else "flat"
    return pd.DataFrame({"foot_angle_contact_deg": values, "contact_pattern": patterns}, index=cycles.index)
