"""Session fixtures of the reliability tests: one small GT23 replica, extracted once."""

from __future__ import annotations

import pytest

from tests.replica_gt23 import build_replica, extract

from .helpers import BW, FW


@pytest.fixture(scope="session")
def replica(tmp_path_factory):
    """Members of a 3-subject, 2-trial (FW and BW at 0.6 m/s), 6-s replica, extracted to a folder.

    Returns ``(folder, info)``; ``folder/<subject>/<trial>/<file>.csv``.
    """
    root = tmp_path_factory.mktemp("replica")
    info = build_replica(root / "ProcessedData.zip", subjects=("AB01", "AB02", "AB03"), trials=(FW, BW),
                         duration_s=6.0, extra_files=False, compresslevel=1)
    return extract(info, root / "members"), info
