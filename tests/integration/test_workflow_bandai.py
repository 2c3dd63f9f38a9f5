"""End to end: the real Snakemake workflow on the Bandai-Namco BVH takes through the mirror.

Real backward walking: 15 backward and 30 forward takes of 15 acted styles
(BVH, 30 frames/s). One workflow run is shared by every assertion.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from .workflow import REPO, run_workflow

pytestmark = [pytest.mark.integration, pytest.mark.fixtures]

OVERRIDES = {
    "datasets": ["bandai-namco"],
    # fewer bootstrap resamples keep the test fast; the statistics are the same
    "stats": {"bootstrap": {"n": 199, "seed": 7}},
}

KINEMATIC_CLAIMS = ("toe_first_contact_overground", "bent_knee_at_contact_overground",
                    "knee_straightens_in_stance_overground", "shorter_strides_overground",
                    "slower_self_selected_speed", "straight_knee_at_toe_off_overground")


@pytest.fixture(scope="module")
def bandai(tmp_path_factory, fixtures_dir):
    work = tmp_path_factory.mktemp("bandai")
    run_workflow(work, overrides=OVERRIDES, env={"RETROGAIT_MIRROR": str(fixtures_dir)})
    out = work / "data" / "processed" / "bandai-namco"
    return {"work": work, "trials": pd.read_parquet(out / "trials.parquet"),
            "cycles": pd.read_parquet(out / "cycles.parquet"),
            "measures": pd.read_parquet(out / "measures.parquet"),
            "claims": pd.read_parquet(work / "reports" / "tables" / "claims.parquet"),
            "html": (work / "reports" / "report.html").read_text(encoding="utf-8")}


def test_every_backward_take_with_two_strides_has_cycles(bandai):
    trials, cycles = bandai["trials"], bandai["cycles"]
    assert len(trials) == 45 and trials["subject"].nunique() == 15
    assert np.allclose(trials["kinematics_rate_hz"], 30.0)
    kept = cycles[cycles["qc_status"] == "kept"]
    strides = kept[kept["kind"] == "stride"].groupby("trial").size()
    # a take long enough for two strides of a foot: every take but the two 1 s ones (4.5-16 s)
    events = cycles.groupby("trial")["fs_s"].agg(lambda x: x.max() - x.min())
    backward = trials[trials["direction"] == "BW"]
    long_enough = [t for t in backward["trial"] if events.get(t, 0.0) >= 2.0]
    assert len(long_enough) == 14
    for trial in long_enough:
        assert strides.get(trial, 0) >= 2, f"{trial}: no cycles"


def test_short_takes_are_excluded_with_the_reason(bandai):
    trials = bandai["trials"].set_index("trial")
    for take in ("dataset-1_walk-back_normal_001", "dataset-1_walk_normal_002"):
        assert trials.loc[take, "n_cycles_kept"] == 0
        assert "too short for a full stride" in trials.loc[take, "qc_exclusion"]
    assert "too short for a full stride" in bandai["html"]


def test_backward_contacts_are_mostly_toe_first_and_forward_heel_first(bandai):
    trials = bandai["trials"]
    for direction, mine, other in (("BW", "n_contacts_toe_first", "n_contacts_heel_first"),
                                   ("FW", "n_contacts_heel_first", "n_contacts_toe_first")):
        t = trials[trials["direction"] == direction]
        total = t[["n_contacts_toe_first", "n_contacts_heel_first", "n_contacts_flat",
                   "n_contacts_unknown"]].to_numpy().sum()
        assert total > 100
        assert t[mine].sum() > 0.8 * total and t[other].sum() < 0.1 * total, (direction, t[mine].sum(), total)
    # the per-cycle column the counts come from
    kept = bandai["cycles"][bandai["cycles"]["qc_status"] == "kept"]
    assert set(kept["contact_pattern"]) <= {"toe-first", "heel-first", "flat"}


def test_measures_are_kinematic_only_and_plausible(bandai):
    m = bandai["measures"]
    names = set(m["measure"])
    for needed in ("stride_time", "stride_length", "cadence", "walking_speed", "stance_pct",
                   "knee_flexion_at_contact", "knee_flexion_at_toe_off", "knee_flexion_peak_swing",
                   "knee_extension_excursion_stance", "knee_flexion_rom_stride", "foot_angle_at_contact",
                   "toe_first_contact"):
        assert needed in names, needed
    assert not any(n.startswith(("pfj_", "knee_extensor_moment", "kam", "vgrf", "emg_", "cci_")) for n in names)
    assert m["value"].notna().all()
    per = m[m["qc_status"] == "kept"].groupby("measure")["value"]
    assert per.min()["walking_speed"] > 0.2 and per.max()["walking_speed"] < 2.5   # m/s
    assert per.min()["stride_time"] >= 0.6 and per.max()["stride_time"] <= 3.0     # s
    assert per.min()["stride_length"] > 0.2 and per.max()["stride_length"] < 2.5   # m


def test_report_shows_the_kinematic_claims_with_verdicts_and_their_dataset(bandai):
    claims = bandai["claims"].set_index("claim_id")
    html = bandai["html"]
    for cid in KINEMATIC_CLAIMS:
        row = claims.loc[cid]
        assert row["dataset"] == "bandai-namco" and row["n_subjects"] >= 10
        assert row["verdict"] in ("supported", "contradicted", "negligible", "inconclusive"), (cid, row["verdict"])
        assert pd.notna(row["sesoi"]), cid
    for text in ("Backward walking lands toe first.", "Backward walking uses shorter strides."):
        assert text in html
    assert "Each verdict rests on the dataset" in html and "bandai-namco: 6 claim(s)" in html
    # toe-first contact backward is not a close call on these data
    assert claims.loc["toe_first_contact_overground", "verdict"] == "supported"


def test_report_states_what_these_data_cannot_show(bandai):
    html = bandai["html"]
    assert "CC-BY-NC-4.0" in html and "arXiv:2306.08861" in html
    assert "pairing unit is the acted style" in html
    assert "professional actors" in html and "30 frames/s" in html
    assert "no force plates, no EMG and no body mass" in html


def test_every_written_column_is_documented(bandai):
    doc = (REPO / "docs" / "tables.md").read_text()
    work = bandai["work"]
    tables = list((work / "data" / "processed" / "bandai-namco").glob("*.parquet"))
    tables += list((work / "reports" / "tables").glob("*.parquet"))
    for path in tables:
        for col in pd.read_parquet(path).columns:
            if col.startswith("pct_") and col != "pct_000":
                continue
            name = re.sub(r"^lmm_speed_mps_", "lmm_<covariate>_", col)
            assert f"`{name}`" in doc, f"{path.name}: column {col} is not documented in docs/tables.md"
