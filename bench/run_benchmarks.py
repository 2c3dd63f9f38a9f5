#!/usr/bin/env python
"""retrogait benchmarks: the "Numbers to reach" of the design (architecture.md).

    python bench/run_benchmarks.py                       # everything (~15-25 min on 2 cores)
    python bench/run_benchmarks.py --only pipeline       # full run + no-op + diagnostics
    python bench/run_benchmarks.py --only noop           # no-op rerun only (runs the pipeline once first)
    python bench/run_benchmarks.py --only bytes          # downloaded bytes over a local HTTP server
    python bench/run_benchmarks.py --only c3d            # retrogait vs gaitalytics, per C3D trial
    python bench/run_benchmarks.py --only scaling        # full runs at 3, 12 and 48 subjects
    python bench/run_benchmarks.py --only pipeline --only stats_scaling   # stats job alone at 12 and 48
    python bench/run_benchmarks.py --only pipeline --only bootstrap       # headline run with 0 and 199 resamples
    python bench/run_benchmarks.py --subjects 2          # smaller replica (quick check, not the target)

Results go to ``bench/results/<date>-<label>.json`` (sections from earlier
runs with the same date and label are kept unless rerun) and
``bench/results/README.md`` (table: measured, target, pass/miss). Scratch
data (the replica, work directories) go to a temporary folder that is
deleted at the end unless ``--keep``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
TRACE_DIR = BENCH / "jobtrace"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
GNU_TIME = Path("/usr/bin/time")
FIXTURES = Path(os.environ.get("RETROGAIT_FIXTURES", REPO.parent / "shared" / "fixtures")).resolve()
GA_VENV = BENCH / ".venv-gaitalytics"
ARCHIVE = "ProcessedData.zip"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.replica_gt23, tests.httpserver

TARGETS = {
    "pipeline_wall_s": ("<=", 60.0, "s", "GT23-scale replica, local mirror -> report, 2 cores"),
    "noop_wall_s": ("<=", 2.0, "s", "no-op rerun"),
    "peak_rss_mb": ("<=", 1536.0, "MB", "peak RSS, largest single process (1.5 GB)"),
    "bytes_ratio": ("<=", 1.05, "x", "downloaded bytes / compressed bytes of needed members"),
    "c3d_speedup": (">=", 3.0, "x", "gaitalytics time / retrogait time, same C3D file and steps (worse file)"),
    "scaling_wall": ("<=", 1.0, "x", "scaling: wall-time growth / subject growth (<= 1: at most linear)"),
    "scaling_rss": ("<=", 1.0, "x", "scaling: peak-RSS growth / subject growth (<= 1: at most linear)"),
    "scaling_stats_wall": ("<=", 1.0, "x", "scaling of the stats job, one model over all subjects: wall growth / "
                                           "subject growth"),
    "scaling_stats_rss": ("<=", 1.0, "x", "scaling of the stats job, one model over all subjects: peak-RSS "
                                          "growth / subject growth"),
}

#: Subject counts of the scaling curve (``--only scaling``). GT23 has 12
#: subjects and the gt23 adapter refuses any other id (by design), so a point
#: above 12 is built from copies of the 12-subject replica declared as separate
#: datasets (``gt23``, ``gt23-copy2``, ...): the per-subject jobs, the DAG and
#: the dataset-level jobs grow with the subjects, but each mixed model still
#: has 12 subjects. The one-model cost at 48 subjects is measured apart
#: (:func:`bench_stats_scaling`).
SCALING_SUBJECTS = (3, 12, 48)
REPLICA_SUBJECTS = 12
SCALING_UNAVAILABLE: dict[int, str] = {}
#: Subject counts of the stats-job scaling (one dataset, one model per measure and contrast).
STATS_SCALING_SUBJECTS = (12, 48)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# machine, git
# ---------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions = {}
    for pkg in ("snakemake", "numpy", "pandas", "scipy", "pyarrow", "statsmodels", "ezc3d", "matplotlib"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version
            versions[pkg] = version(pkg)
    return {"cores": os.cpu_count(), "cpu_model": cpu, "mem_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "gnu_time": GNU_TIME.exists(), "packages": versions,
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")}


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                                  timeout=20).stdout.strip()
        except Exception:
            return ""

    status = [ln for ln in git("status", "--porcelain").splitlines() if ln.strip()]
    return {"commit": git("rev-parse", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty_files": [ln[3:] for ln in status if not ln[3:].startswith("bench/")],
            # what the measured code is: tree hashes of everything but bench/
            "trees": {p: git("rev-parse", f"HEAD:{p}") for p in ("src", "workflow", "config", "tests", "pyproject.toml")}}


# ---------------------------------------------------------------------------
# the replica
# ---------------------------------------------------------------------------

def replica_params(args) -> dict[str, Any]:
    from tests import replica_gt23 as R

    subjects = list(R.SUBJECTS[: args.subjects])
    return {"subjects": subjects, "trials": list(R.TRIALS), "duration_s": args.duration,
            "emg_rate_hz": args.emg_rate, "extra_files": True, "compresslevel": args.compresslevel, "seed": 0}


def get_replica(args, scratch: Path) -> dict[str, Any]:
    """Build (or reuse from --replica-cache) the replica; describe its members."""
    from tests import replica_gt23 as R

    params = replica_params(args)
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    folder = (Path(args.replica_cache) / f"gt23-{key}") if args.replica_cache else scratch / "replica"
    path = folder / ARCHIVE
    meta = folder / "params.json"
    build_s = None
    if path.exists() and meta.exists() and json.loads(meta.read_text()) == params:
        log(f"replica: reusing {path}")
    else:
        log(f"replica: building {len(params['subjects'])} subjects x {len(params['trials'])} trials x "
            f"{params['duration_s']} s (EMG 16 ch at {params['emg_rate_hz']:.0f} Hz) at {path}")
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        R.build_replica(path, **params)
        build_s = time.perf_counter() - t
        meta.write_text(json.dumps(params, sort_keys=True))
        log(f"replica: built in {build_s:.1f} s")
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        cd_size = path.stat().st_size - zf.start_dir
    needed = sorted(R.member_name(s, t, ft) for s in params["subjects"] for t in params["trials"]
                    for ft in R.FILE_TYPES)
    missing = [m for m in needed if m not in infos]
    if missing:
        raise RuntimeError(f"replica lacks needed members {missing[:3]}")
    emg = infos[R.member_name(params["subjects"][0], params["trials"][0], "emg")]
    with zipfile.ZipFile(path) as zf:
        with zf.open(emg) as fh:
            header = fh.readline().decode("utf-8-sig").strip().split(",")
    return {
        "path": str(path), "params": params, "build_s": build_s,
        "archive_bytes": path.stat().st_size, "members": len(infos), "needed_members": len(needed),
        "needed_compressed_bytes": sum(infos[m].compress_size for m in needed),
        "needed_uncompressed_bytes": sum(infos[m].file_size for m in needed),
        "needed_with_local_headers_bytes": sum(infos[m].compress_size + 30 + len(m.encode()) + len(infos[m].extra)
                                               for m in needed),
        "central_directory_bytes": cd_size,
        "emg_channels": len(header) - 1,
        "scale_check": {"subjects": len(params["subjects"]), "trials_per_subject": len(params["trials"]),
                        "duration_s": params["duration_s"], "emg_rate_hz": params["emg_rate_hz"],
                        "emg_channels": len(header) - 1, "kinematics_rate_hz": 200.0},
        "_needed": needed, "_infos": {m: infos[m].compress_size for m in needed},
    }


def gt23_overrides(replica: dict[str, Any]) -> dict[str, Any]:
    from tests import replica_gt23 as R

    subjects = replica["params"]["subjects"]
    if list(subjects) == list(R.SUBJECTS):
        return {}
    return {"dataset_options": {"gt23": {"subjects": list(subjects)}}}


# ---------------------------------------------------------------------------
# running snakemake with measurements
# ---------------------------------------------------------------------------

class TreePoller:
    """Poll RSS of a process tree: peak of the sum, peak of the largest process."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_sum = 0
        self.peak_single = 0
        self.peak_single_cmd = ""
        self.peak_sum_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        ps = self.psutil
        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except ps.Error:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except ps.Error:
                    continue
                total += rss
                if rss > self.peak_single:
                    self.peak_single = rss
                    with contextlib.suppress(ps.Error):
                        self.peak_single_cmd = " ".join(p.cmdline()[:3])[-160:]
            if total > self.peak_sum:
                self.peak_sum, self.peak_sum_procs = total, len(procs)
            self.samples += 1
            self._stop.wait(self.interval)


def _gnu_time(time_file: Path) -> dict[str, float]:
    """Peak RSS of the largest process (MB), user and system CPU seconds from a ``/usr/bin/time -v`` file."""
    res: dict[str, float] = {}
    if not (GNU_TIME.exists() and time_file.exists()):
        return res
    t = time_file.read_text()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    if m:
        res["gnu_time_maxrss_mb"] = round(int(m.group(1)) / 1024, 1)
    for key, pat in (("user_s", r"User time \(seconds\): ([\d.]+)"),
                     ("sys_s", r"System time \(seconds\): ([\d.]+)"),
                     ("cpu_percent", r"Percent of CPU this job got: (\d+)%")):
        m = re.search(pat, t)
        if m:
            res[key] = float(m.group(1))
    return res


def _cpu_snapshot() -> list[int] | None:
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return None


def _cpu_delta(a: list[int] | None, b: list[int] | None) -> dict[str, float]:
    """Whole-machine CPU seconds during a run: busy (all processes), idle, steal."""
    if not a or not b:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    d = [(y - x) / tick for x, y in zip(a, b)]
    user, nice, system, idle, iowait, irq, softirq, steal = d
    return {"machine_busy_s": round(user + nice + system + irq + softirq, 2), "machine_idle_s": round(idle + iowait, 2),
            "steal_s": round(steal, 2)}


def _others_busy_cores(sample_s: float = 3.0) -> float:
    """Average cores used by everything else on the machine over ``sample_s`` (this process idles)."""
    a = _cpu_snapshot()
    time.sleep(sample_s)
    b = _cpu_snapshot()
    d = _cpu_delta(a, b)
    return d.get("machine_busy_s", 0.0) / sample_s if d else 0.0


