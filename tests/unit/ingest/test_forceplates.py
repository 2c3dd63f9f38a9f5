"""Force-platform signals from analog channels (retrogait.ingest.forceplates) against ezc3d's platform filter.

The reference implementation is ezc3d's ``ForcePlatforms`` module (read with
``extract_forceplat_data=True``): on every real C3D fixture the numpy
computation must give its numbers bit for bit; on written files of each
platform type (1-4, tilted plates, calibration matrices, a Kistler
centre-of-pressure polynomial) it must agree to rounding; where ezc3d cannot
interpret a group, neither can we, with a message naming the parameter.
"""

from __future__ import annotations

import numpy as np
import pytest

from retrogait.ingest.forceplates import ForcePlateError, PlateSignals, read_force_plates
from tests.c3dfiles import _int_parameter, write_c3d

ezc3d = pytest.importorskip("ezc3d")

_FIELDS = (("force", "force"), ("moment", "moment"), ("center_of_pressure", "center_of_pressure"),
           ("free_moment", "Tz"))


def _both(path):
    ours = ezc3d.c3d(str(path))
    ref = ezc3d.c3d(str(path), extract_forceplat_data=True)
    return read_force_plates(ours["parameters"], ours["data"]["analogs"]), ref["data"]["platform"]


def _assert_same(ours: list[PlateSignals], ref, *, exact: bool, rtol: float = 1e-12) -> None:
    assert len(ours) == len(ref) > 0
    for o, r in zip(ours, ref):
        for mine, theirs in _FIELDS:
            x, y = getattr(o, mine), np.asarray(r[theirs])
            assert x.shape == y.shape, (o.number, mine)
            if exact:
                assert np.array_equal(x, y, equal_nan=True), (o.number, mine, np.nanmax(np.abs(x - y)))
            else:
                scale = np.nanmax(np.abs(y[np.isfinite(y)]))
                np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=f"plate {o.number} {mine}")
        assert (o.unit_force, o.unit_moment, o.unit_position) == (r["unit_force"], r["unit_moment"],
                                                                  r["unit_position"])
        assert np.array_equal(o.corners, r["corners"]) and np.array_equal(o.origin, r["origin"])


def test_every_real_c3d_fixture_gives_ezc3ds_numbers_bit_for_bit(fixtures_dir):
    files = sorted(fixtures_dir.rglob("*.c3d"))
    with_plates = 0
    for path in files:
        ours, ref = _both(path)
        assert len(ours) == len(ref), path
        if ref:
            with_plates += 1
            _assert_same(ours, ref, exact=True)
    assert with_plates >= 3  # the gaitalytics and ESMAC files carry plates


