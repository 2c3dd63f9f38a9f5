"""Coverage of the mixed model's 95 % intervals for 12 subjects, by seeded simulation.

For each scenario, ``--reps`` data sets of 12 subjects x 2 levels x 10 cycles
are simulated with a known effect of the level (``EFFECT``), each analysed
by :func:`retrogait.stats.mixed_model` exactly as the pipeline does
(``random_slope="auto"``), and the share of data sets whose interval
contains the true effect is counted for:

* the cluster bootstrap-t interval studentized by the cluster-robust SE
  (the pipeline's ``boot_ci_*``),
* the cluster bootstrap-t interval studentized by the model-based (lme4) SE
  (``boot_interval="t_model"``, same resamples),
* the cluster bootstrap percentile interval (the previous method,
  ``boot_interval="percentile"``, same resamples),
* the t interval with Satterthwaite df (``ci_*``).

Scenarios (subject random intercept SD 1, residual SD 1):

* ``no_slope``: every subject has the same effect (slope SD 0);
* ``slope``: subjects' effects vary (slope SD 0.8);
* ``slope_ignored``: as ``slope`` but the model is forced to intercept-only
  (``random_slope=False``): a misspecified model, where only the bootstrap
  can rescue the interval.

Seeds are fixed (data set i of every scenario uses ``numpy.random.default_rng(i)``;
bootstrap seed ``1000 + i``), so a rerun gives the same numbers. Results go to
``bench/results/bootstrap_coverage.json`` (``--no-write`` to skip). The
Monte-Carlo standard error of a coverage near 0.95 is about
``sqrt(0.95 x 0.05 / reps)`` (0.013 at 300 repetitions).

Usage::

    .venv/bin/python bench/bootstrap_coverage.py                 # 300 reps, 399 resamples (~25 min CPU)
    .venv/bin/python bench/bootstrap_coverage.py --reps 50 --boot 199 --no-write   # smoke check
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from retrogait.stats import mixed_model  # noqa: E402

EFFECT = 1.0
SCENARIOS = {
    "no_slope": dict(sd_slope=0.0, random_slope="auto"),
    "slope": dict(sd_slope=0.8, random_slope="auto"),
    "slope_ignored": dict(sd_slope=0.8, random_slope=False),
}


def simulate(seed: int, *, sd_slope: float, n_subj: int = 12, n_per: int = 10) -> pd.DataFrame:
    """Subjects x 2 levels x n_per cycles: y = 5 + u_i + (EFFECT + s_i) x + e."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in range(n_subj):
        u, slope = rng.normal(0.0, 1.0), rng.normal(0.0, sd_slope) if sd_slope > 0 else 0.0
        for x in (1, 0):
            y = 5.0 + u + (EFFECT + slope) * x + rng.normal(0.0, 1.0, n_per)
            parts.append(pd.DataFrame({"subject": f"S{s:02d}", "level": "a" if x else "b", "y": y}))
    return pd.concat(parts, ignore_index=True)


def run(reps: int, n_boot: int) -> dict:
    out = {}
    for name, sc in SCENARIOS.items():
        hits = {"bootstrap_t": 0, "bootstrap_t_model_se": 0, "bootstrap_percentile": 0, "satterthwaite_t": 0}
        widths = {k: [] for k in hits}
        slope_kept = 0
        t0 = time.process_time()
        for i in range(reps):
            d = simulate(i, sd_slope=sc["sd_slope"])
            kw = dict(value="y", factor="level", levels=("a", "b"), subject="subject",
                      random_slope=sc["random_slope"], n_boot=n_boot, seed=1000 + i, crosscheck=False)
            t = mixed_model(d, **kw).iloc[0]
            tm = mixed_model(d, boot_interval="t_model", **kw).iloc[0]
            p = mixed_model(d, boot_interval="percentile", **kw).iloc[0]
            slope_kept += t["random_effects"] == "intercept+slope"
            for key, lo, hi in (("bootstrap_t", t.boot_ci_low, t.boot_ci_high),
                                ("bootstrap_t_model_se", tm.boot_ci_low, tm.boot_ci_high),
                                ("bootstrap_percentile", p.boot_ci_low, p.boot_ci_high),
                                ("satterthwaite_t", t.ci_low, t.ci_high)):
                hits[key] += bool(lo <= EFFECT <= hi)
                widths[key].append(hi - lo)
        cov = {k: v / reps for k, v in hits.items()}
        out[name] = dict(
            sd_slope=sc["sd_slope"], random_slope=str(sc["random_slope"]), reps=reps, n_boot=n_boot,
            coverage=cov, mc_se={k: math.sqrt(c * (1 - c) / reps) for k, c in cov.items()},
            median_width={k: float(np.median(w)) for k, w in widths.items()},
            share_with_random_slope=slope_kept / reps, cpu_s=round(time.process_time() - t0, 1))
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in cov.items())
              + f" (slope kept in {slope_kept}/{reps}; {out[name]['cpu_s']} s CPU)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300, help="simulated data sets per scenario (default 300)")
    ap.add_argument("--boot", type=int, default=399, help="bootstrap resamples per data set (default 399)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/")
    args = ap.parse_args(argv)
    results = run(args.reps, args.boot)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    record = {"benchmark": "bootstrap_coverage", "nominal": 0.95, "effect": EFFECT,
              "design": "12 subjects x 2 levels x 10 cycles; subject intercept SD 1, residual SD 1",
              "commit": commit, "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "numpy": np.__version__, "scenarios": results}
    if not args.no_write:
        path = ROOT / "bench" / "results" / "bootstrap_coverage.json"
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
