"""Balance of plausibility flags between the levels of a contrast (retrogait.analysis.qc)."""

from __future__ import annotations

import pandas as pd
import pytest

from retrogait.analysis.contrasts import Contrast
from retrogait.analysis.qc import CONTRAST_FLAG_COLUMNS, plausibility_by_contrast

C = Contrast.from_config({"id": "bw_vs_fw", "factor": "direction", "levels": ["BW", "FW"]})


def _table(flag_bw: int, flag_fw: int, n: int = 40) -> pd.DataFrame:
    rows = []
    for direction, k in (("BW", flag_bw), ("FW", flag_fw)):
        for cyc in range(n):
            for measure in ("pfj_stress_peak", "knee_flexion_at_contact"):
                hit = cyc < k and measure == "pfj_stress_peak"
                rows.append(dict(dataset="d", subject=f"S{cyc % 8}", trial=direction, condition=direction,
                                 direction=direction, speed_mps=0.6, side="L", cycle=cyc, measure=measure, value=1.0,
                                 qc_status="rejected" if hit else "kept", qc_rule="pfj_stress_walking" if hit else ""))
    return pd.DataFrame(rows)


def test_unbalanced_flags_warn():
    out = plausibility_by_contrast(_table(flag_bw=12, flag_fw=1), [C])
    assert list(out.columns) == CONTRAST_FLAG_COLUMNS
    r = out.set_index("rule").loc["pfj_stress_walking"]
    assert (r.n_a, r.flagged_a, r.n_b, r.flagged_b) == (40, 12, 40, 1)
    assert r.pct_a == 30.0 and r.p_fisher < 0.01 and bool(r.warning)
    assert r.note.startswith("WARNING rule pfj_stress_walking flagged 30.0 % of cycles at BW and 2.5 % at FW")


def test_balanced_flags_do_not_warn_and_small_imbalances_do():
    r = plausibility_by_contrast(_table(flag_bw=1, flag_fw=1), [C]).set_index("rule").loc["pfj_stress_walking"]
    assert not bool(r.warning) and r.note == "" and r.p_fisher == pytest.approx(1.0)
    # 3 of 40 vs 0 of 40: Fisher p = 0.24, but a 7.5 point difference still warns
    r = plausibility_by_contrast(_table(flag_bw=3, flag_fw=0), [C]).set_index("rule").loc["pfj_stress_walking"]
    assert r.p_fisher > 0.05 and bool(r.warning)
    none = plausibility_by_contrast(_table(0, 0), [C]).set_index("rule").loc["pfj_stress_walking"]
    assert none.p_fisher == 1.0 and not bool(none.warning)
