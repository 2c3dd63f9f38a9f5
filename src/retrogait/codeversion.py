"""Which code and which environment a run used.

A fingerprint of the package's own code, so Snakemake reruns what it changes,
and a comparison of the installed packages with the lock file
(``requirements-lock.txt``) for the report's Software section.

Snakemake's ``code`` rerun trigger sees only a rule's script, not the
library the script calls; a rule that passes :func:`code_fingerprint` as a
``params`` value is rerun when any module, template or schema of
``retrogait`` changes (the ``params`` trigger), and never otherwise, so a
no-op rerun stays a no-op.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
from functools import lru_cache
from pathlib import Path

from retrogait import __version__

__all__ = ["code_fingerprint", "tree_hash", "LOCK_FILE", "locked_versions", "lock_status", "git_commit", "config_hash",
           "run_metadata"]

#: The lock of exact dependency versions, relative to the project root.
LOCK_FILE = "requirements-lock.txt"

_PATTERNS = ("*.py", "*.j2", "*.yaml", "*.json")


@lru_cache(maxsize=4)
def code_fingerprint(*, lock: str | Path | None = None) -> str:
    """``<version>+<sha256 prefix>`` of every source, template and schema file of the package.

    Files are hashed in sorted relative-path order with their paths, so the
    value depends on content and layout only (not on mtimes or the install
    location); byte-compiled caches are ignored.

    Parameters
    ----------
    lock : str or Path, optional, keyword-only
        The dependency lock file; when given (and present), a prefix of its
        sha256 is appended (``+lock.<hex>``), so new locked versions rerun
        the jobs whose results they may change.

    Returns
    -------
    str
        For example ``"0.1.0+3f5c2a9e1b7d"`` or ``"0.1.0+3f5c2a9e1b7d+lock.9a0b1c2d3e4f"``.
    """
    out = f"{__version__}+{tree_hash(Path(__file__).resolve().parent)}"
    if lock is not None and Path(lock).exists():
        out += "+lock." + hashlib.sha256(Path(lock).read_bytes()).hexdigest()[:12]
    return out


def tree_hash(root: str | Path, *, length: int = 12) -> str:
    """Hex sha256 prefix over the package-like files under ``root`` (paths and contents).

    Parameters
    ----------
    root : str or Path
        Folder to hash; ``*.py``, ``*.j2``, ``*.yaml`` and ``*.json`` files
        anywhere below it count, ``__pycache__`` folders do not.
    length : int, keyword-only
        Hex digits returned.
    """
    root = Path(root)
    files = sorted({p for pattern in _PATTERNS for p in root.rglob(pattern) if "__pycache__" not in p.parts})
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:length]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(text: str) -> dict[str, str]:
    """``{normalised name: version}`` of a pip requirements lock (``name==version [; marker]``)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def lock_status(lock_path: str | Path) -> dict:
    """The lock file's identity and how the running environment differs from it.

    Returns
    -------
    dict
        ``file`` (name), ``sha256`` (hex of its bytes, or None when the file is
        absent), ``n_locked`` (packages it pins), ``n_checked`` (of those, how
        many are installed here) and ``differs``: ``{name: (installed,
        locked)}`` for every installed package at another version than the
        lock's. Packages the lock pins for other platforms only (absent here)
        are not differences.
    """
    path = Path(lock_path)
    if not path.exists():
        return {"file": path.name, "sha256": None, "n_locked": 0, "n_checked": 0, "differs": {}}
    data = path.read_bytes()
    locked = locked_versions(data.decode("utf-8"))
    installed = {_norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
                 if d.metadata["Name"]}
    checked = [n for n in locked if n in installed]
    differs = {n: (installed[n], locked[n]) for n in sorted(checked) if installed[n] != locked[n]}
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "n_locked": len(locked),
            "n_checked": len(checked), "differs": differs}


def git_commit(root: str | Path) -> str | None:
    """The git commit of ``root`` (with ``-dirty`` when tracked files differ from it), or None.

    None when ``root`` is not a git work tree or git is not installed (an
    installed package, an unpacked archive): the source fingerprint
    (:func:`code_fingerprint`) then identifies the code.
    """
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=20)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def config_hash(config: object) -> str:
    """sha256 of the run's configuration as canonical JSON (sorted keys), so equal configs hash equal."""
    import json

    text = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_metadata(config: object, *, root: str | Path, lock: str | Path | None = None,
                 now: str | None = None) -> dict[str, str]:
    """What identifies a run, for the top of the report.

    Keys: ``date`` (UTC; ``SOURCE_DATE_EPOCH`` when set, for reproducible
    builds; ``now`` overrides), ``retrogait``, ``source fingerprint``
    (:func:`code_fingerprint`), ``git commit`` (or why there is none),
    ``config sha256`` (:func:`config_hash`), ``lock file sha256`` and
    ``platform``.
    """
    import datetime as _dt
    import os
    import platform

    if now is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        stamp = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch and epoch.isdigit()
                 else _dt.datetime.now(_dt.timezone.utc))
        now = stamp.strftime("%Y-%m-%d %H:%M UTC")
    lock_path = Path(lock) if lock is not None else Path(root) / LOCK_FILE
    lock_sha = hashlib.sha256(lock_path.read_bytes()).hexdigest() if lock_path.exists() else "no lock file found"
    return {
        "date": now,
        "retrogait": __version__,
        "source fingerprint": code_fingerprint(),
        "git commit": git_commit(root) or "none (not a git work tree: the source fingerprint identifies the code)",
        "config sha256": config_hash(config),
        "lock file sha256": lock_sha,
        "platform": f"{platform.platform()}, Python {platform.python_version()}",
    }
