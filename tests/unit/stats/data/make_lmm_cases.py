"""Write lmm_cases.csv: the data behind the lme4/lmerTest reference numbers of test_mixed.py.

Run once (``python tests/unit/stats/data/make_lmm_cases.py``); the CSV is committed so
that the tests and the R call quoted in test_mixed.py read exactly the same rows
(numbers written with 17 significant digits, i.e. exactly).

Cases (12 subjects each, factor level a = indicator x = 1, reference b = 0):

* ``intercept``: random intercepts only (sd 1), residual sd 1, 8 cycles per level.
* ``slope``: random intercepts (sd 1) and random slopes of x (sd 0.8), 10 cycles.
* ``covariate``: as ``slope`` (slope sd 0.5) plus a speed covariate whose values
  differ between the levels (a: 0.6/0.8/1.0 m/s, b: 0.6/1.2/1.8 m/s), true speed slope 2.
* ``singular``: no slope variance at all (20 cycles), so the random-slope fit is singular.
* ``seconds``: a stance time in seconds (mean 0.7 s; subject sd 0.05 s, slope sd 0.02 s,
  residual sd 0.03 s, 15 cycles): small variances in the data's own units.
"""

from pathlib import Path

import numpy as np
import pandas as pd

CASES = {
    "intercept": dict(seed=101, n_per=8, mu=5.0, effect=0.4, sd_u=1.0, sd_s=0.0, sd_e=1.0, speeds=False),
    "slope": dict(seed=202, n_per=10, mu=5.0, effect=1.0, sd_u=1.0, sd_s=0.8, sd_e=1.0, speeds=False),
    "covariate": dict(seed=303, n_per=10, mu=5.0, effect=1.5, sd_u=1.0, sd_s=0.5, sd_e=1.0, speeds=True),
    "singular": dict(seed=404, n_per=20, mu=5.0, effect=0.5, sd_u=1.0, sd_s=0.0, sd_e=1.0, speeds=False),
    "seconds": dict(seed=505, n_per=15, mu=0.7, effect=0.01, sd_u=0.05, sd_s=0.02, sd_e=0.03, speeds=False),
}


def make() -> pd.DataFrame:
    parts = []
    for case, c in CASES.items():
        rng = np.random.default_rng(c["seed"])
        for s in range(12):
            u, us = rng.normal(0, c["sd_u"]), rng.normal(0, c["sd_s"]) if c["sd_s"] else 0.0
            for x, speeds in ((1, (0.6, 0.8, 1.0)), (0, (0.6, 1.2, 1.8))):
                v = rng.choice(speeds, size=c["n_per"]) if c["speeds"] else np.zeros(c["n_per"])
                y = (c["mu"] + u + (c["effect"] + us) * x + 2.0 * v * c["speeds"]
                     + rng.normal(0, c["sd_e"], c["n_per"]))
                parts.append(pd.DataFrame({"case": case, "subject": f"S{s:02d}", "x": x, "speed": v, "y": y}))
    return pd.concat(parts, ignore_index=True)


if __name__ == "__main__":
    make().to_csv(Path(__file__).with_name("lmm_cases.csv"), index=False, float_format="%.17g")
