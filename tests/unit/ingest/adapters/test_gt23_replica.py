"""The GT23 replica generator writes the layout of gt23-format.md section 10 and
plants the effects it advertises."""

from __future__ import annotations

import csv
import io
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, filtfilt, welch

from tests import replica_gt23 as rg

SUBJ = ["AB01", "AB03"]


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    path = tmp_path_factory.mktemp("replica") / "ProcessedData.zip"
    return rg.build_replica(path, subjects=SUBJ, trials=rg.TRIALS, duration_s=5.0, seed=0)


def _text(info, name: str) -> str:
    with zipfile.ZipFile(info.path) as zf:
        return zf.read(name).decode("utf-8-sig")


def _frame(info, name: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(_text(info, name)))


# ---------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------

def test_layout_without_prefix(replica):
    suffixes = rg.FILE_TYPES + rg.EXTRA_SUFFIXES
    expected = {f"{s}/{t}/{s}_{t}_{x}.csv" for s in SUBJ for t in rg.TRIALS for x in suffixes}
    assert set(replica.members) == expected
    with zipfile.ZipFile(replica.path) as zf:
        names = zf.namelist()
        infos = {i.filename: i for i in zf.infolist()}
    assert names == sorted(names)
    assert all(n.split("/")[0] in SUBJ for n in names)
    assert {"AB01/", "AB01/normal_walk_1_0-6/"} <= set(names)
    for name, m in replica.members.items():
        assert infos[name].compress_type == zipfile.ZIP_DEFLATED
        assert (m.compress_size, m.crc, m.file_size) == (infos[name].compress_size, infos[name].CRC,
                                                        infos[name].file_size)
    assert replica.needed_members() == sorted(
        f"{s}/{t}/{s}_{t}_{x}.csv" for s in SUBJ for t in rg.TRIALS for x in rg.FILE_TYPES)


def test_layout_with_prefix_and_masses(tmp_path):
    info = rg.build_replica(tmp_path / "r.zip", subjects=["AB02"], trials=["walk_backward_1_0-8"],
                            duration_s=2.0, prefix="ProcessedData", extra_files=False, masses_csv=True,
                            dir_entries=False)
    assert set(info.members) == {f"ProcessedData/AB02/walk_backward_1_0-8/AB02_walk_backward_1_0-8_{x}.csv"
                                 for x in rg.FILE_TYPES} | {"ProcessedData/Subject_masses.csv"}
    with zipfile.ZipFile(info.path) as zf:
        assert all(not n.endswith("/") for n in zf.namelist())
    rows = list(csv.reader(io.StringIO(_text(info, "ProcessedData/Subject_masses.csv"))))
    assert rows[0] == ["subject", "mass_kg"]
    assert {r[0]: float(r[1]) for r in rows[1:]} == rg.S1_MASSES


def test_column_order(replica):
    base = "AB01/normal_walk_1_0-6/AB01_normal_walk_1_0-6"
    assert tuple(_frame(replica, f"{base}_angle.csv").columns) == rg.ANGLE_COLUMNS
    assert tuple(_frame(replica, f"{base}_grf.csv").columns) == rg.GRF_COLUMNS
    mom = list(_frame(replica, f"{base}_moment_filt.csv").columns)
    assert mom[0] == "time" and all(c.endswith("_r_moment") for c in mom[1:7]) and all(
        c.endswith("_l_moment") for c in mom[7:])
    assert tuple(_frame(replica, f"{base}_emg.csv").columns) == ("time",) + rg.EMG_CHANNELS
    assert list(_frame(replica, f"{base}_activity_flag.csv").columns) == ["time", "left", "right"]
    assert tuple(_frame(replica, f"{base}_velocity.csv").columns) == rg.VELOCITY_COLUMNS


# ---------------------------------------------------------------------------
# rows, time bases, NaN pattern
# ---------------------------------------------------------------------------

