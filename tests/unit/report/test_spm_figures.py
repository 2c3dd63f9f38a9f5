"""SPM1D contrast figure (retrogait.report.spm_figures) on the synthetic table of the SPM tests.

The table and its known answers are described in
``tests/unit/analysis/test_waveforms.py``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from retrogait.analysis.waveforms import spm_contrasts  # noqa: E402
from retrogait.report.spm_figures import plot_contrast_waveforms  # noqa: E402
from tests.unit.analysis.test_waveforms import CONTRAST, NOT_APPLICABLE, _table  # noqa: E402


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def result(table):
    small = _table(3, dataset="small", seed=5, extra=False)
    return spm_contrasts(pd.concat([table, small], ignore_index=True), [CONTRAST, NOT_APPLICABLE])



def _spans(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)
            and np.allclose(p.get_facecolor()[:3], matplotlib.colors.to_rgb("0.85"))]


def test_plot_panels_shading_and_labels(result, table):
    summary, clusters = result
    variables = ["knee_flexion", "knee_extensor_moment", "emg_gastrocnemius", "emg_vastus_lateralis"]
    fig = plot_contrast_waveforms(table, CONTRAST, clusters, variables=variables, title="synthetic",
                                  summary=summary)
    try:
        visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
        assert len(visible) == 4
        by_title = {ax.get_title(): ax for ax in visible}
        flex = by_title["Knee flexion (deg)"]
        spans = _spans(flex)
        assert len(spans) == 1
        cl = clusters[(clusters["dataset"] == "synth") & (clusters["variable"] == "knee_flexion")].iloc[0]
        assert spans[0].get_x() == pytest.approx(cl["start_pct"])
        assert spans[0].get_width() == pytest.approx(cl["end_pct"] - cl["start_pct"])
        assert any(t.get_text().startswith("p ") for t in flex.texts)
        assert flex.get_xlabel() == "% stride" and flex.get_ylabel() == "deg"
        assert sum(isinstance(c, PolyCollection) for c in flex.collections) == 2  # two SD bands
        assert [line.get_label() for line in flex.get_lines()] == ["BW", "FW"]
        moment = by_title["Knee extensor moment (N.m/kg)"]
        assert _spans(moment) == [] and moment.get_xlabel() == "% stance"
        absent = by_title["gastrocnemius ()"]
        assert any(t.get_text() == "no data" for t in absent.texts) and not absent.get_lines()
        assert _spans(by_title["vastus lateralis (%ref)"]) == []
        legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert legend_texts == ["BW", "FW"]
    finally:
        plt.close(fig)


def test_plot_without_clusters_shades_nothing(table):
    fig = plot_contrast_waveforms(table, CONTRAST, None, variables=["knee_flexion"], title="t")
    try:
        (ax,) = [a for a in fig.axes if a.get_visible()]
        assert _spans(ax) == [] and len(ax.get_lines()) == 2
    finally:
        plt.close(fig)


def test_spm_t_curve_and_threshold_are_drawn_under_a_tested_variable(result, table):
    """The SPM{t} panel shows spm1d's t curve of a − b and the summary's own critical threshold ±t*."""
    from retrogait.stats.waveforms import spm_paired
    from retrogait.analysis.waveforms import subject_curves

    summary, clusters = result
    fig = plot_contrast_waveforms(table, CONTRAST, clusters, variables=["knee_flexion"], title="t", summary=summary)
    try:
        t_axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_ylabel() == "SPM{t}"]
        assert len(t_axes) == 1
        ax = t_axes[0]
        row = summary[(summary["dataset"] == "synth") & (summary["variable"] == "knee_flexion")].iloc[0]
        ya, yb, _, _ = subject_curves(table, CONTRAST, variable="knee_flexion", domain="stride")
        expected = spm_paired(ya, yb, alpha=float(row["alpha"])).t
        curve = [line for line in ax.get_lines() if line.get_label() == "SPM{t}"][0]
        np.testing.assert_allclose(curve.get_ydata(), expected)
        levels = sorted(abs(float(line.get_ydata()[0])) for line in ax.get_lines() if line.get_linestyle() == "--")
        assert levels == pytest.approx([row["zstar"], row["zstar"]])
        assert max(abs(expected)) > row["zstar"]  # the planted cluster crosses the threshold
    finally:
        plt.close(fig)


def test_levels_take_the_direction_colours_of_the_style(table):
    from retrogait.report.style import BACKWARD, FORWARD

    fig = plot_contrast_waveforms(table, CONTRAST, None, variables=["knee_flexion"], title="t")
    try:
        lines = {line.get_label(): matplotlib.colors.to_hex(line.get_color()) for ax in fig.axes
                 for line in ax.get_lines()}
        assert lines["BW"] == BACKWARD and lines["FW"] == FORWARD
    finally:
        plt.close(fig)
