"""Bad-input matrix (issue 12): each case gives a clear error naming its context, or a recorded QC entry.

One parametrized case per finding of issue 12 (ids ``i<NN>-...``, the item
number) and per bad input that already behaved well (ids ``ok-...``). Each
case builds its own small inputs and asserts

* a clear message naming what is wrong and where (dataset, subject, trial,
  file, config key as they apply), never a traceback and never the contents
  of a file that failed validation, or a recorded QC row with its reason;
* that no partial output is left behind.

The Ctrl-C test, the dead-server test and the manifest-edit rerun are in
``test_interruptions.py``.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrogait.acquire.manifest import RawFile, load_manifest
from retrogait.config import load_config, load_yaml
from retrogait.errors import ChecksumError, ConfigError, DataError, FetchError
from retrogait.runconfig import CONFIG_SCHEMA, MANIFEST_SCHEMA, load_run

from .helpers import (BW, C3D_MAP, FW, REPO, SECRET, Stages, base_config, c3d_dataset, copy_mirror, edit_csv, edit_text,
                      expect_error, files_under, gt23_config, member, no_temporaries, repo_manifest, sha256,
                      write_c3d, write_yaml)

CASES: dict[str, object] = {}


def case(name: str):
    def deco(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return deco


@dataclass
class Ctx:
    tmp: Path
    replica: Path
    info: object
    capsys: object


def _outside(tmp: Path, name: str, text: str) -> Path:
    """A file outside the project and outside the allowed folders, holding the secret line."""
    folder = tmp.parent / f"{tmp.name}-elsewhere"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"{SECRET}\n{text}")
    return path


def _gt23(ctx: Ctx, *, subjects=("AB01",), trials=(FW, BW), mutate=None, **overrides) -> Stages:
    """A GT23 subject fetched from a loose mirror (mutated first by ``mutate(mirror)``)."""
    mirror = copy_mirror(ctx.replica, ctx.tmp / "mirror", subjects)
    if mutate is not None:
        mutate(mirror)
    cfg = gt23_config(ctx.tmp, ctx.tmp / "mirror", subjects=subjects, trials=trials, **overrides)
    st = Stages(ctx.tmp / "work", cfg, "gt23", subjects[0])
    st.fetch()
    return st


# ===========================================================================
# 1. declared identity: the manifest drives reruns; raw files checked before ingest
# ===========================================================================

@case("i01-raw-file-changed-after-fetch")
def _(ctx):
    src = write_c3d(ctx.tmp / "src" / "walk01.c3d")
    _, cfg = c3d_dataset(ctx.tmp, {"walk01.c3d": src})
    st = Stages(ctx.tmp / "work", cfg, "labc3d", "S01")
    st.fetch()
    raw = st.raw / "walk01.c3d"
    data = bytearray(raw.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed on disk after the fetch
    raw.write_bytes(bytes(data))
    expect_error(DataError, st.ingest, "[dataset=labc3d subject=S01", "file=walk01.c3d",
                 "does not match the manifest", "make refetch DATASET=labc3d SUBJECT=S01",
                 absent=[st.subject_dir])


@case("i01-manifest-declaration-changed-since-fetch")
def _(ctx):
    src = write_c3d(ctx.tmp / "src" / "walk01.c3d")
    manifest, cfg = c3d_dataset(ctx.tmp, {"walk01.c3d": src})
    st = Stages(ctx.tmp / "work", cfg, "labc3d", "S01")
    st.fetch()
    data = load_yaml(manifest)
    data["datasets"]["labc3d"]["files"][0]["url"] = "https://example.org/moved/walk01.c3d"
    write_yaml(manifest, data)
    expect_error(DataError, st.ingest, "[dataset=labc3d subject=S01]", "another declaration",
                 "make refetch DATASET=labc3d SUBJECT=S01", absent=[st.subject_dir])


@case("i01-failed-ingest-says-how-to-refetch")
def _(ctx):
    src = write_c3d(ctx.tmp / "src" / "walk01.c3d")
    _, cfg = c3d_dataset(ctx.tmp, {"walk01.c3d": src},
                         map_data={**copy.deepcopy(C3D_MAP),
                                   "body": {"mass": {"parameter": "SUBJECTS:WEIGHT", "unit": "kg"}}})
    st = Stages(ctx.tmp / "work", cfg, "labc3d", "S01")
    st.fetch()
    expect_error(DataError, st.ingest, "[dataset=labc3d subject=S01 trial=walk01]", "SUBJECTS:WEIGHT",
                 "make refetch DATASET=labc3d SUBJECT=S01", absent=[st.subject_dir])


@case("i01-refetch-forgets-files-lock-entries-and-record")
def _(ctx):
    from retrogait.acquire.refetch import forget_subject

    st = _gt23(ctx)
    lock = json.loads((st.raw / "members.lock.json").read_text())
    assert len(lock["members"]) == 10
    deleted = forget_subject(st.raw, "AB01")
    assert files_under(st.raw) == ["members.lock.json"]
    assert json.loads((st.raw / "members.lock.json").read_text())["members"] == {}
    assert any(d.endswith(".provenance/AB01.json") for d in deleted)
    st.fetch()  # the next run fetches them again
    st.ingest()


# ===========================================================================
# 2. NaN gaps inside a cycle
# ===========================================================================

def _nan_knee(t0: float, t1: float):
    def mutate(mirror):
        edit_csv(member(mirror, "AB01", FW, "angle"),
                 lambda d: d.assign(knee_angle_l=d["knee_angle_l"].where(~d["time"].between(t0, t1))))
    return mutate


@case("i02-long-nan-gap-rejects-the-cycle")
def _(ctx):
    t0 = ctx.info.t0[("AB01", FW)]
    st = _gt23(ctx, trials=(FW,), mutate=_nan_knee(t0 + 2.0, t0 + 2.5))  # 0.5 s gap in the knee angle
    st.ingest()
    st.cycles()
    cyc = st.table("cycles")
    hit = cyc[cyc["qc_reason"].str.contains("L_knee_flexion", na=False)]
    assert len(hit) >= 1 and (hit["qc_status"] == "rejected").all()
    assert hit["qc_reason"].str.contains("above cycles.max_missing_pct = 10 %").all()
    m = st.table("measures")
    assert not m.set_index(["side", "cycle"]).index.isin(hit.set_index(["side", "cycle"]).index).any()
    kept_times = m[(m["measure"] == "pfj_stress_peak_time") & (m["qc_status"] == "kept")]["value"]
    assert ((kept_times > 0) & (kept_times < 100)).all()  # no argmax over NaN (0 % or an arbitrary node)


@case("i02-short-nan-gap-gives-qc-rows-per-measure")
def _(ctx):
    fs = ctx.info.events[("AB01", FW)]["foot_strike"][2]
    st = _gt23(ctx, trials=(FW,), mutate=_nan_knee(fs + 0.1, fs + 0.12))  # 5 samples of a stance
    st.ingest()
    st.cycles()
    m = st.table("measures")
    missing = m[m["qc_status"] == "missing"]
    assert {"knee_flexion_peak_stance", "pfj_stress_peak", "pfj_stress_peak_time"} <= set(missing["measure"])
    row = missing[missing["measure"] == "pfj_stress_peak_time"].iloc[0]
    assert np.isnan(row["value"]) and "not computed" in row["qc_reason"] and "L_knee_flexion" in row["qc_reason"]
    # the same cycle keeps the measures its gap does not touch
    same = m[(m["cycle"] == row["cycle"]) & (m["side"] == row["side"])]
    assert (same[same["measure"] == "stride_time"]["qc_status"] == "kept").all()
    notes = st.table("trial_notes")["notes"].iloc[0]
    assert "not time-normalised because samples are missing" in notes


# ===========================================================================
# 3. all-NaN EMG channels
# ===========================================================================

@case("i03-all-nan-emg-channel-is-a-qc-row-and-an-exclusion")
def _(ctx):
    from retrogait.stages import qc_exclusions

    def blank(mirror):
        for tr in (FW, BW):
            edit_csv(member(mirror, "AB01", tr, "emg"), lambda d: d.assign(LVL=np.nan, RVL=np.nan))

    st = _gt23(ctx, mutate=blank)
    st.ingest()
    from retrogait.ingest.trial import read_subject

    trials = read_subject(st.subject_dir)
    assert all("L_vastus_lateralis" in t.emg.signals for t in trials)  # kept on read-back, all NaN
    st.cycles()
    q = st.table("emg_quality")
    vl = q[q["muscle"] == "vastus_lateralis"]
    assert len(vl) and (vl["status"] == "excluded").all() and vl["reason"].str.contains("no data: every sample").all()
    measures = st.table("measures").assign(subject="AB01")
    # another subject has the muscle: the test of emg_mean_vastus_lateralis runs without AB01
    other = measures.assign(subject="AB02", measure=measures["measure"])
    fake = measures[measures["measure"] == "stride_time"].assign(subject="AB02", measure="emg_mean_vastus_lateralis")
    table = pd.concat([measures, other[other["measure"] != "emg_mean_vastus_lateralis"], fake], ignore_index=True)
    from retrogait.analysis.contrasts import Contrast

    c = Contrast(id="bw_vs_fw_0.6", factor="direction", levels=("BW", "FW"), filter={"speed_mps": 0.6})
    results = pd.DataFrame({"contrast": [c.id], "dataset": ["gt23"], "measure": ["emg_mean_vastus_lateralis"]})
    empty = pd.DataFrame(columns=["contrast", "dataset", "measure", "subject"])
    ex = qc_exclusions(table, results, empty, [c], quality=q)
    row = ex[ex["subject"] == "AB01"].iloc[0]
    assert row["missing_level"] == "both" and "excluded by channel QC in every trial" in row["reason"]
    assert "L_vastus_lateralis" in row["reason"] and "no data" in row["reason"]


# ===========================================================================
# 4. repeated YAML keys, in every YAML file the project reads
# ===========================================================================

@case("i04-manifest-duplicate-dataset-id")
def _(ctx):
    text = (REPO / "config" / "datasets.yaml").read_text()
    block = text[text.index("  gaitalytics:"):text.index("  gt23:")]
    path = ctx.tmp / "datasets.yaml"
    path.write_text(text + "\n" + block)
    cfg = base_config(ctx.tmp, manifest=str(path))
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "datasets.yaml", "duplicate key 'gaitalytics'",
                 "line")


@case("i04-config-duplicate-key")
def _(ctx):
    path = ctx.tmp / "config.yaml"
    path.write_text((REPO / "config" / "config.yaml").read_text() + "\nmirror: /somewhere/else\n")
    expect_error(ConfigError, lambda: load_config(path, REPO / CONFIG_SCHEMA), "config.yaml",
                 "duplicate key 'mirror'", "first given at line")


@case("i04-claims-duplicate-key")
def _(ctx):
    text = (REPO / "config" / "claims.yaml").read_text()
    path = ctx.tmp / "claims.yaml"
    path.write_text(text.replace("rule:", "rule:\n  alpha: 0.05\n  alpha: 0.01", 1)
                    if "rule:\n" in text else text + "\nclaims: []\n")
    cfg = base_config(ctx.tmp, claims=str(path))
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "claims.yaml", "duplicate key", "line")


@case("i04-channel-map-duplicate-key")
def _(ctx):
    text = (REPO / "config" / "maps" / "gaitalytics.yaml").read_text()
    path = ctx.tmp / "maps" / "gaitalytics.yaml"
    path.parent.mkdir()
    path.write_text(text.replace('"Voltage.LVL": {muscle: vastus_lateralis, side: L}',
                                 '"Voltage.LVL": {muscle: vastus_lateralis, side: L}\n'
                                 '    "Voltage.LVL": {muscle: rectus_femoris, side: L}'))
    manifest = repo_manifest()
    manifest["datasets"]["gaitalytics"]["options"]["map"] = str(path)
    cfg = base_config(ctx.tmp, datasets=["gaitalytics"], manifest=str(write_yaml(ctx.tmp / "m.yaml", manifest)))
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "gaitalytics.yaml", "duplicate key 'Voltage.LVL'")


@case("i04-configfile-duplicate-key-through-snakemake")
def _(ctx):
    extra = ctx.tmp / "extra.yaml"
    extra.write_text("fetch:\n  retries: 2\nfetch:\n  retries: 3\n")
    proc = _snakemake_dry(ctx.tmp / "work", "--configfile", str(REPO / "config" / "config.yaml"), str(extra))
    text = proc.stdout + proc.stderr  # Snakemake prints parse-time errors on stdout
    assert proc.returncode != 0
    assert "ConfigError" in text and "extra.yaml: malformed YAML (line 3" in text and "duplicate key 'fetch'" in text


# ===========================================================================
# 5. contrast levels checked against the data's levels
# ===========================================================================

def _contrast_case(ctx, **change):
    cfg = base_config(ctx.tmp)
    cfg["stats"]["contrasts"][0] = {**cfg["stats"]["contrasts"][0], **change}
    return lambda: load_run(cfg, root=REPO)


@case("i05-contrast-levels-in-lower-case")
def _(ctx):
    expect_error(ConfigError, _contrast_case(ctx, levels=["bw", "fw"]), "stats.contrasts[0]", "bw_vs_fw_0.6",
                 "'bw' is not a direction value", "['FW', 'BW']")


@case("i05-contrast-level-unknown-direction")
def _(ctx):
    expect_error(ConfigError, _contrast_case(ctx, levels=["SW", "FW"]), "stats.contrasts[0]",
                 "'SW' is not a direction value")


@case("i05-contrast-speed-no-dataset-has")
def _(ctx):
    msg = expect_error(ConfigError, _contrast_case(ctx, filter={"speed_mps": 0.7}), "stats.contrasts[0]",
                       "matches no dataset", "Levels present", "gt23: direction BW")
    assert "0.6" in msg and "1.2" in msg


@case("i05-contrast-of-a-dataset-not-in-this-run-is-said-in-the-summary")
def _(ctx):
    from retrogait.report.sections import _summary

    cfg = base_config(ctx.tmp, datasets=["gaitalytics"])
    run = load_run(cfg, root=REPO)
    note = run.contrast_notes["bw_vs_fw_0.6"]
    assert "applies to gt23" in note and "gaitalytics: direction FW" in note
    from retrogait.analysis.contrasts import Contrast

    s = _summary(run.config, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                 [Contrast.from_config(c) for c in run.config["stats"]["contrasts"]], 0.05, run.contrast_notes)
    assert any(p.startswith("Backward vs forward walking at 0.6 m/s (speed-matched): not run:") for p in s.paragraphs)


# ===========================================================================
# 6. automatic corrections reach the console and the report's QC section
# ===========================================================================

def _corrections_case(ctx, mutate, expected: str):
    from retrogait.logs import logged
    from retrogait.report.sections import _qc

    st = _gt23(ctx, trials=(FW,), mutate=mutate)
    with logged(ctx.tmp / "ingest.log"):
        st.ingest()
    err = ctx.capsys.readouterr().err
    assert "retrogait WARNING" in err and "automatic correction" in err and expected in err
    trials = st.table("trials")
    assert expected in trials["corrections"].iloc[0]
    qc = _qc(trials, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    titles = {t: df for t, df in qc.tables}
    table = titles["Automatic corrections applied to the data"]
    assert table["correction"].str.contains(expected, regex=False).any()
    assert list(table[["dataset", "subject", "trial"]].iloc[0]) == ["gt23", "AB01", FW]


@case("i06-knee-sign-flipped-is-shown")
def _(ctx):
    # a flexion-positive knee coordinate: angle AND moment flipped together, as an exporter with the other
    # convention writes them (the angle flipped alone contradicts the K1 physics check and stops the run:
    # tests/unit/ingest/adapters/test_gt23_guards.py)
    def flip(mirror):
        edit_csv(member(mirror, "AB01", FW, "angle"),
                 lambda d: d.assign(knee_angle_l=-d["knee_angle_l"], knee_angle_r=-d["knee_angle_r"]))
        edit_csv(member(mirror, "AB01", FW, "moment_filt"),
                 lambda d: d.assign(knee_angle_l_moment=-d["knee_angle_l_moment"],
                                    knee_angle_r_moment=-d["knee_angle_r_moment"]))
    _corrections_case(ctx, flip, "knee sign corrected")


@case("i06-duplicate-rows-dropped-is-shown")
def _(ctx):
    def dup(mirror):
        edit_text(member(mirror, "AB01", FW, "angle"), lambda lines: lines[:50] + [lines[49]] + lines[50:])
    _corrections_case(ctx, dup, "1 exactly duplicated rows dropped")


# ===========================================================================
# 7. strides on one side, stances only on the other
# ===========================================================================

@case("i07-stride-one-side-stance-only-other-side")
def _(ctx):
    from retrogait.gait.cycles import CycleSettings, _normalise_emg, node_columns

    cols = node_columns(101)
    rows = []
    for side, domains in (("L", ("stride", "stance")), ("R", ("stance",))):
        for cond in ("FW_0.6", "BW_0.6"):
            for cycle in range(3):
                for domain in domains:
                    rows.append({"dataset": "gt23", "subject": "AB01", "trial": cond, "condition": cond,
                                 "side": side, "cycle": cycle, "domain": domain, "variable": "emg_vastus_lateralis",
                                 "unit": "V", **dict(zip(cols, 1e-4 * (1 + np.sin(np.linspace(0, 3, 101)) ** 2)))})
    out, refs = _normalise_emg(pd.DataFrame(rows), CycleSettings())
    assert set(refs["side"]) == {"L", "R"}
    assert dict(zip(refs["side"], refs["domain"])) == {"L": "stride", "R": "stance"}
    assert (out["unit"] == "%ref").all() and np.isfinite(out[cols].to_numpy(dtype=float)).all()


# ===========================================================================
# 8. truncated C3D
# ===========================================================================

@case("i08-truncated-c3d")
def _(ctx):
    full = write_c3d(ctx.tmp / "full" / "walk01.c3d", frames=337)
    cut = ctx.tmp / "src" / "walk01.c3d"
    cut.parent.mkdir()
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # the manifest declares the cut file
    _, cfg = c3d_dataset(ctx.tmp, {"walk01.c3d": cut})
    st = Stages(ctx.tmp / "work", cfg, "labc3d", "S01")
    st.fetch()
    expect_error(DataError, st.ingest, "[dataset=labc3d subject=S01 trial=walk01 file=walk01.c3d]",
                 "truncated", "header declares 337 frames", "make refetch", absent=[st.subject_dir])


# ===========================================================================
# 9-10. archive names and damaged archives
# ===========================================================================

@case("i09-archive-name-with-dotdot")
def _(ctx):
    manifest = repo_manifest()
    manifest["datasets"]["gt23"]["archive"]["name"] = "../../escape.zip"
    path = write_yaml(ctx.tmp / "datasets.yaml", manifest)
    expect_error(ConfigError, lambda: load_manifest(path, REPO / MANIFEST_SCHEMA), "datasets.gt23.archive.name",
                 "'../../escape.zip'", "plain file name")


def _zip(members: dict[str, bytes], *, stored: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


_MEMBERS = {f"AB01/t/AB01_t_{k}.csv": (f"time,{k}\n" + "".join(f"{i / 200:.3f},{i}\n" for i in range(400))).encode()
            for k in ("angle", "grf", "emg")}


def _run_archive(ctx, data, *must, exc=FetchError, names=None, **kw):
    from retrogait.acquire.archive import fetch_members
    from tests.httpserver import serve

    dest = ctx.tmp / "raw" / "ds"
    with serve({"a.zip": data}, **kw) as srv:
        msg = expect_error(exc, lambda: fetch_members(
            "ds", srv.url("a.zip"), "a.zip", [RawFile(path=n) for n in (names or _MEMBERS)], dest, retries=1,
            backoff_s=0.01, timeout_s=5, progress=False), *must)
    return dest, msg


@case("i10-corrupt-central-directory-name")
def _(ctx):
    data = bytearray(_zip(_MEMBERS))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        cd = zf.start_dir
    pos = bytes(data).index(b"AB01_t_grf", cd) + 5
    data[pos] ^= 0x01  # one bit of one entry name in the central directory
    dest, msg = _run_archive(ctx, bytes(data), "a.zip", "AB01/t/AB01_t_grf.csv", "central directory is probably corrupt")
    assert not files_under(dest) or files_under(dest) == ["members.lock.json"] or all(
        not f.endswith("grf.csv") for f in files_under(dest))


@case("i10-corrupt-central-directory-offset")
def _(ctx):
    data = bytearray(_zip(_MEMBERS))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        cd = zf.start_dir
        second = zf.infolist()[1]
    entry = bytes(data).index(b"PK\x01\x02", cd)                # first central-directory entry
    data[entry + 42:entry + 46] = (second.header_offset + 7).to_bytes(4, "little")  # its local-header offset
    dest, _ = _run_archive(ctx, bytes(data), "a.zip", "central directory is corrupt", "overlaps")
    assert files_under(dest) == []


@case("i10-crc-mismatch-reports-the-real-crc")
def _(ctx):
    good = _zip(_MEMBERS, stored=True)
    name = "AB01/t/AB01_t_emg.csv"
    pos = good.index(_MEMBERS[name]) + 100
    data = bytearray(good)
    data[pos] ^= 0xFF
    actual = f"{zlib.crc32(bytes(data[pos - 100:pos - 100 + len(_MEMBERS[name])])) & 0xFFFFFFFF:08x}"
    dest, msg = _run_archive(ctx, bytes(data), name, f"{zlib.crc32(_MEMBERS[name]) & 0xFFFFFFFF:08x}", actual,
                             exc=ChecksumError)
    assert "00000000" not in msg
    assert not (dest / name).exists()


# ===========================================================================
# 11. malformed config.yaml: file and line
# ===========================================================================

def _snakemake_dry(work: Path, *args: str) -> subprocess.CompletedProcess:
    work.mkdir(parents=True, exist_ok=True)
    snakemake = Path(sys.executable).with_name("snakemake")
    return subprocess.run([str(snakemake), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory",
                           str(work), "-n", "--cores", "1", *args], capture_output=True, text=True, cwd=work)


@case("i11-malformed-config-yaml-names-file-and-line")
def _(ctx):
    work = ctx.tmp / "work"
    (work / "config").mkdir(parents=True)
    text = (REPO / "config" / "config.yaml").read_text().replace("datasets: [gt23]", "datasets: [gt23", 1)
    (work / "config" / "config.yaml").write_text(text)
    proc = _snakemake_dry(work)
    assert proc.returncode != 0
    assert "ConfigError" in proc.stdout and "config/config.yaml: malformed YAML (line" in proc.stdout
    assert "while parsing a flow sequence started at line 9" in proc.stdout  # the line with the missing ']'

    assert files_under(work) == ["config/config.yaml"] or all(f.startswith((".snakemake", "config/"))
                                                              for f in files_under(work))


# ===========================================================================
# 12. ids that become paths
# ===========================================================================

def _subject_id_case(ctx, subject: str, *must: str):
    manifest = repo_manifest()
    manifest["datasets"]["gaitalytics"]["files"][0]["subject"] = subject
    path = write_yaml(ctx.tmp / "datasets.yaml", manifest)
    cfg = base_config(ctx.tmp, datasets=["gaitalytics"], manifest=str(path))
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "datasets.gaitalytics.files[0].subject",
                 repr(subject), *must)


@case("i12-subject-id-dotdot")
def _(ctx):
    _subject_id_case(ctx, "..", "becomes part of file paths")


@case("i12-subject-id-markup")
def _(ctx):
    _subject_id_case(ctx, "<script>", "becomes part of file paths")


@case("i12-subject-id-from-a-path-pattern")
def _(ctx):
    src = write_c3d(ctx.tmp / "src" / "walk01.c3d")
    mp = {**copy.deepcopy(C3D_MAP), "subject": {"from": "path", "pattern": r"^(?P<subject>[^/]+)/"}}
    _, cfg = c3d_dataset(ctx.tmp, {"John Doe/walk01.c3d": src}, map_data=mp)
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "dataset 'labc3d': subject id",
                 "'John Doe'", "John Doe/walk01.c3d", "not a safe identifier")


@case("i12-contrast-id-is-a-safe-file-name")
def _(ctx):
    cfg = base_config(ctx.tmp)
    cfg["stats"]["contrasts"][0]["id"] = "../../x"
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "stats.contrasts[0].id", "'../../x'")


# ===========================================================================
# 13. config paths confined to the project, checked at parse time, never echoed
# ===========================================================================

def _path_case(ctx, key: str, cfg: dict, *must: str):
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), f"config key '{key}'", "outside the project folder",
                 "external_folders", *must)


@case("i13-manifest-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "datasets.yaml", "datasets: {}\n")
    _path_case(ctx, "manifest", base_config(ctx.tmp, manifest=str(path)))


@case("i13-claims-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "claims.yaml", "claims: []\n")
    _path_case(ctx, "claims", base_config(ctx.tmp, claims=str(path)))


@case("i13-literature-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "passwd", "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    cfg = base_config(ctx.tmp)
    cfg["meta_analysis"] = {**cfg["meta_analysis"], "literature": str(path)}
    _path_case(ctx, "meta_analysis.literature", cfg)


@case("i13-channel-map-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "map.yaml", "subject: {}\n")
    manifest = repo_manifest()
    manifest["datasets"]["gaitalytics"]["options"]["map"] = str(path)
    cfg = base_config(ctx.tmp, datasets=["gaitalytics"], manifest=str(write_yaml(ctx.tmp / "m.yaml", manifest)))
    _path_case(ctx, "datasets.gaitalytics.options.map", cfg)


@case("i13-subjects-table-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "subjects.csv", "subject,mass_kg\nAB01,70\n")
    cfg = base_config(ctx.tmp)
    cfg["dataset_options"]["gt23"]["subjects_table"] = str(path)
    _path_case(ctx, "datasets.gt23.options.subjects_table", cfg)


@case("i13-pinned-lock-outside-the-project")
def _(ctx):
    path = _outside(ctx.tmp, "gt23.lock.json", "{}\n")
    manifest = repo_manifest()
    manifest["datasets"]["gt23"]["archive"]["lock"] = "../" * 12 + str(path).lstrip("/")
    cfg = base_config(ctx.tmp, manifest=str(write_yaml(ctx.tmp / "m.yaml", manifest)))
    # a lock path is relative to the project and may not climb out of it: refused by the manifest schema
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "m.yaml", "datasets.gt23.archive.lock",
                 "is not allowed", "cannot leave it")


@case("i13-symlink-out-of-the-project")
def _(ctx):
    target = _outside(ctx.tmp, "claims.yaml", "claims: []\n")
    link = ctx.tmp / "claims.yaml"
    link.symlink_to(target)
    cfg = base_config(ctx.tmp, claims=str(link))
    cfg["external_folders"] = []
    _path_case(ctx, "claims", cfg, str(target))


@case("i13-invalid-literature-table-is-not-echoed")
def _(ctx):
    path = ctx.tmp / "literature.csv"
    path.write_text(f"{SECRET},x\n1,2\n")
    cfg = base_config(ctx.tmp)
    cfg["meta_analysis"] = {**cfg["meta_analysis"], "literature": str(path)}
    expect_error(Exception, lambda: load_run(cfg, root=REPO), "literature.csv", "missing required column")


# ===========================================================================
# 15. a stale Snakemake lock
# ===========================================================================

@case("i15-stale-snakemake-lock")
def _(ctx):
    locks = ctx.tmp / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("")
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "snakemake_lock.py"), str(ctx.tmp)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "was interrupted" in proc.stderr and "make unlock" in proc.stderr and "0.output.lock" in proc.stderr
    ok = subprocess.run([sys.executable, str(REPO / "tools" / "snakemake_lock.py"), str(ctx.tmp / "nothing")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""


# ===========================================================================
# issue 11 item 7: fetch safety
# ===========================================================================

@case("i11.7-server-ignoring-range-stops-with-size-and-key")
def _(ctx):
    data = _zip(_MEMBERS)
    dest, _ = _run_archive(ctx, data, "ignores HTTP Range", f"({len(data)} bytes)", "allow_full_download: true",
                           honour_range=False)
    assert files_under(dest) == []


# ===========================================================================
# bad inputs that already gave a clear error (kept green)
# ===========================================================================

@case("ok-checksum-mismatch")
def _(ctx):
    from retrogait.acquire.fetch import fetch_files

    src = ctx.tmp / "src" / "a.csv"
    src.parent.mkdir()
    src.write_text("time,x\n0,1\n")
    dest = ctx.tmp / "raw" / "ds"
    f = RawFile(path="a.csv", url=src.as_uri(), sha256="0" * 64, size=src.stat().st_size)
    expect_error(ChecksumError, lambda: fetch_files("ds", [f], dest, progress=False), "ds/a.csv",
                 "sha256 mismatch", "0" * 64, sha256(src), "it was not kept", absent=[dest])


@case("ok-zip-slip")
def _(ctx):
    data = _zip({**_MEMBERS, "../evil.csv": b"owned\n"})
    dest, _ = _run_archive(ctx, data, "zip-slip", names=["evil.csv"])
    assert files_under(dest) == [] and not (ctx.tmp / "raw" / "evil.csv").exists()


@case("ok-truncated-zip")
def _(ctx):
    data = _zip(_MEMBERS)
    dest, _ = _run_archive(ctx, data[: len(data) // 2], "not a readable ZIP archive", "truncated")
    assert files_under(dest) == []


@case("ok-malformed-manifest-yaml")
def _(ctx):
    path = ctx.tmp / "datasets.yaml"
    path.write_text("datasets:\n  gt23: {title: [unclosed\n")
    cfg = base_config(ctx.tmp, manifest=str(path))
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "datasets.yaml", "malformed YAML (line")


@case("ok-unknown-config-key")
def _(ctx):
    cfg = base_config(ctx.tmp)
    cfg["fetch"]["retires"] = cfg["fetch"].pop("retries")
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "unknown key 'retires'", "did you mean 'retries'",
                 "'fetch'")


@case("ok-wrong-config-type")
def _(ctx):
    cfg = base_config(ctx.tmp)
    cfg["cycles"] = {"max_missing_pct": "ten"}
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "'cycles.max_missing_pct'", "'ten'")


@case("ok-gt23-missing-column")
def _(ctx):
    st = _gt23(ctx, trials=(FW,), mutate=lambda m: edit_csv(member(m, "AB01", FW, "angle"),
                                                           lambda d: d.drop(columns="knee_angle_l")))
    expect_error(DataError, st.ingest, "[dataset=gt23 subject=AB01 trial=normal_walk_1_0-6",
                 "AB01_normal_walk_1_0-6_angle.csv", "required column(s) ['knee_angle_l']", "make refetch",
                 absent=[st.subject_dir])


@case("ok-gt23-non-monotonic-time")
def _(ctx):
    def swap(mirror):
        edit_text(member(mirror, "AB01", FW, "grf"),
                  lambda lines: lines[:100] + [lines[101], lines[100]] + lines[102:])
    st = _gt23(ctx, trials=(FW,), mutate=swap)
    expect_error(DataError, st.ingest, "subject=AB01 trial=normal_walk_1_0-6", "grf.csv", "not monotonic",
                 "data row", absent=[st.subject_dir])


@case("ok-gt23-text-in-a-numeric-column")
def _(ctx):
    st = _gt23(ctx, trials=(FW,), mutate=lambda m: edit_csv(member(m, "AB01", FW, "moment_filt"),
                                                           lambda d: d.astype({"knee_angle_l_moment": object})
                                                           .assign(knee_angle_l_moment=lambda x: x[
                                                               "knee_angle_l_moment"].where(x.index != 7, "1.2.3"))))
    expect_error(DataError, st.ingest, "trial=normal_walk_1_0-6", "moment_filt.csv",
                 "non-numeric value '1.2.3' in column knee_angle_l_moment", "column=knee_angle_l_moment",
                 absent=[st.subject_dir])


@case("ok-gt23-member-missing-from-mirror")
def _(ctx):
    mirror = copy_mirror(ctx.replica, ctx.tmp / "mirror", ["AB01"])
    member(mirror, "AB01", BW, "emg").unlink()
    cfg = gt23_config(ctx.tmp, mirror)
    st = Stages(ctx.tmp / "work", cfg, "gt23", "AB01")
    expect_error(FetchError, st.fetch, "gt23", "AB01_walk_backward_1_0-6_emg.csv", "mirror",
                 absent=[st.provenance])


def _report_html(ctx, *, title="t", citation="c", path="a.csv", subject="S01") -> str:
    from retrogait.acquire.manifest import DatasetSpec
    from retrogait.report.render import render_report, software_versions
    from retrogait.report.sections import _datasets

    spec = DatasetSpec(id="ds", title=title, citation=citation, licence="CC0-1.0", adapter="c3d")
    prov = [{"dataset": "ds", "subject": subject,
             "files": [{"path": path, "size": 1, "sha256": "0" * 64, "source": "x", "status": "copied"}]}]
    section = _datasets({"datasets": ["ds"]}, {"ds": spec}, prov, pd.DataFrame())
    out = ctx.tmp / "report.html"
    render_report(title=title, question="q", sections=[section], software=software_versions(), output=out)
    return out.read_text()


_PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@case("ok-html-payload-in-a-title")
def _(ctx):
    html = _report_html(ctx, title=_PAYLOAD)
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


@case("ok-html-payload-in-a-citation")
def _(ctx):
    html = _report_html(ctx, citation=_PAYLOAD)
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;img src=x" in html


@case("ok-html-payload-in-a-file-name")
def _(ctx):
    html = _report_html(ctx, path=f"dir/{_PAYLOAD}.c3d")
    assert "<script>alert" not in html and "<img src=x" not in html


@case("ok-html-payload-in-a-subject-id-of-a-table")
def _(ctx):
    html = _report_html(ctx, subject=_PAYLOAD)
    assert "<script>alert" not in html and "<img src=x" not in html


@case("ok-unknown-dataset-id")
def _(ctx):
    cfg = base_config(ctx.tmp, datasets=["gt32"])
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "config key 'datasets'", "gt32", "gt23")


@case("ok-gt23-unknown-option")
def _(ctx):
    cfg = base_config(ctx.tmp)
    cfg["dataset_options"]["gt23"]["trails"] = cfg["dataset_options"]["gt23"]["trials"]
    expect_error(ConfigError, lambda: load_run(cfg, root=REPO), "dataset_options.gt23", "trails")


# ---------------------------------------------------------------------------
# the matrix (after every case is registered)
# ---------------------------------------------------------------------------

def test_the_matrix_covers_every_item():
    """Items 1-13 and 15 of issue 12 here (14, Ctrl-C, in test_interruptions.py), issue 11 item 7, and the
    bad inputs that already worked."""
    items = {name.split("-", 1)[0] for name in CASES}
    required = {f"i{n:02d}" for n in range(1, 16) if n != 14} | {"i11.7", "ok"}
    assert required <= items, sorted(required - items)
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("name", list(CASES), ids=str)
def test_bad_input(name, tmp_path, replica, capsys):
    folder, info = replica
    CASES[name](Ctx(tmp_path, folder, info, capsys))
    assert not no_temporaries(tmp_path), no_temporaries(tmp_path)
