"""The adapter interface shared by all dataset formats."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from retrogait.acquire.manifest import RawFile

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
    external_folders
        Folders outside the project that paths in the options may point
        into (config key ``external_folders``); see :meth:`project_file`.
    """

    name: ClassVar[str] = ""

    def __init__(self, spec: "DatasetSpec", *, options: Mapping[str, Any] | None = None,
                 root: str | os.PathLike = ".", external_folders: Sequence[str | os.PathLike] = ()) -> None:
        self.spec = spec
        self.options = dict(options or {})
        self.root = Path(root)
        self.external_folders = tuple(external_folders)

    def project_file(self, value: str | os.PathLike, *, key: str) -> Path:
        """Resolve a path from the options, confined to the project (:func:`retrogait.config.project_path`).

        ``key`` names the option in messages, e.g. ``options.map``; it is
        prefixed with the dataset's manifest entry.
        """
        from retrogait.config import project_path

        return project_path(value, root=self.root, key=f"datasets.{self.spec.id}.{key}",
                            allowed=self.external_folders)

    # -- what to fetch -----------------------------------------------------
    def plan(self) -> dict[str, list[RawFile]]:
        """Files each subject needs: ``{subject: [RawFile, ...]}``, sorted by subject."""
        raise NotImplementedError

    def subjects(self) -> list[str]:
        return sorted(self.plan())

    def design(self) -> "pd.DataFrame | None":
        """The planned trials' conditions, known before any file is read, or None when unknown.

        One row per planned trial with columns ``subject``, ``trial``,
        ``condition``, ``direction``, ``speed_mps`` (NaN when not
        controlled) and ``surface``, as the adapter will label them. The run
        uses it at parse time to check that every configured contrast
        matches some dataset (:meth:`retrogait.runconfig.Run.check_contrasts`).
        """
        return None

    def _design_from_conditions(self) -> "pd.DataFrame":
        """:meth:`design` of an adapter whose map labels each file by pattern (``condition_of(path)``).

        A ``speed_mps`` that is not a number (``"measured"`` from the data, or null) is NaN here:
        it is not known before the files are read.
        """
        import pandas as pd

        rows = []
        for subject, files in self.plan().items():
            for f in files:
                cond = self.condition_of(f.path)  # type: ignore[attr-defined]
                speed = cond.get("speed_mps")
                known = isinstance(speed, (int, float)) and not isinstance(speed, bool)
                rows.append({"subject": subject, "trial": Path(f.path).stem, "condition": str(cond["condition"]),
                             "direction": str(cond["direction"]),
                             "speed_mps": float(speed) if known else float("nan"),
                             "surface": str(cond["surface"])})
        return pd.DataFrame(rows, columns=["subject", "trial", "condition", "direction", "speed_mps", "surface"])

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
