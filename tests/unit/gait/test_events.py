"""Gait events on synthetic signals with known answers (retrogait.gait.events).

The synthetic walker plants each foot's *contact marker* (heel when walking
the way the feet point, toe when walking backward) at a known foot strike
and lifts the *last marker* (toe FW, heel BW) at a known foot-off. The
subject can face one way and travel the other, walk overground (pelvis
moves, planted feet still) or on a treadmill (pelvis still, planted feet
carried by the belt). Every assertion compares detections with these
planted times.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retrogait.errors import ConfigError, DataError
from retrogait.gait.events import (
    CYCLE_COLUMNS,
    EVENT_COLUMNS,
    EventParams,
    build_cycles,
    detect_events,
    find_cycles,
    force_contacts,
    travel_direction,
)
from retrogait.ingest.trial import Stream, Trial, TrialMeta

RATE = 100.0        # marker rate (Hz)
FRATE = 1000.0      # force rate (Hz)
FRAME = 1.0 / RATE


# ---------------------------------------------------------------------------
# synthetic signals
# ---------------------------------------------------------------------------

def grf_profile(u: np.ndarray, kind: str, weight_n: float = 700.0) -> np.ndarray:
    """Vertical GRF over one stance, ``u`` in [0, 1] (0 outside).

    ``fw``: heel-strike double hump (peaks ~1.15 BW at 25 % and 75 %,
    valley ~0.75 BW). ``bw``: backward walking, toe loading with a slower
    rise, a smaller first and larger second peak.
    """
    u = np.asarray(u, dtype=float)
    inside = (u > 0) & (u < 1)
    f = np.zeros_like(u)
    x = u[inside]
    if kind == "fw":
        shape = (np.sin(np.pi * x) ** 0.6) * (0.78 + 0.42 * np.exp(-((x - 0.24) / 0.11) ** 2)
                                              + 0.42 * np.exp(-((x - 0.76) / 0.11) ** 2))
    elif kind == "bw":
        shape = (np.sin(np.pi * x) ** 1.2) * (0.80 + 0.20 * np.exp(-((x - 0.30) / 0.12) ** 2)
                                              + 0.45 * np.exp(-((x - 0.68) / 0.12) ** 2))
    else:
        raise ValueError(kind)
    f[inside] = weight_n * shape
    return f


def plate_signal(contacts: list[tuple[float, float]], kind: str, duration: float, *, noise: float = 0.0,
                 offset: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fz (N) at FRATE of a plate seeing the given (on, off) contacts."""
    t = np.arange(int(round(duration * FRATE))) / FRATE
    fz = np.zeros_like(t)
    for on, off in contacts:
        fz += grf_profile((t - on) / (off - on), kind)
    rng = np.random.default_rng(seed)
    return t, fz + offset + noise * rng.standard_normal(t.size)


def threshold_crossings(contacts, kind, thr=20.0):
    """Noise-free times at which each contact's force crosses ``thr`` up and down."""
    out = []
    for on, off in contacts:
        t = np.arange(on, off, 1e-5)
        f = grf_profile((t - on) / (off - on), kind)
        above = np.flatnonzero(f > thr)
        out.append((t[above[0]], t[above[-1]]))
    return out


def meta(**kw) -> TrialMeta:
    base = dict(dataset="synth", subject="S01", trial="T01", condition="test", direction="FW",
                speed_mps=1.0, surface="overground", mass_kg=70.0, height_m=1.75, mass_source="test",
                source_files="none", source_sha256="none", adapter="test")
    base.update(kw)
    return TrialMeta(**base)


def _cos_interp(a: float, b: float, u: np.ndarray) -> np.ndarray:
    return a + (b - a) * (1 - np.cos(np.pi * np.clip(u, 0, 1))) / 2


