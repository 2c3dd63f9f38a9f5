"""The run explains itself: command-line forms that must work, and an offline run that stops before any job.

Real Snakemake invocations on the repository's workflow in a scratch folder;
no data are processed (dry runs, graphs, or a run stopped before its first
job), so these tests need neither the fixtures nor the network.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.httpserver import closed_port_url, serve

from .workflow import REPO, run_workflow

pytestmark = pytest.mark.integration

GAITALYTICS = {"datasets": ["gaitalytics"]}


@pytest.mark.parametrize("graph", ["--dag", "--rulegraph"])
def test_graphs_need_no_cores(tmp_path, graph):
    proc = run_workflow(tmp_path, overrides=GAITALYTICS, cores=None, args=(graph,))
    assert proc.stdout.lstrip().startswith("digraph"), proc.stdout[:200]
    assert "stats" in proc.stdout and "report" in proc.stdout


def test_nested_config_overrides_are_accepted(tmp_path):
    """`--config stats='{"alpha": 0.01}'` (Snakemake passes nested values as text)."""
    ok = run_workflow(tmp_path, overrides=GAITALYTICS, cores=None, args=(
        "-n", "--config", 'stats={"alpha": 0.01, "bootstrap": {"n": 99, "seed": 3}}', 'fetch={"progress": false}'))
    assert "not of type" not in ok.stdout + ok.stderr
    bad = run_workflow(tmp_path, overrides=GAITALYTICS, cores=None, check=False,
                       args=("-n", "--config", 'stats={"alpha": "small"}'))
    assert bad.returncode != 0
    assert "'stats.alpha': 'small' is not of type 'number'" in bad.stdout + bad.stderr


def test_offline_run_stops_before_any_job_with_one_message(tmp_path, monkeypatch):
    """No host of the run's dataset answers: one message, the ways forward, no job, no traceback."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    manifest = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    dead = closed_port_url("gone")
    with serve({}) as srv:  # the one host that answers: gaitalytics' files are "online"
        for ds, entry in manifest["datasets"].items():
            for f in entry.get("files", []):
                f["url"] = srv.url(f["path"]) if ds == "gaitalytics" else dead
            if entry.get("archive"):
                entry["archive"]["url"] = dead
        (tmp_path / "datasets.yaml").write_text(yaml.safe_dump(manifest))
        proc = run_workflow(tmp_path / "work", check=False, env={},
                            overrides={"datasets": ["biomechzoo-esmac"], "manifest": str(tmp_path / "datasets.yaml"),
                                       "external_folders": [str(tmp_path)]})
        head_requests = [r for r in srv.requests if r.method == "HEAD"]
        assert srv.requests == head_requests and len(head_requests) == 1  # asked once, nothing downloaded
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in text and "Error in rule" not in text
    assert "retrogait: stopped before any job: this dataset cannot be obtained:" in text
    assert "  biomechzoo-esmac: host 127.0.0.1:" in text and "(connection refused)" in text
    assert "RETROGAIT_MIRROR=/path/to/mirror make run" in text
    assert "make run DATASETS=gaitalytics " in text
    assert text.count("retrogait: stopped before any job") == 1
    work = tmp_path / "work"
    assert not (work / "logs").exists() and not (work / "data" / "raw").exists(), "a job started"


def test_slurm_profile_plans_subject_chains_and_the_summary_as_job_groups(tmp_path):
    """The SLURM profile as Snakemake reads it (a dry run needs no cluster; test_slurm.py runs it on one)."""
    profile = REPO / "workflow" / "profiles" / "slurm"
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    rules = {m for smk in (REPO / "workflow" / "rules").glob("*.smk")
             for m in re.findall(r"^\s*rule (\w+):", smk.read_text(), re.M)}
    assert set(settings["set-resources"]) | set(settings["groups"]) <= rules
    assert set(settings["set-resources"]) == rules - {"fetch"}, "every rule that runs on the cluster is sized"
    proc = run_workflow(tmp_path, overrides=GAITALYTICS, cores=None,
                        args=("-n", "--workflow-profile", str(profile)))
    text = proc.stdout + proc.stderr
    assert text.count("Group job subject") == 2 and text.count("Group job summary") == 1
    assert "mem_mb=3000" in text and "cpus_per_task=4" in text and "network=1" in text
    assert "rule fetch:" in text and "Group job fetch" not in text
