"""Known-answer tests of retrogait.gait.emg (methods.md section 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from retrogait.gait.emg import (
    ChannelQuality,
    EnvelopeParams,
    QualityParams,
    channel_quality,
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
