"""Forget one subject's fetched raw files so that the next run fetches them again.

A raw file can be damaged after it was verified (disk, an editor), or a
member can be corrected at its source after it was fetched. The fetch step
then keeps the old bytes: the file matches the checksum recorded in the
members lock, and Snakemake sees an up-to-date provenance record. Recovering
needs three deletions (the files, their lock entries, the provenance
record); :func:`forget_subject` does exactly those, and
``make refetch DATASET=<id> SUBJECT=<id>`` (or
``python -m retrogait.acquire.refetch <dataset> <subject>``) calls it. Error
messages about a raw file name that command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from retrogait.config import check_id
from retrogait.errors import ConfigError, FetchError

__all__ = ["forget_subject", "refetch_hint", "main"]

PROVENANCE_DIR = ".provenance"
LOCK_NAME = "members.lock.json"  # same as retrogait.acquire.archive.LOCK_NAME (kept import-light)


def refetch_hint(dataset: str, subject: str) -> str:
    """The sentence error messages use to say how to refetch one subject's raw files."""
    return (f"If a raw file is damaged or was corrected at its source, fetch this subject's files again: "
            f"`make refetch DATASET={dataset} SUBJECT={subject}` (deletes its raw files, their lock entries and "
            f"data/raw/{dataset}/{PROVENANCE_DIR}/{subject}.json), then run again.")


def _safe_rel(path: str) -> bool:
    p = Path(path)
    return bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path


def forget_subject(raw_dir: str | os.PathLike, subject: str) -> list[str]:
    """Delete the raw files recorded for ``subject``, their lock entries and its provenance record.

    Parameters
    ----------
    raw_dir : str or path-like
        The dataset's raw folder, ``data/raw/<dataset>/``.
    subject : str
        Subject id (a safe identifier).

    Returns
    -------
    list of str
        What was deleted (paths relative to ``raw_dir``; lock entries as
        ``members.lock.json:<path>``). Empty when nothing was recorded.

    Raises
    ------
    ConfigError
        ``subject`` is not a safe identifier.
    FetchError
        The provenance record is unreadable or lists a path outside ``raw_dir``.
    """
    from retrogait.acquire.fetch import _folder_lock
    from retrogait.io import write_json

    check_id(subject, what="subject")
    raw_dir = Path(raw_dir)
    record_path = raw_dir / PROVENANCE_DIR / f"{subject}.json"
    if not record_path.is_file():
        return []
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        paths = [str(r["path"]) for r in record["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise FetchError(f"{record_path} is not a provenance record; delete it by hand") from None
    bad = [p for p in paths if not _safe_rel(p)]
    if bad:
        raise FetchError(f"{record_path} lists path(s) outside {raw_dir}: {bad[:3]}; nothing was deleted")
    deleted: list[str] = []
    for rel in paths:
        target = raw_dir / rel
        if target.is_file():
            target.unlink()
            deleted.append(rel)
    lock = raw_dir / LOCK_NAME
    if lock.is_file():
        with _folder_lock(raw_dir):
            try:
                data = json.loads(lock.read_text(encoding="utf-8"))
                members = data.get("members", {})
            except (OSError, ValueError, AttributeError):
                data, members = None, {}
            gone = [p for p in paths if p in members]
            if data is not None and gone:
                data["members"] = {k: v for k, v in members.items() if k not in gone}
                write_json(data, lock)
                deleted += [f"{LOCK_NAME}:{p}" for p in gone]
    record_path.unlink()
    deleted.append(record_path.relative_to(raw_dir).as_posix())
    for rel in paths:  # folders left empty
        for parent in (raw_dir / rel).parents:
            if parent == raw_dir or raw_dir not in parent.parents:
                break
            with contextlib.suppress(OSError):
                parent.rmdir()
    return deleted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrogait.acquire.refetch",
                                     description="Delete one subject's fetched raw files, their lock entries and "
                                                 "provenance record, so that the next run fetches them again.")
    parser.add_argument("dataset", help="dataset id (data/raw/<dataset>/)")
    parser.add_argument("subject", help="subject id")
    parser.add_argument("--root", default=".", help="project folder (default: the current folder)")
    args = parser.parse_args(argv)
    try:
        check_id(args.dataset, what="dataset")
        deleted = forget_subject(Path(args.root) / "data" / "raw" / args.dataset, args.subject)
    except (ConfigError, FetchError) as exc:
        print(f"retrogait error: {exc}", file=sys.stderr)
        return 1
    if not deleted:
        print(f"nothing recorded for {args.dataset}/{args.subject} (no provenance record): the next run fetches "
              "and verifies its files anyway")
        return 0
    print(f"{args.dataset}/{args.subject}: deleted {len(deleted)} item(s); the next run fetches them again")
    for d in deleted:
        print(f"  {d}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
