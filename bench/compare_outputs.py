"""Before/after check for performance work: the statistics must not change.

``run`` executes the real workflow of one source tree (its ``workflow/`` and,
via ``PYTHONPATH``, its ``src/``) on the ESMAC fixtures and on a small GT23
replica (offline mirror) and keeps the work directories; ``compare`` reads
every parquet table of two such runs and reports, per table, whether it is
identical, equal to a relative tolerance (numeric columns), or different.

    .venv/bin/python bench/compare_outputs.py run --tree /tmp/base --out /tmp/cmp/before
    .venv/bin/python bench/compare_outputs.py run --tree . --out /tmp/cmp/after
    .venv/bin/python bench/compare_outputs.py compare /tmp/cmp/before /tmp/cmp/after

Nothing here is a test: it is run by hand around a change and its result
quoted in the benchmark notes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("RETROGAIT_FIXTURES", "/work/shared/fixtures"))

CASES = {
    "esmac": {"datasets": ["biomechzoo-esmac"], "stats": {"bootstrap": {"n": 199, "seed": 7}}},
    "gt23": {"datasets": ["gt23"], "stats": {"bootstrap": {"n": 199, "seed": 11}}},
}


def _snakemake(tree: Path, work: Path, overrides: dict, env: dict) -> float:
    work.mkdir(parents=True, exist_ok=True)
    (work / "override.yaml").write_text(yaml.safe_dump(overrides))
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(tree / "workflow" / "Snakefile"),
           "--directory", str(work), "--cores", "2", "--configfile", str(tree / "config" / "config.yaml"),
           str(work / "override.yaml")]
    full_env = {**os.environ, **env, "PYTHONPATH": str(tree / "src")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=full_env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed in {work}:\n{proc.stderr[-6000:]}")
    return wall


def cmd_run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from tests.replica_gt23 import SUBJECTS, build_replica

    tree, out = Path(args.tree).resolve(), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    mirror = out / "mirror"
    (mirror / "gt23").mkdir(parents=True, exist_ok=True)
    subjects = list(SUBJECTS[:args.subjects])
    build_replica(mirror / "gt23" / "ProcessedData.zip", subjects=subjects, duration_s=6.0,
                  extra_files=False, compresslevel=1)
    walls = {}
    if "esmac" in args.cases:
        walls["esmac"] = _snakemake(tree, out / "esmac", CASES["esmac"], {"RETROGAIT_MIRROR": str(FIXTURES)})
    if "gt23" in args.cases:
        gt23 = {**CASES["gt23"], "dataset_options": {"gt23": {"subjects": subjects}}}
        walls["gt23"] = _snakemake(tree, out / "gt23", gt23, {"RETROGAIT_MIRROR": str(mirror)})
    (out / "walls.json").write_text(json.dumps(walls, indent=1))
    print(json.dumps(walls))


def _tables(root: Path) -> dict[str, Path]:
    found = {}
    for case in CASES:
        for p in sorted((root / case).rglob("*.parquet")):
            rel = p.relative_to(root / case).as_posix()
            if rel.startswith((".snakemake", "data/raw")):
                continue
            found[f"{case}/{rel}"] = p
    return found


def _compare(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> tuple[str, str]:
    if list(a.columns) != list(b.columns):
        return "DIFFERENT", f"columns {sorted(set(a.columns) ^ set(b.columns))}"
    if a.shape != b.shape:
        return "DIFFERENT", f"shape {a.shape} vs {b.shape}"
    if a.equals(b):
        return "identical", ""
    worst, notes = 0.0, []
    for col in a.columns:
        x, y = a[col], b[col]
        if x.equals(y):
            continue
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            same_nan = np.array_equal(np.isnan(xv), np.isnan(yv))
            ok = np.isfinite(xv) & np.isfinite(yv)
            rel = np.abs(xv[ok] - yv[ok]) / np.maximum(np.abs(xv[ok]), 1e-300)
            rel = np.where(np.abs(xv[ok] - yv[ok]) <= 1e-300, 0.0, rel)
            r = float(rel.max()) if rel.size else 0.0
            inf_same = np.array_equal(xv[~np.isnan(xv)], yv[~np.isnan(yv)]) or r <= rtol
            if not same_nan or r > rtol or not inf_same:
                return "DIFFERENT", f"column {col}: max rel diff {r:.3g}, same NaN pattern {same_nan}"
            worst = max(worst, r)
            notes.append(col)
        else:
            return "DIFFERENT", f"column {col} (non-numeric) differs"
    return "equal within tolerance", f"max rel diff {worst:.3g} in {', '.join(notes)}"


def cmd_compare(args: argparse.Namespace) -> None:
    before, after = _tables(Path(args.before)), _tables(Path(args.after))
    rows, bad = [], 0
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            rows.append((name, "MISSING", "before" if name not in before else "after"))
            bad += 1
            continue
        status, note = _compare(pd.read_parquet(before[name]), pd.read_parquet(after[name]), args.rtol)
        bad += status == "DIFFERENT"
        rows.append((name, status, note))
    width = max(len(r[0]) for r in rows)
    for name, status, note in rows:
        print(f"{name:<{width}}  {status}  {note}")
    counts = pd.Series([r[1] for r in rows]).value_counts().to_dict()
    print(f"\n{len(rows)} tables: {counts}")
    sys.exit(1 if bad else 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tree", required=True, help="source tree (holds workflow/, config/, src/)")
    r.add_argument("--out", required=True)
    r.add_argument("--subjects", type=int, default=4, help="GT23 replica subjects (default 4)")
    r.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--rtol", type=float, default=1e-12)
    args = ap.parse_args()
    {"run": cmd_run, "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
