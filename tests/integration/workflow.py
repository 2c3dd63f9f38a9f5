"""Helpers to run the real Snakemake workflow in a scratch working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run_workflow(workdir: Path, *, overrides: dict | None = None, env: dict | None = None,
                 args: tuple[str, ...] = (), check: bool = True, cores: int | None = 2) -> subprocess.CompletedProcess:
    """Run ``snakemake`` on the repository's workflow with ``workdir`` as working directory.

    ``overrides`` is written to a YAML file passed after config/config.yaml
    with ``--configfile``. ``cores=None`` leaves ``--cores`` out (``--dag``,
    cluster executors).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    configs = [str(REPO / "config" / "config.yaml")]
    if overrides:
        path = workdir / "override.yaml"
        path.write_text(yaml.safe_dump(overrides))
        configs.append(str(path))
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
           *(["--cores", str(cores)] if cores is not None else []), "--configfile", *configs, *args]
    full_env = {**os.environ, **(env or {})}
    if "RETROGAIT_MIRROR" not in (env or {}):
        full_env.pop("RETROGAIT_MIRROR", None)  # only an explicit mirror, never the caller's
    proc = subprocess.run(cmd, cwd=workdir, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


#: The GT23 archive name (the replica of tests/replica_gt23.py is served under it).
ARCHIVE = "ProcessedData.zip"


def write_manifest(folder: Path, url: str) -> Path:
    """A copy of config/datasets.yaml in ``folder`` whose gt23 archive URL is ``url``."""
    manifest = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    manifest["datasets"]["gt23"]["archive"]["url"] = url
    path = folder / "datasets.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path