def walk(*, travel: str = "BW", surface: str = "overground", facing=(1.0, 0.0), speed: float = 1.0,
         stride: float = 1.1, stance: float = 0.62, n_strides: int = 6, noise_m: float = 0.0005,
         plates: str = "none", force_kind: str | None = None, seed: int = 1, meta_direction: str | None = None):
    """A synthetic trial and its planted events.

    ``travel``: FW (travel the way the feet point) or BW. ``plates``:
    ``none``; ``one_each`` (fp1 under one left stance, fp2 under one right
    stance, feet told by COP); ``belts`` (treadmill belts fp1 = L, fp2 = R
    declared in ``plates.foot``).
    """
    rng = np.random.default_rng(seed)
    f = np.asarray(facing, dtype=float)
    f /= np.linalg.norm(f)
    d = f if travel == "FW" else -f                 # unit travel direction (relative to the surface)
    left = np.array([-f[1], f[0]])                  # z x f
    T, beta = stride, stance
    L = speed * T                                    # stride length
    foot_len, z0, lift = 0.20, 0.03, 0.08
    phi_fs, phi_fo = math.radians(20), math.radians(25)
    duration = (n_strides + 1.5) * T
    t = np.arange(int(round(duration * RATE))) / RATE
    t0 = {"L": 0.35, "R": 0.35 + T / 2}
    truth = {}
    cols = {"time_s": t}
    for side in ("L", "R"):
        fs = t0[side] + T * np.arange(-1, n_strides + 2)
        fo = fs + beta * T
        # contact marker lands 0.3 stride ahead of the pelvis (travel coordinates)
        P = speed * fs + 0.3 * L
        s_c = np.full(t.size, np.nan)
        z_c = np.full(t.size, np.nan)
        phi = np.full(t.size, np.nan)
        for k in range(len(fs) - 1):
            # stance k: contact marker planted, foot flat, last marker planted
            u = (t - fs[k]) / (fo[k] - fs[k])
            m = (u >= 0) & (u < 1)
            ua, uc = u[m] / 0.2, (u[m] - 0.75) / 0.25
            ph = np.where(u[m] < 0.2, _cos_interp(phi_fs, 0.0, ua),
                          np.where(u[m] < 0.75, 0.0, _cos_interp(0.0, -phi_fo, uc)))
            last_s = P[k] + foot_len  # planted last marker in terminal stance
            s_c[m] = np.where(u[m] < 0.75, P[k], last_s - foot_len * np.cos(ph))
            z_c[m] = np.where(u[m] < 0.75, z0, z0 + foot_len * np.sin(-ph))
            phi[m] = ph
            # swing k -> k+1: velocity a + b sin(pi u) along d, a = 2 v (symmetric corners)
            Tsw = fs[k + 1] - fo[k]
            start = last_s - foot_len * math.cos(-phi_fo)
            D = P[k + 1] - start
            a = 2.0 * speed
            b = (D - a * Tsw) * math.pi / (2 * Tsw)
            assert b > 0
            u = (t - fo[k]) / Tsw
            m = (u >= 0) & (u < 1)
            s_c[m] = start + a * Tsw * u[m] + b * Tsw / math.pi * (1 - np.cos(np.pi * u[m]))
            phi[m] = _cos_interp(-phi_fo, phi_fs, u[m])
            z_c[m] = z0 + foot_len * np.sin(phi_fo) * (1 - u[m]) + lift * np.sin(np.pi * u[m])
        # last marker is ahead of the contact marker along the travel direction
        s_l = s_c + foot_len * np.cos(phi)
        z_l = z_c + foot_len * np.sin(phi)
        belt = speed * t if surface == "treadmill" else 0.0
        lat = 0.09 if side == "L" else -0.09
        contact_name, last_name = ("heel", "toe") if travel == "FW" else ("toe", "heel")
        for name, s_, z_ in ((contact_name, s_c, z_c), (last_name, s_l, z_l)):
            xy = (s_ - belt)[:, None] * d + lat * left
            cols[f"{side}_{name}_x"] = xy[:, 0] + noise_m * rng.standard_normal(t.size)
            cols[f"{side}_{name}_y"] = xy[:, 1] + noise_m * rng.standard_normal(t.size)
            cols[f"{side}_{name}_z"] = z_ + noise_m * rng.standard_normal(t.size)
        inside = (fs > t[2]) & (fs < t[-3])
        truth[side] = {"fs": fs[inside], "fo": fo[(fo > t[2]) & (fo < t[-3])],
                       "stance": list(zip(fs, fo)), "P": P}
    s_p = speed * t if surface == "overground" else np.zeros_like(t)
    s_p = s_p + 0.01 * np.sin(2 * np.pi * t / (T / 2))          # small step-frequency bob
    pxy = s_p[:, None] * d - 0.0 * left
    cols["pelvis_x"] = pxy[:, 0] + noise_m * rng.standard_normal(t.size)
    cols["pelvis_y"] = pxy[:, 1] + noise_m * rng.standard_normal(t.size)
    cols["pelvis_z"] = 0.95 + 0.02 * np.sin(2 * np.pi * t / (T / 2))
    kin = Stream(RATE, pd.DataFrame(cols), {c: "m" for c in cols if c != "time_s"})

    forces, plate_table = None, pd.DataFrame({"plate": pd.Series(dtype=str), "foot": pd.Series(dtype=str)})
    kind = force_kind or ("fw" if travel == "FW" else "bw")
    tf = np.arange(int(round(duration * FRATE))) / FRATE
    fcols = {"time_s": tf}
    if plates == "one_each":
        chosen = {"L": 2, "R": 2}
        for pid, side in (("fp1", "L"), ("fp2", "R")):
            on, off = truth[side]["stance"][chosen[side] + 1]  # index 0 is stride -1
            fz = grf_profile((tf - on) / (off - on), kind) + 1.0 * rng.standard_normal(tf.size)
            fz[fz < 0] = 0.0
            # COP from the contact marker to the last marker over stance
            u = np.clip((tf - on) / (off - on), 0, 1)
            s_cop = truth[side]["P"][chosen[side] + 1] + foot_len * (0.1 + 0.8 * u)
            lat = 0.09 if side == "L" else -0.09
            xy = s_cop[:, None] * d + lat * left
            loaded = fz > 5
            fcols[f"{pid}_fz"] = fz
            fcols[f"{pid}_cop_x"] = np.where(loaded, xy[:, 0], np.nan)
            fcols[f"{pid}_cop_y"] = np.where(loaded, xy[:, 1], np.nan)
            truth[side]["plate"] = (pid, on, off)
        plate_table = pd.DataFrame({"plate": ["fp1", "fp2"], "foot": ["", ""]})
    elif plates == "belts":
        for pid, side in (("fp1", "L"), ("fp2", "R")):
            fz = np.zeros_like(tf)
            for on, off in truth[side]["stance"]:
                fz += grf_profile((tf - on) / (off - on), kind)
            fcols[f"{pid}_fz"] = fz + 3.0 * rng.standard_normal(tf.size)
        plate_table = pd.DataFrame({"plate": ["fp1", "fp2"], "foot": ["L", "R"]})
    if len(fcols) > 1:
        forces = Stream(FRATE, pd.DataFrame(fcols), {c: ("N" if c.endswith("_fz") else "m")
                                                     for c in fcols if c != "time_s"})
    m = meta(direction=meta_direction or travel, surface=surface, speed_mps=speed)
    return Trial(meta=m, kinematics=kin, forces=forces, plates=plate_table), truth


