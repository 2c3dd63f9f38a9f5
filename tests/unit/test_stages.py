"""Stage functions on a dataset of partial C3D files (EMG only): no crash, and what is missing is said."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from retrogait.acquire.manifest import DatasetSpec, RawFile
from retrogait.ingest.adapters import make_adapter
from retrogait.ingest.trial import write_subject
from retrogait.stages import combine_dataset, cycles_subject
from tests.c3dfiles import simple_map, walking_c3d

pytest.importorskip("ezc3d")

CYCLE_FILES = ["cycles", "events_used", "waveforms", "emg_quality", "emg_references", "trial_notes", "measures"]
DATASET_TABLES = ["trials", "cycles", "waveforms", "measures", "subject_means", "emg_quality", "emg_references"]


def _subject(root, subject: str, files: list[str], cmap: dict) -> dict[str, str]:
    (root / "map.yaml").write_text(yaml.safe_dump(cmap))
    spec = DatasetSpec(id="lab", title="t", citation="c", licence="l", adapter="c3d", options={"map": "map.yaml"},
                       files=tuple(RawFile(path=f) for f in files))
    trials = make_adapter(spec, root=root).read_subject(subject, root / "raw")
    folder = root / "processed" / subject
    write_subject(trials, folder)
    outs = [str(folder / f"{n}.parquet") for n in CYCLE_FILES]
    cycles_subject({}, subject_dir=folder, outputs=outs)
    return {n: str(folder / f"{n}.parquet") for n in [*CYCLE_FILES, "trials"]}


def test_dataset_of_emg_only_files_combines_and_warns_about_a_label_found_in_no_file(tmp_path, capsys):
    emg = {"RVL": "R_vastus_lateralis", "R VastusLat": "R_vastus_medialis"}
    cmap = simple_map(emg={"RVL": {"muscle": "VL", "side": "R"},
                           "R Vastus Lat": {"muscle": "vastus medialis", "side": "R"}})  # misspelt label
    parts = []
    for subject in ("S01", "S02"):
        walking_c3d(tmp_path / f"raw/{subject}/emg.c3d", points=False, plates=False, emg=emg, stored_events=False)
        parts.append(_subject(tmp_path, subject, [f"{subject}/emg.c3d"], cmap))
    inputs = {n: [p[n] for p in parts] for n in ["trials", "trial_notes", "cycles", "waveforms", "measures",
                                                 "emg_quality", "emg_references"]}
    outputs = [str(tmp_path / "out" / f"{n}.parquet") for n in DATASET_TABLES]
    combine_dataset(inputs=inputs, outputs=outputs)   # no KeyError: 'qc_status'
    err = capsys.readouterr().err
    assert ("retrogait warning: dataset 'lab': EMG channel 'R Vastus Lat' of the channel map is in none of its 2 "
            "file(s), so that muscle is not analysed; did you mean 'R VastusLat'?") in err
    assert "'RVL'" not in err
    means = pd.read_parquet(tmp_path / "out" / "subject_means.parquet")
    measures = pd.read_parquet(tmp_path / "out" / "measures.parquet")
    assert means.empty and {"measure", "mean"} <= set(means.columns) and "qc_status" in measures.columns
    trials = pd.read_parquet(tmp_path / "out" / "trials.parquet")
    assert trials["n_cycles_kept"].tolist() == [0, 0] and trials["missing_emg"].tolist() == ["R Vastus Lat"] * 2
