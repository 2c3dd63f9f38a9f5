"""Fetch declared dataset files into ``data/raw/<dataset>/``.

Every file of a dataset is declared in the manifest with its URL, size and
sha256. :func:`fetch_files` makes ``dest/<path>`` hold exactly those bytes:

* a file already at its destination whose size and sha256 match is kept
  (``status="cached"``); one that does not match is reported and replaced,
  never kept;
* with a mirror folder (offline runs, tests) the mirror is looked in
  first: a file present as ``<mirror>/<dataset>/<path>`` is copied from
  there (``status="copied"``), with the same checks; a file the mirror
  lacks comes from its declared URL, as without a mirror;
* a ``file://`` URL is copied from that path (``status="copied"``);
* otherwise it is streamed over HTTP(S) into ``dest/.partial/<path>.part``
  and moved into place only after its size and sha256 were verified
  (``status="downloaded"``). Connection errors, timeouts, truncated bodies
  and HTTP 5xx are retried with exponential backoff; an interrupted download
  resumes with a ``Range`` request (a server answering ``200`` instead of
  ``206`` restarts it cleanly). HTTP 4xx fails at once.

A host that cannot be reached at all (name resolution failure, connection
refused or a connect timeout before any byte arrived) fails fast, after one
quick retry, with a message explaining how to use a mirror; nothing is then
created under ``dest`` (folders are created only when bytes arrive).

The helpers of this module that talk HTTP (retry policy, reachability
tracking, resumable streaming into a partial file, progress bar) are shared
with :mod:`retrogait.acquire.archive`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import sys
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
import urllib3
from tqdm import tqdm

from retrogait import __version__
from retrogait.acquire.manifest import RawFile
from retrogait.errors import ChecksumError, FetchError

__all__ = [
    "MIRROR_ENV",
    "PARTIAL_DIR",
    "mirror_hint",
    "resolve_mirror",
    "fetch_files",
]

#: Environment variable naming a mirror folder; it overrides ``mirror:`` in the config.
MIRROR_ENV = "RETROGAIT_MIRROR"

#: Folder under a dataset's raw folder holding partial downloads (removed when empty).
PARTIAL_DIR = ".partial"

_log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_USER_AGENT = f"retrogait/{__version__} (+https://github.com/retrogait/retrogait)"
_MAX_BACKOFF_S = 60.0
_QUICK_RETRY_S = 0.25
_MAX_CONNECT_TIMEOUT_S = 15.0
_RETRY_STATUS = frozenset({408, 429})


def mirror_hint() -> str:
    """Return the sentence telling users how to point retrogait at a mirror folder."""
    return (f"set {MIRROR_ENV}=/path/to/mirror (layout <mirror>/<dataset>/<path>) "
            "or mirror: in config/config.yaml")


# ---------------------------------------------------------------------------
# mirror
# ---------------------------------------------------------------------------

def resolve_mirror(config_mirror: str | os.PathLike | None, *,
                   environ: Mapping[str, str] = os.environ) -> Path | None:
    """Return the mirror folder to use instead of the network, if any.

    Parameters
    ----------
    config_mirror
        The ``mirror:`` key of ``config/config.yaml`` (``None`` or empty: no
        mirror configured). A relative path resolves against the current
        working directory (the project root when Snakemake runs).
    environ
        Environment to read :data:`MIRROR_ENV` (``RETROGAIT_MIRROR``) from;
        a non-empty value overrides ``config_mirror``.

    Returns
    -------
    pathlib.Path or None
        Absolute path of the mirror folder, or ``None`` when neither the
        environment nor the config names one.

    Raises
    ------
    FetchError
        A mirror is named but is not an existing directory; the message
        names the path and where it came from.
    TypeError
        ``config_mirror`` is neither a path nor ``None``.
    """
    if config_mirror is not None and not isinstance(config_mirror, (str, os.PathLike)):
        raise TypeError(f"config mirror must be a path or None, not {type(config_mirror).__name__}")
    env_value = environ.get(MIRROR_ENV, "")
    if env_value.strip():
        value, origin = env_value, f"environment variable {MIRROR_ENV}"
    elif config_mirror is not None and str(config_mirror).strip():
        value, origin = os.fspath(config_mirror), "mirror: in the config"
    else:
        return None
    path = Path(os.path.expanduser(str(value)))
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise FetchError(f"mirror folder {str(value)!r} (from {origin}) {problem}; it must be an "
                         "existing folder laid out as <mirror>/<dataset>/<path>")
    return path.resolve()


# ---------------------------------------------------------------------------
# shared HTTP machinery (also used by retrogait.acquire.archive)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Policy:
    """Retry and timeout settings of one fetch call."""

    retries: int
    backoff_s: float
    timeout_s: float

    @classmethod
    def checked(cls, retries: int, backoff_s: float, timeout_s: float) -> "_Policy":
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
        if isinstance(backoff_s, bool) or not isinstance(backoff_s, (int, float)) or backoff_s < 0:
            raise ValueError(f"backoff_s must be a number >= 0, got {backoff_s!r}")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ValueError(f"timeout_s must be a number > 0, got {timeout_s!r}")
        return cls(retries, float(backoff_s), float(timeout_s))

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts for requests."""
        return (min(self.timeout_s, _MAX_CONNECT_TIMEOUT_S), self.timeout_s)

    def delay(self, failures: int) -> float:
        """Wait before the next attempt after ``failures`` consecutive failures."""
        return min(self.backoff_s * 2 ** max(failures - 1, 0), _MAX_BACKOFF_S)


