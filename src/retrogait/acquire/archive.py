"""Members of a large remote ZIP archive, fetched with HTTP range requests.

GT23 ships its processed data as one ~13 GB ZIP64 archive
(``ProcessedData.zip``) of which the pipeline needs a few hundred MB. This
module reads the archive's central directory and then only the bytes of the
needed members, with HTTP ``Range`` requests, so the download costs about
the compressed size of those members.

How it works
------------
The ZIP structure is parsed by the standard library's :mod:`zipfile`, never
by hand. :mod:`zipfile` reads from a *sparse file object*
(:class:`_SparseFile`): a read-only, seekable file of the archive's full size
that holds only some byte ranges (in memory: the tail with the end-of-central-
directory records and the central directory; on disk: the byte range of one
member). A read that touches bytes it does not hold raises
:class:`_NeedBytes` naming the missing span; the caller fetches that span
with one range request and lets :mod:`zipfile` try again. So

1. :func:`read_index` fetches the last 256 bytes (EOCD, ZIP64 locator and
   ZIP64 EOCD when no archive comment is present), then exactly the central
   directory that :class:`zipfile.ZipFile` asks for: two requests, and only
   the central directory plus a few hundred bytes of tail;
2. for each member the span ``[header_offset, end)`` is fetched, where
   ``end`` is the smaller of the next entry's header offset and the local
   header + compressed data (local extra field estimated from the central
   one, plus 64 bytes); if :mod:`zipfile` needs more (a longer local extra
   field) the span is extended by one more request;
3. :meth:`zipfile.ZipFile.open` then reads the local header and inflates the
   member from that span, checking its CRC-32. Each worker thread parses the
   central directory once and only swaps the member span of its sparse file.

The member's compressed bytes are kept in ``dest/.partial/<path>.zpart``
(with a ``.json`` sidecar identifying archive and member) while they arrive,
so an interrupted transfer resumes with a ``Range`` request, within a run
(retries) and across runs. Members are fetched by a bounded thread pool.

Why not :mod:`remotezip` alone: it parses with :mod:`zipfile` too (its
``RemoteZip`` is a ``ZipFile`` over a range-fetching file object), but it
streams each member straight from one HTTP response, so a dropped connection
loses the member (no retry, no resume), one ``RemoteZip`` cannot be shared by
threads, and its first read is 64 KB of tail. The sparse file above keeps the
same division of labour (HTTP here, ZIP structure in :mod:`zipfile`) and adds
what the pipeline needs: retries, resume, bounded parallelism, byte
accounting.

Lock format (``dest/members.lock.json``; a pinned lock has the same form)::

    {"archive": "ProcessedData.zip", "format": 1,
     "members": {"AB01/.../AB01_..._angle.csv":
                 {"crc32": "1a2b3c4d", "sha256": "...", "size": 123456}}}

Verification: CRC-32 of every member (from the archive), then size and
sha256 against the manifest (if declared), the pinned lock (if given and
present) and the local lock ``dest/members.lock.json``, which records
``size``, ``sha256`` and ``crc32`` of every member extracted (keyed by the
prefix-free path, so the lock is the same whether or not the archive wraps
its entries in a ``ProcessedData/`` folder). A mismatch removes the bytes
and raises :class:`~retrogait.errors.ChecksumError`.

Fallbacks and other sources, in the order they are tried:

* members already in ``dest`` and matching a known sha256: ``"cached"``;
* a mirror folder, looked in first: ``<mirror>/<dataset>/<archive name>``
  (members extracted from it) or loose ``<mirror>/<dataset>/<path>`` files
  (copied; members the mirror lacks come from the declared URL); both
  ``"copied"``;
* a ``file://`` archive URL: members extracted from that file
  (``"copied"``);
* a complete archive already at ``dest/<archive name>`` (an earlier full
  download): members extracted from it (``"extracted"``);
* the network: ranged requests (``"downloaded"``). A server that ignores
  ``Range`` (answers ``200``) stops the fetch before anything is
  downloaded, with the archive's size and the config key that allows the
  fallback (``fetch.allow_full_download``, off by default: the real GT23
  archive is 13 GB). When allowed: ONE full download of the archive to
  ``dest/<archive name>`` with a warning stating its size, then local
  extraction (``"downloaded"``); the archive is kept so later runs need no
  network.

Members are added to the local lock as each completes; Ctrl-C cancels the
queued members at once and stops the running transfers at their next
chunk, so an interrupted fetch keeps what it finished and resumes the rest.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import difflib
import hashlib
import io
import json
import logging
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from retrogait.acquire.manifest import RawFile
from retrogait.errors import ChecksumError, ConfigError, FetchError
from retrogait.acquire.fetch import (
    PARTIAL_DIR,
    _Attempts,
    _Bar,
    _Cancelled,
    _check_dataset,
    _check_dest,
    _check_mirror,
    _copy_hashing,
    _file_url_path,
    _folder_lock,
    _hash_file,
    _headers,
    _iter_body,
    _new_session,
    _open_new,
    _parse_content_range,
    _Policy,
    _prune_partial,
    _RangeIgnored,
    _Reachability,
    _Retryable,
    _stream_to_partial,
    _TRANSIENT,
    _check_status,
    mirror_hint,
)
from retrogait.io import write_json

__all__ = [
    "LOCK_NAME",
    "MemberInfo",
    "ArchiveIndex",
    "read_index",
    "fetch_members",
]

#: File name of the local lock under the dataset's raw folder.
LOCK_NAME = "members.lock.json"

_log = logging.getLogger(__name__)

_TAIL = 256            # bytes read first from the end of the archive
_MEMBER_SLACK = 64     # allowance for a local extra field longer than the central one
_MAX_ROUNDS = 8        # fetch-and-retry rounds for one zipfile operation
_CHUNK = 1 << 20
_LOCK_VERSION = 1
_CANCEL_WAIT_S = 10.0  # after Ctrl-C, how long running transfers get to stop at their next chunk


# ---------------------------------------------------------------------------
# sparse, range-backed file object for zipfile
# ---------------------------------------------------------------------------

class _NeedBytes(Exception):
    """:mod:`zipfile` read bytes ``[start, end)`` that the sparse file does not hold."""

    def __init__(self, start: int, end: int):
        super().__init__(f"bytes {start}-{end - 1} not fetched yet")
        self.start = start
        self.end = end


class _ByteMap:
    """Known byte ranges of a remote file, kept merged (non-overlapping, sorted)."""

    def __init__(self, size: int):
        self.size = size
        self._segs: list[tuple[int, bytes]] = []

    def add(self, start: int, data: bytes) -> None:
        end = start + len(data)
        merged_start, pieces = start, []
        keep: list[tuple[int, bytes]] = []
        lo, hi = start, end
        for s, d in self._segs:
            e = s + len(d)
            if e < lo or s > hi:
                keep.append((s, d))
            else:
                pieces.append((s, d))
                merged_start = min(merged_start, s)
                hi = max(hi, e)
        buf = bytearray(hi - merged_start)
        for s, d in pieces:
            buf[s - merged_start:s - merged_start + len(d)] = d
        buf[start - merged_start:end - merged_start] = data
        keep.append((merged_start, bytes(buf)))
        keep.sort(key=lambda t: t[0])
        self._segs = keep

    def get(self, start: int, end: int) -> bytes | None:
        for s, d in self._segs:
            if s <= start and end <= s + len(d):
                return d[start - s:end - s]
        return None

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        out, pos = [], start
        for s, d in self._segs:
            e = s + len(d)
            if e <= pos or s >= end:
                continue
            if s > pos:
                out.append((pos, s))
            pos = max(pos, e)
        if pos < end:
            out.append((pos, end))
        return out

    @property
    def nbytes(self) -> int:
        return sum(len(d) for _, d in self._segs)


class _SparseFile(io.RawIOBase):
    """Read-only, seekable view of a remote archive that holds only some ranges.

    ``zipfile.ZipFile`` is given this object instead of a real file. Reads
    are served from ``known`` (in memory) or from one on-disk span
    ``(start, path, length)`` holding archive bytes ``[start, start+length)``;
    any other read raises :class:`_NeedBytes` so the caller can fetch the
    missing span and retry. This is the only "zip" logic of this module: all
    parsing (EOCD, ZIP64 records, central directory, local headers, inflate,
    CRC) is done by :mod:`zipfile`.
    """

    def __init__(self, known: _ByteMap, disk: tuple[int, Path, int] | None = None):
        super().__init__()
        self._known = known
        self._disk = disk
        self._fh = None
        self._pos = 0

    def set_disk(self, disk: tuple[int, Path, int] | None) -> None:
        """Serve another on-disk span (closing the file of the previous one)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._disk = disk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            pos = offset
        elif whence == 1:
            pos = self._pos + offset
        elif whence == 2:
            pos = self._known.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(22, "negative seek position")
        self._pos = pos
        return pos

    def read(self, n: int | None = -1) -> bytes:
        size = self._known.size
        if n is None or n < 0:
            n = size - self._pos
        n = max(0, min(n, size - self._pos))
        if n == 0:
            return b""
        start, end = self._pos, self._pos + n
        data = self._known.get(start, end)
        if data is None and self._disk is not None:
            ds, path, length = self._disk
            if ds <= start and end <= ds + length:
                if self._fh is None:
                    self._fh = open(path, "rb")
                self._fh.seek(start - ds)
                data = self._fh.read(n)
                if len(data) != n:
                    raise _NeedBytes(start, end)
        if data is None:
            raise _NeedBytes(start, end)
        self._pos = end
        return data

    def readinto(self, b) -> int:  # pragma: no cover - zipfile uses read()
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()


