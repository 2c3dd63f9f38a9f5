"""The bvh adapter on tiny hand-written BVH files: map validation, axes, units, errors naming file and joint."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from retrogait.acquire.manifest import DatasetSpec, RawFile
from retrogait.errors import ConfigError, DataError
from retrogait.ingest.adapters import get_adapter, make_adapter
from retrogait.ingest.adapters.bvh import take_speed

MAP = {
    "subject": {"pattern": r"^(?P<subject>[a-z]+)_(?:fw|bw)_\d\.bvh$", "label": "acted style"},
    "conditions": [{"match": "_bw_", "condition": "backward", "direction": "BW"},
                   {"match": "_fw_", "condition": "forward", "direction": "FW"}],
    "design": {"surface": "overground", "speed_mps": "measured"},
    "units": {"length": "cm"},
    "axes": {"up": "+y", "forward": "+z"},
    "joints": {"pelvis": "Hips", "hip": "UpperLeg_{side}", "knee": "LowerLeg_{side}", "ankle": "Foot_{side}",
               "toe": "Toes_{side}"},
}

SIX = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"


def leg(side: str, x: float, *, toe: str = "Toes", knee_channels: str = SIX) -> str:
    return f"""  JOINT UpperLeg_{side}
  {{
    OFFSET {x} -5 0
    {SIX}
    JOINT LowerLeg_{side}
    {{
      OFFSET 0 -40 0
      {knee_channels}
      JOINT Foot_{side}
      {{
        OFFSET 0 -42 0
        {SIX}
        JOINT {toe}_{side}
        {{
          OFFSET 0 -4 12
          {SIX}
          End Site
          {{
            OFFSET 0 0 5
          }}
        }}
      }}
    }}
  }}
