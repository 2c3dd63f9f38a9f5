"""Canonical trials: validation and the per-subject parquet store round trip."""

import numpy as np
import pandas as pd
import pytest

from retrogait.errors import DataError
from retrogait.io import read_units
from retrogait.ingest.trial import (CHECK_COLUMNS, SUBJECT_FILES, Stream, Trial, TrialMeta, check_row, checks_frame,
                                    read_subject, write_subject)


def meta(**kw):
    base = dict(dataset="d", subject="S1", trial="t1", condition="c", direction="FW", speed_mps=float("nan"),
                surface="overground", mass_kg=60.0, height_m=1.7, mass_source="test", source_files="a.c3d",
                source_sha256="0" * 64, adapter="test")
    return TrialMeta(**{**base, **kw})


def test_meta_rejects_bad_direction_with_location():
    with pytest.raises(DataError, match=r"\[dataset=d subject=S1 trial=t1\] direction must be one of"):
        meta(direction="backwards")


@pytest.mark.parametrize("mass", [0.0, -3.0, float("inf")])
def test_meta_rejects_non_positive_mass(mass):
    with pytest.raises(DataError, match="body mass"):
        meta(mass_kg=mass)


def test_meta_accepts_unrecorded_mass_only_without_kinetics():
    m = meta(mass_kg=float("nan"), mass_source="not recorded")
    assert np.isnan(m.mass_kg)
    with pytest.raises(DataError, match="body mass not recorded"):
        meta(mass_kg=float("nan"), kinetic_sides="L")
    forces = Stream(100.0, pd.DataFrame({"time_s": [0.0, 0.01], "fp1_fz": [0.0, 1.0]}), {"fp1_fz": "N"})
    with pytest.raises(DataError, match="needs the body mass"):
        Trial(meta=m, forces=forces)


def test_stream_needs_units_and_increasing_time():
    with pytest.raises(ValueError, match="without a unit"):
        Stream(100.0, pd.DataFrame({"time_s": [0.0, 0.01], "x": [1.0, 2.0]}), {})
    with pytest.raises(ValueError, match="increase strictly"):
        Stream(100.0, pd.DataFrame({"time_s": [0.0, 0.0], "x": [1.0, 2.0]}), {"x": "m"})


def test_round_trip_keeps_signals_units_events_and_missing_streams(tmp_path):
    t = np.arange(5) / 100.0
    kin = Stream(100.0, pd.DataFrame({"time_s": t, "L_knee_flexion": np.linspace(0, 40, 5)}),
                 {"L_knee_flexion": "deg"})
    emg = Stream(1000.0, pd.DataFrame({"time_s": np.arange(50) / 1000.0, "L_rectus_femoris": np.ones(50)}),
                 {"L_rectus_femoris": "V"})
    ev = pd.DataFrame({"side": ["L"], "event": ["foot_strike"], "time_s": [0.02], "source": ["c3d:EVENT"]})
    trials = [Trial(meta(), kinematics=kin, emg=emg, events=ev),
              Trial(meta(trial="t2"), kinematics=kin)]  # second trial: no EMG, no forces
    write_subject(trials, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SUBJECT_FILES)
    assert read_units(tmp_path / "kinematics.parquet")["L_knee_flexion"] == "deg"
    back = read_subject(tmp_path)
    assert [b.meta.trial for b in back] == ["t1", "t2"]
    np.testing.assert_allclose(back[0].kinematics.get("L_knee_flexion"), np.linspace(0, 40, 5))
    assert back[0].emg.rate_hz == 1000.0 and back[1].emg is None and back[0].forces is None
    assert back[0].events.to_dict("records") == ev.to_dict("records")
    assert back[1].events.empty


def test_duplicate_trial_ids_are_refused(tmp_path):
    with pytest.raises(DataError, match="duplicate trial ids"):
        write_subject([Trial(meta()), Trial(meta())], tmp_path)


def test_canonical_muscle_names_known_muscles_and_keeps_others():
    from retrogait.ingest.trial import MUSCLES, canonical_muscle

    assert canonical_muscle("VL") == ("vastus_lateralis", True)
    assert canonical_muscle("Rectus Femoris") == ("rectus_femoris", True)
    assert canonical_muscle("gastrocnemius-medialis") == ("medial_gastrocnemius", True)
    assert canonical_muscle("vastus intermedius") == ("vastus_intermedius", True)
    assert canonical_muscle("Obliquus Externus") == ("obliquus_externus", False)
    assert all(canonical_muscle(m) == (m, True) for m in MUSCLES)
    for bad in ("1st channel", "stance_x", "", "%"):
        with pytest.raises(ValueError, match="is not usable"):
            canonical_muscle(bad)


def test_ingest_record_columns_round_trip(tmp_path):
    t = np.arange(5) / 100.0
    emg = Stream(1000.0, pd.DataFrame({"time_s": t, "R_obliquus_externus": np.zeros(5)}), {"R_obliquus_externus": "V"})
    m = meta(speed_mps=1.0, missing_outputs="LKneeAngles", missing_markers="pelvis (SACR)", missing_emg="LVL",
             unmapped_analogs="Voltage.7", gaps="SACR: 3 frames stored as (0, 0, 0) set missing")
    write_subject([Trial(meta=m, emg=emg)], tmp_path)
    back = read_subject(tmp_path)[0]
    assert back.meta == m and back.kinematics is None and back.emg.signals == ["R_obliquus_externus"]


def test_checks_round_trip_per_trial(tmp_path):
    rows = [check_row("body_mass", "warning", value=71.2, unit="kg", expected="60 (table)", detail="12 % off"),
            check_row("knee_moment_sign", "passed", detail="K1 absorption")]
    trials = [Trial(meta(), checks=checks_frame(rows)), Trial(meta(trial="t2"))]
    write_subject(trials, tmp_path)
    stored = pd.read_parquet(tmp_path / "data_checks.parquet")
    assert list(stored.columns) == ["dataset", "subject", "trial", "condition", *CHECK_COLUMNS]
    assert stored["trial"].tolist() == ["t1", "t1"]
    back = read_subject(tmp_path)
    pd.testing.assert_frame_equal(back[0].checks, checks_frame(rows))
    assert back[1].checks.empty and list(back[1].checks.columns) == list(CHECK_COLUMNS)
    with pytest.raises(ValueError, match="status"):
        check_row("x", "failed")