# ---------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberInfo:
    """One archive entry, as described by the central directory.

    Attributes
    ----------
    name
        Entry name in the archive (with any wrapping folder).
    header_offset
        Offset of the entry's local header in the archive.
    compress_size, file_size
        Compressed and uncompressed sizes (bytes).
    crc
        CRC-32 of the uncompressed bytes.
    compress_type
        ZIP compression method (0 stored, 8 deflate, ...).
    """

    name: str
    header_offset: int
    compress_size: int
    file_size: int
    crc: int
    compress_type: int


def _unsafe_name(name: str) -> bool:
    """Absolute paths, drive letters and ``..`` components escape the target folder (zip-slip)."""
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return True
    return any(part == ".." for part in re.split(r"[/\\]", name))


class ArchiveIndex:
    """The central directory of a ZIP archive: which members it holds and where.

    Attributes
    ----------
    url
        Where the archive is (URL or local path).
    size
        Archive size in bytes.
    members
        ``{entry name: MemberInfo}`` in central-directory order (directory
        entries included).
    bytes_transferred
        Body bytes received over the network to build the index.
    cd_offset
        Offset of the central directory; ``size - cd_offset`` is the size of
        the central directory plus the end records.
    label
        How messages name the archive (e.g. ``"gt23 archive ProcessedData.zip"``).
    """

    def __init__(self, url: str, size: int, infos: Sequence[zipfile.ZipInfo], *, cd_offset: int,
                 bytes_transferred: int = 0, known: _ByteMap | None = None, label: str | None = None,
                 comment: str = ""):
        self.url = url
        self.size = size
        #: The archive's ZIP comment (end of central directory), e.g. a replica's self-description.
        self.comment = comment
        self.cd_offset = cd_offset
        self.bytes_transferred = bytes_transferred
        self.label = label or f"archive {url}"
        self._known = known
        self._tls = threading.local()
        self._zinfos: dict[str, zipfile.ZipInfo] = {}
        self.members: dict[str, MemberInfo] = {}
        self._count: dict[str, int] = {}
        self._by_suffix: dict[str, list[str]] = {}
        for zi in infos:
            name = zi.filename
            self._count[name] = self._count.get(name, 0) + 1
            self._zinfos[name] = zi
            self.members[name] = MemberInfo(name, zi.header_offset, zi.compress_size, zi.file_size,
                                            zi.CRC, zi.compress_type)
            if name.endswith("/"):
                continue
            parts = name.split("/")
            for i in range(len(parts)):
                self._by_suffix.setdefault("/".join(parts[i:]), []).append(name)
        self._offsets = sorted({zi.header_offset for zi in infos} | {cd_offset})

    @classmethod
    def _from_zipfile(cls, zf: zipfile.ZipFile, *, url: str, size: int, **kw) -> "ArchiveIndex":
        comment = zf.comment.decode("utf-8", "replace") if zf.comment else ""
        index = cls(url, size, zf.infolist(), cd_offset=zf.start_dir, comment=comment, **kw)
        index._check_structure(_declared_entries(zf))
        return index

    def _check_structure(self, declared: int | None) -> None:
        """Refuse a central directory that cannot describe a valid archive.

        :mod:`zipfile` reads the central directory entry by entry and checks
        each entry's signature, but neither the entry count nor where the
        entries point. A damaged directory then shows up later as a missing
        member or a wrong checksum. Checked here: the number of entries
        equals the count in the end-of-central-directory record; every
        member's local header, name and compressed data fit before the next
        member (or the central directory); names hold no control characters.

        Raises
        ------
        FetchError
            Naming the archive and the first problem found.
        """
        problems = []
        infos = list(self._zinfos.values())
        n = sum(self._count.values())
        if declared is not None and declared != n:
            problems.append(f"the end record declares {declared} entries, the directory holds {n}")
        bad_names = [zi.filename for zi in infos if any(ord(ch) < 32 or ord(ch) == 127 for ch in zi.filename)]
        if bad_names:
            problems.append(f"entry name {bad_names[0]!r} holds control characters")
        by_offset = sorted(infos, key=lambda zi: zi.header_offset)
        offsets = self._offsets  # sorted, distinct, the central directory's offset included
        for zi in by_offset:
            if zi.header_offset >= self.cd_offset:
                problems.append(f"entry {zi.filename!r} starts at byte {zi.header_offset}, inside or after the "
                                f"central directory (byte {self.cd_offset})")
                break
            i = bisect.bisect_right(offsets, zi.header_offset)  # O(log n): GT23 has thousands of entries
            nxt = offsets[i] if i < len(offsets) else self.cd_offset
            end = zi.header_offset + 30 + len(zi.orig_filename.encode("utf-8", "replace")) + zi.compress_size
            if end > nxt:
                problems.append(f"entry {zi.filename!r} ({zi.compress_size} compressed bytes at byte "
                                f"{zi.header_offset}) overlaps the next entry or the central directory (byte {nxt})")
                break
        if problems:
            raise FetchError(f"{self.label}: the archive's central directory is corrupt: {'; '.join(problems)}. "
                             "The archive (or the copy being served) is damaged; nothing was extracted. Fetch it "
                             "again from the source, or tell its maintainers.")

    @property
    def cd_size(self) -> int:
        """Central directory plus end records, in bytes."""
        return self.size - self.cd_offset

    def resolve(self, requested_name: str) -> MemberInfo:
        """Find the entry for a member requested without any wrapping folder.

        An entry matches when its name equals ``requested_name`` or ends
        with ``"/" + requested_name`` (so ``AB01/x.csv`` finds both
        ``AB01/x.csv`` and ``ProcessedData/AB01/x.csv``).

        Raises
        ------
        FetchError
            No entry or several entries match (the message lists what was
            looked for and similar names), or the matching entry's name is
            absolute or contains ``..`` (zip-slip).
        """
        req = requested_name.strip()
        if _unsafe_name(req):
            raise FetchError(f"{self.label}: requested member {requested_name!r} is an absolute path "
                             "or contains '..'; refusing it")
        req = req.rstrip("/")
        found = self._by_suffix.get(req, [])
        if not found:
            names = [n for n in self.members if not n.endswith("/")]
            close = difflib.get_close_matches(req, names, n=3, cutoff=0.6)
            hint = f"; similar entries: {close}" if close else ""
            damaged = _garbled(req, names)
            if damaged:
                hint += (f". Entry {damaged!r} differs from the requested name only in "
                         f"{sum(a != b for a, b in zip(req, damaged[-len(req):]))} character(s) at the same "
                         "positions: the archive's central directory is probably corrupt (or the name is misspelt "
                         "in the options); a corrupt archive must be fetched again from its source")
            raise FetchError(f"{self.label}: member {requested_name!r} not found: looked for an entry "
                             f"named {req!r} or ending in '/{req}' among {len(names)} entries{hint}")
        if len(found) > 1 or self._count[found[0]] > 1:
            listed = sorted(set(found))
            raise FetchError(f"{self.label}: member {requested_name!r} is ambiguous: looked for an entry "
                             f"named {req!r} or ending in '/{req}' and found "
                             f"{len(found) if len(found) > 1 else self._count[found[0]]} entries: {listed}")
        name = found[0]
        if _unsafe_name(name):
            raise FetchError(f"{self.label}: entry {name!r} (for member {requested_name!r}) is an absolute "
                             "path or contains '..' and would escape the target folder (zip-slip); "
                             "refusing to extract it")
        return self.members[name]

    # -- internals used by fetch_members ------------------------------------
    def _zipinfo(self, name: str) -> zipfile.ZipInfo:
        return self._zinfos[name]

    def _span(self, info: MemberInfo) -> tuple[int, int]:
        """Byte span ``[start, end)`` expected to hold the member's local header and data."""
        zi = self._zinfos[info.name]
        start = info.header_offset
        nxt = next((o for o in self._offsets if o > start), self.size)
        name_len = len(zi.orig_filename.encode("utf-8"))
        guess = start + 30 + name_len + len(zi.extra) + info.compress_size + _MEMBER_SLACK
        return start, min(nxt, guess, self.size)

    def _member_zip(self, disk: tuple[int, Path, int] | None) -> tuple[zipfile.ZipFile, _SparseFile]:
        """This thread's ``ZipFile`` over the sparse archive, now serving ``disk``.

        Parsing a large central directory takes tens of milliseconds, so each
        worker thread parses it once and then only swaps the on-disk member
        span of its sparse file.
        """
        if self._known is None:
            raise RuntimeError("this index holds no central-directory bytes")
        cached = getattr(self._tls, "zip", None)
        if cached is None:
            sparse = _SparseFile(self._known)
            cached = (zipfile.ZipFile(sparse), sparse)
            self._tls.zip = cached
        cached[1].set_disk(disk)
        return cached


