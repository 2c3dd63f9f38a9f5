"""The adapter interface shared by all dataset formats."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from retrogait.acquire.manifest import RawFile

if TYPE_CHECKING:  # pragma: no cover
    from retrogait.acquire.manifest import DatasetSpec
    from retrogait.ingest.trial import Trial

__all__ = ["RawFile", "Adapter"]  # RawFile (what a subject needs fetched) is defined in retrogait.acquire.manifest


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

    def limitations(self) -> list[str]:
        """What this dataset's data cannot show, one sentence each, for the report's limitations."""
        return []

    # -- how to read -------------------------------------------------------
    def read_subject(self, subject: str, raw_dir: str | os.PathLike) -> list["Trial"]:
        """Read one subject's files from ``raw_dir`` into canonical trials."""
        raise NotImplementedError
