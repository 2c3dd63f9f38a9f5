"""Forest plot of the meta-analysis tables (retrogait.report.forest)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from retrogait.analysis.meta import pool  # noqa: E402
from retrogait.report.forest import plot_forest  # noqa: E402
from tests.unit.analysis.test_meta import _effect  # noqa: E402


def test_forest_plot_rows_and_nan_pooled():
    rows = [_effect("W1", 0.8, 0.05), _effect("W2", 1.2, 0.08, source="dataset"), _effect("W3", 1.0, 0.06),
            _effect("R1", -0.7, 0.04, activity="running")]
    studies, pooled = pool(pd.DataFrame(rows))
    fig = plot_forest(studies, pooled, measure="pfj_force_peak")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 4 + 2  # four studies, a pooled row per stratum
    assert labels[0].startswith("W1") and labels[3].startswith("Pooled walking, speed-matched (")
    assert "HKSJ CI, k=3" in labels[3]
    assert labels[4].startswith("R1") and "[running]" in labels[4]
    assert labels[5] == "Pooled running, speed-matched: not pooled (k=1)"
    assert ax.get_xlabel() == "Hedges' g (BW − FW)"
    assert len(ax.patches) == 1  # one diamond: the running stratum is not pooled
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ValueError, match="no rows"):
        plot_forest(studies, pooled, measure="cadence")


def test_forest_plot_single_study():
    studies, pooled = pool(pd.DataFrame([_effect("only", 0.3, 0.2)]))
    fig = plot_forest(studies, pooled, measure="pfj_force_peak", title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["only (n=10)",
                                                            "Pooled walking, speed-matched: not pooled (k=1)"]
    assert ax.get_title() == "t"
