"""Before any job: can every dataset that still has to be fetched be obtained?

A run that needs a file can get it from three places: it is already under
``data/raw/<dataset>/`` (its provenance record exists), a mirror folder
holds it (``<mirror>/<dataset>/<path>``, or the dataset's archive there), or
its host answers over the network (or its ``file://`` URL names a file).
With a mirror, the mirror is looked in first and the declared URL serves
what it lacks (:func:`retrogait.acquire.fetch.fetch_files`), so a new local
dataset runs beside mirrored ones.

:func:`check_sources` answers this for a set of datasets in about a second
(one HTTP ``HEAD`` per host, all hosts at once, any HTTP answer counts as
reachable) so that an offline run stops before its first job with one
message (:func:`unavailable_message`) instead of failing job after job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

from retrogait import __version__
from retrogait.acquire.fetch import MIRROR_ENV, _connect_reason
from retrogait.acquire.manifest import DatasetSpec, RawFile

__all__ = ["SourceStatus", "dataset_urls", "probe_hosts", "check_sources", "unavailable_message"]

#: Seconds to wait for a host's first answer.
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SourceStatus:
    """Where a dataset's missing files would come from.

    Attributes
    ----------
    dataset : str
        Dataset id.
    source : str
        ``"cached"`` (nothing to fetch), ``"mirror"``, ``"network"`` or
        ``"unavailable"``.
    detail : str
        For ``"unavailable"``: why (host and reason, or the file the mirror
        lacks); otherwise empty.
    """

    dataset: str
    source: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.source != "unavailable"


def dataset_urls(spec: DatasetSpec, files: Iterable[RawFile] | None = None) -> list[str]:
    """The URLs a dataset's files are downloaded from (the archive URL for an archive dataset)."""
    if spec.archive:
        return [spec.archive["url"]]
    chosen = spec.files if files is None else files
    return sorted({f.url for f in chosen if f.url})


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc if parts.scheme != "file" else f"file:{unquote(parts.path)}"


def probe_hosts(urls: Iterable[str], *, timeout_s: float = PROBE_TIMEOUT_S,
                head: Callable[..., object] = requests.head) -> dict[str, str | None]:
    """Ask each host once whether it answers.

    Parameters
    ----------
    urls : iterable of str
        URLs; one of them per host (``scheme://netloc``) is asked with
        ``HEAD``, all hosts in parallel. ``file://`` URLs are checked on disk.
    timeout_s : float, keyword-only
        Connect and read timeout per host, seconds.
    head : callable, keyword-only
        ``requests.head``-like function (tests inject failures).

    Returns
    -------
    dict
        ``{host: None}`` for a host that gave any HTTP answer (a 404 or 405
        still proves the network path), ``{host: reason}`` otherwise
        (``"its name cannot be resolved"``, ``"connection refused"``, ...).
    """
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be a number > 0, got {timeout_s!r}")
    by_host: dict[str, str] = {}
    for url in urls:
        by_host.setdefault(_host(url), url)

    def ask(url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return None if Path(unquote(parts.path)).exists() else "the local file does not exist"
        try:
            head(url, timeout=(timeout_s, timeout_s), allow_redirects=False,
                 headers={"User-Agent": f"retrogait/{__version__} (source check)"})
        except requests.exceptions.RequestException as exc:
            if isinstance(exc, requests.exceptions.ReadTimeout):
                return f"no answer within {timeout_s:g} s"
            return _connect_reason(exc)
        return None

    if not by_host:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(by_host))) as pool:
        answers = list(pool.map(ask, by_host.values()))
    return dict(zip(by_host, answers))


def _mirror_lacks(spec: DatasetSpec, files: Sequence[RawFile], mirror: Path) -> str | None:
    """The first file the mirror lacks for ``files`` of ``spec`` (None: it has them all)."""
    folder = mirror / spec.id
    if not folder.is_dir():
        return f"the mirror {mirror} has no folder {spec.id}/"
    if spec.archive and (folder / spec.archive["name"]).is_file():
        return None
    for f in files:
        loose = [folder / f.path] + ([folder / f.member] if f.member else [])
        if not any(p.is_file() for p in loose):
            return f"the mirror lacks {loose[0]}"
    return None


