"""Known-answer tests of retrogait.gait.kneeload (methods.md sections 1-3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrogait.errors import ConfigError
from retrogait.gait.kneeload import (
    CONTACT_AREA,
    K_RATIO,
    KAM_LEVER_ARM_DESCRIPTION,
    MEDIAL_PROXY_DESCRIPTION,
    PFJModel,
    Poly,
    contact_area_mm2,
    k_ratio,
    kam_lever_arm,
    kam_summary,
    medial_contact_proxy,
    moment_summary,
    pfj_load,
    quadriceps_moment_arm_m,
    to_body_weight,
    to_percent_bw_ht,
    vgrf_summary,
)

X = np.arange(0, 91, 10)


# --------------------------------------------------------------------------
# coefficient tables of methods.md 1.2-1.4 (values printed to the shown decimals)

def test_k_ratio_table():
    expected = [0.462, 0.554, 0.650, 0.743, 0.827, 0.896, 0.947, 0.976, 0.986, 0.981]
    np.testing.assert_allclose(k_ratio(X), expected, atol=5e-4)


def test_moment_arm_table_mm():
    expected = [46.0, 47.6, 47.0, 44.9, 41.5, 37.5, 33.3, 29.3, 26.2, 24.2]
    np.testing.assert_allclose(1000 * quadriceps_moment_arm_m(X), expected, atol=0.05)


def test_contact_area_tables():
    a = [81.1, 124.2, 172.4, 212.9, 238.0, 244.7, 234.7, 214.8, 196.2, 195.2]
    np.testing.assert_allclose(contact_area_mm2(X), a, atol=0.05)
    b = [73.8, 108.0, 139.9, 168.9, 194.6, 216.2, 233.1]
    np.testing.assert_allclose(contact_area_mm2(X[:7], coefficients="kernozek_fox"), b, atol=0.05)
    c = [151.8, 166.3, 196.5, 242.3, 303.8]
    np.testing.assert_allclose(contact_area_mm2(X[:5], coefficients="ho_brechter_quadratic"), c, atol=0.05)


def test_typo_and_unit_traps_are_not_implemented():
    # k: the numerator term is LINEAR; the "0.00147 x^2" typo gives k(20) = 1.41, k(60) = 12.9
    assert float(k_ratio(60)) < 1.0
    typo = Poly(name="typo", quantity="k", unit="1", numerator=(0.462, 0.0, 0.00147 - 3.84e-5),
                denominator=K_RATIO["van_eijden_1986"].denominator, reference="-", source="-", status="-")
    assert float(typo(60)) == pytest.approx(12.9, abs=0.05)
    assert float(typo(20)) == pytest.approx(1.41, abs=0.01)
    assert float(k_ratio(20)) == pytest.approx(0.650, abs=5e-4)
    # moment arm: metre form, not the mixed mm/m form (1.09 m at 20 deg)
    assert 0.02 < float(quadriceps_moment_arm_m(20)) < 0.06
    # contact area: minus sign on x^3 (the +0.0033 bug gives ~1660 mm2 at 60 deg)
    assert float(contact_area_mm2(60)) == pytest.approx(234.7, abs=0.05)
    assert CONTACT_AREA["doyle2023_nunes2018"].numerator[3] < 0


def test_radians_give_nearly_constant_k_and_are_refused_by_pfj_load():
    # documented trap: radians fed to the degree fit give k ~0.46-0.48 for any posture
    rad = np.deg2rad(np.linspace(0, 60, 50))
    k = k_ratio(rad)
    assert k.min() >= 0.46 and k.max() <= 0.48
    with pytest.raises(ValueError, match="RADIANS"):
        pfj_load(rad, np.full(rad.shape, 30.0))
    out = pfj_load(rad, np.full(rad.shape, 30.0), radians_check=False)
    assert np.isfinite(out["stress_mpa"]).all()
    # a degree series is accepted
    pfj_load(np.linspace(0, 60, 50), np.full(50, 30.0))


def test_fits_are_clamped_to_0_90_deg():
    assert float(k_ratio(-10)) == pytest.approx(float(k_ratio(0)))      # not the extrapolated 0.376
    assert float(k_ratio(130)) == pytest.approx(float(k_ratio(90)))     # no pole at 128 deg
    assert float(contact_area_mm2(120)) == pytest.approx(float(contact_area_mm2(90)))
    out = pfj_load(np.array([-5.0, 20.0, 100.0]), np.array([10.0, 10.0, 10.0]))
    np.testing.assert_array_equal(out["flexion_clamped"], [True, False, True])
    np.testing.assert_allclose(out["knee_flexion_used_deg"], [0.0, 20.0, 90.0])


# --------------------------------------------------------------------------
# PFJ worked example (methods.md 1.7)

def test_worked_example_set_a():
    mass = 70.0
    out = pfj_load(20.0, 0.5 * mass, mass_kg=mass)
    assert 1000 * float(out["moment_arm_m"]) == pytest.approx(47.0, abs=0.05)
    assert float(out["quad_force_n"]) == pytest.approx(744.0, abs=0.5)
    assert float(out["k"]) == pytest.approx(0.650, abs=5e-4)
    assert float(out["pfjrf_n"]) == pytest.approx(484.0, abs=0.5)
    assert float(out["pfjrf_bw"]) == pytest.approx(0.70, abs=0.005)
    assert float(out["stress_mpa"]) == pytest.approx(2.81, abs=0.005)


def test_worked_example_quadratic_contact_area():
    model = PFJModel(name="quadratic", contact_area="ho_brechter_quadratic")
    out = pfj_load(20.0, 35.0, model=model)
    assert float(out["stress_mpa"]) == pytest.approx(2.46, abs=0.005)
    assert not model.verified and "UNVERIFIED" in model.describe()


def test_flexor_moment_gives_no_quadriceps_force_and_nan_propagates():
    out = pfj_load(np.array([20.0, 20.0, np.nan]), np.array([-15.0, 0.0, 30.0]))
    np.testing.assert_array_equal(out["quad_force_n"][:2], [0.0, 0.0])
    np.testing.assert_array_equal(out["stress_mpa"][:2], [0.0, 0.0])
    assert np.isnan(out["stress_mpa"][2])


def test_pfj_model_names_references_and_config():
    m = PFJModel()
    text = m.describe()
    for needle in ("van Eijden", "Doyle", "aaronsfox/pfjrf-methods", "clamped to [0, 90]", "Fq < 0 set to 0"):
        assert needle in text
    assert m.verified
    assert m.record() == {"pfj_model": "torque_driven_pfj", "pfj_k_ratio": "van_eijden_1986",
                          "pfj_moment_arm": "van_eijden_1986_effective", "pfj_contact_area": "doyle2023_nunes2018"}
    with pytest.raises(ValueError, match="unknown contact-area coefficient set 'doyle2023'.*did you mean"):
        PFJModel(contact_area="doyle2023")
    cfg = PFJModel.from_config({"contact_area": "kernozek_fox"})
    assert cfg.name == "configured" and cfg.contact_area == "kernozek_fox" and not cfg.verified
    with pytest.raises(ConfigError, match="unknown key 'contactarea'"):
        PFJModel.from_config({"contactarea": "kernozek_fox"})
    with pytest.raises(ConfigError, match="unknown k-ratio"):
        PFJModel.from_config({"k_ratio": "typo_x2"})


# --------------------------------------------------------------------------
# KAM, moment and vGRF summaries on analytic curves

def double_hump(s, a, b):
    """a*sin(pi s) + b*sin(3 pi s): symmetric peaks at cos^2(pi s) = (9b - a)/(12b)."""
    return a * np.sin(np.pi * s) + b * np.sin(3 * np.pi * s)


def analytic_peak(a, b):
    c = math.sqrt((9 * b - a) / (12 * b))
    theta = math.acos(c)
    return theta / math.pi, double_hump(theta / math.pi, a, b)


def test_kam_summary_analytic():
    stance = 0.8
    t = np.linspace(0.0, stance, 8001)
    kam = double_hump(t / stance, 0.4, 0.1)
    s_peak, v_peak = analytic_peak(0.4, 0.1)     # 0.2766, 0.3564
    out = kam_summary(kam, t + 3.0)              # absolute time base does not matter
    assert out["peak1"] == pytest.approx(v_peak, rel=1e-6)
    assert out["peak2"] == pytest.approx(v_peak, rel=1e-6)
    assert out["peak1_pct"] == pytest.approx(100 * s_peak, abs=0.02)
    assert out["peak2_pct"] == pytest.approx(100 * (1 - s_peak), abs=0.02)
    # integral over [0, T] of 0.4 sin + 0.1 sin(3.) = T (0.8 + 0.2/3) / pi, in N.m.s/kg
    assert out["impulse"] == pytest.approx(stance * (0.8 + 0.2 / 3) / math.pi, rel=1e-6)
    # integrated in time: the same curve over a stance twice as long has twice the impulse
    assert kam_summary(kam, 2 * t)["impulse"] == pytest.approx(2 * out["impulse"], rel=1e-9)


def test_kam_impulse_counts_adduction_only():
    t = np.linspace(0.0, 1.0, 10001)
    kam = 0.5 * np.sin(2 * np.pi * t)          # adduction, then abduction
    out = kam_summary(kam, t)
    assert out["impulse"] == pytest.approx(0.5 / math.pi, rel=1e-6)
    assert out["impulse_signed"] == pytest.approx(0.0, abs=1e-9)
    assert out["peak2"] == pytest.approx(0.0, abs=1e-9)  # max of the second half is at 50 %


def test_summaries_refuse_incomplete_stance():
    t = np.linspace(0, 1, 11)
    y = np.ones(11)
    y[4] = np.nan
    with pytest.raises(ValueError, match="non-finite sample.*index 4"):
        kam_summary(y, t)
    with pytest.raises(ValueError, match="strictly increasing"):
        kam_summary(np.ones(11), t[::-1])


def test_moment_summary_analytic():
    stance = 0.6
    t = np.linspace(0.0, stance, 6001)
    m = 0.8 * np.sin(2 * np.pi * t / stance)   # extensor first half, flexor second half
    out = moment_summary(m, t)
    assert out["extensor_peak"] == pytest.approx(0.8)
    assert out["flexor_peak"] == pytest.approx(0.8)      # a positive number
    assert out["extensor_peak_pct"] == pytest.approx(25.0, abs=0.02)
    assert out["flexor_peak_pct"] == pytest.approx(75.0, abs=0.02)
    assert out["extensor_impulse"] == pytest.approx(0.8 * stance / math.pi, rel=1e-6)
    assert out["flexor_impulse"] == pytest.approx(0.8 * stance / math.pi, rel=1e-6)
    only_ext = moment_summary(np.abs(m), t)
    assert only_ext["flexor_peak"] == 0.0 and only_ext["flexor_impulse"] == 0.0


def test_vgrf_summary_double_hump():
    bw, stance = 700.0, 0.7
    t = np.linspace(0.0, stance, 7001)
    a, b = 1.0, 0.25
    s_peak, v_peak = analytic_peak(a, b)
    scale = 1.2 / v_peak                                   # peaks at exactly 1.2 BW
    fz = bw * scale * double_hump(t / stance, a, b)
    out = vgrf_summary(fz, t, body_weight_n=bw)
    assert out["peak1_bw"] == pytest.approx(1.2, rel=1e-6)
    assert out["peak2_bw"] == pytest.approx(1.2, rel=1e-6)
    assert out["peak1_pct"] == pytest.approx(100 * s_peak, abs=0.02)
    assert out["valley_bw"] == pytest.approx(scale * (a - b), rel=1e-6)  # at 50 %
    # time_20_80: slope between 20 % and 80 % of the time to the first peak
    tp = s_peak * stance
    f = lambda tt: scale * double_hump(tt / stance, a, b)  # noqa: E731
    expected = (f(0.8 * tp) - f(0.2 * tp)) / (0.6 * tp)
    assert out["loading_rate_bw_s"] == pytest.approx(expected, rel=2e-3)
    # contact_to_peak: peak / time to peak (force 0 at contact)
    cp = vgrf_summary(fz, t, body_weight_n=bw, loading_rate="contact_to_peak")
    assert cp["loading_rate_bw_s"] == pytest.approx(1.2 / tp, rel=2e-3)
    # force_20_80: 0.6 * peak over the time between 20 % and 80 % of the peak force
    from scipy.optimize import brentq
    t20 = brentq(lambda tt: f(tt) - 0.24, 0, tp)
    t80 = brentq(lambda tt: f(tt) - 0.96, 0, tp)
    ff = vgrf_summary(fz, t, body_weight_n=bw, loading_rate="force_20_80")
    assert ff["loading_rate_bw_s"] == pytest.approx(0.72 / (t80 - t20), rel=2e-3)


def test_vgrf_summary_checks():
    t = np.linspace(0, 0.6, 61)
    fz = 700 * np.sin(np.pi * t / 0.6)
    with pytest.raises(ValueError, match="force on the plate"):
        vgrf_summary(-fz, t, body_weight_n=700)
    with pytest.raises(ValueError, match="body_weight_n"):
        vgrf_summary(fz, t, body_weight_n=0)
    with pytest.raises(ValueError, match="unknown loading-rate"):
        vgrf_summary(fz, t, body_weight_n=700, loading_rate="peak")
    # first peak at foot strike: no loading phase in the window -> NaN, not a made-up rate
    falling = 700 * np.linspace(1.2, 0.8, 61)
    assert math.isnan(vgrf_summary(falling, t, body_weight_n=700)["loading_rate_bw_s"])


# --------------------------------------------------------------------------
# lever-arm estimate, medial proxy, normalisation

def test_kam_lever_arm_geometry_and_side_symmetry():
    n = 3
    # lab: x anterior, y left, z up. Right knee at y = -0.10, 0.5 m above a COP 5 cm medial (y = -0.05).
    grf = np.tile([0.0, 0.0, 700.0], (n, 1))
    right = kam_lever_arm(grf, np.tile([0.1, -0.05, 0.0], (n, 1)), [0.1, -0.10, 0.5], medial_axis=[0, 1, 0])
    np.testing.assert_allclose(right, 35.0)                   # F_v * d_med = 700 * 0.05
    left = kam_lever_arm(grf, np.tile([0.1, 0.05, 0.0], (n, 1)), [0.1, 0.10, 0.5], medial_axis=[0, -1, 0])
    np.testing.assert_allclose(left, 35.0)                    # mirrored leg, same sign
    # a medially directed GRF on the foot adds F_med * h (varus)
    med = kam_lever_arm(np.tile([0.0, 50.0, 700.0], (n, 1)), np.tile([0.1, -0.05, 0.0], (n, 1)),
                        [0.1, -0.10, 0.5], medial_axis=[0, 1, 0])
    np.testing.assert_allclose(med, 35.0 + 50.0 * 0.5)
    # walking backwards (AP axis and AP force reversed) changes nothing: ML axis from anatomy
    bw = kam_lever_arm(np.tile([-80.0, 50.0, 700.0], (n, 1)), np.tile([-0.1, -0.05, 0.0], (n, 1)),
                       [-0.1, -0.10, 0.5], medial_axis=[0, 1, 0])
    np.testing.assert_allclose(bw, med)
    assert "ESTIMATE" in KAM_LEVER_ARM_DESCRIPTION and "ESTIMATE" in kam_lever_arm.__doc__


def test_kam_lever_arm_checks():
    grf = np.tile([0.0, 0.0, 700.0], (2, 1))
    cop = np.zeros((2, 3))
    with pytest.raises(ValueError, match="force on the plate"):
        kam_lever_arm(-grf, cop, [0, -0.1, 0.5], medial_axis=[0, 1, 0])
    with pytest.raises(ValueError, match="metres"):
        kam_lever_arm(grf, cop, [0, -100, 500], medial_axis=[0, 1, 0])
    with pytest.raises(ValueError, match="horizontal"):
        kam_lever_arm(grf, cop, [0, -0.1, 0.5], medial_axis=[0, 0, 1])


def test_medial_contact_proxy():
    assert float(medial_contact_proxy(700.0, 35.0)) == pytest.approx(350.0 + 35.0 / 0.04)   # 1225 N
    np.testing.assert_allclose(medial_contact_proxy([700.0, 700.0], [0.0, 35.0], d_m=0.05), [350.0, 1050.0])
    with pytest.raises(ValueError, match="compressive"):
        medial_contact_proxy(-700.0, 35.0)
    assert "NOT a medial contact force" in MEDIAL_PROXY_DESCRIPTION


def test_body_weight_normalisation():
    assert float(to_body_weight(686.7, 70.0)) == pytest.approx(1.0)
    # 1 N.m/kg = 100/(g h) %BW*Ht = 5.82 %BW*Ht at h = 1.75 m (methods.md 2.2)
    assert float(to_percent_bw_ht(70.0, 70.0, 1.75)) == pytest.approx(5.82, abs=0.005)
    with pytest.raises(ValueError, match="height"):
        to_percent_bw_ht(70.0, 70.0, float("nan"))
    with pytest.raises(ValueError, match="mass_kg"):
        to_body_weight(700.0, 0.0)


def test_vgrf_flat_first_hump_has_no_first_peak_instead_of_the_window_edge():
    # quick rise to 1 BW by 12 % stance, slow climb through mid-stance, push-off peak 1.15 BW at 78 %
    bw, stance = 700.0, 0.7
    u = np.linspace(0.0, 1.0, 701)
    rise = np.clip(u / 0.12, 0, 1)
    fall = np.clip((1 - u) / 0.12, 0, 1)
    f = (1 - (1 - rise) ** 2) * (1 + 0.06 * u) + 0.12 * np.exp(-((u - 0.78) / 0.1) ** 2)
    f = f * (1 - (1 - fall) ** 2)
    out = vgrf_summary(bw * f, u * stance, body_weight_n=bw)
    assert math.isnan(out["peak1_bw"]) and math.isnan(out["loading_rate_bw_s"]) and math.isnan(out["valley_bw"])
    assert "no loading-response peak" in out["peak1_reason"] and out["peak2_reason"] == ""
    assert out["peak2_bw"] == pytest.approx(f[u > 0.5].max()) and 70 < out["peak2_pct"] < 85
    # the old definition (maximum of the first half) returned the mid-stance edge and ~0.1 BW/s
    first = u <= 0.5
    assert u[first][np.argmax(f[first])] == pytest.approx(0.5)


def test_vgrf_peaks_ignore_noise_and_find_a_shallow_first_hump():
    rng = np.random.default_rng(0)
    bw, stance = 300.0, 0.6                     # a 30 kg child: 3 N noise is 0.01 BW
    t = np.linspace(0.0, stance, 601)
    a, b = 1.0, 0.2                             # shallow valley: peaks 0.08 BW above it
    s_peak, v_peak = analytic_peak(a, b)
    fz = bw * double_hump(t / stance, a, b) / v_peak + 3.0 * rng.standard_normal(t.size)
    out = vgrf_summary(fz, t, body_weight_n=bw)
    assert out["peak1_pct"] == pytest.approx(100 * s_peak, abs=8.0)
    assert out["peak1_reason"] == out["peak2_reason"] == ""
    assert out["loading_rate_bw_s"] > 2.0
    # a single central hump has neither peak (no window edge is a peak)
    single = vgrf_summary(700 * np.sin(np.pi * t / stance), t, body_weight_n=700)
    assert math.isnan(single["peak1_bw"]) and math.isnan(single["peak2_bw"])