def test_row_counts_and_time_bases(replica):
    t0s = []
    for s in SUBJ:
        for t in rg.TRIALS:
            base = f"{s}/{t}/{s}_{t}"
            t0 = replica.t0[(s, t)]
            assert t0 > 0 and abs(t0 / 0.005 - round(t0 / 0.005)) < 1e-9
            t0s.append(t0)
            ang = _text(replica, f"{base}_angle.csv").splitlines()
            assert len(ang) - 1 == 1001 == replica.n_rows
            first = ang[1].split(",")[0]
            assert first == f"{t0:.3f}" and len(first.split(".")[1]) == 3
            time = _frame(replica, f"{base}_grf.csv")["time"].to_numpy()
            assert np.allclose(np.diff(time), 0.005, atol=1e-9)
            emg = _text(replica, f"{base}_emg.csv").splitlines()
            assert len(emg) - 1 == 10001 == replica.emg_rows
            assert emg[1].split(",")[0] == f"{t0:.4f}" and emg[2].split(",")[0] == f"{t0 + 0.0005:.4f}"
            assert emg[-1].split(",")[0] == ang[-1].split(",")[0] + "0"
    for s in SUBJ:  # t0 differs per trial of a subject
        assert len({replica.t0[(s, t)] for t in rg.TRIALS}) == len(rg.TRIALS)


def test_4000_rows_and_1000_hz(tmp_path):
    info = rg.build_replica(tmp_path / "r.zip", subjects=["AB01"], trials=["normal_walk_1_0-6"],
                            n_rows=1000, emg_rate_hz=1000.0, extra_files=False)
    base = "AB01/normal_walk_1_0-6/AB01_normal_walk_1_0-6"
    assert len(_frame(info, f"{base}_angle.csv")) == 1000
    emg = _frame(info, f"{base}_emg.csv")
    assert len(emg) == 999 * 5 + 1 == info.emg_rows
    assert np.allclose(np.diff(emg["time"]), 0.001)


def test_nan_pattern(replica):
    base = "AB03/walk_backward_1_0-6/AB03_walk_backward_1_0-6"
    grf = _frame(replica, f"{base}_grf.csv")
    right = [c for c in grf.columns if c.startswith("R")]
    left = [c for c in grf.columns if c.startswith("L")]
    assert grf[right].isna().all().all() and grf[left].notna().all().all()
    assert _text(replica, f"{base}_grf.csv").splitlines()[1].split(",")[1:7] == [""] * 6  # NaN = empty field
    mom = _frame(replica, f"{base}_moment_filt.csv")
    assert mom.filter(like="_r_moment").isna().all().all()
    assert mom.filter(like="_l_moment").notna().all().all()
    assert _frame(replica, f"{base}_angle.csv").notna().all().all()
    assert _frame(replica, f"{base}_emg.csv").notna().all().all()
    flags = _frame(replica, f"{base}_activity_flag.csv")
    assert (flags[["left", "right"]] == 1).all().all()
    assert _text(replica, f"{base}_activity_flag.csv").splitlines()[1].endswith(",1,1")


def test_nan_text_bom_and_shuffle(tmp_path):
    kw = dict(subjects=["AB01"], trials=["walk_backward_1_0-6"], duration_s=2.0, extra_files=False)
    plain = rg.build_replica(tmp_path / "a.zip", **kw)
    odd = rg.build_replica(tmp_path / "b.zip", nan_text="NaN", bom=True, shuffle_columns=True, **kw)
    base = "AB01/walk_backward_1_0-6/AB01_walk_backward_1_0-6"
    with zipfile.ZipFile(odd.path) as zf:
        raw = zf.read(f"{base}_grf.csv")
    assert raw.startswith(b"\xef\xbb\xbf") and b",NaN," in raw
    a, b = _frame(plain, f"{base}_grf.csv"), _frame(odd, f"{base}_grf.csv")
    assert list(b.columns) != list(a.columns) and b.columns[0] == "time"
    pd.testing.assert_frame_equal(a, b[a.columns])


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------

def test_same_seed_same_bytes(tmp_path):
    kw = dict(subjects=["AB05", "AB01"], trials=["normal_walk_1_1-2", "walk_backward_1_1-0"], duration_s=2.0)
    a = rg.build_replica(tmp_path / "a.zip", seed=7, **kw)
    b = rg.build_replica(tmp_path / "b.zip", seed=7, **kw)
    c = rg.build_replica(tmp_path / "c.zip", seed=8, **kw)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()
    # a subject's files do not depend on which other subjects are built
    d = rg.build_replica(tmp_path / "d.zip", seed=7, subjects=["AB01"], trials=kw["trials"], duration_s=2.0)
    for name, m in d.members.items():
        assert a.members[name] == m