class _Cancelled(Exception):
    """The fetch call was cancelled (Ctrl-C, or another member failed for good); stop this transfer now."""


class _Reachability:
    """Shared state of one fetch call (thread-safe): which hosts answered, which died, cancellation.

    A connection failure before a host ever answered means the host cannot
    be reached: it gets one quick retry, then the fetch fails fast with the
    mirror hint instead of going through the whole backoff schedule.

    A host that answered and then refuses (or times out) every new
    connection, ``dead_after`` times in a row across all the call's
    transfers with no answer in between, is dead: every transfer to it then
    fails at once, instead of each going through its own retry schedule.

    :meth:`cancel` (Ctrl-C in the main thread) makes every transfer stop at
    its next chunk and every backoff wait end at once.
    """

    def __init__(self, *, dead_after: int = 5) -> None:
        self._lock = threading.Lock()
        self._contacted: set[str] = set()
        self._quick_retried: set[str] = set()
        self._refused: dict[str, int] = {}
        self._dead: dict[str, str] = {}
        self.dead_after = max(1, int(dead_after))
        self._cancel = threading.Event()

    @staticmethod
    def _host(url: str) -> str:
        return urlsplit(url).netloc

    def mark(self, url: str) -> None:
        with self._lock:
            host = self._host(url)
            self._contacted.add(host)
            self._refused[host] = 0

    # -- dead hosts ---------------------------------------------------------
    def refused(self, url: str, reason: str) -> bool:
        """Count a failed connection to a host that had answered; True when it is now dead."""
        with self._lock:
            host = self._host(url)
            self._refused[host] = self._refused.get(host, 0) + 1
            if self._refused[host] >= self.dead_after and host not in self._dead:
                self._dead[host] = f"{self._refused[host]} connections in a row failed ({reason})"
            return host in self._dead

    def dead(self, url: str) -> str | None:
        """Why the host of ``url`` is considered dead, or None."""
        with self._lock:
            return self._dead.get(self._host(url))

    # -- cancellation ---------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`_Cancelled` if the call was cancelled."""
        if self._cancel.is_set():
            raise _Cancelled("fetch cancelled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` unless the call is cancelled meanwhile (then raise :class:`_Cancelled`)."""
        if self._cancel.wait(max(0.0, seconds)):
            raise _Cancelled("fetch cancelled")

    def contacted(self, url: str) -> bool:
        with self._lock:
            return self._host(url) in self._contacted

    def take_quick_retry(self, url: str) -> bool:
        """Return ``True`` once per host: the quick retry allowed before failing fast."""
        with self._lock:
            host = self._host(url)
            if host in self._quick_retried:
                return False
            self._quick_retried.add(host)
            return True


class _Retryable(Exception):
    """A transient failure (HTTP 5xx, early end of body) worth another attempt."""


class _RangeIgnored(Exception):
    """The server answered ``200`` with the whole body to a ``Range`` request."""

    def __init__(self, url: str, response: requests.Response | None = None):
        super().__init__(f"{url} ignored the Range header (HTTP 200 instead of 206)")
        self.url = url
        self.response = response


_TRANSIENT = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
              requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError,
              urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.IncompleteRead,
              _Retryable)