def _declared_entries(zf: zipfile.ZipFile) -> int | None:
    """Entry count of the end-of-central-directory record (ZIP64-aware), read by :mod:`zipfile`; None if unknown."""
    try:
        endrec = zipfile._EndRecData(zf.fp)  # noqa: SLF001 - zipfile's own EOCD reader
        return int(endrec[zipfile._ECD_ENTRIES_TOTAL]) if endrec else None  # noqa: SLF001
    except Exception:  # noqa: BLE001 - private API or a sparse read: the count check is then skipped
        return None


def _garbled(requested: str, names: Sequence[str]) -> str | None:
    """An entry whose name has the requested name's length and differs in 1-2 characters (a damaged byte)."""
    for name in names:
        tail = name[-len(requested):] if len(name) >= len(requested) else None
        if tail is None or (len(name) > len(requested) and name[-len(requested) - 1] != "/"):
            continue
        diff = sum(a != b for a, b in zip(requested, tail))
        if 0 < diff <= 2:
            return name
    return None


def _get_range_bytes(session: requests.Session, url: str, start: int, end: int, *, what: str,
                     policy: _Policy, reach: _Reachability, log: logging.Logger) -> bytes:
    """Bytes ``[start, end)`` of ``url`` (small spans, kept in memory), with retries and resume."""
    attempts = _Attempts(url, what, policy, reach, log)
    got = bytearray()
    while True:
        attempts.before_attempt()
        pos = start + len(got)
        try:
            resp = session.get(url, headers=_headers({"Range": f"bytes={pos}-{end - 1}"}), stream=True,
                               timeout=policy.timeout)
            with contextlib.closing(resp):
                reach.mark(url)
                _check_status(resp, url, what)
                if resp.status_code == 200:
                    raise _RangeIgnored(url)
                cr = _parse_content_range(resp.headers.get("Content-Range"))
                if cr is None or cr[0] != pos or cr[1] != end - 1:
                    raise FetchError(f"{what}: {url} answered bytes {pos}-{end - 1} with Content-Range "
                                     f"{resp.headers.get('Content-Range')!r}")
                for chunk in _iter_body(resp):
                    got += chunk
                    attempts.progressed()
                    if len(got) > end - start:
                        raise FetchError(f"{what}: {url} sent more bytes than requested")
                if len(got) != end - start:
                    raise _Retryable(f"got {len(got)} of {end - start} bytes")
                return bytes(got)
        except _TRANSIENT as exc:
            attempts.failed(exc)


