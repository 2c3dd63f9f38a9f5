"""Atomic, deterministic file output and unit-carrying parquet tables.

Every output of the pipeline is written to a temporary file in the target
folder and moved into place with :func:`os.replace`, so an interrupted run
never leaves a half-written file under its final name. Parquet files carry
the unit of every column in the column's field metadata (key ``unit``), so
units travel with the data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "atomic_path",
    "default_file_mode",
    "write_parquet",
    "read_parquet",
    "read_units",
    "write_json",
    "write_text",
    "sha256_file",
]

_UNIT_KEY = b"unit"
_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    The file gets the mode an ordinary ``open(path, "w")`` would give it,
    ``0o666 & ~umask`` (:func:`tempfile.mkstemp` creates it ``0o600``, which
    would hide a report from colleagues or a web server on a shared machine).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, default_file_mode())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def current_umask() -> int:
    """The process umask.

    Read from ``/proc/self/status`` where Linux provides it (no side
    effect); elsewhere by setting it and restoring it at once, under a lock
    (another thread could otherwise create a file under the temporary mask).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Mode of a new regular file under the current umask: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike, *,
                  units: Mapping[str, str] | None = None) -> None:
    """Write ``df`` atomically to parquet, storing ``units[column]`` per column.

    Columns absent from ``units`` get no unit metadata (identifiers, labels).
    The index is not written. Output is deterministic for equal input.
    """
    units = dict(units or {})
    unknown = set(units) - set(df.columns)
    if unknown:
        raise ValueError(f"units given for columns not in the table: {sorted(unknown)}")
    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = []
    for field in table.schema:
        meta = dict(field.metadata or {})
        if field.name in units:
            meta[_UNIT_KEY] = str(units[field.name]).encode()
        fields.append(field.with_metadata(meta) if meta else field)
    table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_units(path: str | os.PathLike) -> dict[str, str]:
    """Return ``{column: unit}`` stored in a parquet file written by :func:`write_parquet`."""
    schema = pq.read_schema(path)
    return {f.name: f.metadata[_UNIT_KEY].decode() for f in schema
            if f.metadata and _UNIT_KEY in f.metadata}


def read_parquet(path: str | os.PathLike, *, columns: list[str] | None = None
                 ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a parquet table and its per-column units."""
    df = pq.read_table(path, columns=columns).to_pandas()
    units = read_units(path)
    if columns is not None:
        units = {k: v for k, v in units.items() if k in columns}
    return df, units


def write_json(obj: object, path: str | os.PathLike) -> None:
    """Write JSON atomically with sorted keys (deterministic)."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    write_text(text + "\n", path)


def _json_default(obj: object) -> object:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write text atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
