"""Time normalisation to 101 nodes: known answers and honest gaps."""

import numpy as np
import pytest

from retrogait.gait.cycles import node_columns, sample_interval, time_normalise


def test_linear_signal_is_reproduced_exactly():
    t = np.arange(0, 2.0001, 0.01)
    y = 3.0 * t + 1.0
    out = time_normalise(t, y, 0.5, 1.5)
    np.testing.assert_allclose(out, 3.0 * np.linspace(0.5, 1.5, 101) + 1.0)


def test_sine_cycle_nodes_match_the_analytic_curve():
    t = np.arange(0, 1.0001, 0.001)
    y = np.sin(2 * np.pi * t)
    out = time_normalise(t, y, 0.0, 1.0)
    np.testing.assert_allclose(out, np.sin(2 * np.pi * np.linspace(0, 1, 101)), atol=1e-5)
    assert out.shape == (101,)


def test_node_columns_are_percent_labels():
    cols = node_columns(101)
    assert cols[0] == "pct_000" and cols[50] == "pct_050" and cols[-1] == "pct_100" and len(cols) == 101


def test_gap_in_data_gives_nan_nodes_not_invented_values():
    t = np.arange(0, 1.0001, 0.01)
    y = t.copy()
    y[40:60] = np.nan  # 0.2 s gap
    out = time_normalise(t, y, 0.0, 1.0)
    assert np.isnan(out[45:55]).all()
    assert np.isfinite(out[:38]).all() and np.isfinite(out[62:]).all()


def test_a_sample_interval_given_once_gives_the_same_curves_and_gaps():
    t = np.arange(0, 1.0001, 0.01)
    y = np.sin(2 * np.pi * t)
    y[40:60] = np.nan
    dt = sample_interval(t)
    assert dt == pytest.approx(0.01)
    for start, end in ((0.0, 1.0), (0.3, 0.7), (0.5, 1.5)):
        np.testing.assert_array_equal(time_normalise(t, y, start, end, sample_interval_s=dt),
                                      time_normalise(t, y, start, end))
    # the interval decides what a gap is: a coarser time base would bridge the 0.2 s hole
    assert np.isfinite(time_normalise(t, y, 0.0, 1.0, sample_interval_s=0.1)).all()


def test_window_beyond_the_data_is_nan():
    t = np.arange(0, 1.0001, 0.01)
    out = time_normalise(t, t, 0.5, 1.5)
    assert np.isfinite(out[:50]).all() and np.isnan(out[60:]).all()


def test_single_missing_sample_is_bridged():
    t = np.arange(0, 1.0001, 0.01)
    y = t.copy()
    y[50] = np.nan
    np.testing.assert_allclose(time_normalise(t, y, 0.0, 1.0), np.linspace(0, 1, 101), atol=1e-12)


def test_bad_window_is_an_error():
    with pytest.raises(ValueError, match="must be after"):
        time_normalise(np.arange(3.0), np.arange(3.0), 1.0, 1.0)


# -- missing data inside a cycle (docs/methods.md §0.3) ------------------------------------------

def _trial_with_gap(gap):
    import pandas as pd

    from retrogait.ingest.trial import Stream, Trial, TrialMeta

    t = np.arange(0, 3.0, 0.01)
    flex = 30 + 30 * np.sin(2 * np.pi * t)
    flex[gap] = np.nan
    meta = TrialMeta(dataset="d", subject="s", trial="t", condition="c", direction="FW", speed_mps=1.0,
                     surface="treadmill", mass_kg=70.0, height_m=float("nan"), mass_source="x", source_files="f",
                     source_sha256="0", adapter="test")
    kin = Stream(100.0, pd.DataFrame({"time_s": t, "L_knee_flexion": flex,
                                      "R_knee_flexion": np.full(t.size, np.nan)}),
                 {"L_knee_flexion": "deg", "R_knee_flexion": "deg"})
    cycles = pd.DataFrame({"side": ["L", "L"], "cycle": [0, 1], "kind": ["stride", "stride"], "fs_s": [0.5, 1.5],
                           "fo_s": [1.1, 2.1], "next_fs_s": [1.5, 2.5], "kinetics_valid": [False, False],
                           "plate": ["", ""], "qc_status": ["kept", "kept"], "qc_reason": ["", ""]})
    return Trial(meta=meta, kinematics=kin), cycles


def test_a_cycle_missing_more_than_the_limit_is_rejected_with_signal_and_share():
    from retrogait.gait.cycles import reject_missing_data

    trial, cycles = _trial_with_gap(slice(60, 80))  # 20 of the 101 samples of stride 0.5-1.5 s
    out = reject_missing_data(trial, cycles, max_missing_pct=10)
    assert list(out["qc_status"]) == ["rejected", "kept"]
    assert out["qc_reason"][0] == ("missing data (L_knee_flexion: 20 % of its 101 samples in the cycle missing) "
                                   "above cycles.max_missing_pct = 10 %")
    # within the limit the cycle is kept (its measures report the gap themselves); 0 rejects any gap
    assert list(reject_missing_data(trial, cycles, max_missing_pct=25)["qc_status"]) == ["kept", "kept"]
    trial, cycles = _trial_with_gap(slice(60, 61))
    assert list(reject_missing_data(trial, cycles, max_missing_pct=0)["qc_status"]) == ["rejected", "kept"]
    assert list(cycles["qc_status"]) == ["kept", "kept"]  # the input is not modified


def test_the_all_nan_column_of_an_absent_side_rejects_nothing():
    from retrogait.gait.cycles import reject_missing_data

    trial, cycles = _trial_with_gap(slice(0, 0))
    assert list(reject_missing_data(trial, cycles.assign(side="R"), max_missing_pct=0)["qc_status"]) == ["kept"] * 2
