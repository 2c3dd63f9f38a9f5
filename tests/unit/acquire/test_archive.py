"""Tests of retrogait.acquire.archive: members of a remote ZIP over HTTP range requests.

The archives are generated here (CSV-like members of ~2-100 KB, deflate and
stored, with and without a ``ProcessedData/`` prefix, and a real ZIP64
layout) and served by ``tests/httpserver.py``. The byte budget of the issue
is measured from what the server actually sent. No test asserts a duration.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from retrogait.acquire import archive as archive_mod
from retrogait.acquire.manifest import RawFile
from retrogait.acquire.archive import LOCK_NAME, ArchiveIndex, MemberInfo, fetch_members, read_index
from retrogait.errors import ChecksumError, FetchError
from retrogait.acquire.fetch import MIRROR_ENV, PARTIAL_DIR
from tests.httpserver import closed_port_url, serve

DS = "gt23"
ZIP = "ProcessedData.zip"
FAST = {"retries": 4, "backoff_s": 0.01, "timeout_s": 10.0, "progress": False}
SUFFIXES = ("angle", "moment_filt", "emg")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Talk to 127.0.0.1 directly even where the environment sets an HTTP proxy."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------
# archive generation
# ---------------------------------------------------------------------------

def _csv(rng: random.Random, rows: int, cols: int = 6) -> bytes:
    head = "time," + ",".join(f"c{i}" for i in range(cols - 1))
    lines = [head] + [f"{r * 0.005:.3f}," + ",".join(f"{rng.gauss(0, 30):.4f}" for _ in range(cols - 1))
                      for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def make_members(seed: int = 7) -> dict[str, bytes]:
    """GT23-like member tree: 3 subjects x 2 trials x 3 signal files, ~2-100 KB each."""
    rng = random.Random(seed)
    out: dict[str, bytes] = {}
    for subj in ("AB01", "AB02", "AB03"):
        for trial in ("normal_walk_1_1-2", "walk_backward_1_0-6"):
            for suffix in SUFFIXES:
                rows = rng.choice([40, 150, 600, 1800])
                out[f"{subj}/{trial}/{subj}_{trial}_{suffix}.csv"] = _csv(rng, rows)
    return out


@contextlib.contextmanager
def _forced_zip64() -> Iterator[None]:
    """Make zipfile write ZIP64 extras and end records even for a small archive."""
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 1000, 2
    try:
        yield
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved


def make_zip(members: dict[str, bytes], *, prefix: str = "", stored: frozenset[str] = frozenset(),
             zip64: bool = False, extra_entries: dict[str, bytes] | None = None) -> bytes:
    """Zip ``members`` (deflate, or stored for names in ``stored``) under ``prefix``."""
    buf = io.BytesIO()
    ctx = _forced_zip64() if zip64 else contextlib.nullcontext()
    with ctx, zipfile.ZipFile(buf, "w", allowZip64=True) as zf:
        if prefix:
            zf.writestr(zipfile.ZipInfo(prefix), b"")  # directory entry, as GUI zippers write
        for name, data in {**members, **(extra_entries or {})}.items():
            zi = zipfile.ZipInfo(prefix + name, date_time=(2023, 5, 1, 12, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return buf.getvalue()


def zip_facts(data: bytes) -> tuple[dict[str, zipfile.ZipInfo], int]:
    """``({name: ZipInfo}, size of central directory + end records)``."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: i for i in zf.infolist()}, len(data) - zf.start_dir


def raw(names) -> list[RawFile]:
    return [RawFile(path=n) for n in names]


