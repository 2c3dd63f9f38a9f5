"""Interruptions and changed declarations (issue 12 items 1 and 14, issue 11 item 7).

* Ctrl-C (SIGINT) during a ranged GT23 fetch from the local test server:
  queued members are cancelled, completed members stay recorded in the
  lock, and a rerun completes with byte-identical files without fetching
  the completed members again.
* A server that answered and then refuses every connection: the job fails
  once the connections of the job were refused, not after every member's
  own retry schedule.
* Editing a file's sha256 in the manifest after a successful run: the next
  run fetches it again (Snakemake sees the declared identity change) and
  fails on the mismatch, keeping nothing.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import requests

from retrogait.config import load_yaml
from tests.httpserver import serve

from .helpers import REPO, c3d_dataset, files_under, gt23_config, repo_manifest, sha256, write_c3d, write_yaml

ARCHIVE = "ProcessedData.zip"

_FETCH = """
import json, sys
from retrogait.stages import fetch_subject
cfg = json.loads(sys.argv[1])
fetch_subject(cfg, dataset="gt23", subject="AB01", output=sys.argv[2], root=sys.argv[3], environ={})
"""


def _config(tmp: Path, url: str, *, parallel: int = 2) -> dict:
    manifest = repo_manifest()
    manifest["datasets"]["gt23"]["archive"]["url"] = url
    cfg = gt23_config(tmp, tmp / "no-mirror", manifest=str(write_yaml(tmp / "datasets.yaml", manifest)))
    cfg["mirror"] = None
    cfg["fetch"] = {**cfg["fetch"], "parallel": parallel, "retries": 4, "backoff_s": 0.01}
    return cfg


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _csv_tree(raw: Path) -> dict[str, bytes]:
    return {p.relative_to(raw).as_posix(): p.read_bytes() for p in sorted(raw.rglob("*.csv"))}


def _member_offsets(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as zf:
        return {zi.filename: zi.header_offset for zi in zf.infolist() if not zi.is_dir()}


def _requested(srv, offsets: dict[str, int], cd_offset: int) -> set[str]:
    """Members some request of ``srv`` asked bytes of (a range starting inside the member's span)."""
    bounds = sorted(offsets.values()) + [cd_offset]
    spans = {m: (off, next(b for b in bounds if b > off)) for m, off in offsets.items()}
    starts = [r.range[0] for r in srv.requests if r.range and r.range[0] >= 0]
    return {m for m, (a, b) in spans.items() if any(a <= x < b for x in starts)}


def test_sigint_during_a_ranged_fetch_stops_and_a_rerun_completes_identically(replica, tmp_path):
    _, info = replica
    offsets = _member_offsets(info.path)
    with zipfile.ZipFile(info.path) as zf:
        cd_offset = zf.start_dir
    wanted = sorted(m for m in offsets if m.startswith("AB01/"))
    assert len(wanted) == 10
    with serve(info.path.parent) as srv:
        url = srv.url(ARCHIVE)
        # reference: an uninterrupted fetch
        clean = tmp_path / "clean"
        cfg = _config(clean, url)
        subprocess.run([sys.executable, "-c", _FETCH, json.dumps(cfg), str(clean / "raw/gt23/.provenance/AB01.json"),
                        str(REPO)], check=True, capture_output=True, text=True, cwd=REPO)
        reference = _csv_tree(clean / "raw/gt23")
        assert sorted(reference) == wanted

        # a slow link for member bytes (the central directory stays fast), then Ctrl-C
        srv.reset_counters()
        srv.add_fault(ARCHIVE, "slow", times=None, delay_s=0.2,
                      when=lambda r: r.range is not None and 0 <= r.range[0] < cd_offset)
        work = tmp_path / "work"
        cfg = _config(work, url)
        raw = work / "raw/gt23"
        # a test run started in the background by a non-interactive shell inherits SIGINT ignored, and so
        # would the fetch (Python then installs no KeyboardInterrupt handler): give it a terminal's Ctrl-C
        proc = subprocess.Popen([sys.executable, "-c", _FETCH, json.dumps(cfg), str(raw / ".provenance/AB01.json"),
                                 str(REPO)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                preexec_fn=_default_sigint)
        lock = raw / "members.lock.json"
        deadline = threading.Event()
        for _ in range(1200):  # a hang guard, not a timing assertion
            if lock.is_file() and json.loads(lock.read_text()).get("members"):
                break
            if proc.poll() is not None or deadline.wait(0.05):
                break
        assert proc.poll() is None, "the fetch ended before it could be interrupted:\n" + proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert "fetch interrupted" in err and "the next run fetches the rest" in err

        requested = _requested(srv, offsets, cd_offset)
        assert len(requested & set(wanted)) < len(wanted), "queued members were not cancelled"
        recorded = json.loads(lock.read_text())["members"]
        assert recorded, "completed members must be in the lock"
        for path, entry in recorded.items():  # every recorded member is complete and verified
            assert (raw / path).is_file() and sha256(raw / path) == entry["sha256"]
        assert not (raw / ".provenance/AB01.json").exists()

        # the rerun completes, byte-identical, without fetching the recorded members again
        srv.clear_faults()
        srv.reset_counters()
        subprocess.run([sys.executable, "-c", _FETCH, json.dumps(cfg), str(raw / ".provenance/AB01.json"),
                        str(REPO)], check=True, capture_output=True, text=True, cwd=REPO)
        again = _requested(srv, offsets, cd_offset)
    assert _csv_tree(raw) == reference
    assert not (again & set(recorded)), f"members complete before Ctrl-C were fetched again: {again & set(recorded)}"
    assert json.loads(lock.read_text())["members"] == json.loads(
        (clean / "raw/gt23/members.lock.json").read_text())["members"]
    assert not (raw / ".partial").exists()


class _RefusingAdapter(requests.adapters.HTTPAdapter):
    """Serves the first ``answer`` requests, then refuses every connection (a server that died)."""

    def __init__(self, counter: dict, answer: int):
        super().__init__()
        self.counter, self.answer = counter, answer

    def send(self, request, **kw):
        with self.counter["lock"]:
            self.counter["n"] += 1
            n = self.counter["n"]
        if n > self.answer:
            with self.counter["lock"]:
                self.counter["refused"] += 1
            raise requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"),
                                                      request=request)
        return super().send(request, **kw)


def test_a_server_that_dies_fails_the_job_fast(replica, tmp_path):
    from retrogait.acquire.archive import fetch_members
    from retrogait.acquire.manifest import RawFile
    from retrogait.errors import FetchError

    _, info = replica
    members = sorted(m for m in info.members if m.startswith("AB01/"))
    counter = {"n": 0, "refused": 0, "lock": threading.Lock()}

    def session():
        s = requests.Session()
        s.mount("http://", _RefusingAdapter(counter, answer=2))  # the index (tail + central directory) only
        return s

    retries, parallel = 4, 2
    with serve(info.path.parent) as srv:
        with pytest.raises(FetchError) as err:
            fetch_members("gt23", srv.url(ARCHIVE), ARCHIVE, [RawFile(path=m) for m in members], tmp_path / "gt23",
                          retries=retries, backoff_s=0.01, timeout_s=5, parallel=parallel, progress=False,
                          session_factory=session)
    msg = str(err.value)
    assert "refuses every connection" in msg and "5 connections in a row failed (connection refused)" in msg
    assert "RETROGAIT_MIRROR" in msg
    # one member's retry budget for the whole job (+ the transfers already under way), not one per member
    assert counter["refused"] <= retries + 1 + len(members), counter
    assert counter["refused"] < len(members) * (retries + 1)
    assert files_under(tmp_path / "gt23") == []


@pytest.mark.integration
def test_editing_a_manifest_sha256_refetches_and_fails_on_the_mismatch(tmp_path):
    from tests.integration.workflow import run_workflow

    src = write_c3d(tmp_path / "src" / "walk01.c3d")
    with serve(src.parent) as srv:
        manifest, cfg = c3d_dataset(tmp_path, {"walk01.c3d": src}, url=lambda rel, p: srv.url(p.name))
        overrides = {k: cfg[k] for k in ("datasets", "manifest", "external_folders")}
        work = tmp_path / "work"
        args = ("--until", "ingest")
        run_workflow(work, overrides=overrides, env={}, args=args, cores=1)
        raw = work / "data/raw/labc3d/walk01.c3d"
        assert sha256(raw) == sha256(src)
        assert (work / "data/processed/labc3d/subjects/S01/trials.parquet").is_file()
        again = run_workflow(work, overrides=overrides, env={}, args=args, cores=1)
        assert re.search(r"^total\s+0$", again.stdout + again.stderr, re.M), "an unchanged rerun runs no job"
        gets = lambda: [r for r in srv.requests if r.method == "GET"]  # noqa: E731 (HEAD: the pre-run reachability check)
        assert len(gets()) == 1

        data = load_yaml(manifest)
        data["datasets"]["labc3d"]["files"][0]["sha256"] = "0" * 64
        write_yaml(manifest, data)
        proc = run_workflow(work, overrides=overrides, env={}, args=args, cores=1, check=False)
        text = proc.stdout + proc.stderr
        assert len(gets()) == 2, "the declaration changed: the file must be fetched again"
    assert proc.returncode != 0
    assert "rule fetch" in text and "labc3d/walk01.c3d" in text and "sha256 mismatch" in text and "0" * 64 in text
    assert not raw.exists(), "bytes that do not match the manifest are not kept"
    assert not (work / "data/raw/labc3d/.provenance/S01.json").exists()
    assert not [p for p in (work / "data/raw/labc3d").rglob("*.part")]
