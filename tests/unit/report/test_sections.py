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
    assert "meta: Forest plot, pfj_force_peak" in titles


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
    text = _text(_qc(empty, empty, empty, empty, flags, balance))
    assert "Plausibility flags per condition" in text and "pfj*" in text
    assert note in text and "Plausibility flags by contrast level" in text
    balance.loc[0, ["warning", "note", "flagged_a"]] = [False, "", 0]
    text = _text(_qc(empty, empty, empty, empty, flags, balance))
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
