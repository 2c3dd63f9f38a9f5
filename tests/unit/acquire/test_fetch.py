"""Tests of retrogait.acquire.fetch: declared files over HTTP, from a mirror, with faults.

Everything runs against the local server of ``tests/httpserver.py``; no test
needs the internet. Backoff is tiny so retries cost nothing; no test asserts
a duration.
"""

from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path

import pytest
import requests

from retrogait.acquire.manifest import RawFile
from retrogait.errors import ChecksumError, FetchError
from retrogait.acquire.fetch import MIRROR_ENV, PARTIAL_DIR, fetch_files, resolve_mirror
from tests.httpserver import closed_port_url, serve

DS = "demo"
FAST = {"retries": 4, "backoff_s": 0.01, "timeout_s": 10.0, "progress": False}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Talk to 127.0.0.1 directly even where the environment sets an HTTP proxy."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def _blob(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture()
def blobs() -> dict[str, bytes]:
    return {
        "S01/trial_a.c3d": _blob(1, 3_000),
        "S01/trial_b.c3d": _blob(2, 200_000),
        "S02/deep/trial c.c3d": _blob(3, 70_001),   # space: URL quoting
    }


def _rawfiles(srv, blobs: dict[str, bytes], *, with_size: bool = True) -> list[RawFile]:
    return [RawFile(path=p, url=srv.url(f"files/{p}"), sha256=hashlib.sha256(b).hexdigest(),
                    size=len(b) if with_size else None) for p, b in blobs.items()]


def _serve_blobs(blobs: dict[str, bytes], **kw):
    return serve({f"files/{p}": b for p, b in blobs.items()}, **kw)


def _files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


class _CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def request(self, *args, **kwargs):  # type: ignore[override]
        self.calls += 1
        return super().request(*args, **kwargs)


# ---------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------

def test_download_verifies_and_records_provenance(tmp_path, blobs):
    dest = tmp_path / "raw" / DS
    with _serve_blobs(blobs) as srv:
        files = _rawfiles(srv, blobs)
        recs = fetch_files(DS, files, dest, **FAST)
    assert [r["path"] for r in recs] == list(blobs)
    for rec, f in zip(recs, files):
        assert rec == {"path": f.path, "size": f.size, "sha256": f.sha256, "source": f.url,
                       "status": "downloaded"}
        assert (dest / f.path).read_bytes() == blobs[f.path]
    assert not (dest / PARTIAL_DIR).exists()
    assert _files_under(dest) == sorted(blobs)


def test_progress_bar_goes_to_stderr(tmp_path, blobs, capsys):
    with _serve_blobs(blobs) as srv:
        fetch_files(DS, _rawfiles(srv, blobs), tmp_path / DS, **{**FAST, "progress": True})
    captured = capsys.readouterr()
    assert f"fetch {DS}" in captured.err and "267k" in captured.err.lower()  # bytes done / total
    assert captured.out == ""