def _match(detected: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """For each planted time, the difference to the nearest detected time."""
    detected = np.asarray(detected)
    return np.array([detected[np.argmin(np.abs(detected - p))] - p for p in planted])


def _events(df: pd.DataFrame, side: str, event: str, method: str | None = None) -> np.ndarray:
    sel = (df["side"] == side) & (df["event"] == event)
    if method:
        sel &= df["method"] == method
    return df.loc[sel, "time_s"].to_numpy()


# ---------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------

def test_params_from_config_ignores_none_and_converts_range():
    p = EventParams.from_config({"force_threshold_n": 30, "force_off_threshold_n": None,
                                 "stance_pct_range": [55, 72], "use_stored": False})
    assert p.force_threshold_n == 30 and p.off_threshold_n == 30
    assert p.stance_pct_range == (55.0, 72.0) and p.use_stored is False
    assert EventParams.from_config(None) == EventParams()


def test_params_from_config_rejects_unknown_keys_with_hint():
    with pytest.raises(ConfigError, match=r"force_treshold_n.*did you mean 'force_threshold_n'"):
        EventParams.from_config({"force_treshold_n": 20})


def test_params_reject_bad_values():
    with pytest.raises(ConfigError, match="must not exceed"):
        EventParams(force_threshold_n=20, force_off_threshold_n=30)
    with pytest.raises(ConfigError, match="stance_pct_range"):
        EventParams(stance_pct_range=(80, 60))
    with pytest.raises(ConfigError, match="max_stride_s"):
        EventParams(min_stride_s=2.0, max_stride_s=1.0)


def test_params_accept_the_run_configuration(repo_root):
    import yaml
    cfg = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    p = EventParams.from_config(cfg["events"])
    assert p.force_threshold_n == 20.0 and p.stance_pct_range == (50.0, 75.0)


# ---------------------------------------------------------------------------
# force thresholds
# ---------------------------------------------------------------------------

CONTACTS = [(0.30, 0.95), (1.40, 2.05), (2.50, 3.15)]


@pytest.mark.parametrize("kind", ["fw", "bw"])
def test_force_contacts_match_known_contacts_with_noise(kind):
    t, fz = plate_signal(CONTACTS, kind, 3.6, noise=4.0)
    c = force_contacts(fz, FRATE, time=t)
    assert list(c.columns[:7]) == ["on_s", "off_s", "on_idx", "off_idx", "on_clean", "off_clean", "peak_n"]
    assert len(c) == 3
    exp = threshold_crossings(CONTACTS, kind)
    for (on, off), row in zip(exp, c.itertuples()):
        assert abs(row.on_s - on) <= 0.004 and abs(row.off_s - off) <= 0.004
        assert row.on_clean and row.off_clean
        assert 650 < row.peak_n < 900
    # the threshold edge lags the true contact by a few ms only (the BW toe-first rise is slower;
    # the zero-lag filter may move a steep edge 1-2 ms earlier)
    true_on = np.array([on for on, _ in CONTACTS])
    lag = c["on_s"].to_numpy() - true_on
    assert np.all(lag >= -0.002) and np.all(lag < (0.006 if kind == "fw" else 0.03))


def test_force_contacts_unloaded_plate_with_offset_yields_nothing():
    t, fz = plate_signal([], "fw", 3.0, noise=0.5, offset=-31.0)
    assert force_contacts(fz, FRATE, time=t).empty
    # a positive offset near the threshold is removed instead of read as one long contact
    t, fz = plate_signal(CONTACTS, "fw", 3.6, noise=2.0, offset=19.0)
    c = force_contacts(fz, FRATE, time=t)
    assert len(c) == 3 and abs(c.attrs["offset_n"] - 19.0) < 1.0
    assert c["on_clean"].all() and c["off_clean"].all()
    exp_on = np.array([on for on, _ in threshold_crossings(CONTACTS, "fw")])
    assert np.all(np.abs(c["on_s"].to_numpy() - exp_on) <= 0.004)
    # ... which the plain threshold gets wrong: it fires at ~1 N of real load
    raw = force_contacts(fz, FRATE, time=t, params=EventParams(force_max_offset_n=None))
    assert len(raw) == 3 and np.all(exp_on - raw["on_s"].to_numpy() >= 0.004)


def test_force_contacts_all_nan_side_is_not_swing():
    fz = np.full(3000, np.nan)
    assert force_contacts(fz, FRATE).empty
    # NaN inside a record: contacts next to the gap have that edge unclean
    t, fz = plate_signal(CONTACTS, "fw", 3.6)
    fz[(t > 1.0) & (t < 1.6)] = np.nan          # gap from swing into the second stance
    c = force_contacts(fz, FRATE, time=t)
    assert len(c) == 3
    assert c["off_clean"].iloc[0] and not c["on_clean"].iloc[1] and c["off_clean"].iloc[1]
    assert c["on_reason"].iloc[1] == "force data gap"
    assert c["on_s"].iloc[1] >= 1.6 - 1e-9     # the foot strike is not invented inside the gap


def test_force_contacts_record_boundaries_are_not_clean():
    t, fz = plate_signal([(-0.3, 0.4), (1.0, 1.65), (2.2, 2.9)], "fw", 2.5)
    c = force_contacts(fz, FRATE, time=t)
    assert len(c) == 3
    assert not c["on_clean"].iloc[0] and c["on_reason"].iloc[0] == "record start"
    assert c["off_clean"].iloc[0]
    assert not c["off_clean"].iloc[2] and c["off_reason"].iloc[2] == "record end"


def test_force_contacts_hysteresis():
    # mid-stance valley dipping to ~15 N for 60 ms: one contact with a 10 N off-threshold
    t, fz = plate_signal([(0.3, 0.95)], "fw", 1.5)
    dip = (t > 0.60) & (t < 0.66)
    fz[dip] = 15.0
    no_bridge = dict(min_state_s=0.0, min_swing_s=0.0, force_lowpass_hz=None)
    plain = force_contacts(fz, FRATE, time=t, params=EventParams(**no_bridge, min_stance_s=0.0))
    hyst = force_contacts(fz, FRATE, time=t, params=EventParams(**no_bridge, min_stance_s=0.0,
                                                                force_off_threshold_n=10.0))
    assert len(plain) == 2 and len(hyst) == 1
    # noise chattering around the threshold at the edges: hysteresis gives one clean contact
    t, fz = plate_signal([(0.3, 0.95)], "fw", 1.5, noise=8.0, seed=3)
    h = force_contacts(fz, FRATE, time=t, params=EventParams(force_lowpass_hz=None, min_state_s=0.0,
                                                             min_swing_s=0.0, min_stance_s=0.0,
                                                             force_off_threshold_n=5.0,
                                                             force_threshold_n=35.0))
    assert len(h) == 1


def test_force_contacts_min_durations_reject_spikes():
    t, fz = plate_signal(CONTACTS, "fw", 3.6, noise=1.0)
    fz[(t >= 1.100) & (t < 1.110)] += 150.0       # 10 ms spike in swing
    fz[(t >= 2.250) & (t < 2.350)] += 80.0        # 100 ms bump: shorter than a stance
    fz[(t >= 0.600) & (t < 0.612)] = 0.0          # 12 ms dropout inside a stance
    c = force_contacts(fz, FRATE, time=t, params=EventParams(force_lowpass_hz=None))
    assert len(c) == 3
    assert c.attrs["n_spikes"] == 1              # the 100 ms bump
    # without the minimum durations every one of them becomes a contact edge
    loose = force_contacts(fz, FRATE, time=t, params=EventParams(force_lowpass_hz=None, min_state_s=0.0,
                                                                 min_swing_s=0.0, min_stance_s=0.0))
    assert len(loose) > 3


# ---------------------------------------------------------------------------
# travel direction and kinematic events
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("surface", ["overground", "treadmill"])
@pytest.mark.parametrize("travel", ["FW", "BW"])
@pytest.mark.parametrize("facing", [(1.0, 0.0), (0.0, -1.0)])
def test_kinematic_events_match_planted_events(travel, surface, facing):
    trial, truth = walk(travel=travel, surface=surface, facing=facing)
    info = travel_direction(trial)
    assert info.direction == travel
    assert info.agreement > 0.95
    assert info.speed_mps == pytest.approx(1.0, abs=0.2)
    # the travel vector is relative to the surface: along +/- facing
    d = np.nanmedian(info.vector, axis=0)
    sign = 1 if travel == "FW" else -1
    assert np.allclose(d, sign * np.asarray(facing), atol=0.05)
    ev = detect_events(trial)
    assert list(ev.columns[:6]) == ["side", "event", "time_s", "method", "detail", "clean"]
    for side in ("L", "R"):
        for event, key in (("foot_strike", "fs"), ("foot_off", "fo")):
            got = _events(ev, side, event, "kinematic")
            planted = truth[side][key][(truth[side][key] > 0.3) & (truth[side][key] < trial.kinematics.time[-1] - 0.3)]
            assert len(got) == pytest.approx(len(planted), abs=1)
            err = _match(got, planted)
            assert np.all(np.abs(err) <= 2 * FRAME), (side, event, err)
    details = set(ev.loc[ev["event"] == "foot_strike", "detail"])
    assert details == ({"toe-first"} if travel == "BW" else {"heel-first"})


def test_backward_walking_facing_forward_is_toe_first():
    """Walking backward while facing forward: contacts are the planted toe-first contacts."""
    trial, truth = walk(travel="BW", facing=(1.0, 0.0), meta_direction="FW")
    res = find_cycles(trial)
    assert res.travel.direction == "BW"
    assert any("DISAGREES with metadata direction FW" in n for n in res.notes)
    fs = res.events[res.events["event"] == "foot_strike"]
    for side in ("L", "R"):
        err = _match(_events(fs, side, "foot_strike"), truth[side]["fs"][1:-1])
        assert np.all(np.abs(err) <= 2 * FRAME)
    # at every detected contact the toe is lower than the heel
    k = trial.kinematics.frame
    for row in fs.itertuples():
        i = int(np.argmin(np.abs(k["time_s"] - row.time_s)))
        assert k[f"{row.side}_toe_z"].iloc[i] < k[f"{row.side}_heel_z"].iloc[i]
    kept = res.cycles[res.cycles["qc_status"] == "kept"]
    assert len(kept) >= 8 and set(kept["travel"]) == {"BW"}
    assert set(kept["event_method"]) == {"kinematic"}


def test_forward_rule_applied_to_backward_walking_would_be_half_a_stance_off():
    """Guard: the facing-based (FW) Zeni rule on BW walking misses the contacts.

    Uses the same synthetic data as above; if travel came from the way the
    subject faces, the 'contacts' would be these, far from the planted ones.
    """
    trial, truth = walk(travel="BW", facing=(1.0, 0.0))
    k = trial.kinematics.frame
    y = (k["L_heel_x"] - k["pelvis_x"]).to_numpy()
    from scipy.signal import find_peaks
    peaks, _ = find_peaks(y, prominence=0.05)
    wrong = k["time_s"].to_numpy()[peaks]
    err = _match(wrong, truth["L"]["fs"][1:-1])
    assert np.all(np.abs(err) > 0.2)


def test_treadmill_travel_comes_from_belt_relative_velocity():
    trial, _ = walk(travel="BW", surface="treadmill", facing=(0.0, 1.0))
    k = trial.kinematics.frame
    # the pelvis is (nearly) still in the lab ...
    assert np.ptp(k["pelvis_y"]) < 0.05
    info = travel_direction(trial)
    # ... the belt carries the planted feet the way the subject faces: travel is backward
    assert info.direction == "BW"
    assert info.surface_velocity[1] == pytest.approx(1.0, abs=0.1)


def test_no_kinematics_falls_back_to_metadata():
    trial, _ = walk(travel="BW")
    trial.kinematics = None
    info = travel_direction(trial)
    assert info.method == "metadata" and info.direction == "BW"


# ---------------------------------------------------------------------------
# force + kinematics, plates, combining
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("travel", ["FW", "BW"])
def test_plate_contacts_are_assigned_by_cop_and_combined_with_kinematics(travel):
    trial, truth = walk(travel=travel, plates="one_each", facing=(0.0, 1.0))
    res = find_cycles(trial)
    con = res.contacts
    assert set(zip(con["plate"], con["side"])) == {("fp1", "L"), ("fp2", "R")}
    assert con["single_foot"].all() and con["on_clean"].all() and con["off_clean"].all()
    ev = res.events
    for side in ("L", "R"):
        pid, on, off = truth[side]["plate"]
        f = ev[(ev["side"] == side) & (ev["method"] == "force")]
        assert len(f) == 2
        assert abs(f.loc[f["event"] == "foot_strike", "time_s"].iloc[0] - on) < 0.03
        assert abs(f.loc[f["event"] == "foot_off", "time_s"].iloc[0] - off) < 0.03
        cyc = res.cycles[(res.cycles["side"] == side) & (res.cycles["fs_s"] == f["time_s"].min())]
        assert len(cyc) == 1
        row = cyc.iloc[0]
        # stance from the plate, next foot strike from kinematics
        assert row["kind"] == "stride" and row["event_method"] == "force+kinematic"
        assert row["kinetics_valid"] and row["plate"] == pid and row["qc_status"] == "kept"
        assert row["travel"] == travel
    # kinetics are valid only for the plate stances
    assert res.cycles["kinetics_valid"].sum() == 2
    assert any(n.startswith(f"kinematic-vs-force bias ({travel})") for n in res.notes)
    assert set(res.agreement["pair"]) == {"kinematic-force"}
    assert res.agreement["dt_ms"].abs().max() < 50


def test_two_feet_on_one_plate_and_boundary_contacts_are_flagged():
    trial, truth = walk(travel="FW", plates="one_each", facing=(1.0, 0.0))
    f = trial.forces.frame
    # the right foot's plate also gets the next left stance: the left foot lands on fp2
    # while the right is still on it (double support on one plate)
    on_r, off_r = truth["R"]["stance"][3]
    on_l, off_l = truth["L"]["stance"][4]
    assert on_r < on_l < off_r
    t = f["time_s"].to_numpy()
    fl = grf_profile((t - on_l) / (off_l - on_l), "fw")
    fr = f["fp2_fz"].to_numpy()
    left = np.array([0.0, 1.0])
    cop_l = (truth["L"]["P"][4] + 0.2 * (0.1 + 0.8 * np.clip((t - on_l) / (off_l - on_l), 0, 1)))[:, None] \
        * np.array([1.0, 0.0]) + 0.09 * left
    cop_r = f[["fp2_cop_x", "fp2_cop_y"]].to_numpy()
    tot = fr + fl
    with np.errstate(invalid="ignore"):
        cop = (np.nan_to_num(cop_r) * fr[:, None] + cop_l * fl[:, None]) / tot[:, None]
    cop[tot < 5] = np.nan
    f["fp2_fz"] = tot
    f["fp2_cop_x"], f["fp2_cop_y"] = cop[:, 0], cop[:, 1]
    res = find_cycles(trial)
    fp2 = res.contacts[res.contacts["plate"] == "fp2"].sort_values("on_s")
    assert list(fp2["side"]) == ["R", "L"]
    assert not fp2["single_foot"].any()
    assert "two feet on plate" in fp2["reason"].iloc[0]
    r, l_ = fp2.iloc[0], fp2.iloc[1]
    assert r["on_clean"] and not r["off_clean"]          # R strike clean, R foot-off hidden
    assert not l_["on_clean"] and l_["off_clean"]        # L strike hidden, L foot-off clean
    ev = detect_events(trial)
    unclean = ev[(ev["method"] == "force") & ~ev["clean"]]
    assert len(unclean) == 2 and (unclean["reason"].str.contains("other foot on plate")).all()
    # no cycle built on fp2 is kinetics-valid
    assert not res.cycles.loc[res.cycles["plate"] == "fp2", "kinetics_valid"].any()


def test_partial_plate_contact_edge_is_not_clean():
    """The foot leaves the plate edge while still standing on the floor."""
    trial, truth = walk(travel="FW", plates="one_each", facing=(1.0, 0.0))
    f = trial.forces.frame
    pid, on, off = truth["L"]["plate"]
    t = f["time_s"].to_numpy()
    cut = on + 0.45 * (off - on)               # plate unloads at mid-stance
    fz = f["fp1_fz"].to_numpy().copy()
    ramp = np.clip((t - cut) / 0.05, 0, 1)
    fz = fz * (1 - ramp)
    f["fp1_fz"] = fz
    res = find_cycles(trial)
    c = res.contacts[res.contacts["plate"] == "fp1"].iloc[0]
    assert c["on_clean"] and not c["off_clean"] and "partial plate contact" in c["off_reason"]
    # the foot-off comes from kinematics, and the stance is not kinetics-valid
    cyc = res.cycles[(res.cycles["side"] == "L") & np.isclose(res.cycles["fs_s"], c["on_s"])].iloc[0]
    assert cyc["fo_method"] == "kinematic" and not cyc["kinetics_valid"]
    assert abs(cyc["fo_s"] - off) < 0.03


def test_treadmill_belts_one_side_missing():
    """GT23-like: belts declared per foot, the right belt all NaN, no markers."""
    trial, truth = walk(travel="BW", surface="treadmill", plates="belts", facing=(0.0, 1.0))
    trial.forces.frame["fp2_fz"] = np.nan
    trial.kinematics = None
    res = find_cycles(trial)
    assert set(res.events["side"]) == {"L"}
    assert any("fp2: no vertical force data (all NaN)" in n for n in res.notes)
    kept = res.cycles[res.cycles["qc_status"] == "kept"]
    assert set(kept["side"]) == {"L"} and len(kept) >= 4
    assert (kept["event_method"] == "force").all() and kept["kinetics_valid"].all()
    assert set(kept["travel"]) == {"BW"}                 # from metadata
    err = _match(kept["fs_s"].to_numpy(), truth["L"]["fs"][1:5])
    assert np.all(np.abs(err) < 0.03)


def test_treadmill_force_and_kinematics_agree():
    trial, truth = walk(travel="FW", surface="treadmill", plates="belts", facing=(0.0, -1.0))
    res = find_cycles(trial)
    assert res.travel.direction == "FW"
    kept = res.cycles[res.cycles["qc_status"] == "kept"]
    assert (kept["event_method"] == "force").mean() > 0.7
    kf = res.agreement[res.agreement["pair"] == "kinematic-force"]
    assert len(kf) >= 10
    # the threshold edges lag the planted events slightly; kinematics are within ~3 frames
    assert kf["dt_ms"].abs().max() < 30


def test_stored_events_fill_gaps_only_after_checks():
    trial, truth = walk(travel="FW", plates="one_each", facing=(1.0, 0.0))
    kin = trial.kinematics
    # markers only cover part of the record: beyond it, stored events are the only source
    keep = kin.frame["time_s"] < 4.0
    trial.kinematics = Stream(kin.rate_hz, kin.frame[keep].reset_index(drop=True), kin.units)
    late = [(s, e, t) for s in ("L", "R") for e, key in (("foot_strike", "fs"), ("foot_off", "fo"))
            for t in truth[s][key] if 4.3 < t < 6.5]
    bogus = [("L", "foot_strike", 5.2)]        # between the planted 4.75 and 5.85 s
    assert not any(abs(t - 5.2) < 0.3 for s, e, t in late if s == "L" and e == "foot_strike")
    trial.events = pd.DataFrame([{"side": s, "event": e, "time_s": t, "source": "c3d:EVENT"}
                                 for s, e, t in late + bogus])
    res = find_cycles(trial)
    stored = res.events[res.events["method"] == "stored"]
    assert len(stored) >= 4
    late_cycles = res.cycles[res.cycles["fs_s"] > 4.3]
    assert len(late_cycles) and late_cycles["event_method"].str.contains("stored").all()
    # the extra stored foot strike breaks the left sequence: that cycle is rejected, not dropped
    bad = late_cycles[(late_cycles["side"] == "L") & np.isclose(late_cycles["next_fs_s"], 5.2)]
    assert len(bad) == 1 and bad["qc_status"].iloc[0] == "rejected"
    assert "no foot-off" in bad["qc_reason"].iloc[0] or "stride" in bad["qc_reason"].iloc[0]
    none = find_cycles(trial, params=EventParams(use_stored=False))
    assert not (none.events["method"] == "stored").any()


# ---------------------------------------------------------------------------
# cycle checks
# ---------------------------------------------------------------------------

def _ev(rows):
    return pd.DataFrame([{"side": s, "event": {"FS": "foot_strike", "FO": "foot_off"}[e], "time_s": t,
                          "method": "force"} for s, e, t in rows])


def _regular(side="L", start=0.0, n=4, T=1.0, stance=0.62):
    rows = []
    for k in range(n):
        rows += [(side, "FS", start + k * T), (side, "FO", start + k * T + stance * T)]
    rows.append((side, "FS", start + n * T))
    return rows


def test_cycles_regular_sequence_all_kept():
    cyc = build_cycles(_ev(_regular("L") + _regular("R", start=0.5)))
    assert list(cyc.columns) == CYCLE_COLUMNS
    assert len(cyc) == 8 and (cyc["qc_status"] == "kept").all() and (cyc["qc_reason"] == "").all()
    assert list(cyc.loc[cyc["side"] == "L", "cycle"]) == [0, 1, 2, 3]
    assert np.allclose(cyc["stance_pct"], 62.0)


def test_cycles_missing_foot_off_is_rejected():
    rows = [r for r in _regular("L") if not (r[1] == "FO" and abs(r[2] - 1.62) < 1e-9)]
    cyc = build_cycles(_ev(rows))
    bad = cyc[cyc["qc_status"] == "rejected"]
    assert list(bad["fs_s"]) == [1.0]
    assert "no foot-off between foot strikes" in bad["qc_reason"].iloc[0]
    assert np.isnan(bad["fo_s"].iloc[0])


def test_cycles_wrong_order_is_rejected():
    rows = _regular("L") + [("L", "FO", 1.3)]          # a second foot-off inside one stride
    cyc = build_cycles(_ev(rows))
    bad = cyc[cyc["qc_status"] == "rejected"]
    assert list(bad["fs_s"]) == [1.0]
    assert "2 foot-offs between foot strikes" in bad["qc_reason"].iloc[0]


def test_cycles_stride_outliers_are_rejected():
    rows = _regular("L", n=4) + [("L", "FO", 4.0 + 0.62 * 1.5), ("L", "FS", 5.5)]
    cyc = build_cycles(_ev(rows))
    bad = cyc[cyc["qc_status"] == "rejected"]
    assert list(bad["fs_s"]) == [4.0]
    assert "deviates more than 25% from the trial median 1.000 s" in bad["qc_reason"].iloc[0]
    # strides outside the absolute bounds
    cyc = build_cycles(_ev([("L", "FS", 0.0), ("L", "FO", 2.2), ("L", "FS", 3.5)]))
    assert "outside [0.6, 3] s" in cyc["qc_reason"].iloc[0]


def test_cycles_stance_percent_out_of_range_is_rejected():
    rows = _regular("L", n=3) + [("L", "FO", 3.3), ("L", "FS", 4.0)]
    cyc = build_cycles(_ev(rows))
    bad = cyc[cyc["qc_status"] == "rejected"]
    assert list(bad["fs_s"]) == [3.0]
    assert "stance 30.0% outside [50, 75]%" in bad["qc_reason"].iloc[0]


def test_cycles_contralateral_events_checked_where_available():
    rows = _regular("L") + [r for r in _regular("R", start=0.5) if not (r[1] == "FS" and abs(r[2] - 1.5) < 1e-9)]
    cyc = build_cycles(_ev(rows))
    bad = cyc[(cyc["qc_status"] == "rejected") & (cyc["side"] == "L")]
    assert list(bad["fs_s"]) == [1.0]
    assert "contralateral events: expected FO then FS, found FO" in bad["qc_reason"].iloc[0]
    # the first left stride has no right event before it: the check does not apply
    assert cyc.loc[(cyc["side"] == "L") & (cyc["fs_s"] == 0.0), "qc_status"].iloc[0] == "kept"


def test_cycles_stance_only_when_no_next_foot_strike():
    loose = EventParams(require_stride=False)
    cyc = build_cycles(_ev([("R", "FS", 1.0), ("R", "FO", 1.6)]), params=loose)
    assert len(cyc) == 1
    row = cyc.iloc[0]
    assert row["kind"] == "stance" and np.isnan(row["next_fs_s"]) and row["qc_status"] == "kept"
    # a stance too short is rejected with its reason
    cyc = build_cycles(_ev([("R", "FS", 1.0), ("R", "FO", 1.1)]), params=loose)
    assert cyc["qc_status"].iloc[0] == "rejected" and "shorter than 0.25 s" in cyc["qc_reason"].iloc[0]


def test_trial_without_a_full_stride_is_rejected_as_too_short():
    # one stance of each foot (a 1 s take): no foot strike is followed by the next one of that foot
    ev = _ev([("R", "FS", 1.0), ("L", "FO", 1.1), ("L", "FS", 1.5), ("R", "FO", 1.65), ("L", "FO", 2.1)])
    cyc = build_cycles(ev)
    assert len(cyc) == 2 and set(cyc["kind"]) == {"stance"}
    assert (cyc["qc_status"] == "rejected").all()
    assert cyc["qc_reason"].str.contains("too short for a full stride").all()
    # with one stride in the trial, its stance-only cycles stay
    ev = _ev([("R", "FS", 1.0), ("L", "FO", 1.1), ("L", "FS", 1.55), ("R", "FO", 1.65), ("L", "FO", 2.2),
              ("R", "FS", 2.1), ("R", "FO", 2.75)])
    cyc = build_cycles(ev)
    assert "stride" in set(cyc["kind"])
    assert not cyc["qc_reason"].str.contains("too short for a full stride").any()


def test_event_method_labels_mixed_sources():
    ev = _ev(_regular("L", n=1))
    ev.loc[ev.index[-1], "method"] = "kinematic"
    cyc = build_cycles(ev)
    assert cyc["event_method"].iloc[0] == "force+kinematic"
    assert (cyc["fs_method"].iloc[0], cyc["next_fs_method"].iloc[0]) == ("force", "kinematic")


# ---------------------------------------------------------------------------
# errors and empty results
# ---------------------------------------------------------------------------

def test_no_usable_events_gives_empty_cycles_with_note():
    trial = Trial(meta=meta())
    res = find_cycles(trial)
    assert res.cycles.empty and list(res.cycles.columns) == CYCLE_COLUMNS
    assert res.events.empty and list(res.events.columns) == EVENT_COLUMNS
    assert any("no usable events" in n for n in res.notes)


def test_malformed_time_raises_data_error_naming_the_trial():
    trial, _ = walk(travel="FW")
    trial.kinematics.frame.loc[10, "time_s"] = trial.kinematics.frame.loc[5, "time_s"]
    with pytest.raises(DataError, match=r"dataset=synth subject=S01 trial=T01.*not strictly increasing"):
        find_cycles(trial)
    trial, _ = walk(travel="FW")
    trial.kinematics.frame = trial.kinematics.frame.drop(columns="time_s")
    with pytest.raises(DataError, match=r"trial=T01.*no time_s"):
        detect_events(trial)
    trial, _ = walk(travel="FW", plates="belts")
    trial.forces.frame["time_s"] *= 2.0                 # time no longer matches the rate
    with pytest.raises(DataError, match=r"forces stream: time_s step"):
        find_cycles(trial)


@pytest.mark.parametrize("surface", ["overground", "treadmill"])
@pytest.mark.parametrize("travel", ["FW", "BW"])
def test_kinematic_events_without_pelvis_marker(travel, surface):
    trial, truth = walk(travel=travel, surface=surface, facing=(0.6, 0.8))
    f = trial.kinematics.frame.drop(columns=["pelvis_x", "pelvis_y", "pelvis_z"])
    trial.kinematics = Stream(RATE, f, {c: "m" for c in f.columns if c != "time_s"})
    res = find_cycles(trial)
    assert res.travel.direction == travel
    assert any("no pelvis marker" in n for n in res.notes)
    for side in ("L", "R"):
        for event, key in (("foot_strike", "fs"), ("foot_off", "fo")):
            planted = truth[side][key][(truth[side][key] > 0.3) & (truth[side][key] < f["time_s"].iloc[-1] - 0.3)]
            err = _match(_events(res.events, side, event), planted)
            assert np.all(np.abs(err) <= 2.5 * FRAME), (side, event, err)
    assert (res.cycles["qc_status"] == "kept").all()


@pytest.mark.parametrize("travel", ["FW", "BW"])
def test_one_foot_with_markers(travel):
    """Markers of the left foot only: travel and left events still right; the
    right foot's plate is not given to the left foot."""
    trial, truth = walk(travel=travel, plates="one_each", facing=(1.0, 0.0))
    f = trial.kinematics.frame
    f = f.drop(columns=[c for c in f.columns if c.startswith("R_")])
    trial.kinematics = Stream(RATE, f, {c: "m" for c in f.columns if c != "time_s"})
    res = find_cycles(trial)
    assert res.travel.direction == travel and res.travel.agreement > 0.95
    fp2 = res.contacts[res.contacts["plate"] == "fp2"].iloc[0]
    assert fp2["side"] == "" and not fp2["on_clean"] and "from every foot" in fp2["reason"]
    kept = res.cycles[res.cycles["qc_status"] == "kept"]
    assert set(kept["side"]) == {"L"} and len(kept) >= 5
    assert kept["kinetics_valid"].sum() == 1


def test_event_tables_have_no_missing_values():
    trial, _ = walk(travel="BW", plates="one_each")
    res = find_cycles(trial)
    for df in (detect_events(trial), res.events):
        assert set(df["method"]) == {"force", "kinematic"}
        assert not df[EVENT_COLUMNS].isna().any().any()
        assert df["clean"].dtype == bool and df["contact_clean"].dtype == bool


def test_the_per_frame_cop_mean_and_load_are_numpys_own_bits():
    """The contact assignment's per-frame helpers equal np.nanmean and np.average bit for bit.

    They run once per kinematic frame of every plate contact, without numpy's argument checks; a
    different summation order would move a COP by an ulp and could flip a foot assignment at a
    threshold, so equality here is exact, not approximate.
    """
    from retrogait.gait.events import _nanmean, _weighted_mean

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 8, 9, 10, 16, 17, 33, 129, 300):
        for _ in range(20):
            w = rng.lognormal(3, 2, n) * rng.choice([1e-3, 1.0, 1e3])
            pts = rng.normal(0.3, 0.2, (n, 2)) * rng.choice([1e-3, 1.0, 1e3])
            got = _weighted_mean(pts, w)
            assert np.array_equal(got.view(np.int64), np.average(pts, axis=0, weights=w).view(np.int64))
            assert np.array_equal(_weighted_mean(pts[:, :1], w), np.average(pts[:, :1], axis=0, weights=w))
            x = rng.normal(400, 300, n)
            assert np.float64(_nanmean(x, 0)).view(np.int64) == np.float64(np.nanmean(x)).view(np.int64)
            x[rng.random(n) < 0.3] = np.nan
            n_nan = int(np.isnan(x).sum())
            if n_nan == n:
                assert math.isnan(_nanmean(x, n_nan))
            else:
                assert np.float64(_nanmean(x, n_nan)).view(np.int64) == np.float64(np.nanmean(x)).view(np.int64)
    assert math.isnan(_nanmean(np.full(4, np.nan), 4))