# ---------------------------------------------------------------------------
# physiology and planted effects
# ---------------------------------------------------------------------------

def test_planted_effects_table():
    eff = rg.PLANTED_EFFECTS["BW_vs_FW_0.6"]["effects"]
    assert eff["knee_flexion_at_contact"]["value"] == pytest.approx(20.0)
    assert eff["knee_extensor_moment_peak"]["value"] == pytest.approx(-0.15)
    assert eff["stance_pct"]["value"] == pytest.approx(2.0)
    assert eff["stride_time"]["value"] == pytest.approx(-0.25)
    assert eff["emg_mean_vastus_lateralis"]["value"] == pytest.approx(1.4)
    assert eff["emg_mean_rectus_femoris"]["value"] == pytest.approx(1.4)
    assert all(v["value"] == 1.0 for v in rg.PLANTED_EFFECTS["BW_vs_FW_0.6"]["null"].values())
    assert rg.PLANTED_EFFECTS["BW_speed"]["effects"]["stride_time"]["value"] == pytest.approx(-0.5)
    cm = rg.CONDITION_MEANS
    cadence_ratio = cm["FW_0.6"]["stride_time"] / cm["BW_0.6"]["stride_time"]
    assert 1.19 <= cadence_ratio <= 1.25
    assert all(61 <= cm[c]["stance_pct"] <= 63 for c in ("BW_0.6", "BW_0.8", "BW_1.0"))
    assert 1.05 <= cm["FW_1.2"]["stride_time"] <= 1.12
    for name in ("knee_flexion_at_contact", "knee_extensor_moment_peak", "stance_pct", "stride_time",
                 "emg_mean_<muscle>"):
        assert name in rg.MEASURE_DEFINITIONS


def test_design_means_are_exact_over_the_12_subjects():
    terms = rg._subject_terms(seed=123)
    for cond, cm in rg.CONDITION_MEANS.items():
        designs = [rg._design(cond, terms[s]) for s in rg.SUBJECTS]
        for key in ("stride_time", "stance_pct", "knee_flexion_at_contact", "knee_extensor_moment_peak"):
            assert np.mean([d[key] for d in designs]) == pytest.approx(cm[key], abs=1e-9)
            assert np.std([d[key] for d in designs]) > 0
        for m in ("vastus_lateralis", "tibialis_anterior"):
            gm = math.exp(np.mean([math.log(d["emg_amplitude"][m]) for d in designs]))
            assert gm == pytest.approx(cm["emg_amplitude"][m], rel=1e-9)


def test_masses_match_the_subjects_table(repo_root):
    table = pd.read_csv(repo_root / "config" / "gt23_subjects.csv")
    assert dict(zip(table["subject"], table["mass_kg"])) == rg.S1_MASSES
    assert tuple(table["subject"]) == rg.SUBJECTS
    assert table["height_m"].isna().all()


def _measures(info, s, t):
    base = f"{s}/{t}/{s}_{t}"
    ang, mom, grf, emg = (_frame(info, f"{base}_{x}.csv") for x in ("angle", "moment_filt", "grf", "emg"))
    time = ang["time"].to_numpy()
    fz = grf["LForceY_Vertical"].to_numpy()
    on = fz > 20.0
    fs = np.flatnonzero(np.diff(on.astype(int)) == 1) + 1
    fo = np.flatnonzero(np.diff(on.astype(int)) == -1) + 1
    flex = -ang["knee_angle_l"].to_numpy()
    km = mom["knee_angle_l_moment"].to_numpy()
    te = emg["time"].to_numpy()
    rate = 1.0 / np.median(np.diff(te))
    b, a = butter(4, [20 / (rate / 2), 450 / (rate / 2)], "band")
    b2, a2 = butter(2, 6 / (rate / 2))
    env = {ch: filtfilt(b2, a2, np.abs(filtfilt(b, a, emg[ch].to_numpy()))) for ch in ("LVL", "RRF", "LTA")}
    rows = []
    for i in range(len(fs) - 1):
        off = fo[(fo > fs[i]) & (fo < fs[i + 1])]
        if len(off) != 1:
            continue
        e0, e1 = np.searchsorted(te, [time[fs[i]], time[fs[i + 1]]])
        rows.append(dict(stride_time=time[fs[i + 1]] - time[fs[i]],
                         stance_pct=100 * (time[off[0]] - time[fs[i]]) / (time[fs[i + 1]] - time[fs[i]]),
                         knee_flexion_at_contact=flex[fs[i]], knee_extensor_moment_peak=km[fs[i]:off[0]].max(),
                         **{ch: env[ch][e0:e1].mean() for ch in env}))
    return pd.DataFrame(rows).mean(), fs, time


