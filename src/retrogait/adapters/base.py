"""The adapter interface shared by all dataset formats."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from ..manifest import DatasetSpec
    from ..trial import Trial

__all__ = ["RawFile", "Adapter"]


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


class Adapter:
    """Base class of dataset adapters.

    Parameters
    ----------
    spec
        The dataset's manifest entry.
    options
        Run-time options for this dataset from ``config.yaml``
        (``dataset_options.<id>``); adapters validate what they use.
    root
        Project root, against which relative paths in the manifest resolve.
    """

    name: ClassVar[str] = ""

    def __init__(self, spec: "DatasetSpec", *, options: Mapping[str, Any] | None = None,
                 root: str | os.PathLike = ".") -> None:
        self.spec = spec
        self.options = dict(options or {})
        self.root = Path(root)

    # -- what to fetch -----------------------------------------------------
    def plan(self) -> dict[str, list[RawFile]]:
        """Files each subject needs: ``{subject: [RawFile, ...]}``, sorted by subject."""
        raise NotImplementedError

    def subjects(self) -> list[str]:
        return sorted(self.plan())

    def config_files(self) -> list[str]:
        """Project files (relative to the root) that change how data are read.

        The workflow lists them as inputs of the ingest step, so editing a
        channel map reruns ingestion.
        """
        return []

    # -- how to read -------------------------------------------------------
    def read_subject(self, subject: str, raw_dir: str | os.PathLike) -> list["Trial"]:
        """Read one subject's files from ``raw_dir`` into canonical trials."""
        raise NotImplementedError
