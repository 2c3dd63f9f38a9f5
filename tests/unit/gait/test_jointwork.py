"""Joint power and work, and the quadriceps moment arm at the extensor peak: known answers."""

from __future__ import annotations

import numpy as np
import pytest

from retrogait.gait.jointwork import WORK_PARTS, joint_power, moment_arm_at_peak, stance_work
from retrogait.gait.kneeload import quadriceps_moment_arm_m


def _sine(n=4001):
    """theta = A sin(w t) (rad), M_ext = B cos(w t) over one period: P = -A B w cos^2(w t) <= 0 everywhere."""
    w, A, B = 2 * np.pi, 0.3, 0.8
    t = np.linspace(0.0, 1.0, n)
    return t, np.degrees(A * np.sin(w * t)), B * np.cos(w * t), (w, A, B)


def test_power_of_a_sinusoidal_angle_and_moment():
    t, flex, m, (w, A, B) = _sine()
    p = joint_power(flex, m, t)
    assert p[5:-5] == pytest.approx(-A * B * w * np.cos(w * t[5:-5]) ** 2, abs=1e-4)


def test_work_of_a_sinusoidal_angle_and_moment_is_known_analytically():
    """Over one period: integral of -A B w cos^2 = -A B w / 2 (J/kg), all of it absorbed."""
    t, flex, m, (w, A, B) = _sine()
    out = stance_work(flex, m, t)
    assert out["negative"] == pytest.approx(-A * B * w / 2, rel=1e-4)
    assert out["positive"] == pytest.approx(0.0, abs=1e-6)
    # the moment is extensor for cos > 0 (first and last quarters), flexor in the middle half: half each
    assert out["extensor_negative"] == pytest.approx(-A * B * w / 4, rel=1e-3)
    assert out["flexor_negative"] == pytest.approx(-A * B * w / 4, rel=1e-3)
    assert out["extensor_positive"] == out["flexor_positive"] == pytest.approx(0.0, abs=1e-6)


def test_work_splits_into_concentric_and_eccentric_parts():
    """theta = A sin(w t), M = B sin(w t): P = -A B w sin cos, alternating; |each quarter| = A B / 2."""
    w, A, B = 2 * np.pi, 0.3, 0.8
    t = np.linspace(0.0, 1.0, 8001)
    out = stance_work(np.degrees(A * np.sin(w * t)), B * np.sin(w * t), t)
    # quarters: Q1 flexing, extensor M -> absorb; Q2 extending, extensor M -> generate;
    # Q3 extending (theta falling below 0), flexor M -> absorb; Q4 flexing back, flexor M -> generate
    q = A * B / 2
    assert out["extensor_negative"] == pytest.approx(-q, rel=1e-3)
    assert out["extensor_positive"] == pytest.approx(q, rel=1e-3)
    assert out["flexor_negative"] == pytest.approx(-q, rel=1e-3)
    assert out["flexor_positive"] == pytest.approx(q, rel=1e-3)
    assert out["negative"] + out["positive"] == pytest.approx(0.0, abs=1e-6)


def test_work_does_not_depend_on_the_sampling_rate_or_the_time_origin():
    for n, t0 in ((401, 0.0), (2001, 7.3)):
        t = np.linspace(t0, t0 + 1.0, n)
        flex = np.degrees(0.3 * np.sin(2 * np.pi * (t - t0)))
        out = stance_work(flex, 0.8 * np.cos(2 * np.pi * (t - t0)), t)
        assert out["negative"] == pytest.approx(-0.3 * 0.8 * np.pi, rel=2e-3)


def test_work_sign_follows_the_moment_convention():
    """Flexing 1 rad/s under an extensor moment absorbs; under a flexor moment it generates."""
    t = np.linspace(0.0, 1.0, 101)
    ext = stance_work(np.degrees(t), np.ones(101), t)
    flx = stance_work(np.degrees(t), -np.ones(101), t)
    assert ext["extensor_negative"] == pytest.approx(-1.0) and ext["positive"] == 0.0
    assert flx["flexor_positive"] == pytest.approx(1.0) and flx["negative"] == 0.0


def test_work_is_nan_with_a_missing_sample_and_inputs_are_checked():
    t = np.linspace(0.0, 1.0, 11)
    flex = np.degrees(t)
    flex[4] = np.nan
    assert all(np.isnan(v) for v in stance_work(flex, np.ones(11), t).values())
    assert set(stance_work(np.degrees(t), np.ones(11), t)) == set(WORK_PARTS)
    with pytest.raises(ValueError, match="one length"):
        stance_work(np.degrees(t), np.ones(10), t)


def test_moment_arm_at_the_peak_extensor_moment():
    flex = np.array([5.0, 20.0, 40.0, 60.0])
    m = np.array([0.1, 0.3, 0.9, 0.2])   # peak at 40 deg
    arm = moment_arm_at_peak(flex, m, quadriceps_moment_arm_m)
    # MA(40) = 8e-8*40^3 - 1.3e-5*40^2 + 2.8e-4*40 + 0.046 (docs/methods.md §1.3)
    assert arm == pytest.approx(8e-8 * 40 ** 3 - 1.3e-5 * 40 ** 2 + 2.8e-4 * 40 + 0.046)
    assert arm == pytest.approx(0.04152)
    assert np.isnan(moment_arm_at_peak(flex, -np.abs(m), quadriceps_moment_arm_m))  # no extensor moment
    assert np.isnan(moment_arm_at_peak(np.array([1.0, np.nan]), np.array([1.0, 2.0]), quadriceps_moment_arm_m))
    with pytest.raises(ValueError, match="one length"):
        moment_arm_at_peak(flex, m[:3], quadriceps_moment_arm_m)
