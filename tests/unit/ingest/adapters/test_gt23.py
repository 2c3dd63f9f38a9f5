"""The gt23 adapter on format-faithful replicas (tests/replica_gt23.py)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrogait.ingest.adapters import get_adapter
from retrogait.ingest.adapters.gt23 import EMG_CHANNELS, GT23Adapter, parse_trial, read_masses_file
from retrogait.errors import ConfigError, DataError
from retrogait.acquire.manifest import DatasetSpec
from retrogait.ingest.trial import MUSCLES, read_subject, write_subject
from tests import replica_gt23 as rg

SUBJ = ["AB01", "AB03"]
FW, BW = "normal_walk_1_0-6", "walk_backward_1_0-6"


def make(repo_root: Path, manifest_options=None, **options) -> GT23Adapter:
    spec = DatasetSpec(id="gt23", title="GT23", citation="Scherpereel et al. 2023", licence="CC-BY-4.0",
                       adapter="gt23",
                       options=manifest_options if manifest_options is not None
                       else {"subjects_table": "config/gt23_subjects.csv"})
    return get_adapter("gt23")(spec, options=options, root=repo_root)


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    root = tmp_path_factory.mktemp("gt23")
    info = rg.build_replica(root / "ProcessedData.zip", subjects=SUBJ, trials=rg.TRIALS, duration_s=6.0, seed=3)
    rg.extract(info, root / "raw")
    return info, root / "raw"


@pytest.fixture(scope="module")
def trials(replica, repo_root):
    info, raw = replica
    return {t.meta.trial: t for t in make(repo_root, subjects=SUBJ).read_subject("AB03", raw)}


_ZIPS: dict[tuple, rg.ReplicaInfo] = {}


@pytest.fixture
def small(tmp_path, tmp_path_factory):
    """``small(sub="x", **kw)``: a small replica extracted to ``tmp_path/<sub>/raw``.

    Each distinct set of replica arguments is built once per session; every
    call extracts a fresh copy, so tests may alter the files.
    """

    def build(sub: str = "", trials=(FW, BW), subjects=("AB01",), **kw) -> tuple[rg.ReplicaInfo, Path]:
        key = (tuple(trials), tuple(subjects), tuple(sorted(kw.items())))
        if key not in _ZIPS:
            folder = tmp_path_factory.mktemp("small")
            _ZIPS[key] = rg.build_replica(folder / "r.zip", subjects=list(subjects), trials=list(trials),
                                          duration_s=5.0, seed=5, **kw)
        raw = tmp_path / sub / "raw"
        rg.extract(_ZIPS[key], raw)
        return _ZIPS[key], raw

    return build


def rewrite(path: Path, fn) -> None:
    """Apply fn to a CSV as a DataFrame and write it back (NaN as empty fields)."""
    df = fn(pd.read_csv(path, encoding="utf-8-sig"))
    df.to_csv(path, index=False, float_format="%.10g", na_rep="")


def csv_path(raw: Path, subject: str, trial: str, suffix: str) -> Path:
    return raw / subject / trial / f"{subject}_{trial}_{suffix}.csv"


# ---------------------------------------------------------------------------
# options and plan
# ---------------------------------------------------------------------------

def test_defaults_and_plan(repo_root):
    a = make(repo_root)
    assert a.opts["subjects"] == list(rg.SUBJECTS)
    assert a.opts["trials"] == list(rg.TRIALS)
    assert a.opts["file_types"] == list(rg.FILE_TYPES)
    assert a.opts["emg_unit"] == "V"
    plan = a.plan()
    assert list(plan) == sorted(rg.SUBJECTS)
    files = plan["AB07"]
    assert len(files) == 25
    assert files[0].path == "AB07/normal_walk_1_0-6/AB07_normal_walk_1_0-6_angle.csv"
    for f in files:
        assert f.member == f.path and f.url is None and f.sha256 is None
        assert not f.path.startswith("ProcessedData")
    assert all("Subject_masses" not in f.path for fs in plan.values() for f in fs)


def test_plan_subset(repo_root):
    a = make(repo_root, subjects=["AB13", "AB02"], trials=[BW], file_types=["grf", "emg"])
    plan = a.plan()
    assert list(plan) == ["AB02", "AB13"]
    assert [f.path for f in plan["AB02"]] == [f"AB02/{BW}/AB02_{BW}_grf.csv", f"AB02/{BW}/AB02_{BW}_emg.csv"]


@pytest.mark.parametrize("options, words", [
    ({"trials": ["incline_walk_1_up5"]}, ["trials", "incline_walk_1_up5", "normal_walk"]),
    ({"trials": ["walk_backward_1_1.0"]}, ["trials", "walk_backward_1_1.0"]),
    ({"file_types": ["angle", "velocity"]}, ["file_types", "velocity", "moment_filt"]),
    ({"subjects": ["AB01", "AB04"]}, ["subjects", "AB04", "excluded"]),
    ({"emg_unit": "kV"}, ["emg_unit", "kV"]),
    ({"subject": ["AB01"]}, ["unknown key 'subject'", "did you mean 'subjects'"]),
    ({"direction_check": "maybe"}, ["direction_check"]),
])
def test_bad_options(repo_root, options, words):
    with pytest.raises(ConfigError) as exc:
        make(repo_root, **options)
    msg = str(exc.value)
    assert "dataset_options.gt23" in msg
    for w in words:
        assert w in msg


def test_bad_manifest_options(repo_root):
    with pytest.raises(ConfigError, match="datasets.gt23.options"):
        make(repo_root, manifest_options={"subjects_tabel": "x.csv"})


def test_yaml_off_is_accepted(repo_root):
    assert make(repo_root, direction_check=False).opts["direction_check"] == "off"


def test_parse_trial():
    assert parse_trial("normal_walk_1_0-6") == ("FW", 0.6, "0.6", 1)
    assert parse_trial("walk_backward_1_1-0") == ("BW", 1.0, "1.0", 1)
    assert parse_trial("normal_walk_2_1-8") == ("FW", 1.8, "1.8", 2)
    with pytest.raises(ValueError):
        parse_trial("incline_walk_1_up5")


# ---------------------------------------------------------------------------
# reading the default replica
# ---------------------------------------------------------------------------

def test_trial_metadata(trials, replica):
    info, _ = replica
    assert list(trials) == list(rg.TRIALS)
    expect = {"normal_walk_1_0-6": ("FW", 0.6, "FW_0.6"), "normal_walk_1_1-2": ("FW", 1.2, "FW_1.2"),
              "walk_backward_1_0-6": ("BW", 0.6, "BW_0.6"), "walk_backward_1_0-8": ("BW", 0.8, "BW_0.8"),
              "walk_backward_1_1-0": ("BW", 1.0, "BW_1.0")}
    for name, t in trials.items():
        m = t.meta
        assert (m.direction, m.speed_mps, m.condition) == expect[name]
        assert m.dataset == "gt23" and m.subject == "AB03" and m.adapter == "gt23"
        assert m.surface == "treadmill"
        assert m.mass_kg == 113.5 and math.isnan(m.height_m)
        assert "gt23_subjects.csv" in m.mass_source
        assert m.kinetic_sides == "L"
        assert "KAM not available" in m.notes and "EMG unit assumed V" in m.notes
        assert "knee_flexion = -knee_angle" in m.notes and "kinetics on L only" in m.notes
        files = m.source_files.split(";")
        assert files == [f"AB03/{name}/AB03_{name}_{x}.csv" for x in rg.FILE_TYPES]
        assert len(m.source_sha256.split(";")) == 5
        assert list(t.plates["plate"]) == ["L", "R"] and list(t.plates["foot"]) == ["L", "R"]
        assert t.events.empty
        assert t.kinematics.rate_hz == 200.0 and t.forces.rate_hz == 200.0 and t.emg.rate_hz == 2000.0
        assert t.kinematics.time[0] == pytest.approx(info.t0[("AB03", name)])  # file's own time base
        assert t.emg.time[0] == pytest.approx(info.t0[("AB03", name)])
        assert len(t.kinematics.frame) == info.n_rows and len(t.emg.frame) == info.emg_rows


def test_signals_and_conversions(trials, replica):
    _, raw = replica
    t = trials[FW]
    ang = pd.read_csv(csv_path(raw, "AB03", FW, "angle"))
    mom = pd.read_csv(csv_path(raw, "AB03", FW, "moment_filt"))
    grf = pd.read_csv(csv_path(raw, "AB03", FW, "grf"))
    emg = pd.read_csv(csv_path(raw, "AB03", FW, "emg"))
    k = t.kinematics
    assert k.units["L_knee_flexion"] == "deg" and k.units["L_knee_extensor_moment"] == "N.m/kg"
    assert k.units["L_activity_flag"] == "1"
    np.testing.assert_allclose(k.get("L_knee_flexion"), -ang["knee_angle_l"])
    np.testing.assert_allclose(k.get("R_knee_flexion"), -ang["knee_angle_r"])
    assert 50 <= np.nanmax(k.get("L_knee_flexion")) <= 70 and -10 <= np.nanmin(k.get("L_knee_flexion")) <= 10
    np.testing.assert_allclose(k.get("L_knee_extensor_moment"), mom["knee_angle_l_moment"])
    assert np.isnan(k.get("R_knee_extensor_moment")).all()
    assert (k.get("L_activity_flag") == 1).all()
    f = t.forces
    np.testing.assert_allclose(f.get("L_fz"), grf["LForceY_Vertical"])
    np.testing.assert_allclose(f.get("L_fx"), grf["LForceX"])
    np.testing.assert_allclose(f.get("L_fy"), -grf["LForceZ"])
    np.testing.assert_allclose(f.get("L_cop_y"), -grf["LCOPZ"])
    np.testing.assert_allclose(f.get("L_cop_z"), grf["LCOPY_Vertical"])
    assert all(np.isnan(f.get(f"R_{c}")).all() for c in ("fx", "fy", "fz", "cop_x", "cop_y", "cop_z"))
    assert f.units["L_fz"] == "N" and f.units["L_cop_x"] == "m"
    assert set(t.emg.signals) == {f"{s}_{m}" for s, m in EMG_CHANNELS.values()}
    assert all(c.split("_", 1)[1] in MUSCLES for c in t.emg.signals)
    assert set(t.emg.units.values()) == {"V"}
    np.testing.assert_allclose(t.emg.get("L_tibialis_anterior"), emg["LTA"])
    np.testing.assert_allclose(t.emg.get("R_gluteus_maximus"), emg["RGMAX"])
    np.testing.assert_allclose(t.emg.get("L_medial_gastrocnemius"), emg["LMGAS"])


def test_bw_knee_and_moment(trials):
    bw = trials[BW].kinematics
    assert 35 <= np.nanmax(bw.get("L_knee_flexion")) <= 60
    peak = np.nanmax(bw.get("L_knee_extensor_moment"))
    assert 0.2 <= peak <= 0.7  # N.m/kg


def test_roundtrip_through_parquet(trials, tmp_path):
    write_subject(list(trials.values()), tmp_path / "AB03")
    back = read_subject(tmp_path / "AB03")
    assert [t.meta.trial for t in back] == list(trials)
    assert back[0].meta.kinetic_sides == "L" and back[0].emg.rate_hz == 2000.0


def test_subject_not_selected_or_missing(replica, repo_root, tmp_path):
    _, raw = replica
    with pytest.raises(DataError, match="not among the selected"):
        make(repo_root, subjects=["AB01"]).read_subject("AB03", raw)
    with pytest.raises(DataError, match=r"subject=AB02.*folder AB02/ not found"):
        make(repo_root).read_subject("AB02", raw)


# ---------------------------------------------------------------------------
# format variants
# ---------------------------------------------------------------------------

def test_processed_data_prefix_and_sniffed_masses(tmp_path, repo_root, small):
    info, raw = small(trials=[BW], prefix="ProcessedData/", masses_csv=True)
    assert (raw / "ProcessedData" / "AB01").is_dir()
    (t,) = make(repo_root, subjects=["AB01"], trials=[BW]).read_subject("AB01", raw)
    assert t.meta.source_files.startswith(f"ProcessedData/AB01/{BW}/")
    assert t.meta.mass_kg == rg.S1_MASSES["AB01"]
    assert t.meta.mass_source.startswith("ProcessedData/Subject_masses.csv")


def test_sniffed_masses_file_wins(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    (raw / "Subject_masses.csv").write_text("Subject ID;Body Mass (kg);Height (cm)\nAB01;80,0;175\nAB02;82.2;180\n"
                                            .replace("80,0", "80.0"), encoding="utf-8")
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert t.meta.mass_kg == 80.0 and t.meta.height_m == pytest.approx(1.75)
    assert t.meta.mass_source == "Subject_masses.csv (raw folder)"
    assert "differs from 78.9 kg" in t.meta.notes


@pytest.mark.parametrize("text, expected", [
    ("subject,kg\nAB01,78.9\nAB03,113.5\n", {"AB01": 78.9, "AB03": 113.5}),
    ("\ufeffID,Age,Weight\nAB01,25,70.5\n", {"AB01": 70.5}),
    ("AB01,70\nAB02,71\n", {"AB01": 70.0, "AB02": 71.0}),
    ("Participant\tMass_lbs\nab05\t154.3\n", {"AB05": pytest.approx(69.99, abs=0.01)}),
    ("subject,mass_kg\nGT23_AB07,62.3\n", {"AB07": 62.3}),
])
def test_read_masses_file_variants(tmp_path, text, expected):
    p = tmp_path / "Subject_masses.csv"
    p.write_text(text, encoding="utf-8")
    got = {k: v[0] for k, v in read_masses_file(p).items()}
    assert got == expected


def test_read_masses_file_garbage(tmp_path):
    p = tmp_path / "Subject_masses.csv"
    p.write_text("subject,mass\nAB01,7890\n", encoding="utf-8")
    with pytest.raises(DataError, match="AB01.*not a body mass"):
        read_masses_file(p)
    p.write_text("name,mass\nalice,70\n", encoding="utf-8")
    with pytest.raises(DataError, match="subject ids"):
        read_masses_file(p)


def test_shuffled_columns_nan_text_and_bom_read_identically(tmp_path, repo_root, small):
    _, raw_a = small("a", trials=[BW])
    _, raw_b = small("b", trials=[BW], shuffle_columns=True, nan_text="NaN", bom=True)
    assert "NaN" in csv_path(raw_b, "AB01", BW, "grf").read_text(encoding="utf-8-sig")
    a = make(repo_root, subjects=["AB01"], trials=[BW])
    (ta,), (tb,) = a.read_subject("AB01", raw_a), a.read_subject("AB01", raw_b)
    for s in ("kinematics", "forces", "emg"):
        pd.testing.assert_frame_equal(getattr(ta, s).frame, getattr(tb, s).frame)
    assert ta.meta.kinetic_sides == tb.meta.kinetic_sides == "L"


def test_emg_1000_hz_and_4000_rows(tmp_path, repo_root, small):
    info, raw = small(trials=[FW], n_rows=1000, emg_rate_hz=1000.0)
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert t.emg.rate_hz == 1000.0 and len(t.emg.frame) == info.emg_rows
    assert len(t.kinematics.frame) == 1000


def test_mixed_row_counts_and_unknown_files(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, "moment_filt"), lambda d: d.iloc[:-1])  # 1000 vs 1001 rows
    rewrite(csv_path(raw, "AB01", FW, "angle"), lambda d: d.assign(pelvis_tilt=1.0, knee_angle_x=5.0))
    csv_path(raw, "AB01", FW, "zz_unknown").write_text("not,a\nreal,file\n")
    (raw / "AB01" / FW / "README.txt").write_text("ignored")
    assert csv_path(raw, "AB01", FW, "link_angle").exists()  # near-miss suffix from the replica
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    k = t.kinematics
    assert len(k.frame) == 1001 and "row counts differ" in t.meta.notes
    assert np.isnan(k.get("L_knee_extensor_moment")[-1]) and np.isfinite(k.get("L_knee_flexion")[-1])
    assert "pelvis_tilt" not in k.frame.columns and "knee_angle_x" not in "".join(k.frame.columns)


def test_all_nan_kinetics_never_fails(tmp_path, repo_root, small):
    _, raw = small(trials=[BW])

    def blank(d):
        cols = [c for c in d.columns if c != "time"]
        d[cols] = np.nan
        return d

    rewrite(csv_path(raw, "AB01", BW, "moment_filt"), blank)
    rewrite(csv_path(raw, "AB01", BW, "grf"), blank)
    (t,) = make(repo_root, subjects=["AB01"], trials=[BW]).read_subject("AB01", raw)
    assert t.meta.kinetic_sides == ""
    assert "no kinetics on either side" in t.meta.notes
    assert np.isnan(t.kinematics.get("L_knee_extensor_moment")).all()


def test_right_side_kinetics_detected(tmp_path, repo_root, small):
    """Decline trials carry kinetics on the right belt: the side comes from the data."""
    _, raw = small(trials=[FW])

    def swap(d, pairs):
        out = d.copy()
        for left, right in pairs:
            out[left], out[right] = d[right], d[left]
        return out

    grf_pairs = [(f"L{c}", f"R{c}") for c in ("ForceX", "ForceY_Vertical", "ForceZ", "COPX", "COPY_Vertical", "COPZ")]
    mom_pairs = [(f"{j}_l_moment", f"{j}_r_moment") for j in
                 ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle", "subtalar_angle")]
    rewrite(csv_path(raw, "AB01", FW, "grf"), lambda d: swap(d, grf_pairs))
    rewrite(csv_path(raw, "AB01", FW, "moment_filt"), lambda d: swap(d, mom_pairs))
    # the angles follow (a consistent mirror: the left leg's whole record becomes the right leg's), else the
    # FW hip check sees the right hip at the left foot's stances and stops the run
    ang_pairs = [(f"{j}_l", f"{j}_r") for j in
                 ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle", "subtalar_angle")]
    rewrite(csv_path(raw, "AB01", FW, "angle"), lambda d: swap(d, ang_pairs))
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert t.meta.kinetic_sides == "R" and "kinetics on R only" in t.meta.notes


def test_exact_duplicate_rows_are_dropped(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, "angle"), lambda d: pd.concat([d.iloc[:10], d.iloc[9:]], ignore_index=True))
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert "1 exactly duplicated rows dropped" in t.meta.corrections and len(t.kinematics.frame) == 1001


def test_activity_flag_zeros_are_kept(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, "activity_flag"), lambda d: d.assign(right=np.r_[np.zeros(7), np.ones(len(d) - 7)].astype(int)))
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert "right activity flag is 0 in 7 of 1001 samples" in t.meta.notes
    assert t.kinematics.get("R_activity_flag")[:7].tolist() == [0.0] * 7


# ---------------------------------------------------------------------------
# runtime checks: automatic corrections
# ---------------------------------------------------------------------------

def test_flipped_knee_sign_is_corrected(tmp_path, repo_root, small):
    _, raw_ok = small("ok", trials=[FW, BW])
    _, raw_flip = small("flip", trials=[FW, BW], knee_sign=1)  # angle and moment both flexion-positive
    a = make(repo_root, subjects=["AB01"], trials=[FW, BW])
    flipped = a.read_subject("AB01", raw_flip)
    ok = a.read_subject("AB01", raw_ok)
    for t_ok, t_fl in zip(ok, flipped):
        # a correction is recorded apart from the notes (the ingest stage logs it as a warning)
        assert "knee sign corrected" in t_fl.meta.corrections and "knee sign corrected" not in t_fl.meta.notes
        assert t_ok.meta.corrections == ""
        np.testing.assert_allclose(t_fl.kinematics.get("L_knee_flexion"), t_ok.kinematics.get("L_knee_flexion"))


def test_moments_in_newton_metres_are_corrected(tmp_path, repo_root, small):
    _, raw_ok = small("ok", trials=[FW])
    _, raw_nm = small("nm", trials=[FW], moment_unit="N.m")
    a = make(repo_root, subjects=["AB01"], trials=[FW])
    (ok,), (nm,) = a.read_subject("AB01", raw_ok), a.read_subject("AB01", raw_nm)
    assert "moment units corrected" in nm.meta.corrections and "78.9 kg" in nm.meta.corrections
    np.testing.assert_allclose(nm.kinematics.get("L_knee_extensor_moment"),
                               ok.kinematics.get("L_knee_extensor_moment"), atol=1e-5)


def test_negative_vertical_force_is_corrected(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    cols = ["LForceX", "LForceY_Vertical", "LForceZ"]
    rewrite(csv_path(raw, "AB01", FW, "grf"), lambda d: d.assign(**{c: -d[c] for c in cols}))
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert "L GRF sign corrected" in t.meta.corrections and np.nanmax(t.forces.get("L_fz")) > 800


def test_emg_unit_option(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    ref = pd.read_csv(csv_path(raw, "AB01", FW, "emg"))["LVL"].to_numpy()
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW], emg_unit="mV").read_subject("AB01", raw)
    np.testing.assert_allclose(t.emg.get("L_vastus_lateralis"), ref * 1e-3)
    assert "EMG unit assumed mV" in t.meta.notes


# ---------------------------------------------------------------------------
# runtime checks: clear errors
# ---------------------------------------------------------------------------

def _expect_error(raw, repo_root, trial, fragments, **options):
    with pytest.raises(DataError) as exc:
        make(repo_root, subjects=["AB01"], trials=[trial], **options).read_subject("AB01", raw)
    msg = str(exc.value)
    assert f"dataset=gt23 subject=AB01 trial={trial}" in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


@pytest.mark.parametrize("suffix, mutate, fragments", [
    ("angle", lambda d: d.assign(knee_angle_l=np.radians(d["knee_angle_l"])),
     ["knee_angle_l does not look like a knee angle", "radians"]),
    ("moment_filt", lambda d: d.assign(ankle_angle_l_moment=d["ankle_angle_l_moment"] * 12),
     ["peak |ankle moment|", "neither N.m/kg"]),
    ("angle", lambda d: d.drop(columns="knee_angle_l"), ["required column(s) ['knee_angle_l'] not found"]),
    ("activity_flag", lambda d: d.drop(columns="right"), ["required column(s) ['right']"]),
    ("grf", lambda d: d.assign(LForceX=["x"] + d["LForceX"].iloc[1:].tolist()),
     ["non-numeric value 'x' in column LForceX"]),
    ("angle", lambda d: d.iloc[[0, 2, 1] + list(range(3, len(d)))], ["time is not monotonic"]),
    ("moment_filt", lambda d: pd.concat([d.iloc[:5], d.iloc[4:5].assign(knee_angle_l_moment=9.0), d.iloc[5:]]),
     ["duplicated time", "different values"]),
    ("emg", lambda d: d.drop(index=range(100, 130)), ["irregular time", "samples missing"]),
    ("emg", lambda d: d.assign(time=d["time"] + np.where(np.arange(len(d)) % 7 == 3, 0.00025, 0.0)),
     ["irregular time"]),
    ("emg", lambda d: d.rename(columns=lambda c: c.lower()), ["none of the 16 EMG channels"]),
    ("grf", lambda d: d.assign(LForceY_Vertical=d["LForceY_Vertical"] * 50), ["vertical GRF", "body weights"]),
])
def test_garbage_gives_clear_errors(tmp_path, repo_root, suffix, mutate, fragments, small):
    _, raw = small(trials=[FW])
    rewrite(csv_path(raw, "AB01", FW, suffix), mutate)
    msg = _expect_error(raw, repo_root, FW, fragments)
    assert f"file=AB01/{FW}/AB01_{FW}_{suffix}.csv" in msg


def test_unexpected_emg_rate_is_noted(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])

    def resample(d):  # the same time span at 1500 Hz
        t = d["time"].to_numpy()
        new_t = t[0] + np.arange(int(round((t[-1] - t[0]) * 1500)) + 1) / 1500
        return pd.DataFrame({"time": new_t, **{c: np.interp(new_t, t, d[c]) for c in d.columns if c != "time"}})

    rewrite(csv_path(raw, "AB01", FW, "emg"), resample)
    (t,) = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    assert t.emg.rate_hz == pytest.approx(1500) and "expected 1000 or 2000 Hz" in t.meta.notes


def test_coarse_emg_time_is_rebuilt(tmp_path, repo_root, small):
    """EMG time printed with 3 decimals at 2000 Hz: rebuilt from the row count, with a note."""
    _, raw_ok = small("ok", trials=[FW])
    _, raw = small("coarse", trials=[FW])
    path = csv_path(raw, "AB01", FW, "emg")
    lines = path.read_text().splitlines()
    lines[1:] = [f"{float(x.split(',', 1)[0]):.3f},{x.split(',', 1)[1]}" for x in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    a = make(repo_root, subjects=["AB01"], trials=[FW])
    (ok,), (t,) = a.read_subject("AB01", raw_ok), a.read_subject("AB01", raw)
    assert "time printed with 0.001-s resolution" in t.meta.corrections and t.emg.rate_hz == 2000.0
    np.testing.assert_allclose(t.emg.time, ok.emg.time)
    pd.testing.assert_frame_equal(t.emg.frame, ok.emg.frame)


def test_missing_file_and_folder(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    csv_path(raw, "AB01", FW, "emg").unlink()
    _expect_error(raw, repo_root, FW, ["file not found", f"AB01_{FW}_emg.csv"])
    _expect_error(raw, repo_root, "walk_backward_1_0-8", ["trial folder AB01/walk_backward_1_0-8/ not found"])


def test_file_named_for_another_trial_is_a_contradiction(tmp_path, repo_root, small):
    _, raw = small(trials=[FW])
    src = csv_path(raw, "AB01", FW, "grf")
    src.rename(src.with_name(f"AB01_{BW}_grf.csv"))
    _expect_error(raw, repo_root, FW, ["contradictory labels", f"AB01_{BW}_grf.csv", f"folder AB01/{FW}/"])


def test_direction_label_contradicted_by_the_knee(tmp_path, repo_root, small):
    _, raw = small(trials=[FW, BW])
    # put the FW recording into the BW folder under BW file names
    folder_fw, folder_bw = raw / "AB01" / FW, raw / "AB01" / BW
    shutil.rmtree(folder_bw)
    folder_bw.mkdir()
    for f in folder_fw.iterdir():
        shutil.copy(f, folder_bw / f.name.replace(FW, BW))
    _expect_error(raw, repo_root, BW, ["contradictory direction label", "labelled BW", "direction_check: warn"])
    (t,) = make(repo_root, subjects=["AB01"], trials=[BW], direction_check="warn").read_subject("AB01", raw)
    assert "direction check:" in t.meta.notes
    (t,) = make(repo_root, subjects=["AB01"], trials=[BW], direction_check="off").read_subject("AB01", raw)
    assert "direction check" not in t.meta.notes


def test_bad_subjects_table(tmp_path, repo_root, small):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "t.csv").write_text("subject,mass_kg\nAB01,70\nAB01,71\n")
    a = make(tmp_path, manifest_options={"subjects_table": "config/t.csv"}, subjects=["AB01"])
    with pytest.raises(ConfigError, match="duplicate subject"):
        a.subjects_table
    (tmp_path / "config" / "t.csv").write_text("subject,mass_kg\nAB02,70\n")
    _, raw = small("r", trials=[FW])
    a = make(tmp_path, manifest_options={"subjects_table": "config/t.csv"}, subjects=["AB01"], trials=[FW])
    with pytest.raises(DataError, match="no usable body mass"):
        a.read_subject("AB01", raw)
