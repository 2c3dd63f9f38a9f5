"""Sagittal joint power and work in stance, and the quadriceps moment arm at the extensor peak.

Joint power is the net joint moment times the joint angular velocity
[Winter1991]_ [Winter2009]_ (ch. 5). With the canonical conventions
(docs/methods.md §0.2: flexion positive, internal moment extensor
positive, for the knee and the hip alike) the moment about the flexion
axis is ``-M_ext`` and

``P = -M_ext * d(theta)/dt``  (theta in rad; W/kg with moments in N.m/kg),

computed by :func:`retrogait.ingest.physics.knee_power` (the same function
the GT23 sign guards use, so the measure and the guard cannot disagree).
``P < 0``: the joint absorbs energy, the muscles producing the moment
lengthen under load (eccentric work); ``P > 0``: they shorten (concentric
work). Work is the time integral of power (trapezoidal rule, J/kg).

Splitting the work by the sign of the moment says which muscle group did
it: negative work with an extensor moment is eccentric extensor work (at
the knee: the quadriceps lengthening, K1/K3 of forward walking), positive
work with an extensor moment is concentric extensor work (at the hip: the
gluteus maximus and hamstrings shortening, H1), negative work with a
flexor moment is eccentric flexor work (at the hip: the hip flexors
lengthening, H2 of forward walking). Net joint moments are the sum of all
muscles crossing the joint: a negative-work phase under an extensor
moment is eccentric work of the extensor group net of any co-contracting
flexors, not of one muscle (docs/methods.md §4.10).

References
----------
.. [Winter1991] Winter DA (1991). The biomechanics and motor control of
   human gait: normal, elderly and pathological. 2nd ed. University of
   Waterloo Press.
.. [Winter2009] Winter DA (2009). Biomechanics and motor control of human
   movement. 4th ed. Wiley (ch. 7, joint power and work).
"""

from __future__ import annotations

import numpy as np

from retrogait.ingest.physics import knee_power

__all__ = ["joint_power", "stance_work", "WORK_PARTS", "moment_arm_at_peak"]

#: The work parts :func:`stance_work` returns (J/kg with moments in N.m/kg).
WORK_PARTS = ("negative", "positive", "extensor_negative", "extensor_positive", "flexor_negative",
              "flexor_positive")


def joint_power(flexion_deg, extensor_moment, time_s) -> np.ndarray:
    """Sagittal joint power ``P = -M_ext dtheta/dt`` of the knee or the hip [Winter1991]_.

    Parameters
    ----------
    flexion_deg
        Joint flexion [deg], flexion positive.
    extensor_moment
        Internal joint moment, extensor positive [N.m/kg gives W/kg].
    time_s
        Sample times [s], strictly increasing.

    Returns
    -------
    numpy.ndarray
        Power per sample (second-order central difference of the angle).
    """
    return knee_power(flexion_deg, extensor_moment, time_s)


def stance_work(flexion_deg, extensor_moment, time_s) -> dict[str, float]:
    """Negative and positive joint work over a window, total and split by the sign of the moment.

    ``negative`` is the integral of ``min(P, 0)`` (a value <= 0: the energy
    absorbed, signed as in [Winter1991]_), ``positive`` of ``max(P, 0)``
    (>= 0); ``extensor_negative`` integrates ``min(P, 0)`` only where the
    moment is extensor (``M_ext > 0``), etc. Each part is the trapezoidal
    integral of the clipped power (the power crosses zero between samples;
    at 100-200 Hz the error of clipping per sample is a few tenths of a per
    cent of the work). ``negative + positive`` is the net work.

    Parameters
    ----------
    flexion_deg, extensor_moment, time_s
        As in :func:`joint_power`, restricted to the window (e.g. stance).

    Returns
    -------
    dict
        One value per name of :data:`WORK_PARTS`, J/kg (NaN when a sample
        is missing or the window has fewer than 3 samples).

    Examples
    --------
    Flexing at 1 rad/s for 1 s under a 1 N.m/kg extensor moment absorbs 1 J/kg:

    >>> t = np.linspace(0.0, 1.0, 101)
    >>> w = stance_work(np.degrees(t), np.ones(101), t)
    >>> round(w["negative"], 9), w["positive"], round(w["extensor_negative"], 9)
    (-1.0, 0.0, -1.0)
    """
    t = np.asarray(time_s, dtype=float)
    m = np.asarray(extensor_moment, dtype=float)
    flex = np.asarray(flexion_deg, dtype=float)
    if t.ndim != 1 or t.size != m.size or t.size != flex.size:
        raise ValueError(f"stance_work: flexion_deg ({flex.size}), extensor_moment ({m.size}) and time_s "
                         f"({t.size}) must be one-dimensional and of one length")
    if t.size < 3 or not (np.isfinite(flex).all() and np.isfinite(m).all()):
        return dict.fromkeys(WORK_PARTS, np.nan)
    p = joint_power(flex, m, t)
    neg, pos = np.minimum(p, 0.0), np.maximum(p, 0.0)
    ext, flx = m > 0, m < 0
    parts = {"negative": neg, "positive": pos, "extensor_negative": np.where(ext, neg, 0.0),
             "extensor_positive": np.where(ext, pos, 0.0), "flexor_negative": np.where(flx, neg, 0.0),
             "flexor_positive": np.where(flx, pos, 0.0)}
    return {k: float(np.trapezoid(v, t)) for k, v in parts.items()}


def moment_arm_at_peak(knee_flexion_deg, knee_extensor_moment, moment_arm) -> float:
    """Quadriceps moment arm [m] at the instant of the peak internal knee extensor moment.

    A literal reading of the claim that backward walking gives the
    quadriceps a "mechanical advantage" (docs/methods.md §4.10, an
    INTERPRETATION): the moment arm of the quadriceps (patellar tendon)
    about the knee, a function of knee flexion ``moment_arm(theta)`` (the
    patellofemoral model's curve, :func:`retrogait.gait.kneeload.quadriceps_moment_arm_m`),
    evaluated at the knee flexion of the sample with the largest extensor
    moment in the window. A longer arm means less quadriceps force per unit
    extensor moment (``F_q = M_ext / r``).

    Parameters
    ----------
    knee_flexion_deg
        Knee flexion in the window [deg].
    knee_extensor_moment
        Internal knee extensor moment in the window (any unit; only its
        argmax is used).
    moment_arm
        Callable ``theta_deg -> r`` [m].

    Returns
    -------
    float
        The moment arm [m]; NaN when the window has no extensor moment
        (``max M_ext <= 0``) or a missing sample.
    """
    flex = np.asarray(knee_flexion_deg, dtype=float)
    m = np.asarray(knee_extensor_moment, dtype=float)
    if flex.shape != m.shape or flex.ndim != 1 or flex.size == 0:
        raise ValueError("moment_arm_at_peak: knee_flexion_deg and knee_extensor_moment must be one-dimensional "
                         "and of one length")
    if not (np.isfinite(flex).all() and np.isfinite(m).all()) or not m.max() > 0:
        return float("nan")
    return float(np.asarray(moment_arm(flex[int(np.argmax(m))]), dtype=float))
