"""The top of the report: the answer in plain words, the no-backward-walking notice, QC counts,
primary vs sensitivity estimates, and file sources without local folders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrogait.analysis.contrasts import Contrast
from retrogait.report.sections import (NO_PAIR_NOTICE, QUESTION, _answer, _results, agreement_table,
                                       _answer, claim_answers, direction_pairs, headline, public_source, qc_counts,
                                       reader_text)

BW = Contrast(id="bw", factor="direction", levels=("BW", "FW"), label="Backward vs forward")
ADJ = Contrast(id="adj", factor="direction", levels=("BW", "FW"), label="Adjusted", covariates=("speed_mps",))
TURN = Contrast(id="turn", factor="condition", levels=("turn", "straight"), label="Turn vs straight walking")


def _trials(directions: dict[str, list[str]], dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame([{"dataset": dataset, "subject": s, "trial": f"{s}{i}", "direction": d}
                         for s, ds in directions.items() for i, d in enumerate(ds)])


def test_a_run_without_backward_walking_says_so_in_title_question_and_notice():
    trials = _trials({"A": ["FW", "FW"], "B": ["FW"]}, dataset="biomechzoo-esmac")
    results = pd.DataFrame({"contrast": ["turn"]})
    title, question, notice = headline("Backward vs forward walking", trials, [BW, TURN], results)
    assert "no backward walking in this run" in title and "Backward vs forward" not in title
    assert "cannot be answered" in question and question != QUESTION
    assert notice.startswith("NO BACKWARD WALKING IN THIS RUN") and "biomechzoo-esmac" in notice
    assert "Turn vs straight walking" in notice
    section = _answer(pd.DataFrame(), trials, results, [BW, TURN], 0.05)
    assert section.notice == notice


def test_a_run_with_a_pair_keeps_the_question():
    trials = _trials({"A": ["FW", "BW"], "B": ["FW", "BW"]})
    assert direction_pairs(trials) == ["d"]
    assert headline("T", trials) == ("T", QUESTION, "")
    # both directions in a dataset but never in one subject: no pair
    assert direction_pairs(_trials({"A": ["FW"], "B": ["BW"]})) == []


def _claim(**kw):
    row = {"claim": "Backward walking lowers knee stress.", "measure": "pfj_stress_peak", "unit": "MPa",
           "dataset": "gt23", "estimate": -0.644, "ci_low": -0.918, "ci_high": -0.371, "ci_level": 0.9944,
           "sesoi": 0.3, "n_subjects": 12, "verdict": "supported", "reason": "r"}
    row.update(kw)
    return row


def test_each_claim_is_answered_in_plain_words():
    claims = pd.DataFrame([_claim(), _claim(verdict="inconclusive", estimate=0.1, ci_low=-0.5, ci_high=0.7),
                           _claim(verdict="negligible", estimate=0.01, ci_low=-0.1, ci_high=0.12),
                           _claim(verdict="not testable", estimate=np.nan, ci_low=np.nan, ci_high=np.nan,
                                  n_subjects=0, dataset="", reason="the contrast applies to no dataset of this run")])
    a = claim_answers(claims)
    assert list(a.columns) == ["claim", "answer", "what_the_data_show", "how_sure", "dataset"]
    assert list(a["answer"]) == ["Yes", "Not settled", "No meaningful difference", "Cannot be checked here"]
    assert a.loc[0, "what_the_data_show"].startswith(
        "Peak kneecap (patellofemoral) stress is 0.644 MPa lower walking backward than forward")
    assert "12 subjects" in a.loc[0, "what_the_data_show"]
    assert a.loc[0, "how_sure"].startswith("Confident: the 99.44 % interval -0.918 to -0.371 MPa")
    assert a.loc[1, "how_sure"].startswith("Not sure") and "± 0.300 MPa" in a.loc[1, "how_sure"]
    assert "applies to no dataset" in a.loc[3, "what_the_data_show"] and a.loc[0, "dataset"] == "gt23"


def test_untestable_claims_follow_the_answered_ones_with_their_reason():
    claims = pd.DataFrame([_claim(verdict="not testable", measure="", estimate=np.nan, ci_low=np.nan,
                                  ci_high=np.nan, n_subjects=0, dataset="", claim="Easier to control.",
                                  reason="names no measurable quantity"),
                           _claim()])
    s = _answer(claims, pd.DataFrame(), pd.DataFrame(), [], 0.05)
    assert [c for c, _ in s.tables] == ["Claims checked in this run", "Claims this run cannot check, and why"]
    assert list(s.tables[0][1]["claim"]) == ["Backward walking lowers knee stress."]
    why = s.tables[1][1]
    assert list(why.columns) == ["claim", "why"]
    assert why["why"].iloc[0] == "Not measurable: names no measurable quantity"  # no empty measure label


def _results_rows():
    base = {"contrast": "bw", "dataset": "d", "unit": "deg", "role": "tested", "n_subjects": 10, "level_a": "BW",
            "level_b": "FW", "mean_a": 1.0, "mean_b": 0.5, "ci_low": 0.1, "ci_high": 0.9, "p_t": 0.01,
            "lmm_ci_low": 0.1, "lmm_ci_high": 0.9, "lmm_p": 0.01, "lmm_converged": True, "lmm_singular": False,
            "lmm_note": ""}
    return pd.DataFrame([
        {**base, "measure": "knee_flexion_at_contact", "mean_diff": 0.5, "p_holm": 0.01, "lmm_estimate": 0.5,
         "lmm_p_holm": 0.01},
        {**base, "measure": "stride_time", "mean_diff": 0.5, "p_holm": 0.01, "lmm_estimate": 0.4,
         "lmm_p_holm": 0.2},
        {**base, "measure": "cadence", "mean_diff": 0.5, "p_holm": 0.3, "lmm_estimate": -0.1, "lmm_p_holm": 0.4},
        {**base, "measure": "walking_speed", "mean_diff": 0.4, "p_holm": 0.01, "lmm_estimate": 0.4,
         "lmm_p_holm": 0.01, "lmm_converged": False},
    ])


def test_disagreements_and_unconverged_mixed_models_are_pointed_out():
    t = agreement_table(_results_rows(), BW, 0.05)
    notes = dict(zip(t["measure"], t["agreement"]))
    assert "knee_flexion_at_contact" not in notes
    assert notes["stride_time"] == "only the paired test is significant after Holm"
    assert notes["cadence"] == "the two estimates have opposite signs"
    assert notes["walking_speed"].startswith("mixed model NOT CONVERGED")


def test_results_are_split_with_the_configured_primary_first_and_flags():
    r = _results_rows()
    sec = _results(r, [BW], 0.05).subsections[0]
    captions = [c for c, _ in sec.tables]
    assert captions[0].startswith("Paired analysis (primary)") and captions[1].startswith("Mixed model (sensitivity)")
    mixed = sec.tables[1][1]
    assert mixed.set_index("measure").loc["walking_speed", "lmm_flag"] == "NOT CONVERGED"
    for _, df in sec.tables:
        assert len(df.columns) <= 14  # each part fits a page
    adj = _results(r.assign(contrast="adj"), [ADJ], 0.05).subsections[0]
    assert [c for c, _ in adj.tables][0].startswith("Mixed model (primary)")


def test_primary_is_validated():
    assert BW.primary == "paired" and ADJ.primary == "mixed"
    with pytest.raises(ValueError, match="stats.contrasts"):
        Contrast(id="x", factor="direction", levels=("BW", "FW"), covariates=("speed_mps",), primary="paired")
    assert Contrast.from_config({"id": "y", "factor": "direction", "levels": ["BW", "FW"],
                                 "primary": "mixed"}).primary == "mixed"


def test_qc_counts_by_rule_condition_subject_and_muscle():
    cycles = pd.DataFrame({"dataset": "d", "subject": ["A", "A", "B", "B", "B"],
                           "condition": ["FW", "BW", "FW", "BW", "BW"],
                           "qc_status": ["kept", "rejected", "kept", "rejected", "rejected"],
                           "qc_reason": ["", "stride too long; x", "", "stride too long", "flat EMG"]})
    quality = pd.DataFrame({"dataset": "d", "subject": ["A", "A", "B"], "channel": ["c1", "c2", "c1"],
                            "muscle": ["vastus_lateralis", "rectus_femoris", "vastus_lateralis"],
                            "status": ["excluded", "used", "excluded"], "reason": ["flat", "", "hum"]})
    excl = pd.DataFrame({"contrast": "bw", "dataset": "d", "measure": ["m1", "m2"], "subject": ["B", "B"],
                         "missing_level": "FW", "excluded_from": "paired", "reason": "no FW cycle"})
    tables = dict(qc_counts(cycles, quality, excl))
    by_rule = next(v for k, v in tables.items() if k.startswith("Gait cycles rejected, by rule"))
    assert by_rule.set_index("rule").loc["stride too long", "BW"] == 2
    assert by_rule.set_index("rule").loc["flat EMG", "BW"] == 1 and by_rule["FW"].sum() == 0
    per_subject = next(v for k, v in tables.items() if k.startswith("Gait cycles rejected, by subject"))
    assert per_subject.set_index("subject").loc["B", "rejected"] == 2
    emg = next(v for k, v in tables.items() if k.startswith("EMG channel-trials excluded"))
    assert emg.set_index("subject").loc["A", "vastus_lateralis"] == 1 and "rectus_femoris" not in emg.columns
    lacks = next(v for k, v in tables.items() if k.startswith("Subjects each test lacks"))
    assert lacks.loc[0, "subjects_lacking"] == "B (2 measure(s))" and lacks.loc[0, "reasons"] == "no FW cycle"


def test_sources_lose_local_folders_and_docs_paths_become_project_documentation():
    assert public_source("mirror:/work/shared/fixtures/biomechzoo-esmac/HC031A/x.c3d", "biomechzoo-esmac") == \
        "mirror:biomechzoo-esmac/HC031A/x.c3d"
    assert public_source("file:///home/me/data/x.c3d", "gt23") == "file:x.c3d"
    assert public_source("http://127.0.0.1:80/ProcessedData.zip", "gt23") == "http://127.0.0.1:80/ProcessedData.zip"
    assert reader_text("(docs/methods.md §4.1; x)") == "(project documentation §4.1; x)"
    url = "https://github.com/retrogait/retrogait/blob/main/docs/methods.md"
    assert reader_text(url) == url
