"""BVH reading and forward kinematics on tiny hand-written files with known joint positions.

The leg: a pelvis (root, 6 channels) with one hip 10 cm to the left (+x,
the subject faces +z with y up), a 40 cm thigh and a 40 cm shank pointing
down (-y), a 12 cm foot. Every expected position below is worked out by
hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from retrogait.ingest.skeleton import (BvhError, axes_matrix, derive_heel, forward_kinematics, knee_flexion,
                                       read_bvh)

LEG = """HIERARCHY
ROOT Hips
{{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition {order}
  JOINT UpperLeg_L
  {{
    OFFSET 10 0 0
    CHANNELS {hip_channels}
    JOINT LowerLeg_L
    {{
      OFFSET 0 -40 0
      CHANNELS 3 {order}
      JOINT Foot_L
      {{
        OFFSET 0 -40 0
        CHANNELS 3 {order}
        End Site
        {{
          OFFSET 0 0 12
        }}
      }}
    }}
  }}
}}
MOTION
Frames: {n}
Frame Time: 0.0333333
{frames}
"""


def write_leg(path, frames, *, order="Zrotation Xrotation Yrotation", hip_channels=None):
    hip_channels = hip_channels or f"3 {order}"
    text = LEG.format(order=order, hip_channels=hip_channels, n=len(frames),
                      frames="\n".join(" ".join(str(v) for v in f) for f in frames))
    path.write_text(text)
    return path


def zxy(z=0.0, x=0.0, y=0.0):
    """Channel values in the order Zrotation Xrotation Yrotation."""
    return [z, x, y]


def test_two_segment_leg_at_known_angles(tmp_path):
    # frame 0: standing, pelvis at (0, 100, 0): hip (10, 100, 0), knee (10, 60, 0), ankle (10, 20, 0)
    # frame 1: pelvis moved to (5, 100, 30); hip flexed 30 deg (X rotation -30: the knee moves to +z),
    #   knee flexed 60 deg (X rotation +60 relative to the thigh, so the shank is at +30 deg in the world):
    #   knee  = hip + 40 (0, -cos30, +sin30) = (15, 65.359, 50)
    #   ankle = knee + 40 (0, -cos30, -sin30) = (15, 30.718, 30)
    frames = [[0, 100, 0, *zxy(), *zxy(), *zxy(), *zxy()],
              [5, 100, 30, *zxy(), *zxy(x=-30), *zxy(x=60), *zxy()]]
    m = read_bvh(write_leg(tmp_path / "leg.bvh", frames))
    assert m.names == ["Hips", "UpperLeg_L", "LowerLeg_L", "Foot_L"]
    assert m.parents == [-1, 0, 1, 2]
    assert m.frame_time == pytest.approx(1 / 30, abs=1e-12) and m.rate_hz == pytest.approx(30.0)
    c30, s30 = np.cos(np.radians(30)), np.sin(np.radians(30))
    np.testing.assert_allclose(m.positions["UpperLeg_L"], [[10, 100, 0], [15, 100, 30]], atol=1e-4)
    np.testing.assert_allclose(m.positions["LowerLeg_L"], [[10, 60, 0], [15, 100 - 40 * c30, 30 + 40 * s30]],
                               atol=1e-4)
    np.testing.assert_allclose(m.positions["Foot_L"],
                               [[10, 20, 0], [15, 100 - 80 * c30, 30 + 40 * s30 - 40 * s30]], atol=1e-4)
    # knee flexion from the thigh and shank: 0 standing, 60 deg in frame 1 (subject's left = +x)
    flex = knee_flexion(m.positions["UpperLeg_L"], m.positions["LowerLeg_L"], m.positions["Foot_L"],
                        np.array([1.0, 0, 0]))
    np.testing.assert_allclose(flex, [0.0, 60.0], atol=1e-3)


def test_rotation_order_follows_the_channels_line(tmp_path):
    # hip Z = 90, X = 90. Intrinsic Z then X (ZXY channels): Rz(90) Rx(90) (0,-1,0) = (0, 0, -1):
    # the knee is 40 cm behind the hip. Read as X then Z (XYZ channels) the same numbers give
    # Rx(90) Rz(90) (0,-1,0) = (1, 0, 0): 40 cm to the side.
    zxy_file = write_leg(tmp_path / "zxy.bvh", [[0, 100, 0, 0, 0, 0, 90, 90, 0, 0, 0, 0, 0, 0, 0]])
    knee = read_bvh(zxy_file).positions["LowerLeg_L"][0]
    np.testing.assert_allclose(knee, [10, 100, -40], atol=1e-4)
    xyz_file = write_leg(tmp_path / "xyz.bvh", [[0, 100, 0, 0, 0, 0, 90, 0, 90, 0, 0, 0, 0, 0, 0]],
                         order="Xrotation Yrotation Zrotation")
    knee = read_bvh(xyz_file).positions["LowerLeg_L"][0]
    np.testing.assert_allclose(knee, [50, 100, 0], atol=1e-4)
    # any order agrees with scipy's intrinsic Euler convention
    angles = [25.0, -40.0, 70.0]
    for order in ("ZXY", "XYZ", "YZX"):
        chans = " ".join(f"{a}rotation" for a in order)
        f = write_leg(tmp_path / f"o{order}.bvh", [[0, 0, 0, 0, 0, 0, *angles, 0, 0, 0, 0, 0, 0]], order=chans)
        expect = np.array([10, 0, 0]) + Rotation.from_euler(order, angles, degrees=True).apply([0, -40, 0])
        np.testing.assert_allclose(read_bvh(f).positions["LowerLeg_L"][0], expect, atol=1e-4)


def test_position_channels_of_a_child_joint_replace_its_offset(tmp_path):
    # the hip has 6 channels (as every joint of the Bandai-Namco files): its position channels are its
    # local translation, not added to the OFFSET
    f = write_leg(tmp_path / "six.bvh", [[0, 100, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
                  hip_channels="6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
    m = read_bvh(f)
    np.testing.assert_allclose(m.positions["UpperLeg_L"][0], [12, 100, 0], atol=1e-4)
    assert m.channels["UpperLeg_L"][:3] == ["Xposition", "Yposition", "Zposition"]


def test_forward_kinematics_matches_bvhio_world_positions(tmp_path):
    bvhio = pytest.importorskip("bvhio")
    rng = np.random.default_rng(3)
    frames = [[*rng.uniform(-20, 20, 3), *rng.uniform(-80, 80, 12)] for _ in range(5)]
    f = write_leg(tmp_path / "rand.bvh", frames)
    ours = read_bvh(f)
    root = bvhio.readAsHierarchy(str(f))
    for k in range(len(frames)):
        root.loadPose(k, recursive=True)
        for joint, _, _ in root.layout():
            p = joint.PositionWorld
            np.testing.assert_allclose(ours.positions[joint.Name][k], [p.x, p.y, p.z], atol=1e-3)


def test_forward_kinematics_composition_rule():
    # parent rotated 90 deg about z: the child's local x offset points along world y
    rot = [Rotation.from_euler("z", [90], degrees=True), Rotation.identity(1)]
    pos, wr = forward_kinematics([-1, 0], [np.array([[1.0, 2, 3]]), np.array([[2.0, 0, 0]])], rot)
    np.testing.assert_allclose(pos[1], [[1, 4, 3]], atol=1e-12)
    with pytest.raises(ValueError, match="must come before"):
        forward_kinematics([1, -1], [np.zeros((1, 3))] * 2, [Rotation.identity(1)] * 2)


def test_malformed_file_is_an_error_naming_the_file(tmp_path):
    f = tmp_path / "broken.bvh"
    f.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    with pytest.raises(BvhError, match="broken.bvh"):
        read_bvh(f)


@pytest.mark.parametrize("side_sign", [1.0, -1.0])
def test_knee_flexion_sign_is_flexion_positive_for_either_leg(side_sign):
    # lab frame: x forward, y left, z up. Thigh straight down; the shank rotated backwards
    # (ankle behind the knee) is flexion, forwards is hyperextension, whichever leg (the lateral
    # axis points to the subject's left for both legs; side_sign moves the leg to the left or right)
    hip = np.array([[0.0, 0.1 * side_sign, 1.0]] * 2)
    knee = hip + [0, 0, -0.45]
    a = np.radians(20)
    ankle = knee + 0.4 * np.array([[-np.sin(a), 0, -np.cos(a)], [np.sin(a), 0, -np.cos(a)]])
    flex = knee_flexion(hip, knee, ankle, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(flex, [20.0, -20.0], atol=1e-9)
    # a zero-length segment gives NaN, not a number
    assert np.isnan(knee_flexion(hip[:1], hip[:1], ankle[:1], np.array([0.0, 1.0, 0.0]))[0])


def test_axes_matrix_maps_file_axes_to_lab_x_forward_z_up():
    a = axes_matrix(up="+y", forward="+z")
    np.testing.assert_allclose(a @ [0, 0, 1], [1, 0, 0])   # forward -> lab x
    np.testing.assert_allclose(a @ [0, 1, 0], [0, 0, 1])   # up -> lab z
    np.testing.assert_allclose(a @ [1, 0, 0], [0, 1, 0])   # file +x is the left of a subject facing +z
    assert np.linalg.det(a) == pytest.approx(1.0)
    np.testing.assert_allclose(axes_matrix(up="+z", forward="+x"), np.eye(3))
    with pytest.raises(ValueError, match="different axes"):
        axes_matrix(up="+y", forward="-y")


def _foot(pitch_deg: np.ndarray, lift: np.ndarray | None = None):
    """Ankle at 0.08 m (+ ``lift``), toe joint 0.13 m along a foot pitched by ``pitch_deg`` (toe up positive)."""
    n = len(pitch_deg)
    # about lab y (left), a negative angle turns +x (forward) upwards: toe up for positive pitch
    rot = Rotation.from_euler("y", -np.asarray(pitch_deg, float)[:, None], degrees=True)
    # foot frame: at pitch 0 the toe joint is 0.13 m forward and 0.04 m below the ankle centre
    toe_local = np.array([0.13, 0.0, -0.04])
    ankle = np.tile([0.0, 0.0, 0.08], (n, 1))
    if lift is not None:
        ankle[:, 2] += lift
    toe = ankle + rot.apply(np.tile(toe_local, (n, 1)))
    return ankle, toe, rot


def test_heel_lies_at_toe_height_behind_the_ankle_at_foot_flat():
    # ten foot-flat frames, then toe up (heel strike) and toe down in swing (foot lifted 0.1 m)
    pitch = np.array([0.0] * 10 + [20.0, -20.0])
    ankle, toe, rot = _foot(pitch, lift=np.array([0.0] * 11 + [0.1]))
    heel, model = derive_heel(ankle, toe, rot, up=np.array([0, 0, 1.0]), back_fraction=0.4, flat_tolerance=0.01)
    length = np.hypot(0.13, 0.04)
    # foot flat: heel 0.04 m below the ankle (the toe joint's height) and 0.4 x ankle-toe distance behind it
    np.testing.assert_allclose(heel[0], [-0.4 * length, 0, 0.04], atol=1e-9)
    assert heel[11, 2] > heel[0, 2]  # lifted with the foot
    assert model.n_reference == 10 and model.drop == pytest.approx(0.04) and model.back == pytest.approx(0.4 * length)
    # the heel moves with the foot: the heel-toe line tilts with the foot, toe up = heel-first posture
    from retrogait.gait.contact import foot_angle
    angle = foot_angle(heel, toe)
    np.testing.assert_allclose(angle, [0.0] * 10 + [20.0, -20.0], atol=1e-9)
    # the heel's height (and so the foot angle) does not depend on back_fraction
    heel2, _ = derive_heel(ankle, toe, rot, up=np.array([0, 0, 1.0]), back_fraction=0.1)
    np.testing.assert_allclose(heel2[:10, 2], heel[:10, 2], atol=1e-12)
    np.testing.assert_allclose(np.sign(foot_angle(heel2, toe)), np.sign(angle), atol=0)


def test_heel_needs_a_foot_flat_frame():
    ankle, toe, rot = _foot(np.array([0.0, 0.0]))
    ankle = ankle + np.array([[0, 0, 0.0], [0, 0, 0.5]])   # the ankle lowest while the toe is high, never both
    toe = toe + np.array([[0, 0, 0.5], [0, 0, 0.0]])
    with pytest.raises(ValueError, match="no foot-flat frame"):
        derive_heel(ankle, toe, rot, up=np.array([0, 0, 1.0]), flat_tolerance=0.01)