def test_download_without_declared_size(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        recs = fetch_files(DS, _rawfiles(srv, blobs, with_size=False), dest, **FAST)
    assert [r["size"] for r in recs] == [len(b) for b in blobs.values()]


def test_cached_rerun_does_no_network(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        files = _rawfiles(srv, blobs)
        first = fetch_files(DS, files, dest, **FAST)
        srv.reset_counters()
        second = fetch_files(DS, files, dest, **FAST)
        assert srv.requests == []
    assert [r["status"] for r in second] == ["cached"] * len(blobs)
    assert [{k: v for k, v in r.items() if k != "status"} for r in second] == \
        [{k: v for k, v in r.items() if k != "status"} for r in first]


def test_mismatching_existing_file_is_replaced(tmp_path, blobs, caplog):
    dest = tmp_path / DS
    target = dest / "S01/trial_b.c3d"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * len(blobs["S01/trial_b.c3d"]))  # right size, wrong bytes
    with _serve_blobs(blobs) as srv, caplog.at_level(logging.WARNING):
        recs = fetch_files(DS, _rawfiles(srv, blobs), dest, **FAST)
    assert target.read_bytes() == blobs["S01/trial_b.c3d"]
    assert recs[1]["status"] == "downloaded"
    assert "S01/trial_b.c3d" in caplog.text and "replacing" in caplog.text


def test_http_404_fails_at_once(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        files = [RawFile(path="gone.c3d", url=srv.url("files/gone.c3d"), sha256="0" * 64, size=3)]
        with pytest.raises(FetchError, match=r"HTTP 404.*gone\.c3d") as ei:
            fetch_files(DS, files, dest, **FAST)
        assert len(srv.requests) == 1
    assert f"{DS}/gone.c3d" in str(ei.value)
    assert not dest.exists()


def test_http_500_is_retried(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        srv.add_fault("files/S01/trial_a.c3d", "status", status=503, times=2)
        recs = fetch_files(DS, _rawfiles(srv, blobs), dest, **FAST)
        statuses = [r.status for r in srv.requests if r.path == "files/S01/trial_a.c3d"]
    assert statuses == [503, 503, 200]
    assert recs[0]["status"] == "downloaded"
    assert (dest / "S01/trial_a.c3d").read_bytes() == blobs["S01/trial_a.c3d"]


def test_http_500_exhausts_retries(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        srv.add_fault("files/S01/trial_a.c3d", "status", status=500, times=None)
        with pytest.raises(FetchError, match=r"giving up.*3 failed attempts.*HTTP 500"):
            fetch_files(DS, _rawfiles(srv, blobs)[:1], dest, **{**FAST, "retries": 2})
        assert len(srv.requests) == 3


def test_dropped_connection_resumes_with_range(tmp_path, blobs):
    dest = tmp_path / DS
    name = "S01/trial_b.c3d"
    with _serve_blobs(blobs) as srv:
        srv.add_fault(f"files/{name}", "drop", after_bytes=50_000, times=2)
        fetch_files(DS, _rawfiles(srv, blobs), dest, **FAST)
        reqs = [r for r in srv.requests if r.path == f"files/{name}"]
        sent = srv.bytes_sent_for(f"files/{name}")
    assert [r.range_header for r in reqs] == [None, "bytes=50000-199999", "bytes=100000-199999"]
    assert sent == len(blobs[name])  # resumed: no byte sent twice
    assert (dest / name).read_bytes() == blobs[name]


def test_interrupted_download_is_resumed_by_next_run(tmp_path, blobs):
    dest = tmp_path / DS
    name = "S01/trial_b.c3d"
    with _serve_blobs(blobs) as srv:
        files = _rawfiles(srv, blobs)
        srv.add_fault(f"files/{name}", "drop", after_bytes=80_000, times=1)
        with pytest.raises(FetchError, match="kept in .*resumes"):
            fetch_files(DS, files, dest, **{**FAST, "retries": 0})
        part = dest / PARTIAL_DIR / (name + ".part")
        assert part.stat().st_size == 80_000
        assert not (dest / name).exists()
        srv.reset_counters()
        recs = fetch_files(DS, files, dest, **FAST)
        reqs = [r for r in srv.requests if r.path == f"files/{name}"]
    assert [r.range_header for r in reqs] == ["bytes=80000-199999"]
    assert [r["status"] for r in recs] == ["cached", "downloaded", "downloaded"]
    assert (dest / name).read_bytes() == blobs[name]
    assert not (dest / PARTIAL_DIR).exists()


def test_resume_restarts_cleanly_when_server_ignores_range(tmp_path, blobs):
    dest = tmp_path / DS
    name = "S01/trial_b.c3d"
    part = dest / PARTIAL_DIR / (name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage" * 1000)  # a stale partial: must not survive
    with _serve_blobs(blobs, honour_range=False) as srv:
        fetch_files(DS, _rawfiles(srv, blobs), dest, **FAST)
        reqs = [r for r in srv.requests if r.path == f"files/{name}"]
    assert [(r.range_header, r.status) for r in reqs] == [("bytes=7000-199999", 200)]
    assert (dest / name).read_bytes() == blobs[name]


def test_corrupted_download_raises_and_keeps_nothing(tmp_path, blobs):
    dest = tmp_path / DS
    name = "S01/trial_b.c3d"
    good = hashlib.sha256(blobs[name]).hexdigest()
    bad = bytearray(blobs[name])
    bad[1234] ^= 0xFF
    with _serve_blobs(blobs) as srv:
        srv.add_fault(f"files/{name}", "corrupt", offset=1234, length=1, times=None)
        with pytest.raises(ChecksumError) as ei:
            fetch_files(DS, _rawfiles(srv, blobs), dest, **FAST)
    msg = str(ei.value)
    assert f"{DS}/{name}" in msg and good in msg and hashlib.sha256(bad).hexdigest() in msg
    assert not (dest / name).exists()
    assert not (dest / PARTIAL_DIR).exists()


def test_size_differing_from_declaration(tmp_path, blobs):
    dest = tmp_path / DS
    with _serve_blobs(blobs) as srv:
        f = _rawfiles(srv, blobs)[0]
        f = RawFile(path=f.path, url=f.url, sha256=f.sha256, size=f.size + 1)
        with pytest.raises(ChecksumError, match=r"size mismatch .*trial_a\.c3d.*expected 3001, got 3000"):
            fetch_files(DS, [f], dest, **FAST)
    assert _files_under(tmp_path) == []


# ---------------------------------------------------------------------------
# unreachable host
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [closed_port_url("x/file.c3d"), "http://retrogait-test.invalid/x/file.c3d"],
                         ids=["connection-refused", "dns-failure"])
def test_unreachable_host_fails_fast_and_creates_nothing(tmp_path, url):
    dest = tmp_path / "raw" / DS
    session = _CountingSession()
    files = [RawFile(path="x/file.c3d", url=url, sha256="a" * 64, size=10)]
    with pytest.raises(FetchError) as ei:
        fetch_files(DS, files, dest, session=session, **{**FAST, "retries": 10})
    msg = str(ei.value)
    assert "cannot be reached" in msg and MIRROR_ENV in msg
    assert "<mirror>/<dataset>/<path>" in msg and "config/config.yaml" in msg
    assert session.calls <= 2  # at most one quick retry despite retries=10
    assert not dest.exists()
    assert _files_under(tmp_path) == []


def test_unreachable_host_leaves_existing_dest_untouched(tmp_path):
    dest = tmp_path / DS
    dest.mkdir()
    files = [RawFile(path="a/b.c3d", url=closed_port_url("a/b.c3d"), sha256="a" * 64)]
    with pytest.raises(FetchError, match="cannot be reached"):
        fetch_files(DS, files, dest, **FAST)
    assert list(dest.iterdir()) == []


# ---------------------------------------------------------------------------
# mirror
# ---------------------------------------------------------------------------

def _make_mirror(root: Path, blobs: dict[str, bytes]) -> Path:
    for p, b in blobs.items():
        f = root / DS / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b)
    return root


def _declared(blobs: dict[str, bytes], url: str) -> list[RawFile]:
    return [RawFile(path=p, url=f"{url}/{p}", sha256=hashlib.sha256(b).hexdigest(), size=len(b))
            for p, b in blobs.items()]


def test_mirror_copy_uses_no_network(tmp_path, blobs):
    mirror = _make_mirror(tmp_path / "mirror", blobs)
    dest = tmp_path / DS
    files = _declared(blobs, closed_port_url("never"))  # the network would fail
    recs = fetch_files(DS, files, dest, mirror=mirror, **FAST)
    for rec, f in zip(recs, files):
        src = (mirror / DS / f.path).resolve()
        assert rec == {"path": f.path, "size": f.size, "sha256": f.sha256, "source": f"mirror:{src}",
                       "status": "copied"}
        assert (dest / f.path).read_bytes() == blobs[f.path]
    assert not (dest / PARTIAL_DIR).exists()
    again = fetch_files(DS, files, dest, mirror=mirror, **FAST)
    assert [r["status"] for r in again] == ["cached"] * len(files)


def test_mirror_first_then_the_declared_url(tmp_path, blobs):
    """A file the mirror lacks comes from its declared URL (a local dataset runs beside mirrored ones)."""
    lacking = "S01/trial_b.c3d"
    mirror = _make_mirror(tmp_path / "mirror", {k: v for k, v in blobs.items() if k != lacking})
    elsewhere = _make_mirror(tmp_path / "lab", {lacking: blobs[lacking]}) / DS
    files = [RawFile(path=p, url=(elsewhere / p).as_uri() if p == lacking else f"{closed_port_url('never')}/{p}",
                     sha256=hashlib.sha256(b).hexdigest(), size=len(b)) for p, b in blobs.items()]
    recs = {r["path"]: r for r in fetch_files(DS, files, tmp_path / DS, mirror=mirror, **FAST)}
    assert recs[lacking]["source"] == (elsewhere / lacking).as_uri() and recs[lacking]["status"] == "copied"
    others = [p for p in blobs if p != lacking]
    assert others and all(recs[p]["source"] == f"mirror:{(mirror / DS / p).resolve()}" for p in others)
    assert all((tmp_path / DS / p).read_bytes() == b for p, b in blobs.items())


def test_mirror_missing_file_without_url_names_expected_path(tmp_path, blobs):
    mirror = _make_mirror(tmp_path / "mirror", {k: v for k, v in blobs.items() if k != "S01/trial_b.c3d"})
    files = [RawFile(path=p, url=None, sha256=hashlib.sha256(b).hexdigest(), size=len(b)) for p, b in blobs.items()]
    with pytest.raises(FetchError) as ei:
        fetch_files(DS, files, tmp_path / DS, mirror=mirror, **FAST)
    msg = str(ei.value)
    assert str(mirror.resolve() / DS / "S01/trial_b.c3d") in msg
    assert "<mirror>/<dataset>/<path>" in msg and "no url declared" in msg


def test_mirror_missing_file_with_unreachable_url_fails_with_the_network_message(tmp_path, blobs):
    mirror = _make_mirror(tmp_path / "mirror", {k: v for k, v in blobs.items() if k != "S01/trial_b.c3d"})
    files = _declared(blobs, closed_port_url("data"))
    with pytest.raises(FetchError, match="cannot be reached") as ei:
        fetch_files(DS, files, tmp_path / DS, mirror=mirror, **FAST)
    assert f"not in the mirror (expected the file {mirror.resolve() / DS / 'S01/trial_b.c3d'})" in str(ei.value)


def test_corrupted_mirror_file(tmp_path, blobs):
    mirror = _make_mirror(tmp_path / "mirror", blobs)
    name = "S01/trial_b.c3d"
    bad = bytearray(blobs[name])
    bad[777] ^= 0x01
    (mirror / DS / name).write_bytes(bad)
    dest = tmp_path / "raw" / DS
    files = _declared({name: blobs[name]}, "https://example.org/data")
    with pytest.raises(ChecksumError) as ei:
        fetch_files(DS, files, dest, mirror=mirror, **FAST)
    msg = str(ei.value)
    assert f"{DS}/{name}" in msg
    assert str(mirror.resolve() / DS / name) in msg
    assert hashlib.sha256(blobs[name]).hexdigest() in msg
    assert hashlib.sha256(bad).hexdigest() in msg
    assert _files_under(tmp_path / "raw") == []


def test_file_url_is_copied(tmp_path, blobs):
    src = _make_mirror(tmp_path / "src", blobs) / DS
    files = [RawFile(path=p, url=(src / p).as_uri(), sha256=hashlib.sha256(b).hexdigest(), size=len(b))
             for p, b in blobs.items()]
    recs = fetch_files(DS, files, tmp_path / DS, **FAST)
    assert [r["status"] for r in recs] == ["copied"] * len(blobs)
    assert all((tmp_path / DS / p).read_bytes() == b for p, b in blobs.items())


# ---------------------------------------------------------------------------
# resolve_mirror and argument checks
# ---------------------------------------------------------------------------

def test_resolve_mirror(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert resolve_mirror(None, environ={}) is None
    assert resolve_mirror("", environ={MIRROR_ENV: ""}) is None
    assert resolve_mirror(a, environ={}) == a.resolve()
    assert resolve_mirror(str(a), environ={MIRROR_ENV: str(b)}) == b.resolve()   # env wins
    with pytest.raises(FetchError, match=rf"{tmp_path / 'nope'}.*{MIRROR_ENV}.*does not exist"):
        resolve_mirror(a, environ={MIRROR_ENV: str(tmp_path / "nope")})
    with pytest.raises(FetchError, match=r"nope.*mirror: in the config"):
        resolve_mirror(tmp_path / "nope", environ={})
    (tmp_path / "f").write_text("x")
    with pytest.raises(FetchError, match="is not a directory"):
        resolve_mirror(tmp_path / "f", environ={})


def test_invalid_arguments_are_named(tmp_path):
    ok = RawFile(path="a.c3d", url="https://example.org/a.c3d", sha256="a" * 64)
    with pytest.raises(ValueError, match="sha256"):
        fetch_files(DS, [RawFile(path="a.c3d", url="https://example.org/a.c3d")], tmp_path, **FAST)
    with pytest.raises(ValueError, match="listed twice"):
        fetch_files(DS, [ok, ok], tmp_path, **FAST)
    with pytest.raises(ValueError, match="no url and no mirror"):
        fetch_files(DS, [RawFile(path="a.c3d", sha256="a" * 64)], tmp_path, **FAST)
    with pytest.raises(ValueError, match="scheme 'ftp'"):
        fetch_files(DS, [RawFile(path="a.c3d", url="ftp://x/a", sha256="a" * 64)], tmp_path, **FAST)
    with pytest.raises(ValueError, match="retries"):
        fetch_files(DS, [ok], tmp_path, **{**FAST, "retries": -1})
    with pytest.raises(TypeError, match="files"):
        fetch_files(DS, "a.c3d", tmp_path, **FAST)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dataset"):
        fetch_files("", [ok], tmp_path, **FAST)
    with pytest.raises(FetchError, match="mirror folder"):
        fetch_files(DS, [ok], tmp_path, mirror=tmp_path / "missing", **FAST)


def test_a_folder_pruned_by_another_fetch_job_while_it_is_made_is_made_again(tmp_path, monkeypatch):
    """Path.mkdir(exist_ok=True) raises FileExistsError when the folder exists at its mkdir and is gone
    when it checks is_dir (another subject's fetch job pruned the empty folders under .partial): retried."""
    import pathlib

    from retrogait.acquire.fetch import _open_new

    real_mkdir, calls = pathlib.Path.mkdir, []

    def racing_mkdir(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 1:
            raise FileExistsError(17, "File exists", str(self))  # what the pruned race gives
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", racing_mkdir)
    target = tmp_path / ".partial" / "AB09" / "walk_backward_1_0-8" / "emg.csv.zpart.json"
    with _open_new(target, "wb") as fh:
        fh.write(b"{}")
    assert calls[0] == target.parent and target.read_bytes() == b"{}"  # raised once, then made


def test_a_file_where_a_folder_belongs_is_not_retried(tmp_path):
    from retrogait.acquire.fetch import _open_new

    (tmp_path / ".partial").mkdir()
    (tmp_path / ".partial" / "AB09").write_text("a file, not a folder")
    with pytest.raises(FileExistsError):
        _open_new(tmp_path / ".partial" / "AB09" / "x.part", "wb")