def _read_tail(session: requests.Session, url: str, *, what: str, policy: _Policy, reach: _Reachability,
               log: logging.Logger, archive_size: int | None) -> tuple[int, int, bytes]:
    """First request: the last bytes of the archive -> ``(start, total size, data)``.

    Raises :class:`_RangeIgnored` carrying the open ``200`` response (the
    caller may stream the whole archive from it).
    """
    attempts = _Attempts(url, what, policy, reach, log)
    headers = {"Range": f"bytes=-{_TAIL}"}
    while True:
        attempts.before_attempt()
        resp = None
        try:
            resp = session.get(url, headers=_headers(headers), stream=True, timeout=policy.timeout)
            reach.mark(url)
            if resp.status_code == 416 and headers["Range"].startswith("bytes=-") and archive_size:
                resp.close()
                log.info("%s: server rejects suffix ranges; using the declared size %d", what, archive_size)
                headers = {"Range": f"bytes={max(0, archive_size - _TAIL)}-{archive_size - 1}"}
                continue
            _check_status(resp, url, what)
            if resp.status_code == 200:
                raise _RangeIgnored(url, resp)
            cr = _parse_content_range(resp.headers.get("Content-Range"))
            if cr is None or cr[2] is None:
                raise FetchError(f"{what}: {url} sent no usable Content-Range "
                                 f"({resp.headers.get('Content-Range')!r}); cannot learn the archive size")
            first, last, total = cr
            data = resp.raw.read(last - first + 1, decode_content=True)
            resp.close()
            if len(data) != last - first + 1:
                raise _Retryable(f"got {len(data)} of {last - first + 1} bytes")
            return first, total, data
        except _RangeIgnored:
            raise
        except _TRANSIENT as exc:
            if resp is not None:
                resp.close()
            attempts.failed(exc)
        except BaseException:
            if resp is not None:
                resp.close()
            raise


def _read_index(url: str, session: requests.Session, *, policy: _Policy, reach: _Reachability,
                log: logging.Logger, what: str, archive_size: int | None = None) -> ArchiveIndex:
    first, total, data = _read_tail(session, url, what=what, policy=policy, reach=reach, log=log,
                                    archive_size=archive_size)
    transferred = len(data)
    known = _ByteMap(total)
    known.add(first, data)
    for _ in range(_MAX_ROUNDS):
        sparse = _SparseFile(known)
        try:
            with zipfile.ZipFile(sparse) as zf:
                index = ArchiveIndex._from_zipfile(zf, url=url, size=total, known=known, label=what)
            index.bytes_transferred = transferred
            return index
        except _NeedBytes as need:
            for a, b in known.gaps(need.start, need.end):
                chunk = _get_range_bytes(session, url, a, b, what=what, policy=policy, reach=reach, log=log)
                known.add(a, chunk)
                transferred += len(chunk)
        except zipfile.BadZipFile as exc:
            raise FetchError(f"{what}: {url} is not a readable ZIP archive ({exc}); "
                             "it is truncated, corrupt or not a ZIP file") from None
        finally:
            sparse.close()
    raise FetchError(f"{what}: could not read the central directory of {url} after {_MAX_ROUNDS} requests")


def read_index(url: str, *, session: requests.Session | None = None, timeout_s: float = 60.0,
               retries: int = 4, backoff_s: float = 1.0) -> ArchiveIndex:
    """Read the central directory of a remote ZIP archive with range requests.

    Parameters
    ----------
    url
        HTTP(S) URL of the archive; the server must honour ``Range``.
    session
        Session to use (default: a new one, closed at the end).
    timeout_s, retries, backoff_s
        As in :func:`retrogait.acquire.fetch.fetch_files`.

    Returns
    -------
    ArchiveIndex
        The members, the archive size and the bytes this cost.

    Raises
    ------
    FetchError
        The host cannot be reached, the server ignores ``Range`` requests,
        HTTP 4xx, retries exhausted, or the bytes are not a ZIP archive.
    """
    if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    policy = _Policy.checked(retries, backoff_s, timeout_s)
    own = session is None
    sess = session or _new_session()
    try:
        return _read_index(url, sess, policy=policy, reach=_Reachability(), log=_log, what=f"archive {url}")
    except _RangeIgnored as exc:
        if exc.response is not None:
            exc.response.close()
        raise FetchError(f"archive {url}: the server ignores HTTP Range requests, so the central "
                         "directory cannot be read without downloading the whole archive") from None
    finally:
        if own:
            sess.close()


# ---------------------------------------------------------------------------
# locks
# ---------------------------------------------------------------------------

def _load_lock(path: Path, *, pinned: bool) -> dict[str, dict]:
    """``{path: {"size", "sha256", "crc32"}}`` from a lock file (empty if absent)."""
    if not path.is_file():
        return {}
    what = "pinned lock" if pinned else "lock file"
    err = ConfigError if pinned else FetchError
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fix = "fix it" if pinned else "delete it to record the members again"
        raise err(f"{what} {path} is unreadable ({exc}); {fix}") from None
    members = data.get("members") if isinstance(data, dict) else None
    if not isinstance(members, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
            for k, v in members.items()):
        fix = "fix it" if pinned else "delete it to record the members again"
        raise err(f"{what} {path} is not a members lock ({{'members': {{path: {{size, sha256, crc32}}}}}}); "
                  f"{fix}")
    return members


