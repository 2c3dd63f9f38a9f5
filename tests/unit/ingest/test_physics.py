"""Known-answer tests of retrogait.ingest.physics (docs/methods.md §0.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrogait.ingest.physics import (ankle_pushoff_change, body_mass_from_belts, contacts, knee_power, strikes,
                                      loading_response_knee_work, sign_verdict)
from retrogait.ingest.units import G


def test_knee_power_of_a_sinusoidal_angle_and_moment():
    """theta = A sin(wt) deg, M = B cos(wt): P = -B * A*pi/180 * w * cos^2(wt), mean -A B w pi/360."""
    rate, f = 1000.0, 1.0
    t = np.arange(0, 2.0, 1 / rate)
    w = 2 * np.pi * f
    a_deg, b = 30.0, 0.8
    p = knee_power(a_deg * np.sin(w * t), b * np.cos(w * t), t)
    expected = -b * np.radians(a_deg) * w * np.cos(w * t) ** 2
    np.testing.assert_allclose(p[1:-1], expected[1:-1], atol=1e-4)
    assert np.mean(p[:-1]) == pytest.approx(-b * np.radians(a_deg) * w / 2, rel=1e-3)
    # flexing under an extensor moment absorbs; flexing under a flexor moment generates
    assert knee_power(np.degrees(t), np.full(t.size, 1.0), t)[5] == pytest.approx(-1.0)
    assert knee_power(np.degrees(t), np.full(t.size, -1.0), t)[5] == pytest.approx(1.0)


def test_knee_power_is_unit_consistent_and_checks_inputs():
    t = np.linspace(0, 1, 101)
    theta = 20 * np.sin(2 * np.pi * t)
    m = np.cos(2 * np.pi * t)
    # a moment in N.m gives the power in W: mass scales it linearly
    np.testing.assert_allclose(knee_power(theta, 70 * m, t), 70 * knee_power(theta, m, t))
    # non-uniform sampling: same answer at the shared samples up to the difference order
    tt = np.sort(np.concatenate([t, t[:-1] + 0.004]))
    p2 = knee_power(20 * np.sin(2 * np.pi * tt), np.cos(2 * np.pi * tt), tt)
    np.testing.assert_allclose(np.interp(t[5:-5], tt, p2), knee_power(theta, m, t)[5:-5], atol=0.02)
    with pytest.raises(ValueError, match="increase strictly"):
        knee_power(theta, m, t[::-1])
    with pytest.raises(ValueError, match="expected 101"):
        knee_power(theta[:-1], m, t)


def _square_contacts(rate=200.0, n_steps=5, stance=0.6, stride=1.0, t0=3.0):
    t = np.arange(0, t0 + n_steps * stride + 1.0, 1 / rate)
    fz = np.zeros(t.size)
    for k in range(n_steps):
        fs = t0 + k * stride
        fz[(t >= fs) & (t < fs + stance)] = 700.0
    return t, fz


def test_contacts_finds_complete_contacts_only():
    t, fz = _square_contacts()
    c = contacts(fz, 200.0)
    assert c.shape == (5, 2)
    np.testing.assert_allclose(t[c[:, 0]], 3.0 + np.arange(5))
    np.testing.assert_allclose(t[c[:, 1]] - t[c[:, 0]], 0.6)
    # a contact cut by the end of the record or touching NaN is not complete
    fz2 = fz.copy()
    fz2[t >= 7.3] = np.nan
    assert contacts(fz2, 200.0).shape == (4, 2)
    # a 10-ms spike is merged away, a 15-ms dropout inside stance too
    fz3 = fz.copy()
    fz3[(t >= 2.0) & (t < 2.01)] = 500.0
    fz3[(t >= 3.3) & (t < 3.315)] = 0.0
    assert contacts(fz3, 200.0).shape == (5, 2)


def _walk(direction="FW", flip_moment=False, rate=200.0, n=6, stride=1.1, stance=0.62):
    """Knee flexion and moment of forward walking: flexion 5->20 deg over 0-25 % stance under an extensor moment."""
    t = np.arange(0, n * stride, 1 / rate)
    u = (t % stride) / stride
    s = u / stance
    flex = np.where(u < stance, 5 + 15 * np.sin(np.pi * np.clip(s / 0.5, 0, 1)) ** 2 * (s < 0.5), 40 * np.sin(np.pi * (u - stance) / (1 - stance)))
    moment = np.where(u < stance, 0.6 * np.exp(-((s - 0.22) / 0.08) ** 2) - 0.2 * np.exp(-((s - 0.7) / 0.1) ** 2), 0.0)
    if flip_moment:
        moment = -moment
    stances = [(k * stride, k * stride + stance * stride) for k in range(n)]
    return t, flex, moment, stances


def test_loading_response_work_is_negative_in_forward_walking_and_flips_with_the_moment():
    t, flex, m, stances = _walk()
    w = loading_response_knee_work(t, flex, m, stances)
    assert np.isfinite(w).all() and (w < -0.01).all()
    assert sign_verdict(w, expected=-1, margin=0.002).verdict == "confirmed"
    w_flip = loading_response_knee_work(t, flex, -m, stances)
    np.testing.assert_allclose(w_flip, -w)
    assert sign_verdict(w_flip, expected=-1, margin=0.002).verdict == "contradicted"
    # a stiff knee (no loading-response flexion) gives no judgement, not a false verdict
    w0 = loading_response_knee_work(t, np.full(t.size, 5.0), m, stances)
    assert np.isnan(w0).all() and sign_verdict(w0, expected=-1, margin=0.002).verdict == "inconclusive"
    # a stance outside the data is NaN
    assert np.isnan(loading_response_knee_work(t, flex, m, [(100.0, 100.6)])).all()


def test_ankle_pushoff_change_known_answer():
    t = np.arange(0, 4, 0.005)
    theta = 10 - 30 * ((t % 1.0) >= 0.45) * np.clip(((t % 1.0) - 0.45) / 0.15, 0, 1)  # +10 -> -20 deg by 60 %
    stances = [(k, k + 0.6) for k in range(3)]
    d = ankle_pushoff_change(t, theta, stances)  # window 0.45 .. 0.60
    np.testing.assert_allclose(d, -30.0, atol=1e-6)
    np.testing.assert_allclose(ankle_pushoff_change(t, -theta, stances), 30.0, atol=1e-6)
    assert np.isnan(ankle_pushoff_change(t, theta, [(3.9, 4.5)])).all()


def test_body_mass_from_one_and_two_belts():
    rate, stride, mass = 200.0, 1.0, 72.0
    t = np.arange(0, 8, 1 / rate)
    phase = (t % stride) / stride
    # one foot's vertical force: a half-sine over 60 % of the stride with impulse m g T / 2
    shape = np.where(phase < 0.6, np.sin(np.pi * phase / 0.6), 0.0)
    left = mass * G * stride / 2 * shape / (0.6 * stride * 2 / np.pi)
    right = np.interp((t + stride / 2) % stride, t[: int(rate * stride)], left[: int(rate * stride)])
    strikes = np.arange(1.0, 7.5, stride)
    m1, n1, how1 = body_mass_from_belts(t, [left], strikes)
    assert m1 == pytest.approx(mass, rel=2e-3) and n1 == 6 and "one belt" in how1 and "symmetric" in how1
    m2, _, how2 = body_mass_from_belts(t, [left, right], strikes)
    assert m2 == pytest.approx(mass, rel=2e-3) and "both belts" in how2
    # mass scales with force, not with the unit of time
    assert body_mass_from_belts(t * 1000 / 1000, [2 * left], strikes)[0] == pytest.approx(2 * mass, rel=2e-3)
    assert math.isnan(body_mass_from_belts(t, [left], strikes[:2])[0])  # one stride is not enough
    gap = left.copy()
    gap[500] = np.nan
    assert math.isnan(body_mass_from_belts(t, [gap], strikes)[0])


def test_sign_verdict_rules():
    assert sign_verdict([-1, -2, -3], expected=-1, margin=0.5).verdict == "confirmed"
    assert sign_verdict([1, 2, 3], expected=-1, margin=0.5).verdict == "contradicted"
    assert sign_verdict([-1, 2, -3, 2], expected=-1, margin=0.5).verdict == "inconclusive"
    assert sign_verdict([-0.1, -0.2], expected=-1, margin=0.5).verdict == "inconclusive"  # too small
    assert sign_verdict([-1.0], expected=-1, margin=0.5).verdict == "inconclusive"  # one stance
    r = sign_verdict([-1, -2, np.nan, 3], expected=-1, margin=0.5)
    assert (r.n, r.n_expected, r.n_opposite, r.median) == (3, 2, 1, -1.0) and r.verdict == "confirmed"
    with pytest.raises(ValueError):
        sign_verdict([1], expected=0, margin=0)


def test_strikes_include_a_contact_running_to_the_end():
    t, fz = _square_contacts()
    fz[t >= 7.3] = 700.0  # the last contact never ends
    assert contacts(fz, 200.0).shape == (4, 2)
    np.testing.assert_allclose(t[strikes(fz, 200.0)], 3.0 + np.arange(5))
    fz[(t > 4.9) & (t < 5.0)] = np.nan  # the sample before the third strike is unknown
    np.testing.assert_allclose(t[strikes(fz, 200.0)], [3.0, 4.0, 6.0, 7.0])
