"""Issue 11: each silent GT23 failure mode, planted in a replica, is caught (docs/methods.md §0.4).

Knee moment sign (tied to the angle convention and checked by K1 knee power),
ankle sign, body mass from the belt forces, EMG time base; each check is
recorded in the trial's ``checks`` table.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest

from retrogait.errors import ConfigError, DataError
from tests import replica_gt23 as rg
from tests.unit.ingest.adapters.test_gt23 import BW, FW, csv_path, make, rewrite, small  # noqa: F401

FW12 = "normal_walk_1_1-2"


def checks_of(trials, check: str) -> dict[str, dict]:
    out = {}
    for t in trials:
        rows = t.checks[t.checks["check"] == check]
        assert len(rows) >= 1, (t.meta.trial, check, t.checks)
        out[t.meta.trial] = rows.iloc[0].to_dict()
    return out


def status(trials, check: str) -> dict[str, str]:
    return {k: v["status"] for k, v in checks_of(trials, check).items()}


@pytest.fixture
def ok(repo_root, small):
    _, raw = small("ok", trials=[FW, BW])
    return make(repo_root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)


def test_clean_replica_passes_every_check(ok):
    assert status(ok, "knee_angle_convention") == {FW: "passed", BW: "passed"}
    assert status(ok, "knee_moment_sign") == {FW: "passed", BW: "passed"}
    k1 = checks_of(ok, "knee_moment_sign")
    assert k1[FW]["value"] < 0 and k1[FW]["unit"] == "J/kg" and "K1" in k1[FW]["expected"]
    assert "not checkable in BW" in k1[BW]["detail"] and FW in k1[BW]["detail"]
    assert status(ok, "ankle_angle_sign") == {FW: "passed", BW: "passed"}
    assert checks_of(ok, "ankle_angle_sign")[FW]["value"] < -10
    assert status(ok, "body_mass") == {FW: "passed", BW: "passed"}
    mass = checks_of(ok, "body_mass")
    assert mass[FW]["value"] == pytest.approx(rg.S1_MASSES["AB01"], rel=0.05) and "78.9 kg" in mass[FW]["expected"]
    assert "one belt" in mass[FW]["detail"] and "symmetric" in mass[FW]["detail"]
    assert status(ok, "emg_time_base") == {FW: "passed", BW: "passed"}
    assert abs(checks_of(ok, "emg_time_base")[FW]["value"]) < 1e-3
    assert set(status(ok, "activity_flag").values()) == {"passed"}
    assert status(ok, "hip_angle_sign")[FW] == "passed" and status(ok, "hip_moment_sign")[FW] == "passed"
    assert checks_of(ok, "hip_angle_sign")[FW]["value"] > 20  # flexed at FW foot strike, extended at foot off
    assert checks_of(ok, "hip_moment_sign")[FW]["value"] > 0.1  # early-stance hip extensor moment (H1)
    assert status(ok, "hip_angle_sign")[BW] == "not checked"


def test_hip_channels_follow_the_canonical_conventions(ok):
    """hip_flexion = OpenSim hip_flexion (flexion +); hip_extensor_moment = -hip_flexion_moment (extensor +)."""
    fw = next(t for t in ok if t.meta.trial == FW)
    kin = fw.kinematics
    assert kin.units["L_hip_flexion"] == "deg" and kin.units["L_hip_extensor_moment"] == "N.m/kg"
    # the replica's FW hip: about +25 deg at foot strike; moment -0.7 (OpenSim, flexor +) early in stance
    assert np.nanmax(kin.get("L_hip_flexion")) > 20 and np.nanmax(kin.get("L_hip_extensor_moment")) > 0.4


@pytest.mark.parametrize("column,check", [("hip_flexion_l", "hip angle sign"),
                                          ("hip_flexion_l_moment", "hip moment sign")])
def test_flipped_hip_angle_or_moment_stops_the_run(repo_root, small, column, check):
    """A hip sign that differs from the OpenSim convention would silently swap flexor and extensor work."""
    _, raw = small("hip", trials=[FW])
    suffix = "moment_filt" if column.endswith("_moment") else "angle"
    rewrite(csv_path(raw, "AB01", FW, suffix), lambda d: d.assign(**{column: -d[column]}))
    if column == "hip_flexion_l":  # the right hip too: one convention per file
        rewrite(csv_path(raw, "AB01", FW, suffix), lambda d: d.assign(hip_flexion_r=-d["hip_flexion_r"]))
    with pytest.raises(DataError) as exc:
        make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    msg = str(exc.value)
    assert f"{check} contradicts the documented convention" in msg and f"AB01_{FW}_{suffix}.csv" in msg
    assert f"column={column.replace('_l', '')}" in msg or column.replace("_l", "") in msg


# ---------------------------------------------------------------------------
# item 1: knee moment sign
# ---------------------------------------------------------------------------

def test_knee_moment_flipped_alone_stops_the_run(repo_root, small):
    """Angle as documented, moment flexor-positive: the two checks disagree (K1 would generate energy)."""
    _, raw = small("m", trials=[FW, BW], knee_moment_sign=-1)
    with pytest.raises(DataError) as exc:
        make(repo_root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)
    msg = str(exc.value)
    assert f"dataset=gt23 subject=AB01 trial={FW}" in msg and f"AB01_{FW}_moment_filt.csv" in msg
    assert "knee moment sign contradicts the knee angle convention" in msg
    assert "extension-positive" in msg and "K1" in msg and "Winter 1991" in msg


def test_knee_angle_flipped_alone_stops_the_run(repo_root, small):
    """A flexion-positive angle drags the moment with it; a moment left extensor-positive then fails K1."""
    _, raw = small("a", trials=[FW], knee_sign=1, knee_moment_sign=1)
    with pytest.raises(DataError) as exc:
        make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert "flexion-positive (corrected), so its moment was negated" in str(exc.value)


def test_flexion_positive_angle_and_moment_are_corrected_together(repo_root, small, ok):
    _, raw = small("both", trials=[FW, BW], knee_sign=1)  # OpenSim-consistent: the moment follows the angle
    flipped = make(repo_root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)
    assert status(flipped, "knee_angle_convention") == {FW: "corrected", BW: "corrected"}
    assert "negated with it" in checks_of(flipped, "knee_angle_convention")[FW]["detail"]
    assert status(flipped, "knee_moment_sign") == {FW: "passed", BW: "passed"}
    for a, b in zip(ok, flipped):
        np.testing.assert_allclose(b.kinematics.get("L_knee_extensor_moment"),
                                   a.kinematics.get("L_knee_extensor_moment"))
        np.testing.assert_allclose(b.kinematics.get("L_knee_flexion"), a.kinematics.get("L_knee_flexion"))
        assert "negated with its flexion-positive angle" in b.meta.notes


def test_weak_loading_response_is_a_warning_not_a_verdict(repo_root, small, caplog):
    _, raw = small("weak", trials=[FW])
    # no knee moment during the first 30 % of every stance: nothing to judge
    path = csv_path(raw, "AB01", FW, "moment_filt")
    grf = pd.read_csv(csv_path(raw, "AB01", FW, "grf"))
    on = (grf["LForceY_Vertical"] > 20).to_numpy()

    def quiet(d):
        m = d["knee_angle_l_moment"].to_numpy().copy()
        edges = np.flatnonzero(np.diff(on.astype(int)) == 1) + 1
        for e in edges:
            m[e:e + 60] = 0.0
        return d.assign(knee_angle_l_moment=m)

    rewrite(path, quiet)
    with caplog.at_level(logging.WARNING, logger="retrogait.ingest.adapters.gt23"):
        (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert status([t], "knee_moment_sign") == {FW: "warning"}
    assert "inconclusive" in t.meta.notes and "knee moment sign not confirmed" in caplog.text


# ---------------------------------------------------------------------------
# item 2: ankle sign
# ---------------------------------------------------------------------------

def test_flipped_ankle_is_caught_in_fw_and_corrected_in_every_trial(repo_root, small, ok, caplog):
    _, raw = small("ankle", trials=[FW, BW], ankle_sign=-1)
    with caplog.at_level(logging.WARNING, logger="retrogait.ingest.adapters.gt23"):
        flipped = make(repo_root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)
    assert status(flipped, "ankle_angle_sign") == {FW: "corrected", BW: "corrected"}
    fw = checks_of(flipped, "ankle_angle_sign")[FW]
    assert fw["value"] > 10 and "plantarflexion-positive" in fw["detail"]
    assert "FW trials" in checks_of(flipped, "ankle_angle_sign")[BW]["detail"]
    for a, b in zip(ok, flipped):
        np.testing.assert_allclose(b.kinematics.get("L_ankle_dorsiflexion"), a.kinematics.get("L_ankle_dorsiflexion"))
        np.testing.assert_allclose(b.kinematics.get("R_ankle_dorsiflexion"), a.kinematics.get("R_ankle_dorsiflexion"))
        assert "ankle sign corrected" in b.meta.notes
    assert "ankle sign corrected" in caplog.text


def test_ankle_convention_differing_between_fw_trials_stops(repo_root, small):
    _, raw = small("mixed", trials=[FW, FW12])
    rewrite(csv_path(raw, "AB01", FW12, "angle"),
            lambda d: d.assign(ankle_angle_l=-d["ankle_angle_l"], ankle_angle_r=-d["ankle_angle_r"]))
    with pytest.raises(DataError, match="ankle angle sign differs between the subject's forward trials"):
        make(repo_root, subjects=["AB01"], trials=[FW, FW12]).read_subject("AB01", raw)


def test_bw_only_subject_gets_a_warning_for_the_unverifiable_signs(repo_root, small):
    _, raw = small("bw", trials=[BW])
    (t,) = make(repo_root, subjects=["AB01"], trials=[BW]).read_subject("AB01", raw)
    assert status([t], "ankle_angle_sign") == {BW: "warning"}
    assert status([t], "knee_moment_sign") == {BW: "warning"}


# ---------------------------------------------------------------------------
# item 3: body mass
# ---------------------------------------------------------------------------

def _table(tmp_path, mass: float):
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "m.csv").write_text(f"subject,mass_kg,source\nAB01,{mass},test\n")
    return {"subjects_table": "config/m.csv"}


def test_mass_off_by_30_percent_stops_the_run(tmp_path, small):
    _, raw = small("mass", trials=[FW, BW])
    wrong = round(rg.S1_MASSES["AB01"] * 1.3, 1)
    a = make(tmp_path, manifest_options=_table(tmp_path, wrong), subjects=["AB01"], trials=[FW, BW])
    with pytest.raises(DataError) as exc:
        a.read_subject("AB01", raw)
    msg = str(exc.value)
    assert "dataset=gt23 subject=AB01" in msg and "file=config/m.csv" in msg
    assert f"table {wrong:g} kg" in msg and re.search(r"estimated from the forces 7\d\.\d kg", msg)
    assert re.search(r"the table is \+(2[89]|3[01])\.\d % off", msg)  # relative to the forces' mass
    assert "dataset_options.gt23.mass_check.accept" in msg


@pytest.mark.parametrize("choice", ["table", "estimate"])
def test_mass_mismatch_can_be_accepted_per_subject(tmp_path, small, choice):
    _, raw = small("mass", trials=[FW, BW])
    wrong = round(rg.S1_MASSES["AB01"] * 1.3, 1)
    a = make(tmp_path, manifest_options=_table(tmp_path, wrong), subjects=["AB01"], trials=[FW, BW],
             mass_check={"accept": {"AB01": choice}})
    trials = a.read_subject("AB01", raw)
    assert status(trials, "body_mass") == {FW: "overridden", BW: "overridden"}
    mass = trials[0].meta.mass_kg
    if choice == "table":
        assert mass == wrong
    else:
        assert mass == pytest.approx(rg.S1_MASSES["AB01"], rel=0.03) and "estimated from the belt forces" in \
            trials[0].meta.mass_source
    detail = checks_of(trials, "body_mass")[FW]["detail"]
    assert f"the {choice} mass is used" in detail and f"table {wrong:g} kg" in detail


def test_mass_off_by_15_percent_is_a_reported_warning(tmp_path, small, caplog):
    _, raw = small("mass", trials=[FW, BW])
    a = make(tmp_path, manifest_options=_table(tmp_path, round(rg.S1_MASSES["AB01"] * 0.85, 1)),
             subjects=["AB01"], trials=[FW, BW])
    with caplog.at_level(logging.WARNING, logger="retrogait.ingest.adapters.gt23"):
        trials = a.read_subject("AB01", raw)
    assert status(trials, "body_mass") == {FW: "warning", BW: "warning"}
    assert "body mass" in caplog.text and "-1" in checks_of(trials, "body_mass")[FW]["detail"]


def test_mass_not_checkable_without_whole_strides(tmp_path, small):
    _, raw = small("short", trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, "grf"), lambda d: d.iloc[:300])  # 1.5 s: fewer than 2 strides
    (t,) = make(tmp_path, manifest_options=_table(tmp_path, 110.0), subjects=["AB01"],
                trials=[FW]).read_subject("AB01", raw)
    row = checks_of([t], "body_mass")[FW]
    assert row["status"] == "not checked" and "fewer than 2 whole strides" in row["detail"]


def test_mass_check_options_are_validated(repo_root):
    with pytest.raises(ConfigError, match="warn_above"):
        make(repo_root, mass_check={"warn_above": 0.3, "stop_above": 0.2})
    with pytest.raises(ConfigError, match="accept"):
        make(repo_root, mass_check={"accept": {"AB01": "average"}})


# ---------------------------------------------------------------------------
# item 4 (time base): EMG misaligned with the 200-Hz files
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [0.5, -0.25])
def test_emg_time_offset_stops_the_run_naming_the_file(repo_root, small, offset):
    _, raw = small(f"off{offset}", trials=[FW], emg_time_offset_s=offset)
    with pytest.raises(DataError) as exc:
        make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    msg = str(exc.value)
    assert f"file=AB01/{FW}/AB01_{FW}_emg.csv" in msg and f"trial={FW}" in msg
    assert "EMG time base does not match the 200-Hz files" in msg and f"start offset {offset:+.4f} s" in msg
    assert "emg_time_tolerance_s" in msg


def test_emg_time_in_its_own_time_base_stops_the_run(repo_root, small):
    _, raw = small("zero", trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, "emg"), lambda d: d.assign(time=d["time"] - d["time"].iloc[0]))
    with pytest.raises(DataError, match=r"covers 0\.0 % of the 200-Hz span"):
        make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)


def test_small_emg_offset_within_tolerance_passes(repo_root, small):
    _, raw = small("tiny", trials=[FW], emg_time_offset_s=0.0045)
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert checks_of([t], "emg_time_base")[FW]["value"] == pytest.approx(0.0045, abs=1e-6)


def test_partly_recorded_second_belt_is_not_summed_into_the_mass(repo_root, small):
    _, raw = small("rbelt", trials=[FW, BW])

    def right(d):  # the right belt recorded during the first half only (GT23 level walking: contra 15 %)
        r = np.roll(d["LForceY_Vertical"].to_numpy(), len(d) // 9)
        r[len(d) // 2:] = np.nan
        return d.assign(RForceY_Vertical=r, RForceX=0.0 * r, RForceZ=0.0 * r)

    rewrite(csv_path(raw, "AB01", FW, "grf"), right)
    trials = make(repo_root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)
    mass = checks_of(trials, "body_mass")[FW]
    assert mass["status"] == "passed" and "one belt" in mass["detail"]
    assert mass["value"] == pytest.approx(rg.S1_MASSES["AB01"], rel=0.05)
