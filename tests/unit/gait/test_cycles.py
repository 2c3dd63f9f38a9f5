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


def _time_normalise_on_all_samples(time_s, values, start_s, end_s, nodes, max_gap_samples, dt):
    """The reference: interpolation and gap rule on every finite sample of the signal (no bracket)."""
    t_nodes = np.linspace(start_s, end_s, nodes)
    ok = np.isfinite(values) & np.isfinite(time_s)
    if ok.sum() < 2:
        return np.full(nodes, np.nan)
    t, v = time_s[ok], values[ok]
    out = np.interp(t_nodes, t, v)
    out[(t_nodes < t[0] - dt) | (t_nodes > t[-1] + dt)] = np.nan
    idx = np.searchsorted(t, t_nodes).clip(1, len(t) - 1)
    inside = (t_nodes >= t[0]) & (t_nodes <= t[-1])
    out[inside & (t[idx] - t[idx - 1] > max_gap_samples * dt)] = np.nan
    return out


def test_cycles_cut_from_the_samples_around_them_equal_interpolation_on_the_whole_signal():
    """Each cycle reads only the finite samples that bracket its nodes: the same bits as the whole signal.

    Windows start and end between samples, on samples, in and next to gaps, at and beyond the
    record's ends; signals have leading/trailing NaN, gaps of every length and a single sample.
    """
    rng = np.random.default_rng(7)
    checked = 0
    for trial in range(60):
        n = int(rng.integers(2, 400))
        t = np.arange(n) / 100.0 + float(rng.uniform(-1, 1))
        y = np.cumsum(rng.normal(size=n))
        for _ in range(int(rng.integers(0, 6))):  # gaps, some at the ends
            a = int(rng.integers(0, n))
            y[a:a + int(rng.integers(1, 40))] = np.nan
        if trial % 10 == 0:
            y[:] = np.nan
            y[int(rng.integers(0, n))] = 1.0  # one finite sample only
        dt = sample_interval(t)
        for _ in range(25):
            if rng.random() < 0.3:  # on sample times
                i, j = sorted(rng.choice(n + 4, 2, replace=False) - 2)
                start, end = t[0] + i * 0.01, t[0] + j * 0.01
            else:
                start = float(rng.uniform(t[0] - 0.1, t[-1] + 0.1))
                end = start + float(rng.uniform(0.001, 2.0))
            nodes = int(rng.choice([2, 3, 11, 101]))
            expected = _time_normalise_on_all_samples(t, y, start, end, nodes, 2.5, dt)
            got = time_normalise(t, y, start, end, nodes=nodes, sample_interval_s=dt)
            np.testing.assert_array_equal(got, expected)
            assert np.array_equal(np.signbit(got), np.signbit(expected))
            checked += int(np.isfinite(expected).sum())
    assert checked > 10_000  # most nodes are real interpolations, not NaN


def test_a_time_base_that_does_not_increase_is_an_error_not_a_curve():
    t = np.arange(0, 1.0001, 0.01)
    y = np.sin(2 * np.pi * t)
    shuffled = t.copy()
    shuffled[[30, 31]] = shuffled[[31, 30]]
    with pytest.raises(ValueError, match="time must increase strictly: sample 31"):
        time_normalise(shuffled, y, 0.0, 1.0)
    repeated = t.copy()
    repeated[50] = repeated[49]
    with pytest.raises(ValueError, match="increase strictly"):
        time_normalise(repeated, y, 0.0, 1.0)
    gapped = t.copy()
    gapped[50] = np.nan  # a missing time stamp is skipped like a missing value, not an error
    assert np.isfinite(time_normalise(gapped, y, 0.0, 1.0)).all()


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


# -- EMG channel form and QC of one trial (cycles._emg_envelopes) --------------------------------

def _emg_trial(rate_hz: float, channels: dict[str, np.ndarray]):
    import pandas as pd

    from retrogait.ingest.trial import Stream, Trial, TrialMeta

    n = len(next(iter(channels.values())))
    meta = TrialMeta(dataset="d", subject="s", trial="t", condition="c", direction="FW", speed_mps=1.0,
                     surface="treadmill", mass_kg=70.0, height_m=float("nan"), mass_source="x", source_files="f",
                     source_sha256="0", adapter="test")
    emg = Stream(rate_hz, pd.DataFrame({"time_s": np.arange(n) / rate_hz, **channels}), {c: "V" for c in channels})
    return Trial(meta=meta, emg=emg)


def _bursts(rate_hz: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Raw-like EMG: zero-mean noise whose amplitude rises and falls once per second."""
    t = np.arange(0, seconds, 1 / rate_hz)
    return np.random.default_rng(seed).normal(size=t.size) * (0.2 + np.sin(np.pi * t) ** 8) * 1e-3


def test_each_channel_gets_the_form_emg_form_tells_and_its_qc():
    from retrogait.gait.cycles import CycleSettings, _emg_envelopes
    from retrogait.gait.emg import emg_form

    settings = CycleSettings.from_config({})
    raw = _bursts(2000.0, 6.0)
    envelope = np.convolve(np.abs(raw), np.ones(400) / 400, mode="same")  # smooth and one-sided
    short = np.where(np.arange(raw.size) < 20, raw, np.nan)   # 20 finite samples, then nothing
    trial = _emg_trial(2000.0, {"L_soleus": raw, "R_soleus": envelope, "L_gluteus_medius": short})
    envelopes, rows = _emg_envelopes(trial, settings, pooled := {})
    by = {r["channel"]: r for r in rows}
    for channel in ("L_soleus", "R_soleus", "L_gluteus_medius"):
        assert by[channel]["form"] == emg_form(trial.emg.get(channel), 2000.0, params=settings.quality)[0]
    assert by["L_soleus"]["form"] == "raw" and by["R_soleus"]["form"] == "envelope"
    assert by["L_soleus"]["problem"] == by["R_soleus"]["problem"] == ""
    assert np.isfinite(by["L_soleus"]["median_frequency_hz"]) and np.isnan(by["R_soleus"]["median_frequency_hz"])
    assert set(envelopes) == set(pooled) == {"L_soleus", "R_soleus"}
    # 20 samples cannot be judged: a problem named in the row (the subject's decision excludes the channel)
    assert by["L_gluteus_medius"]["problem"].startswith("EMG channel too short to judge its quality: 20 usable")


def test_a_rate_that_cannot_carry_the_band_pass_refuses_raw_emg_but_not_an_envelope():
    from retrogait.gait.cycles import CycleSettings, _emg_envelopes

    settings = CycleSettings.from_config({})       # band-pass 20-450 Hz: raw EMG needs > 900 Hz
    raw = _bursts(500.0, 6.0)
    envelope = np.convolve(np.abs(raw), np.ones(100) / 100, mode="same")
    envelopes, rows = _emg_envelopes(_emg_trial(500.0, {"L_soleus": raw, "R_soleus": envelope}), settings, {})
    by = {r["channel"]: r for r in rows}
    assert by["L_soleus"]["form"] == "raw" and by["L_soleus"]["problem"] == (
        "sampling rate 500 Hz cannot carry the 450 Hz band-pass edge (needs > 900 Hz) and the channel is not an "
        "envelope: not raw EMG")
    assert by["R_soleus"]["form"] == "envelope" and by["R_soleus"]["problem"] == ""
    assert set(envelopes) == {"R_soleus"}