def _lock_comment(path: Path) -> str:
    """The archive comment recorded in a lock file ("" when absent or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(data.get("comment", "")) if isinstance(data, dict) else ""


def _update_lock(path: Path, archive_name: str, new: dict[str, dict], log: logging.Logger,
                 comment: str | None = None, quiet: bool = False) -> None:
    """Add ``new`` entries to the local lock (merged with what is on disk now).

    Runs under :func:`retrogait.acquire.fetch._folder_lock`, re-reading the file, so
    concurrent fetch jobs of other subjects do not drop each other's
    entries. An unchanged lock is not rewritten (its mtime stays).
    """
    with _folder_lock(path.parent):
        try:
            current = _load_lock(path, pinned=False)
        except FetchError as exc:
            log.warning("%s; writing it again", exc)
            current = {}
        entries = {**current, **new}
        content = {"archive": archive_name, "format": _LOCK_VERSION,
                   "members": {k: entries[k] for k in sorted(entries)}}
        if comment is None:
            comment = _lock_comment(path)
        if comment:
            content["comment"] = comment
        if path.is_file():
            with contextlib.suppress(OSError, ValueError):
                if json.loads(path.read_text(encoding="utf-8")) == content:
                    return
        write_json(content, path)
    (log.debug if quiet else log.info)("recorded %d members in %s (%d in total)", len(new), path, len(entries))


# ---------------------------------------------------------------------------
# jobs and extraction
# ---------------------------------------------------------------------------

@dataclass
class _Job:
    pos: int
    raw: RawFile
    requested: str
    expect: list[tuple[str, str | None, int | None]]   # (who expects it, sha256, size)
    info: MemberInfo | None = None
    result: dict | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class _Ctx:
    dataset: str
    archive_url: str
    archive_name: str
    dest: Path
    policy: _Policy
    reach: _Reachability
    bar: _Bar | None
    log: logging.Logger
    lock_path: Path
    progress: bool
    comment: str | None = None  # ZIP comment of the archive the members came from
    allow_full_download: bool = False  # config key fetch.allow_full_download


def _label(ctx: _Ctx, job: _Job, member: str | None = None) -> str:
    m = member or (job.info.name if job.info else job.requested)
    return f"{ctx.dataset}/{job.raw.path} (member {m} of {ctx.archive_name})"


def _check_expected(ctx: _Ctx, job: _Job, size: int, sha: str, label: str) -> None:
    for who, exp_sha, exp_size in job.expect:
        fix = (f"; if the archive was legitimately updated, delete {ctx.lock_path}"
               if who.startswith("lock file") else "")
        if exp_sha is not None and exp_sha != sha:
            sizes = f", {size} bytes where {exp_size} expected" if exp_size not in (None, size) else ""
            raise ChecksumError(f"{label}, expected by {who}{sizes}{fix}", exp_sha, sha)
        if exp_size is not None and exp_size != size:
            raise ChecksumError(f"{label}, expected by {who}{fix}", str(exp_size), str(size), algorithm="size")


def _extract_to(ctx: _Ctx, job: _Job, zf: zipfile.ZipFile, info: MemberInfo, tmp: Path) -> tuple[int, str, str]:
    """Inflate one member to ``tmp`` checking CRC-32; return ``(size, sha256, crc32)``.

    :class:`_NeedBytes` propagates (span too short); corruption raises
    :class:`ChecksumError` (``crc32``) or :class:`FetchError` naming the member.
    """
    label = _label(ctx, job, info.name)
    zi = zf.getinfo(info.name)
    if zi.flag_bits & 0x1:
        raise FetchError(f"{label}: the member is encrypted; retrogait cannot read it")
    h = hashlib.sha256()
    crc = 0
    n = 0
    try:
        with zf.open(zi) as src, _open_new(tmp, "wb") as out:
            # zipfile checks the CRC itself and raises before handing over the last chunk, so the
            # message could only say "got 00000000"; this module checks it on every byte instead
            if hasattr(src, "_expected_crc"):
                src._expected_crc = None  # noqa: SLF001
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                crc = zlib.crc32(chunk, crc)
                n += len(chunk)
                out.write(chunk)
    except _NeedBytes:
        tmp.unlink(missing_ok=True)
        raise
    except zipfile.BadZipFile as exc:
        tmp.unlink(missing_ok=True)
        if "CRC" in str(exc) or (n == info.file_size and crc != info.crc):
            raise ChecksumError(label, f"{info.crc:08x}", f"{crc:08x}", algorithm="crc32") from None
        raise FetchError(f"{label}: corrupt local header or data ({exc}); its bytes were not kept") from None
    except (zlib.error, EOFError) as exc:
        tmp.unlink(missing_ok=True)
        raise ChecksumError(label, f"{info.crc:08x}", f"undecodable compressed data ({exc})",
                            algorithm="crc32") from None
    except NotImplementedError as exc:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{label}: unsupported compression ({exc})") from None
    if crc != info.crc or n != info.file_size:
        tmp.unlink(missing_ok=True)
        sizes = f", {n} bytes where the directory declares {info.file_size}" if n != info.file_size else ""
        raise ChecksumError(f"{label}{sizes}", f"{info.crc:08x}", f"{crc:08x}", algorithm="crc32")
    return n, h.hexdigest(), f"{crc:08x}"


def _place(ctx: _Ctx, job: _Job, tmp: Path, digest: tuple[int, str, str], *, member: str, source: str,
           status: str) -> dict:
    size, sha, crc = digest
    label = _label(ctx, job, member)
    try:
        _check_expected(ctx, job, size, sha, label)
    except ChecksumError:
        tmp.unlink(missing_ok=True)
        raise
    target = ctx.dest / job.raw.path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    return {"path": job.raw.path, "size": size, "sha256": sha, "source": source, "status": status,
            "member": member, "crc32": crc}


def _tmp_out(ctx: _Ctx, job: _Job) -> Path:
    return ctx.dest / PARTIAL_DIR / (job.raw.path + ".out")


def _extract_local(ctx: _Ctx, jobs: list[_Job], zip_path: Path, *, source: str, status: str,
                   discard_on_corruption: bool) -> None:
    """Extract members from a complete local archive (mirror copy or full download)."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        if discard_on_corruption:
            zip_path.unlink(missing_ok=True)
            raise FetchError(f"{ctx.dataset}: {zip_path} is not a readable ZIP archive ({exc}); it was "
                             "deleted and the next run downloads it again") from None
        raise FetchError(f"{ctx.dataset}: {zip_path} is not a readable ZIP archive ({exc})") from None
    with zf:
        index = ArchiveIndex._from_zipfile(zf, url=str(zip_path), size=zip_path.stat().st_size,
                                           label=f"{ctx.dataset} archive {zip_path}")
        ctx.comment = index.comment
        for job in jobs:
            job.info = index.resolve(job.requested)
            tmp = _tmp_out(ctx, job)
            try:
                digest = _extract_to(ctx, job, zf, job.info, tmp)
            except ChecksumError:
                if discard_on_corruption:
                    zip_path.unlink(missing_ok=True)
                    ctx.log.error("%s: %s is corrupt and was deleted; the next run downloads it again",
                                  ctx.dataset, zip_path)
                raise
            if ctx.bar is not None:
                ctx.bar.update(job.info.compress_size)
            job.result = _place(ctx, job, tmp, digest, member=job.info.name, source=source, status=status)
            _record(ctx, job)


def _copy_loose(ctx: _Ctx, jobs: list[_Job], mirror_dir: Path) -> list[_Job]:
    """Copy the loose members ``<mirror>/<dataset>/`` has and verify them; return the jobs it lacks."""
    lacking: list[_Job] = []
    for job in jobs:
        candidates = [mirror_dir / job.raw.path]
        if job.requested != job.raw.path:
            candidates.append(mirror_dir / job.requested)
        src = next((c for c in candidates if c.is_file()), None)
        if src is None:
            lacking.append(job)
            continue
        tmp = _tmp_out(ctx, job)
        digest = _copy_hashing(src, tmp, ctx.bar)
        job.result = _place(ctx, job, tmp, digest, member=job.requested, source=f"mirror:{src}",
                            status="copied")
        _record(ctx, job)
    return lacking


def _ranged_member(ctx: _Ctx, job: _Job, index: ArchiveIndex, get_session: Callable[[], requests.Session]) -> None:
    """Fetch one member's span with range requests (resumable), then extract and verify it."""
    info = job.info
    assert info is not None
    start, end = index._span(info)
    part = ctx.dest / PARTIAL_DIR / (job.raw.path + ".zpart")
    meta = part.with_name(part.name + ".json")
    ident = {"url": ctx.archive_url, "archive_size": index.size, "member": info.name,
             "header_offset": info.header_offset, "compress_size": info.compress_size,
             "crc32": f"{info.crc:08x}"}
    if part.exists():
        try:
            same = json.loads(meta.read_text(encoding="utf-8")) == ident
        except (OSError, ValueError):
            same = False
        if not same:
            ctx.log.info("%s: discarding partial bytes of another archive version", _label(ctx, job))
            part.unlink()
            meta.unlink(missing_ok=True)
        else:
            end = max(end, start + part.stat().st_size)

    def write_meta() -> None:
        with _open_new(meta, "wb") as fh:
            fh.write(json.dumps(ident, sort_keys=True).encode("utf-8"))

    what = _label(ctx, job)
    note = f" The bytes received so far are kept in {part} and the next run resumes."
    session = get_session()
    tmp = _tmp_out(ctx, job)
    for _ in range(_MAX_ROUNDS):
        job.extra["network"] = job.extra.get("network", 0) + _stream_to_partial(
            session, ctx.archive_url, part, start=start, end=end, require_range=True, what=what,
            policy=ctx.policy, reach=ctx.reach, bar=ctx.bar, logger=ctx.log,
            on_first_bytes=write_meta, give_up_note=note)
        zf, sparse = index._member_zip((start, part, end - start))
        try:
            digest = _extract_to(ctx, job, zf, info, tmp)
        except _NeedBytes as need:
            if need.start < start or need.end <= end:
                raise FetchError(f"{what}: zipfile asked for bytes {need.start}-{need.end - 1} outside the "
                                 f"member span {start}-{end - 1}") from None
            new_end = min(need.end, index.size)
            if ctx.bar is not None:
                ctx.bar.add_total(new_end - end)
            end = new_end
            continue
        except FetchError:  # corrupt bytes: never keep them
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            raise
        finally:
            sparse.set_disk(None)
        try:
            job.result = _place(ctx, job, tmp, digest, member=info.name, source=ctx.archive_url,
                                status="downloaded")
        finally:
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
        _record(ctx, job)
        return
    raise FetchError(f"{what}: the member's local header could not be read after {_MAX_ROUNDS} requests")


