"""python -m retrogait.ingest.inspect: what a channel map needs, from a C3D file written by the test."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from retrogait.ingest.inspect import describe_c3d, format_description, main
from retrogait.io import sha256_file
from tests.c3dfiles import walking_c3d, write_c3d

pytest.importorskip("ezc3d")


def test_description_lists_labels_units_plates_body_parameters_events_and_checksum(tmp_path):
    path = tmp_path / "walk.c3d"
    walking_c3d(path, emg={"R VL": "R_vastus_lateralis"}, zero_gap=("LHEE", 10, 5), mass_kg=64.0)
    info = describe_c3d(path)
    assert info["sha256"] == sha256_file(path) and info["size"] == path.stat().st_size
    assert info["point_rate_hz"] == 100.0 and info["analog_rate_hz"] == 1000.0
    heel = next(p for p in info["points"] if p["label"] == "LHEE")
    assert heel["zero_frames"] == 5 and heel["valid_pct"] < 100
    assert {"label": "R VL", "unit": "V", "force_plate": False} in info["analogs"]
    assert sum(a["force_plate"] for a in info["analogs"]) == 12 and len(info["plates"]) == 2
    assert {"parameter": "PROCESSING:Bodymass", "value": 64.0} in info["body_parameters"]
    assert info["subjects"] == ["Synth"]
    assert {e["label"] for e in info["events"]} == {"Foot Strike", "Foot Off"}
    text = format_description(info)
    for needle in ("size: ", "sha256: " + info["sha256"], "LHEE", "z5", "R VL (V)", "Fz1 (N) FP", "plate 2: type 2",
                   "PROCESSING:Bodymass: 64.0", "Left Foot Strike"):
        assert needle in text, needle


def test_emg_only_file_and_command_line(tmp_path, capsys):
    path = write_c3d(tmp_path / "emg.c3d", analogs={"EMG1": np.zeros(2000)}, analog_units={"EMG1": "mV"},
                     point_rate=100.0)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "points: 0 labels" in out and "EMG1 (mV)" in out and "force plates: 0" in out
    bad = tmp_path / "bad.c3d"
    bad.write_bytes(b"not a c3d" * 20)
    assert main([str(bad)]) == 1
    assert "cannot read C3D file" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    path = tmp_path / "walk.c3d"
    walking_c3d(path, plates=False)
    proc = subprocess.run([sys.executable, "-m", "retrogait.ingest.inspect", str(path)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "LKneeAngles" in proc.stdout and "manifest entry: size:" in proc.stdout
