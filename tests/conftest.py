"""Shared pytest fixtures.

Real recordings live outside the repository (``../shared/fixtures``). The
policy for tests that need them:

* ``RETROGAIT_FIXTURES`` set: the folder must hold every file listed in its
  ``SHA256SUMS``; a missing file makes the test FAIL (CI sets it).
* ``RETROGAIT_FIXTURES`` unset: use ``../shared/fixtures`` next to the
  repository if it exists, otherwise SKIP with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures"


def _listed_files(folder: Path) -> list[Path]:
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        return []
    return [folder / line.split(maxsplit=1)[1].strip().removeprefix("./")
            for line in sums.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Folder of real C3D recordings (see module docstring for the policy)."""
    env = os.environ.get("RETROGAIT_FIXTURES")
    if env:
        folder = Path(env).resolve()
        if not (folder / "SHA256SUMS").exists():
            pytest.fail(f"RETROGAIT_FIXTURES={env} has no SHA256SUMS: fixtures are missing")
        missing = [str(p) for p in _listed_files(folder) if not p.exists()]
        if missing:
            pytest.fail(f"RETROGAIT_FIXTURES={env} is set but files are missing: {missing[:5]}")
        return folder
    if not DEFAULT_FIXTURES.exists():
        pytest.skip(f"real C3D fixtures not available: RETROGAIT_FIXTURES unset and {DEFAULT_FIXTURES} absent")
    return DEFAULT_FIXTURES


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
