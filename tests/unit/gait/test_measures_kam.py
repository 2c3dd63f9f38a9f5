"""Issue 11 item 8: the lever-arm KAM estimate uses the knee's own medio-lateral axis (known answers)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pandas as pd
import pytest

from retrogait.gait import measures as M
from retrogait.gait.catalog import describe
from retrogait.ingest.trial import Stream, Trial, TrialMeta

Row = namedtuple("Row", "side plate")
MASS = 70.0
F = 700.0       # vertical GRF (N)
D_MED = 0.03    # COP medial of the knee joint centre (m)
AP = 0.10       # COP ahead of the knee joint centre (m)
H = 0.45        # knee joint centre above the COP (m)


def trial(other_knee_ap: float, *, lateral_marker_m: float = 0.06, swap: bool = False) -> Trial:
    """Left leg; x forward, y to the left (lateral for L), z up. Medial for L is -y."""
    n = 50
    t = np.linspace(0.0, 0.5, n)
    kjc = np.array([0.0, 0.0, H])
    knee = kjc + np.array([0.0, lateral_marker_m if not swap else -lateral_marker_m, 0.0])
    other = kjc + np.array([other_knee_ap, -0.15, 0.0])  # the right knee: medial, and ahead or behind
    cols = {"time_s": t}
    for name, p in (("L_kjc", kjc), ("L_knee", knee), ("R_kjc", other)):
        for k, a in enumerate("xyz"):
            cols[f"{name}_{a}"] = np.full(n, p[k])
    kin = Stream(100.0, pd.DataFrame(cols), {c: "m" for c in cols if c != "time_s"})
    cop = np.array([AP, -D_MED, 0.0])
    f = {"time_s": t, "fp1_fx": np.zeros(n), "fp1_fy": np.zeros(n), "fp1_fz": np.full(n, F),
         "fp1_cop_x": np.full(n, cop[0]), "fp1_cop_y": np.full(n, cop[1]), "fp1_cop_z": np.full(n, cop[2])}
    forces = Stream(100.0, pd.DataFrame(f), {c: ("N" if "_f" in c and "cop" not in c else "m")
                                              for c in f if c != "time_s"})
    meta = TrialMeta(dataset="d", subject="S", trial="t", condition="c", direction="FW", speed_mps=float("nan"),
                     surface="overground", mass_kg=MASS, height_m=1.7, mass_source="test", source_files="x",
                     source_sha256="0" * 64, adapter="test")
    return Trial(meta=meta, kinematics=kin, forces=forces)


@pytest.mark.parametrize("other_ap", [0.4, -0.4, 0.0])
def test_estimate_uses_the_epicondylar_axis_whatever_the_other_knee(other_ap):
    """KAM = F * d_medial exactly, whether the other knee is ahead (FW-like), behind (BW-like) or beside."""
    tr = trial(other_ap)
    est, how = M._kam_estimate(tr, Row("L", "fp1"), tr.kinematics.time)
    assert "epicondylar" in how
    np.testing.assert_allclose(est, F * D_MED / MASS, rtol=1e-9)


def test_the_axis_towards_the_other_knee_would_leak_the_sagittal_lever():
    """What the old axis did: with the knees 0.4 m apart along the walk the sign of the leak flips FW/BW."""
    from retrogait.gait.kneeload import kam_lever_arm

    grf, cop, kjc = np.array([0.0, 0.0, F]), np.array([AP, -D_MED, 0.0]), np.array([0.0, 0.0, H])
    ahead = kam_lever_arm(grf, cop, kjc, medial_axis=np.array([0.4, -0.15, 0.0]))[0] / MASS
    behind = kam_lever_arm(grf, cop, kjc, medial_axis=np.array([-0.4, -0.15, 0.0]))[0] / MASS
    true = F * D_MED / MASS
    assert abs(ahead - true) > 0.5 * true and abs(behind - true) > 0.5 * true
    assert np.sign(ahead - true) != np.sign(behind - true)


def test_no_estimate_without_a_plausible_anatomical_axis():
    tr = trial(0.4, lateral_marker_m=0.4)  # 'knee marker' 40 cm from the joint centre
    est, how = M._kam_estimate(tr, Row("L", "fp1"), tr.kinematics.time)
    assert est is None and "not a half knee width" in how
    tr = trial(0.4, swap=True)  # marker medial of the joint centre: axis points laterally
    est, how = M._kam_estimate(tr, Row("L", "fp1"), tr.kinematics.time)
    assert est is None and "labels swapped" in how
    tr = trial(0.4)
    tr.kinematics.frame = tr.kinematics.frame.drop(columns=["L_knee_x", "L_knee_y", "L_knee_z"])
    tr.kinematics.units = {k: v for k, v in tr.kinematics.units.items() if not k.startswith("L_knee_")}
    est, how = M._kam_estimate(tr, Row("L", "fp1"), tr.kinematics.time)
    assert est is None and "no lateral knee marker" in how


def test_measured_and_estimated_kam_never_share_a_measure_name():
    assert describe("medial_load_proxy_peak").description != describe("medial_load_proxy_est_peak").description
    assert "ESTIMATE" in describe("medial_load_proxy_est_peak").description
    for name in ("kam_est_peak1", "kam_est_peak2", "kam_est_impulse", "medial_load_proxy_est_peak"):
        assert "est" in name and describe(name).unit
