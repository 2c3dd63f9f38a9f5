"""Persistent worker: gaitalytics' per-trial processing (run with bench/.venv-gaitalytics).

Same protocol as ``c3d_worker_retrogait.py``. Steps timed per request, with
the public API of gaitalytics (``gaitalytics.api``, version in the ready
reply) and the mapping ``bench/gaitalytics_config.yaml``:

* ``load``: ``api.load_c3d_trial`` (pyomeca/ezc3d: all markers, all analog
  channels incl. EMG and force-plate channels, the model outputs listed in
  the config (knee/ankle angles, knee moments, GRF), stored events);
* ``detect``: ``api.detect_events`` (marker-based, Zeni et al. 2008) and
  ``api.check_events`` (event-sequence check); the detected events replace
  the stored ones (retrogait also finds its own events);
* ``segment``: ``api.segment_trial`` (foot strike to foot strike per side);
* ``normalise``: ``api.time_normalise_trial(n_frames=101)`` (linear, every
  category: markers, analogs, model outputs).

If detection or its check fails, the stored events are used for
segmentation and the reply says so (``events_used``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

_t0 = time.perf_counter()
_proto = os.fdopen(os.dup(1), "w", buffering=1)
sys.stdout = sys.stderr

from gaitalytics import api  # noqa: E402

IMPORT_S = time.perf_counter() - _t0


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("gaitalytics")
    except Exception:  # pragma: no cover
        return "unknown"


def main() -> None:
    config_path = sys.argv[1]
    t = time.perf_counter()
    config = api.load_config(config_path)
    warnings.simplefilter("ignore")
    _proto.write(json.dumps({"ready": True, "import_s": IMPORT_S, "setup_s": time.perf_counter() - t,
                             "gaitalytics": _version(), "python": sys.version.split()[0]}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            t0 = time.perf_counter()
            trial = api.load_c3d_trial(req["path"], config)
            t1 = time.perf_counter()
            events_used = "detected"
            note = ""
            try:
                ev = api.detect_events(trial, config)
                api.check_events(ev)
                trial.events = ev
            except Exception as exc:
                events_used = "stored"
                note = f"{type(exc).__name__}: {exc}"[:300]
            t2 = time.perf_counter()
            cycles = api.segment_trial(trial)
            t3 = time.perf_counter()
            norm = api.time_normalise_trial(cycles, n_frames=101)
            t4 = time.perf_counter()
            n_cycles = {ctx: len(c) for ctx, c in norm.get_all_cycles().items()}
            out = {"load": t1 - t0, "detect": t2 - t1, "segment": t3 - t2, "normalise": t4 - t3,
                   "events_used": events_used, "note": note, "cycles": n_cycles,
                   "cycles_total": int(sum(n_cycles.values())),
                   "shapes": {k.name: list(v.shape) for k, v in trial.get_all_data().items()}}
        except Exception as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        _proto.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
