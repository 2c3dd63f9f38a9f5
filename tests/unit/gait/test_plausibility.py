"""Tests of retrogait.gait.plausibility: rules hit and miss, whole-trial unit/sign errors."""

from __future__ import annotations

import numpy as np
import pytest

from retrogait.errors import DataError
from retrogait.gait.kneeload import K_RATIO, Poly, PFJModel
from retrogait.gait.plausibility import (RULES, Rule, check_cycle, check_pfj_model, check_trial_scale, flag_counts,
                                         flag_cycle)

PLAUSIBLE = {  # a healthy FW walking cycle
    "pfj_stress_peak": 2.8, "pfj_force_peak": 0.7, "pfj_k_min": 0.46, "pfj_k_max": 0.8,
    "pfj_contact_area_min": 81.0, "knee_extensor_moment_peak": 0.5, "kam_peak1": 0.45, "kam_peak2": 0.35,
    "vgrf_peak1": 1.15, "vgrf_peak2": 1.1, "vgrf_loading_rate": 9.0, "medial_load_proxy_peak": 1.8,
    "stance_time": 0.65,  # no rule: ignored
}
WHERE = {"dataset": "gt23", "subject": "AB01", "trial": "bw_0p6"}


def test_rules_are_referenced_data():
    assert all(isinstance(r, Rule) and r.unit and r.reference and (r.low is not None or r.high is not None)
               for r in RULES)
    by_q = {r.quantity: r for r in RULES}
    assert by_q["pfj_stress_peak"].high == 10.0 and by_q["pfj_force_peak"].high == 3.0
    assert (by_q["pfj_k_min"].low, by_q["pfj_k_max"].high) == (0.3, 1.05)
    assert (by_q["knee_extensor_moment_peak"].low, by_q["knee_extensor_moment_peak"].high) == (0.05, 2.5)


def test_plausible_cycle_passes():
    assert check_cycle(PLAUSIBLE) == []
    assert check_cycle({}) == []
    assert check_cycle({**PLAUSIBLE, "kam_peak1": float("nan"), "vgrf_peak1": None}) == []  # not measured


@pytest.mark.parametrize("quantity, value, unit, bound", [
    ("pfj_stress_peak", 12.0, "MPa", "<= 10"),
    ("pfj_force_peak", 3.5, "BW", "<= 3"),
    ("pfj_k_max", 1.2, "1", "<= 1.05"),
    ("pfj_k_min", 0.25, "1", ">= 0.3"),
    ("pfj_contact_area_min", 0.0, "mm2", "> 0"),
    ("knee_extensor_moment_peak", 3.0, "N.m/kg", "<= 2.5"),
    ("knee_extensor_moment_peak", 0.01, "N.m/kg", ">= 0.05"),
    ("kam_peak1", 2.0, "N.m/kg", "<= 1.5"),
    ("kam_peak2", -0.4, "N.m/kg", ">= -0.2"),
    ("vgrf_peak1", 2.6, "BW", "<= 2"),
    ("vgrf_peak2", 0.3, "BW", ">= 0.6"),
    ("vgrf_loading_rate", 120.0, "BW/s", "<= 60"),
    ("medial_load_proxy_peak", 7.0, "BW", "<= 5"),
])
def test_rule_hits_name_quantity_value_unit_and_bound(quantity, value, unit, bound):
    reasons = check_cycle({**PLAUSIBLE, quantity: value})
    assert len(reasons) == 1
    r = reasons[0]
    assert r.startswith(f"{quantity} = {value:.4g} {unit}") and bound in r


def test_boundaries_and_non_finite():
    assert check_cycle({"pfj_stress_peak": 10.0}) == []            # the rule is "> 10 MPa fails"
    assert check_cycle({"pfj_stress_peak": 10.001})
    assert check_cycle({"knee_extensor_moment_peak": 0.05}) == []
    assert "not finite" in check_cycle({"pfj_stress_peak": float("inf")})[0]
    with pytest.raises(ValueError, match="pfj_stress_peak must be a number"):
        check_cycle({"pfj_stress_peak": "high"})


def test_pfj_model_check_catches_the_k_typo():
    assert check_pfj_model(PFJModel()) == []
    assert check_pfj_model(PFJModel(contact_area="kernozek_fox")) == []
    typo = Poly(name="typo_x2", quantity="k", unit="1", numerator=(0.462, 0.0, 0.00147 - 3.84e-5),
                denominator=K_RATIO["van_eijden_1986"].denominator, reference="-", source="-", status="-")
    K_RATIO["typo_x2"] = typo
    try:
        reasons = check_pfj_model(PFJModel(name="typo", k_ratio="typo_x2"))
    finally:
        del K_RATIO["typo_x2"]
    assert any("pfj_k_max" in r and "1.05" in r for r in reasons)


def test_plausible_trial_passes():
    assert check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([0.45, 0.6, 0.52]),
                             knee_flexion_range_deg=(-3.0, 62.0), where=WHERE) is None
    assert check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([]), where=WHERE) is None


def test_nmm_read_as_nm_is_caught_with_location_and_cause():
    with pytest.raises(DataError) as exc:
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([450.0, 520.0, 610.0]), where=WHERE)
    msg = str(exc.value)
    assert "dataset=gt23" in msg and "subject=AB01" in msg and "trial=bw_0p6" in msg
    assert "N.mm/kg read as N.m/kg" in msg and "0.52" in msg
    assert exc.value.subject == "AB01"


