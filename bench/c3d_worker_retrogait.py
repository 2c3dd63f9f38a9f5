"""Persistent worker: retrogait's per-trial C3D processing (run with the project's .venv).

Protocol (driven by ``run_benchmarks.py --only c3d``): one JSON request per
stdin line, one JSON reply per stdout line. The first reply reports the
import and set-up time. Each request ``{"path", "relpath", "dataset"}``
processes one C3D file and replies with the wall time of every step:

* ``read``: ``C3DAdapter.read_file`` (ezc3d, force plates from the analogs,
  model outputs with unit conversion, markers, force plates, EMG channels,
  stored events, sha256 of the file, canonical ``Trial``);
* ``events``: ``events.find_cycles`` alone (force-plate events, kinematic
  fallback, stored events, event-sequence QC) -- for the breakdown only;
* ``process``: ``cycles.process_subject([trial])`` (events + cycle QC, EMG
  channel QC and linear envelopes, segmentation and time normalisation to
  101 nodes over stride and stance, EMG amplitude normalisation);
* ``process_noemg``: the same on the trial without its EMG stream (the steps
  gaitalytics does: no EMG filtering).
"""

from __future__ import annotations

import json
import os
import sys
import time

_t0 = time.perf_counter()
_proto = os.fdopen(os.dup(1), "w", buffering=1)
sys.stdout = sys.stderr  # libraries must not write into the protocol stream

import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import ezc3d  # noqa: E402,F401
from retrogait.config import load_yaml  # noqa: E402
from retrogait.gait.cycles import CycleSettings, process_subject  # noqa: E402
from retrogait.gait.events import find_cycles  # noqa: E402
from retrogait.runconfig import load_run  # noqa: E402

IMPORT_S = time.perf_counter() - _t0


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    t = time.perf_counter()
    base = load_yaml(root / "config" / "config.yaml")
    runs: dict[str, object] = {}

    def adapter(dataset: str):
        if dataset not in runs:
            cfg = dict(base)
            cfg["datasets"] = [dataset]
            runs[dataset] = load_run(cfg, root=root)
        return runs[dataset].adapter(dataset), CycleSettings.from_config(runs[dataset].config)

    _proto.write(json.dumps({"ready": True, "import_s": IMPORT_S, "setup_s": time.perf_counter() - t,
                             "python": sys.version.split()[0]}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("profile"):
            _proto.write(json.dumps(_profile(req, adapter)) + "\n")
            continue
        try:
            ad, settings = adapter(req["dataset"])
            out: dict[str, object] = {}
            t0 = time.perf_counter()
            trial = ad.read_file(Path(req["path"]), relpath=req["relpath"], subject="bench")
            t1 = time.perf_counter()
            res = find_cycles(trial, params=settings.events)
            t2 = time.perf_counter()
            tables = process_subject([trial], settings=settings)
            t3 = time.perf_counter()
            bare = dataclasses.replace(trial, emg=None)
            tables_noemg = process_subject([bare], settings=settings)
            t4 = time.perf_counter()
            cyc = tables["cycles"]
            out = {"read": t1 - t0, "events": t2 - t1, "process": t3 - t2, "process_noemg": t4 - t3,
                   "cycles_kept": int((cyc["qc_status"] == "kept").sum()),
                   "cycles_total": int(len(cyc)),
                   "event_methods": sorted(set(cyc.loc[cyc["qc_status"] == "kept", "event_method"])),
                   "waveform_rows": int(len(tables["waveforms"])),
                   "waveform_rows_noemg": int(len(tables_noemg["waveforms"])),
                   "emg_channels": 0 if trial.emg is None else int(trial.emg.frame.shape[1] - 1),
                   "find_cycles_kept": int((res.cycles["qc_status"] == "kept").sum()) if len(res.cycles) else 0}
        except Exception as exc:  # reported, not raised: the controller records why
            out = {"error": f"{type(exc).__name__}: {exc}"}
        _proto.write(json.dumps(out) + "\n")


def _profile(req, adapter) -> dict:
    """cProfile of read + process_subject on one file: top functions (own and cumulative time)."""
    import cProfile
    import pstats

    ad, settings = adapter(req["dataset"])
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(int(req.get("profile", 1))):
        trial = ad.read_file(Path(req["path"]), relpath=req["relpath"], subject="bench")
        process_subject([trial], settings=settings)
    prof.disable()
    st = pstats.Stats(prof)
    rows = [(f"{Path(fn).parent.name}/{Path(fn).name}:{ln}({name})", nc, tt, ct)
            for (fn, ln, name), (cc, nc, tt, ct, _) in st.stats.items()]
    total = st.total_tt
    skip = ("<module>", "run", "wrapper", "__call__")
    cum = [r for r in sorted(rows, key=lambda r: -r[3]) if not r[0].endswith(tuple(f"({s})" for s in skip))]
    fmt = lambda r: {"function": r[0], "calls": r[1], "own_s": round(r[2], 4), "cumulative_s": round(r[3], 4)}
    return {"total_s": round(total, 4), "reps": int(req.get("profile", 1)),
            "top_cumulative": [fmt(r) for r in cum[:25]], "top_own": [fmt(r) for r in sorted(rows, key=lambda r: -r[2])[:15]]}


if __name__ == "__main__":
    main()