def tree(root: Path) -> dict[str, bytes]:
    """Files under ``root`` (lock excluded) -> bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME}


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    return make_members()


@pytest.fixture(scope="module")
def subset(members) -> list[str]:
    """Walking subset: two smallest, two largest and a few in between."""
    by_size = sorted(members, key=lambda n: len(members[n]))
    return sorted({*by_size[:2], *by_size[-2:], *by_size[5:9:2]})


def _fetch(srv, dest: Path, names, **kw) -> list[dict]:
    opts = {**FAST, **kw}
    return fetch_members(DS, srv.url(ZIP), ZIP, raw(names), dest, **opts)


def _member_requests(srv, cd_offset: int) -> list:
    return [r for r in srv.requests if r.range and 0 <= r.range[0] < cd_offset]


# ---------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------

def test_read_index_costs_only_the_central_directory(members):
    data = make_zip(members, prefix="ProcessedData/")
    infos, cd = zip_facts(data)
    with serve({ZIP: data}) as srv:
        index = read_index(srv.url(ZIP), retries=1, backoff_s=0.01)
        sent = srv.bytes_sent
        assert all(r.range_header for r in srv.requests) and len(srv.requests) == 2
    assert isinstance(index, ArchiveIndex)
    assert index.size == len(data) and index.cd_size == cd
    assert set(index.members) == set(infos)
    assert sent == index.bytes_transferred <= cd + 256
    name = "AB02/walk_backward_1_0-6/AB02_walk_backward_1_0-6_emg.csv"
    info = index.resolve(name)
    zi = infos["ProcessedData/" + name]
    assert info == MemberInfo("ProcessedData/" + name, zi.header_offset, zi.compress_size, zi.file_size,
                              zi.CRC, zipfile.ZIP_DEFLATED)


def test_read_index_rejects_non_zip():
    with serve({ZIP: random.Random(0).randbytes(5000)}) as srv:
        with pytest.raises(FetchError, match="not a readable ZIP archive"):
            read_index(srv.url(ZIP), retries=0, backoff_s=0.01)


def test_resolve_missing_and_ambiguous(members):
    extra = {"OTHER/AB01/normal_walk_1_1-2/AB01_normal_walk_1_1-2_angle.csv": b"dup"}
    data = make_zip(members, prefix="ProcessedData/", extra_entries=extra)
    with serve({ZIP: data}) as srv:
        index = read_index(srv.url(ZIP), retries=0, backoff_s=0.01)
    with pytest.raises(FetchError) as ei:
        index.resolve("AB01/normal_walk_1_1-2/AB01_normal_walk_1_1-2_anlge.csv")
    msg = str(ei.value)
    assert "not found" in msg and "'/AB01/normal_walk_1_1-2/AB01_normal_walk_1_1-2_anlge.csv'" in msg
    assert "similar entries" in msg and "_angle.csv" in msg
    with pytest.raises(FetchError, match=r"ambiguous.*ProcessedData/AB01.*OTHER/AB01"):
        index.resolve("AB01/normal_walk_1_1-2/AB01_normal_walk_1_1-2_angle.csv")


# ---------------------------------------------------------------------------
# ranged fetch: budget, prefix, ZIP64, cache, lock
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["plain", "prefix", "zip64"])
def test_ranged_subset_within_byte_budget(tmp_path, members, subset, variant, capsys):
    prefix = "ProcessedData/" if variant == "prefix" else ""
    stored = frozenset(subset[:1])
    data = make_zip(members, prefix=prefix, stored=stored, zip64=variant == "zip64")
    infos, cd = zip_facts(data)
    dest = tmp_path / DS
    with serve({ZIP: data}) as srv:
        recs = _fetch(srv, dest, subset)
        sent = srv.bytes_sent
        assert all(r.range_header and r.status == 206 for r in srv.requests)
    compressed = sum(infos[prefix + n].compress_size for n in subset)
    budget = 1.1 * compressed + cd
    with capsys.disabled():
        print(f"\n[{variant}] bytes sent {sent} for {len(subset)} members: compressed {compressed}, "
              f"central directory + end records {cd}; ratio to (compressed + cd) "
              f"{sent / (compressed + cd):.4f}, to budget {sent / budget:.4f}")
    assert sent <= budget
    assert tree(dest) == {n: members[n] for n in subset}
    for rec, n in zip(recs, subset):
        zi = infos[prefix + n]
        assert rec == {"path": n, "size": len(members[n]), "sha256": hashlib.sha256(members[n]).hexdigest(),
                       "source": srv.url(ZIP), "status": "downloaded", "member": prefix + n,
                       "crc32": f"{zi.CRC:08x}", "archive_comment": ""}
    assert not (dest / PARTIAL_DIR).exists()


def test_small_members_stay_within_budget(tmp_path, members):
    small = {f"AB0{i}/t/AB0{i}_t_angle.csv": _csv(random.Random(i), 60) for i in range(1, 8)}
    data = make_zip({**members, **small})
    infos, cd = zip_facts(data)
    with serve({ZIP: data}) as srv:
        _fetch(srv, tmp_path / DS, sorted(small)[::2])
        sent = srv.bytes_sent
    compressed = sum(infos[n].compress_size for n in sorted(small)[::2])
    assert max(len(small[n]) for n in small) < 6000
    assert sent <= 1.1 * compressed + cd


def test_prefix_or_not_gives_identical_output(tmp_path, members, subset):
    outs = []
    for prefix in ("", "ProcessedData/"):
        dest = tmp_path / (prefix.strip("/") or "bare")
        with serve({ZIP: make_zip(members, prefix=prefix)}) as srv:
            _fetch(srv, dest, subset)
        outs.append((tree(dest), (dest / LOCK_NAME).read_bytes()))
    assert outs[0] == outs[1]


def test_cached_rerun_does_no_network(tmp_path, members, subset):
    dest = tmp_path / DS
    with serve({ZIP: make_zip(members)}) as srv:
        first = _fetch(srv, dest, subset)
        lock_before = (dest / LOCK_NAME).read_bytes()
        srv.reset_counters()
        second = _fetch(srv, dest, subset)
        assert srv.requests == []
    assert [r["status"] for r in second] == ["cached"] * len(subset)
    assert [(r["sha256"], r["crc32"]) for r in second] == [(r["sha256"], r["crc32"]) for r in first]
    assert (dest / LOCK_NAME).read_bytes() == lock_before


def test_lock_written_then_mismatch_detected(tmp_path, members, subset):
    dest = tmp_path / DS
    with serve({ZIP: make_zip(members)}) as srv:
        _fetch(srv, dest, subset)
        lock = json.loads((dest / LOCK_NAME).read_text())
        text = (dest / LOCK_NAME).read_text()
        assert list(lock["members"]) == sorted(subset)
        assert text == json.dumps(lock, indent=2, sort_keys=True) + "\n"
        for n in subset:
            assert lock["members"][n] == {"size": len(members[n]), "sha256": hashlib.sha256(members[n]).hexdigest(),
                                          "crc32": f"{zipfile.crc32(members[n]):08x}"}
        # the archive changes upstream: same names, other bytes (valid CRCs)
        changed = dict(members)
        victim = subset[2]
        changed[victim] = members[victim].replace(b"1", b"7")
        srv.set_file(ZIP, make_zip(changed))
        (dest / victim).unlink()
        with pytest.raises(ChecksumError) as ei:
            _fetch(srv, dest, subset)
    msg = str(ei.value)
    assert victim in msg and str(dest / LOCK_NAME) in msg
    assert hashlib.sha256(members[victim]).hexdigest() in msg
    assert hashlib.sha256(changed[victim]).hexdigest() in msg
    assert not (dest / victim).exists()
    assert json.loads((dest / LOCK_NAME).read_text()) == lock  # the lock keeps the first record


def test_pinned_lock_is_verified(tmp_path, members, subset):
    pinned = tmp_path / "config" / "locks" / "gt23.lock.json"
    pinned.parent.mkdir(parents=True)
    victim = subset[0]
    entries = {n: {"size": len(members[n]), "sha256": hashlib.sha256(members[n]).hexdigest(),
                   "crc32": f"{zipfile.crc32(members[n]):08x}"} for n in subset}
    entries[victim] = {**entries[victim], "sha256": "f" * 64}
    pinned.write_text(json.dumps({"archive": ZIP, "format": 1, "members": entries}))
    dest = tmp_path / DS
    with serve({ZIP: make_zip(members)}) as srv:
        with pytest.raises(ChecksumError) as ei:
            _fetch(srv, dest, subset, pinned_lock=pinned)
    msg = str(ei.value)
    assert victim in msg and "pinned lock" in msg and "f" * 64 in msg
    assert hashlib.sha256(members[victim]).hexdigest() in msg
    assert not (dest / victim).exists()
    # the others were obtained and recorded; the victim was not
    assert sorted(json.loads((dest / LOCK_NAME).read_text())["members"]) == sorted(set(subset) - {victim})


def test_manifest_sha256_is_verified(tmp_path, members, subset):
    n = subset[1]
    wrong = RawFile(path=n, sha256="0" * 64)
    with serve({ZIP: make_zip(members)}) as srv:
        with pytest.raises(ChecksumError, match=rf"{n}.*manifest.*0{{64}}"):
            fetch_members(DS, srv.url(ZIP), ZIP, [wrong], tmp_path / DS, **FAST)


def test_member_path_differs_from_member_name(tmp_path, members):
    name = sorted(members)[0]
    rf = RawFile(path="renamed/angle.csv", member=name)
    with serve({ZIP: make_zip(members, prefix="ProcessedData/")}) as srv:
        rec, = fetch_members(DS, srv.url(ZIP), ZIP, [rf], tmp_path / DS, **FAST)
    assert (tmp_path / DS / "renamed/angle.csv").read_bytes() == members[name]
    assert rec["member"] == "ProcessedData/" + name and rec["path"] == "renamed/angle.csv"


def test_parallel_sessions_are_bounded(tmp_path, members):
    made: list[requests.Session] = []

    def factory() -> requests.Session:
        s = requests.Session()
        made.append(s)
        return s

    with serve({ZIP: make_zip(members)}) as srv:
        _fetch(srv, tmp_path / DS, sorted(members), parallel=3, session_factory=factory)
        assert 1 <= srv.max_concurrent <= 3
    assert 1 <= len(made) <= 3 + 1  # one per worker thread + the one that read the index
    assert tree(tmp_path / DS) == members


def test_concurrent_subject_jobs_keep_all_lock_entries(tmp_path, members):
    # Snakemake runs one fetch job per subject; they share dest and its lock
    from concurrent.futures import ThreadPoolExecutor

    dest = tmp_path / DS
    groups = [[n for n in sorted(members) if n.startswith(s)] for s in ("AB01", "AB02", "AB03")]
    with serve({ZIP: make_zip(members)}) as srv:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda g: _fetch(srv, dest, g, parallel=2), groups))
    assert sorted(json.loads((dest / LOCK_NAME).read_text())["members"]) == sorted(members)
    assert tree(dest) == members
    assert not (dest / PARTIAL_DIR).exists()


def test_short_span_guess_is_extended(tmp_path, members, subset, monkeypatch):
    # pretend local headers are longer than estimated: the span must grow by a request
    monkeypatch.setattr(archive_mod, "_MEMBER_SLACK", -120)
    data = make_zip(members, zip64=True)
    _infos, cd = zip_facts(data)
    with serve({ZIP: data}) as srv:
        _fetch(srv, tmp_path / DS, subset, parallel=1)
        n_member_requests = len(_member_requests(srv, len(data) - cd))
    assert tree(tmp_path / DS) == {n: members[n] for n in subset}
    assert n_member_requests > len(subset)


# ---------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------

def _clean_reference(members, subset) -> dict[str, bytes]:
    """What a clean run extracts: the subset, byte for byte."""
    return {n: members[n] for n in subset}


def test_dropped_connection_mid_member_resumes(tmp_path, members, subset):
    data = make_zip(members)
    infos, cd = zip_facts(data)
    cd_offset = len(data) - cd
    big = max(subset, key=lambda n: infos[n].compress_size)
    start = infos[big].header_offset
    dest = tmp_path / DS
    with serve({ZIP: data}) as srv:
        srv.add_fault(ZIP, "drop", after_bytes=4000, times=2,
                      when=lambda r: r.range is not None and r.range[0] >= start and r.range[0] < cd_offset
                      and r.range[0] <= start + 8000)
        _fetch(srv, dest, subset)
        reqs = [r for r in srv.requests if r.range and start <= r.range[0] < cd_offset
                and r.range[0] <= start + 8000]
        sent = srv.bytes_sent
    assert [r.range[0] - start for r in reqs] == [0, 4000, 8000]
    compressed = sum(infos[n].compress_size for n in subset)
    assert sent <= 1.1 * compressed + cd  # resumed, nothing fetched twice
    assert tree(dest) == _clean_reference(members, subset)


def test_interrupted_member_is_resumed_by_next_run(tmp_path, members, subset):
    data = make_zip(members)
    infos, cd = zip_facts(data)
    big = max(subset, key=lambda n: infos[n].compress_size)
    start = infos[big].header_offset
    dest = tmp_path / DS
    with serve({ZIP: data}) as srv:
        srv.add_fault(ZIP, "drop", after_bytes=5000, times=1,
                      when=lambda r: r.range is not None and r.range[0] == start)
        with pytest.raises(FetchError, match=rf"{big}.*giving up.*kept in .*resumes"):
            _fetch(srv, dest, subset, retries=0)
        part = dest / PARTIAL_DIR / (big + ".zpart")
        assert part.stat().st_size == 5000
        assert not (dest / big).exists()
        # the members that did arrive are recorded and kept
        assert sorted(json.loads((dest / LOCK_NAME).read_text())["members"]) == sorted(set(subset) - {big})
        srv.reset_counters()
        recs = _fetch(srv, dest, subset)
        member_reqs = [r for r in srv.requests if r.range and r.range[0] >= 0 and r.range[0] < len(data) - cd]
    assert [r.range[0] for r in member_reqs] == [start + 5000]
    assert {r["path"]: r["status"] for r in recs}[big] == "downloaded"
    assert tree(dest) == _clean_reference(members, subset)
    assert not (dest / PARTIAL_DIR).exists()


def test_http_500_then_success(tmp_path, members, subset):
    dest = tmp_path / DS
    with serve({ZIP: make_zip(members)}) as srv:
        srv.add_fault(ZIP, "status", status=500, times=3)
        _fetch(srv, dest, subset)
        assert sum(r.status == 500 for r in srv.requests) == 3
    assert tree(dest) == _clean_reference(members, subset)


def test_http_404_fails_at_once(tmp_path, members, subset):
    with serve({ZIP: make_zip(members)}) as srv:
        with pytest.raises(FetchError, match="HTTP 404"):
            fetch_members(DS, srv.url("nope.zip"), ZIP, raw(subset), tmp_path / DS, **FAST)
        assert len(srv.requests) == 1
    assert not (tmp_path / DS).exists()


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "deflate"])
def test_corrupted_member_bytes_fail_crc_then_rerun_recovers(tmp_path, members, subset, stored):
    victim = subset[3]
    data = make_zip(members, stored=frozenset([victim]) if stored else frozenset())
    infos, _cd = zip_facts(data)
    zi = infos[victim]
    data_start = zi.header_offset + 30 + len(victim) + len(zi.extra)
    dest = tmp_path / DS
    with serve({ZIP: data}) as srv:
        srv.add_fault(ZIP, "corrupt", offset=data_start + zi.compress_size // 2, length=1, times=None)
        with pytest.raises(ChecksumError) as ei:
            _fetch(srv, dest, subset)
        err = ei.value
        assert err.algorithm == "crc32" and victim in str(err) and f"{zi.CRC:08x}" in str(err)
        assert not (dest / victim).exists()
        assert not (dest / PARTIAL_DIR).exists()  # bad bytes are not kept for resuming
        srv.clear_faults()
        recs = _fetch(srv, dest, subset)
    assert {r["path"]: r["status"] for r in recs}[victim] == "downloaded"
    assert tree(dest) == _clean_reference(members, subset)


def test_server_ignoring_range_stops_before_downloading_unless_allowed(tmp_path, members, subset):
    """Issue 11 item 7: the whole-archive fallback is opt-in; the error gives the size and the config key."""
    data = make_zip(members)
    dest = tmp_path / DS
    with serve({ZIP: data}, honour_range=False) as srv:
        with pytest.raises(FetchError) as err:
            fetch_members(DS, srv.url(ZIP), ZIP, raw(subset), dest, archive_size=len(data), **FAST)
        assert len(srv.requests) == 1  # the first answer (200, whole file) was closed, nothing retried
    msg = str(err.value)
    assert "ignores HTTP Range" in msg and f"{len(data)} bytes" in msg and "allow_full_download: true" in msg
    assert "RETROGAIT_MIRROR" in msg
    assert not dest.exists()


def test_server_ignoring_range_falls_back_to_one_full_download(tmp_path, members, subset, caplog):
    data = make_zip(members, prefix="ProcessedData/")
    dest = tmp_path / DS
    with serve({ZIP: data}, honour_range=False) as srv, caplog.at_level(logging.WARNING):
        recs = fetch_members(DS, srv.url(ZIP), ZIP, raw(subset), dest, archive_size=len(data), **FAST,
                             allow_full_download=True)
        full_bodies = [r for r in srv.requests if r.status == 200]
        assert len(full_bodies) == 1  # the answer to the first request is the download
        assert srv.bytes_sent == len(data)
    assert "ONE full download" in caplog.text and f"{len(data)} bytes" in caplog.text
    assert (dest / ZIP).read_bytes() == data
    assert tree(dest) == {**{n: members[n] for n in subset}, ZIP: data}
    assert {r["status"] for r in recs} == {"downloaded"}
    # later runs extract from the kept archive without network
    for n in subset:
        (dest / n).unlink()
    with serve({ZIP: data}, honour_range=False) as srv:
        again = fetch_members(DS, srv.url(ZIP), ZIP, raw(subset), dest, archive_size=len(data), **FAST,
                              allow_full_download=True)
        assert srv.requests == []
    assert {r["status"] for r in again} == {"extracted"}
    assert tree(dest) == {**{n: members[n] for n in subset}, ZIP: data}


def test_full_download_fallback_recovers_from_drop(tmp_path, members, subset):
    data = make_zip(members)
    dest = tmp_path / DS
    with serve({ZIP: data}, honour_range=False) as srv:
        srv.add_fault(ZIP, "drop", after_bytes=len(data) // 3, times=1)
        fetch_members(DS, srv.url(ZIP), ZIP, raw(subset), dest, **FAST, allow_full_download=True)
    assert tree(dest) == {**{n: members[n] for n in subset}, ZIP: data}


def test_zip_slip_member_is_refused(tmp_path, members):
    evil = {"../evil.csv": b"owned\n", "/abs/evil2.csv": b"owned\n"}
    data = make_zip(members, extra_entries=evil)
    dest = tmp_path / "raw" / DS
    with serve({ZIP: data}) as srv:
        for requested, entry in (("evil.csv", "../evil.csv"), ("abs/evil2.csv", "/abs/evil2.csv")):
            with pytest.raises(FetchError) as ei:
                fetch_members(DS, srv.url(ZIP), ZIP, raw([requested]), dest, **FAST)
            assert repr(entry) in str(ei.value) and "zip-slip" in str(ei.value)
    assert not (tmp_path / "raw" / "evil.csv").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []
    with pytest.raises(ValueError, match=r"\.\."):
        fetch_members(DS, "https://example.org/a.zip", ZIP, [RawFile(path="x.csv", member="../x.csv")], dest, **FAST)


# ---------------------------------------------------------------------------
# unreachable host, mirrors, file URLs
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [closed_port_url(ZIP), f"http://retrogait-test.invalid/{ZIP}"],
                         ids=["connection-refused", "dns-failure"])
def test_unreachable_host_fails_fast_and_creates_nothing(tmp_path, subset, url):
    calls = []

    def factory() -> requests.Session:
        s = requests.Session()
        orig = s.request

        def counted(*a, **k):
            calls.append(a)
            return orig(*a, **k)

        s.request = counted  # type: ignore[method-assign]
        return s

    dest = tmp_path / "raw" / DS
    with pytest.raises(FetchError) as ei:
        fetch_members(DS, url, ZIP, raw(subset), dest, session_factory=factory, **{**FAST, "retries": 10})
    msg = str(ei.value)
    assert "cannot be reached" in msg and MIRROR_ENV in msg and "<mirror>/<dataset>/<path>" in msg
    assert len(calls) <= 2
    assert not dest.exists()


def test_mirror_with_archive_copy(tmp_path, members, subset):
    mirror = tmp_path / "mirror"
    (mirror / DS).mkdir(parents=True)
    (mirror / DS / ZIP).write_bytes(make_zip(members, prefix="ProcessedData/"))
    dest = tmp_path / DS
    recs = fetch_members(DS, closed_port_url(ZIP), ZIP, raw(subset), dest, mirror=mirror, **FAST)
    assert {r["status"] for r in recs} == {"copied"}
    assert {r["source"] for r in recs} == {f"mirror:{(mirror / DS / ZIP).resolve()}"}
    assert tree(dest) == {n: members[n] for n in subset}
    assert sorted(json.loads((dest / LOCK_NAME).read_text())["members"]) == sorted(subset)


def test_mirror_with_loose_members(tmp_path, members, subset):
    mirror = tmp_path / "mirror"
    for n in subset:
        (mirror / DS / n).parent.mkdir(parents=True, exist_ok=True)
        (mirror / DS / n).write_bytes(members[n])
    dest = tmp_path / DS
    recs = fetch_members(DS, closed_port_url(ZIP), ZIP, raw(subset), dest, mirror=mirror, **FAST)
    assert {r["status"] for r in recs} == {"copied"}
    assert tree(dest) == {n: members[n] for n in subset}
    lock = json.loads((dest / LOCK_NAME).read_text())["members"]
    # a loose member that differs from the recorded lock is refused
    victim = subset[1]
    (mirror / DS / victim).write_bytes(members[victim] + b"extra\n")
    (dest / victim).unlink()
    with pytest.raises(ChecksumError) as ei:
        fetch_members(DS, closed_port_url(ZIP), ZIP, raw(subset), dest, mirror=mirror, **FAST)
    assert victim in str(ei.value) and lock[victim]["sha256"] in str(ei.value)
    assert not (dest / victim).exists()


def test_mirror_missing_everything_names_both_layouts(tmp_path, subset):
    mirror = tmp_path / "mirror"
    (mirror / DS).mkdir(parents=True)
    with pytest.raises(FetchError) as ei:
        fetch_members(DS, closed_port_url(ZIP), ZIP, raw(subset), tmp_path / DS, mirror=mirror, **FAST)
    msg = str(ei.value)
    assert str(mirror.resolve() / DS / ZIP) in msg and str(mirror.resolve() / DS / subset[0]) in msg


def test_file_url_archive(tmp_path, members, subset):
    src = tmp_path / "src" / ZIP
    src.parent.mkdir()
    src.write_bytes(make_zip(members, zip64=True))
    recs = fetch_members(DS, src.as_uri(), ZIP, raw(subset), tmp_path / DS, **FAST)
    assert {r["status"] for r in recs} == {"copied"}
    assert tree(tmp_path / DS) == {n: members[n] for n in subset}


def test_invalid_arguments(tmp_path):
    ok = [RawFile(path="a.csv")]
    with pytest.raises(ValueError, match="archive_name"):
        fetch_members(DS, "https://example.org/a.zip", "sub/a.zip", ok, tmp_path, **FAST)
    with pytest.raises(ValueError, match="archive_url"):
        fetch_members(DS, "ftp://example.org/a.zip", ZIP, ok, tmp_path, **FAST)
    with pytest.raises(ValueError, match="parallel"):
        fetch_members(DS, "https://example.org/a.zip", ZIP, ok, tmp_path, **{**FAST, "parallel": 0})
    with pytest.raises(ValueError, match="listed twice"):
        fetch_members(DS, "https://example.org/a.zip", ZIP, ok * 2, tmp_path, **FAST)


def test_sparse_byte_map_merges_and_reports_gaps():
    rng = random.Random(3)
    size = 500
    truth = rng.randbytes(size)
    known = archive_mod._ByteMap(size)
    have = [False] * size
    for _ in range(60):
        a = rng.randrange(size)
        b = min(size, a + rng.randrange(1, 40))
        known.add(a, truth[a:b])
        for i in range(a, b):
            have[i] = True
        lo = rng.randrange(size)
        hi = min(size, lo + rng.randrange(1, 80))
        missing = [i for i in range(lo, hi) if not have[i]]
        gaps = known.gaps(lo, hi)
        assert [i for g0, g1 in gaps for i in range(g0, g1)] == missing
        got = known.get(lo, hi)
        assert (got is None) == bool(missing)
        if got is not None:
            assert got == truth[lo:hi]
    assert known.nbytes == sum(have)


def test_archive_comment_is_recorded_in_provenance_and_lock(tmp_path):
    """A replica says what it is in its ZIP comment; provenance and lock keep it."""
    import io as _io
    import zipfile as _zf

    buf = _io.BytesIO()
    with _zf.ZipFile(buf, "w", compression=_zf.ZIP_DEFLATED) as zf:
        zf.writestr("AB01/t/AB01_t_angle.csv", "time,x\n0.000,1\n")
        zf.comment = b"retrogait GT23 replica: synthetic data"
    with serve({"a.zip": buf.getvalue()}) as srv:
        recs = fetch_members("gt23", srv.url("a.zip"), "a.zip", [RawFile(path="AB01/t/AB01_t_angle.csv",
                             member="AB01/t/AB01_t_angle.csv")], tmp_path / "d", progress=False)
        assert recs[0]["archive_comment"] == "retrogait GT23 replica: synthetic data"
        lock = json.loads((tmp_path / "d" / LOCK_NAME).read_text())
        assert lock["comment"] == "retrogait GT23 replica: synthetic data"
        again = fetch_members("gt23", srv.url("a.zip"), "a.zip", [RawFile(path="AB01/t/AB01_t_angle.csv",
                              member="AB01/t/AB01_t_angle.csv")], tmp_path / "d", progress=False)
        assert again[0]["status"] == "cached" and again[0]["archive_comment"] == lock["comment"]
