"""Wording of the report sections that summarise SPM1D, the meta-analysis and the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrogait.analysis.contrasts import Contrast
from retrogait.analysis.meta import POOLED_COLUMNS, STUDY_COLUMNS
from retrogait.report.sections import _figures, _meta_analysis, _waveform_stats
from retrogait.analysis.waveforms import CLUSTER_COLUMNS, SUMMARY_COLUMNS

BW = Contrast(id="bw_vs_fw_0.6", factor="direction", levels=("BW", "FW"), label="Backward vs forward at 0.6",
              filter={"speed_mps": 0.6}, family="direction")
ADJ = Contrast(id="adj", factor="direction", levels=("BW", "FW"), label="Speed adjusted",
               covariates=("speed_mps",), family="direction")
TURN = Contrast(id="turn", factor="condition", levels=("turn", "straight"), label="Turn vs straight")
META = {"meta_analysis": {"literature": "lit.csv", "contrasts": ["bw_vs_fw_0.6"], "method": "pm",
                          "assumed_r": 0.5, "min_studies": 3}}


def _text(section) -> str:
    parts = list(section.paragraphs)
    for title, table in section.tables:
        parts.append(title)
        parts.append(table.to_string())
    for sub in section.subsections:
        parts.append(sub.title)
        parts.append(_text(sub))
    return "\n".join(parts)


def _spm_row(**kw):
    row = dict.fromkeys(SUMMARY_COLUMNS, np.nan)
    row.update(contrast="bw_vs_fw_0.6", label=BW.label, dataset="gt23", family="knee", variable="knee_flexion",
               domain="stride", unit="deg", n_subjects=12, n_excluded=0, excluded_subjects="", status="ok",
               n_clusters=1, m=5, zstar=4.2)
    row.update(kw)
    return row


def test_spm_section_lists_tests_clusters_exclusions_and_untested_covariate_contrasts():
    spm = pd.DataFrame([_spm_row(), _spm_row(variable="vgrf", n_clusters=0, n_excluded=1,
                                             excluded_subjects="AB05")], columns=SUMMARY_COLUMNS)
    cl = pd.DataFrame([dict(contrast="bw_vs_fw_0.6", dataset="gt23", family="knee", variable="knee_flexion",
                            domain="stride", level_a="BW", level_b="FW", cluster=1, start_pct=0.0, end_pct=12.5,
                            extent_pct=12.5, centroid_pct=6.0, p=0.001, sign="a>b", start_node=0,
                            end_node=12.5)], columns=CLUSTER_COLUMNS)
    text = _text(_waveform_stats(spm, cl, [BW, ADJ, TURN]))
    assert "Speed adjusted" in text and "covariate" in text
    assert "12.5" in text and "a>b" in text and "Šidák" in text and "spm1d.stats.ttest(ya − yb)" in text
    assert "gt23 vgrf: AB05" in text
    assert "Turn vs straight" not in text  # not applicable: no subsection


def test_spm_section_without_tests_says_why():
    text = _text(_waveform_stats(pd.DataFrame(columns=SUMMARY_COLUMNS), pd.DataFrame(columns=CLUSTER_COLUMNS),
                                 [TURN]))
    assert "No waveform test was run" in text


def test_spm_figures_are_shown_only_where_the_contrast_was_tested(tmp_path):
    spm = pd.DataFrame([_spm_row()], columns=SUMMARY_COLUMNS)
    figs = [tmp_path / "gt23" / f"{n}.png" for n in ("qc_overview", "spm_bw_vs_fw_0.6_knee", "spm_turn_knee")]
    figs += [tmp_path / "esmac" / "spm_bw_vs_fw_0.6_knee.png", tmp_path / "meta" / "forest_pfj_force_peak.png"]
    section = _figures(figs, spm, [BW, TURN])
    shown = {(sub.title, f.path.split("/")[-1]) for sub in section.subsections for f in sub.figures}
    assert shown == {("gt23", "qc_overview.png"), ("gt23", "spm_bw_vs_fw_0.6_knee.png"),
                     ("meta", "forest_pfj_force_peak.png")}
    titles = [f.title for sub in section.subsections for f in sub.figures]
    assert "gt23: SPM1D, knee: Backward vs forward at 0.6" in titles
    assert "meta: Forest plot, Peak kneecap (patellofemoral) force" in titles


def _study(measure, activity, source, effect):
    row = dict.fromkeys(STUDY_COLUMNS, np.nan)
    row.update(measure=measure, stratum=f"{activity}, speed-matched", activity=activity, speed_matched="yes",
               label=f"{source} {activity}", source=source, n=10, effect=effect, note="")
    return row


def test_meta_section_flags_running_only_evidence_and_states_the_assumed_r():
    studies = pd.DataFrame([_study("pfj_force_peak", "running", "literature", -1.0),
                            _study("pfj_force_peak", "walking", "dataset", -0.4)], columns=STUDY_COLUMNS)
    pooled = pd.DataFrame([dict.fromkeys(POOLED_COLUMNS, np.nan)], columns=POOLED_COLUMNS)
    text = _text(_meta_analysis(studies, pooled, META))
    assert "r = 0.5 is assumed" in text and "Paule-Mandel" in text and "Hartung-Knapp-Sidik-Jonkman" in text
    assert "fewer than 3 studies" in text
    assert "No published study of backward WALKING" in text
    studies.loc[1, "source"] = "literature"
    assert "No published study of backward WALKING" not in _text(_meta_analysis(studies, pooled, META))


def test_meta_section_switched_off():
    assert "Not run" in _text(_meta_analysis(None, None, {"meta_analysis": {"literature": None}}))


def test_qc_section_shows_plausibility_flags_and_warns_on_unbalanced_rates():
    from retrogait.analysis.qc import CONTRAST_FLAG_COLUMNS
    from retrogait.gait.plausibility import FLAG_COUNT_COLUMNS
    from retrogait.report.sections import _qc

    flags = pd.DataFrame([dict(dataset="gt23", condition="BW_0.6", direction="BW", speed_mps=0.6,
                               rule="pfj_stress_walking", quantity="pfj_stress_peak", flags="pfj*", n_cycles=300,
                               n_flagged=30, pct_flagged=10.0)], columns=FLAG_COUNT_COLUMNS)
    note = "WARNING rule pfj_stress_walking flagged 10.0 % of cycles at BW and 0.0 % at FW (Fisher p = 1e-09)"
    balance = pd.DataFrame([dict(contrast="bw_vs_fw_0.6", dataset="gt23", level_a="BW", level_b="FW",
                                 rule="pfj_stress_walking", quantity="pfj_stress_peak", n_a=300, flagged_a=30,
                                 pct_a=10.0, n_b=300, flagged_b=0, pct_b=0.0, p_fisher=1e-9, warning=True,
                                 note=note)], columns=CONTRAST_FLAG_COLUMNS)
    empty = pd.DataFrame()
    text = _text(_qc(empty, empty, empty, empty, flags=flags, balance=balance))
    assert "Plausibility flags per condition" in text and "pfj*" in text
    assert note in text and "Plausibility flags by contrast level" in text
    balance.loc[0, ["warning", "note", "flagged_a"]] = [False, "", 0]
    text = _text(_qc(empty, empty, empty, empty, flags=flags, balance=balance))
    assert "No rule flagged cycles at different rates" in text


def test_scorecard_states_the_family_adjustment():
    from retrogait.analysis.claims import SCORECARD_COLUMNS
    from retrogait.report.sections import _scorecard

    row = dict.fromkeys(SCORECARD_COLUMNS, np.nan)
    row.update(claim="c", dataset="gt23", measure="pfj_stress_peak", unit="MPa", expected="decrease",
               estimate_kind="paired", verdict="negligible", reason="r", m=9, ci_level=1 - 0.05 / 9, sesoi=0.3)
    text = _text(_scorecard(pd.DataFrame([row], columns=SCORECARD_COLUMNS), {}))
    assert "one confirmatory family of m = 9 tests" in text and "99.44 % t interval" in text
    assert "'negligible'" in text and "negligible" in text.split("\n", 2)[-1]


def _own_study(measure, label, effect, *, source="dataset", contrast="bw_vs_fw_0.6", n=12):
    row = dict.fromkeys(STUDY_COLUMNS, np.nan)
    row.update(measure=measure, stratum="walking", label=label, source=source, study=label, contrast=contrast,
               n=n, effect=effect, ci_low=effect - 0.5, ci_high=effect + 0.5, note="")
    return row


def test_meta_section_shows_each_datasets_effect_side_by_side_for_shared_measures():
    from retrogait.report.sections import datasets_side_by_side

    studies = pd.DataFrame([_own_study("stride_length", "gt23", -0.8),
                            _own_study("stride_length", "bandai-namco", -2.1, contrast="bw_vs_fw_self_selected", n=14),
                            _own_study("pfj_force_peak", "gt23", -0.4),
                            _own_study("pfj_force_peak", "Roos et al. 2012", -0.7, source="literature")],
                           columns=STUDY_COLUMNS)
    side = datasets_side_by_side(studies)
    assert list(side["measure"]) == ["stride_length"]  # pfj_force_peak: one dataset only (+ literature)
    assert set(side.columns) == {"measure", "gt23", "bandai-namco"}
    assert side.loc[0, "bandai-namco"].startswith("-2.1") and "n = 14; bw_vs_fw_self_selected" in \
        side.loc[0, "bandai-namco"]
    pooled = pd.DataFrame(columns=POOLED_COLUMNS)
    text = _text(_meta_analysis(studies, pooled, META))
    assert "side by side" in text and "bw_vs_fw_self_selected" in text


def test_limitations_print_each_datasets_own_limits():
    from retrogait.report.sections import _limitations

    trials = pd.DataFrame({"dataset": ["bandai-namco"] * 2, "subject": ["sad", "sad"], "surface": ["overground"] * 2,
                           "speed_mps": [0.4, 0.6], "direction": ["BW", "FW"],
                           "notes": ["speed_mps measured: ...", "speed_mps measured: ..."]})
    text = _text(_limitations(trials, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), [BW],
                              {"bandai-namco": ["bandai-namco: the pairing unit is the acted style."]}))
    assert "the pairing unit is the acted style" in text
    assert "measured from the root trajectory" in text


# -- quality control: what ingest noticed, partial files; summary counts; provenance wording ---------

def _trials(**extra):
    base = dict(dataset="lab", subject="S01", condition="walk", direction="FW", speed_mps=np.nan, mass_kg=70.0,
                mass_source="C3D parameter SUBJECT:WEIGHT", kinetic_sides="", n_cycles_kept=0, n_cycles_rejected=0,
                event_methods="", kinematics_rate_hz=np.nan, forces_rate_hz=np.nan, emg_rate_hz=1000.0,
                missing_outputs="", missing_markers="", missing_emg="", unmapped_analogs="", gaps="", notes="")
    rows = [{**base, "trial": "emg_only", "missing_outputs": "LKneeAngles, RKneeAngles",
             "missing_markers": "L_heel, R_heel"},
            {**base, "trial": "full", "kinematics_rate_hz": 100.0, "forces_rate_hz": 1000.0, "n_cycles_kept": 6,
             "missing_emg": "R Vastus Lat", "unmapped_analogs": "R VastusLat",
             "gaps": "LKneeAngles: 39 frames stored as (0, 0, 0) set missing"}]
    return pd.DataFrame([{**r, **extra} for r in rows])


def test_qc_lists_partial_trials_ingest_notes_mass_sources_and_missing_measures():
    from retrogait.report.sections import _qc

    measures = pd.DataFrame([dict(dataset="lab", measure="vgrf_peak1", qc_status="missing",
                                  qc_reason="no loading-response peak"),
                             dict(dataset="lab", measure="stride_time", qc_status="kept", qc_reason="")])
    s = _qc(_trials(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), measures)
    tables = dict(s.tables)
    partial = tables["Partial trials: what each has and lacks"]
    assert partial.to_dict("records") == [{"dataset": "lab", "subject": "S01", "trial": "emg_only", "has": "emg",
                                           "lacks": "kinematics, forces", "n_cycles_kept": 0}]
    notes = tables["What ingest noticed, per trial"]
    assert ("full", "EMG channels of the map not in the file", "R Vastus Lat") in set(
        zip(notes["trial"], notes["what"], notes["detail"]))
    assert ("full", "invalid samples and gaps") in set(zip(notes["trial"], notes["what"]))
    assert ("emg_only", "model outputs of the map not in the file") in set(zip(notes["trial"], notes["what"]))
    trials_table = next(t for title, t in s.tables if title.startswith("Trials and cycles"))
    assert "mass_source" in trials_table.columns
    missing = tables["Measures that could not be computed for a kept cycle"]
    assert missing.to_dict("records") == [{"dataset": "lab", "measure": "vgrf_peak1",
                                           "reason": "no loading-response peak", "cycles": 1}]


def test_summary_says_when_no_measure_could_be_tested():
    from retrogait.report.sections import _summary

    results = pd.DataFrame([dict(contrast="turn", dataset="lab", measure=m, p_t=np.nan, p_holm=np.nan,
                                 lmm_p=np.nan, lmm_p_holm=np.nan) for m in ("stride_time", "cadence")])
    s = _summary({}, _trials(), pd.DataFrame({"qc_status": ["kept"]}), results, [TURN], 0.05)
    text = "\n".join(s.paragraphs)
    assert "2 measure(s) in family 'turn', none could be tested" in text and "measures tested" not in text
    results.loc[0, ["p_t", "p_holm"]] = [0.2, 0.4]
    text = "\n".join(_summary({}, _trials(), pd.DataFrame({"qc_status": ["kept"]}), results, [TURN], 0.05).paragraphs)
    assert "1 measures tested in family 'turn' (1 more could not be tested); 0 differ" in text


def test_provenance_of_file_urls_is_not_the_network():
    from retrogait.acquire.manifest import DatasetSpec
    from retrogait.report.sections import _provenance_text

    spec = DatasetSpec(id="lab", title="t", citation="c", licence="l", adapter="c3d")
    local = pd.DataFrame({"source": ["file:///data/lab/a.c3d", "file:///data/lab/b.c3d"]})
    assert _provenance_text(spec, local)[0].startswith("2 files obtained from local files (file:// URLs)")
    mixed = pd.DataFrame({"source": ["mirror:/m/lab/a.c3d", "https://x.org/b.c3d"]})
    assert "obtained from a local mirror and the network" in _provenance_text(spec, mixed)[0]


# ---------------------------------------------------------------- issue 11: QC section and summary
def _quality(rows):
    from retrogait.gait.emg import QUALITY_COLUMNS

    base = dict.fromkeys(QUALITY_COLUMNS, np.nan)
    return pd.DataFrame([{**base, "dataset": "gt23", "side": "L", "form": "raw", "status": "used", "reason": "",
                          **r} for r in rows], columns=QUALITY_COLUMNS)


def test_qc_section_shows_data_checks_mass_forms_excluded_muscles_and_crossover_cycles():
    from retrogait.ingest.trial import CHECK_COLUMNS
    from retrogait.report.sections import _qc, _qc_summary

    checks = pd.DataFrame([
        dict(dataset="gt23", subject="AB01", trial="t1", condition="FW_0.6", check="body_mass", status="warning",
             value=71.0, unit="kg", expected="78.9 kg (table)", detail="table is +11.1 % off"),
        dict(dataset="gt23", subject="AB01", trial="t1", condition="FW_0.6", check="knee_moment_sign",
             status="passed", value=-0.02, unit="J/kg", expected="< 0", detail="K1"),
        dict(dataset="gt23", subject="AB01", trial="t2", condition="BW_0.6", check="ankle_angle_sign",
             status="corrected", value=np.nan, unit="deg", expected="< 0", detail="negated as in FW"),
    ], columns=["dataset", "subject", "trial", "condition", *CHECK_COLUMNS])
    quality = _quality([
        dict(subject="AB01", muscle="rectus_femoris", channel="L_rectus_femoris", status="excluded",
             reason="flat: envelope p95/p5 = 2 < 4 in every trial"),
        dict(subject="AB02", muscle="rectus_femoris", channel="L_rectus_femoris", status="excluded",
             reason="saturated in t1"),
        dict(subject="AB01", muscle="vastus_lateralis", channel="L_vastus_lateralis", form="envelope"),
    ])
    cycles = pd.DataFrame([dict(dataset="gt23", subject="AB01", trial="t1", condition="FW_0.6", side="L", cycle=3,
                                kind="stride", event_method="force", qc_status="kept", qc_reason="",
                                kinetics_valid=False, qc_flags="kinetics excluded: crossover: COP jumps 0.17 m"),
                           dict(dataset="gt23", subject="AB01", trial="t1", condition="FW_0.6", side="L", cycle=4,
                                kind="stride", event_method="force", qc_status="rejected",
                                qc_reason="outside the flagged activity: L activity flag 0 in 40 % of the cycle",
                                kinetics_valid=True, qc_flags="")])
    text = _text(_qc(pd.DataFrame(), cycles, quality, pd.DataFrame(), checks=checks))
    assert "Checks on the data of every trial" in text and "knee_moment_sign" in text
    assert "negated as in FW" in text and "table is +11.1 % off" in text
    assert "Body mass" in text and "71" in text and "78.9 kg (table)" in text
    assert "not holding raw EMG" in text and "envelope" in text
    assert "Muscles excluded by QC for every subject" in text and "rectus_femoris" in text
    assert "by condition and reason" in text and "FW_0.6" in text and "outside the flagged activity" in text
    assert "kinetics were excluded" in text and "COP jumps" in text
    summary = " ".join(_qc_summary(quality, checks))
    assert "EMG of rectus femoris in gt23: excluded by QC for every subject" in summary
    assert "flat (1 channels)" in summary and "saturated (1 channels)" in summary and "not testable" in summary
    assert "vastus" not in summary
    assert "ankle_angle_sign corrected in 1 trial(s)" in summary and "body_mass warning" in summary


def test_scorecard_rows_give_effect_with_interval_and_unit_and_untestable_reasons():
    from retrogait.analysis.claims import SCORECARD_COLUMNS
    from retrogait.report.sections import _scorecard

    tested = dict.fromkeys(SCORECARD_COLUMNS, np.nan)
    tested.update(claim_id="a", claim="less stress", dataset="gt23", measure="pfj_stress_peak", unit="MPa",
                  expected="decrease", estimate_kind="paired", estimate=-0.5, ci_low=-0.9, ci_high=-0.1,
                  verdict="supported", reason="r", m=2, ci_level=1 - 0.05 / 2, sesoi=0.3, interpretation="")
    moot = dict.fromkeys(SCORECARD_COLUMNS, np.nan)
    moot.update(claim_id="b", claim="easier to control", dataset="", measure="", unit="", expected="",
                estimate_kind="paired", verdict="not testable", reason="no measure of control", m=0,
                interpretation="")
    read = dict(tested, claim_id="c", claim="mechanical advantage", measure="quadriceps_moment_arm_at_peak_extensor",
                unit="m", interpretation="moment arm at the peak")
    text = _text(_scorecard(pd.DataFrame([tested, moot, read], columns=SCORECARD_COLUMNS), {}))
    assert "-0.500 (-0.900 to -0.100) MPa" in text
    assert "“easier to control”: no measure of control" in text
    assert "“mechanical advantage”: moment arm at the peak" in text
