"""Any lab's C3D files with a map alone: small files written with ezc3d (tests/c3dfiles.py).

One class of problem per test: gaps stored as (0, 0, 0), body mass from other
sources, other marker spellings, partial files (EMG only, markers only),
unit strings, EMG muscle names, stored events that disagree, a flat first
vertical-GRF hump.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from retrogait.acquire.manifest import DatasetSpec, RawFile
from retrogait.errors import ConfigError, DataError
from retrogait.gait.cycles import CycleSettings, process_subject
from retrogait.gait.events import EventParams, find_cycles
from retrogait.gait.measures import subject_measures
from retrogait.ingest.adapters import make_adapter
from tests.c3dfiles import simple_map, walking_c3d, write_c3d

pytest.importorskip("ezc3d")

EMG = {"RVL": "R_vastus_lateralis", "LVL": "L_vastus_lateralis"}
EMG_MAP = {"RVL": {"muscle": "VL", "side": "R"}, "LVL": {"muscle": "vastus lateralis", "side": "L"}}


def adapter_for(root, files: dict[str, str] | list[str], cmap: dict, *, options: dict | None = None):
    """A c3d adapter over ``root/raw`` with the map written to ``root/map.yaml``."""
    (root / "map.yaml").write_text(yaml.safe_dump(cmap))
    paths = list(files)
    spec = DatasetSpec(id="lab", title="t", citation="c", licence="l", adapter="c3d",
                       options={"map": "map.yaml", **(options or {})}, files=tuple(RawFile(path=p) for p in paths))
    return make_adapter(spec, root=root)


def read_one(root, rel, cmap, **kw):
    ad = adapter_for(root, [rel], cmap, **kw)
    return ad.read_subject(rel.split("/")[0], root / "raw")[0]


# -- 1. gaps stored as exact zeros ---------------------------------------------------------------

def test_zero_triplets_and_negative_residuals_are_missing_and_the_cycle_is_rejected(tmp_path):
    # 39 frames of the left knee angle written as (0, 0, 0): a gap, not 0 deg of flexion
    info = walking_c3d(tmp_path / "raw/S01/walk.c3d", zero_gap=("LKneeAngles", 260, 39))
    t = read_one(tmp_path, "S01/walk.c3d", simple_map())
    flex = t.kinematics.get("L_knee_flexion")
    assert np.isnan(flex[260:299]).all() and np.isfinite(flex[:260]).all()
    assert "LKneeAngles: 39 frames stored as (0, 0, 0) set missing" in t.meta.gaps
    out = process_subject([t])
    cyc = out["cycles"]
    hit = cyc[(cyc["side"] == "L") & (cyc["fs_s"] < info["time"][298]) & (cyc["next_fs_s"] > info["time"][260])]
    assert len(hit) >= 1 and (hit["qc_status"] == "rejected").all()
    assert hit["qc_reason"].str.contains(r"missing data \(L_knee_flexion: \d+ % of its \d+ samples in the cycle missing\) above cycles.max_missing_pct").all()
    # no waveform of the left knee carries a zero from the gap, and the other cycles stay kept
    wav = out["waveforms"]
    assert not set(zip(wav["side"], wav["cycle"])) & set(zip(hit["side"], hit["cycle"]))
    assert (cyc["qc_status"] == "kept").sum() >= 6


def test_negative_residual_marks_an_invalid_point(tmp_path):
    n = 200
    xyz = np.column_stack([np.linspace(0, 1000, n), np.full(n, 50.0), np.full(n, 900.0)])
    res = np.zeros(n)
    res[50:60] = -1.0
    write_c3d(tmp_path / "raw/S01/a.c3d", points={"SACR": xyz}, residuals={"SACR": res}, parameters={
        "PROCESSING:Bodymass": 70.0})
    cmap = simple_map(markers={"pelvis": ["SACR"]})
    t = read_one(tmp_path, "S01/a.c3d", cmap)
    x = t.kinematics.get("pelvis_x")
    assert np.isnan(x[50:60]).all() and np.isfinite(x[:50]).all() and np.isfinite(x[60:]).all()


def test_short_gaps_are_filled_only_when_configured_and_the_method_is_recorded(tmp_path):
    n = 300
    x = np.linspace(0.0, 3000.0, n) + 40 * np.sin(np.linspace(0, 6, n))
    xyz = np.column_stack([x, np.full(n, 50.0), np.full(n, 900.0)])
    xyz[100:103] = 0.0   # 3 frames = 0.03 s: short
    xyz[200:230] = 0.0   # 30 frames = 0.30 s: long
    write_c3d(tmp_path / "raw/S01/a.c3d", points={"SACR": xyz}, parameters={"PROCESSING:Bodymass": 70.0})
    plain = read_one(tmp_path, "S01/a.c3d", simple_map(markers={"pelvis": ["SACR"]})).kinematics.get("pelvis_x")
    assert np.isnan(plain[100:103]).all() and np.isnan(plain[200:230]).all()
    t = read_one(tmp_path, "S01/a.c3d", simple_map(markers={"pelvis": ["SACR"]},
                                                  gaps={"fill": "linear", "max_gap_s": 0.05}))
    filled = t.kinematics.get("pelvis_x")
    expected = np.interp(np.arange(100, 103), [99, 103], [x[99] / 1000, x[103] / 1000])
    np.testing.assert_allclose(filled[100:103], expected)
    assert np.isnan(filled[200:230]).all()  # longer than max_gap_s: stays missing
    assert "gaps up to 0.05 s filled (linear): SACR x1" in t.meta.gaps
    pchip = read_one(tmp_path, "S01/a.c3d", simple_map(markers={"pelvis": ["SACR"]},
                                                      gaps={"fill": "pchip", "max_gap_s": 0.05}))
    y = pchip.kinematics.get("pelvis_x")[100:103]
    assert np.isfinite(y).all() and (np.diff(y) > 0).all()  # shape-preserving: no overshoot of a rising track


# -- 3. body mass from several sources ----------------------------------------------------------

def test_missing_mass_parameter_falls_back_to_the_next_source_and_says_which(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", mass_parameter="SUBJECT:WEIGHT", mass_kg=64.5, plates=False)
    sources = [{"parameter": "PROCESSING:Bodymass", "unit": "kg"}, {"parameter": "SUBJECT:WEIGHT", "unit": "kg"}]
    t = read_one(tmp_path, "S01/walk.c3d", simple_map(mass=sources))
    assert t.meta.mass_kg == pytest.approx(64.5) and t.meta.mass_source == "C3D parameter SUBJECT:WEIGHT"


def test_mass_from_a_subjects_table_the_manifest_or_a_literal_value(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", mass_parameter=None, plates=False)
    (tmp_path / "subjects.csv").write_text("subject,mass_kg,height_m,source\nS01,61.2,1.64,lab sheet 2024-03\n")
    table = read_one(tmp_path, "S01/walk.c3d", simple_map(mass={"table": "subjects.csv"}))
    assert table.meta.mass_kg == pytest.approx(61.2)
    assert table.meta.mass_source == "subjects table subjects.csv (lab sheet 2024-03)"
    manifest = read_one(tmp_path, "S01/walk.c3d", simple_map(mass={"manifest": True}),
                        options={"subjects": {"S01": {"mass_kg": 58.0}}})
    assert manifest.meta.mass_kg == 58.0 and "options.subjects.S01.mass_kg" in manifest.meta.mass_source
    literal = read_one(tmp_path, "S01/walk.c3d", simple_map(mass={"value": 150, "unit": "lb"}))
    assert literal.meta.mass_kg == pytest.approx(68.04, abs=0.01)
    assert literal.meta.mass_source.startswith("ASSUMED 150 lb for every subject")


def test_no_mass_anywhere_is_an_error_listing_every_source_tried(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", mass_parameter=None, plates=False)
    (tmp_path / "subjects.csv").write_text("subject,mass_kg\nS02,61.2\n")
    sources = [{"parameter": "PROCESSING:Bodymass", "unit": "kg"}, {"table": "subjects.csv"}]
    with pytest.raises(DataError, match=r"subject=S01 trial=walk\] no body mass for this trial "
                                        r"\(C3D parameter PROCESSING:Bodymass: absent; subjects table "
                                        r"subjects.csv: no row for subject S01\).*body.mass"):
        read_one(tmp_path, "S01/walk.c3d", simple_map(mass=sources))


def test_disagreeing_sources_are_noted_and_grams_declared_as_kg_are_caught(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", mass_kg=70.0, plates=False)
    sources = [{"parameter": "PROCESSING:Bodymass", "unit": "kg"}, {"value": 75, "unit": "kg"}]
    t = read_one(tmp_path, "S01/walk.c3d", simple_map(mass=sources))
    assert t.meta.mass_kg == 70.0 and "ASSUMED 75 kg for every subject (map body.mass), not measured gives 75 kg" \
        in t.meta.notes
    with pytest.raises(DataError, match=r"body mass 0.07 kg from C3D parameter PROCESSING:Bodymass is outside"):
        read_one(tmp_path, "S01/walk.c3d", simple_map(mass={"parameter": "PROCESSING:Bodymass", "unit": "g"}))


def test_manifest_mass_source_without_manifest_values_is_a_parse_time_error(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False)
    ad = adapter_for(tmp_path, ["S01/walk.c3d"], simple_map(mass={"manifest": True}))
    with pytest.raises(ConfigError, match=r"'body.mass\[0\]'.*has none"):
        ad.plan()


# -- 4. marker names ------------------------------------------------------------------------

def _events(t):
    r = find_cycles(t, params=EventParams())
    return r.cycles[r.cycles["qc_status"] == "kept"][["side", "fs_s", "fo_s"]].round(3).reset_index(drop=True)


def test_suffix_and_per_side_marker_names_give_the_same_events(tmp_path):
    walking_c3d(tmp_path / "raw/S01/pig.c3d", plates=False, stored_events=False)
    # the same walk, labelled the way another lab does: suffixes, French heel names, G/D side tokens
    walking_c3d(tmp_path / "raw/S01/lab.c3d", plates=False, stored_events=False, side_tokens={"L": "G", "R": "D"},
                knee_label="Genou_{side}", markers={"L_heel": "TLNG", "R_heel": "TLND", "L_toe": "ORT_G",
                                                    "R_toe": "ORT_D", "pelvis": "Sub:SACRUM"})
    reference = _events(read_one(tmp_path, "S01/pig.c3d", simple_map()))
    lab_map = simple_map(markers={"heel": [{"L": "TLNG", "R": "TLND"}], "toe": ["ORT_{side}"], "pelvis": ["SACRUM"]},
                         knee_label="Genou_{side}", side_tokens={"L": "G", "R": "D"})
    t = read_one(tmp_path, "S01/lab.c3d", lab_map)
    assert t.meta.missing_markers == "" and t.meta.missing_outputs == ""
    assert "Sub:SACRUM" in t.meta.notes  # matched without its subject prefix, and said so
    pd.testing.assert_frame_equal(_events(t), reference)
    assert len(reference) >= 8


def test_unmatched_markers_are_recorded_with_the_candidates_tried(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False)
    t = read_one(tmp_path, "S01/walk.c3d", simple_map(markers={"heel": ["HEE_{side}", ["{side}HEEL", "{side}CAL"]],
                                                               "toe": ["{side}TOE"], "pelvis": ["SACR"]}))
    assert "L_heel (HEE_L | LHEEL+LCAL)" in t.meta.missing_markers
    with pytest.raises(ConfigError, match=r"'markers.pelvis\[0\]': the pelvis has no side"):
        adapter_for(tmp_path, ["S01/walk.c3d"], simple_map(markers={"pelvis": ["{side}PSI"]})).plan()


# -- 2. partial files: EMG only, markers only -------------------------------------------------------

def test_emg_only_file_is_read_into_its_emg_and_lists_what_it_lacks(tmp_path):
    walking_c3d(tmp_path / "raw/S01/emg.c3d", points=False, plates=False, emg=EMG, stored_events=False)
    t = read_one(tmp_path, "S01/emg.c3d", simple_map(emg=EMG_MAP))
    assert t.kinematics is None and t.forces is None
    assert sorted(t.emg.signals) == ["L_vastus_lateralis", "R_vastus_lateralis"] and t.emg.units["R_vastus_lateralis"] == "V"
    assert t.meta.missing_outputs == "LKneeAngles, RKneeAngles"
    assert t.meta.missing_markers == "L_heel, R_heel, pelvis, L_toe, R_toe"  # no point data at all
    out = process_subject([t])
    notes = out["trial_notes"].iloc[0]
    assert notes["n_cycles_kept"] == 0 and "no usable events" in notes["notes"]
    measures = subject_measures([t], out["cycles"], out["waveforms"])
    assert measures.empty and "qc_status" in measures.columns


def test_emg_only_file_with_stored_events_is_analysed_from_them(tmp_path):
    walking_c3d(tmp_path / "raw/S01/emg.c3d", points=False, plates=False, emg=EMG)
    t = read_one(tmp_path, "S01/emg.c3d", simple_map(emg=EMG_MAP))
    out = process_subject([t])
    kept = out["cycles"][out["cycles"]["qc_status"] == "kept"]
    assert len(kept) >= 6 and set(kept["event_method"]) == {"stored"}
    m = subject_measures([t], out["cycles"], out["waveforms"])
    assert {"emg_mean_vastus_lateralis", "stride_time"} <= set(m["measure"])


def test_markers_only_file_gives_kinematic_cycles_and_spatiotemporal_measures(tmp_path):
    walking_c3d(tmp_path / "raw/S01/markers.c3d", plates=False, stored_events=False, knee_label="X{side}")
    t = read_one(tmp_path, "S01/markers.c3d", simple_map(emg=EMG_MAP))
    assert t.forces is None and t.emg is None and t.kinematics.has("L_heel_x")
    assert t.meta.missing_outputs == "LKneeAngles, RKneeAngles" and t.meta.missing_emg == "LVL, RVL"
    out = process_subject([t])
    kept = out["cycles"][out["cycles"]["qc_status"] == "kept"]
    assert len(kept) >= 6 and set(kept["event_method"]) == {"kinematic"}
    m = subject_measures([t], out["cycles"], out["waveforms"])
    assert {"stride_time", "stride_length", "cadence"} <= set(m["measure"])
    assert not m["measure"].str.startswith("knee_").any()


def test_file_with_nothing_the_map_names_is_an_error_pointing_to_inspect(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False)
    cmap = simple_map(markers={"pelvis": ["NOPE"]}, knee_label="NOPE{side}")
    with pytest.raises(DataError, match=r"holds none of the data the map names.*retrogait.ingest.inspect"):
        read_one(tmp_path, "S01/walk.c3d", cmap)


def test_same_file_name_in_two_condition_folders_gives_two_trials(tmp_path):
    walking_c3d(tmp_path / "raw/S01/FW/trial01.c3d", plates=False)
    walking_c3d(tmp_path / "raw/S01/BW/trial01.c3d", plates=False)
    cmap = simple_map(conditions=[{"match": "/FW/", "condition": "fw"},
                                  {"match": "/BW/", "condition": "bw", "direction": "BW"}])
    ad = adapter_for(tmp_path, ["S01/FW/trial01.c3d", "S01/BW/trial01.c3d"], cmap)
    trials = ad.read_subject("S01", tmp_path / "raw")
    assert [t.meta.trial for t in trials] == ["S01_FW_trial01", "S01_BW_trial01"]


# -- 6. unit strings -----------------------------------------------------------------------

def test_bad_unit_string_is_a_parse_time_error_naming_the_map_key(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False)
    cmap = simple_map()
    cmap["model_outputs"].append({"label": "{side}KneeMoment", "component": 0, "variable": "knee_extensor_moment",
                                  "unit": "Nmm/kgg"})
    with pytest.raises(ConfigError, match=r"map.yaml: 'model_outputs\[1\].unit': 'Nmm/kgg' is not one of"):
        adapter_for(tmp_path, ["S01/walk.c3d"], cmap).plan()
    cmap["model_outputs"][1]["unit"] = "deg"
    with pytest.raises(ConfigError, match=r"'model_outputs\[1\].unit': 'deg' is not a unit of knee_extensor_moment"):
        adapter_for(tmp_path, ["S01/walk.c3d"], cmap).plan()
    cmap["model_outputs"].pop()
    cmap["emg"] = {"unit": "volts", "channels": EMG_MAP}
    with pytest.raises(ConfigError, match=r"'emg.unit': 'volts' is not one of \['V', 'mV', 'uV'\]"):
        adapter_for(tmp_path, ["S01/walk.c3d"], cmap).plan()


def test_schema_unit_spellings_are_all_known_to_the_unit_table():
    from retrogait.config import load_yaml
    from retrogait.ingest.adapters.c3d import MAP_SCHEMA
    from retrogait.ingest.units import normalise_unit

    schema = load_yaml(MAP_SCHEMA)
    spellings = schema["properties"]["model_outputs"]["items"]["properties"]["unit"]["enum"]
    spellings += schema["properties"]["emg"]["properties"]["unit"]["enum"]
    for unit in spellings:
        normalise_unit(unit)  # raises on an unknown spelling


def test_file_emg_unit_that_is_not_a_voltage_names_channel_and_parameter(tmp_path):
    n = 100
    write_c3d(tmp_path / "raw/S01/a.c3d", points={"SACR": np.ones((n, 3))}, parameters={"PROCESSING:Bodymass": 70.0},
              analogs={"RVL": np.zeros(n * 10)}, analog_units={"RVL": "counts"})
    with pytest.raises(DataError, match=r"trial=a channel=RVL\] EMG channel unit 'counts' \(ANALOG:UNITS of the "
                                        r"file\) is not a voltage.*set emg.unit in the map"):
        read_one(tmp_path, "S01/a.c3d", simple_map(emg={"RVL": {"muscle": "VL", "side": "R"}}))


def test_subject_from_c3d_is_refused_with_the_allowed_values(tmp_path):
    cmap = simple_map()
    cmap["subject"] = {"from": "c3d"}
    with pytest.raises(ConfigError, match=r"'subject.from': 'c3d' is not one of \['path', 'manifest'\]"):
        adapter_for(tmp_path, ["S01/walk.c3d"], cmap).plan()
    from retrogait.config import load_yaml
    from retrogait.ingest.adapters.c3d import MAP_SCHEMA

    described = load_yaml(MAP_SCHEMA)["properties"]["subject"]["properties"]["from"]["description"]
    assert "c3d =" not in described and "SUBJECTS:NAMES" not in described


# -- 5. EMG channels -------------------------------------------------------------------------

def test_any_muscle_name_is_analysed_known_ones_get_canonical_names_duplicates_resolved(tmp_path):
    emg = {"R VL": "R_vastus_lateralis", "RVL2": "R_vastus_lateralis", "R Iliacus": "R_iliopsoas",
           "R ObExt": "R_obliquus_externus"}
    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False, emg=emg)
    cmap = simple_map(emg={"R VL": {"muscle": "VL", "side": "R"},
                           "RVL2": {"muscle": "Vastus Lateralis", "side": "R"},
                           "R Iliacus": {"muscle": "iliacus", "side": "R"},
                           "R ObExt": {"muscle": "obliquus externus", "side": "R"}})
    t = read_one(tmp_path, "S01/walk.c3d", cmap)
    assert sorted(t.emg.signals) == ["R_iliopsoas", "R_obliquus_externus", "R_vastus_lateralis"]
    assert "EMG R_vastus_lateralis: analog channels 'R VL', 'RVL2' all map to it; 'R VL' used" in t.meta.notes
    assert "analysed under their own name (no claim or co-contraction index uses them): obliquus_externus" \
        in t.meta.notes
    out = process_subject([t])
    m = subject_measures([t], out["cycles"], out["waveforms"])
    assert {"emg_mean_obliquus_externus", "emg_peak_iliopsoas", "emg_mean_vastus_lateralis"} <= set(m["measure"])


def test_unusable_muscle_name_is_a_parse_time_error(tmp_path):
    cmap = simple_map(emg={"X1": {"muscle": "stance_thing", "side": "R"}})
    with pytest.raises(ConfigError, match=r"'emg.channels.X1.muscle': muscle name 'stance_thing' is not usable"):
        adapter_for(tmp_path, ["S01/walk.c3d"], cmap).plan()


# -- 8. stored events that disagree ---------------------------------------------------------------

def test_stored_events_off_by_200ms_reject_the_cycles_that_use_the_event(tmp_path):
    # the third left foot strike stored 200 ms late; force and kinematics put it where it is
    walking_c3d(tmp_path / "raw/S01/walk.c3d", events_shift_s={("L", "foot_strike", 3): 0.2})
    t = read_one(tmp_path, "S01/walk.c3d", simple_map())
    res = find_cycles(t, params=EventParams())
    cyc = res.cycles
    bad = cyc[cyc["qc_reason"].str.contains("stored foot_strike", regex=False)]
    assert len(bad) == 2 and (bad["qc_status"] == "rejected").all() and set(bad["side"]) == {"L"}
    assert bad["qc_reason"].str.contains(r"differs by [+-]\d+ ms from the detected event used").all()
    assert any(n.startswith("REJECTED: L stored foot_strike") for n in res.notes)
    others = cyc.drop(bad.index)
    assert (others["qc_status"] == "kept").all()
    flagged = find_cycles(t, params=EventParams(stored_disagreement="flag")).cycles
    assert (flagged["qc_status"] == "kept").all() and flagged["qc_flags"].str.contains("stored foot_strike").sum() == 2


def test_stored_events_within_tolerance_change_nothing(tmp_path):
    walking_c3d(tmp_path / "raw/S01/walk.c3d", events_shift_s={("L", "foot_strike", 3): 0.02})
    t = read_one(tmp_path, "S01/walk.c3d", simple_map())
    cyc = find_cycles(t, params=EventParams()).cycles
    assert (cyc["qc_status"] == "kept").all()


# -- 9. first vertical-GRF peak ----------------------------------------------------------------

def test_flat_first_vgrf_hump_reports_the_first_peak_missing_not_the_window_edge(tmp_path):
    walking_c3d(tmp_path / "raw/S01/flat.c3d", vgrf="flat")
    walking_c3d(tmp_path / "raw/S02/double.c3d", vgrf="double")
    flat = read_one(tmp_path, "S01/flat.c3d", simple_map())
    out = process_subject([flat])
    m = subject_measures([flat], out["cycles"], out["waveforms"])
    vg = m[m["measure"].str.startswith("vgrf")]
    assert len(vg[vg["measure"] == "vgrf_peak2"]) == 2 and (vg.loc[vg["measure"] == "vgrf_peak2", "qc_status"] == "kept").all()
    for name in ("vgrf_peak1", "vgrf_loading_rate"):
        rows = vg[vg["measure"] == name]
        assert len(rows) == 2 and (rows["qc_status"] == "missing").all() and rows["value"].isna().all()
        assert rows["qc_reason"].str.contains("no loading-response peak").all()
    double = read_one(tmp_path, "S02/double.c3d", simple_map())
    out = process_subject([double])
    m = subject_measures([double], out["cycles"], out["waveforms"])
    rate = m.loc[m["measure"] == "vgrf_loading_rate", "value"]
    assert len(rate) == 2 and rate.between(3.0, 15.0).all()
    assert (m.loc[m["measure"] == "vgrf_peak1", "qc_status"] == "kept").all()


def test_cycle_settings_read_the_missing_data_limit():
    assert CycleSettings.from_config({"cycles": {"max_missing_pct": 2.5}}).max_missing_pct == 2.5
    assert CycleSettings.from_config({}).max_missing_pct == 10.0


def test_fill_gaps_never_extrapolates_and_counts_gaps():
    from retrogait.ingest.adapters.c3d import fill_gaps, invalid_points

    xyz = np.vstack([np.arange(10.0), np.arange(10.0) * 2, np.full(10, 5.0)])
    xyz[:, [0, 4, 5, 9]] = 0.0
    missing = invalid_points(xyz)
    assert missing.tolist() == [True, False, False, False, True, True, False, False, False, True]
    out, n = fill_gaps(xyz, missing, max_samples=2, method="linear")
    assert n == 1 and np.isnan(out[:, 0]).all() and np.isnan(out[:, 9]).all()
    np.testing.assert_allclose(out[0, 4:6], [4.0, 5.0])
    out, n = fill_gaps(xyz, missing, max_samples=1, method="linear")
    assert n == 0 and np.isnan(out[:, 4:6]).all()


def test_malformed_force_plate_group_costs_only_the_plates(tmp_path):
    import ezc3d

    from tests.c3dfiles import _int_parameter

    walking_c3d(tmp_path / "raw/S01/walk.c3d", plates=False, emg=EMG)
    c = ezc3d.c3d(str(tmp_path / "raw/S01/walk.c3d"))
    _int_parameter(c, "FORCE_PLATFORM", "USED", [1])   # a plate declared without corners or channels
    _int_parameter(c, "FORCE_PLATFORM", "TYPE", [2])
    c.write(str(tmp_path / "raw/S01/walk.c3d"))
    t = read_one(tmp_path, "S01/walk.c3d", simple_map(emg=EMG_MAP))
    assert t.forces is None and t.kinematics.has("L_heel_x") and len(t.emg.signals) == 2
    assert "force plates not read: the FORCE_PLATFORM group cannot be interpreted (force plate 1: " \
        "FORCE_PLATFORM:CORNERS has 0 values, 12 needed)" in t.meta.notes