def test_a_low_pass_of_columns_is_each_columns_own_low_pass_bit_for_bit():
    """Columns filtered together (same gaps) or one by one (different gaps) equal the 1-D filter exactly.

    Marker coordinates and the progression reference are filtered as (n, k) arrays; the events read
    extrema and thresholds from them, so the columns must be the very numbers each column's own
    filter gives, NaN runs and too-short runs included.
    """
    from retrogait.gait.events import _lowpass

    rng = np.random.default_rng(11)
    t = np.arange(400) / 100.0
    base = np.column_stack([np.sin(2 * np.pi * f * t) for f in (0.9, 1.3, 2.1)]) + rng.normal(0, 0.05, (400, 3))
    same = base.copy()
    same[50:60] = np.nan  # a gap in every column
    same[395:] = np.nan  # a last run too short to filter
    diff = same.copy()
    diff[200:230, 1] = np.nan  # one column with its own gap
    for x in (base, same, diff):
        got = _lowpass(x, 100.0, 6.0)
        want = np.column_stack([_lowpass(x[:, k], 100.0, 6.0) for k in range(x.shape[1])])
        assert np.array_equal(np.isnan(got), np.isnan(x))
        assert np.array_equal(np.nan_to_num(got).view(np.int64), np.nan_to_num(want).view(np.int64))
        assert not np.array_equal(np.nan_to_num(got), np.nan_to_num(x))  # it did filter
    assert np.array_equal(_lowpass(same, 100.0, None), same, equal_nan=True)
