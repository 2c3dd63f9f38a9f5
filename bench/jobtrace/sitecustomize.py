"""Per-process timing probe for the pipeline benchmark (bench/run_benchmarks.py).

Loaded by every Python process that has this folder on ``PYTHONPATH`` (the
snakemake main process and every ``script:`` job it starts). It does nothing
unless ``RETROGAIT_BENCH_TRACE`` names a file; then, at exit, it appends one
JSON line per process with:

* ``startup_s``: interpreter start-up before ``site`` ran (from /proc, ~10 ms
  resolution);
* ``import_s``: wall time spent inside top-level ``import`` statements
  (nested imports are not double counted; per thread), also those run lazily
  inside functions; ``import_in_stage_s`` is the part of it that happened
  while a ``retrogait.stages`` function was running;
* ``stage``/``stage_s``: the ``retrogait.stages`` entry point (any public
  function defined there) the job called
  and its wall time (so compute = ``stage_s - import_in_stage_s``);
* ``wall_s`` (process start to ``atexit``), ``cpu_user_s``/``cpu_sys_s`` of
  the process and of its waited-for children, ``maxrss_kb``.

With ``RETROGAIT_BENCH_PROFILE`` naming a folder, stage functions also run
under cProfile and dump ``<stage>-<pid>.pstats`` there.

Nothing in src/ or workflow/ knows about this file; it is benchmark tooling.
"""

from __future__ import annotations

import os

_TRACE = os.environ.get("RETROGAIT_BENCH_TRACE")

if _TRACE:  # pragma: no cover - exercised by the benchmark only
    import atexit
    import builtins
    import json
    import resource
    import sys
    import threading
    import time

    def _startup_s() -> float:
        try:
            with open("/proc/self/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            start_ticks = int(fields[19])  # field 22 overall (starttime), 20 after the ")" split
            with open("/proc/uptime") as fh:
                uptime = float(fh.read().split()[0])
            return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
        except Exception:
            return 0.0

    _T_SITE = time.time()
    _STARTUP = _startup_s()
    _STATE = {"import_s": 0.0, "import_in_stage_s": 0.0, "in_stage": False, "stage": None,
              "stage_s": None, "stage_start": None, "n_imports": 0}
    _LOCAL = threading.local()
    _orig_import = builtins.__import__
    _PATCHED = set()
    _PROFILE_DIR = os.environ.get("RETROGAIT_BENCH_PROFILE")

    def _wrap_stage(name, fn):
        def wrapper(*args, **kwargs):
            _STATE["stage"] = name
            _STATE["stage_start"] = time.time()
            _STATE["in_stage"] = True
            t0 = time.perf_counter()
            prof = None
            if _PROFILE_DIR:
                import cProfile
                prof = cProfile.Profile()
                prof.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                if prof is not None:
                    prof.disable()
                    try:
                        os.makedirs(_PROFILE_DIR, exist_ok=True)
                        prof.dump_stats(os.path.join(_PROFILE_DIR, f"{name}-{os.getpid()}.pstats"))
                    except OSError:
                        pass
                _STATE["stage_s"] = time.perf_counter() - t0
                _STATE["in_stage"] = False

        wrapper.__name__ = getattr(fn, "__name__", name)
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        wrapper.__wrapped__ = fn
        return wrapper

    def _patch_stages():
        mod = sys.modules.get("retrogait.stages")
        if mod is None or "retrogait.stages" in _PATCHED:
            return
        _PATCHED.add("retrogait.stages")
        import inspect

        # every public function defined in retrogait.stages (also those missing from __all__)
        for name, fn in list(vars(mod).items()):
            if (not name.startswith("_") and inspect.isfunction(fn)
                    and getattr(fn, "__module__", "") == "retrogait.stages"):
                setattr(mod, name, _wrap_stage(name, fn))

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        depth = getattr(_LOCAL, "depth", 0)
        if depth:
            _LOCAL.depth = depth + 1
            try:
                return _orig_import(name, globals, locals, fromlist, level)
            finally:
                _LOCAL.depth = depth
        _LOCAL.depth = 1
        t0 = time.perf_counter()
        try:
            return _orig_import(name, globals, locals, fromlist, level)
        finally:
            dt = time.perf_counter() - t0
            _LOCAL.depth = 0
            _STATE["import_s"] += dt
            _STATE["n_imports"] += 1
            if _STATE["in_stage"]:
                _STATE["import_in_stage_s"] += dt
            if "retrogait.stages" not in _PATCHED and "retrogait.stages" in sys.modules:
                _patch_stages()

    builtins.__import__ = _import

    def _write():
        t_end = time.time()
        ru_self = resource.getrusage(resource.RUSAGE_SELF)
        ru_ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        script = sys.argv[0] if sys.argv else ""
        rec = {
            "pid": os.getpid(), "ppid": os.getppid(), "argv0": script,
            "argv": sys.argv[:8],
            "start": _T_SITE - _STARTUP, "t_site": _T_SITE, "end": t_end,
            "startup_s": round(_STARTUP, 4), "wall_s": round(t_end - _T_SITE + _STARTUP, 4),
            "import_s": round(_STATE["import_s"], 4), "n_imports": _STATE["n_imports"],
            "import_in_stage_s": round(_STATE["import_in_stage_s"], 4),
            "stage": _STATE["stage"], "stage_start": _STATE["stage_start"],
            "stage_s": None if _STATE["stage_s"] is None else round(_STATE["stage_s"], 4),
            "cpu_user_s": round(ru_self.ru_utime, 3), "cpu_sys_s": round(ru_self.ru_stime, 3),
            "children_cpu_s": round(ru_ch.ru_utime + ru_ch.ru_stime, 3),
            "maxrss_kb": ru_self.ru_maxrss, "children_maxrss_kb": ru_ch.ru_maxrss,
        }
        try:
            with open(_TRACE, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
        except OSError:
            pass

    atexit.register(_write)