def _tilted_corners(centre, angle_deg, size=(400.0, 600.0), z=5.0):
    """Corners of a plate rotated about z (corner 1 at +x +y of the plate, then -x +y, -x -y, +x -y)."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    hx, hy = size[0] / 2, size[1] / 2
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    xy = local @ rot.T + np.asarray(centre)
    return np.column_stack([xy, np.full(4, z)])  # (4, 3)


def _write_plates(path, plate_types, *, cal_matrix=None, cop_poly=None, origin_z=40.0, units="mm", seed=0):
    """A file whose analog channels carry random loads for plates of the given types."""
    rng = np.random.default_rng(seed)
    n_analog = 400
    analogs, channels = {}, []
    for k, ptype in enumerate(plate_types, start=1):
        n_ch = 8 if ptype == 3 else 6
        first = len(analogs) + 1
        for j in range(n_ch):
            x = rng.normal(0.0, 50.0, n_analog)
            if (ptype in (2, 4) and j == 2) or (ptype == 3 and j >= 4) or (ptype == 1 and j == 2):
                x = x - 800.0  # a loaded plate: vertical channels well away from 0
            analogs[f"P{k}c{j}"] = x
        channels.append(list(range(first, first + n_ch)) + [0] * (8 - n_ch))
    path = write_c3d(path, point_rate=100.0, n_frames=n_analog // 10, points={"M": np.ones((n_analog // 10, 3))},
                     point_units=units, analog_rate=1000.0, analogs=analogs)
    c = ezc3d.c3d(str(path))
    n = len(plate_types)
    corners = np.stack([_tilted_corners((300.0 * k, 100.0 * k), 7.0 * k + 3.0) for k in range(n)])  # (n, 4, 3)
    _int_parameter(c, "FORCE_PLATFORM", "USED", [n])
    _int_parameter(c, "FORCE_PLATFORM", "TYPE", list(plate_types))
    c.add_parameter("FORCE_PLATFORM", "CORNERS", np.transpose(corners, (2, 1, 0)))
    origins = np.array([[1.5 * (k + 1), -2.0 * (k + 1), origin_z] for k in range(n)])
    c.add_parameter("FORCE_PLATFORM", "ORIGIN", origins.T)
    _int_parameter(c, "FORCE_PLATFORM", "CHANNEL", np.asarray(channels).T)
    if cal_matrix is not None:
        c.add_parameter("FORCE_PLATFORM", "CAL_MATRIX", cal_matrix)
    if cop_poly is not None:
        c.add_parameter("FORCE_PLATFORM", "FPCOPPOLY", cop_poly)
    c.write(str(path))
    return path


@pytest.mark.parametrize("plate_types", [(1,), (2,), (4,), (2, 4), (1, 2, 4)])
def test_written_plates_of_types_1_2_4_give_ezc3ds_numbers_bit_for_bit(tmp_path, plate_types):
    rng = np.random.default_rng(7)
    n = len(plate_types)
    cal = np.stack([np.eye(6) + 0.05 * rng.normal(size=(6, 6)) for _ in range(n)], axis=2)  # (6, 6, n)
    path = _write_plates(tmp_path / "plates.c3d", plate_types, cal_matrix=cal)
    ours, ref = _both(path)
    _assert_same(ours, ref, exact=True)
    assert [p.type for p in ours] == list(plate_types)
    assert all(p.origin[2] <= 0 for p in ours)  # a positive ORIGIN z is flipped (sensor below the surface)


def test_type_3_kistler_plate_with_a_cop_polynomial_agrees_with_ezc3d(tmp_path):
    rng = np.random.default_rng(11)
    poly = rng.normal(0.0, 1e-7, size=(12, 2))
    path = _write_plates(tmp_path / "kistler.c3d", (3, 3), cop_poly=poly)
    ours, ref = _both(path)
    # ezc3d evaluates the polynomial with std::pow, numpy with repeated products: equal to rounding
    _assert_same(ours, ref, exact=False, rtol=1e-12)
    without = _write_plates(tmp_path / "kistler0.c3d", (3,))
    ours0, ref0 = _both(without)
    _assert_same(ours0, ref0, exact=True)


def test_units_of_the_file_are_carried_and_metres_assumed_without_point_units(tmp_path):
    path = _write_plates(tmp_path / "m.c3d", (2,), units=None)
    ours, ref = _both(path)
    assert (ours[0].unit_force, ours[0].unit_moment, ours[0].unit_position) == ("N", "Nm", "m")
    _assert_same(ours, ref, exact=True)


def test_a_known_load_gives_the_known_force_cop_and_free_moment():
    """A type-2 plate, axis-aligned (plate x = lab y, plate z down, as Vicon labs mount them): 700 N
    down on the plate at (+10, -20) mm from its centre, with a 1.5 N.m free moment."""
    n = 5
    fz, cx, cy, tz = 700.0, 10.0, -20.0, 1500.0
    # analog channels in the plate frame: Fz_plate = -700 (z down); Mx = -Fz * y... from M = r x F + Tz
    f_plate = np.array([0.0, 0.0, -fz])
    r_plate = np.array([cx, cy, 0.0])
    m_plate = np.cross(r_plate, f_plate) + np.array([0.0, 0.0, tz])
    analogs = np.tile(np.concatenate([f_plate, m_plate])[:, None], (1, n))
    # corners so that plate x = lab y, plate y = lab x, plate z = -lab z, centre at lab (1000, 500, 0) mm
    centre = np.array([1000.0, 500.0, 0.0])
    corners = np.array([[200, 300, 0], [200, -300, 0], [-200, -300, 0], [-200, 300, 0]], float) + centre
    params = {"FORCE_PLATFORM": {"USED": {"value": [1]}, "TYPE": {"value": [2]},
                                 "CORNERS": {"value": corners.T[:, :, None]},
                                 "ORIGIN": {"value": np.zeros((3, 1))},
                                 "CHANNEL": {"value": np.arange(1, 7)[:, None]}},
              "POINT": {"UNITS": {"value": ["mm"]}}}
    (plate,) = read_force_plates(params, analogs)
    frame = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]], float)  # columns: plate axes in the lab
    np.testing.assert_allclose(plate.force[:, 0], frame @ f_plate, atol=1e-9)
    assert plate.force[2, 0] == pytest.approx(fz)  # the lab sees the load pushing down: +700 N reaction up
    np.testing.assert_allclose(plate.center_of_pressure[:, 0], frame @ r_plate + centre, atol=1e-9)
    np.testing.assert_allclose(plate.free_moment[:, 0], frame @ np.array([0.0, 0.0, tz]), atol=1e-9)
    assert plate.unit_moment == "Nmm"


def test_no_plate_declared_gives_an_empty_list(tmp_path):
    path = write_c3d(tmp_path / "none.c3d", points={"M": np.ones((10, 3))})
    c = ezc3d.c3d(str(path))
    assert read_force_plates(c["parameters"], c["data"]["analogs"]) == []
    assert read_force_plates({}, np.empty((0, 0))) == []


@pytest.mark.parametrize("change, message", [
    (lambda c: _int_parameter(c, "FORCE_PLATFORM", "TYPE", [5]), "type 5"),
    (lambda c: _int_parameter(c, "FORCE_PLATFORM", "TYPE", [11]), "Kistler split-belt treadmill"),
    (lambda c: c.add_parameter("FORCE_PLATFORM", "CORNERS", np.zeros((3, 2, 1))), "CORNERS has 6 values, 12 needed"),
    (lambda c: c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.zeros((2, 1))), "ORIGIN has 2 values, 3 needed"),
    (lambda c: _int_parameter(c, "FORCE_PLATFORM", "CHANNEL", np.arange(1, 5)[:, None]), "CHANNEL is 4 x 1"),
    (lambda c: _int_parameter(c, "FORCE_PLATFORM", "TYPE", [4]), r"CAL_MATRIX has dimensions \[0\]; a type-4 plate needs a 6 x 6 matrix"),
])
def test_a_group_ezc3d_cannot_interpret_is_refused_with_the_parameter_named(tmp_path, change, message):
    path = _write_plates(tmp_path / "bad.c3d", (2,))
    c = ezc3d.c3d(str(path))
    change(c)
    c.write(str(path))
    with pytest.raises(Exception):  # the reference refuses it too
        ezc3d.c3d(str(path), extract_forceplat_data=True)
    c = ezc3d.c3d(str(path))
    with pytest.raises(ForcePlateError, match=message):
        read_force_plates(c["parameters"], c["data"]["analogs"])


def test_a_channel_outside_the_file_is_refused(tmp_path):
    path = _write_plates(tmp_path / "bad.c3d", (2,))
    c = ezc3d.c3d(str(path))
    _int_parameter(c, "FORCE_PLATFORM", "CHANNEL", np.array([1, 2, 3, 4, 5, 99])[:, None])
    c.write(str(path))
    c = ezc3d.c3d(str(path))
    with pytest.raises(ForcePlateError, match=r"analog channel\(s\) \[99\], but the file has 6"):
        read_force_plates(c["parameters"], c["data"]["analogs"])


def test_the_loaded_cop_lies_on_the_plate_and_moves_in_every_real_fixture(fixtures_dir):
    from retrogait.ingest.forceplates import loaded_cop_outside, loaded_cop_travel

    checked, travels = 0, []
    for path in sorted(fixtures_dir.rglob("*.c3d")):
        c = ezc3d.c3d(str(path))
        for plate in read_force_plates(c["parameters"], c["data"]["analogs"]):
            out = loaded_cop_outside(plate)
            if out == out:  # loaded plates only
                checked += 1
                assert out == 0.0, (path.name, plate.number, out)
                if np.ptp(np.abs(plate.force[2])) >= 100.0:  # N: the plates the adapter checks (stepped on)
                    assert plate.unit_position == "mm"
                    travels.append(loaded_cop_travel(plate))
    assert checked >= 40
    # a foot rolls over the plate: 17 mm at the least (a turn), far above the adapter's 2 mm
    assert len(travels) >= 40 and min(travels) > 15.0, sorted(travels)[:3]


def test_a_moment_unit_that_does_not_fit_puts_the_cop_off_the_plate_and_the_trial_is_refused(tmp_path):
    """Moment channels in N.mm x 1000 (e.g. N.um, or N.mm in a file whose POINT:UNITS say m): the centre
    of pressure, moment / force, lands metres from the plate; the adapter refuses the trial, naming it."""
    from retrogait.errors import DataError
    from retrogait.ingest.forceplates import loaded_cop_outside
    from tests.c3dfiles import simple_map, walking_c3d
    from tests.unit.ingest.adapters.test_c3d_maps import read_one

    path = tmp_path / "raw/S01/walk.c3d"
    walking_c3d(path)
    c = ezc3d.c3d(str(path))
    good = [loaded_cop_outside(p) for p in read_force_plates(c["parameters"], c["data"]["analogs"])]
    assert good and all(g == 0.0 for g in good)
    read_one(tmp_path, "S01/walk.c3d", simple_map())  # the plates as written are accepted
    channels = np.asarray(c["parameters"]["FORCE_PLATFORM"]["CHANNEL"]["value"]).astype(int) - 1
    analogs = np.array(c["data"]["analogs"])
    analogs[0, channels[3:5].ravel()] *= 1000.0  # Mx, My of every plate
    c["data"]["analogs"] = analogs
    c.write(str(path))
    c = ezc3d.c3d(str(path))
    bad = [loaded_cop_outside(p) for p in read_force_plates(c["parameters"], c["data"]["analogs"])]
    assert all(b > 50.0 for b in bad)  # mm
    with pytest.raises(DataError, match=r"force plate 1: .* centre of pressure lies a median \d+ mm outside"):
        read_one(tmp_path, "S01/walk.c3d", simple_map())


def test_moment_channels_that_read_almost_nothing_leave_the_cop_still_and_the_trial_is_refused(tmp_path):
    """Moment channels 1000 x too small (or unconnected): the centre of pressure, moment / force, stays at the
    point below the plate's origin, inside the plate where the outline check passes; it does not move, and
    the adapter refuses the trial, naming the plate and the map key."""
    from retrogait.errors import DataError
    from retrogait.ingest.forceplates import loaded_cop_outside, loaded_cop_travel
    from tests.c3dfiles import simple_map, walking_c3d
    from tests.unit.ingest.adapters.test_c3d_maps import read_one

    path = tmp_path / "raw/S01/walk.c3d"
    walking_c3d(path)
    c = ezc3d.c3d(str(path))
    plates = read_force_plates(c["parameters"], c["data"]["analogs"])
    assert all(loaded_cop_travel(p) > 100.0 for p in plates)  # mm: the written foot rolls over the plate
    channels = np.asarray(c["parameters"]["FORCE_PLATFORM"]["CHANNEL"]["value"]).astype(int) - 1
    analogs = np.array(c["data"]["analogs"])
    analogs[0, channels[3:5].ravel()] /= 1000.0  # Mx, My of every plate
    c["data"]["analogs"] = analogs
    c.write(str(path))
    c = ezc3d.c3d(str(path))
    plates = read_force_plates(c["parameters"], c["data"]["analogs"])
    assert all(loaded_cop_outside(p) == 0.0 for p in plates)  # inside the plate: the outline check is blind
    assert all(loaded_cop_travel(p) < 1.0 for p in plates)
    with pytest.raises(DataError, match=r"force plate 1: .* centre of pressure moves by only 0\.\d+ mm .*"
                                        r"force_plates\.use"):
        read_one(tmp_path, "S01/walk.c3d", simple_map())


def test_an_unused_plate_with_a_constant_offset_is_not_taken_for_a_foot(tmp_path):
    """A plate nobody stepped on whose vertical channel reads a constant 150 N (a zeroing error) and whose
    moments read nothing: its "COP" stands still, but no foot loaded it, so the COP checks do not apply and
    the trial is read (the checks gate on a change of the vertical force of >= 100 N, not on its peak)."""
    from retrogait.ingest.forceplates import loaded_cop_travel
    from tests.c3dfiles import simple_map, walking_c3d
    from tests.unit.ingest.adapters.test_c3d_maps import read_one

    path = tmp_path / "raw/S01/walk.c3d"
    walking_c3d(path)
    c = ezc3d.c3d(str(path))
    channels = np.asarray(c["parameters"]["FORCE_PLATFORM"]["CHANNEL"]["value"]).astype(int) - 1  # (6, plates)
    analogs = np.array(c["data"]["analogs"])
    analogs[0, channels[:, 1]] = 0.0      # plate 2: no force, no moment ...
    analogs[0, channels[2, 1]] = 150.0    # ... but a constant vertical offset
    c["data"]["analogs"] = analogs
    c.write(str(path))
    c = ezc3d.c3d(str(path))
    plate = read_force_plates(c["parameters"], c["data"]["analogs"])[1]
    fz = np.abs(plate.force[2])
    assert np.nanmin(fz) == np.nanmax(fz) >= 100.0 and loaded_cop_travel(plate) == 0.0  # N; still
    trial = read_one(tmp_path, "S01/walk.c3d", simple_map())
    assert np.allclose(np.abs(trial.forces.get("fp2_fz")), 150.0)
