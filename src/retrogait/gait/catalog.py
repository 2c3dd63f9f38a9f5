"""The catalogue of per-cycle measures: name, unit, window, definition and reference.

One place that says what every measure is, used by the measures stage that
computes them (:mod:`retrogait.gait.measures`), the literature table and the
claims that refer to them, and the report that labels them. Pure Python (no
numpy/scipy), so checking a claim or a literature row against it is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Measure", "MEASURES", "emg_measure", "describe", "label", "LABELS", "QUADRICEPS", "HAMSTRINGS", "Tie",
           "TIES", "KINDS"]

#: What a measure's value is: ``measured`` (from the recording or the dataset's own inverse dynamics),
#: ``model`` (a model applied to measured inputs, e.g. the patellofemoral model), ``estimate`` (a
#: labelled ESTIMATE standing in for a quantity the data lack) or ``proxy`` (a surrogate that is not
#: the quantity it is named after). Claims may not rest on an estimate or a proxy.
KINDS = ("measured", "model", "estimate", "proxy")


@dataclass(frozen=True)
class Measure:
    """A per-cycle outcome: its unit, window and where its definition comes from."""

    name: str
    unit: str
    window: str          # "stride", "stance" or "contact"
    description: str
    reference: str
    kind: str = "measured"   # one of KINDS


_M = [
    Measure("stride_time", "s", "stride", "foot strike to next ipsilateral foot strike", "docs/methods.md §4.5"),
    Measure("stance_time", "s", "stance", "foot strike to foot off", "docs/methods.md §4.5"),
    Measure("stance_pct", "%", "stride", "stance duration as % of stride", "docs/methods.md §4.5"),
    Measure("cadence", "steps/min", "stride", "120 / stride time", "-"),
    Measure("stride_length", "m", "stride", "distance travelled in one stride: belt speed x stride time on a "
            "treadmill, foot-centre marker displacement overground", "-"),
    Measure("walking_speed", "m/s", "stride", "horizontal displacement of the pelvis (root) over the stride / "
            "stride time overground; belt speed on a treadmill", "docs/methods.md §4.5, 4.7"),
    Measure("foot_angle_at_contact", "deg", "contact",
            "heel-toe line vs the horizontal at foot strike, minus its median over 33-67 % of the same stance "
            "(foot flat): positive toe up (heel-first landing), negative toe down (toe-first)",
            "docs/methods.md §4.8"),
    Measure("toe_first_contact", "%", "contact",
            "100 when the contact is toe-first (foot angle at contact below -events.contact_flat_deg), else 0: "
            "its mean over cycles is the percentage of toe-first contacts", "docs/methods.md §4.8"),
    Measure("ankle_dorsiflexion_at_contact", "deg", "contact",
            "ankle dorsiflexion at foot strike (negative = plantarflexed, toe-first landing)", "docs/methods.md §0.2"),
    Measure("knee_flexion_at_contact", "deg", "contact", "knee flexion at foot strike (flexion +)", "docs/methods.md §0.2"),
    Measure("knee_flexion_at_toe_off", "deg", "contact", "knee flexion at foot off", "docs/methods.md §0.2"),
    Measure("knee_flexion_peak_stance", "deg", "stance", "maximum knee flexion in stance", "docs/methods.md §0.2"),
    Measure("knee_flexion_peak_swing", "deg", "stride", "maximum knee flexion in swing (foot off to next foot strike)",
            "docs/methods.md §0.2"),
    Measure("knee_extension_excursion_stance", "deg", "stance",
            "knee flexion at foot strike minus knee flexion at foot off: positive when the knee straightens "
            "through stance", "docs/methods.md §4.6"),
    Measure("knee_flexion_mean_stance", "deg", "stance", "mean knee flexion over stance (time average)",
            "docs/methods.md §0.2"),
    Measure("knee_flexion_rom_stance", "deg", "stance", "max - min knee flexion in stance", "docs/methods.md §0.2"),
    Measure("knee_flexion_rom_stride", "deg", "stride", "max - min knee flexion over the stride", "docs/methods.md §0.2"),
    Measure("knee_extensor_moment_peak", "N.m/kg", "stance", "peak internal knee extensor moment in stance",
            "docs/methods.md §0.2; 2.4 (KFM)"),
    Measure("knee_flexor_moment_peak", "N.m/kg", "stance", "largest internal knee flexor moment anywhere in stance "
            "(foot strike to foot off, not restricted to one phase), reported as a positive number; 0 when the "
            "moment never turns flexor", "docs/methods.md §0.2"),
    Measure("knee_extensor_moment_impulse", "N.m.s/kg", "stance", "time integral of the extensor moment in stance",
            "docs/methods.md §2.4 (integrate in time)"),
    Measure("knee_flexor_moment_impulse", "N.m.s/kg", "stance", "time integral of the flexor moment in stance",
            "docs/methods.md §2.4"),
    Measure("knee_work_negative_stance", "J/kg", "stance",
            "negative knee work in stance: integral of min(P, 0), P = -M_ext d(flexion)/dt (<= 0; more negative = "
            "more energy absorbed)", "docs/methods.md §4.10 (Winter 1991)"),
    Measure("knee_work_positive_stance", "J/kg", "stance", "positive knee work in stance: integral of max(P, 0) (>= 0)",
            "docs/methods.md §4.10 (Winter 1991)"),
    Measure("knee_extensor_work_negative_stance", "J/kg", "stance",
            "negative knee work in stance while the moment is extensor: eccentric (lengthening) knee extensor work "
            "(<= 0)", "docs/methods.md §4.10 (Winter 1991: K1, K3)"),
    Measure("knee_extensor_work_positive_stance", "J/kg", "stance",
            "positive knee work in stance while the moment is extensor: concentric (shortening) knee extensor work "
            "(>= 0)", "docs/methods.md §4.10 (Winter 1991: K2)"),
    Measure("quadriceps_moment_arm_at_peak_extensor", "m", "stance",
            "quadriceps (patellar tendon) moment arm at the knee flexion of the peak extensor moment in stance: "
            "an INTERPRETATION of 'mechanical advantage' (longer arm = less quadriceps force per N.m)",
            "docs/methods.md §1.3, 4.10 (van Eijden et al. 1986 effective moment arm)", "model"),
    Measure("hip_flexion_at_contact", "deg", "contact", "hip flexion at foot strike (flexion +)",
            "docs/methods.md §0.2, 4.10"),
    Measure("hip_flexion_peak_stance", "deg", "stance", "maximum hip flexion in stance", "docs/methods.md §0.2, 4.10"),
    Measure("hip_extensor_moment_peak", "N.m/kg", "stance", "peak internal hip extensor moment in stance",
            "docs/methods.md §0.2, 4.10"),
    Measure("hip_flexor_moment_peak", "N.m/kg", "stance", "peak internal hip flexor moment in stance (positive)",
            "docs/methods.md §0.2, 4.10"),
    Measure("hip_flexor_work_negative_stance", "J/kg", "stance",
            "negative hip work in stance while the moment is flexor: eccentric (lengthening) hip flexor work (<= 0)",
            "docs/methods.md §4.10 (Winter 1991: H2)"),
    Measure("hip_extensor_work_positive_stance", "J/kg", "stance",
            "positive hip work in stance while the moment is extensor: concentric (shortening) hip extensor work, "
            "gluteus maximus and hamstrings (>= 0)", "docs/methods.md §4.10 (Winter 1991: H1)"),
    Measure("kam_peak1", "N.m/kg", "stance", "first-half-stance peak external knee adduction moment",
            "docs/methods.md §2.4"),
    Measure("kam_peak2", "N.m/kg", "stance", "second-half-stance peak external knee adduction moment",
            "docs/methods.md §2.4"),
    Measure("kam_impulse", "N.m.s/kg", "stance", "knee adduction angular impulse (positive part, in time)",
            "docs/methods.md §2.4"),
    Measure("kam_peak1_bwht", "%BW.Ht", "stance", "first-half-stance KAM peak normalised to body weight x height",
            "docs/methods.md §2.2 (Favre et al. 2012)"),
    Measure("kam_peak2_bwht", "%BW.Ht", "stance", "second-half-stance KAM peak normalised to body weight x height",
            "docs/methods.md §2.2"),
    Measure("kam_est_peak1", "N.m/kg", "stance", "first-half-stance peak of the quasi-static lever-arm KAM ESTIMATE "
            "(only when the data have no frontal knee moment)", "docs/methods.md §2.3 (Knee 2015: poor agreement with ID)", "estimate"),
    Measure("kam_est_peak2", "N.m/kg", "stance", "second-half-stance peak of the lever-arm KAM ESTIMATE",
            "docs/methods.md §2.3", "estimate"),
    Measure("kam_est_impulse", "N.m.s/kg", "stance", "positive impulse of the lever-arm KAM ESTIMATE", "docs/methods.md §2.3",
            "estimate"),
    Measure("pfj_force_peak", "BW", "stance", "peak patellofemoral joint reaction force",
            "docs/methods.md §1.1-1.4 (van Eijden 1986 k, effective moment arm, contact area set)", "model"),
    Measure("pfj_force_peak_n", "N", "stance", "peak patellofemoral joint reaction force", "docs/methods.md §1.1-1.4",
            "model"),
    Measure("pfj_stress_peak", "MPa", "stance", "peak patellofemoral joint stress", "docs/methods.md §1.1-1.4", "model"),
    Measure("pfj_stress_integral", "MPa.s", "stance", "stress-time integral over stance",
            "docs/methods.md §1.1 (Vannatta & Kernozek 2015)", "model"),
    Measure("pfj_stress_peak_time", "% stance", "stance", "time of peak PFJ stress", "docs/methods.md §1.5, 1.7",
            "model"),
    Measure("medial_load_proxy_peak", "BW", "stance",
            "external-load medial tibiofemoral proxy F/2 + KAM/d from the measured KAM (not a contact force)",
            "docs/methods.md §3.1 (OpenCap computeMCF, d = 0.04 m)", "proxy"),
    Measure("medial_load_proxy_est_peak", "BW", "stance",
            "external-load medial proxy F/2 + KAM/d from the lever-arm KAM ESTIMATE (only when the data have no "
            "frontal knee moment; never pooled with the measured one)", "docs/methods.md §2.3, 3.1", "proxy"),
    Measure("vgrf_peak1", "BW", "stance", "loading-response peak of vertical GRF: highest local maximum (prominence "
            ">= 0.02 BW) in the first half of stance; missing when there is none", "docs/methods.md §4.1"),
    Measure("vgrf_peak2", "BW", "stance", "push-off peak of vertical GRF: highest local maximum (prominence "
            ">= 0.02 BW) in the second half of stance", "docs/methods.md §4.1"),
    Measure("vgrf_loading_rate", "BW/s", "stance", "vertical GRF loading rate", "retrogait.gait.kneeload.vgrf_summary"),
]
MEASURES: dict[str, Measure] = {m.name: m for m in _M}


#: Plain-language label of every fixed measure (the report shows it first, the code name second).
LABELS: dict[str, str] = {
    "stride_time": "Stride time",
    "stance_time": "Stance time",
    "stance_pct": "Stance, % of stride",
    "cadence": "Cadence",
    "stride_length": "Stride length",
    "walking_speed": "Walking speed",
    "foot_angle_at_contact": "Foot angle at contact",
    "toe_first_contact": "Toe-first contacts",
    "ankle_dorsiflexion_at_contact": "Ankle dorsiflexion at contact",
    "knee_flexion_at_contact": "Knee flexion at contact",
    "knee_flexion_at_toe_off": "Knee flexion at foot off",
    "knee_flexion_peak_stance": "Peak knee flexion in stance",
    "knee_flexion_peak_swing": "Peak knee flexion in swing",
    "knee_extension_excursion_stance": "Knee extension through stance",
    "knee_flexion_mean_stance": "Mean knee flexion in stance",
    "knee_flexion_rom_stance": "Knee range of motion in stance",
    "knee_flexion_rom_stride": "Knee range of motion over the stride",
    "knee_extensor_moment_peak": "Peak knee extensor moment",
    "knee_flexor_moment_peak": "Peak knee flexor moment (whole stance)",
    "knee_extensor_moment_impulse": "Knee extensor moment impulse",
    "knee_flexor_moment_impulse": "Knee flexor moment impulse",
    "kam_peak1": "Knee adduction moment, first peak",
    "kam_peak2": "Knee adduction moment, second peak",
    "kam_impulse": "Knee adduction moment impulse",
    "kam_peak1_bwht": "Knee adduction moment, first peak (%BW·Ht)",
    "kam_peak2_bwht": "Knee adduction moment, second peak (%BW·Ht)",
    "kam_est_peak1": "Knee adduction moment ESTIMATE, first peak",
    "kam_est_peak2": "Knee adduction moment ESTIMATE, second peak",
    "kam_est_impulse": "Knee adduction moment ESTIMATE, impulse",
    "pfj_force_peak": "Peak kneecap (patellofemoral) force",
    "pfj_force_peak_n": "Peak kneecap (patellofemoral) force, newtons",
    "pfj_stress_peak": "Peak kneecap (patellofemoral) stress",
    "pfj_stress_integral": "Kneecap (patellofemoral) stress-time integral",
    "pfj_stress_peak_time": "Time of peak kneecap stress",
    "medial_load_proxy_peak": "Inner-knee load proxy, peak",
    "medial_load_proxy_est_peak": "Inner-knee load proxy from the KAM ESTIMATE, peak",
    "vgrf_peak1": "Vertical ground force, loading peak",
    "vgrf_peak2": "Vertical ground force, push-off peak",
    "vgrf_loading_rate": "Vertical ground force loading rate",
    "knee_work_negative_stance": "Knee work absorbed in stance (negative work)",
    "knee_work_positive_stance": "Knee work generated in stance (positive work)",
    "knee_extensor_work_negative_stance": "Lengthening (eccentric) knee extensor work in stance",
    "knee_extensor_work_positive_stance": "Shortening (concentric) knee extensor work in stance",
    "quadriceps_moment_arm_at_peak_extensor": "Quadriceps moment arm at the peak extensor moment",
    "hip_flexion_at_contact": "Hip flexion at contact",
    "hip_flexion_peak_stance": "Peak hip flexion in stance",
    "hip_extensor_moment_peak": "Peak hip extensor moment",
    "hip_flexor_moment_peak": "Peak hip flexor moment",
    "hip_flexor_work_negative_stance": "Lengthening (eccentric) hip flexor work in stance",
    "hip_extensor_work_positive_stance": "Shortening (concentric) hip extensor work in stance",
}


def label(name: str) -> str:
    """Plain-language label of a measure (or of a waveform variable) for readers; the code name when unknown.

    EMG measures are labelled from the muscle (``emg_peak_vastus_lateralis``:
    "Vastus lateralis activation, peak over the stride"). Never raises: an
    unknown name is returned as it is, so a new measure shows its code name
    rather than breaking the report.
    """
    name = str(name)
    if name in LABELS:
        return LABELS[name]
    for prefix, what in (("emg_mean_stance_", "mean in stance"), ("emg_mean_", "mean over the stride"),
                         ("emg_peak_", "peak over the stride")):
        if name.startswith(prefix):
            return f"{name.removeprefix(prefix).replace('_', ' ').capitalize()} activation, {what}"
    if name == "cci_rudolph_stance":
        return "Thigh co-contraction (Rudolph index), stance"
    if name == "cci_falconer_winter_stance":
        return "Thigh co-contraction (Falconer-Winter %), stance"
    if name.startswith("emg_"):
        return f"{name.removeprefix('emg_').replace('_', ' ').capitalize()} activation"
    return name


@dataclass(frozen=True)
class Tie:
    """A measure that is an algebraic function of another one: tested once, as ``primary``.

    ``condition`` is ``"always"`` or ``"one_treadmill_speed"`` (tied only when every cycle of the
    comparison is on a treadmill at one belt speed, e.g. a speed-matched contrast).
    """

    measure: str
    primary: str
    relation: str
    condition: str = "always"


#: Algebraically tied measures (docs/methods.md §6.5): the derived one is reported, not tested.
TIES: tuple[Tie, ...] = (
    Tie("pfj_force_peak_n", "pfj_force_peak", "pfj_force_peak_n = pfj_force_peak x m g (constant per subject)"),
    Tie("kam_peak1_bwht", "kam_peak1", "kam_peak1_bwht = 100 kam_peak1 / (g height) (constant per subject)"),
    Tie("kam_peak2_bwht", "kam_peak2", "kam_peak2_bwht = 100 kam_peak2 / (g height) (constant per subject)"),
    Tie("cadence", "stride_time", "cadence = 120 / stride_time (per cycle)"),
    Tie("stride_length", "stride_time", "stride_length = belt speed x stride_time (treadmill, one belt speed)",
        "one_treadmill_speed"),
)

#: Muscles pooled for the quadriceps-hamstrings co-contraction index.
QUADRICEPS = ("rectus_femoris", "vastus_lateralis", "vastus_medialis")
HAMSTRINGS = ("biceps_femoris", "semitendinosus", "hamstrings")


def emg_measure(name: str) -> Measure | None:
    """Describe an EMG measure name (``emg_mean_<muscle>``, ``emg_peak_<muscle>``, ``cci_*``)."""
    for prefix, what, window in (("emg_mean_stance_", "mean envelope in stance", "stance"),
                                 ("emg_mean_", "mean envelope over the stride", "stride"),
                                 ("emg_peak_", "peak envelope over the stride", "stride")):
        if name.startswith(prefix):
            muscle = name.removeprefix(prefix)
            return Measure(name, "%ref", window, f"{muscle.replace('_', ' ')}: {what}",
                           "docs/methods.md §5.3-5.4 (linear envelope, one reference per subject across conditions)")
    if name == "cci_rudolph_stance":
        return Measure(name, "%ref", "stance", "quadriceps-hamstrings co-contraction, Rudolph index, mean over stance",
                       "Rudolph et al. 2000 (KSSTA 8:262); docs/methods.md §5.6")
    if name == "cci_falconer_winter_stance":
        return Measure(name, "%", "stance", "quadriceps-hamstrings co-contraction, Falconer & Winter %COACT, stance",
                       "Falconer & Winter 1985; docs/methods.md §5.6")
    return None


def describe(name: str) -> Measure:
    """Registry lookup for any measure name (fixed or EMG)."""
    m = MEASURES.get(name) or emg_measure(name)
    if m is None:
        raise KeyError(f"unknown measure {name!r}")
    return m
