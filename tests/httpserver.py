"""A local HTTP server for tests: byte ranges, byte counting and fault injection.

Tests never use the internet. They start this server on ``127.0.0.1`` at a
random free port (stdlib :class:`http.server.ThreadingHTTPServer` in a daemon
thread), serve bytes they generated, and afterwards assert on what went over
the wire.

Example
-------
>>> from tests.httpserver import serve
>>> with serve({"data/a.bin": b"hello"}) as srv:          # doctest: +SKIP
...     srv.add_fault("data/a.bin", "status", status=500, times=2)
...     requests.get(srv.url("data/a.bin"))                 # 500, 500, then 200
...     srv.bytes_sent, srv.requests[-1].status

Features
--------
* ``GET`` and ``HEAD``; a single ``Range: bytes=a-b`` / ``a-`` / ``-n`` is
  answered ``206`` with ``Content-Range`` (unsatisfiable: ``416``); several
  ranges in one header are ignored (``200``, allowed by RFC 9110).
* Counting: body bytes actually written, per path (:attr:`TestServer.bytes_by_path`)
  and in total (:attr:`TestServer.bytes_sent`); a log of every request
  (:attr:`TestServer.requests`, :class:`Request` records); the most requests
  served at once (:attr:`TestServer.max_concurrent`).
* Faults (:meth:`TestServer.add_fault`), each for the first ``times``
  matching requests (``times=None``: for ever):

  ``"drop"``
      send the headers (full ``Content-Length``) and ``after_bytes`` body
      bytes, then close the connection;
  ``"status"``
      answer ``status`` (e.g. 500 or 404) instead of the file;
  ``"corrupt"``
      XOR ``0xFF`` into the file's bytes ``[offset, offset + length)``
      wherever a response covers them;
  ``"ignore_range"``
      answer ``200`` with the whole body even to a ``Range`` request;
  ``"slow"``
      send the body in 16 KB chunks with ``delay_s`` seconds between them
      (a slow link, to interrupt a transfer while it runs).

  A fault may be restricted with ``when=callable(request_info) -> bool``,
  where ``request_info`` is a :class:`RequestInfo` (method, path and the
  resolved byte range), e.g. to drop only requests for one member's bytes.
* ``honour_range=False`` makes the whole server ignore ``Range``.

Content is a ``{path: bytes}`` mapping (changeable while running with
:meth:`TestServer.set_file`) or a folder whose files are served.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

__all__ = ["TestServer", "Fault", "Request", "RequestInfo", "serve", "closed_port_url"]

_CHUNK = 16 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
FAULT_KINDS = ("drop", "status", "corrupt", "ignore_range", "slow")


@dataclass(frozen=True)
class RequestInfo:
    """What a fault predicate sees: method, path and the requested byte range.

    ``range`` is ``(first, last)`` inclusive, resolved against the file size,
    or ``None`` when the request had no (satisfiable, single) ``Range``.
    """

    method: str
    path: str
    range: tuple[int, int] | None
    size: int | None


@dataclass
class Request:
    """One request as served: method, path, ``Range`` header, status, body bytes sent."""

    method: str
    path: str
    range_header: str | None
    status: int = 0
    body_bytes: int = 0
    faults: tuple[str, ...] = ()

    @property
    def range(self) -> tuple[int, int | None] | None:
        """Parsed ``Range`` header ``(first, last)``; suffix ranges give ``(-n, None)``."""
        if not self.range_header:
            return None
        m = _RANGE.match(self.range_header)
        if not m or (not m.group(1) and not m.group(2)):
            return None
        if not m.group(1):
            return (-int(m.group(2)), None)
        return (int(m.group(1)), int(m.group(2)) if m.group(2) else None)


@dataclass
class Fault:
    """An injected fault (see the module docstring for the kinds)."""

    path: str
    kind: str
    times: int | None = 1
    after_bytes: int = 0
    status: int = 500
    offset: int = 0
    length: int = 1
    delay_s: float = 0.0
    when: Callable[[RequestInfo], bool] | None = None
    applied: int = 0

    def active(self) -> bool:
        return self.times is None or self.applied < self.times


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self.server.owner._handle(self, head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.owner._handle(self, head=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: "TestServer"


class TestServer:
    """Threaded HTTP server on 127.0.0.1 with byte counting and fault injection.

    Parameters
    ----------
    files
        ``{path: bytes}`` to serve (a leading ``/`` is ignored), or a folder
        whose files are served under their relative paths.
    honour_range
        Answer ``Range`` requests with ``206`` (default); ``False`` always
        sends the whole body with ``200``.

    Use as a context manager (or call :meth:`start` / :meth:`close`).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, files: Mapping[str, bytes] | str | os.PathLike | None = None, *,
                 honour_range: bool = True) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, bytes] = {}
        self._root: Path | None = None
        if isinstance(files, (str, os.PathLike)):
            self._root = Path(files)
            if not self._root.is_dir():
                raise ValueError(f"not a folder: {self._root}")
        elif files is not None:
            for k, v in files.items():
                self.set_file(k, v)
        self.honour_range = honour_range
        self._faults: list[Fault] = []
        self._requests: list[Request] = []
        self._bytes_by_path: dict[str, int] = {}
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._in_flight = 0
        self._max_in_flight = 0

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> "TestServer":
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-httpserver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def __enter__(self) -> "TestServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port (still known after :meth:`close`, so URLs can be compared)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server (path segments are percent-quoted)."""
        return f"{self.base_url}/{quote(path.lstrip('/'))}"

    # -- content ---------------------------------------------------------------
    def set_file(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path`` (replaces what was there)."""
        with self._lock:
            self._files[path.lstrip("/")] = bytes(data)

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._files.pop(path.lstrip("/"), None)

    def _content(self, path: str) -> bytes | None:
        with self._lock:
            if path in self._files:
                return self._files[path]
        if self._root is not None:
            p = (self._root / path).resolve()
            if self._root.resolve() in p.parents and p.is_file():
                return p.read_bytes()
        return None

    # -- faults ----------------------------------------------------------------
    def add_fault(self, path: str, kind: str, *, times: int | None = 1, after_bytes: int = 0,
                  status: int = 500, offset: int = 0, length: int = 1, delay_s: float = 0.05,
                  when: Callable[[RequestInfo], bool] | None = None) -> Fault:
        """Inject a fault for requests of ``path``; see the module docstring.

        Parameters
        ----------
        kind
            ``"drop"``, ``"status"``, ``"corrupt"`` or ``"ignore_range"``.
        times
            For how many matching requests (``None``: all).
        after_bytes
            ``drop``: body bytes sent before the connection is closed.
        status
            ``status``: the HTTP status to answer.
        offset, length
            ``corrupt``: byte span of the file to flip.
        delay_s
            ``slow``: pause between 16 KB chunks of the body.
        when
            Optional predicate on :class:`RequestInfo` restricting the fault.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        fault = Fault(path=path.lstrip("/"), kind=kind, times=times, after_bytes=after_bytes,
                      status=status, offset=offset, length=length, delay_s=delay_s, when=when)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- counters --------------------------------------------------------------
    @property
    def bytes_sent(self) -> int:
        """Total body bytes written to clients since the last :meth:`reset_counters`."""
        with self._lock:
            return sum(self._bytes_by_path.values())

    @property
    def bytes_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._bytes_by_path)

    def bytes_sent_for(self, path: str) -> int:
        with self._lock:
            return self._bytes_by_path.get(path.lstrip("/"), 0)

    @property
    def requests(self) -> list[Request]:
        """Copy of the request log (in arrival order)."""
        with self._lock:
            return list(self._requests)

    @property
    def max_concurrent(self) -> int:
        """Most requests being served at the same time since the last reset."""
        with self._lock:
            return self._max_in_flight

    def reset_counters(self) -> None:
        """Forget counted bytes, logged requests and concurrency (faults are kept)."""
        with self._lock:
            self._requests.clear()
            self._bytes_by_path.clear()
            self._max_in_flight = self._in_flight

    # -- serving ---------------------------------------------------------------
    def _take_faults(self, info: RequestInfo) -> list[Fault]:
        taken = []
        with self._lock:
            for f in self._faults:
                if f.path != info.path or not f.active():
                    continue
                if f.when is not None and not f.when(info):
                    continue
                taken.append(f)
        return taken

    def _count(self, path: str, n: int) -> None:
        with self._lock:
            self._bytes_by_path[path] = self._bytes_by_path.get(path, 0) + n

    def _mark_applied(self, fault: Fault, rec: Request) -> None:
        with self._lock:
            fault.applied += 1
            rec.faults = rec.faults + (fault.kind,)

    def _handle(self, h: _Handler, *, head: bool) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._serve(h, head=head)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve(self, h: _Handler, *, head: bool) -> None:
        path = unquote(urlsplit(h.path).path).lstrip("/")
        range_header = h.headers.get("Range")
        rec = Request("HEAD" if head else "GET", path, range_header)
        with self._lock:
            self._requests.append(rec)
        data = self._content(path)
        size = None if data is None else len(data)
        rng = _resolve_range(range_header, size) if size is not None else None
        info = RequestInfo(rec.method, path, rng if isinstance(rng, tuple) else None, size)
        faults = self._take_faults(info)

        for f in faults:
            if f.kind == "status":
                self._mark_applied(f, rec)
                self._send_simple(h, rec, f.status, f"injected HTTP {f.status}\n".encode(), head)
                return
        if data is None:
            self._send_simple(h, rec, 404, b"not found\n", head)
            return
        ignore = not self.honour_range
        for f in faults:
            if f.kind == "ignore_range" and range_header:
                self._mark_applied(f, rec)
                ignore = True
        if range_header and not ignore and rng == "unsatisfiable":
            rec.status = 416
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{size}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if range_header and not ignore and isinstance(rng, tuple):
            first, last = rng
            status = 206
        else:
            first, last = 0, len(data) - 1
            status = 200
        body = data[first:last + 1]
        for f in faults:
            if f.kind == "corrupt":
                lo, hi = max(f.offset, first), min(f.offset + f.length, last + 1)
                if lo < hi:
                    self._mark_applied(f, rec)
                    b = bytearray(body)
                    for i in range(lo - first, hi - first):
                        b[i] ^= 0xFF
                    body = bytes(b)
        drop_after = None
        for f in faults:
            if f.kind == "drop" and not head:
                self._mark_applied(f, rec)
                drop_after = f.after_bytes if drop_after is None else min(drop_after, f.after_bytes)
        delay = 0.0
        for f in faults:
            if f.kind == "slow" and not head:
                self._mark_applied(f, rec)
                delay = max(delay, f.delay_s)
        rec.status = status
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        if self.honour_range:
            h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        h.end_headers()
        if head:
            return
        to_send = body if drop_after is None else body[:drop_after]
        self._write_body(h, rec, path, to_send, delay=delay)
        if drop_after is not None:
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.wfile.flush()
                h.connection.shutdown(socket.SHUT_RDWR)

    def _send_simple(self, h: _Handler, rec: Request, status: int, body: bytes, head: bool) -> None:
        rec.status = status
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            self._write_body(h, rec, rec.path, body)

    def _write_body(self, h: _Handler, rec: Request, path: str, body: bytes, *, delay: float = 0.0) -> None:
        view = memoryview(body)
        for i in range(0, len(body), _CHUNK):
            piece = view[i:i + _CHUNK]
            try:
                if delay and i:
                    h.wfile.flush()
                    time.sleep(delay)
                h.wfile.write(piece)
            except OSError:  # client went away (e.g. closed a 200 it did not want)
                h.close_connection = True
                return
            self._count(path, len(piece))
            with self._lock:
                rec.body_bytes += len(piece)


def _resolve_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Single byte range -> ``(first, last)``; ``"unsatisfiable"``; ``None`` if absent/ignored."""
    if not header:
        return None
    m = _RANGE.match(header)
    if not m:
        return None  # several ranges or garbage: ignore the header (200)
    a, b = m.group(1), m.group(2)
    if not a and not b:
        return None
    if not a:  # suffix: the last n bytes
        n = int(b)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1)
    first = int(a)
    last = size - 1 if not b else min(int(b), size - 1)
    if b and int(b) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return (first, last)


@contextlib.contextmanager
def serve(files: Mapping[str, bytes] | str | os.PathLike | None = None, *,
          honour_range: bool = True) -> Iterator[TestServer]:
    """Run a :class:`TestServer` for the duration of a ``with`` block."""
    srv = TestServer(files, honour_range=honour_range)
    with srv:
        yield srv


def closed_port_url(path: str = "file.bin") -> str:
    """A URL on 127.0.0.1 at a port where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{quote(path.lstrip('/'))}"

