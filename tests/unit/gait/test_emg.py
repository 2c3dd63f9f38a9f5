"""Known-answer tests of retrogait.gait.emg (methods.md section 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from retrogait.gait.emg import (
    QUALITY_COLUMNS,
    ChannelQuality,
    EnvelopeParams,
    QualityParams,
    channel_quality,
    channel_repeatability,
    emg_form,
    muscles_excluded,
    subject_channel_quality,
    co_contraction,
    co_contraction_curve,
    design_filters,
    linear_envelope,
    normalisation_reference,
    normalise,
)
from retrogait.errors import ConfigError

RATE = 1000.0


def emg_like(rng: np.random.Generator, n: int, rate: float = RATE) -> np.ndarray:
    """Unit-variance noise with a surface-EMG-like spectrum (power mostly 30-150 Hz)."""
    sos = signal.butter(2, [30.0, 150.0], btype="bandpass", fs=rate, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + 500))[500:]
    return x / x.std()


def gait_emg(seed: int = 1, seconds: float = 5.0, rate: float = RATE) -> np.ndarray:
    """Bursts of 0.3 s once per 1 s 'stride' over a white noise floor 2 % of burst amplitude."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    phase = t % 1.0
    window = np.where(phase < 0.3, np.sin(np.pi * phase / 0.3) ** 2, 0.0)
    return 0.1 * (emg_like(rng, n, rate) * window + 0.02 * rng.standard_normal(n))


# --------------------------------------------------------------------------
# filters and envelope

