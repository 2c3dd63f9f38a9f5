"""End to end: datasets of partial C3D files (EMG only beside complete recordings) run to a report.

Dataset ``mixlab``: subject S01 has one complete recording (gaitalytics'
test_small.c3d: markers, Plug-in Gait outputs, 4 plates, EMG) and one
EMG-only file; subject S02 has an EMG-only file only. Dataset ``emgonly``:
every file is EMG-only, so it has no measure at all (this crashed combine
with ``KeyError: 'qc_status'``). The EMG-only files are written by the test
with ezc3d (tests/c3dfiles.py); the manifest and the channel map are the
ones a user would write. The partial files must be listed in the report's
QC section with what they lack, and a misspelt EMG label found in no file
must be a console warning.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from retrogait.io import sha256_file
from tests.c3dfiles import walking_c3d

from .workflow import REPO, run_workflow

pytestmark = [pytest.mark.integration, pytest.mark.fixtures]

EMG = {"Voltage.RRF": "R_rectus_femoris", "Voltage.LRF": "L_rectus_femoris"}


def _map() -> dict:
    cmap = yaml.safe_load((REPO / "config" / "maps" / "gaitalytics.yaml").read_text())
    cmap["subject"] = {"pattern": "^(?P<subject>[^/]+)/"}
    # the EMG-only files are a second condition, so subject S01 has both levels of the contrast by
    # design, but no kept cycle at 'run' (no events without kinematics or forces): nothing is testable
    cmap["conditions"] = [{"match": "emg_only", "condition": "run"}, {"match": ".", "condition": "walk"}]
    # a misspelt label: in no file of the dataset (a console warning, with the label it resembles)
    cmap["emg"]["channels"]["Voltage.RVL_"] = cmap["emg"]["channels"].pop("Voltage.RVL")
    return cmap


def _entry(mirror, dataset: str, files: list[str], cmap_path) -> dict:
    return {"title": f"{dataset} (test)", "citation": "test data written by tests/integration", "licence": "MIT",
            "adapter": "c3d", "options": {"map": str(cmap_path)},
            "files": [{"path": f, "url": f"https://example.invalid/{dataset}/{f}",
                       "size": (mirror / dataset / f).stat().st_size,
                       "sha256": sha256_file(mirror / dataset / f)} for f in files]}


@pytest.fixture(scope="module")
def partial(tmp_path_factory, fixtures_dir):
    work = tmp_path_factory.mktemp("partial")
    mirror = work / "mirror"
    (mirror / "mixlab" / "S01").mkdir(parents=True)
    shutil.copy(fixtures_dir / "gaitalytics" / "test_small.c3d", mirror / "mixlab" / "S01" / "complete.c3d")
    for path in (mirror / "mixlab/S01/emg_only.c3d", mirror / "mixlab/S02/emg_only.c3d",
                 mirror / "emgonly/S01/emg_only.c3d"):
        walking_c3d(path, points=False, plates=False, emg=EMG, stored_events=False)
    cmap_path = work / "maps" / "mixlab.yaml"
    cmap_path.parent.mkdir()
    cmap_path.write_text(yaml.safe_dump(_map()))
    manifest = {"datasets": {
        "mixlab": _entry(mirror, "mixlab", ["S01/complete.c3d", "S01/emg_only.c3d", "S02/emg_only.c3d"], cmap_path),
        "emgonly": _entry(mirror, "emgonly", ["S01/emg_only.c3d"], cmap_path)}}
    (work / "datasets.yaml").write_text(yaml.safe_dump(manifest))
    overrides = {"datasets": ["mixlab", "emgonly"], "manifest": str(work / "datasets.yaml"),
                 "external_folders": [str(work)],
                 "stats": {"bootstrap": {"n": 99, "seed": 5},
                           "contrasts": [{"id": "walk_vs_run", "factor": "condition", "levels": ["walk", "run"],
                                          "label": "Walk vs run (no kept cycle at run)"}]},
                 "claims": None, "meta_analysis": {"literature": None, "contrasts": []}}
    proc = run_workflow(work, overrides=overrides, env={"RETROGAIT_MIRROR": str(mirror)})
    return work, proc


def test_workflow_completes_with_partial_files_listed_in_qc(partial):
    work, _ = partial
    html = (work / "reports" / "report.html").read_text(encoding="utf-8")
    assert "Partial trials: what each has and lacks" in html and "What ingest noticed, per trial" in html
    qc = html[html.index(">Quality control</h2>"):]
    for cells in (("mixlab", "S01", "emg_only", "emg", "kinematics, forces"),
                  ("mixlab", "S02", "emg_only", "emg", "kinematics, forces"),
                  ("emgonly", "S01", "emg_only", "emg", "kinematics, forces")):
        trial_row = "".join(f"<td class='txt'>{c}</td>" for c in cells)  # text cells: left-aligned, wrapping
        assert trial_row in qc, trial_row
    assert "LKneeAngles, RKneeAngles" in qc  # what the EMG-only files lack, named
    assert "C3D parameter PROCESSING:Bodymass" in qc  # where each trial's mass came from
    trials = pd.read_parquet(work / "data/processed/mixlab/trials.parquet").set_index("trial", drop=False)
    assert len(trials) == 3
    complete = trials[trials["source_files"] == "S01/complete.c3d"].iloc[0]
    assert complete["n_cycles_kept"] > 0 and complete["missing_emg"] == "Voltage.RVL_"
    measures = pd.read_parquet(work / "data/processed/mixlab/measures.parquet")
    assert set(measures["trial"]) == {"complete"} and (measures["qc_status"] == "kept").any()
    empty = pd.read_parquet(work / "data/processed/emgonly/measures.parquet")
    assert empty.empty and "qc_status" in empty.columns


def test_a_mapped_emg_label_in_no_file_is_a_console_warning(partial):
    _, proc = partial
    assert ("dataset 'mixlab': EMG channel 'Voltage.RVL_' of the channel map is in none of its 3 file(s), so that "
            "muscle is not analysed; did you mean 'Voltage.RVL'?") in proc.stderr


def test_summary_says_nothing_could_be_tested(partial):
    work, _ = partial
    html = (work / "reports" / "report.html").read_text(encoding="utf-8")
    summary = html[:html.index(">Quality control</h2>")]
    assert "Walk vs run (no kept cycle at run)" in summary
    assert ("Walk vs run (no kept cycle at run): not testable on the data of this run: no subject has measures of "
            "kept cycles at both condition = walk and run") in summary
    assert "measures tested in family" not in html