def _iter_body(resp: requests.Response):
    """Yield the body of a streamed response in chunks as they arrive.

    ``urllib3``'s ``read1`` hands over every byte received before a dropped
    connection is reported, whereas ``iter_content`` (``read(amt)``) loses
    the bytes of the chunk being filled; resuming then starts later.
    """
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from resp.iter_content(_CHUNK)
        return
    while True:
        chunk = read1(_CHUNK)
        if not chunk:
            return
        yield chunk


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (args, ``reason``, cause, context)."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(out) < 20:
        e = todo.pop()
        if any(e is o for o in out):
            continue
        out.append(e)
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
        for attr in ("reason", "__cause__", "__context__"):
            v = getattr(e, attr, None)
            if isinstance(v, BaseException):
                todo.append(v)
    return out


def _is_connect_failure(exc: BaseException) -> bool:
    """True when no connection could be opened (DNS failure, refused, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    return any(isinstance(e, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                              socket.gaierror, ConnectionRefusedError))
               for e in _causes(exc))


def _connect_reason(exc: BaseException) -> str:
    causes = _causes(exc)
    if any(isinstance(e, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for e in causes):
        return "its name cannot be resolved"
    if any(isinstance(e, ConnectionRefusedError) for e in causes) or "refused" in str(exc).lower():
        return "connection refused"
    if isinstance(exc, requests.exceptions.ConnectTimeout) or any(
            isinstance(e, urllib3.exceptions.ConnectTimeoutError) for e in causes):
        return "connection timed out"
    return "no connection could be opened"


def _unreachable_error(url: str, what: str, exc: BaseException) -> FetchError:
    host = urlsplit(url).hostname or url
    return FetchError(
        f"{what}: host {host} cannot be reached ({_connect_reason(exc)}) to download {url}. "
        f"Without network access, use a local mirror folder: {mirror_hint()}.")


class _Attempts:
    """Bounded retries with exponential backoff for one transfer.

    ``failed(exc)`` either sleeps (the caller then tries again) or raises
    :class:`FetchError`. Consecutive failures are counted; an attempt that
    received bytes resets the count (``progressed``), so a server that drops
    the connection every few megabytes still finishes while a dead one gives
    up after ``retries`` more attempts.
    """

    def __init__(self, url: str, what: str, policy: _Policy, reach: _Reachability,
                 logger: logging.Logger, *, give_up_note: str = ""):
        self.url = url
        self.what = what
        self.policy = policy
        self.reach = reach
        self.log = logger
        self.failures = 0
        self.give_up_note = give_up_note

    def progressed(self) -> None:
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        self.reach.check()
        connect = _is_connect_failure(exc)
        if connect and not self.reach.contacted(self.url):
            if self.reach.take_quick_retry(self.url):
                self.log.warning("%s: cannot connect to %s (%s); one quick retry", self.what,
                                 urlsplit(self.url).netloc, _connect_reason(exc))
                self.reach.sleep(min(self.policy.backoff_s, _QUICK_RETRY_S))
                return
            raise _unreachable_error(self.url, self.what, exc) from None
        if connect and self.reach.refused(self.url, _connect_reason(exc)):
            raise _dead_error(self.url, self.what, self.reach.dead(self.url) or "", self.give_up_note) from None
        self.failures += 1
        if self.failures > self.policy.retries:
            raise FetchError(f"{self.what}: giving up on {self.url} after {self.failures} failed "
                             f"attempts; last error: {_describe(exc)}.{self.give_up_note}") from exc
        delay = self.policy.delay(self.failures)
        self.log.warning("%s: %s; retry %d/%d in %.2g s", self.what, _describe(exc), self.failures,
                         self.policy.retries, delay)
        self.reach.sleep(delay)

    def before_attempt(self) -> None:
        """Raise at once when the call was cancelled or the host is known to be dead."""
        self.reach.check()
        why = self.reach.dead(self.url)
        if why:
            raise _dead_error(self.url, self.what, why, self.give_up_note)


def _dead_error(url: str, what: str, why: str, note: str = "") -> FetchError:
    host = urlsplit(url).hostname or url
    return FetchError(f"{what}: host {host} answered earlier but now refuses every connection ({why}); it "
                      f"seems to be down, so the remaining transfers were not attempted. Run again later, or use a "
                      f"local mirror folder: {mirror_hint()}.{note}")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _new_session() -> requests.Session:
    """A requests session with retrogait's User-Agent and no transfer encoding."""
    s = requests.Session()
    s.headers.update({"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    return s


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # Byte ranges and sizes must refer to the stored bytes, never to a
    # gzip-encoded transfer of them.
    h = {"Accept-Encoding": "identity"}
    h.update(extra or {})
    return h


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``'bytes a-b/total'`` -> ``(a, b, total)`` (``total`` None for ``*``)."""
    if not value:
        return None
    m = _CONTENT_RANGE.match(value)
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), int(m.group(2)), total


def _check_status(resp: requests.Response, url: str, what: str) -> None:
    """Raise for statuses other than 200/206: 5xx, 408, 429 retryable, other 4xx fatal."""
    status = resp.status_code
    if status in (200, 206):
        return
    if status >= 500 or status in _RETRY_STATUS:
        raise _Retryable(f"HTTP {status} {resp.reason or ''}".strip())
    hint = " (the URL may have moved: check the dataset manifest)" if status in (404, 410) else ""
    raise FetchError(f"{what}: HTTP {status} {resp.reason or ''} from {url}{hint}")


class _Bar:
    """Thread-safe byte progress bar (tqdm on stderr)."""

    def __init__(self, *, total: int | None, initial: int, desc: str, enabled: bool):
        self._lock = threading.Lock()
        self._tqdm = tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                          unit_divisor=1024, file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def update(self, n: int) -> None:
        with self._lock:
            self._tqdm.update(n)

    def add_total(self, n: int) -> None:
        with self._lock:
            if self._tqdm.total is not None:
                self._tqdm.total += n
                self._tqdm.refresh()

    def close(self) -> None:
        with self._lock:
            self._tqdm.close()


def _stream_to_partial(session: requests.Session, url: str, part: Path, *, start: int, end: int | None,
                       require_range: bool, what: str, policy: _Policy, reach: _Reachability,
                       bar: _Bar, logger: logging.Logger,
                       initial_response: requests.Response | None = None,
                       on_first_bytes: Callable[[], None] | None = None,
                       give_up_note: str = "") -> int:
    """Make ``part`` hold bytes ``[start, end)`` of the resource at ``url``.

    Parameters
    ----------
    part
        Partial file; if it exists it already holds the first bytes of the
        span, and the transfer resumes after them with a ``Range`` request.
    start, end
        Byte span of the resource (``end`` None: up to its end; only for
        whole-file downloads).
    require_range
        The span must be served as ``206 Partial Content`` (archive members);
        a ``200`` answer raises :class:`_RangeIgnored`. Otherwise (whole
        files) ``200`` restarts the download from byte 0.
    initial_response
        An already open response for this resource to consume first.
    on_first_bytes
        Called once, right before the first byte is written (lazy creation
        of folders and sidecar files).

    Returns
    -------
    int
        Body bytes received over the network.

    Notes
    -----
    Parent folders of ``part`` are created only when bytes arrive, so a
    failed transfer that received nothing leaves no trace.
    """
    attempts = _Attempts(url, what, policy, reach, logger, give_up_note=give_up_note)
    received = 0
    first = [on_first_bytes]
    response = initial_response
    while True:
        if response is None:
            attempts.before_attempt()
        have = part.stat().st_size if part.exists() else 0
        if end is not None and have > end - start:
            logger.warning("%s: partial file %s is longer than expected; starting again", what, part)
            part.unlink()
            bar.update(-have)
            have = 0
        if end is not None and have == end - start:
            if not part.exists():  # an empty span still yields a file
                _open_new(part, "wb").close()
            return received
        progressed = False
        try:
            if response is None:
                headers = {}
                if require_range or have or start:
                    last = "" if end is None else str(end - 1)
                    headers["Range"] = f"bytes={start + have}-{last}"
                response = session.get(url, headers=_headers(headers), stream=True,
                                       timeout=policy.timeout)
            with contextlib.closing(response) as resp:
                response = None
                reach.mark(url)
                if resp.status_code == 416 and have and not require_range:
                    logger.warning("%s: server refused to resume (HTTP 416); starting again", what)
                    part.unlink()
                    bar.update(-have)
                    continue
                _check_status(resp, url, what)
                if resp.status_code == 206:
                    cr = _parse_content_range(resp.headers.get("Content-Range"))
                    if cr is None or cr[0] != start + have or (end is not None and cr[1] > end - 1):
                        raise FetchError(f"{what}: {url} answered a request for bytes {start + have}-"
                                         f"{'' if end is None else end - 1} with Content-Range "
                                         f"{resp.headers.get('Content-Range')!r}")
                    mode = "ab"
                else:  # 200: the whole resource
                    if require_range:
                        raise _RangeIgnored(url)
                    if have:
                        logger.warning("%s: server does not resume (HTTP 200 to a Range request); "
                                       "downloading again from the start", what)
                        bar.update(-have)
                        have = 0
                    clen = resp.headers.get("Content-Length")
                    if end is not None and clen is not None and clen.isdigit() and int(clen) != end:
                        raise ChecksumError(f"{what} ({url})", str(end), str(int(clen)), algorithm="size")
                    mode = "wb"
                fh = None
                try:
                    for chunk in _iter_body(resp):
                        reach.check()  # Ctrl-C: stop at the next chunk, keeping the bytes for a resume
                        if not chunk:
                            continue
                        if fh is None:
                            if first[0] is not None:
                                first[0]()
                                first[0] = None
                            fh = _open_new(part, mode)
                        if end is not None and have + len(chunk) > end - start:
                            raise FetchError(f"{what}: {url} sent more bytes than requested")
                        fh.write(chunk)
                        have += len(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                        if not progressed:
                            progressed = True
                            attempts.progressed()
                finally:
                    if fh is not None:
                        fh.close()
                if mode == "wb" and fh is None:  # empty body
                    _open_new(part, "wb").close()
                if end is None:
                    return received
                if have < end - start:
                    raise _Retryable(f"connection closed after {have} of {end - start} bytes")
                return received
        except _TRANSIENT as exc:
            if response is not None:
                response.close()
                response = None
            attempts.failed(exc)


def _open_new(path: Path, mode: str):
    """Open ``path`` for writing (``"wb"``/``"ab"``), creating its folders.

    Another fetch job of the same dataset may prune empty folders under
    ``.partial`` while we create or use them: between our ``mkdir`` and
    ``open`` (``FileNotFoundError``), or inside ``mkdir`` itself, which sees
    the folder exist and then finds it gone when it checks that it is a
    folder (``FileExistsError``). Both races are retried; a file standing
    where a folder belongs is not a race and raises at once.
    """
    for attempt in range(3):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return open(path, mode)
        except (FileNotFoundError, FileExistsError):
            blocked = next((d for d in (path.parent, *path.parent.parents) if d.exists() and not d.is_dir()), None)
            if attempt == 2 or blocked is not None:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """Exclusive advisory lock on ``folder`` (POSIX ``flock`` on the folder itself).

    Snakemake may run the fetch jobs of several subjects of one dataset at
    the same time; they share the dataset's lock file and, in the
    full-download fallback, the archive. Holding this lock serialises those
    updates between processes. Where ``fcntl`` is missing (Windows) it does
    nothing.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _hash_file(path: Path) -> tuple[int, str, str]:
    """``(size, sha256 hex, crc32 hex)`` of a file in one pass."""
    h = hashlib.sha256()
    crc = 0
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, h.hexdigest(), f"{crc & 0xFFFFFFFF:08x}"


def _copy_hashing(src: Path, dst: Path, bar: _Bar) -> tuple[int, str, str]:
    """Copy ``src`` to ``dst`` (parents created); return ``(size, sha256, crc32)`` of the bytes."""
    h = hashlib.sha256()
    crc = 0
    size = 0
    with open(src, "rb") as fin, _open_new(dst, "wb") as fout:
        while block := fin.read(1 << 20):
            h.update(block)
            crc = zlib.crc32(block, crc)
            size += len(block)
            fout.write(block)
            bar.update(len(block))
    return size, h.hexdigest(), f"{crc & 0xFFFFFFFF:08x}"


def _partial_path(dest: Path, rel: str, suffix: str) -> Path:
    return dest / PARTIAL_DIR / (rel + suffix)


def _prune_partial(dest: Path, *, dest_existed: bool) -> None:
    """Remove empty folders under ``dest/.partial`` (and ``dest`` if this call created it empty)."""
    root = dest / PARTIAL_DIR
    if root.is_dir():
        for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
            with contextlib.suppress(OSError):  # not empty: keep it
                Path(dirpath).rmdir()
    if not dest_existed and dest.is_dir():
        for dirpath, _dirs, _files in sorted(os.walk(dest), key=lambda t: -len(t[0])):
            with contextlib.suppress(OSError):  # holds files: keep it
                Path(dirpath).rmdir()


def _file_url_path(url: str) -> Path:
    """Local path of a ``file://`` URL."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"file URL with a host is not supported: {url}")
    return Path(unquote(parts.path))


def _check_dataset(dataset: object) -> str:
    if not isinstance(dataset, str) or not dataset.strip() or "/" in dataset or dataset in (".", ".."):
        raise ValueError(f"dataset must be a non-empty id without '/', got {dataset!r}")
    return dataset


def _check_dest(dest: object) -> Path:
    if not isinstance(dest, (str, os.PathLike)):
        raise TypeError(f"dest must be a path, not {type(dest).__name__}")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise FetchError(f"destination {dest} exists and is not a folder")
    return dest


def _check_mirror(mirror: object) -> Path | None:
    if mirror is None:
        return None
    if not isinstance(mirror, (str, os.PathLike)):
        raise TypeError(f"mirror must be a path or None, not {type(mirror).__name__}")
    mirror = Path(mirror)
    if not mirror.is_dir():
        raise FetchError(f"mirror folder {mirror} does not exist or is not a folder "
                         "(expected layout <mirror>/<dataset>/<path>)")
    return mirror.resolve()


# ---------------------------------------------------------------------------
# fetch_files
# ---------------------------------------------------------------------------

def _check_files(dataset: str, files: object, *, need_url: bool) -> list[RawFile]:
    if isinstance(files, (str, bytes)) or not isinstance(files, Sequence):
        raise TypeError(f"files must be a sequence of RawFile, not {type(files).__name__}")
    out: list[RawFile] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        if not isinstance(f, RawFile):
            raise TypeError(f"files[{i}] must be a RawFile, not {type(f).__name__}")
        label = f"{dataset}/{f.path}"
        if f.path in seen:
            raise ValueError(f"{label} is listed twice")
        seen.add(f.path)
        if not f.sha256 or not re.fullmatch(r"[0-9a-f]{64}", f.sha256):
            raise ValueError(f"{label}: a declared file needs its sha256 (64 lowercase hex digits), "
                             f"got {f.sha256!r}")
        if f.size is not None and (isinstance(f.size, bool) or not isinstance(f.size, int) or f.size < 0):
            raise ValueError(f"{label}: size must be an integer >= 0 or None, got {f.size!r}")
        if need_url and not f.url:
            raise ValueError(f"{label}: no url and no mirror folder; declare its url or {mirror_hint()}")
        if f.url:
            scheme = urlsplit(f.url).scheme.lower()
            if scheme not in ("http", "https", "file"):
                raise ValueError(f"{label}: unsupported url scheme {scheme!r} in {f.url!r} "
                                 "(http, https or file)")
        out.append(f)
    return out


def _provenance(f: RawFile, size: int, sha: str, source: str, status: str) -> dict:
    return {"path": f.path, "size": size, "sha256": sha, "source": source, "status": status}


def _cached(dataset: str, f: RawFile, target: Path, log: logging.Logger) -> dict | None:
    """Provenance if ``target`` already holds the declared bytes; a mismatching file is removed."""
    if not target.exists():
        return None
    if not target.is_file():
        raise FetchError(f"{dataset}/{f.path}: {target} exists and is not a file")
    st_size = target.stat().st_size
    if f.size is not None and st_size != f.size:
        log.warning("%s/%s: existing file has %d bytes, %d declared; replacing it", dataset, f.path,
                    st_size, f.size)
        target.unlink()
        return None
    size, sha, _crc = _hash_file(target)
    if sha != f.sha256:
        log.warning("%s/%s: existing file has sha256 %s, %s declared; replacing it", dataset, f.path,
                    sha, f.sha256)
        target.unlink()
        return None
    return _provenance(f, size, sha, f.url or "", "cached")


def _verify_and_place(dataset: str, f: RawFile, part: Path, target: Path, *, origin: str,
                      digest: tuple[int, str, str] | None = None) -> tuple[int, str]:
    """Check ``part`` against the declaration, then move it to ``target``; bad bytes are deleted."""
    size, sha, _crc = digest if digest is not None else _hash_file(part)
    label = f"{dataset}/{f.path} ({origin})"
    if sha != f.sha256:
        part.unlink()
        sizes = f", {size} bytes where {f.size} declared" if f.size not in (None, size) else ""
        raise ChecksumError(f"{dataset}/{f.path} ({origin}{sizes})", f.sha256 or "", sha)
    if f.size is not None and size != f.size:
        part.unlink()
        raise ChecksumError(label, str(f.size), str(size), algorithm="size")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    return size, sha


def fetch_files(dataset: str, files: Sequence[RawFile], dest: Path, *, mirror: Path | None = None,
                retries: int = 4, backoff_s: float = 1.0, timeout_s: float = 60.0,
                progress: bool = True, session: requests.Session | None = None,
                logger: logging.Logger | None = None) -> list[dict]:
    """Obtain the declared files of one dataset, verified, under ``dest``.

    Parameters
    ----------
    dataset
        Dataset id (names the mirror subfolder and appears in messages).
    files
        Declared files; each needs ``sha256`` and, without a mirror, ``url``
        (``http``, ``https`` or ``file``). ``size`` is checked when given.
    dest
        The dataset's raw folder, ``data/raw/<dataset>/``; file ``f`` goes
        to ``dest / f.path``. Created only when bytes arrive.
    mirror
        Mirror folder (see :func:`resolve_mirror`), looked in first: a file
        present as ``<mirror>/<dataset>/<path>`` is copied from there; a file
        the mirror lacks comes from its declared ``url`` (so a dataset of
        local ``file://`` files runs beside mirrored ones).
    retries
        Further attempts after a connection error, timeout, truncated body
        or HTTP 5xx (consecutive failures without progress).
    backoff_s
        First wait between attempts; it doubles with each failure.
    timeout_s
        Seconds without data after which a request is abandoned.
    progress
        Show a byte progress bar (bytes done / bytes to do) on stderr.
    session
        Session to use (default: a new one, closed at the end).
    logger
        Where to log (default: this module's logger).

    Returns
    -------
    list of dict
        One provenance record per file, in input order: ``path``, ``size``,
        ``sha256``, ``source`` (the URL, or ``"mirror:<abs path>"``) and
        ``status`` (``"cached"``, ``"downloaded"`` or ``"copied"``). No
        timestamps: equal inputs give equal records.

    Raises
    ------
    ChecksumError
        Obtained bytes differ from the declared size or sha256; the message
        names the file, its origin and both values; nothing is kept.
    FetchError
        A mirror file is missing (the message names the expected path), the
        host cannot be reached (the message explains the mirror), HTTP 4xx,
        or retries are exhausted (the partial file is kept for resuming).
    ValueError, TypeError
        Invalid arguments (message names the argument or file).
    """
    log = logger or _log
    dataset = _check_dataset(dataset)
    dest = _check_dest(dest)
    mirror = _check_mirror(mirror)
    files = _check_files(dataset, files, need_url=mirror is None)
    policy = _Policy.checked(retries, backoff_s, timeout_s)
    if session is not None and not isinstance(session, requests.Session):
        raise TypeError(f"session must be a requests.Session, not {type(session).__name__}")

    dest_existed = dest.exists()
    results: list[dict | None] = [None] * len(files)
    todo: list[int] = []
    for i, f in enumerate(files):
        rec = _cached(dataset, f, dest / f.path, log)
        if rec is None:
            todo.append(i)
        else:
            results[i] = rec
    if not todo:
        log.info("%s: all %d files present and verified", dataset, len(files))
        return [r for r in results if r is not None]

    sizes = [files[i].size for i in todo]
    total = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
    initial = 0
    for i in todo:
        if mirror is None or not (mirror / dataset / files[i].path).is_file():
            p = _partial_path(dest, files[i].path, ".part")
            if p.is_file():
                initial += p.stat().st_size
    bar = _Bar(total=total, initial=initial, desc=f"fetch {dataset}", enabled=progress)
    reach = _Reachability(dead_after=policy.retries + 1)
    own = session is None
    sess = session or _new_session()
    try:
        for i in todo:
            f = files[i]
            if mirror is not None and (mirror / dataset / f.path).is_file():
                results[i] = _from_mirror(dataset, f, dest, mirror, bar, log)
            elif mirror is not None and not f.url:
                raise FetchError(f"{dataset}/{f.path}: not in the mirror (expected the file "
                                 f"{mirror / dataset / f.path}, mirror layout <mirror>/<dataset>/<path>) and no "
                                 "url declared in the manifest to fetch it from")
            else:
                try:
                    if urlsplit(f.url or "").scheme.lower() == "file":
                        results[i] = _from_file_url(dataset, f, dest, bar, log)
                    else:
                        results[i] = _download(dataset, f, dest, sess, policy, reach, bar, log)
                except FetchError as exc:
                    if mirror is None or isinstance(exc, ChecksumError):
                        raise
                    raise FetchError(f"{dataset}/{f.path}: not in the mirror (expected the file "
                                     f"{mirror / dataset / f.path}), and its declared url failed: {exc}") from exc
    finally:
        bar.close()
        if own:
            sess.close()
        _prune_partial(dest, dest_existed=dest_existed)
    n_new = {s: sum(1 for r in results if r and r["status"] == s) for s in ("cached", "downloaded", "copied")}
    log.info("%s: %d files (%d cached, %d downloaded, %d copied)", dataset, len(files), n_new["cached"],
             n_new["downloaded"], n_new["copied"])
    return [r for r in results if r is not None]


def _from_mirror(dataset: str, f: RawFile, dest: Path, mirror: Path, bar: _Bar,
                 log: logging.Logger) -> dict:
    src = mirror / dataset / f.path
    if not src.is_file():
        raise FetchError(f"{dataset}/{f.path}: not in the mirror; expected the file {src} "
                         f"(mirror layout <mirror>/<dataset>/<path> with mirror {mirror})")
    part = _partial_path(dest, f.path, ".part")
    digest = _copy_hashing(src, part, bar)
    size, sha = _verify_and_place(dataset, f, part, dest / f.path, origin=f"mirror file {src}", digest=digest)
    log.debug("%s/%s: copied from mirror %s", dataset, f.path, src)
    return _provenance(f, size, sha, f"mirror:{src}", "copied")


def _from_file_url(dataset: str, f: RawFile, dest: Path, bar: _Bar, log: logging.Logger) -> dict:
    src = _file_url_path(f.url or "")
    if not src.is_file():
        raise FetchError(f"{dataset}/{f.path}: {f.url} names no file ({src} does not exist)")
    part = _partial_path(dest, f.path, ".part")
    digest = _copy_hashing(src, part, bar)
    size, sha = _verify_and_place(dataset, f, part, dest / f.path, origin=f"copied from {f.url}", digest=digest)
    log.debug("%s/%s: copied from %s", dataset, f.path, src)
    return _provenance(f, size, sha, f.url or "", "copied")


def _download(dataset: str, f: RawFile, dest: Path, session: requests.Session, policy: _Policy,
              reach: _Reachability, bar: _Bar, log: logging.Logger) -> dict:
    url = f.url or ""
    part = _partial_path(dest, f.path, ".part")
    what = f"{dataset}/{f.path}"
    _stream_to_partial(session, url, part, start=0, end=f.size, require_range=False, what=what,
                       policy=policy, reach=reach, bar=bar, logger=log,
                       give_up_note=f" The bytes received so far are kept in {part} and the next run resumes.")
    size, sha = _verify_and_place(dataset, f, part, dest / f.path, origin=f"downloaded from {url}")
    log.debug("%s: downloaded %d bytes from %s", what, size, url)
    return _provenance(f, size, sha, url, "downloaded")

