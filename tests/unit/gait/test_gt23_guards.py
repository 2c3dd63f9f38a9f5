"""Issue 11 in the cycles stage: faults planted in a GT23 replica are caught.

EMG given as an envelope (never band-passed), EMG channel QC decided per
subject (a quiet condition keeps its channels), cycles outside the flagged
activity, a foot crossing onto the other belt.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrogait.gait.cycles import CycleSettings, process_subject
from retrogait.gait.emg import channel_quality
from retrogait.gait.events import EventParams, find_cycles
from tests import replica_gt23 as rg
from tests.unit.ingest.adapters.test_gt23 import csv_path, make, rewrite

FW, BW = "normal_walk_1_0-6", "walk_backward_1_0-6"
_BUILT: dict[tuple, rg.ReplicaInfo] = {}


@pytest.fixture
def replica(tmp_path, tmp_path_factory):
    """``replica(sub, **kw)``: an 8-s AB01 FW+BW replica (built once per argument set), extracted fresh."""

    def build(sub: str = "r", **kw) -> tuple[rg.ReplicaInfo, Path]:
        key = tuple(sorted(kw.items()))
        if key not in _BUILT:
            _BUILT[key] = rg.build_replica(tmp_path_factory.mktemp("g") / "r.zip", subjects=["AB01"],
                                           trials=[FW, BW], duration_s=8.0, seed=5, extra_files=False, **kw)
        raw = tmp_path / sub
        rg.extract(_BUILT[key], raw)
        return _BUILT[key], raw

    return build


def run(raw: Path, root: Path):
    trials = make(root, subjects=["AB01"], trials=[FW, BW]).read_subject("AB01", raw)
    return trials, process_subject(trials, settings=CycleSettings())


def emg_means(tables, muscle="vastus_lateralis") -> pd.Series:
    w = tables["waveforms"]
    e = w[(w["variable"] == f"emg_{muscle}") & (w["domain"] == "stride") & (w["side"] == "L")]
    cols = [c for c in w.columns if c.startswith("pct_")]
    return e.groupby("trial")[cols].mean().mean(axis=1)


# ---------------------------------------------------------------------------
# item 4: EMG form
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["envelope", "rectified"])
def test_emg_given_as_envelope_is_detected_and_not_band_passed(replica, repo_root, caplog, form):
    _, raw_ok = replica("ok")
    _, raw = replica(form, emg_form=form)
    with caplog.at_level(logging.WARNING, logger="retrogait.gait.cycles"):
        _, tables = run(raw, repo_root)
    q = tables["emg_quality"]
    assert set(q["form"]) == {form} and set(q["status"]) == {"used"}
    assert f"holds {form} EMG, not raw: low-pass only, no band-pass" in caplog.text
    # the amplitude contrast survives: the same normalised envelopes as from the raw EMG (within 10 %)
    _, ok = run(raw_ok, repo_root)
    got, want = emg_means(tables), emg_means(ok)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0.1)
    assert got[BW] / got[FW] == pytest.approx(want[BW] / want[FW], rel=0.05)


def test_envelope_through_a_raw_only_pipeline_would_lose_the_signal(replica, repo_root):
    """What the check prevents: band-passing the envelope leaves almost nothing."""
    from retrogait.gait.emg import linear_envelope

    _, raw = replica("env", emg_form="envelope")
    trials = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    x = trials[0].emg.get("L_vastus_lateralis")
    rate = trials[0].emg.rate_hz
    assert linear_envelope(x, rate, form="raw").max() < 0.05 * linear_envelope(x, rate, form="envelope").max()


# ---------------------------------------------------------------------------
# item 5: channel QC per subject
# ---------------------------------------------------------------------------

def test_quiet_condition_keeps_its_channel_and_a_dead_channel_goes_everywhere(replica, repo_root, caplog):
    _, raw = replica("quiet")
    rng = np.random.default_rng(1)

    def quiet(d):  # BW: vastus lateralis barely above its noise floor (a per-trial rule would drop it)
        return d.assign(LVL=0.04 * d["LVL"] + 8e-6 * rng.standard_normal(len(d)))

    def dead(d):  # every trial: rectus femoris is amplifier noise only
        return d.assign(LRF=2e-6 * rng.standard_normal(len(d)))

    rewrite(csv_path(raw, "AB01", BW, "emg"), lambda d: dead(quiet(d)))
    rewrite(csv_path(raw, "AB01", FW, "emg"), dead)
    bw = make(repo_root, subjects=["AB01"], trials=[BW]).read_subject("AB01", raw)[0]
    per_trial = channel_quality(bw.emg.get("L_vastus_lateralis"), bw.emg.rate_hz)
    assert per_trial.flat  # what a per-trial decision would have done to the quiet condition
    with caplog.at_level(logging.WARNING, logger="retrogait.gait.cycles"):
        _, tables = run(raw, repo_root)
    q = tables["emg_quality"].set_index("channel")
    assert q.loc["L_vastus_lateralis", "status"] == "used"
    assert set(emg_means(tables).index) == {FW, BW}  # both conditions keep their VL curves
    assert emg_means(tables)[BW] < 0.3 * emg_means(tables)[FW]  # and the quiet one stays quiet
    assert q.loc["L_rectus_femoris", "status"] == "excluded" and q.loc["L_rectus_femoris", "flat"]
    assert "in every trial" in q.loc["L_rectus_femoris", "reason"]
    assert emg_means(tables, "rectus_femoris").empty  # excluded in every trial alike
    assert "L_rectus_femoris excluded in every trial" in caplog.text


# ---------------------------------------------------------------------------
# item 6: activity flag and belt crossover
# ---------------------------------------------------------------------------

def test_cycles_outside_the_flagged_activity_are_excluded_with_a_reason(replica, repo_root):
    info, raw = replica("flag")
    t0 = info.t0[("AB01", FW)]
    fs = info.events[("AB01", FW)]["foot_strike"]
    zero_from, zero_to = fs[2] + 0.1, fs[3] + 0.1  # inside the third and fourth strides

    def flag(d):
        off = (d["time"] >= zero_from) & (d["time"] <= zero_to)
        return d.assign(left=np.where(off, 0, d["left"]).astype(int))

    rewrite(csv_path(raw, "AB01", FW, "activity_flag"), flag)
    trials, tables = run(raw, repo_root)
    c = tables["cycles"]
    fw = c[(c["trial"] == FW) & (c["side"] == "L")]
    hit = fw[fw["qc_reason"].str.contains("outside the flagged activity")]
    assert len(hit) == 2 and (hit["qc_status"] == "rejected").all()
    assert (hit["fs_s"] < zero_to).all() and (hit["next_fs_s"] > zero_from).all()
    assert (fw.drop(hit.index)["qc_status"] == "kept").sum() >= 3
    assert "rejected: outside the flagged activity" in tables["trial_notes"].set_index("trial").loc[FW, "notes"]
    checks = trials[0].checks.set_index("check")
    assert checks.loc["activity_flag"].iloc[0]["status"] == "warning"
    assert t0 < zero_from


def test_all_flag_zero_trial_keeps_no_cycle(replica, repo_root):
    _, raw = replica("allzero")
    rewrite(csv_path(raw, "AB01", BW, "activity_flag"), lambda d: d.assign(left=0, right=0))
    trials, tables = run(raw, repo_root)
    c = tables["cycles"]
    bw = c[c["trial"] == BW]
    assert len(bw) and (bw["qc_status"] == "rejected").all()
    assert bw["qc_reason"].str.contains("activity flag 0 in 100 % of the cycle").all()
    assert (c[c["trial"] == FW]["qc_status"] == "kept").any()
    detail = trials[1].checks.set_index("check").loc["activity_flag"]
    assert "every sample" in " ".join(detail["detail"])


def _plant_second_foot(raw, info, trial, stance_index, *, share=0.6, ap_offset=0.5, start=0.35, stop=0.8):
    """Add a second foot's load (and its COP a step length away) to the left belt during one stance.

    The second foot lands like a foot does: its load rises in 60 ms, stays, and falls in 100 ms.
    """
    fs = info.events[("AB01", trial)]["foot_strike"][stance_index]
    fo = info.events[("AB01", trial)]["foot_off"]
    fo = fo[fo > fs][0]

    def plant(d):
        t = d["time"].to_numpy()
        a, b = fs + start * (fo - fs), fs + stop * (fo - fs)
        shape = np.clip(np.minimum((t - a) / 0.06, (b - t) / 0.1), 0, 1)
        f2 = share * info.masses["AB01"] * 9.81 * shape
        f1 = d["LForceY_Vertical"].to_numpy()
        total = f1 + f2
        w2 = np.divide(f2, total, out=np.zeros_like(f2), where=total > 1.0)
        return d.assign(LForceY_Vertical=total, LCOPX=d["LCOPX"] + w2 * ap_offset, LCOPZ=d["LCOPZ"] + w2 * 0.15)

    rewrite(csv_path(raw, "AB01", trial, "grf"), plant)
    return fs


def test_crossover_step_excludes_that_cycles_kinetics(replica, repo_root):
    info, raw = replica("cross")
    fs = _plant_second_foot(raw, info, FW, 3)
    trials = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    res = find_cycles(trials[0], params=EventParams())
    c = res.cycles[res.cycles["side"] == "L"]
    hit = c[np.isclose(c["fs_s"], fs, atol=0.03)]
    assert len(hit) == 1
    row = hit.iloc[0]
    assert not row["kinetics_valid"] and "kinetics excluded: crossover" in row["qc_flags"]
    assert "COP jumps" in row["qc_flags"] and "second foot" in row["qc_flags"]
    others = c.drop(hit.index)
    assert others[others["qc_status"] == "kept"]["kinetics_valid"].all()
    assert any("its kinetics are excluded" in n for n in res.notes)
    # through the cycles stage: no kinetic waveform from that cycle, its kinematics stay
    tables = process_subject(trials, settings=CycleSettings())
    w = tables["waveforms"]
    cyc = int(row["cycle"])
    mine = w[(w["trial"] == FW) & (w["side"] == "L") & (w["cycle"] == cyc)]
    if row["qc_status"] == "kept":
        assert "knee_flexion" in set(mine["variable"])
    assert not {"knee_extensor_moment", "vgrf", "pfj_stress"} & set(mine["variable"])


def test_foot_partly_on_the_other_belt_excludes_that_cycles_kinetics(replica, repo_root):
    info, raw = replica("partial")
    fs = info.events[("AB01", FW)]["foot_strike"][3]
    fo = info.events[("AB01", FW)]["foot_off"]
    fo = fo[fo > fs][0]

    def half(d):  # half of this stance's load goes to the other (unrecorded) belt
        inside = (d["time"] > fs - 0.01) & (d["time"] < fo + 0.01)
        return d.assign(LForceY_Vertical=np.where(inside, 0.45 * d["LForceY_Vertical"], d["LForceY_Vertical"]))

    rewrite(csv_path(raw, "AB01", FW, "grf"), half)
    trials = make(repo_root, subjects=["AB01"], trials=[FW]).read_subject("AB01", raw)
    c = find_cycles(trials[0], params=EventParams()).cycles
    row = c[(c["side"] == "L") & np.isclose(c["fs_s"], fs, atol=0.03)].iloc[0]
    assert not row["kinetics_valid"] and "partly on the other belt" in row["qc_flags"]


def test_crossover_parameters_are_validated():
    from retrogait.errors import ConfigError

    with pytest.raises(ConfigError, match="crossover_min_peak_fraction"):
        EventParams(crossover_min_peak_fraction=1.2)
    with pytest.raises(ConfigError, match="crossover_max_duration_factor"):
        EventParams(crossover_max_duration_factor=0.9)
