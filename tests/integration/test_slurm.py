"""The SLURM profile on a real SLURM: the gaitalytics recordings through the SLURM executor match a local run.

Opt-in with ``RETROGAIT_SLURM=1`` (``.ci/run`` sets it after installing
``slurm-wlm`` and ``munge``): a cluster that already answers ``sinfo`` is
used as it is; otherwise ``tools/slurm/start-one-node.sh`` starts a one-node
cluster (slurmctld + slurmd + munged on localhost) and this module stops it
again. Where that cannot work (not root, packages missing) the tests skip
with the script's reason.

The workflow runs twice on the same recordings, with the same config: locally
(``--cores 2``) and with ``--workflow-profile workflow/profiles/slurm``
(fetch on the submitting host, the per-subject chain and the summary as
SLURM job groups). Every table under ``data/processed`` and
``reports/tables`` and every figure must be byte-identical; the HTML report
may differ only in the metadata named in :data:`REPORT_METADATA`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from retrogait.io import sha256_file

from .workflow import REPO, run_workflow

pytestmark = [pytest.mark.integration, pytest.mark.fixtures, pytest.mark.slurm]

OVERRIDES = {
    "datasets": ["gaitalytics"],
    "stats": {"bootstrap": {"n": 199, "seed": 7}},  # fewer resamples keep it short; same in both runs
}
PROFILE = REPO / "workflow" / "profiles" / "slurm"
START = REPO / "tools" / "slurm" / "start-one-node.sh"
STOP = REPO / "tools" / "slurm" / "stop-one-node.sh"
#: Where the one-node cluster lives (fixed, so that a later run finds and replaces a stale one).
SLURM_DIR = Path(os.environ.get("RETROGAIT_SLURM_DIR", "/tmp/retrogait-slurm"))
#: Settings for a test cluster without accounting: job states from squeue
#: (completed jobs stay listed for MinJobAge) and a first status check after 2 s.
TEST_ARGS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2")

#: What the HTML report may legitimately differ in between two runs of the same
#: data and config, each replaced by a placeholder before comparing: the
#: working directory (absolute paths), dates/times and the stage timings table
#: of the Software section (run metadata: how long this run's jobs took).
REPORT_METADATA = ("working directory", "date and time", "stage timings")
_TIMINGS = re.compile(r'<div id="stage-timings">.*?<!-- /stage-timings -->', re.S)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def _sinfo_answers(env: dict) -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and any(s.startswith(("idle", "mix", "alloc")) for s in proc.stdout.split())


@pytest.fixture(scope="module")
def slurm_env():
    """Environment in which ``sbatch``/``squeue`` reach a working SLURM cluster."""
    if os.environ.get("RETROGAIT_SLURM", "") not in ("1", "true", "yes"):
        pytest.skip("the SLURM integration test is opt-in: set RETROGAIT_SLURM=1 (.ci/run does); it uses a running "
                    "SLURM cluster or starts a one-node one with tools/slurm/start-one-node.sh (root, slurm-wlm, munge)")
    env = {**os.environ, "PATH": f"/usr/sbin:/sbin:{os.environ.get('PATH', '')}"}
    if _sinfo_answers(env):
        yield env  # a cluster that was already running: used as it is, not stopped
        return
    start = subprocess.run(["bash", str(START), str(SLURM_DIR)], env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=180)
    if start.returncode == 3:
        pytest.skip(start.stderr.strip() or "tools/slurm/start-one-node.sh: cannot run here")
    try:
        assert start.returncode == 0, f"tools/slurm/start-one-node.sh failed:\n{start.stdout}\n{start.stderr}"
        env["SLURM_CONF"] = str(SLURM_DIR / "slurm.conf")
        assert _sinfo_answers(env), "the one-node cluster started but sinfo shows no usable node"
        yield env
    finally:
        subprocess.run(["bash", str(STOP), str(SLURM_DIR)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fixtures_dir, slurm_env):
    """The same workflow run locally and through SLURM (at the same time: the SLURM run mostly waits)."""
    local, cluster = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("slurm")
    mirror = {"RETROGAIT_MIRROR": str(fixtures_dir)}
    slurm_only = {k: v for k, v in slurm_env.items() if k.startswith("SLURM") or k == "PATH"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        on_slurm = pool.submit(run_workflow, cluster, overrides=OVERRIDES, env={**mirror, **slurm_only}, cores=None,
                               args=("--workflow-profile", str(PROFILE), *TEST_ARGS))
        on_local = pool.submit(run_workflow, local, overrides=OVERRIDES, env=mirror)
        slurm_proc, local_proc = on_slurm.result(), on_local.result()
    return {"local": local, "slurm": cluster, "slurm_proc": slurm_proc, "local_proc": local_proc,
            "env": {**mirror, **slurm_only}}


def _files(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("data/processed", "reports/tables", "reports/figures"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = sha256_file(p)
    return out


def _squeue(env: dict, run_id: str) -> list[dict[str, str]]:
    proc = subprocess.run(["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%T|%C|%m|%l|%k"],
                          env=env, capture_output=True, text=True, timeout=30, check=True)
    keys = ("id", "state", "cpus", "mem", "time", "comment")
    return [dict(zip(keys, line.split("|"))) for line in proc.stdout.splitlines() if line.strip()]


def _minutes(limit: str) -> int:
    """SLURM time limit ``[D-]HH:MM:SS`` / ``MM:SS`` in minutes."""
    days, _, rest = limit.rpartition("-")
    parts = [int(x) for x in rest.split(":")]
    h, m, s = ([0] * (3 - len(parts)) + parts)
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def _mb(mem: str) -> float:
    return float(mem[:-1]) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 ** 2}[mem[-1]] if mem[-1].isalpha() else float(mem)


def test_jobs_ran_through_slurm_in_groups_with_the_profile_resources(runs):
    out = runs["slurm_proc"].stdout + runs["slurm_proc"].stderr
    assert "localrule fetch:" in out, "downloads run on the submitting host"
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    subjects = sorted(p.stem for p in (runs["slurm"] / "data/raw/gaitalytics/.provenance").glob("*.json"))
    assert len(subjects) == 2 and len(submitted) == len(subjects) + 1, f"one job per subject chain + the summary: {submitted}"
    assert out.count("Group job subject") == len(subjects) and out.count("Group job summary") == 1
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    jobs = _squeue(runs["env"], run_id)
    assert sorted(j["id"] for j in jobs) == sorted(submitted) and {j["state"] for j in jobs} == {"COMPLETED"}, jobs
    res = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-resources"]
    # the subject chain runs one rule after the other; in the summary, spm and the figures can run beside
    # stats, so its runtime is at least that of its longest chain combine -> stats -> report
    chain, summary = ("ingest", "cycles"), ("combine", "stats", "report")
    for job in jobs:
        if job["comment"].startswith("rule_subject_"):  # the chain runs one rule after the other
            assert _minutes(job["time"]) == sum(res[r]["runtime"] for r in chain), job
            assert _mb(job["mem"]) == max(res[r]["mem_mb"] for r in chain) and job["cpus"] == "1", job
        else:
            assert job["comment"].startswith("rule_summary_"), job
            assert _minutes(job["time"]) >= sum(res[r]["runtime"] for r in summary), job
            assert _mb(job["mem"]) >= res["stats"]["mem_mb"], job
            assert int(job["cpus"]) >= res["stats"]["cpus_per_task"], job


def test_tables_and_figures_match_the_local_run(runs):
    local, cluster = _files(runs["local"]), _files(runs["slurm"])
    assert any(k.startswith("reports/tables/contrasts") for k in local) and len(local) > 40
    assert sorted(cluster) == sorted(local)
    differ = [k for k in local if local[k] != cluster[k]]
    assert differ == [], f"differ between the local and the SLURM run: {differ}"


def _normalised_report(work: Path) -> str:
    html = (work / "reports" / "report.html").read_text(encoding="utf-8")
    html = html.replace(str(work), "<working directory>")
    html = _TIMINGS.sub("<stage timings>", html)
    return _DATETIME.sub("<date and time>", html)


def test_report_matches_the_local_run_but_for_named_metadata(runs):
    local, cluster = _normalised_report(runs["local"]), _normalised_report(runs["slurm"])
    assert "gaitalytics" in local and "data:image/png;base64," in local
    if local != cluster:
        a, b = local.splitlines(), cluster.splitlines()
        first = next(i for i, (x, y) in enumerate(zip(a + [""], b + [""])) if x != y)
        pytest.fail(f"reports differ beyond {list(REPORT_METADATA)}: line {first + 1}:\n"
                    f"local: {a[first][:300] if first < len(a) else ''}\nslurm: {b[first][:300] if first < len(b) else ''}")


def test_second_slurm_run_submits_nothing(runs):
    again = run_workflow(runs["slurm"], overrides=OVERRIDES, env=runs["env"], cores=None,
                         args=("--workflow-profile", str(PROFILE), *TEST_ARGS))
    text = again.stdout + again.stderr
    assert "Nothing to be done" in text and "submitted with SLURM jobid" not in text