def _full_download_refused(ctx: _Ctx, size: int | None) -> FetchError:
    """The error raised instead of a whole-archive download that the config did not allow."""
    shown = f"{size / 1e9:.2f} GB ({size} bytes)" if size is not None else "of unknown size"
    return FetchError(
        f"{ctx.dataset}: the server of {ctx.archive_url} ignores HTTP Range requests (it answered 200 with the whole "
        f"file), so the archive's members cannot be read one by one. Reading them needs ONE download of the whole "
        f"archive {ctx.archive_name}, {shown}; nothing was downloaded. To allow it, set allow_full_download: true "
        f"under fetch: in config/config.yaml (the archive is then kept in {ctx.dest} so later runs need no network), "
        f"or use a local mirror folder: {mirror_hint()}.")


def _record(ctx: _Ctx, job: _Job) -> None:
    """Add one completed member to the local lock now, so an interrupted fetch keeps it."""
    r = job.result
    if r is None or r["status"] == "cached":
        return
    _update_lock(ctx.lock_path, ctx.archive_name,
                 {job.raw.path: {"size": r["size"], "sha256": r["sha256"], "crc32": r["crc32"]}}, ctx.log,
                 comment=ctx.comment, quiet=True)


def _full_download(ctx: _Ctx, session: requests.Session, archive_size: int | None,
                   initial: requests.Response | None) -> Path:
    """ONE download of the whole archive to ``dest/<archive name>`` (server ignores ``Range``)."""
    target = ctx.dest / ctx.archive_name
    part = ctx.dest / PARTIAL_DIR / (ctx.archive_name + ".part")
    clen = initial.headers.get("Content-Length") if initial is not None else None
    size = int(clen) if clen and clen.isdigit() else archive_size
    if archive_size is not None and size is not None and size != archive_size:
        ctx.log.warning("%s: the server reports %d bytes for %s, the manifest %d", ctx.dataset, size,
                        ctx.archive_name, archive_size)
    shown = f"{size / 1e9:.2f} GB ({size} bytes)" if size is not None else "of unknown size"
    ctx.log.warning(
        "%s: %s does not honour HTTP Range requests, so members cannot be read one by one. Falling back to "
        "ONE full download of the archive %s, %s, to %s; members are then extracted from it. The archive is "
        "kept so later runs need no network (delete it to free the space).",
        ctx.dataset, ctx.archive_url, ctx.archive_name, shown, target)
    bar = _Bar(total=size, initial=0, desc=f"fetch {ctx.archive_name}", enabled=ctx.progress)
    try:
        _stream_to_partial(session, ctx.archive_url, part, start=0, end=size, require_range=False,
                           what=f"{ctx.dataset} archive {ctx.archive_name}", policy=ctx.policy,
                           reach=ctx.reach, bar=bar, logger=ctx.log, initial_response=initial,
                           give_up_note=f" The bytes received so far are kept in {part}.")
    finally:
        bar.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    return target


# ---------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------

def _check_members(dataset: str, members: object) -> list[RawFile]:
    if isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
        raise TypeError(f"members must be a sequence of RawFile, not {type(members).__name__}")
    out: list[RawFile] = []
    seen: set[str] = set()
    for i, m in enumerate(members):
        if not isinstance(m, RawFile):
            raise TypeError(f"members[{i}] must be a RawFile, not {type(m).__name__}")
        if m.path in seen:
            raise ValueError(f"{dataset}/{m.path} is listed twice")
        seen.add(m.path)
        name = m.member if m.member is not None else m.path
        if not isinstance(name, str) or _unsafe_name(name.strip()):
            raise ValueError(f"{dataset}/{m.path}: member name {name!r} is absolute or contains '..'")
        if m.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", m.sha256):
            raise ValueError(f"{dataset}/{m.path}: sha256 must be 64 lowercase hex digits, got {m.sha256!r}")
        out.append(m)
    return out