def test_filter_cutoffs_are_minus_6db_after_zero_lag_filtering():
    band, low = design_filters(RATE)
    _, h = signal.sosfreqz(band, worN=[20.0, 450.0], fs=RATE)
    # one pass: -3 dB (0.707); forwards + backwards: squared -> 0.5 (-6 dB)
    np.testing.assert_allclose(np.abs(h), 1 / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(np.abs(h) ** 2, 0.5, rtol=1e-6)
    _, hl = signal.sosfreqz(low, worN=[6.0], fs=RATE)
    np.testing.assert_allclose(np.abs(hl) ** 2, 0.5, rtol=1e-6)


def test_filter_orders_from_stopband_slopes():
    band, low = design_filters(RATE)
    # far below 20 Hz a band-pass of order N falls as f**N: halving f divides |H| by 2**4
    _, h = signal.sosfreqz(band, worN=[1.0, 2.0], fs=RATE)
    assert abs(h[1]) / abs(h[0]) == pytest.approx(16.0, rel=0.02)
    # far above 6 Hz the 2nd-order low-pass falls as f**-2 on the bilinear-warped axis tan(pi f / fs)
    _, hl = signal.sosfreqz(low, worN=[120.0, 240.0], fs=RATE)
    warped = (np.tan(np.pi * 240.0 / RATE) / np.tan(np.pi * 120.0 / RATE)) ** 2
    assert abs(hl[0]) / abs(hl[1]) == pytest.approx(warped, rel=0.01)
    assert abs(hl[0]) / abs(hl[1]) != pytest.approx(warped ** 2, rel=0.2)  # not 4th order
    # a 4th-order band-pass design has 4 poles per skirt: 8 poles = 4 second-order sections
    assert band.shape == (4, 6) and low.shape == (1, 6)


def test_zero_lag_band_pass_halves_a_sine_at_the_cut_off():
    band, _ = design_filters(RATE)
    t = np.arange(4000) / RATE
    def amplitude(f):  # sqrt(2) * RMS over whole periods in the middle of the signal
        y = signal.sosfiltfilt(band, np.sin(2 * np.pi * f * t))
        return np.sqrt(2 * np.mean(y[1000:3000] ** 2))

    assert amplitude(20.0) == pytest.approx(0.5, rel=0.01)
    assert amplitude(450.0) == pytest.approx(0.5, rel=0.01)
    assert amplitude(100.0) == pytest.approx(1.0, rel=0.01)


def test_upper_band_edge_at_or_above_nyquist_is_refused():
    x = np.random.default_rng(0).standard_normal(2000)
    with pytest.raises(ValueError, match="Nyquist"):
        linear_envelope(x, 900.0)  # Nyquist 450 Hz == upper edge
    with pytest.raises(ValueError, match="1000 Hz"):
        linear_envelope(x, 600.0)
    # fine when the band is lowered knowingly
    env = linear_envelope(x, 600.0, params=EnvelopeParams(band_hz=(20.0, 250.0)))
    assert env.shape == x.shape


def test_envelope_of_a_burst_peaks_inside_and_is_near_zero_outside():
    rng = np.random.default_rng(42)
    t = np.arange(3000) / RATE
    burst = (t >= 1.0) & (t <= 1.5)
    x = rng.standard_normal(t.size) * np.where(burst, np.sin(np.pi * (t - 1.0) / 0.5), 0.0)
    env = linear_envelope(x, RATE)
    peak = int(np.argmax(env))
    assert 1.0 <= t[peak] <= 1.5
    far = (t < 0.7) | (t > 1.8)
    assert env[far].max() < 0.02 * env.max()
    assert env.min() >= 0.0


def test_envelope_is_linear_in_amplitude_and_sign_free():
    x = gait_emg()
    env = linear_envelope(x, RATE)
    tol = 1e-12 * env.max()
    np.testing.assert_allclose(linear_envelope(3.0 * x, RATE), 3.0 * env, rtol=1e-9, atol=tol)
    np.testing.assert_allclose(linear_envelope(-x, RATE), env, rtol=1e-9, atol=tol)
    # a DC offset (electrode polarisation) does not change the envelope
    np.testing.assert_allclose(linear_envelope(x + 0.5, RATE), env, atol=1e-6 * env.max())


def test_envelope_without_clipping_shows_filter_undershoot():
    x = np.zeros(3000)
    x[1000:1010] = 1.0  # a sharp artefact: the low-pass rings below zero after it
    raw = linear_envelope(x, RATE, params=EnvelopeParams(clip_negative=False))
    assert raw.min() < 0
    assert linear_envelope(x, RATE).min() == 0.0


def test_nan_gap_is_named_or_interpolated():
    x = gait_emg()
    x[2000:2011] = np.nan
    with pytest.raises(ValueError, match=r"samples 2000-2010"):
        linear_envelope(x, RATE)
    env = linear_envelope(x, RATE, max_gap_s=0.02)
    assert np.isfinite(env).all()
    with pytest.raises(ValueError, match="max_gap_s"):
        linear_envelope(x, RATE, max_gap_s=0.005)


def test_envelope_input_checks():
    with pytest.raises(ValueError, match="one-dimensional"):
        linear_envelope(np.zeros((10, 2)), RATE)
    with pytest.raises(ValueError, match="too short"):
        linear_envelope(np.zeros(20), RATE)
    with pytest.raises(ValueError, match="rate_hz"):
        linear_envelope(np.zeros(2000), 0.0)


def test_envelope_params_from_config():
    p = EnvelopeParams.from_config({"band_hz": [10, 400], "lowpass_hz": 8})
    assert p.band_hz == (10.0, 400.0) and p.lowpass_hz == 8.0 and p.band_order == 4
    assert EnvelopeParams.from_config(None) == EnvelopeParams()
    with pytest.raises(ConfigError, match="unknown key 'lowpas_hz'.*did you mean 'lowpass_hz'"):
        EnvelopeParams.from_config({"lowpas_hz": 6})
    with pytest.raises(ConfigError, match="increasing"):
        EnvelopeParams.from_config({"band_hz": [450, 20]})
    with pytest.raises(ConfigError, match="band_order"):
        EnvelopeParams.from_config({"band_order": 2.5})
    assert "effective order 4" in EnvelopeParams().describe()


# --------------------------------------------------------------------------
# channel quality

def test_clean_burst_channel_passes():
    q = channel_quality(gait_emg(), RATE)
    assert isinstance(q, ChannelQuality)
    assert q.usable and q.reason == ""
    assert not (q.flat or q.saturated or q.mains_hum)
    assert q.metrics["dynamic_range"] > 10
    assert q.metrics["median_frequency_hz"] < 150


def test_flat_channel_is_flagged_whatever_the_gain():
    rng = np.random.default_rng(3)
    noise = 4e-4 * rng.standard_normal(5000)  # amplifier noise, like an unconnected channel
    for gain in (1.0, 1000.0):
        q = channel_quality(gain * noise, RATE)
        assert q.flat and not q.usable
        assert "flat" in q.reason and "p95/p5" in q.reason
    # ... and a quiet but real channel stays usable: the criterion is scale-free
    assert channel_quality(1e-3 * gait_emg(), RATE).usable


def test_constant_channel_is_flat():
    q = channel_quality(np.zeros(3000), RATE)
    assert q.flat and "constant" in q.reason


def test_clipped_channel_is_saturated():
    x = 3.0 * gait_emg() / gait_emg().std() * 0.25  # bursts reach well beyond the rails
    clipped = np.clip(x, -1.25, 1.25)
    frac = np.mean(np.abs(clipped) >= 1.25)
    assert 0.01 < frac < 0.2
    q = channel_quality(clipped, RATE)
    assert q.saturated and "saturated" in q.reason
    assert q.metrics["rail_high_v"] == pytest.approx(1.25)
    assert not channel_quality(x, RATE).saturated  # same signal before clipping


def test_mains_contaminated_channel_is_flagged():
    x = gait_emg()
    t = np.arange(x.size) / RATE
    for f in (50.0, 60.0):
        q = channel_quality(x + 0.5 * x.std() * np.sin(2 * np.pi * f * t + 0.3), RATE)
        assert q.mains_hum and f"{f:g} Hz" in q.reason
        assert q.metrics["mains_fraction"] > 0.1
    assert channel_quality(x, RATE).metrics["mains_fraction"] < 0.03


def test_exporter_padding_is_ignored():
    x = np.concatenate([np.zeros(400), gait_emg(), np.zeros(300)])
    q = channel_quality(x, RATE)
    assert q.usable
    assert q.metrics["padding_samples"] == 700


def test_quality_params_reject_unknown_keys():
    with pytest.raises(ConfigError, match="unknown key 'max_rail'"):
        QualityParams.from_config({"max_rail": 0.1})
    with pytest.raises(ConfigError, match="fraction"):
        QualityParams.from_config({"max_rail_fraction": 2})


@pytest.mark.fixtures
def test_channel_quality_on_real_esmac_recordings(fixtures_dir):
    ezc3d = pytest.importorskip("ezc3d")

    def channels(rel):
        c = ezc3d.c3d(str(fixtures_dir / "biomechzoo-esmac" / rel))
        labels = [s.strip() for s in c["parameters"]["ANALOG"]["LABELS"]["value"]]
        rate = float(c["parameters"]["ANALOG"]["RATE"]["value"][0])
        return {lab: channel_quality(c["data"]["analogs"][0][i], rate) for i, lab in enumerate(labels)}

    q = channels("HC002D/Straight/HC002D06.c3d")
    for muscle in ("Rect", "Hams", "Gast", "Tib Ant"):
        assert q[f"L {muscle}"].flat, q[f"L {muscle}"].metrics  # ~4e-4 V std, like the spares
        assert q[f"R {muscle}"].usable, q[f"R {muscle}"].reason
    assert q["L Spare"].flat and q["R Spare"].flat
    q = channels("HC030A/Turn/HC030A22.c3d")
    assert q["R Rect"].mains_hum
    assert q["R Gast"].saturated
    assert q["L Rect"].usable
    q = channels("HC031A/Straight/HC031A06.c3d")
    assert q["L Rect"].saturated and q["R Rect"].usable


# --------------------------------------------------------------------------
# normalisation

NODES = [f"pct_{k:03d}" for k in range(101)]
SHAPE = np.sin(np.pi * np.arange(101) / 100)  # peak 1 at 50 %


def curves_table(rows):
    """rows: (subject, condition, side, muscle, peak_v) -> one cycle each."""
    out = []
    for subject, condition, side, muscle, peak in rows:
        out.append({"subject": subject, "condition": condition, "side": side, "muscle": muscle,
                    **dict(zip(NODES, peak * SHAPE))})
    return pd.DataFrame(out)


def test_max_all_conditions_uses_one_reference_and_keeps_ratios():
    c = curves_table([("S1", "FW", "R", "vastus_lateralis", 1.5), ("S1", "FW", "R", "vastus_lateralis", 2.5),
                      ("S1", "BW", "R", "vastus_lateralis", 3.0), ("S1", "BW", "R", "vastus_lateralis", 3.0),
                      ("S1", "FW", "L", "vastus_lateralis", 1.0), ("S1", "BW", "L", "vastus_lateralis", 0.5)])
    refs = normalisation_reference(c, method="max_all_conditions")
    assert len(refs) == 2  # one per subject x side x muscle, spanning both conditions
    r = refs.set_index("side")["reference"]
    assert r["R"] == pytest.approx(3.0) and r["L"] == pytest.approx(1.0)
    assert "from BW" in refs.set_index("side").loc["R", "detail"]
    n = normalise(c, refs)
    assert set(n["unit"]) == {"%ref"}
    peak = n.groupby(["side", "condition"])["pct_050"].mean()
    assert peak["R", "FW"] == pytest.approx(200 / 3)   # 66.7 %
    assert peak["R", "BW"] == pytest.approx(100.0)
    assert peak["L", "BW"] / peak["L", "FW"] == pytest.approx(0.5)  # condition ratio unchanged
    # raw values untouched in the input
    assert c["pct_050"].iloc[0] == pytest.approx(1.5)


def test_reference_condition_peak():
    c = curves_table([("S1", "FW", "R", "rectus_femoris", 2.0), ("S1", "BW", "R", "rectus_femoris", 3.0)])
    refs = normalisation_reference(c, method="reference_condition_peak", reference_condition="FW")
    assert refs["reference"].item() == pytest.approx(2.0)
    n = normalise(c, refs).set_index("condition")["pct_050"]
    assert n["FW"] == pytest.approx(100.0) and n["BW"] == pytest.approx(150.0)


def test_missing_reference_condition_names_the_subject():
    c = curves_table([("S1", "FW", "R", "rectus_femoris", 2.0), ("S2", "BW", "R", "rectus_femoris", 3.0)])
    with pytest.raises(ValueError, match=r"subject=S2.*has \['BW'\]"):
        normalisation_reference(c, method="reference_condition_peak", reference_condition="FW")
    with pytest.raises(ValueError, match="needs reference_condition"):
        normalisation_reference(c, method="reference_condition_peak")
    with pytest.raises(ValueError, match="only used with"):
        normalisation_reference(c, method="max_all_conditions", reference_condition="FW")


def test_mvc_reference():
    c = curves_table([("S1", "FW", "R", "rectus_femoris", 0.2), ("S1", "BW", "R", "rectus_femoris", 0.3)])
    mvc = pd.DataFrame({"subject": ["S1"], "side": ["R"], "muscle": ["rectus_femoris"], "mvc_v": [0.5]})
    refs = normalisation_reference(c, method="mvc", mvc=mvc)
    n = normalise(c, refs).set_index("condition")["pct_050"]
    assert n["FW"] == pytest.approx(40.0) and n["BW"] == pytest.approx(60.0)
    with pytest.raises(ValueError, match="no MVC value.*subject=S1 side=R muscle=rectus_femoris"):
        normalisation_reference(c, method="mvc", mvc=mvc.assign(side="L"))
    with pytest.raises(ValueError, match="needs the mvc table"):
        normalisation_reference(c, method="mvc")


def test_per_condition_or_duplicate_references_are_refused():
    c = curves_table([("S1", "FW", "R", "rectus_femoris", 2.0), ("S1", "BW", "R", "rectus_femoris", 3.0)])
    per_condition = pd.DataFrame({"subject": ["S1", "S1"], "condition": ["FW", "BW"], "side": ["R", "R"],
                                  "muscle": ["rectus_femoris"] * 2, "reference": [2.0, 3.0]})
    with pytest.raises(ValueError, match="CEDE"):
        normalise(c, per_condition)
    with pytest.raises(ValueError, match="several references"):
        normalise(c, per_condition.drop(columns="condition"))
    with pytest.raises(ValueError, match="no EMG reference"):
        normalise(c, per_condition.drop(columns="condition").iloc[:1].assign(side="L"))


def test_normalising_twice_and_bad_methods_are_refused():
    c = curves_table([("S1", "FW", "R", "rectus_femoris", 2.0)])
    refs = normalisation_reference(c, method="max_all_conditions")
    n = normalise(c.assign(unit="V"), refs)
    with pytest.raises(ValueError, match="in V before normalisation"):
        normalise(n, refs)
    with pytest.raises(ValueError, match="unknown EMG normalisation method"):
        normalisation_reference(c, method="per_trial_peak")
    zero = curves_table([("S1", "FW", "R", "rectus_femoris", 0.0)])
    with pytest.raises(ValueError, match="not a positive number"):
        normalisation_reference(zero, method="max_all_conditions")


# --------------------------------------------------------------------------
# co-contraction

A = np.array([1.0, 2.0, 4.0, 2.0, 1.0])
B = np.array([1.0, 1.0, 1.0, 3.0, 2.0])


def test_rudolph_index_by_hand():
    # (low/high)*(low+high): 1*2, 0.5*3, 0.25*5, (2/3)*5, 0.5*3
    expected = np.array([2.0, 1.5, 1.25, 10.0 / 3.0, 1.5])
    np.testing.assert_allclose(co_contraction_curve(A, B), expected)
    assert co_contraction(A, B, method="rudolph") == pytest.approx(expected.mean())  # 1.916667
    assert co_contraction(A, B) == pytest.approx(1.9166667, rel=1e-6)


def test_falconer_winter_index_by_hand():
    # trapezoid: integral(min) = 0.5*1 + 1 + 1 + 2 + 0.5*1 = 5; integral(a+b) = 0.5*2 + 3 + 5 + 5 + 0.5*3 = 15.5
    assert co_contraction(A, B, method="falconer_winter") == pytest.approx(100 * 2 * 5 / 15.5)  # 64.516 %
    np.testing.assert_allclose(co_contraction_curve(A, B, method="falconer_winter"),
                               200 * np.minimum(A, B) / (A + B))


def test_co_contraction_limits_and_checks():
    assert co_contraction(A, A, method="falconer_winter") == pytest.approx(100.0)
    assert co_contraction(A, A) == pytest.approx(np.mean(2 * A))
    assert co_contraction(A, np.zeros(5)) == 0.0
    assert co_contraction(A, np.zeros(5), method="falconer_winter") == 0.0
    assert co_contraction(np.zeros(5), np.zeros(5)) == 0.0
    assert np.isnan(co_contraction_curve(np.zeros(5), np.zeros(5), method="falconer_winter")).all()
    with pytest.raises(ValueError, match="undefined"):
        co_contraction(np.zeros(5), np.zeros(5), method="falconer_winter")
    with pytest.raises(ValueError, match="negative"):
        co_contraction(A, B - 2.0)
    with pytest.raises(ValueError, match="equal length"):
        co_contraction(A, B[:4])
    with pytest.raises(ValueError, match="unknown co-contraction method"):
        co_contraction(A, B, method="winter")
    # scale: Rudolph carries the envelope unit, Falconer & Winter is dimensionless
    assert co_contraction(10 * A, 10 * B) == pytest.approx(10 * co_contraction(A, B))
    assert co_contraction(10 * A, 10 * B, method="falconer_winter") == pytest.approx(
        co_contraction(A, B, method="falconer_winter"))


# --------------------------------------------------------------------------
# what a column holds (issue 11, item 4)

def test_emg_form_tells_raw_rectified_and_envelope_apart():
    x = gait_emg()
    assert emg_form(x, RATE)[0] == "raw"
    assert emg_form(x + 0.3, RATE)[0] == "raw"  # DC offset: still bipolar about its median
    assert emg_form(np.abs(x), RATE)[0] == "rectified"
    env = linear_envelope(x, RATE)
    form, metrics = emg_form(env, RATE)
    assert form == "envelope" and metrics["hf_fraction"] < 0.01
    # scale-free
    assert emg_form(1e-6 * np.abs(x), RATE)[0] == "rectified" and emg_form(1e3 * env, RATE)[0] == "envelope"
    assert emg_form(np.zeros(3000), RATE)[0] == "raw"  # nothing to tell: QC calls it flat


def test_an_envelope_is_never_band_passed():
    x = gait_emg()
    env = linear_envelope(x, RATE)
    # band-passing an envelope (what a raw-only pipeline does) destroys it: almost nothing is left
    wrong = linear_envelope(env, RATE, form="raw")
    assert wrong.max() < 0.1 * env.max()
    right = linear_envelope(env, RATE, form="envelope")
    # the same 6 Hz low-pass again: the envelope keeps its shape and most of its amplitude
    assert np.corrcoef(right, env)[0, 1] > 0.98 and 0.8 < right.max() / env.max() <= 1.0
    rect = linear_envelope(np.abs(signal.sosfiltfilt(design_filters(RATE)[0], x - x.mean())), RATE, form="rectified")
    np.testing.assert_allclose(rect, env, atol=1e-9 * env.max() + 1e-12)  # rectified input: low-pass only
    # an envelope sampled at 100 Hz is usable (only the low-pass needs Nyquist)
    assert np.isfinite(linear_envelope(env[::10], 100.0, form="envelope")).all()
    with pytest.raises(ValueError, match="form"):
        linear_envelope(x, RATE, form="smooth")


def test_channel_quality_reports_the_form_and_skips_spectral_checks_for_envelopes():
    env = linear_envelope(gait_emg(), RATE)
    q = channel_quality(env, RATE)
    assert q.form == "envelope" and q.usable and np.isnan(q.metrics["mains_fraction"])
    # a one-sided signal has one rail: many samples near zero are not clipping
    assert not channel_quality(np.abs(gait_emg()), RATE).saturated


# --------------------------------------------------------------------------
# channel QC per subject (issue 11, item 5)

def test_noise_like_spectrum_with_a_20_to_1_pattern_is_not_flat():
    """The old 'median frequency > 180 Hz' rule threw such channels away; the envelope decides now."""
    rng = np.random.default_rng(5)
    n = 8000
    t = np.arange(n) / RATE
    pattern = 0.05 + np.where((t % 1.0) < 0.3, np.sin(np.pi * (t % 1.0) / 0.3) ** 2, 0.0)  # 20:1
    x = 1e-3 * pattern * rng.standard_normal(n)  # white carrier: median frequency ~235 Hz
    q = channel_quality(x, RATE)
    assert q.metrics["median_frequency_hz"] > 180
    assert not q.flat and q.usable and q.metrics["dynamic_range"] > 10


def test_channel_repeatability_known_answers():
    base = np.sin(np.linspace(0, np.pi, 101)) ** 2
    rng = np.random.default_rng(0)
    same = np.array([base * g for g in (1.0, 2.0, 0.5, 1.5, 1.2)])  # scale-free: r = 1
    assert channel_repeatability(same) == pytest.approx(1.0)
    noisy = same + 0.05 * rng.standard_normal(same.shape)
    assert 0.9 < channel_repeatability(noisy) < 1.0
    smooth_noise = np.array([np.convolve(rng.standard_normal(140), np.ones(40) / 40, mode="valid")[:101]
                             for _ in range(30)])
    assert abs(channel_repeatability(smooth_noise)) < 0.3
    assert np.isnan(channel_repeatability(same[:2]))  # fewer than 3 cycles


def _trial_rows(channel="L_vastus_lateralis", trials=("fw", "bw"), **kw):
    base = dict(dataset="d", subject="S1", side=channel[0], muscle=channel[2:], channel=channel, form="raw",
                problem="", constant=False, saturated=False, mains_hum=False, rail_fraction=0.0001,
                mains_fraction=0.01, median_frequency_hz=100.0, n_samples=10000, reason="")
    return pd.DataFrame([{**base, "trial": t, **{k: (v[i] if isinstance(v, tuple) else v) for k, v in kw.items()}}
                         for i, t in enumerate(trials)])


def _env(floor, peak, n=2000):
    t = np.linspace(0, 10, n)
    return floor + (peak - floor) * (np.sin(np.pi * t) ** 8)


def test_subject_decision_keeps_a_channel_quiet_in_one_condition():
    """Per-trial decisions would drop the quiet condition's channel (p95/p5 < 4 there): biased contrast."""
    env = {"L_vastus_lateralis": [_env(1.0, 30.0), _env(1.0, 2.5)]}  # loud in fw, quiet in bw
    pattern = np.sin(np.linspace(0, np.pi, 101)) ** 2
    curves = {"L_vastus_lateralis": [np.array([pattern * g + 0.01 for g in (1, 1.1, 0.9, 1.05, 0.95)])] * 2}
    q = subject_channel_quality(_trial_rows(), env, curves)
    row = q.iloc[0]
    assert list(q.columns) == QUALITY_COLUMNS
    assert row["status"] == "used" and row["dynamic_range"] > 4 and row["repeatability"] > 0.9
    assert row["n_trials"] == 2 and row["n_cycles"] == 10


def test_subject_decision_flat_noise_and_unrepeatable_pattern():
    rng = np.random.default_rng(2)
    env = {"L_vastus_lateralis": [_env(1.0, 2.0), _env(1.0, 2.2)]}
    q = subject_channel_quality(_trial_rows(), env, {})
    assert q.iloc[0]["status"] == "excluded" and "in every trial" in q.iloc[0]["reason"]
    # plenty of dynamic range but no repeatable pattern across cycles: spikes, not a muscle
    env = {"L_vastus_lateralis": [_env(1.0, 30.0), _env(1.0, 30.0)]}
    curves = {"L_vastus_lateralis": [np.abs(rng.standard_normal((8, 101))).cumsum(axis=1)[:, ::-1]
                                     * rng.choice([-1, 1], size=(8, 1)) + 50] * 2}
    q = subject_channel_quality(_trial_rows(), env, curves)
    assert q.iloc[0]["status"] == "excluded" and "repeatability" in q.iloc[0]["reason"]
    assert q.iloc[0]["repeatability"] < QualityParams().min_repeatability


def test_subject_decision_saturation_hum_form_and_gain_change_exclude_every_trial():
    env = {"L_vastus_lateralis": [_env(1.0, 30.0), _env(1.0, 30.0)]}
    sat = subject_channel_quality(_trial_rows(saturated=(False, True), rail_fraction=(0.0, 0.03)), env, {})
    assert sat.iloc[0]["status"] == "excluded" and "saturated in bw (3.00 %" in sat.iloc[0]["reason"]
    hum = subject_channel_quality(_trial_rows(mains_hum=(True, False), mains_fraction=(0.4, 0.0)), env, {})
    assert "mains hum in fw" in hum.iloc[0]["reason"]
    mixed = subject_channel_quality(_trial_rows(form=("raw", "envelope")), env, {})
    assert mixed.iloc[0]["form"] == "mixed" and "form differs between trials" in mixed.iloc[0]["reason"]
    gain = subject_channel_quality(_trial_rows(), {"L_vastus_lateralis": [_env(1.0, 30.0), _env(50.0, 1500.0)]},
                                   {})
    assert "differs 50.0-fold between trials" in gain.iloc[0]["reason"]
    broken = subject_channel_quality(_trial_rows(problem=("", "EMG signal has non-finite samples")), env, {})
    assert broken.iloc[0]["status"] == "excluded" and "bw: EMG signal has non-finite" in broken.iloc[0]["reason"]


def test_muscles_excluded_for_every_subject_are_listed():
    rows = []
    for s in ("S1", "S2", "S3"):
        rows.append({"dataset": "d", "subject": s, "muscle": "rectus_femoris", "status": "excluded",
                     "reason": "flat: envelope p95/p5 = 2 < 4 in every trial"})
        rows.append({"dataset": "d", "subject": s, "muscle": "vastus_lateralis",
                     "status": "used" if s != "S2" else "excluded", "reason": "" if s != "S2" else "saturated in x"})
    out = muscles_excluded(pd.DataFrame(rows)).set_index("muscle")
    assert bool(out.loc["rectus_femoris", "all_excluded"]) and out.loc["rectus_femoris", "n_used"] == 0
    assert out.loc["rectus_femoris", "reasons"] == "flat (3 channels)"
    assert not out.loc["vastus_lateralis", "all_excluded"] and out.loc["vastus_lateralis", "n_used"] == 2
    assert muscles_excluded(pd.DataFrame()).empty


def test_quality_config_keys_are_validated():
    assert QualityParams.from_config({"min_dynamic_range": 5, "dynamic_range_percentiles": [10, 90]}).\
        dynamic_range_percentiles == (10.0, 90.0)
    with pytest.raises(ConfigError, match="min_repeatability"):
        QualityParams.from_config({"min_repeatability": 1.5})
    with pytest.raises(ConfigError, match="unknown key 'max_median_frequency_hz'"):
        QualityParams.from_config({"max_median_frequency_hz": 180})