def check_sources(specs: Mapping[str, DatasetSpec], needed: Mapping[str, Sequence[RawFile]], *,
                  mirror: Path | None, timeout_s: float = PROBE_TIMEOUT_S,
                  probe: Callable[..., dict[str, str | None]] = probe_hosts) -> dict[str, SourceStatus]:
    """Where each dataset's still-missing files would come from.

    Parameters
    ----------
    specs : mapping
        ``{dataset: DatasetSpec}`` of the datasets to check.
    needed : mapping
        ``{dataset: [RawFile, ...]}``: the files still to fetch (an empty or
        absent entry means the dataset is already fetched: ``"cached"``).
    mirror : pathlib.Path or None, keyword-only
        The mirror folder in use (then the network is not asked).
    timeout_s : float, keyword-only
        Per-host timeout of the network check, seconds.
    probe : callable, keyword-only
        :func:`probe_hosts`-like function (tests).

    Returns
    -------
    dict
        ``{dataset: SourceStatus}`` in the order of ``specs``.
    """
    out: dict[str, SourceStatus] = {}
    to_probe: dict[str, list[str]] = {}
    mirror_lacks: dict[str, str] = {}
    for d, spec in specs.items():
        files = list(needed.get(d) or [])
        if not files:
            out[d] = SourceStatus(d, "cached")
        else:
            lacks = _mirror_lacks(spec, files, mirror) if mirror is not None else None
            if mirror is not None and lacks is None:
                out[d] = SourceStatus(d, "mirror")
                continue
            # not (all) in the mirror: the declared URLs (fetch looks in the mirror first, then there)
            left = files if mirror is None or spec.archive else [
                f for f in files if not any(p.is_file() for p in [mirror / spec.id / f.path]
                                            + ([mirror / spec.id / f.member] if f.member else []))]
            urls = dataset_urls(spec, left)
            if urls:
                to_probe[d] = urls
                if lacks:
                    mirror_lacks[d] = lacks
            else:
                out[d] = SourceStatus(d, "unavailable", lacks + " and its files have no URL" if lacks else
                                      f"its files have no URL; {MIRROR_ENV} must name a mirror")
    answers = probe([u for urls in to_probe.values() for u in urls], timeout_s=timeout_s) if to_probe else {}
    for d, urls in to_probe.items():
        bad = [(_host(u), answers.get(_host(u))) for u in urls if answers.get(_host(u))]
        first = f"{mirror_lacks[d]}, and " if d in mirror_lacks else ""
        out[d] = (SourceStatus(d, "unavailable", f"{first}host {bad[0][0]} cannot be reached ({bad[0][1]})")
                  if bad else SourceStatus(d, "network"))
    return {d: out[d] for d in specs}


def unavailable_message(failed: Sequence[SourceStatus], *, obtainable: Sequence[str], mirror: Path | None) -> str:
    """One short message: which datasets cannot be obtained, and the ways forward.

    ``obtainable`` lists the declared datasets that can be analysed now
    (already fetched, in the mirror, or reachable); they are offered as
    ``make run DATASETS=...`` and as the equivalent ``--config``.
    """
    lines = ["retrogait: stopped before any job: "
             + ("this dataset cannot be obtained:" if len(failed) == 1 else "these datasets cannot be obtained:")]
    lines += [f"  {s.dataset}: {s.detail}" for s in failed]
    lines.append("Ways forward:")
    if mirror is None:
        lines.append(f"  - a local mirror folder (layout <mirror>/<dataset>/<path>): {MIRROR_ENV}=/path/to/mirror make run")
    else:
        lines.append(f"  - put the missing files into the mirror {mirror} (layout <mirror>/<dataset>/<path>), "
                     f"or unset {MIRROR_ENV} to download them")
    if obtainable:
        ids = ",".join(obtainable)
        quoted = ", ".join(f'"{d}"' for d in obtainable)
        lines.append(f"  - only the datasets that can be obtained now: make run DATASETS={ids}"
                     f"  (snakemake: --config datasets='[{quoted}]')")
    else:
        lines.append("  - no declared dataset can be obtained now (none is downloaded already"
                     + (", in the mirror" if mirror is not None else "") + " or on a host that answers)")
    return "\n".join(lines)