WAIT_QUIET = {"timeout_s": 0.0, "max_cores": 0.25}


def wait_quiet(what: str) -> dict[str, Any]:
    """Wait (up to --wait-quiet s) until other processes use < max_cores; say what was found."""
    t0 = time.time()
    busy = _others_busy_cores()
    while busy > WAIT_QUIET["max_cores"] and time.time() - t0 < WAIT_QUIET["timeout_s"]:
        log(f"{what}: machine busy ({busy:.2f} cores used by other processes), waiting")
        time.sleep(10)
        busy = _others_busy_cores()
    return {"others_busy_cores_before": round(busy, 2), "waited_s": round(time.time() - t0, 1),
            "quiet": busy <= WAIT_QUIET["max_cores"]}


def run_snakemake(workdir: Path, *, overrides: dict | None = None, env_extra: dict | None = None,
                  args: tuple[str, ...] = (), mirror: Path | None = None, trace: Path | None = None,
                  profile_dir: Path | None = None, cprofile_out: Path | None = None,
                  poll: bool = True) -> dict[str, Any]:
    """Run the repository's workflow in ``workdir``; wall time, RSS, output."""
    workdir.mkdir(parents=True, exist_ok=True)
    configs = [str(REPO / "config" / "config.yaml")]
    if overrides:
        import yaml

        p = workdir / "bench-override.yaml"
        p.write_text(yaml.safe_dump(overrides))
        configs.append(str(p))
    smk = [str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "--configfile", *configs, *args]
    if cprofile_out is not None:
        smk = [sys.executable, "-m", "cProfile", "-o", str(cprofile_out)] + smk
    env = {k: v for k, v in os.environ.items() if k not in ("RETROGAIT_MIRROR", "RETROGAIT_BENCH_TRACE",
                                                             "RETROGAIT_BENCH_PROFILE")}
    if mirror is not None:
        env["RETROGAIT_MIRROR"] = str(mirror)
    if trace is not None:
        env["RETROGAIT_BENCH_TRACE"] = str(trace)
        env["PYTHONPATH"] = os.pathsep.join([str(TRACE_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if profile_dir is not None:
        env["RETROGAIT_BENCH_PROFILE"] = str(profile_dir)
    env.update(env_extra or {})
    time_file = workdir / ".bench-time.txt"
    cmd = ([str(GNU_TIME), "-v", "-o", str(time_file)] if GNU_TIME.exists() else []) + smk
    out_path, err_path = workdir / ".bench-stdout.txt", workdir / ".bench-stderr.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        cpu0 = _cpu_snapshot()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=err)
        poller = TreePoller(proc.pid) if poll else None
        with (poller or contextlib.nullcontext()):
            rc = proc.wait()
        wall = time.perf_counter() - t0
        cpu1 = _cpu_snapshot()
    text = out_path.read_text(errors="replace") + err_path.read_text(errors="replace")
    res: dict[str, Any] = {"returncode": rc, "wall_s": round(wall, 3), "cmd": " ".join(smk[:1] + smk[5:])}
    res.update(_gnu_time(time_file))
    res["machine_cpu"] = _cpu_delta(cpu0, cpu1)
    if "user_s" in res and res["machine_cpu"]:
        # CPU used on the machine by processes outside this run (noise from other work)
        res["machine_cpu"]["outside_run_s"] = round(res["machine_cpu"]["machine_busy_s"] - res["user_s"]
                                                    - res["sys_s"], 2)
    m = re.search(r"Complete log\(s\): (\S+)", text)
    if m:
        res["snakemake_log"] = m.group(1)
    if poller is not None:
        res.update({"poll_peak_single_mb": round(poller.peak_single / 2**20, 1),
                    "poll_peak_single_cmd": poller.peak_single_cmd,
                    "poll_peak_tree_sum_mb": round(poller.peak_sum / 2**20, 1),
                    "poll_peak_tree_procs": poller.peak_sum_procs, "poll_samples": poller.samples})
    res["nothing_to_be_done"] = "Nothing to be done" in text
    if rc != 0:
        res["error_tail"] = text[-3000:]
    return res


# ---------------------------------------------------------------------------
# analysis of a run: snakemake log and per-process trace
# ---------------------------------------------------------------------------

_TS = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def parse_snakemake_log(path: Path) -> dict[str, Any]:
    """Per-job start/end from a .snakemake/log file (1-s resolution) -> per-rule summary."""
    if not path.exists():
        return {}
    text = path.read_text(errors="replace")
    ts = None
    current_rule = None
    starts: dict[str, tuple[str, float]] = {}
    ends: dict[str, float] = {}
    for line in text.splitlines():
        m = _TS.match(line.strip())
        if m:
            ts = _dt.datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y").timestamp()
            continue
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            current_rule = m.group(1)
            continue
        m = re.match(r"^jobid: (\d+)$", line.strip())
        if m and current_rule and ts is not None:
            starts[m.group(1)] = (current_rule, ts)
            current_rule = None
            continue
        m = re.match(r"^Finished job(?:id:)? (\d+)", line.strip())
        if m and ts is not None:
            ends[m.group(1)] = ts
    jobs = [{"jobid": j, "rule": r, "start": s, "end": ends[j], "wall_s": ends[j] - s}
            for j, (r, s) in starts.items() if j in ends]
    return {"log": str(path), "jobs": jobs, "per_rule": _per_rule(jobs, "wall_s")}


def _per_rule(jobs: list[dict], key: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for j in jobs:
        d = out.setdefault(j["rule"], {"n": 0, "total_s": 0.0, "max_s": 0.0})
        d["n"] += 1
        d["total_s"] += j[key]
        d["max_s"] = max(d["max_s"], j[key])
    for d in out.values():
        d["mean_s"] = d["total_s"] / d["n"]
        for k in list(d):
            d[k] = round(d[k], 3) if isinstance(d[k], float) else d[k]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["total_s"]))


_SCRIPT = re.compile(r"\.snakemake/scripts/tmp[^/]*?\.(\w+)\.py$")


def analyse_trace(trace: Path, cores: int = 2) -> dict[str, Any]:
    recs = [json.loads(ln) for ln in trace.read_text().splitlines() if ln.strip()]
    main = [r for r in recs if r["argv0"].endswith("snakemake") or r["argv0"].endswith("snakemake/__main__.py")]
    jobs, other = [], []
    for r in recs:
        m = _SCRIPT.search(r["argv0"])
        if m:
            r["rule"] = m.group(1)
            jobs.append(r)
        elif r not in main:
            other.append(r)
    if not main or not jobs:
        return {"error": f"trace has {len(main)} main and {len(jobs)} job records"}
    mp = max(main, key=lambda r: r["wall_s"])
    job_pids = {j["pid"] for j in jobs}
    helpers = [o for o in other if o["ppid"] in job_pids]
    for j in jobs:
        stage = j["stage_s"] or 0.0
        top_imports = j["import_s"] - j["import_in_stage_s"]
        j["startup_plus_imports_s"] = j["startup_s"] + top_imports + j["import_in_stage_s"]
        j["compute_s"] = max(0.0, stage - j["import_in_stage_s"])
        j["other_s"] = max(0.0, j["wall_s"] - j["startup_s"] - top_imports - stage)
        j["cpu_s"] = j["cpu_user_s"] + j["cpu_sys_s"] + j["children_cpu_s"]
    rules: dict[str, dict[str, float]] = {}
    for j in jobs:
        d = rules.setdefault(j["rule"], {"n": 0, "wall_s": 0.0, "startup_plus_imports_s": 0.0, "compute_s": 0.0,
                                         "other_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
        d["n"] += 1
        for k in ("wall_s", "startup_plus_imports_s", "compute_s", "other_s", "cpu_s"):
            d[k] += j[k]
        d["max_rss_mb"] = max(d["max_rss_mb"], max(j["maxrss_kb"], j["children_maxrss_kb"]) / 1024)
    for d in rules.values():
        d["mean_wall_s"] = d["wall_s"] / d["n"]
        d["mean_startup_plus_imports_s"] = d["startup_plus_imports_s"] / d["n"]
        d["cpu_per_wall"] = d["cpu_s"] / d["wall_s"] if d["wall_s"] else 0.0
        for k in list(d):
            if isinstance(d[k], float):
                d[k] = round(d[k], 3)
    rules = dict(sorted(rules.items(), key=lambda kv: -kv[1]["wall_s"]))
    t_main0, t_main1 = mp["start"], mp["end"]
    first = min(j["start"] for j in jobs)
    last = max(j["end"] for j in jobs)
    subj_rules = {"fetch", "ingest", "cycles"}
    sj = [j for j in jobs if j["rule"] in subj_rules]
    tail = [j for j in jobs if j["rule"] not in subj_rules]
    total_job = sum(j["wall_s"] for j in jobs)
    total_imp = sum(j["startup_plus_imports_s"] for j in jobs)
    total_compute = sum(j["compute_s"] for j in jobs)
    phases = {
        "snakemake_start_to_first_job_s": round(first - t_main0, 3),
        "per_subject_phase_s": round(max(j["end"] for j in sj) - min(j["start"] for j in sj), 3) if sj else None,
        "serial_tail_s": round(max(j["end"] for j in tail) - min(j["start"] for j in tail), 3) if tail else None,
        "last_job_to_exit_s": round(t_main1 - last, 3),
        "main_process_wall_s": round(mp["wall_s"], 3),
    }
    if sj and tail:
        phases["gap_subject_phase_to_tail_s"] = round(min(j["start"] for j in tail) - max(j["end"] for j in sj), 3)
    tail_chain = []
    for rule in sorted({j["rule"] for j in tail}, key=lambda r: min(j["start"] for j in tail if j["rule"] == r)):
        js = [j for j in tail if j["rule"] == rule]
        if js:
            tail_chain.append({"rule": rule, "wall_s": round(sum(j["wall_s"] for j in js), 3),
                               "startup_plus_imports_s": round(sum(j["startup_plus_imports_s"] for j in js), 3),
                               "compute_s": round(sum(j["compute_s"] for j in js), 3),
                               "cpu_per_wall": round(sum(j["cpu_s"] for j in js) / max(1e-9, sum(j["wall_s"] for j in js)), 2)})
    return {
        "n_jobs": len(jobs), "n_helper_processes": len(helpers),
        "main_process": {"wall_s": round(mp["wall_s"], 3), "startup_s": mp["startup_s"], "import_s": mp["import_s"],
                         "cpu_s": round(mp["cpu_user_s"] + mp["cpu_sys_s"], 2), "maxrss_mb": round(mp["maxrss_kb"] / 1024, 1)},
        "job_seconds_total": round(total_job, 2),
        "job_startup_plus_imports_s_total": round(total_imp, 2),
        "job_compute_s_total": round(total_compute, 2),
        "job_other_s_total": round(sum(j["other_s"] for j in jobs), 2),
        "import_share_of_job_seconds": round(total_imp / total_job, 3) if total_job else None,
        "core_seconds_available": round(cores * (t_main1 - t_main0), 2),
        "core_utilisation_by_jobs": round(total_job / (cores * (t_main1 - t_main0)), 3),
        "phases": phases, "serial_tail": tail_chain, "per_rule": rules,
        "jobs": [compact_job(j, t_main0) for j in sorted(jobs, key=lambda j: j["start"])],
    }


def compact_job(j: dict[str, Any], t0: float) -> dict[str, Any]:
    """One job of the trace, for the results file (times relative to snakemake's start)."""
    return {"rule": j["rule"], "stage": j.get("stage"), "start_s": round(j["start"] - t0, 2),
            "wall_s": round(j["wall_s"], 3), "startup_plus_imports_s": round(j["startup_plus_imports_s"], 3),
            "compute_s": round(j["compute_s"], 3), "cpu_s": round(j["cpu_s"], 2),
            "maxrss_mb": round(max(j["maxrss_kb"], j["children_maxrss_kb"]) / 1024, 1)}


def summarise_pstats(paths: list[Path], top: int = 15) -> dict[str, Any]:
    """Top functions by cumulative and by own time, with import time separated."""
    st = pstats.Stats(*[str(p) for p in paths])
    rows = []
    for (fn, line, name), (cc, nc, tt, ct, _callers) in st.stats.items():
        rows.append((fn, line, name, nc, tt, ct))
    total = st.total_tt
    imp = max((r[5] for r in rows if r[2] == "_find_and_load"), default=0.0)

    def short(fn: str) -> str:
        for marker in ("site-packages/", "/src/", "lib/python3"):
            if marker in fn:
                return fn.split(marker, 1)[1]
        return fn

    skip = re.compile(r"^(<built-in method builtins\.(exec|__import__|hasattr)>|<module>|_find_and_load.*|_load_unlocked|"
                      r"exec_module|_call_with_frames_removed|_handle_fromlist|wrapper|run|main|__call__|_import|"
                      r"import_module|_gcd_import|__getattr__|__get__|<method 'acquire' of '_thread.lock' objects>|"
                      r"wait|result|result_iterator|_result_or_cancel|_chain_from_iterable_of_lists|draw_wrapper)$")
    cum = [r for r in sorted(rows, key=lambda r: -r[5]) if not skip.match(r[2])
           and "sitecustomize" not in r[0] and "importlib" not in r[0]][:top]
    own = sorted(rows, key=lambda r: -r[4])[:max(5, top // 2)]
    fmt = lambda r: {"function": f"{short(r[0])}:{r[1]}({r[2]})", "calls": r[3], "own_s": round(r[4], 3),
                     "cumulative_s": round(r[5], 3)}
    return {"total_s": round(total, 3), "import_s": round(imp, 3), "top_cumulative": [fmt(r) for r in cum],
            "top_own": [fmt(r) for r in own]}


# ---------------------------------------------------------------------------
# benchmarks
# ---------------------------------------------------------------------------

def setup_mirror(replica: dict[str, Any], scratch: Path, dataset_id: str = "gt23") -> Path:
    """The replica archive in ``<scratch>/mirror/<dataset_id>/`` (a hard link, a copy where linking fails)."""
    mirror = scratch / "mirror"
    dst = mirror / dataset_id / ARCHIVE
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        try:
            os.link(replica["path"], dst)
        except OSError:
            shutil.copy2(replica["path"], dst)
    return mirror


def copy_ids(copies: int) -> list[str]:
    """Dataset ids of the replica and its copies: ``gt23``, ``gt23-copy2``, ..."""
    return ["gt23"] + [f"gt23-copy{k}" for k in range(2, copies + 1)]


def copies_overrides(replica: dict[str, Any], mirror: Path, folder: Path, copies: int) -> dict[str, Any]:
    """Config overrides that analyse ``copies`` copies of the replica as separate datasets.

    The scratch manifest declares each copy as the ``gt23`` entry under its
    own id; the mirror serves the same archive (a hard link) under each id.
    """
    import yaml

    ids = copy_ids(copies)
    manifest = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    for dataset_id in ids[1:]:
        manifest["datasets"][dataset_id] = dict(manifest["datasets"]["gt23"])
        setup_mirror(replica, mirror.parent, dataset_id)
    folder.mkdir(parents=True, exist_ok=True)
    mpath = folder / "datasets-copies.yaml"
    mpath.write_text(yaml.safe_dump(manifest))
    options = gt23_overrides(replica).get("dataset_options", {}).get("gt23")
    out: dict[str, Any] = {"manifest": str(mpath), "external_folders": [str(folder)], "datasets": ids}
    if options:
        out["dataset_options"] = {i: options for i in ids}
    return out


def fresh_workdir(work: Path) -> Path:
    """``work`` emptied for a full run.

    A kept ``--scratch`` folder still holds the previous invocation's outputs,
    so a full run there would find everything up to date and time a no-op.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def full_run_ok(run: dict[str, Any], work: Path) -> bool:
    """A full run that succeeded, made the report and did work (not "Nothing to be done")."""
    return run["returncode"] == 0 and (work / "reports" / "report.html").exists() and not run["nothing_to_be_done"]


def bench_pipeline(args, replica, scratch: Path, *, diagnostics: bool) -> dict[str, Any]:
    mirror = setup_mirror(replica, scratch)
    overrides = gt23_overrides(replica)
    work = fresh_workdir(scratch / "pipeline")
    quiet = wait_quiet("pipeline")
    log("pipeline: full run from the local mirror (untraced, the headline number)")
    full = run_snakemake(work, overrides=overrides, mirror=mirror)
    full["before"] = quiet
    ok = full_run_ok(full, work)
    log(f"pipeline: rc={full['returncode']} wall={full['wall_s']:.1f} s")
    out: dict[str, Any] = {"mirror": "local folder <mirror>/gt23/ProcessedData.zip (members extracted by fetch)",
                           "workdir": str(work), "ok": ok, "full_run": full,
                           "snakemake_log": parse_snakemake_log(Path(full.get("snakemake_log", "/nonexistent"))) if ok else {}}
    if ok:
        out["snakemake_log"].pop("jobs", None)
        out["stage_timings"] = stage_timings_of(work)
    if ok and diagnostics:
        out["diagnostics"] = pipeline_diagnostics(args, replica, scratch, mirror, overrides)
    return out


#: bootstrap resamples of the sensitivity runs (the configured value is the headline run's)
BOOTSTRAP_SENSITIVITY = (0, 199)


def bench_bootstrap(args, replica, scratch: Path, have_pipeline: dict | None) -> dict[str, Any]:
    """Sensitivity, not a target: the headline run again with ``stats.bootstrap.n`` set to each of
    :data:`BOOTSTRAP_SENSITIVITY` (fresh working folders, same mirror), so the cost of the configured
    cluster bootstrap in the GT23-scale wall time is measured rather than estimated. With 0
    resamples the report has no bootstrap intervals; that run is the pipeline's floor on this
    machine with everything else as configured."""
    mirror = setup_mirror(replica, scratch)
    points = []
    if have_pipeline and have_pipeline.get("ok"):
        run = have_pipeline["full_run"]
        points.append({"n_boot": "configured", "wall_s": run["wall_s"], "ok": True,
                       "stats": _stage(have_pipeline.get("stage_timings") or [], "stats"),
                       "noise": _noise_note(run)})
    for n in BOOTSTRAP_SENSITIVITY:
        overrides = {**gt23_overrides(replica), "stats": {"bootstrap": {"n": n}}}
        work = fresh_workdir(scratch / f"bootstrap-{n}")
        quiet = wait_quiet(f"bootstrap n={n}")
        log(f"bootstrap: full run with stats.bootstrap.n = {n}")
        r = run_snakemake(work, overrides=overrides, mirror=mirror)
        r["before"] = quiet
        ok = full_run_ok(r, work)
        log(f"bootstrap: n={n} rc={r['returncode']} wall={r['wall_s']:.1f} s")
        points.append({"n_boot": n, "wall_s": r["wall_s"] if ok else None, "ok": ok,
                       "stats": _stage(stage_timings_of(work), "stats") if ok else None,
                       "noise": _noise_note(r), "error_tail": None if ok else r.get("error_tail")})
    return {"points": points}


def _stage(timings: list[dict[str, Any]], stage: str) -> dict[str, Any] | None:
    return next((r for r in timings if r.get("stage") == stage), None)


def stage_timings_of(work: Path) -> list[dict[str, Any]]:
    """The report's stage-timings table (Snakemake benchmark files of the run) as records."""
    from retrogait.report.timings import stage_timings

    files = sorted((work / "benchmarks").rglob("*.tsv"))
    if not files:
        return []
    return [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
            for r in stage_timings(files).to_dict("records")]


def bench_scaling(args, scratch: Path, have_pipeline: dict | None = None,
                  have_replica: dict | None = None) -> dict[str, Any]:
    """Untraced full runs at each of :data:`SCALING_SUBJECTS` subjects (same trials and scale otherwise).

    The point whose replica is the one the ``pipeline`` benchmark of this
    invocation ran on reuses that (untraced) headline run.
    """
    points = []
    for n in SCALING_SUBJECTS:
        a = argparse.Namespace(**{**vars(args), "subjects": n})
        if (n <= REPLICA_SUBJECTS and have_pipeline and have_pipeline.get("ok") and have_replica
                and have_replica["params"] == replica_params(a)):
            run = have_pipeline["full_run"]
            log(f"scaling: {n} subjects = the pipeline benchmark's run ({run['wall_s']:.1f} s)")
            points.append({"subjects": n, "ok": True, "wall_s": run["wall_s"],
                           "peak_rss_mb": run.get("gnu_time_maxrss_mb") or run.get("poll_peak_single_mb"),
                           "tree_sum_rss_mb": run.get("poll_peak_tree_sum_mb"), "user_s": run.get("user_s"),
                           "sys_s": run.get("sys_s"), "machine_cpu": run.get("machine_cpu"),
                           "before": run.get("before"), "noise": _noise_note(run),
                           "stage_timings": have_pipeline.get("stage_timings", []), "error_tail": None,
                           "source": "pipeline benchmark run"})
            continue
        copies = 1
        if n > REPLICA_SUBJECTS:
            if n % REPLICA_SUBJECTS:
                raise ValueError(f"scaling point {n}: above {REPLICA_SUBJECTS} subjects a point must be a multiple "
                                 f"of {REPLICA_SUBJECTS} (copies of the replica)")
            copies = n // REPLICA_SUBJECTS
            a.subjects = REPLICA_SUBJECTS
        replica = get_replica(a, scratch / f"scaling-{n}")
        mirror = setup_mirror(replica, scratch / f"scaling-{n}")
        work = fresh_workdir(scratch / f"scaling-{n}" / "work")
        overrides = gt23_overrides(replica)
        if copies > 1:
            overrides = copies_overrides(replica, mirror, scratch / f"scaling-{n}", copies)
        quiet = wait_quiet(f"scaling {n}")
        log(f"scaling: {n} subjects" + (f" ({copies} copies of the {REPLICA_SUBJECTS}-subject replica as "
                                        f"{copies} datasets)" if copies > 1 else ""))
        run = run_snakemake(work, overrides=overrides, mirror=mirror)
        ok = full_run_ok(run, work)
        log(f"scaling: {n} subjects rc={run['returncode']} wall={run['wall_s']:.1f} s")
        points.append({"subjects": n, "ok": ok, "wall_s": run["wall_s"] if ok else None,
                       "peak_rss_mb": (run.get("gnu_time_maxrss_mb") or run.get("poll_peak_single_mb")) if ok else None,
                       "tree_sum_rss_mb": run.get("poll_peak_tree_sum_mb"), "user_s": run.get("user_s"),
                       "sys_s": run.get("sys_s"), "machine_cpu": run.get("machine_cpu"), "before": quiet,
                       "noise": _noise_note(run), "stage_timings": stage_timings_of(work) if ok else [],
                       "error_tail": run.get("error_tail"),
                       "datasets": copies,
                       "layout": (f"{copies} copies of the {REPLICA_SUBJECTS}-subject replica declared as {copies} "
                                  f"datasets: {n} subjects of per-subject jobs, {copies} dataset-level chains, "
                                  f"mixed models of {REPLICA_SUBJECTS} subjects") if copies > 1 else ""})
    out: dict[str, Any] = {"points": points,
                           "not_measured": [{"subjects": k, "reason": v} for k, v in SCALING_UNAVAILABLE.items()]}
    out.update(growth_ratios([p for p in points if p["ok"]]))
    return out


def growth_ratios(good: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth of wall time and peak RSS per growth in subjects, for each step of the curve; the headline is
    the worst step (a curve that is linear overall but bends up between two points fails)."""
    if len(good) < 2:
        return {}
    steps = []
    for lo, hi in zip(good, good[1:]):
        growth = hi["subjects"] / lo["subjects"]
        steps.append({"from": lo["subjects"], "to": hi["subjects"],
                      "wall": round((hi["wall_s"] / lo["wall_s"]) / growth, 3),
                      "rss": round((hi["peak_rss_mb"] / lo["peak_rss_mb"]) / growth, 3)})
    return {"steps": steps, "wall_growth_per_subject_growth": max(x["wall"] for x in steps),
            "rss_growth_per_subject_growth": max(x["rss"] for x in steps)}


def _more_subjects(table: "Any", n: int, *, seed: int = 0) -> "Any":
    """``table`` (one dataset's measures or EMG quality) with ``n`` subjects: the original subjects, then
    copies relabelled ``<subject>c<k>`` whose measures are shifted by a subject offset drawn from the
    spread of the subject means (per measure), so that each copy is a plausible new subject and the
    mixed models see ``n`` distinct clusters. Measures fixed by the design (the same value in every
    cycle of a condition, e.g. treadmill speed) are not shifted."""
    import numpy as np
    import pandas as pd

    subjects = sorted(table["subject"].unique())
    copies = -(-n // len(subjects))
    rng = np.random.default_rng(seed)
    has_values = "measure" in table.columns
    spread = {}
    if has_values:
        for measure, grp in table.groupby("measure"):
            within = grp.groupby("condition")["value"].std().fillna(0).max()
            means = grp.groupby("subject")["value"].mean()
            spread[measure] = float(means.std()) if within > 1e-12 * max(1.0, float(np.nanmax(np.abs(grp["value"])))) \
                else 0.0
    parts = [table]
    made = len(subjects)
    for k in range(2, copies + 1):
        for subj in subjects:
            if made >= n:
                break
            part = table[table["subject"] == subj].copy()
            part["subject"] = f"{subj}c{k}"
            if has_values:
                offsets = {m: rng.normal(0.0, sd) if sd > 0 else 0.0 for m, sd in spread.items()}
                part["value"] = part["value"] + part["measure"].map(offsets).astype(float)
            parts.append(part)
            made += 1
    return pd.concat(parts, ignore_index=True)


_STATS_RUNNER = """
import sys
from pathlib import Path
from retrogait.config import load_yaml
from retrogait.stages import STATS_TABLES, stats_run
root, measures, quality, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)
stats_run(load_yaml(root / "config" / "config.yaml"), measures=[measures], emg_quality=[quality],
          outputs=[out / f"{name}.parquet" for name in STATS_TABLES], workers=2, root=root)
"""


def bench_stats_scaling(args, scratch: Path, pipeline_work: Path) -> dict[str, Any]:
    """The stats job alone at :data:`STATS_SCALING_SUBJECTS` subjects in one dataset (one mixed model per
    measure and contrast over all of them), from the headline run's 12-subject tables."""
    import pandas as pd

    processed = pipeline_work / "data" / "processed" / "gt23"
    measures, quality = processed / "measures.parquet", processed / "emg_quality.parquet"
    if not measures.exists():
        return {"error": f"{measures} not found: run the pipeline benchmark first (--keep keeps its tables)"}
    base_m, base_q = pd.read_parquet(measures), pd.read_parquet(quality)
    points = []
    for n in STATS_SCALING_SUBJECTS:
        folder = scratch / f"stats-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        m_path, q_path = folder / "measures.parquet", folder / "emg_quality.parquet"
        _more_subjects(base_m, n).to_parquet(m_path)
        _more_subjects(base_q, n).to_parquet(q_path)
        quiet = wait_quiet(f"stats {n}")
        time_file = folder / "time.txt"
        cmd = ([str(GNU_TIME), "-v", "-o", str(time_file)] if GNU_TIME.exists() else []) + \
            [sys.executable, "-c", _STATS_RUNNER, str(REPO), str(m_path), str(q_path), str(folder / "out")]
        log(f"stats scaling: {n} subjects, one dataset")
        cpu0 = _cpu_snapshot()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        point: dict[str, Any] = {"subjects": n, "wall_s": round(wall, 3), **_gnu_time(time_file),
                                 "machine_cpu": _cpu_delta(cpu0, _cpu_snapshot()), "before": quiet}
        if "user_s" in point and point["machine_cpu"]:
            point["machine_cpu"]["outside_run_s"] = round(point["machine_cpu"]["machine_busy_s"] - point["user_s"]
                                                          - point.get("sys_s", 0.0), 2)
        ok = proc.returncode == 0
        point.update(ok=ok, peak_rss_mb=point.get("gnu_time_maxrss_mb") if ok else None,
                     error_tail=None if ok else (proc.stderr or "")[-2000:])
        if not ok:
            point["wall_s"] = None
        log(f"stats scaling: {n} subjects rc={proc.returncode} wall={wall:.1f} s, peak RSS {point['peak_rss_mb']} MB")
        points.append(point)
    out = {"points": points, "layout": "stats job alone (python -c stats_run, 2 workers) on one dataset's "
           "measures; 48 = the 12 replica subjects and 36 relabelled copies shifted by subject offsets"}
    out.update(growth_ratios([p for p in points if p["ok"]]))
    return out


def pipeline_diagnostics(args, replica, scratch: Path, mirror: Path, overrides: dict) -> dict[str, Any]:
    """A second full run with per-process tracing, then cProfile of one job per rule."""
    work = fresh_workdir(scratch / "pipeline-traced")
    trace = scratch / "trace-full.jsonl"
    trace.unlink(missing_ok=True)
    wait_quiet("diagnostics")
    log("diagnostics: traced full run (per-job start-up/import/compute split)")
    traced = run_snakemake(work, overrides=overrides, mirror=mirror, trace=trace)
    out: dict[str, Any] = {"traced_run": traced}
    if traced["returncode"] != 0:
        return out
    out["trace"] = analyse_trace(trace)
    log(f"diagnostics: traced wall {traced['wall_s']:.1f} s")
    # cProfile of one subject's jobs and the dataset-level jobs, through snakemake itself
    subj = replica["params"]["subjects"][0]
    targets = [f"data/raw/gt23/.provenance/{subj}.json",
               f"data/processed/gt23/subjects/{subj}/trials.parquet",
               f"data/processed/gt23/subjects/{subj}/cycles.parquet",
               f"data/processed/gt23/subjects/{subj}/measures.parquet", "reports/report.html"]
    # every dataset-level rule once (their jobs are single); stats in-process (one thread) so that
    # cProfile sees its work instead of a process pool's futures
    tail_rules = sorted({j["rule"] for j in out["trace"].get("jobs", [])}
                        - {"fetch", "ingest", "cycles"})
    if not args.no_profile:
        pdir = scratch / "pstats"
        shutil.rmtree(pdir, ignore_errors=True)
        log("diagnostics: cProfile of one job per rule (snakemake --force <targets>)")
        prof = run_snakemake(work, overrides=overrides, mirror=mirror, trace=scratch / "trace-profile.jsonl",
                             profile_dir=pdir, poll=False,
                             args=("--force", *targets, "--forcerun", *tail_rules, "--set-threads", "stats=1"))
        out["profile_run"] = {k: prof[k] for k in ("returncode", "wall_s") if k in prof}
        if "error_tail" in prof:
            out["profile_run"]["error_tail"] = prof["error_tail"]
        hot: dict[str, Any] = {}
        by_stage: dict[str, list[Path]] = {}
        for p in sorted(pdir.glob("*.pstats")):
            by_stage.setdefault(p.name.split("-")[0], []).append(p)
        for stage, paths in by_stage.items():
            with contextlib.suppress(Exception):
                h = summarise_pstats(paths, top=10)
                h["jobs"] = len(paths)  # times are summed over these jobs
                hot[stage] = h
        out["hotspots"] = hot
    return out


def bench_noop(args, replica, scratch: Path, have_pipeline: dict | None) -> dict[str, Any]:
    mirror = setup_mirror(replica, scratch)
    overrides = gt23_overrides(replica)
    work = scratch / "pipeline"
    out: dict[str, Any] = {}
    if not (work / "reports" / "report.html").exists():
        log("noop: running the pipeline once first (not measured)")
        first = run_snakemake(work, overrides=overrides, mirror=mirror, poll=False)
        out["setup_run"] = {"returncode": first["returncode"], "wall_s": first["wall_s"]}
        if first["returncode"] != 0:
            out["error_tail"] = first.get("error_tail")
            return out
    # Wait for a quiet machine, then bring the directory up to date: code or config may have changed
    # since it was built (the workflow's params carry the package's code fingerprint, so any change in
    # src/ reruns the jobs). Only runs that printed "Nothing to be done" count as no-op runs.
    out["before"] = wait_quiet("noop")
    settle = run_snakemake(work, overrides=overrides, mirror=mirror, poll=False)
    out["settle_run"] = _settle_info(settle, work)
    if not settle["nothing_to_be_done"]:
        log(f"noop: the directory was out of date (settle run {settle['wall_s']:.1f} s); measuring from now")
    runs, discarded = [], []
    attempts = 0
    while len(runs) < args.noop_reps and attempts < 3 * args.noop_reps:
        attempts += 1
        r = run_snakemake(work, overrides=overrides, mirror=mirror)
        log(f"noop {len(runs) + 1}/{args.noop_reps}: {r['wall_s']:.2f} s, nothing to be done: {r['nothing_to_be_done']}")
        if r["nothing_to_be_done"]:
            runs.append(r)
        else:  # the code changed under us (others committing): not a no-op, not counted
            discarded.append(_settle_info(r, work))
    walls = [r["wall_s"] for r in runs]
    out.update({"reps": len(runs), "wall_s": walls,
                "median_wall_s": round(statistics.median(walls), 3) if walls else None,
                "all_nothing_to_be_done": bool(runs) and not discarded,
                "discarded_runs_not_noop": discarded,
                "maxrss_mb": max(((r.get("gnu_time_maxrss_mb") or r.get("poll_peak_single_mb") or 0) for r in runs),
                                 default=None),
                "machine_cpu": [r.get("machine_cpu") for r in runs]})
    # where the no-op time goes
    trace = scratch / "trace-noop.jsonl"
    trace.unlink(missing_ok=True)
    tr = run_snakemake(work, overrides=overrides, mirror=mirror, trace=trace, poll=False)
    recs = [json.loads(ln) for ln in trace.read_text().splitlines()] if trace.exists() else []
    mainp = [r for r in recs if r["argv0"].endswith("snakemake")]
    if mainp and tr["nothing_to_be_done"]:
        m = max(mainp, key=lambda r: r["wall_s"])
        out["traced"] = {"wall_s": m["wall_s"], "startup_s": m["startup_s"], "import_s": m["import_s"],
                         "other_s": round(m["wall_s"] - m["startup_s"] - m["import_s"], 3),
                         "python_processes": len(recs)}
    prof = scratch / "noop.pstats"
    pr = run_snakemake(work, overrides=overrides, mirror=mirror, cprofile_out=prof, poll=False)
    if prof.exists() and pr["nothing_to_be_done"]:
        out["profile"] = summarise_pstats([prof], top=20)
    # the parse-time work on its own: load_run (config + manifest + adapter plans)
    code = ("import time; t=time.perf_counter(); from pathlib import Path; "
            "from retrogait.config import load_yaml; from retrogait.runconfig import load_run; "
            "t1=time.perf_counter(); c=load_yaml(Path(r'%s')/'config/config.yaml'); %s"
            "load_run(c, root=Path(r'%s')); t2=time.perf_counter(); "
            "import snakemake.cli; t3=time.perf_counter(); "
            "print(t1-t, t2-t1, t3-t2)") % (REPO, _subjects_patch(replica), REPO)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    total = time.perf_counter() - t0
    with contextlib.suppress(Exception):
        a, b, c = map(float, p.stdout.split())
        out["parts"] = {"python_plus_retrogait_import_s": round(a, 3), "load_run_s": round(b, 3),
                        "import_snakemake_cli_s": round(c, 3), "process_total_s": round(total, 3)}
    return out


def _settle_info(run: dict[str, Any], work: Path) -> dict[str, Any]:
    info = {"returncode": run["returncode"], "wall_s": run["wall_s"], "nothing_to_be_done": run["nothing_to_be_done"]}
    if not run["nothing_to_be_done"]:
        text = ((work / ".bench-stdout.txt").read_text(errors="replace")
                + (work / ".bench-stderr.txt").read_text(errors="replace"))
        info["reasons"] = sorted(set(re.findall(r"reason: ([^\n]{0,160})", text)))[:5]
    return info


def _subjects_patch(replica) -> str:
    ov = gt23_overrides(replica)
    if not ov:
        return ""
    return "c['dataset_options']['gt23']['subjects']=%r; " % ov["dataset_options"]["gt23"]["subjects"]


def bench_bytes(args, replica, scratch: Path) -> dict[str, Any]:
    import yaml

    from tests.httpserver import serve

    work = scratch / "bytes"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = Path(replica["path"]).read_bytes()  # served from memory (the folder mode re-reads per request)
    with serve({ARCHIVE: data}) as srv:
        manifest = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
        manifest["datasets"]["gt23"]["archive"]["url"] = srv.url(ARCHIVE)
        mpath = work / "datasets.yaml"
        mpath.write_text(yaml.safe_dump(manifest))
        # the manifest lives in the scratch folder: the workflow reads files outside the project only from
        # folders listed in external_folders
        overrides = {"manifest": str(mpath), "external_folders": [str(work)], **gt23_overrides(replica)}
        log("bytes: fetch stage only (snakemake --until fetch) from http://127.0.0.1")
        run = run_snakemake(work, overrides=overrides, args=("--until", "fetch"))
        sent = srv.bytes_sent
        reqs = srv.requests
    log(f"bytes: rc={run['returncode']} sent={sent} wall={run['wall_s']:.1f} s")
    fetched = sorted(p.relative_to(work / "data/raw/gt23").as_posix()
                     for p in (work / "data/raw/gt23").rglob("*.csv")) if (work / "data/raw/gt23").exists() else []
    needed = replica["_needed"]
    logged_network = 0
    for p in (work / "logs" / "fetch" / "gt23").glob("*.log"):
        for m in re.finditer(r"(\d+) bytes over the network", p.read_text(errors="replace")):
            logged_network += int(m.group(1))
    range_reqs = [r for r in reqs if r.range_header]
    small = [r for r in reqs if r.body_bytes < 100_000]
    return {
        "returncode": run["returncode"], "wall_s": run["wall_s"], "error_tail": run.get("error_tail"),
        "bytes_sent": sent, "needed_compressed_bytes": replica["needed_compressed_bytes"],
        "needed_with_local_headers_bytes": replica["needed_with_local_headers_bytes"],
        "archive_bytes": replica["archive_bytes"], "central_directory_bytes": replica["central_directory_bytes"],
        "ratio": round(sent / replica["needed_compressed_bytes"], 4),
        "ratio_vs_members_with_headers": round(sent / replica["needed_with_local_headers_bytes"], 4),
        "overhead_bytes": sent - replica["needed_compressed_bytes"],
        "fraction_of_archive": round(sent / replica["archive_bytes"], 4),
        "requests": len(reqs), "range_requests": len(range_reqs),
        "full_gets": sum(1 for r in reqs if r.method == "GET" and r.status == 200),
        "statuses": sorted({r.status for r in reqs}),
        "small_requests_lt_100kB": len(small), "small_requests_bytes": sum(r.body_bytes for r in small),
        "fetched_files": len(fetched), "fetched_equals_needed": fetched == needed,
        "fetch_logs_network_bytes": logged_network,
    }


# --- C3D: retrogait vs gaitalytics ------------------------------------------------

C3D_FILES = [  # (dataset id, path relative to the fixtures folder, path in the manifest)
    ("gaitalytics", "gaitalytics/test_small.c3d", "test_small.c3d"),
    ("gaitalytics", "gaitalytics/treadmill_events.c3d", "treadmill_events.c3d"),
    ("biomechzoo-esmac", "biomechzoo-esmac/HC002D/Straight/HC002D06.c3d", "HC002D/Straight/HC002D06.c3d"),
]


class Worker:
    def __init__(self, cmd: list[str], cwd: Path, env: dict | None = None):
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.ready = self._read()
        self.ready["spawn_to_ready_s"] = round(time.perf_counter() - self.t0, 3)

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"worker exited: {err[-2000:]}")
        return json.loads(line)

    def ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def ensure_gaitalytics_venv() -> tuple[Path | None, str | None]:
    py = GA_VENV / "bin" / "python"
    if not py.exists():
        log(f"c3d: creating {GA_VENV} and installing gaitalytics==0.2.2")
        base = shutil.which("python3") or sys.executable
        # the venv of the project is itself a venv: use its base interpreter
        with contextlib.suppress(Exception):
            cfg = (Path(sys.prefix) / "pyvenv.cfg").read_text()
            m = re.search(r"^executable = (.+)$", cfg, re.M)
            if m and Path(m.group(1).strip()).exists():
                base = m.group(1).strip()
        p = subprocess.run([base, "-m", "venv", str(GA_VENV)], capture_output=True, text=True)
        if p.returncode != 0:
            return None, f"venv creation failed: {p.stderr[-1000:]}"
    p = subprocess.run([str(py), "-c", "import gaitalytics"], capture_output=True, text=True)
    if p.returncode != 0:
        p = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "gaitalytics==0.2.2"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return None, f"pip install gaitalytics==0.2.2 failed: {(p.stdout + p.stderr)[-2000:]}"
    return py, None


def bench_c3d(args) -> dict[str, Any]:
    ga_py, why = ensure_gaitalytics_venv()
    out: dict[str, Any] = {"fixtures": str(FIXTURES), "reps": args.c3d_reps}
    if ga_py is None:
        out["error"] = why
        return out
    files = [(d, FIXTURES / rel, mrel) for d, rel, mrel in C3D_FILES if (FIXTURES / rel).exists()]
    if not files:
        out["error"] = f"no fixture C3D files under {FIXTURES}"
        return out
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RETROGAIT_BENCH_TRACE")}
    out["before"] = wait_quiet("c3d")
    log("c3d: starting the two workers (imports timed)")
    rg = Worker([sys.executable, str(BENCH / "c3d_worker_retrogait.py"), str(REPO)], REPO, env)
    ga = Worker([str(ga_py), str(BENCH / "c3d_worker_gaitalytics.py"), str(BENCH / "gaitalytics_config.yaml")],
                BENCH, env)
    out["retrogait_worker"] = rg.ready
    out["gaitalytics_worker"] = ga.ready
    per_file: dict[str, Any] = {}
    try:
        for dataset, path, mrel in files:
            req = {"path": str(path), "relpath": mrel, "dataset": dataset}
            key = path.relative_to(FIXTURES).as_posix()
            rows: dict[str, list[dict]] = {"retrogait": [], "gaitalytics": []}
            # warm-up (first call pays lazy imports, ezc3d/pyomeca first use)
            warm = {"retrogait": rg.ask(req), "gaitalytics": ga.ask(req)}
            for i in range(args.c3d_reps):
                order = [("retrogait", rg), ("gaitalytics", ga)]
                if i % 2:
                    order.reverse()  # interleave: neither side always runs first
                for name, w in order:
                    rows[name].append(w.ask(req))
            per_file[key] = _c3d_summary(rows, warm)
            r = per_file[key]
            log(f"c3d {key}: retrogait {r.get('retrogait', {}).get('median_total_s')} s, "
                f"gaitalytics {r.get('gaitalytics', {}).get('median_total_s')} s, "
                f"speedup {r.get('speedup')}")
        d0, p0, m0 = files[0]
        out["retrogait_profile"] = rg.ask({"path": str(p0), "relpath": m0, "dataset": d0, "profile": 3})
    finally:
        rg.close()
        ga.close()
    out["files"] = per_file
    # cold start: one fresh process per trial (how a pipeline job would see it)
    cold: dict[str, Any] = {}
    first_key, (d0, p0, m0) = files[0][1].relative_to(FIXTURES).as_posix(), files[0]
    for name, cmd, cwd in (("retrogait", [sys.executable, str(BENCH / "c3d_worker_retrogait.py"), str(REPO)], REPO),
                           ("gaitalytics", [str(ga_py), str(BENCH / "c3d_worker_gaitalytics.py"),
                                            str(BENCH / "gaitalytics_config.yaml")], BENCH)):
        walls = []
        for _ in range(args.cold_reps):
            t = time.perf_counter()
            p = subprocess.run(cmd, cwd=cwd, env=env, input=json.dumps({"path": str(p0), "relpath": m0,
                                                                         "dataset": d0}) + "\n",
                               capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
        cold[name] = {"file": first_key, "wall_s": [round(w, 3) for w in walls],
                      "median_s": round(statistics.median(walls), 3)}
    if all(k in cold for k in ("retrogait", "gaitalytics")):
        cold["speedup"] = round(cold["gaitalytics"]["median_s"] / cold["retrogait"]["median_s"], 2)
    out["cold_process"] = cold
    prim = per_file.get(C3D_FILES[0][1], {})
    out["primary_file"] = C3D_FILES[0][1]
    out["speedup"] = prim.get("speedup")
    out["speedup_like_for_like"] = prim.get("speedup_like_for_like")
    # the target's figure: the same steps (no EMG envelopes, which gaitalytics does not compute), on the
    # worse of the target's files; None when a file has no result
    same = {key: per_file.get(key, {}).get("speedup_like_for_like") for _, key, _ in C3D_FILES
            if key.startswith("gaitalytics/")}
    out["speedup_same_steps_by_file"] = same
    out["speedup_same_steps"] = (min(same.values()) if same and all(v is not None for v in same.values())
                                 else None)
    out["steps"] = {
        "retrogait": "read = C3DAdapter.read_file (ezc3d for points, analogs and parameters; force plates "
                     "from the analog channels, retrogait.ingest.forceplates; mapped model outputs with unit "
                     "conversion, event markers, plates, EMG channels, stored events, sha256); "
                     "process = cycles.process_subject([trial]) (force/kinematic/stored events with sequence QC, "
                     "EMG channel QC + band-pass/rectify/low-pass envelopes, stride and stance segmentation, "
                     "linear time normalisation to 101 nodes, EMG amplitude normalisation). "
                     "total = read + process; like-for-like (the target's 'same steps') = read + process on the "
                     "trial without its EMG stream: the EMG channels are read, but not filtered, enveloped, "
                     "checked or cut into curves (gaitalytics filters no channel; it does time-normalise its "
                     "raw analog channels, EMG included).",
        "gaitalytics": "load = api.load_c3d_trial (all markers, all analogs, mapped model outputs, stored events); "
                       "detect = api.detect_events (marker-based Zeni) + api.check_events; "
                       "segment = api.segment_trial (heel strike to heel strike, per side); "
                       "normalise = api.time_normalise_trial(n_frames=101) on every category. "
                       "total = load + detect + segment + normalise.",
    }
    return out


def _c3d_summary(rows: dict[str, list[dict]], warm: dict[str, dict]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    rg_ok = [r for r in rows["retrogait"] if "error" not in r]
    ga_ok = [r for r in rows["gaitalytics"] if "error" not in r]
    if rg_ok:
        tot = [r["read"] + r["process"] for r in rg_ok]
        lfl = [r["read"] + r["process_noemg"] for r in rg_ok]
        res["retrogait"] = {"median_total_s": round(statistics.median(tot), 4),
                            "median_like_for_like_s": round(statistics.median(lfl), 4),
                            "all_total_s": [round(x, 4) for x in tot],
                            "median_steps_s": {k: round(statistics.median(r[k] for r in rg_ok), 4)
                                               for k in ("read", "events", "process", "process_noemg")},
                            "cycles_kept": rg_ok[0]["cycles_kept"], "event_methods": rg_ok[0]["event_methods"],
                            "waveform_rows": rg_ok[0]["waveform_rows"], "emg_channels": rg_ok[0]["emg_channels"]}
    else:
        res["retrogait"] = {"error": (rows["retrogait"] or [warm["retrogait"]])[0].get("error", "no result")}
    if ga_ok:
        tot = [r["load"] + r["detect"] + r["segment"] + r["normalise"] for r in ga_ok]
        res["gaitalytics"] = {"median_total_s": round(statistics.median(tot), 4),
                              "all_total_s": [round(x, 4) for x in tot],
                              "median_steps_s": {k: round(statistics.median(r[k] for r in ga_ok), 4)
                                                 for k in ("load", "detect", "segment", "normalise")},
                              "events_used": ga_ok[0]["events_used"], "note": ga_ok[0]["note"],
                              "cycles": ga_ok[0]["cycles"], "shapes": ga_ok[0]["shapes"]}
    else:
        res["gaitalytics"] = {"error": (rows["gaitalytics"] or [warm["gaitalytics"]])[0].get("error", "no result")}
    if rg_ok and ga_ok:
        res["speedup"] = round(res["gaitalytics"]["median_total_s"] / res["retrogait"]["median_total_s"], 2)
        res["speedup_like_for_like"] = round(res["gaitalytics"]["median_total_s"]
                                             / res["retrogait"]["median_like_for_like_s"], 2)
    return res


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

def _noise_note(run: dict[str, Any]) -> str:
    mc = run.get("machine_cpu") or {}
    if "outside_run_s" not in mc or not run.get("wall_s"):
        return ""
    other = max(0.0, mc["outside_run_s"]) / run["wall_s"]
    return (f"other processes used {other:.2f} cores on average during the run"
            + (" (contended: the wall time is inflated)" if other > 0.2 else "; quiet machine"))


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []

    def add(key, value, note=""):
        op, target, unit, what = TARGETS[key]
        ok = None if value is None else (value <= target if op == "<=" else value >= target)
        rows.append({"key": key, "what": what, "measured": value, "target": f"{op} {target:g} {unit}",
                     "unit": unit, "pass": ok, "note": note})

    p = res.get("pipeline") or {}
    if p:
        full = p.get("full_run", {})
        scale = "" if res.get("replica_is_gt23_scale", True) else "NOT GT23 scale (see replica.scale_check); "
        add("pipeline_wall_s", full.get("wall_s") if p.get("ok") else None,
            scale + (_noise_note(full) if p.get("ok") else "the run failed"))
        rss = full.get("gnu_time_maxrss_mb") or full.get("poll_peak_single_mb")
        add("peak_rss_mb", rss, f"tree sum (polled): {full.get('poll_peak_tree_sum_mb')} MB")
    n = res.get("noop") or {}
    if n:
        add("noop_wall_s", n.get("median_wall_s"),
            f"median of {n.get('reps')} runs that printed 'Nothing to be done'"
            + (f"; {len(n['discarded_runs_not_noop'])} run(s) not counted: the code changed under the benchmark"
               if n.get("discarded_runs_not_noop") else ""))
    b = res.get("bytes") or {}
    if b:
        add("bytes_ratio", b.get("ratio") if b.get("returncode") == 0 else None,
            f"{b.get('bytes_sent')} B sent for {b.get('needed_compressed_bytes')} B of needed members")
    s = res.get("scaling") or {}
    if s:
        pts = ", ".join(f"{p['subjects']} subjects {p['wall_s']} s / {p['peak_rss_mb']} MB" for p in s["points"]
                        if p.get("ok"))
        missing = "; ".join(f"{m['subjects']} subjects not measured: {m['reason']}" for m in s.get("not_measured", []))
        add("scaling_wall", s.get("wall_growth_per_subject_growth"), pts + (f"; {missing}" if missing else ""))
        add("scaling_rss", s.get("rss_growth_per_subject_growth"), "largest single process; worst step of the curve")
    ss = res.get("stats_scaling") or {}
    if ss:
        pts = ", ".join(f"{p['subjects']} subjects {p['wall_s']} s / {p['peak_rss_mb']} MB" for p in ss["points"]
                        if p.get("ok"))
        add("scaling_stats_wall", ss.get("wall_growth_per_subject_growth"), ss.get("error") or pts)
        add("scaling_stats_rss", ss.get("rss_growth_per_subject_growth"), ss.get("error") or "the stats process")
    c = res.get("c3d") or {}
    if c:
        by_file = c.get("speedup_same_steps_by_file") or {}
        full = {k: (c.get("files") or {}).get(k, {}).get("speedup") for k in by_file}
        add("c3d_speedup", c.get("speedup_same_steps"),
            c.get("error") or "same steps (read, events, cycles, time normalisation; no EMG envelopes): "
                              + ", ".join(f"{Path(k).name} {v}x" for k, v in by_file.items())
                              + "; with retrogait's EMG envelopes and EMG QC, which gaitalytics does not compute: "
                              + ", ".join(f"{Path(k).name} {v}x" for k, v in full.items())
                              + f"; cold process ({Path(str(c.get('primary_file'))).name}): "
                                f"{c.get('cold_process', {}).get('speedup')}x")
    return rows


def _fn_label(function: str) -> str:
    """``.../scipy/_lib/_docscrape.py:579(__init__)`` -> ``_docscrape.__init__``."""
    m = re.match(r"^(.*?):(\d+)\((.*)\)$", function)
    if not m:
        return function
    mod = Path(m.group(1)).stem if m.group(1) not in ("~", "") else ""
    return f"{mod}.{m.group(3)}" if mod else m.group(3)


def _fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "x":
        return f"{v:.2f} x"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:.1f} s" if v >= 10 else f"{v:.2f} s"


def write_readme(res: dict[str, Any], json_name: str) -> None:
    m = res["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Latest: `{json_name}` (generated by `bench/run_benchmarks.py`; how to run and read: ../README.md).",
        "",
        f"Machine: {m['cores']} cores, CPU `{m['cpu_model']}`, {m['mem_gb']} GB RAM, Python {m['python']}, "
        f"snakemake {m['packages'].get('snakemake', '?')}. Commit `{res['git'].get('commit', '')[:10]}`"
        + (f" with uncommitted changes in {len(res['git']['dirty_files'])} file(s) (measured as found in the "
           f"working tree)" if res["git"].get("dirty_files") else "") + ".",
        "",
    ]
    if res.get("tree_changed_during_run"):
        lines += [f"**Warning:** the working tree changed during the benchmark (commit "
                  f"`{res['git'].get('commit', '')[:10]}` -> `{res.get('git_end', {}).get('commit', '')[:10]}`); "
                  "sections may have measured different code.", ""]
    rep = res.get("replica")
    if rep:
        sc = rep["scale_check"]
        lines += [f"Replica: {sc['subjects']} subjects x {sc['trials_per_subject']} trials x {sc['duration_s']:g} s, "
                  f"EMG {sc['emg_channels']} ch at {sc['emg_rate_hz']:g} Hz, kinematics/kinetics 200 Hz; "
                  f"archive {rep['archive_bytes'] / 1e6:.1f} MB ({rep['members']} members, {rep['needed_members']} "
                  f"needed: {rep['needed_compressed_bytes'] / 1e6:.1f} MB compressed, "
                  f"{rep['needed_uncompressed_bytes'] / 1e6:.1f} MB of CSV).", ""]
    lines += ["| Target | Measured | Target | Result | Note |", "|---|---|---|---|---|"]
    for v in res.get("verdicts", []):
        verdict = "n/a" if v["pass"] is None else ("**pass**" if v["pass"] else "**MISS**")
        lines.append(f"| {v['what']} | {_fmt(v['measured'], v['unit'])} | {v['target']} | {verdict} | {v['note']} |")
    lines.append("")
    p = res.get("pipeline") or {}
    if p.get("stage_timings"):
        lines += ["## Stage timings of the headline run (the report's table, from Snakemake benchmark files)", "",
                  "| Stage | Jobs | Wall, sum (s) | Wall, longest job (s) | CPU (s) | Max RSS of one job (MB) |",
                  "|---|---|---|---|---|---|"]
        for r in p["stage_timings"]:
            lines.append(f"| {r['stage']} | {r['jobs']} | {r['wall_total_s']:.1f} | {r['wall_max_s']:.1f} | "
                         f"{r['cpu_total_s']:.1f} | {r['max_rss_mb']:.0f} |")
        lines += ["", "CPU: Snakemake's sample of each job's processes (psutil, at intervals that grow to 30 s), a "
                      "lower bound that misses what worker processes used after the last sample (the stats job's "
                      "two workers); GNU time of the whole run is in the scaling table.", ""]
    sc = res.get("scaling") or {}
    if sc:
        lines += ["## Scaling with the number of subjects (untraced full runs, same trials and scale)", "",
                  "| Subjects | Wall (s) | Peak RSS, one process (MB) | Tree sum RSS (MB) | CPU user+sys (s) | Note |",
                  "|---|---|---|---|---|---|"]
        for pt in sc["points"]:
            cpu = (pt.get("user_s") or 0) + (pt.get("sys_s") or 0)
            note = "; ".join(x for x in (pt.get("layout"), pt["noise"] if pt.get("ok") else "FAILED") if x)
            lines.append(f"| {pt['subjects']} | {pt['wall_s']} | {pt['peak_rss_mb']} | {pt['tree_sum_rss_mb']} | "
                         f"{cpu:.1f} | {note} |")
        for m in sc.get("not_measured", []):
            lines.append(f"| {m['subjects']} | not measured | | | | {m['reason']} |")
        lines.append("")
        if sc.get("steps"):
            lines += ["Growth per step (wall-time growth / subject growth; peak-RSS growth / subject growth): "
                      + "; ".join(f"{x['from']} -> {x['to']}: {x['wall']}x, {x['rss']}x" for x in sc["steps"]) + ".", ""]
    ss = res.get("stats_scaling") or {}
    if ss.get("points"):
        lines += ["## Scaling of the stats job alone (one dataset: one mixed model over all its subjects)", "",
                  ss.get("layout", "") + ".", "",
                  "| Subjects | Wall (s) | Peak RSS (MB) | Note |", "|---|---|---|---|"]
        for pt in ss["points"]:
            lines.append(f"| {pt['subjects']} | {pt['wall_s']} | {pt['peak_rss_mb']} | "
                         f"{_noise_note(pt) if pt.get('ok') else 'FAILED: ' + str(pt.get('error_tail'))[-200:]} |")
        if ss.get("steps"):
            lines += ["", "Growth: " + "; ".join(f"{x['from']} -> {x['to']}: wall {x['wall']}x, RSS {x['rss']}x "
                                                 "the subject growth" for x in ss["steps"]) + "."]
        lines.append("")
    bs = res.get("bootstrap") or {}
    if bs.get("points"):
        lines += ["## What the cluster bootstrap costs (sensitivity runs, not a target)", "",
                  "The headline run again with `stats.bootstrap.n` overridden (fresh working folders, same mirror); "
                  "0 = no bootstrap intervals in the report.", "",
                  "| stats.bootstrap.n | Wall (s) | stats job wall (s) | Note |", "|---|---|---|---|"]
        for pt in bs["points"]:
            st = pt.get("stats") or {}
            lines.append(f"| {pt['n_boot']} | {pt['wall_s']} | {st.get('wall_total_s', '')} | "
                         f"{pt['noise'] if pt.get('ok') else 'FAILED: ' + str(pt.get('error_tail'))[-200:]} |")
        lines.append("")
    d = (p.get("diagnostics") or {}).get("trace")
    if d and "per_rule" in d:
        lines += ["## Where the pipeline's time goes (traced run)", "",
                  f"Traced run wall: {p['diagnostics']['traced_run']['wall_s']:.1f} s "
                  f"(untraced: {p['full_run']['wall_s']:.1f} s). {d['n_jobs']} jobs, "
                  f"{d['job_seconds_total']:.0f} job-seconds on {d['core_seconds_available']:.0f} core-seconds "
                  f"available (utilisation {d['core_utilisation_by_jobs']:.0%}). Interpreter start-up + imports: "
                  f"{d['job_startup_plus_imports_s_total']:.0f} s ({d['import_share_of_job_seconds']:.0%} of job time); "
                  f"compute: {d['job_compute_s_total']:.0f} s.", "",
                  "| Rule | Jobs | Wall total (s) | Mean wall (s) | Start-up + imports (s, mean/job) | Compute total (s) | Other (s) | CPU/wall | Max RSS (MB) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for rule, r in d["per_rule"].items():
            lines.append(f"| {rule} | {r['n']} | {r['wall_s']:.1f} | {r['mean_wall_s']:.2f} | "
                         f"{r['mean_startup_plus_imports_s']:.2f} | {r['compute_s']:.1f} | {r['other_s']:.1f} | "
                         f"{r['cpu_per_wall']:.2f} | {r['max_rss_mb']:.0f} |")
        lines += ["", "Compute = time inside the `retrogait.stages` entry point minus imports it triggered; "
                      "Other = the rest of the job process (snakemake's script preamble, work outside "
                      "`retrogait.stages`, e.g. a rule whose script calls another module)."]
        ph = d["phases"]
        lines += ["", f"Phases: snakemake start to first job {ph['snakemake_start_to_first_job_s']:.1f} s; "
                      f"per-subject jobs (fetch/ingest/cycles, 2 at a time) {ph['per_subject_phase_s']:.1f} s; "
                      f"serial tail ({' -> '.join(t['rule'] for t in d['serial_tail'])}) {ph['serial_tail_s']:.1f} s; "
                      f"after the last job {ph['last_job_to_exit_s']:.1f} s.", ""]
        hot = p["diagnostics"].get("hotspots") or {}
        if hot:
            lines += ["Hotspots (cProfile of the stage function of one job per rule, or of every job a code change "
                      "made rerun; seconds summed over those jobs, profiler overhead included):", ""]
            for stage, h in hot.items():
                tops = ", ".join(f"`{_fn_label(t['function'])}` {t['cumulative_s']:.1f}"
                                 for t in h["top_cumulative"][1:8])
                lines.append(f"- `{stage}` ({h.get('jobs', 1)} job(s), {h['total_s']:.1f} s in total, of which imports "
                             f"{h['import_s']:.1f} s): {tops}")
            lines.append("")
    n = res.get("noop") or {}
    if n.get("parts") or n.get("traced"):
        t = n.get("traced", {})
        pa = n.get("parts", {})
        lines += ["## No-op rerun", "",
                  f"Median {n.get('median_wall_s')} s over {n.get('reps')} runs. Traced: process {t.get('wall_s')} s, "
                  f"of which interpreter start-up {t.get('startup_s')} s and imports {t.get('import_s')} s; "
                  f"the rest (parse + config/manifest validation + DAG + mtime checks) {t.get('other_s')} s. "
                  f"Separately: `import snakemake.cli` {pa.get('import_snakemake_cli_s')} s, "
                  f"`load_run` (parse-time validation and plans) {pa.get('load_run_s')} s.", ""]
    b = res.get("bytes") or {}
    if b and b.get("returncode") == 0:
        lines += ["## Downloaded bytes", "",
                  f"{b['bytes_sent']} bytes served for {b['needed_compressed_bytes']} compressed bytes of the "
                  f"{(res.get('replica') or {}).get('needed_members', '?')} needed members (ratio {b['ratio']}; "
                  f"{b['ratio_vs_members_with_headers']} against members + local headers); {b['requests']} requests "
                  f"({b['range_requests']} ranged, {b['full_gets']} full GETs); {b['fraction_of_archive']:.0%} of the "
                  f"archive. Fetch stage wall time over HTTP: {b['wall_s']:.1f} s.", ""]
    c = res.get("c3d") or {}
    if c.get("files"):
        lines += ["## C3D per trial: retrogait vs gaitalytics", "",
                  f"gaitalytics {c.get('gaitalytics_worker', {}).get('gaitalytics')} (bench/.venv-gaitalytics) and "
                  f"retrogait in one run, interleaved, {c['reps']} repetitions after a warm-up, median per file. "
                  f"Imports: retrogait {c['retrogait_worker']['import_s']:.2f} s, gaitalytics "
                  f"{c['gaitalytics_worker']['import_s']:.2f} s (not in the per-trial times).", "",
                  "| File | retrogait total (s) | retrogait like-for-like (s) | gaitalytics (s) | Speed-up | Like-for-like |",
                  "|---|---|---|---|---|---|"]
        for key, f in c["files"].items():
            rgs, gas = f.get("retrogait", {}), f.get("gaitalytics", {})
            lines.append(f"| {key} | {rgs.get('median_total_s', rgs.get('error', ''))} | "
                         f"{rgs.get('median_like_for_like_s', '')} | {gas.get('median_total_s', gas.get('error', ''))} | "
                         f"{f.get('speedup', 'n/a')} | {f.get('speedup_like_for_like', 'n/a')} |")
        cold = c.get("cold_process", {})
        if cold.get("speedup"):
            lines += ["", f"Cold process (fresh interpreter per trial, imports included, {cold['retrogait']['file']}): "
                          f"retrogait {cold['retrogait']['median_s']} s, gaitalytics {cold['gaitalytics']['median_s']} s "
                          f"({cold['speedup']}x)."]
        lines += ["", f"Steps, retrogait: {c['steps']['retrogait']}", "", f"Steps, gaitalytics: {c['steps']['gaitalytics']}", ""]
    # keep hand-written notes between the markers
    readme = RESULTS / "README.md"
    notes = ""
    if readme.exists():
        m = re.search(r"<!-- notes:start -->.*?<!-- notes:end -->", readme.read_text(), re.S)
        if m:
            notes = m.group(0)
    lines += [notes or "<!-- notes:start -->\n<!-- notes:end -->", ""]
    readme.write_text("\n".join(lines))


def _public(obj):
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["pipeline", "noop", "bytes", "c3d", "scaling", "stats_scaling", "bootstrap"],
                    action="append",
                    help="run only these benchmarks (repeatable); default: all")
    ap.add_argument("--subjects", type=int, default=12, help="replica subjects (12 = GT23 scale)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per trial (20 = GT23 scale)")
    ap.add_argument("--emg-rate", type=float, default=2000.0, help="EMG rate in Hz (2000 = GT23 scale)")
    ap.add_argument("--compresslevel", type=int, default=6, help="deflate level of the replica")
    ap.add_argument("--noop-reps", type=int, default=3)
    ap.add_argument("--c3d-reps", type=int, default=7)
    ap.add_argument("--cold-reps", type=int, default=3)
    ap.add_argument("--no-diagnostics", action="store_true", help="skip the traced second pipeline run")
    ap.add_argument("--no-profile", action="store_true", help="skip cProfile of one job per rule")
    ap.add_argument("--label", default="2core", help="results file: bench/results/<date>-<label>.json")
    ap.add_argument("--scratch", help="scratch folder (default: a new temporary folder)")
    ap.add_argument("--replica-cache", help="folder to keep/reuse built replicas (outside git-tracked paths)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--wait-quiet", type=float, default=900.0,
                    help="before each timed run, wait up to this many seconds for other processes to use "
                         "< 0.25 cores (0: do not wait); what was found is recorded either way")
    ap.add_argument("--no-write", action="store_true", help="print results, do not write bench/results/")
    args = ap.parse_args(argv)
    only = set(args.only or ["pipeline", "noop", "bytes", "c3d", "scaling", "stats_scaling", "bootstrap"])
    WAIT_QUIET["timeout_s"] = args.wait_quiet
    if args.subjects < 1 or args.subjects > 12:
        ap.error("--subjects must be 1..12")

    scratch = Path(args.scratch).resolve() if args.scratch else Path(tempfile.mkdtemp(prefix="retrogait-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    if REPO in scratch.parents and not str(scratch).startswith(str(BENCH / "scratch")):
        ap.error("--scratch inside the repository must be under bench/scratch/ (git-ignored)")
    log(f"scratch: {scratch}")
    date = _dt.date.today().isoformat()
    json_path = RESULTS / f"{date}-{args.label}.json"
    res: dict[str, Any] = {}
    if json_path.exists() and not args.no_write:  # other sections of today's results are kept
        with contextlib.suppress(Exception):
            res = json.loads(json_path.read_text())
    res.update({"date": date, "label": args.label, "machine": machine_info(), "git": git_info(),
                "targets": {k: {"op": v[0], "value": v[1], "unit": v[2], "what": v[3]} for k, v in TARGETS.items()}})
    res.setdefault("runs", {})
    started = time.time()
    try:
        replica = None
        if only & {"pipeline", "noop", "bytes", "bootstrap"}:
            replica = get_replica(args, scratch)
            res["replica"] = replica
            res["replica_is_gt23_scale"] = (replica["scale_check"]["subjects"] == 12
                                            and replica["scale_check"]["trials_per_subject"] == 5
                                            and replica["scale_check"]["duration_s"] == 20.0
                                            and replica["scale_check"]["emg_channels"] == 16
                                            and replica["scale_check"]["emg_rate_hz"] == 2000.0)
        if "pipeline" in only:
            res["pipeline"] = bench_pipeline(args, replica, scratch, diagnostics=not args.no_diagnostics)
            res["runs"]["pipeline"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "noop" in only:
            res["noop"] = bench_noop(args, replica, scratch, res.get("pipeline"))
            res["runs"]["noop"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "bytes" in only:
            res["bytes"] = bench_bytes(args, replica, scratch)
            res["runs"]["bytes"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "scaling" in only:
            res["scaling"] = bench_scaling(args, scratch, res.get("pipeline") if "pipeline" in only else None,
                                           res.get("replica"))
            res["runs"]["scaling"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "bootstrap" in only:
            res["bootstrap"] = bench_bootstrap(args, replica, scratch, res.get("pipeline") if "pipeline" in only else None)
            res["runs"]["bootstrap"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "stats_scaling" in only:
            res["stats_scaling"] = bench_stats_scaling(args, scratch, scratch / "pipeline")
            res["runs"]["stats_scaling"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "c3d" in only:
            res["c3d"] = bench_c3d(args)
            res["runs"]["c3d"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    finally:
        res["bench_wall_s"] = round(time.time() - started, 1)
        end = git_info()
        res["git_end"] = end
        res["tree_changed_during_run"] = (end.get("trees") != res["git"].get("trees")
                                          or end.get("dirty_files") != res["git"].get("dirty_files"))
        res["verdicts"] = verdicts(res)
        public = _public(res)
        if not args.no_write:
            RESULTS.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(public, indent=1, default=str) + "\n")
            write_readme(public, json_path.name)
            log(f"results: {json_path.relative_to(REPO)} and bench/results/README.md")
        if not args.keep and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            log(f"scratch kept: {scratch}")
    for v in res["verdicts"]:
        verdict = "n/a" if v["pass"] is None else ("pass" if v["pass"] else "MISS")
        print(f"{v['what']:<70} {_fmt(v['measured'], v['unit']):>10}  target {v['target']:<12} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