def test_absolute_moment_not_divided_by_mass():
    with pytest.raises(DataError, match="not divided by"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([30.0, 35.0, 40.0]), where=WHERE)


def test_too_small_moments():
    with pytest.raises(DataError, match="divided by 1000"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([4e-4, 5e-4, 6e-4]), where=WHERE)


def test_flipped_moment_sign():
    with pytest.raises(DataError, match="sign is flipped"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([-0.4, -0.5, 0.0]), where=WHERE)


def test_single_non_positive_cycle_is_not_a_trial_error():
    # one cycle is not enough evidence for a sign error ...
    check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([-0.3]), where=WHERE)
    # ... but mixed with plausible cycles it is not one either
    check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([-0.3, 0.5, 0.6]), where=WHERE)


def test_knee_flexion_in_radians_or_with_flipped_sign():
    with pytest.raises(DataError, match="RADIANS"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([0.5]),
                          knee_flexion_range_deg=(-0.05, 1.1), where=WHERE)
    with pytest.raises(DataError, match="extension positive"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([0.5]),
                          knee_flexion_range_deg=(-63.0, 4.0), where=WHERE)
    with pytest.raises(ValueError, match="min <= max"):
        check_trial_scale(peak_extensor_moments_nm_per_kg=np.array([0.5]),
                          knee_flexion_range_deg=(60.0, 0.0), where=WHERE)


def test_configured_pfj_model_is_checked_before_any_cycle():
    from retrogait.gait.cycles import CycleSettings
    from retrogait.errors import ConfigError

    assert CycleSettings.from_config({}).pfj.sets  # the default model passes
    typo = Poly(name="typo_x2", quantity="k", unit="1", numerator=(0.462, 0.0, 0.00147 - 3.84e-5),
                denominator=K_RATIO["van_eijden_1986"].denominator, reference="-", source="-", status="-")
    K_RATIO["typo_x2"] = typo  # the x^2 transcription error of methods.md 1.2
    try:
        with pytest.raises(ConfigError, match=r"knee_load.*implausible.*pfj_k_max"):
            CycleSettings.from_config({"knee_load": {"k_ratio": "typo_x2"}})
    finally:
        del K_RATIO["typo_x2"]


# ------------------------------------------------------------------ measure families and counts
def test_a_broken_rule_flags_its_measure_family_only():
    broken = flag_cycle({**PLAUSIBLE, "pfj_stress_peak": 12.0})
    assert [r.name for r, _ in broken] == ["pfj_stress_walking"]
    rule = broken[0][0]
    for name in ("pfj_stress_peak", "pfj_force_peak", "pfj_force_peak_n", "pfj_stress_integral"):
        assert rule.governs(name), name
    for name in ("knee_extensor_moment_peak", "knee_flexion_at_contact", "vgrf_peak1", "emg_mean_vastus_lateralis",
                 "stride_time", "kam_peak1"):
        assert not rule.governs(name), name
    # the PFJ model is driven by the knee moment: an implausible moment flags the PFJ values too
    moment = flag_cycle({**PLAUSIBLE, "knee_extensor_moment_peak": 3.0})[0][0]
    assert moment.governs("knee_flexor_moment_impulse") and moment.governs("pfj_stress_peak")
    assert not moment.governs("vgrf_peak1")
    # the medial proxy is built from the KAM and the vertical GRF
    assert flag_cycle({**PLAUSIBLE, "kam_peak1": 2.0})[0][0].governs("medial_load_proxy_peak")
    assert flag_cycle({**PLAUSIBLE, "vgrf_peak1": 2.6})[0][0].governs("medial_load_proxy_peak")
    assert check_cycle({**PLAUSIBLE, "pfj_stress_peak": 12.0}) == [broken[0][1]]


def test_flag_counts_per_condition_and_rule():
    import pandas as pd

    rows = []
    for cond, flagged in (("FW", {0}), ("BW", {0, 1, 2})):
        for cyc in range(4):
            for measure in ("pfj_stress_peak", "pfj_force_peak", "stride_time"):
                hit = cyc in flagged and measure.startswith("pfj_")
                rows.append(dict(dataset="d", subject="S1", trial=cond, condition=cond, direction=cond,
                                 speed_mps=0.6, side="L", cycle=cyc, measure=measure, value=1.0,
                                 qc_status="rejected" if hit else "kept",
                                 qc_rule="pfj_stress_walking" if hit else ""))
    out = flag_counts(pd.DataFrame(rows)).set_index(["condition", "rule"])
    assert out.loc[("BW", "pfj_stress_walking"), ["n_cycles", "n_flagged"]].tolist() == [4, 3]
    assert out.loc[("FW", "pfj_stress_walking"), "pct_flagged"] == 25.0
    assert out.loc[("FW", "pfjrf_walking"), "n_flagged"] == 0 and out.loc[("FW", "pfjrf_walking"), "n_cycles"] == 4
    assert out.loc[("BW", "pfj_stress_walking"), "flags"] == "pfj*"
    assert ("FW", "vgrf_walking") not in out.index  # quantity never measured: no row


def test_loading_rate_from_the_edge_of_a_flat_first_hump_is_implausible():
    reasons = check_cycle({**PLAUSIBLE, "vgrf_loading_rate": 0.08})
    assert len(reasons) == 1 and "vgrf_loading_rate = 0.08 BW/s" in reasons[0] and ">= 1 BW/s" in reasons[0]
    assert check_cycle({**PLAUSIBLE, "vgrf_loading_rate": 2.3}) == []  # slow (children, backward) walking
