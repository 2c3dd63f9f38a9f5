"""Figures of the report (seaborn on matplotlib's Agg backend).

Every figure is built from the canonical tables, saved as PNG without
timestamps (byte-identical on reruns) and described by a short caption in
``workflow/report/``.

* waveforms: mean +/- SD across subjects of subject-mean curves, per
  condition (knee flexion; knee moments, vertical GRF and patellofemoral
  stress over stance; every EMG envelope), with suprathreshold SPM clusters
  shaded when a waveform test found them;
* paired subject plots of key measures for each contrast;
* QC overview: cycles kept and rejected per subject and why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from retrogait.analysis.contrasts import Contrast, select_levels  # noqa: E402
from retrogait.gait.catalog import label  # noqa: E402
from retrogait.gait.cycles import node_columns  # noqa: E402
from retrogait.io import atomic_path  # noqa: E402
from retrogait.report.style import DPI, MEAN_CI_COLOUR, condition_colours  # noqa: E402

__all__ = [
    "WAVEFORM_TITLES",
    "subject_mean_curves",
    "plot_waveforms",
    "plot_paired",
    "plot_qc",
    "save",
    "KINEMATIC_VARIABLES",
    "KINETIC_VARIABLES",
    "KEY_MEASURES",
]

KINEMATIC_VARIABLES = ("knee_flexion",)
KINETIC_VARIABLES = ("knee_extensor_moment", "knee_adduction_moment", "vgrf", "pfj_stress")
KEY_MEASURES = ("knee_flexion_at_contact", "knee_extensor_moment_peak", "pfj_stress_peak", "kam_peak1",
                "stance_pct", "stride_time")

#: Panel titles of the knee waveform variables (EMG panels are titled from the muscle name).
WAVEFORM_TITLES = {
    "knee_flexion": "Knee flexion (deg)",
    "knee_extensor_moment": "Knee extensor moment (N.m/kg)",
    "knee_adduction_moment": "Knee adduction moment, external (N.m/kg)",
    "vgrf": "Vertical GRF (BW)",
    "pfj_force": "PFJ reaction force (BW)",
    "pfj_stress": "PFJ stress (MPa)",
}

sns.set_theme(context="paper", style="whitegrid", palette="colorblind")


def save(fig: plt.Figure, path: str | os.PathLike, *, dpi: int = DPI) -> None:
    """Save a figure atomically as PNG without volatile metadata (:data:`retrogait.report.style.DPI`).

    A figure laid out by matplotlib's constrained layout already fits its
    canvas and is saved as laid out (one draw); any other is cropped to its
    tight bounding box, which costs a second full draw (most of the figures
    job's time in the benchmark profile, bench/results/README.md).
    """
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    fitted = isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches=None if fitted else "tight",
                    metadata={"Software": None})
    plt.close(fig)


def subject_mean_curves(waveforms: pd.DataFrame, *, domain: str, nodes: int = 101) -> pd.DataFrame:
    """Subject-mean curves (cycles of both sides pooled): one row per subject x condition x variable.

    Columns ``subject, condition, variable, unit`` and the node columns.
    """
    cols = node_columns(nodes)
    w = waveforms[waveforms["domain"] == domain] if len(waveforms) else waveforms
    if w.empty:
        return pd.DataFrame(columns=["subject", "condition", "variable", "unit", *cols])
    return w.groupby(["subject", "condition", "variable", "unit"], sort=True)[cols].mean().reset_index()


def _no_data(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(fig: plt.Figure, title: str) -> None:
    """Title above the panels, leaving room for it whatever the figure height."""
    fig.suptitle(title, fontsize=10)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))


def _mean_sd(curves: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    values = curves[cols].to_numpy(dtype=float)
    sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    return values.mean(axis=0), sd, len(values)


def plot_waveforms(curves: pd.DataFrame, variables: Sequence[str], *, domain: str, title: str,
                   clusters: pd.DataFrame | None = None, ncols: int = 3, nodes: int = 101,
                   conditions: Sequence[str] | None = None) -> plt.Figure:
    """Mean +/- SD across subjects of subject-mean curves, one panel per variable, one line per condition.

    ``curves`` comes from :func:`subject_mean_curves`. ``clusters``
    (optional): SPM clusters with columns ``variable``, ``start_pct``,
    ``end_pct`` to shade. ``conditions``: every condition of the dataset
    (default: those in ``curves``), so the colours
    (:func:`retrogait.report.style.condition_colours`) are the same in every
    figure of the dataset.
    """
    cols = node_columns(nodes)
    pct = np.linspace(0, 100, nodes)
    variables = [v for v in variables if v in set(curves["variable"])] if not curves.empty else []
    n = max(len(variables), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    flat = axes.ravel()
    if not variables:
        _no_data(flat[0], "no data for these variables in this dataset")
    order = sorted(curves["condition"].unique()) if not curves.empty else []
    colours = condition_colours([*(conditions or ()), *order])
    for ax, var in zip(flat, variables):
        data = curves[curves["variable"] == var]
        if clusters is not None and not clusters.empty:
            for c in clusters[clusters["variable"] == var].itertuples(index=False):
                ax.axvspan(c.start_pct, c.end_pct, color="0.88", zorder=0)
        for cond in order:
            sub = data[data["condition"] == cond]
            if sub.empty:
                continue
            mean, sd, k = _mean_sd(sub, cols)
            ax.plot(pct, mean, color=colours[str(cond)], lw=1.5, label=f"{cond} (n={k})")
            ax.fill_between(pct, mean - sd, mean + sd, color=colours[str(cond)], alpha=0.2, lw=0)
        unit = data["unit"].iloc[0] if len(data) else ""
        ax.set_title(WAVEFORM_TITLES.get(var, f"{var.removeprefix('emg_').replace('_', ' ')} ({unit})"), fontsize=9)
        ax.set_xlabel(f"% {domain}")
        ax.set_ylabel(unit)
        ax.set_xlim(0, 100)
        if ax is flat[0]:
            ax.legend(fontsize=8, title="condition (subjects)", title_fontsize=8)
    for ax in flat[len(variables):]:
        ax.set_visible(False) if variables else None
    _finish(fig, title)
    return fig


def plot_paired(measures: pd.DataFrame, contrasts: Sequence[Contrast], *, title: str,
                key_measures: Sequence[str] = KEY_MEASURES) -> plt.Figure:
    """Subject means at the two levels of each contrast, lines joining each subject; mean with 95 % CI."""
    from scipy import stats

    kept = measures[measures["qc_status"] == "kept"]
    panels = []
    for c in contrasts:
        sel = select_levels(kept, c)
        if sel.empty or sel["level"].nunique() < 2:
            continue
        for m in key_measures:
            sm = sel[sel["measure"] == m]
            if sm.empty:
                continue
            wide = sm.groupby(["subject", "level"])["value"].mean().unstack("level")
            wide = wide.dropna() if {"a", "b"} <= set(wide.columns) else wide.iloc[0:0]
            if len(wide):
                panels.append((c, m, sm["unit"].iloc[0], wide))
    n = max(len(panels), 1)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.0 * nrows), squeeze=False)
    flat = axes.ravel()
    if not panels:
        _no_data(flat[0], "no contrast has both levels in this dataset")
    accent = MEAN_CI_COLOUR
    for ax, (c, m, unit, wide) in zip(flat, panels):
        a, b = wide["a"].to_numpy(), wide["b"].to_numpy()
        for ya, yb in zip(a, b):
            ax.plot([0, 1], [ya, yb], color="0.65", lw=0.8, marker="o", ms=2.5)
        for x, y in ((0, a), (1, b)):
            half = stats.t.ppf(0.975, len(y) - 1) * y.std(ddof=1) / np.sqrt(len(y)) if len(y) > 1 else 0.0
            ax.errorbar([x], [y.mean()], yerr=[[half], [half]], color=accent, marker="o", ms=5, lw=2, capsize=3)
        ax.plot([0, 1], [a.mean(), b.mean()], color=accent, lw=2)
        ax.set_xticks([0, 1], [str(c.levels[0]), str(c.levels[1])])
        ax.set_xlim(-0.3, 1.3)
        ax.set_title(f"{label(m)} (n={len(a)})\n{c.label}", fontsize=8, wrap=True)
        ax.set_ylabel(unit)
    for ax in flat[len(panels):]:
        ax.set_visible(False) if panels else None
    _finish(fig, title)
    return fig


def plot_qc(cycles: pd.DataFrame, *, title: str) -> plt.Figure:
    """Cycles kept and rejected per subject and condition, rejected split by reason."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if cycles.empty:
        _no_data(ax, "no cycles")
        return fig
    c = cycles.copy()
    c["status"] = np.where(c["qc_status"] == "kept", "kept",
                           "rejected: " + c["qc_reason"].fillna("").str.split(";").str[0].str.slice(0, 40))
    counts = c.groupby(["subject", "status"]).size().unstack(fill_value=0)
    counts = counts[sorted(counts.columns, key=lambda s: (s != "kept", s))]
    counts.plot(kind="bar", stacked=True, ax=ax, width=0.8,
                color=sns.color_palette("colorblind", n_colors=len(counts.columns)))
    ax.set_ylabel("cycles")
    ax.set_xlabel("subject")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
