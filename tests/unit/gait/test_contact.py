"""Foot angle at contact, contact pattern and the kinematic measures, on tiny signals with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrogait.gait.contact import contact_patterns, foot_angle
from retrogait.gait.measures import subject_measures
from retrogait.ingest.trial import Stream, Trial, TrialMeta

RATE = 30.0


def meta(**kw):
    base = dict(dataset="d", subject="S1", trial="t1", condition="c", direction="BW", speed_mps=float("nan"),
                surface="overground", mass_kg=float("nan"), height_m=float("nan"), mass_source="not recorded",
                source_files="a.bvh", source_sha256="0" * 64, adapter="test")
    return TrialMeta(**{**base, **kw})


def trial_with_foot(pitch_deg: np.ndarray, *, extra: dict | None = None, surface="overground") -> Trial:
    """Right foot: heel at the origin, toe 0.2 m ahead, the toe raised by ``pitch_deg`` (toe up positive)."""
    n = len(pitch_deg)
    t = np.arange(n) / RATE
    a = np.radians(pitch_deg)
    cols = {"time_s": t, "R_heel_x": np.zeros(n), "R_heel_y": np.zeros(n), "R_heel_z": np.full(n, 0.03),
            "R_toe_x": 0.2 * np.cos(a), "R_toe_y": np.zeros(n), "R_toe_z": 0.03 + 0.2 * np.sin(a)}
    cols.update(extra or {})
    units = {c: ("deg" if c.endswith("flexion") else "m") for c in cols if c != "time_s"}
    return Trial(meta=meta(surface=surface), kinematics=Stream(RATE, pd.DataFrame(cols), units))


def test_foot_angle_is_toe_up_positive():
    heel = np.zeros((3, 3))
    toe = np.array([[0.2, 0, 0.0], [0.2, 0, 0.2], [0, 0.2, -0.2]])
    np.testing.assert_allclose(foot_angle(heel, toe), [0.0, 45.0, -45.0], atol=1e-12)


@pytest.mark.parametrize("contact_deg, pattern", [(-25.0, "toe-first"), (18.0, "heel-first"), (3.0, "flat")])
def test_contact_pattern_from_the_angle_at_foot_strike_against_mid_stance(contact_deg, pattern):
    # stance 0-1 s: the foot lands at contact_deg and is flat (+2 deg marker offset) from 0.2 s on
    t = np.arange(31) / RATE
    pitch = np.where(t < 0.2, contact_deg + 2.0, 2.0)
    trial = trial_with_foot(pitch)
    cycles = pd.DataFrame({"side": ["R"], "fs_s": [0.0], "fo_s": [1.0]})
    out = contact_patterns(trial, cycles, flat_deg=5.0)
    assert out["foot_angle_contact_deg"].iloc[0] == pytest.approx(contact_deg)
    assert out["contact_pattern"].iloc[0] == pattern


def test_contact_pattern_unknown_without_heel_and_toe():
    trial = Trial(meta=meta(), kinematics=Stream(RATE, pd.DataFrame({"time_s": np.arange(5) / RATE,
                                                                    "R_knee_flexion": np.zeros(5)}),
                                                 {"R_knee_flexion": "deg"}))
    out = contact_patterns(trial, pd.DataFrame({"side": ["R"], "fs_s": [0.0], "fo_s": [0.1]}))
    assert out["contact_pattern"].iloc[0] == "unknown" and np.isnan(out["foot_angle_contact_deg"].iloc[0])


def test_kinematic_measures_known_answers():
    # one stride of the right leg, 0-1.2 s, foot off at 0.8 s; pelvis moves 0.9 m forward in the stride;
    # knee flexion: 40 deg at contact, falls linearly to 10 deg at foot off, peaks at 55 deg in swing
    n = 37
    t = np.arange(n) / RATE
    knee = np.interp(t, [0.0, 0.8, 1.0, 1.2], [40.0, 10.0, 55.0, 40.0])
    pitch = np.where(t < 0.2, -30.0, 0.0)
    extra = {"pelvis_x": 0.75 * t, "pelvis_y": np.zeros(n), "pelvis_z": np.full(n, 0.9), "R_knee_flexion": knee}
    trial = trial_with_foot(pitch, extra=extra)
    cycles = pd.DataFrame({"dataset": ["d"], "subject": ["S1"], "trial": ["t1"], "condition": ["c"],
                           "direction": ["BW"], "speed_mps": [np.nan], "surface": ["overground"], "side": ["R"],
                           "cycle": [0], "fs_s": [0.0], "fo_s": [0.8], "next_fs_s": [1.2], "kind": ["stride"],
                           "event_method": ["kinematic"], "kinetics_valid": [False], "plate": [""],
                           "qc_status": ["kept"], "qc_reason": [""]})
    cycles = pd.concat([cycles, contact_patterns(trial, cycles)], axis=1)
    m = subject_measures([trial], cycles, pd.DataFrame()).set_index("measure")["value"]
    assert m["walking_speed"] == pytest.approx(0.75)
    assert m["stride_time"] == pytest.approx(1.2)
    assert m["cadence"] == pytest.approx(100.0)
    assert m["stance_pct"] == pytest.approx(100 * 0.8 / 1.2)
    assert m["knee_flexion_at_contact"] == pytest.approx(40.0)
    assert m["knee_flexion_at_toe_off"] == pytest.approx(10.0)
    assert m["knee_extension_excursion_stance"] == pytest.approx(30.0)
    assert m["knee_flexion_peak_swing"] == pytest.approx(55.0)
    assert m["foot_angle_at_contact"] == pytest.approx(-30.0)
    assert m["toe_first_contact"] == 100.0
    # kinematics only: no kinetic or EMG measure row at all (absent, not NaN)
    assert not any(name.startswith(("pfj_", "knee_extensor_moment", "kam", "vgrf", "emg_")) for name in m.index)
    assert np.isfinite(m.to_numpy()).all()
