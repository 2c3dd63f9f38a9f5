"""Per-cycle measures on tiny known inputs: missing samples give QC rows, never a value over NaN."""

from types import SimpleNamespace

import numpy as np
import pytest

from retrogait.gait.measures import _at, _gaps, _missing_against_siblings


def test_a_window_with_missing_samples_says_how_many():
    assert _gaps(np.array([1.0, 2.0, 3.0]), "x stance") is None
    assert _gaps(np.array([1.0, np.nan, np.nan, 4.0]), "L_knee_flexion stance") == \
        "2 of 4 L_knee_flexion stance samples missing (NaN)"
    assert _gaps(np.array([]), "x") == "no x samples"


def test_a_value_at_an_event_needs_both_samples_around_it():
    t = np.arange(0.0, 1.0, 0.1)
    y = t * 10
    assert _at(t, y, 0.25, "y") == (2.5, None)
    y[3] = np.nan
    value, why = _at(t, y, 0.25, "y")
    assert np.isnan(value) and why == "y missing (NaN) at 0.250 s"


def _row(cycle, kind="stride", kinetics=True, side="L"):
    return SimpleNamespace(side=side, kind=kind, kinetics_valid=kinetics, cycle=cycle)


def test_a_measure_its_siblings_have_becomes_a_missing_row():
    per_cycle = [
        (_row(0), {"stride_time": 1.0, "emg_mean_soleus": 50.0}, {}, {}),
        (_row(1), {"stride_time": 1.1}, {}, {}),                     # its soleus curve was not normalised
        (_row(2, kind="stance"), {"stance_time": 0.7}, {}, {}),     # stance-only: no stride measures by design
        (_row(3, kinetics=False), {"stride_time": 1.0}, {}, {}),    # other kinetics status: not a sibling of 0
        (_row(4), {"stride_time": 1.0}, {}, {"emg_mean_soleus": "a specific reason"}),
    ]
    _missing_against_siblings(per_cycle)
    missing = {row.cycle: m for row, _v, _meth, m in per_cycle}
    assert set(missing[1]) == {"emg_mean_soleus"} and "EMG envelope" in missing[1]["emg_mean_soleus"]
    assert missing[0] == {} and missing[2] == {} and missing[3] == {}
    assert missing[4] == {"emg_mean_soleus": "a specific reason"}  # a specific reason is kept


def _joint_trial(n=121, rate=100.0):
    """Knee flexing at 1 rad/s under a 1 N.m/kg extensor moment; hip extending at 0.5 rad/s under a
    0.4 N.m/kg extensor moment (then flexor, for the flexor parts); 0-1.2 s at 100 Hz."""
    import pandas as pd

    from retrogait.ingest.trial import Stream

    t = np.arange(n) / rate
    hip_m = np.where(t < 0.4, 0.4, -0.4)
    frame = pd.DataFrame({"time_s": t, "L_knee_flexion": np.degrees(t), "L_knee_extensor_moment": np.ones(n),
                          "L_hip_flexion": 30.0 - np.degrees(0.5 * t), "L_hip_extensor_moment": hip_m})
    units = {"L_knee_flexion": "deg", "L_knee_extensor_moment": "N.m/kg", "L_hip_flexion": "deg",
             "L_hip_extensor_moment": "N.m/kg"}
    meta = SimpleNamespace(mass_kg=70.0, height_m=1.75, surface="treadmill", speed_mps=0.6, trial="t1",
                           dataset="d", subject="s")
    return SimpleNamespace(kinematics=Stream(rate, frame, units), forces=None, meta=meta)


def test_joint_work_hip_and_moment_arm_measures_of_one_cycle():
    """Known answers through the measures stage (docs/methods.md §4.10)."""
    from retrogait.gait.kneeload import PFJModel, quadriceps_moment_arm_m
    from retrogait.gait.measures import _cycle_values

    row = SimpleNamespace(side="L", kind="stride", kinetics_valid=True, fs_s=0.1, fo_s=0.7, next_fs_s=1.1,
                          plate="", contact_pattern="", foot_angle_contact_deg=np.nan)
    v, methods, missing = _cycle_values(_joint_trial(), row, PFJModel())
    # knee: P = -1 * 1 rad/s = -1 W/kg over 0.6 s
    assert v["knee_work_negative_stance"] == pytest.approx(-0.6)
    assert v["knee_extensor_work_negative_stance"] == pytest.approx(-0.6)
    assert v["knee_work_positive_stance"] == 0.0 and v["knee_extensor_work_positive_stance"] == 0.0
    # hip: P = -M_ext * (-0.5 rad/s): +0.2 W/kg while extensor (0.1-0.4 s, concentric extensors),
    # -0.2 W/kg while flexor (0.4-0.7 s, eccentric flexors); trapezoid of the masked power: each part gets
    # its whole intervals plus half of the 10-ms interval where the moment changes sign (0.39-0.40 s)
    assert v["hip_extensor_work_positive_stance"] == pytest.approx(0.2 * (0.29 + 0.005), rel=1e-6)
    assert v["hip_flexor_work_negative_stance"] == pytest.approx(-0.2 * (0.30 + 0.005), rel=1e-6)
    assert v["hip_flexion_at_contact"] == pytest.approx(30.0 - np.degrees(0.05))
    assert v["hip_flexion_peak_stance"] == pytest.approx(30.0 - np.degrees(0.05))
    assert v["hip_extensor_moment_peak"] == pytest.approx(0.4) and v["hip_flexor_moment_peak"] == pytest.approx(0.4)
    # the extensor moment is constant: its first stance sample (foot strike, 0.1 rad of flexion) is the peak
    assert v["quadriceps_moment_arm_at_peak_extensor"] == pytest.approx(float(quadriceps_moment_arm_m(np.degrees(0.1))))
    assert "Winter 1991" in methods["knee_work_"] and not missing


def test_joint_work_with_a_missing_moment_sample_is_a_missing_row_with_the_reason():
    from retrogait.gait.kneeload import PFJModel
    from retrogait.gait.measures import _cycle_values

    trial = _joint_trial()
    trial.kinematics.frame.loc[30, "L_hip_extensor_moment"] = np.nan
    row = SimpleNamespace(side="L", kind="stride", kinetics_valid=True, fs_s=0.1, fo_s=0.7, next_fs_s=1.1,
                          plate="", contact_pattern="", foot_angle_contact_deg=np.nan)
    v, _, missing = _cycle_values(trial, row, PFJModel())
    assert "hip_flexor_work_negative_stance" not in v and "knee_work_negative_stance" in v
    assert missing["hip_flexor_work_negative_stance"] == \
        "1 of 61 L_hip_extensor_moment stance samples missing (NaN)"