def test_signals_realise_the_design(replica):
    got = {}
    for s in SUBJ:
        for t in rg.TRIALS:
            m, fs, time = _measures(replica, s, t)
            d = replica.design[(s, t)]
            got[(s, t)] = m
            assert m["stride_time"] == pytest.approx(d["stride_time"], rel=0.03)
            assert m["stance_pct"] == pytest.approx(d["stance_pct"], abs=1.0)
            assert m["knee_flexion_at_contact"] == pytest.approx(d["knee_flexion_at_contact"], abs=1.5)
            assert m["knee_extensor_moment_peak"] == pytest.approx(d["knee_extensor_moment_peak"], abs=0.04)
            # force-threshold foot strikes match the true events within one sample
            true_fs = replica.events[(s, t)]["foot_strike"]
            for k in fs:
                assert np.min(np.abs(true_fs - time[k])) <= 0.0075
    for s in SUBJ:
        fw, bw = got[(s, "normal_walk_1_0-6")], got[(s, "walk_backward_1_0-6")]
        dfw, dbw = replica.design[(s, "normal_walk_1_0-6")], replica.design[(s, "walk_backward_1_0-6")]
        for ch, muscle in (("LVL", "vastus_lateralis"), ("RRF", "rectus_femoris"), ("LTA", "tibialis_anterior")):
            ratio = dbw["emg_amplitude"][muscle] / dfw["emg_amplitude"][muscle]
            # 5-s windows hold only 2-4 strides: carrier and cycle noise allow about +-30 %
            assert bw[ch] / fw[ch] == pytest.approx(ratio, rel=0.3)
        assert bw["knee_flexion_at_contact"] - fw["knee_flexion_at_contact"] > 12


def test_physiological_ranges(replica):
    for s in SUBJ:
        weight = rg.S1_MASSES[s] * 9.81
        for t in rg.TRIALS:
            base = f"{s}/{t}/{s}_{t}"
            grf = _frame(replica, f"{base}_grf.csv")
            fz = grf["LForceY_Vertical"].to_numpy()
            assert 1.05 <= fz.max() / weight <= 1.3
            low = fz < 20
            swing = fz[low & np.roll(low, 2) & np.roll(low, -2)]  # away from the stance edges
            assert np.abs(swing).max() < 10 and 0.5 < swing.std() < 4
            ang = _frame(replica, f"{base}_angle.csv")
            knee = ang["knee_angle_l"].to_numpy()
            mom = _frame(replica, f"{base}_moment_filt.csv")
            assert -1.7 <= mom["ankle_angle_l_moment"].min() <= -1.0
            assert mom["knee_angle_l_moment"].max() > 0.25
            if t.startswith("normal_walk"):
                assert 0 <= knee.max() <= 10 and -68 <= knee.min() <= -52
            else:
                assert -55 <= knee.min() <= -40
            emg = _frame(replica, f"{base}_emg.csv")
            peak = emg[list(rg.EMG_CHANNELS)].abs().max()
            assert (peak > 1e-4).all() and (peak < 5e-3).all()
            assert abs(emg["LVL"].mean()) < 2e-5
    # surface-EMG-like spectrum (white noise would have a median frequency of ~235 Hz in 20-450 Hz)
    f, p = welch(emg["LVL"].to_numpy(), fs=2000.0, nperseg=1024)
    band = (f >= 20) & (f <= 450)
    cum = np.cumsum(p[band])
    assert 50 <= f[band][np.searchsorted(cum, cum[-1] / 2)] <= 150
