"""The c3d adapter on both real fixture families (needs ../shared/fixtures)."""

import numpy as np
import pytest

from retrogait.config import load_yaml
from retrogait.errors import ConfigError, DataError
from retrogait.runconfig import load_run

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="module")
def run(repo_root):
    cfg = load_yaml(repo_root / "config" / "config.yaml")
    return load_run({**cfg, "datasets": ["biomechzoo-esmac", "gaitalytics"]}, root=repo_root)


def test_esmac_plan_has_12_subjects_with_straight_and_turn(run):
    adapter = run.adapter("biomechzoo-esmac")
    plan = adapter.plan()
    assert len(plan) == 12
    for subject, files in plan.items():
        conditions = sorted(adapter.condition_of(f.path)["condition"] for f in files)
        assert conditions == ["straight", "turn"], subject


def test_esmac_subject_reads_labels2_outputs_plates_emg_and_units(run, fixtures_dir):
    trials = run.adapter("biomechzoo-esmac").read_subject("HC002D", fixtures_dir / "biomechzoo-esmac")
    assert {t.meta.condition for t in trials} == {"straight", "turn"}
    t = next(t for t in trials if t.meta.condition == "straight")
    assert t.meta.mass_kg == pytest.approx(32.1, abs=0.05) and t.meta.height_m == pytest.approx(1.45)
    kin = t.kinematics
    assert kin.rate_hz == 100.0 and kin.units["L_knee_extensor_moment"] == "N.m/kg"
    # knee moments live in POINT:LABELS2 in these files, in N.mm/kg: converted to N.m/kg
    m = kin.get("L_knee_extensor_moment")
    assert 0.2 < np.nanmax(m) < 1.0 and -1.0 < np.nanmin(m) < 0.0
    assert np.nanmax(kin.get("L_knee_flexion")) == pytest.approx(53.875, abs=0.01)
    assert kin.has("pelvis_x") and kin.units["L_heel_z"] == "m" and np.nanmax(kin.get("L_heel_z")) < 0.5
    assert t.forces.rate_hz == 1000.0 and list(t.plates["plate"]) == ["fp1", "fp2"]
    assert np.nanmax(t.forces.get("fp1_fz")) == pytest.approx(374.5, abs=1.0)
    assert t.emg.units["R_rectus_femoris"] == "V"
    assert set(t.emg.signals) >= {"L_rectus_femoris", "R_hamstrings", "R_tibialis_anterior"}
    assert t.meta.kinetic_sides == "L,R"
    ev = t.events
    assert set(ev["event"]) == {"foot_strike", "foot_off"} and ev["time_s"].min() == pytest.approx(1.83, abs=1e-3)


def test_gaitalytics_both_files(run, fixtures_dir):
    adapter = run.adapter("gaitalytics")
    small = adapter.read_subject("19290829m", fixtures_dir / "gaitalytics")[0]
    assert small.meta.condition == "overground" and small.meta.mass_kg == pytest.approx(63.6, abs=0.05)
    assert len(small.plates) == 4 and len(small.emg.signals) == 14
    assert (small.events["event"] == "foot_strike").sum() == 6
    tread = adapter.read_subject("SI02", fixtures_dir / "gaitalytics")[0]
    assert tread.meta.surface == "treadmill" and tread.emg is None
    assert "Voltage.RRF" in tread.meta.missing_emg  # map channels missing from this file are reported
    assert tread.kinematics.has("L_toe_x")  # toe from the LMT2 candidate


def test_missing_file_is_a_data_error_naming_the_subject(run, tmp_path):
    with pytest.raises(DataError, match=r"subject=HC002D.*file not found"):
        run.adapter("biomechzoo-esmac").read_subject("HC002D", tmp_path)


def test_corrupt_c3d_is_a_data_error(run, tmp_path):
    (tmp_path / "HC002D" / "Straight").mkdir(parents=True)
    (tmp_path / "HC002D" / "Straight" / "HC002D06.c3d").write_bytes(b"not a c3d file" * 10)
    with pytest.raises(DataError, match=r"trial=HC002D06.*cannot read C3D"):
        run.adapter("biomechzoo-esmac").read_subject("HC002D", tmp_path)


def test_file_without_condition_pattern_is_a_config_error(run):
    adapter = run.adapter("biomechzoo-esmac")
    with pytest.raises(ConfigError, match="no condition pattern matches file X/Y.c3d"):
        adapter.condition_of("X/Y.c3d")


def test_a_truncated_file_is_detected_from_its_own_header(tmp_path, fixtures_dir):
    """ezc3d reads a cut C3D without complaint and rewrites its header; the file's bytes still say."""
    import ezc3d

    from retrogait.ingest.adapters.c3d import declared_frames

    src = fixtures_dir / "gaitalytics" / "test_small.c3d"
    assert declared_frames(src) == ezc3d.c3d(str(src))["data"]["points"].shape[2] == 337
    cut = tmp_path / "cut.c3d"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    assert declared_frames(cut) == 337 > ezc3d.c3d(str(cut))["data"]["points"].shape[2]
    (tmp_path / "junk.c3d").write_bytes(b"not a c3d file at all")
    assert declared_frames(tmp_path / "junk.c3d") is None