"""


def bvh_text(frames: int = 60, *, speed_cm_s: float = 100.0, direction: int = 1, root_channels: str = SIX,
             toe: str = "Toes", knee_channels: str = SIX) -> str:
    """Standing skeleton (hips 91 cm up, ankles 9 cm, toes 5 cm) gliding along +z (or -z) at ``speed``."""
    head = f"HIERARCHY\nROOT Hips\n{{\n  OFFSET 0 0 0\n  {root_channels}\n" + leg("L", 9, toe=toe,
                                                                                        knee_channels=knee_channels) \
        + leg("R", -9, toe=toe, knee_channels=knee_channels) + "}\n"
    n_knee = 6 if "6" in knee_channels.split()[1] else int(knee_channels.split()[1])
    n_root = int(root_channels.split()[1])
    lines = []
    for k in range(frames):
        z = direction * speed_cm_s * k / 30
        root = [0, 91, z, 0, 0, 0] if n_root == 6 else [0, 0, 0][:n_root]
        per_leg = []
        for x in (9, -9):
            knee = [0, -40, 0, 0, 0, 0] if n_knee == 6 else [0] * n_knee
            per_leg += [x, -5, 0, 0, 0, 0, *knee, 0, -42, 0, 0, 0, 0, 0, -4, 12, 0, 0, 0]
        lines.append(" ".join(str(v) for v in root + per_leg))
    return head + f"MOTION\nFrames: {frames}\nFrame Time: 0.0333333\n" + "\n".join(lines) + "\n"


def make(tmp_path, files: dict[str, str], map_overrides: dict | None = None):
    mp = {**MAP, **(map_overrides or {})}
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(mp))
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    entries = []
    for name, text in files.items():
        (raw / name).write_text(text)
        entries.append(RawFile(path=name, url="https://example.invalid/" + name, sha256="0" * 64))
    spec = DatasetSpec(id="toy", title="t", citation="c", licence="l", adapter="bvh",
                       options={"map": "map.yaml"}, files=tuple(entries))
    return make_adapter(spec, root=tmp_path), raw


def test_registered_by_name():
    assert get_adapter("bvh").name == "bvh"


def test_reads_a_take_into_a_lab_frame_trial_in_metres(tmp_path):
    ad, raw = make(tmp_path, {"calm_fw_1.bvh": bvh_text(), "calm_bw_1.bvh": bvh_text(direction=-1)})
    assert ad.plan() == {"calm": [ad.spec.files[0], ad.spec.files[1]]}
    fw, bw = ad.read_subject("calm", raw)
    m = fw.meta
    assert (m.subject, m.condition, m.direction, m.surface, m.adapter) == ("calm", "forward", "FW", "overground", "bvh")
    assert np.isnan(m.mass_kg) and m.mass_source.startswith("not recorded")
    assert bw.meta.direction == "BW"
    k = fw.kinematics
    assert k.rate_hz == pytest.approx(30.0)
    assert k.units["pelvis_x"] == "m" and k.units["L_knee_flexion"] == "deg"
    # file +z (forward) -> lab x; file +y (up) -> lab z; file +x (the subject's left) -> lab y; cm -> m
    np.testing.assert_allclose(k.get("pelvis_z"), 0.91, atol=1e-6)
    np.testing.assert_allclose(np.diff(k.get("pelvis_x")), 1.0 / 30, atol=1e-6)
    np.testing.assert_allclose(k.get("L_hjc_y"), 0.09, atol=1e-6)
    np.testing.assert_allclose(k.get("R_hjc_y"), -0.09, atol=1e-6)
    np.testing.assert_allclose(k.get("L_ankle_z"), 0.04, atol=1e-6)     # 91 - 5 - 40 - 42 cm
    np.testing.assert_allclose(k.get("L_toe_z"), 0.0, atol=1e-6)
    np.testing.assert_allclose(k.get("L_toe_x") - k.get("pelvis_x"), 0.12, atol=1e-6)
    # standing straight: knee flexion 0; heel at the toe joint's height, behind the ankle
    np.testing.assert_allclose(k.get("L_knee_flexion"), 0.0, atol=1e-4)
    np.testing.assert_allclose(k.get("L_heel_z"), k.get("L_toe_z"), atol=1e-6)
    foot = np.hypot(0.12, 0.04)
    np.testing.assert_allclose(k.get("L_heel_x") - k.get("L_ankle_x"), -0.4 * foot, atol=1e-6)
    # speed measured from the root: 1 m/s forward and backward
    assert m.speed_mps == pytest.approx(1.0, abs=1e-6) and bw.meta.speed_mps == pytest.approx(1.0, abs=1e-6)
    assert "speed_mps measured" in m.notes and "heel derived" in m.notes
    assert fw.forces is None and fw.emg is None


def test_missing_joint_is_an_error_naming_file_and_joint(tmp_path):
    ad, raw = make(tmp_path, {"calm_fw_1.bvh": bvh_text(toe="Toe")})
    with pytest.raises(DataError, match=r"calm_fw_1\.bvh: joint\(s\) of the map .* not in the file: "
                                        r"Toes_L \(L_toe\), Toes_R \(R_toe\)"):
        ad.read_subject("calm", raw)


def test_pelvis_without_position_channels_is_an_error(tmp_path):
    ad, raw = make(tmp_path, {"calm_fw_1.bvh": bvh_text(root_channels="CHANNELS 3 Zrotation Xrotation Yrotation")})
    with pytest.raises(DataError, match=r"calm_fw_1\.bvh: pelvis joint Hips has no position channels"):
        ad.read_subject("calm", raw)


def test_leg_joint_without_three_rotation_channels_is_an_error(tmp_path):
    ad, raw = make(tmp_path, {"calm_fw_1.bvh": bvh_text(knee_channels="CHANNELS 1 Xrotation")})
    with pytest.raises(DataError, match=r"calm_fw_1\.bvh: joint LowerLeg_L .* rotation channels \['Xrotation'\]"):
        ad.read_subject("calm", raw)


def test_unreadable_file_is_an_error_naming_it(tmp_path):
    ad, raw = make(tmp_path, {"calm_fw_1.bvh": "HIERARCHY\nnonsense\n"})
    with pytest.raises(DataError, match=r"cannot read BVH file calm_fw_1\.bvh"):
        ad.read_subject("calm", raw)


def test_map_is_validated_before_anything_runs(tmp_path):
    ad, _ = make(tmp_path, {"calm_fw_1.bvh": bvh_text()}, {"axes": {"up": "+y", "forwrd": "+z"}})
    with pytest.raises(ConfigError, match="forwrd"):
        ad.plan()
    ad, _ = make(tmp_path, {"calm_fw_1.bvh": bvh_text()}, {"axes": {"up": "+y", "forward": "-y"}})
    with pytest.raises(ConfigError, match="different axes"):
        ad.plan()
    ad, _ = make(tmp_path, {"calm_xx_1.bvh": bvh_text()}, {"subject": {"pattern": r"^(?P<subject>[a-z]+)_xx"}})
    with pytest.raises(ConfigError, match="no condition pattern matches file calm_xx_1.bvh"):
        ad.plan()
    ad, _ = make(tmp_path, {"calm_fw_1.bvh": bvh_text()}, {"subject": {"pattern": r"^(?P<subject>\d+)_"}})
    with pytest.raises(ConfigError, match="does not match file calm_fw_1.bvh"):
        ad.plan()


def test_take_speed_is_the_median_windowed_horizontal_speed():
    t = np.arange(150) / 30
    x = np.where(t < 1.0, 0.5 * t ** 2, 0.5 + 1.2 * (t - 1.0))   # accelerate for 1 s, then 1.2 m/s
    pelvis = np.column_stack([x, np.zeros_like(t), 0.9 + 0.02 * np.sin(2 * np.pi * 2 * t)])
    assert take_speed(pelvis, 30.0) == pytest.approx(1.2, abs=1e-9)
    assert np.isnan(take_speed(pelvis[:20], 30.0))
