"""Small generated inputs and stage runners for the reliability tests.

Everything here is written by the tests themselves: tiny GT23 replica members
(``tests/replica_gt23.py``), C3D files written with ezc3d, YAML and CSV
files. The stages are called as the Snakemake jobs call them
(:mod:`retrogait.stages`), so an error a user would see is the error tested.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrogait.config import load_yaml

REPO = Path(__file__).resolve().parents[2]

#: The two GT23 trials the small replica has: forward and backward at 0.6 m/s.
FW, BW = "normal_walk_1_0-6", "walk_backward_1_0-6"
SUBJECT_FILES = ["trials", "kinematics", "forces", "emg", "events", "plates"]
# the tables of the cycles job (workflow/rules/common.smk CYCLE_FILES), per-cycle measures included
CYCLE_FILES = ["cycles", "events_used", "waveforms", "emg_quality", "emg_references", "trial_notes", "measures"]
#: A line planted in files outside the project: no error message may ever show it.
SECRET = "TOP-SECRET-LINE root:x:0:0"


def base_config(tmp: Path, **overrides) -> dict:
    """The shipped config, with ``tmp`` as an allowed external folder and fast fetch settings."""
    cfg = load_yaml(REPO / "config" / "config.yaml")
    cfg["external_folders"] = [str(tmp)]
    cfg["fetch"] = {**cfg["fetch"], "retries": 1, "backoff_s": 0.01, "timeout_s": 10, "parallel": 2,
                    "progress": False}
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


def gt23_config(tmp: Path, mirror: Path, *, subjects=("AB01",), trials=(FW, BW), **overrides) -> dict:
    cfg = base_config(tmp, **overrides)
    cfg["datasets"] = ["gt23"]
    cfg["mirror"] = str(mirror)
    cfg["dataset_options"] = {"gt23": {**cfg["dataset_options"]["gt23"], "subjects": list(subjects),
                                       "trials": list(trials)}}
    return cfg


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def repo_manifest() -> dict:
    return copy.deepcopy(load_yaml(REPO / "config" / "datasets.yaml"))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_under(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative paths), or [] when it does not exist."""
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
        if folder.exists() else []


def no_temporaries(folder: Path) -> list[str]:
    """Half-written files anywhere under ``folder`` (atomic-write temporaries, partial downloads)."""
    return [f for f in files_under(folder) if f.endswith((".part", ".out", ".zpart")) or "/.partial/" in f
            or f.startswith(".partial/")]


def expect_error(exc_type, fn: Callable[[], object], *must: str, absent: Iterable[Path] = (),
                 never: Iterable[str] = (SECRET,)) -> str:
    """Run ``fn``; it must raise ``exc_type`` whose message holds every string of ``must``.

    Every path of ``absent`` must not exist (a folder: must hold no file):
    no partial output is left. No string of ``never`` may appear in the
    message (the contents of a file that failed validation).
    """
    with pytest.raises(exc_type) as err:
        fn()
    msg = str(err.value)
    lacking = [m for m in must if m not in msg]
    assert not lacking, f"the message lacks {lacking}:\n{msg}"
    assert "Traceback" not in msg
    for s in never:
        assert s not in msg, f"the message shows file contents ({s!r}):\n{msg}"
    for path in absent:
        path = Path(path)
        left = files_under(path) if path.is_dir() else ([path.name] if path.exists() else [])
        assert not left, f"partial output left in {path}: {left}"
    return msg


# ---------------------------------------------------------------------------
# GT23: a mirror of loose members, mutated per case, and the stages
# ---------------------------------------------------------------------------

def member(mirror: Path, subject: str, trial: str, suffix: str) -> Path:
    return mirror / "gt23" / subject / trial / f"{subject}_{trial}_{suffix}.csv"


def copy_mirror(replica: Path, dest: Path, subjects: Iterable[str] = ("AB01",)) -> Path:
    """A loose-member mirror ``dest/gt23/<subject>/...`` holding a copy of the replica's subjects."""
    for s in subjects:
        shutil.copytree(replica / s, dest / "gt23" / s)
    return dest


