"""End to end: the real Snakemake workflow on the ESMAC recordings through the mirror.

Checks the canonical tables and the report (12 subjects, both conditions,
finite measures in physiological ranges), that a second run does nothing,
that reruns are byte-identical, and that `snakemake --lint` is clean.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from retrogait.io import sha256_file

from .workflow import REPO, run_workflow

pytestmark = [pytest.mark.integration, pytest.mark.fixtures]

OVERRIDES = {
    "datasets": ["biomechzoo-esmac"],
    # fewer bootstrap resamples keep the test fast; the statistic is the same
    "stats": {"bootstrap": {"n": 199, "seed": 7}},
}

# Plausible per-cycle ranges for healthy children's overground walking
RANGES = {
    "knee_extensor_moment_peak": (0.05, 2.5),   # N.m/kg, issue acceptance range
    "knee_flexion_at_contact": (-15.0, 35.0),   # deg
    "knee_flexion_rom_stride": (35.0, 85.0),    # deg
    "stance_pct": (50.0, 75.0),                 # %
    "stride_time": (0.6, 1.6),                  # s
    "vgrf_peak1": (0.8, 2.0),                   # BW
    "pfj_stress_peak": (0.0, 10.0),             # MPa (methods.md 1.7 hard limit)
    "kam_peak1": (-0.2, 1.5),                   # N.m/kg
}


@pytest.fixture(scope="module")
def esmac(tmp_path_factory, fixtures_dir):
    work = tmp_path_factory.mktemp("esmac")
    env = {"RETROGAIT_MIRROR": str(fixtures_dir)}
    first = run_workflow(work, overrides=OVERRIDES, env=env)
    return work, env, first


def test_report_exists_and_is_self_contained(esmac):
    work, _, _ = esmac
    html = (work / "reports" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert not re.search(r'<img[^>]+src="(?!data:)', html), "figures must be embedded"
    assert not re.search(r"<script", html, re.I)
    for heading in ("Datasets", "Methods", "Quality control", "Results", "Waveform statistics (SPM1D)",
                    "Claims scorecard", "Published evidence: meta-analysis", "Figures",
                    "What these data can and cannot show", "Software"):
        assert f">{heading}</h2>" in html, heading
    # datasets: citation, licence and checksums of every file
    assert "Apache-2.0" in html and "Zoosystem" in html
    for sha in ("32ee63e5a58034ab9340da4dc3a0ac060996062f15b20279ce61da8c07e07b78",
                "93747890283bb05fa006b9c9bc4795934d55c8ab06eed8c023f4da04c5f96576"):
        assert sha in html
    assert "Turn vs straight" in html and "band-pass 20-450 Hz" in html
    assert "ezc3d" in html and "statsmodels" in html  # software versions
    # SPM1D on the one contrast that applies, its figures embedded; the others said not to apply
    spm = pd.read_parquet(work / "reports" / "tables" / "waveform_spm.parquet")
    assert set(spm["contrast"]) == {"turn_vs_straight"} and (spm["status"] == "ok").any()
    assert "SPM1D, knee: Turn vs straight" in html and "SPM1D, knee: Backward" not in html
    # meta-analysis: no backward-walking data here, so published (running) studies only, and said so
    studies = pd.read_parquet(work / "reports" / "tables" / "meta_studies.parquet")
    assert set(studies["source"]) == {"literature"} and set(studies["activity"]) == {"running"}
    assert set(studies["stratum"]) == {"running, speed-matched", "running, speed not matched"}
    assert "No published study of backward WALKING" in html
    assert "Hartung-Knapp-Sidik-Jonkman" in html
    # plausibility flags per condition and their balance within the contrast are reported
    assert "Plausibility flags per condition" in html


def test_tables_cover_12_subjects_and_both_conditions(esmac):
    work, _, _ = esmac
    out = work / "data" / "processed" / "biomechzoo-esmac"
    trials = pd.read_parquet(out / "trials.parquet")
    assert trials["subject"].nunique() == 12
    assert set(trials["condition"]) == {"straight", "turn"}
    assert (trials.groupby("subject")["condition"].nunique() == 2).all()
    cycles = pd.read_parquet(out / "cycles.parquet")
    kept = cycles[cycles["qc_status"] == "kept"]
    assert kept.groupby(["subject", "condition"]).size().min() >= 1
    assert (cycles.loc[cycles["qc_status"] != "kept", "qc_reason"].str.len() > 0).all()
    assert set(kept["event_method"]) <= {"force", "kinematic", "force+kinematic", "stored", "force+stored",
                                         "kinematic+stored", "force+kinematic+stored"}
    means = pd.read_parquet(out / "subject_means.parquet")
    assert {"subject", "condition", "measure", "unit", "n_cycles", "mean", "sd"} <= set(means.columns)
    wav = pd.read_parquet(out / "waveforms.parquet")
    assert {"pct_000", "pct_050", "pct_100"} <= set(wav.columns)


def test_measures_are_finite_and_physiological(esmac):
    work, _, _ = esmac
    m = pd.read_parquet(work / "data" / "processed" / "biomechzoo-esmac" / "measures.parquet")
    kept = m[m["qc_status"] == "kept"]
    assert np.isfinite(kept["value"]).all()
    for measure, (lo, hi) in RANGES.items():
        values = kept.loc[kept["measure"] == measure, "value"]
        assert len(values) > 0, measure
        assert values.between(lo, hi).all(), f"{measure}: {values.min():.3f}..{values.max():.3f} outside {lo}..{hi}"
    # every subject contributes a kinetic measure in both conditions
    ext = kept[kept["measure"] == "knee_extensor_moment_peak"]
    assert ext.groupby("subject")["condition"].nunique().eq(2).sum() == 12


def test_contrast_table_has_stable_columns(esmac):
    work, _, _ = esmac
    res = pd.read_parquet(work / "reports" / "tables" / "contrasts.parquet")
    for col in ("contrast", "dataset", "measure", "unit", "n_subjects", "mean_diff", "ci_low", "ci_high", "dz",
                "p_t", "p_holm", "lmm_estimate", "lmm_ci_low", "lmm_ci_high", "lmm_boot_ci_low", "lmm_p"):
        assert col in res.columns, col
    row = res[res["measure"] == "knee_extensor_moment_peak"].iloc[0]
    assert row["n_subjects"] == 12 and row["level_a"] == "turn" and row["level_b"] == "straight"
    assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"]
    # every mixed-model row states its df, SE method and random-effects structure
    fitted = res[res["lmm_estimate"].notna()]
    unfitted = res[res["lmm_estimate"].isna()]  # e.g. toe_first_contact: 0 % in every ESMAC cycle
    assert len(fitted) >= len(res) - 2 and unfitted["lmm_note"].str.contains("is constant").all()
    assert fitted["lmm_df"].gt(0).all() and fitted["lmm_df_method"].eq("Satterthwaite (lmerTest)").all()
    assert fitted["lmm_se_method"].str.startswith("lme4 vcov").all()
    assert fitted["lmm_random_effects"].isin(["intercept", "intercept+slope"]).all()
    # one Holm family per contrast and dataset; tied measures reported as derived
    derived = set(res.loc[res["role"] == "derived", "measure"])
    assert {"pfj_force_peak_n", "cadence", "kam_peak1_bwht"} <= derived
    assert "stride_length" not in derived  # overground: measured from the markers, its own test
    assert res.loc[res["role"] == "tested", "p_adjustment"].str.startswith("Holm over").all()


def test_second_run_does_nothing_and_says_so(esmac):
    work, env, _ = esmac
    again = run_workflow(work, overrides=OVERRIDES, env=env)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_report_states_how_long_each_stage_took(esmac):
    work, _, _ = esmac
    html = (work / "reports" / "report.html").read_text(encoding="utf-8")
    m = re.search(r'<div id="stage-timings">(.*?)<!-- /stage-timings -->', html, re.S)
    assert m, "the Software section has no stage timings"
    section = m.group(1)
    for stage in ("fetch", "ingest", "cycles", "combine", "spm", "stats", "meta_analysis", "figures",
                  "spm_figures", "total"):
        assert f"<td class='txt'>{stage}</td>" in section, stage
    assert "wall_total_s" in section and "max_rss_mb" in section
    # one benchmark file per job: 12 subjects x 3 per-subject rules (the cycles job makes the measures too)
    assert len(list((work / "benchmarks" / "cycles").rglob("*.tsv"))) == 12


def test_rerun_is_byte_identical(esmac):
    work, env, _ = esmac
    tables = [work / "reports" / "tables" / "contrasts.parquet",
              work / "data" / "processed" / "biomechzoo-esmac" / "measures.parquet",
              work / "reports" / "figures" / "biomechzoo-esmac" / "waveforms_kinetics.png"]
    before = [sha256_file(p) for p in tables]
    run_workflow(work, overrides=OVERRIDES, env=env,
                 args=("--forcerun", "cycles", "spm", "stats", "figures", "spm_figures", "--allowed-rules", "cycles",
                       "combine", "spm", "stats", "figures", "spm_figures", "report"))
    assert [sha256_file(p) for p in tables] == before


def test_lint_is_clean(esmac):
    work, env, _ = esmac
    lint = run_workflow(work, overrides=OVERRIDES, env=env, args=("--lint",))
    assert "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr


def test_corrupted_mirror_file_stops_fetch_naming_file_and_hashes(tmp_path, fixtures_dir):
    mirror = tmp_path / "mirror" / "gaitalytics"
    mirror.mkdir(parents=True)
    for name in ("test_small.c3d", "treadmill_events.c3d"):
        data = bytearray((fixtures_dir / "gaitalytics" / name).read_bytes())
        if name == "test_small.c3d":
            data[1000] ^= 0xFF  # one byte changed
        (mirror / name).write_bytes(bytes(data))
    proc = run_workflow(tmp_path / "work", overrides={"datasets": ["gaitalytics"]},
                        env={"RETROGAIT_MIRROR": str(tmp_path / "mirror")}, check=False,
                        args=("--until", "fetch"))
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "test_small.c3d" in text
    assert "0c3e446ea03ed8fc50de2b0f7e8a7fbadad1597ef6dabf5e374d60ec3c0b1e97" in text  # expected hash
    actual = sha256_file(mirror / "test_small.c3d")
    assert actual in text  # and the actual one
    assert not (tmp_path / "work" / "data" / "raw" / "gaitalytics" / "test_small.c3d").exists()


def test_gaitalytics_runs_alone_from_the_command_line(tmp_path, fixtures_dir):
    """`--config datasets=...` selects a dataset without editing files."""
    proc = run_workflow(tmp_path, env={"RETROGAIT_MIRROR": str(fixtures_dir)},
                        args=("--config", 'datasets=["gaitalytics"]', "-n"))
    assert "gaitalytics" in proc.stdout and "biomechzoo-esmac" not in proc.stdout
    assert REPO.exists()


def test_every_written_column_is_documented(esmac):
    work, _, _ = esmac
    doc = (REPO / "docs" / "tables.md").read_text()
    tables = list((work / "data" / "processed" / "biomechzoo-esmac").glob("*.parquet"))
    tables += list((work / "reports" / "tables").glob("*.parquet"))
    for path in tables:
        for col in pd.read_parquet(path).columns:
            if col.startswith("pct_") and col != "pct_000":
                continue
            name = re.sub(r"^lmm_speed_mps_", "lmm_<covariate>_", col)
            assert f"`{name}`" in doc, f"{path.name}: column {col} is not documented in docs/tables.md"