def _check_int(name: str, value: object, minimum: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def fetch_members(dataset: str, archive_url: str, archive_name: str, members: Sequence[RawFile], dest: Path, *,
                  mirror: Path | None = None, pinned_lock: Path | None = None, archive_size: int | None = None,
                  parallel: int = 4, retries: int = 4, backoff_s: float = 1.0, timeout_s: float = 60.0,
                  progress: bool = True, session_factory: Callable[[], requests.Session] | None = None,
                  logger: logging.Logger | None = None, allow_full_download: bool = False) -> list[dict]:
    """Obtain selected members of a ZIP archive, verified, under ``dest``.

    Parameters
    ----------
    dataset
        Dataset id (mirror subfolder, messages).
    archive_url
        ``http(s)://`` or ``file://`` URL of the archive.
    archive_name
        File name of the archive (``ProcessedData.zip``): the mirror copy is
        ``<mirror>/<dataset>/<archive_name>`` and a full download goes to
        ``dest/<archive_name>``.
    members
        Wanted members: ``member`` (or ``path`` when ``member`` is None) is
        the entry name without any wrapping folder; the bytes go to
        ``dest / path``. ``sha256``/``size``, if declared, are checked.
    dest
        The dataset's raw folder; created only when bytes arrive.
    mirror
        Mirror folder, looked in first: the archive or the loose members
        are taken from ``<mirror>/<dataset>/``; members it lacks come from
        the declared archive URL.
    pinned_lock
        Lock committed with the project (``config/locks/<dataset>.lock.json``,
        same format as ``dest/members.lock.json``); used when it exists.
    archive_size
        Declared archive size (bytes), for messages and servers that do not
        support suffix ranges.
    parallel
        Members fetched concurrently (bounded thread pool).
    retries, backoff_s, timeout_s, progress
        As in :func:`retrogait.acquire.fetch.fetch_files`.
    session_factory
        Makes one :class:`requests.Session` per worker thread (default: a
        plain session with retrogait's User-Agent).
    logger
        Where to log (default: this module's logger).
    allow_full_download
        When the server ignores ``Range`` requests, download the whole
        archive once (config key ``fetch.allow_full_download``). False (the
        default): stop before downloading anything, with the archive's size
        and how to allow it.

    Members are recorded in the local lock as each one completes, so an
    interrupted fetch (Ctrl-C, a killed job) keeps them; Ctrl-C cancels the
    queued members at once and stops the running transfers at their next
    chunk, keeping their bytes in ``dest/.partial`` for a resume.

    Returns
    -------
    list of dict
        One record per member, in input order: ``path``, ``size``,
        ``sha256``, ``source`` (archive URL or ``"mirror:<abs path>"``),
        ``status`` (``"cached"``, ``"downloaded"``, ``"copied"`` or
        ``"extracted"``: taken from a complete archive already in ``dest``),
        ``member`` (the archive entry name; the requested name when cached or
        copied loose) and ``crc32`` (8 hex digits).

    Raises
    ------
    ChecksumError
        CRC-32 mismatch (``algorithm="crc32"``), or size/sha256 differing
        from the manifest or a lock (message names member, lock and both
        hashes). The bad bytes are deleted.
    FetchError
        Member missing or ambiguous, zip-slip name, corrupt central
        directory, host unreachable (with the mirror hint) or dead (it
        answered, then refused every connection), HTTP 4xx, retries
        exhausted (partial member bytes are kept in ``dest/.partial`` and
        resumed by the next run), or the server ignores ``Range`` and
        ``allow_full_download`` is False.
    ConfigError
        The pinned lock is unreadable.
    ValueError, TypeError
        Invalid arguments.
    """
    log = logger or _log
    dataset = _check_dataset(dataset)
    if not isinstance(archive_url, str) or urlsplit(archive_url).scheme.lower() not in ("http", "https", "file"):
        raise ValueError(f"{dataset}: archive_url must be an http(s) or file URL, got {archive_url!r}")
    if (not isinstance(archive_name, str) or not archive_name.strip() or "/" in archive_name
            or "\\" in archive_name or archive_name in (".", "..")):
        raise ValueError(f"{dataset}: archive_name must be a plain file name, got {archive_name!r}")
    members = _check_members(dataset, members)
    dest = _check_dest(dest)
    mirror = _check_mirror(mirror)
    if pinned_lock is not None and not isinstance(pinned_lock, (str, os.PathLike)):
        raise TypeError(f"pinned_lock must be a path or None, not {type(pinned_lock).__name__}")
    _check_int("archive_size", archive_size, 0, optional=True)
    _check_int("parallel", parallel, 1)
    policy = _Policy.checked(retries, backoff_s, timeout_s)
    if session_factory is not None and not callable(session_factory):
        raise TypeError("session_factory must be callable")

    lock_path = dest / LOCK_NAME
    pinned_path = Path(pinned_lock) if pinned_lock is not None else None
    pinned = _load_lock(pinned_path, pinned=True) if pinned_path is not None else {}
    if pinned_path is not None and not pinned_path.is_file():
        log.info("%s: pinned lock %s not found; members are verified by CRC-32 and recorded in %s",
                 dataset, pinned_path, lock_path)
    local = _load_lock(lock_path, pinned=False)

    jobs: list[_Job] = []
    for i, m in enumerate(members):
        expect: list[tuple[str, str | None, int | None]] = []
        if m.sha256 is not None or m.size is not None:
            expect.append(("the manifest", m.sha256, m.size))
        if m.path in pinned:
            expect.append((f"pinned lock {pinned_path}", pinned[m.path].get("sha256"), pinned[m.path].get("size")))
        if m.path in local:
            expect.append((f"lock file {lock_path}", local[m.path].get("sha256"), local[m.path].get("size")))
        jobs.append(_Job(pos=i, raw=m, requested=(m.member if m.member is not None else m.path).strip(),
                         expect=expect))

    ctx = _Ctx(dataset, archive_url, archive_name, dest, policy, _Reachability(dead_after=policy.retries + 1), None,
               log, lock_path, progress, allow_full_download=bool(allow_full_download))
    todo = [j for j in jobs if not _cached(ctx, j)]
    if not todo:
        log.info("%s: all %d members present and verified", dataset, len(jobs))
        comment = _lock_comment(lock_path)
        return [{**j.result, "archive_comment": comment} for j in jobs if j.result is not None]

    dest_existed = dest.exists()
    failure: BaseException | None = None
    try:
        _obtain(ctx, todo, mirror=mirror, archive_size=archive_size, parallel=parallel, progress=progress,
                session_factory=session_factory or _new_session)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        new = {j.raw.path: {"size": j.result["size"], "sha256": j.result["sha256"], "crc32": j.result["crc32"]}
               for j in jobs if j.result is not None and j.result["status"] != "cached"}
        if new:
            _update_lock(lock_path, archive_name, new, log, comment=ctx.comment)
            if pinned_path is not None:
                missing = sorted(p for p in new if p not in pinned)
                if missing:
                    log.info("%s: %d members are not in the pinned lock %s (recorded in %s)", dataset,
                             len(missing), pinned_path, lock_path)
        _prune_partial(dest, dest_existed=dest_existed)
        if failure is not None:
            done = sum(1 for j in jobs if j.result is not None)
            log.error("%s: %d of %d members obtained before the error", dataset, done, len(jobs))
    comment = ctx.comment if ctx.comment is not None else _lock_comment(lock_path)
    for j in jobs:
        if j.result is not None:
            j.result["archive_comment"] = comment
    counts = {s: sum(1 for j in jobs if j.result and j.result["status"] == s)
              for s in ("cached", "downloaded", "copied", "extracted")}
    log.info("%s: %d members (%s)", dataset, len(jobs), ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return [j.result for j in jobs if j.result is not None]


def _cached(ctx: _Ctx, job: _Job) -> bool:
    """Is ``dest/<path>`` already the verified member? A mismatching file is removed."""
    target = ctx.dest / job.raw.path
    if not target.exists():
        return False
    if not target.is_file():
        raise FetchError(f"{ctx.dataset}/{job.raw.path}: {target} exists and is not a file")
    if not any(sha for _, sha, _ in job.expect):
        ctx.log.info("%s/%s: present but no checksum is known for it; extracting it again", ctx.dataset,
                     job.raw.path)
        return False
    size, sha, crc = _hash_file(target)
    for who, exp_sha, exp_size in job.expect:
        if (exp_sha is not None and exp_sha != sha) or (exp_size is not None and exp_size != size):
            ctx.log.warning("%s/%s: existing file (sha256 %s, %d bytes) differs from %s (sha256 %s); "
                            "replacing it", ctx.dataset, job.raw.path, sha, size, who, exp_sha)
            target.unlink()
            return False
    job.result = {"path": job.raw.path, "size": size, "sha256": sha, "source": ctx.archive_url,
                  "status": "cached", "member": job.requested, "crc32": crc}
    return True


def _obtain(ctx: _Ctx, todo: list[_Job], *, mirror: Path | None, archive_size: int | None, parallel: int,
            progress: bool, session_factory: Callable[[], requests.Session]) -> None:
    log = ctx.log
    # 1. mirror, looked in first: its copy of the archive, else the loose members it has; what it
    #    lacks comes from the declared archive URL (steps 2-4)
    if mirror is not None:
        mdir = mirror / ctx.dataset
        arch = mdir / ctx.archive_name
        ctx.bar = _Bar(total=None, initial=0, desc=f"copy {ctx.dataset}", enabled=progress)
        try:
            if arch.is_file():
                _extract_local(ctx, todo, arch, source=f"mirror:{arch}", status="copied",
                               discard_on_corruption=False)
                return
            todo = _copy_loose(ctx, todo, mdir)
        finally:
            ctx.bar.close()
        if not todo:
            return
        where = (f"not in the mirror (neither the archive {arch} nor the loose members "
                 f"<mirror>/<dataset>/<member path>, e.g. {mdir / todo[0].raw.path})")
        log.info("%s: %d member(s) %s; using the declared archive URL %s", ctx.dataset, len(todo), where,
                 ctx.archive_url)
        try:
            _obtain_declared(ctx, todo, archive_size=archive_size, parallel=parallel, progress=progress,
                             session_factory=session_factory)
        except ChecksumError:
            raise
        except FetchError as exc:
            raise FetchError(f"{ctx.dataset}: {len(todo)} member(s) {where}, and the declared archive URL "
                             f"failed: {exc}") from exc
        return
    _obtain_declared(ctx, todo, archive_size=archive_size, parallel=parallel, progress=progress,
                     session_factory=session_factory)


def _obtain_declared(ctx: _Ctx, todo: list[_Job], *, archive_size: int | None, parallel: int, progress: bool,
                     session_factory: Callable[[], requests.Session]) -> None:
    """Members from the declared archive URL: a ``file://`` archive, an earlier full download, or the network."""
    log = ctx.log
    # 2. file:// URL
    if urlsplit(ctx.archive_url).scheme.lower() == "file":
        path = _file_url_path(ctx.archive_url)
        if not path.is_file():
            raise FetchError(f"{ctx.dataset}: {ctx.archive_url} names no file ({path} does not exist)")
        ctx.bar = _Bar(total=None, initial=0, desc=f"extract {ctx.dataset}", enabled=progress)
        try:
            _extract_local(ctx, todo, path, source=ctx.archive_url, status="copied", discard_on_corruption=False)
        finally:
            ctx.bar.close()
        return
    # 3. a complete archive from an earlier full download
    local_archive = ctx.dest / ctx.archive_name
    if local_archive.is_file():
        if archive_size is not None and local_archive.stat().st_size != archive_size:
            log.warning("%s: %s has %d bytes, %d declared; deleting it", ctx.dataset, local_archive,
                        local_archive.stat().st_size, archive_size)
            local_archive.unlink()
        else:
            ctx.bar = _Bar(total=None, initial=0, desc=f"extract {ctx.dataset}", enabled=progress)
            try:
                _extract_local(ctx, todo, local_archive, source=ctx.archive_url, status="extracted",
                               discard_on_corruption=True)
            finally:
                ctx.bar.close()
            return
    # 4. network
    sessions: list[requests.Session] = []
    lock = threading.Lock()
    tls = threading.local()

    def get_session() -> requests.Session:
        s = getattr(tls, "session", None)
        if s is None:
            s = session_factory()
            tls.session = s
            with lock:
                sessions.append(s)
        return s

    what = f"{ctx.dataset} archive {ctx.archive_name}"
    try:
        try:
            index = _read_index(ctx.archive_url, get_session(), policy=ctx.policy, reach=ctx.reach, log=log,
                                what=what, archive_size=archive_size)
        except _RangeIgnored as exc:
            if not ctx.allow_full_download:
                clen = exc.response.headers.get("Content-Length") if exc.response is not None else None
                if exc.response is not None:
                    exc.response.close()
                raise _full_download_refused(ctx, int(clen) if clen and clen.isdigit() else archive_size) from None
            ctx.bar = _Bar(total=None, initial=0, desc=f"extract {ctx.dataset}", enabled=progress)
            try:
                with _folder_lock(ctx.dest):  # one full download even with concurrent jobs
                    if local_archive.is_file():  # another job finished it while we waited
                        if exc.response is not None:
                            exc.response.close()
                        path = local_archive
                    else:
                        path = _full_download(ctx, get_session(), archive_size, exc.response)
                _extract_local(ctx, todo, path, source=ctx.archive_url, status="downloaded",
                               discard_on_corruption=True)
            finally:
                ctx.bar.close()
            return
        if archive_size is not None and index.size != archive_size:
            log.warning("%s: the archive at %s has %d bytes, the manifest declares %d; members are still "
                        "verified by CRC-32 and checksums", ctx.dataset, ctx.archive_url, index.size, archive_size)
        ctx.comment = index.comment
        for job in todo:
            job.info = index.resolve(job.requested)
        spans = [index._span(j.info) for j in todo if j.info is not None]
        initial = 0
        for j in todo:
            p = ctx.dest / PARTIAL_DIR / (j.raw.path + ".zpart")
            if p.is_file():
                initial += p.stat().st_size
        ctx.bar = _Bar(total=sum(e - s for s, e in spans), initial=initial, desc=f"fetch {ctx.dataset}",
                       enabled=progress)
        errors: list[tuple[_Job, BaseException]] = []
        range_ignored: list[_Job] = []
        pool = ThreadPoolExecutor(max_workers=min(parallel, len(todo)), thread_name_prefix="retrogait-fetch")
        futures: list[tuple[_Job, concurrent.futures.Future]] = []
        try:
            for j in todo:
                futures.append((j, pool.submit(_ranged_member, ctx, j, index, get_session)))
            for j, fut in futures:
                try:
                    fut.result()
                except _RangeIgnored:
                    range_ignored.append(j)
                except _Cancelled:
                    pass
                except Exception as exc:  # collected and re-raised below, after the other members
                    errors.append((j, exc))
        except BaseException:
            # Ctrl-C (KeyboardInterrupt) or a kill arrives in this thread: queued members are
            # cancelled now, running transfers stop at their next chunk (their bytes stay in
            # .partial for a resume) and members already complete are in the lock
            ctx.reach.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            running = [f for _, f in futures if not f.done()]
            concurrent.futures.wait(running, timeout=_CANCEL_WAIT_S)
            done = sum(1 for j in todo if j.result is not None)
            log.warning("%s: fetch interrupted: %d of %d members complete and recorded in %s; the next run "
                        "fetches the rest", ctx.dataset, done, len(todo), ctx.lock_path)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            ctx.bar.close()
        network = index.bytes_transferred + sum(j.extra.get("network", 0) for j in todo)
        needed = sum(j.info.compress_size for j in todo if j.info is not None)
        log.info("%s: %d bytes over the network for %d members (%d compressed bytes; index %d bytes)",
                 ctx.dataset, network, len(todo), needed, index.bytes_transferred)
        if range_ignored and not errors:
            if not ctx.allow_full_download:
                raise _full_download_refused(ctx, archive_size or index.size)
            ctx.bar = _Bar(total=None, initial=0, desc=f"extract {ctx.dataset}", enabled=progress)
            try:
                with _folder_lock(ctx.dest):
                    path = local_archive if local_archive.is_file() else _full_download(
                        ctx, get_session(), archive_size, None)
                _extract_local(ctx, range_ignored, path, source=ctx.archive_url, status="downloaded",
                               discard_on_corruption=True)
            finally:
                ctx.bar.close()
        if errors:
            for j, exc in errors[1:]:
                log.error("%s: %s", _label(ctx, j), exc)
            if len(errors) > 1:
                log.error("%s: %d members failed; the first error follows", ctx.dataset, len(errors))
            raise errors[0][1]
    finally:
        for s in sessions:
            s.close()
