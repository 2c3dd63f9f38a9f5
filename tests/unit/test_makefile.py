"""The Makefile's run/report commands (``make -n`` prints them without running anything)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def _make_n(repo_root, *args: str, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("RETROGAIT_MIRROR", "DATASETS", "MAKEFLAGS")}
    proc = subprocess.run(["make", "--no-print-directory", "-n", "-C", str(repo_root), *args],
                          env={**base, **env}, capture_output=True, text=True, check=True)
    return [ln for ln in proc.stdout.splitlines() if "snakemake" in ln or "RUN_STATE" in ln or "> " in ln]


def test_run_records_its_datasets(repo_root, tmp_path):
    state = tmp_path / "state"
    lines = _make_n(repo_root, "run", "DATASETS=gaitalytics", f"RUN_STATE={state}")
    assert f"echo 'gaitalytics' > {state}" in "\n".join(lines)
    assert any("""--config datasets='[gaitalytics]'""" in ln for ln in lines)
    default = _make_n(repo_root, "run", f"RUN_STATE={state}")
    assert f"echo 'default' > {state}" in "\n".join(default)


def test_report_without_datasets_reports_the_last_run(repo_root, tmp_path):
    state = tmp_path / "state"
    state.write_text("gaitalytics\n")  # what `make run DATASETS=gaitalytics` left
    lines = [ln for ln in _make_n(repo_root, "report", f"RUN_STATE={state}") if "bin/snakemake" in ln]
    assert len(lines) == 2, lines  # bring that run up to date, then Snakemake's report: no default-dataset run
    assert all("""--config datasets='[gaitalytics]'""" in ln for ln in lines), lines
    assert "--report reports/snakemake-report.html" in lines[1]
    chosen = [ln for ln in _make_n(repo_root, "report", "DATASETS=biomechzoo-esmac", f"RUN_STATE={state}")
              if "bin/snakemake" in ln]
    assert all("""--config datasets='[biomechzoo-esmac]'""" in ln for ln in chosen), chosen
    state.write_text("default\n")  # the last run used config/config.yaml's datasets
    default = [ln for ln in _make_n(repo_root, "report", f"RUN_STATE={state}") if "bin/snakemake" in ln]
    assert len(default) == 2 and not any("--config" in ln for ln in default), default


def test_run_on_a_cluster_profile(repo_root, tmp_path):
    lines = [ln for ln in _make_n(repo_root, "run", "PROFILE=slurm", "DATASETS=gaitalytics", f"RUN_STATE={tmp_path / 's'}")
             if "bin/snakemake" in ln]
    assert len(lines) == 1 and "--workflow-profile workflow/profiles/slurm" in lines[0], lines
    assert "--cores" not in lines[0]  # the profile's executor decides where jobs run
    assert (repo_root / "workflow" / "profiles" / "slurm" / "config.yaml").is_file()