def edit_csv(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite a replica CSV after ``change`` (NaN written as an empty field, as GT23 does)."""
    df = pd.read_csv(path, encoding="utf-8-sig")
    change(df).to_csv(path, index=False, na_rep="")


def edit_text(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")


class Stages:
    """Paths and calls of one subject's stages, as the Snakemake jobs make them."""

    def __init__(self, work: Path, config: dict, dataset: str, subject: str):
        self.work, self.config, self.dataset, self.subject = work, config, dataset, subject
        self.raw = work / "data" / "raw" / dataset
        self.provenance = self.raw / ".provenance" / f"{subject}.json"
        self.subject_dir = work / "data" / "processed" / dataset / "subjects" / subject
        self.ingest_outputs = [self.subject_dir / f"{n}.parquet" for n in SUBJECT_FILES]
        self.cycle_outputs = [self.subject_dir / f"{n}.parquet" for n in CYCLE_FILES]

    def fetch(self):
        from retrogait.stages import fetch_subject

        return fetch_subject(self.config, dataset=self.dataset, subject=self.subject, output=self.provenance,
                             root=REPO, environ={})

    def ingest(self):
        from retrogait.stages import ingest_subject

        return ingest_subject(self.config, dataset=self.dataset, subject=self.subject, provenance=self.provenance,
                              outputs=self.ingest_outputs, root=REPO)

    def cycles(self):
        from retrogait.stages import cycles_subject

        return cycles_subject(self.config, subject_dir=self.subject_dir, outputs=self.cycle_outputs)

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.subject_dir / f"{name}.parquet")


# ---------------------------------------------------------------------------
# C3D: tiny files written with ezc3d, a channel map and a manifest entry
# ---------------------------------------------------------------------------

def write_c3d(path: Path, *, frames: int = 300, rate: float = 100.0, mass: float = 70.0) -> Path:
    """A small C3D: knee angles of both sides (sinusoids), one EMG channel, body mass."""
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("LKneeAngles", "RKneeAngles")
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    pts = np.zeros((4, 2, frames))
    t = np.arange(frames) / rate
    pts[0, 0] = 30 + 30 * np.sin(2 * np.pi * t)
    pts[0, 1] = 30 + 30 * np.sin(2 * np.pi * t + np.pi)
    c["data"]["points"] = pts
    c["parameters"]["ANALOG"]["RATE"]["value"] = [10 * rate]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG1",)
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ["V"]
    c["data"]["analogs"] = np.random.default_rng(0).normal(size=(1, 1, frames * 10)) * 1e-4
    c.add_parameter("PROCESSING", "Bodymass", [mass])
    path.parent.mkdir(parents=True, exist_ok=True)
    c.write(str(path))
    return path


C3D_MAP = {
    "subject": {"from": "manifest"},
    "conditions": [{"match": "walk", "condition": "walk"}],
    "design": {"direction": "FW", "surface": "overground", "speed_mps": None},
    "body": {"mass": {"parameter": "PROCESSING:Bodymass", "unit": "kg"}},
    "model_outputs": [{"label": "{side}KneeAngles", "component": 0, "variable": "knee_flexion", "unit": "deg"}],
    "markers": {},
    "emg": {"channels": {"EMG1": {"muscle": "vastus_lateralis", "side": "R"}}},
}


def c3d_dataset(tmp: Path, files: dict[str, Path], *, url: Callable[[str, Path], str] | None = None,
                subject: str = "S01", map_data: dict | None = None, dataset: str = "labc3d") -> tuple[Path, dict]:
    """A manifest (the shipped one plus ``dataset``) declaring ``files`` ({raw path: source file}).

    Returns the manifest path and the config (datasets = [dataset]).
    """
    map_path = write_yaml(tmp / "maps" / f"{dataset}.yaml", map_data or C3D_MAP)
    manifest = repo_manifest()
    manifest["datasets"][dataset] = {
        "title": "a small C3D test dataset", "citation": "written by the reliability tests",
        "licence": "CC0-1.0", "adapter": "c3d", "options": {"map": str(map_path)},
        "files": [{"path": rel, "url": url(rel, src) if url else src.resolve().as_uri(),
                   "size": src.stat().st_size, "sha256": sha256(src), "subject": subject}
                  for rel, src in files.items()]}
    path = write_yaml(tmp / "datasets.yaml", manifest)
    cfg = base_config(tmp, datasets=[dataset], manifest=str(path))
    return path, cfg
