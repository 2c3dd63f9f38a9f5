"""Per-cycle measures on tiny known inputs: missing samples give QC rows, never a value over NaN."""

from types import SimpleNamespace

import numpy as np

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
