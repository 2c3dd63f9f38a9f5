"""A fingerprint of the package's own code, so Snakemake reruns what it changes.

Snakemake's ``code`` rerun trigger sees only a rule's script, not the
library the script calls; a rule that passes :func:`code_fingerprint` as a
``params`` value is rerun when any module, template or schema of
``retrogait`` changes (the ``params`` trigger), and never otherwise, so a
no-op rerun stays a no-op.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from retrogait import __version__

__all__ = ["code_fingerprint", "tree_hash"]

_PATTERNS = ("*.py", "*.j2", "*.yaml", "*.json")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """``<version>+<sha256 prefix>`` of every source, template and schema file of the package.

    Files are hashed in sorted relative-path order with their paths, so the
    value depends on content and layout only (not on mtimes or the install
    location); byte-compiled caches are ignored.

    Returns
    -------
    str
        For example ``"0.1.0+3f5c2a9e1b7d"``.
    """
    return f"{__version__}+{tree_hash(Path(__file__).resolve().parent)}"


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
