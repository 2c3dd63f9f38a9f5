"""The dataset manifest (``config/datasets.yaml``).

Each entry declares a dataset: bibliographic facts (title, citation, DOI,
licence), the adapter that reads it with the adapter's options, and either
the list of its files (each with URL at a fixed commit, size and sha256) or
the archive it is shipped in. See ``config/README.md`` for the field list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrogait.config import load_config
from retrogait.errors import ConfigError

__all__ = ["RawFile", "DatasetSpec", "load_manifest"]


@dataclass(frozen=True)
class RawFile:
    """One file a subject needs, as it will sit under ``data/raw/<dataset>/``.

    Attributes
    ----------
    path
        Path relative to the dataset's raw folder (also the path inside a
        mirror folder ``<mirror>/<dataset>/<path>``).
    url
        Where the file is downloaded from (``None`` for archive members).
    sha256
        Expected checksum; ``None`` when it is not known in advance (archive
        members are then checked by CRC-32 and recorded in a lock file).
    size
        Expected size in bytes, if known.
    member
        For datasets shipped as one archive: the member's name in it.
    """

    path: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    member: str | None = None

    def __post_init__(self) -> None:
        p = Path(self.path)
        if p.is_absolute() or ".." in p.parts or not self.path.strip():
            raise ValueError(f"raw file path must be relative and stay inside the dataset folder: {self.path!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """One manifest entry."""

    id: str
    title: str
    citation: str
    licence: str
    adapter: str
    doi: str | None = None
    licence_url: str | None = None
    homepage: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[RawFile, ...] = ()
    file_subjects: Mapping[str, str] = field(default_factory=dict)  # path -> subject (explicit)
    archive: Mapping[str, Any] | None = None

    def as_record(self) -> dict[str, Any]:
        """Bibliographic fields for the report."""
        return {"id": self.id, "title": self.title, "citation": self.citation, "doi": self.doi,
                "licence": self.licence, "licence_url": self.licence_url, "homepage": self.homepage,
                "adapter": self.adapter}


def load_manifest(path: str | os.PathLike, schema_path: str | os.PathLike) -> dict[str, DatasetSpec]:
    """Load and validate the manifest; return ``{dataset_id: DatasetSpec}``."""
    data = load_config(path, schema_path, source=str(path))
    out: dict[str, DatasetSpec] = {}
    for ds_id, entry in data["datasets"].items():
        files, subjects = [], {}
        seen: set[str] = set()
        for f in entry.get("files", []):
            if f["path"] in seen:
                raise ConfigError(f"{path}: dataset '{ds_id}' lists file '{f['path']}' twice")
            seen.add(f["path"])
            try:
                files.append(RawFile(path=f["path"], url=f.get("url"), sha256=f.get("sha256"), size=f.get("size")))
            except ValueError as exc:
                raise ConfigError(f"{path}: dataset '{ds_id}': {exc}") from None
            if f.get("subject"):
                subjects[f["path"]] = f["subject"]
        out[ds_id] = DatasetSpec(
            id=ds_id, title=entry["title"], citation=entry["citation"], licence=entry["licence"],
            adapter=entry["adapter"], doi=entry.get("doi"), licence_url=entry.get("licence_url"),
            homepage=entry.get("homepage"), options=entry.get("options", {}), files=tuple(files),
            file_subjects=subjects, archive=entry.get("archive"))
    return out
