"""The scaling arithmetic of bench/run_benchmarks.py (the benchmark itself is run by `make bench`, not here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "run_benchmarks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("run_benchmarks", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_growth_is_judged_on_the_worst_step_of_the_curve(bench):
    points = [{"subjects": 3, "wall_s": 30.0, "peak_rss_mb": 400.0},
              {"subjects": 12, "wall_s": 60.0, "peak_rss_mb": 400.0},     # 2x the time for 4x the subjects
              {"subjects": 48, "wall_s": 360.0, "peak_rss_mb": 800.0}]    # 6x the time for 4x: super-linear
    out = bench.growth_ratios(points)
    assert [s["wall"] for s in out["steps"]] == [0.5, 1.5]
    # end to end the curve looks linear (12x for 16x the subjects), the 12 -> 48 step is not
    assert out["wall_growth_per_subject_growth"] == 1.5
    assert out["rss_growth_per_subject_growth"] == 0.5
    assert bench.growth_ratios(points[:1]) == {}


def _measures(n_subjects: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for s in range(n_subjects):
        for condition, speed in (("FW_0.6", 0.6), ("BW_0.6", 0.6)):
            for cycle in range(4):
                rows.append({"subject": f"AB0{s + 1}", "condition": condition, "measure": "stance_pct",
                             "value": 60 + s + rng.normal(0, 1)})
                rows.append({"subject": f"AB0{s + 1}", "condition": condition, "measure": "walking_speed",
                             "value": speed})
    return pd.DataFrame(rows)


def test_more_subjects_adds_shifted_copies_and_leaves_design_values_alone(bench):
    base = _measures()
    out = bench._more_subjects(base, 8)
    assert out["subject"].nunique() == 8
    assert out["subject"].tolist()[:len(base)] == base["subject"].tolist()  # the originals first, untouched
    pd.testing.assert_frame_equal(out.iloc[:len(base)], base)
    copy = out[out["subject"] == "AB01c2"]
    orig = base[base["subject"] == "AB01"]
    shift = copy["value"].to_numpy() - orig["value"].to_numpy()
    stance = (copy["measure"] == "stance_pct").to_numpy()
    assert np.ptp(shift[stance]) < 1e-9 and abs(shift[stance][0]) > 0  # one subject offset per measure
    assert np.all(shift[~stance] == 0)  # treadmill speed is fixed by the design: never shifted
    # the same seed gives the same copies (a rerun of the benchmark fits the same data)
    pd.testing.assert_frame_equal(out, bench._more_subjects(base, 8))


def test_copies_are_declared_as_datasets_of_their_own(bench, tmp_path):
    replica = tmp_path / "ProcessedData.zip"
    replica.write_bytes(b"zip")
    mirror = tmp_path / "mirror"
    out = bench.copies_overrides({"path": replica, "params": {"subjects": list(bench_subjects())}},
                                 mirror, tmp_path / "scratch", 4)
    assert out["datasets"] == ["gt23", "gt23-copy2", "gt23-copy3", "gt23-copy4"]
    import yaml

    manifest = yaml.safe_load(Path(out["manifest"]).read_text())
    assert all(manifest["datasets"][i]["adapter"] == "gt23" for i in out["datasets"])
    assert all((mirror / i / "ProcessedData.zip").read_bytes() == b"zip" for i in out["datasets"][1:])
    assert out["external_folders"] == [str(tmp_path / "scratch")] and "dataset_options" not in out


def bench_subjects():
    from tests import replica_gt23

    return replica_gt23.SUBJECTS


def test_a_full_run_starts_empty_and_a_run_that_found_nothing_to_do_is_not_a_measurement(bench, tmp_path):
    work = tmp_path / "pipeline"
    (work / "reports").mkdir(parents=True)
    (work / "reports" / "report.html").write_text("a kept scratch folder's previous report")
    assert bench.fresh_workdir(work) == work and list(work.iterdir()) == []
    (work / "reports").mkdir()
    (work / "reports" / "report.html").write_text("made by this run")
    done = {"returncode": 0, "nothing_to_be_done": False}
    assert bench.full_run_ok(done, work)
    assert not bench.full_run_ok({**done, "nothing_to_be_done": True}, work)   # a no-op, not a pipeline time
    assert not bench.full_run_ok({**done, "returncode": 1}, work)
