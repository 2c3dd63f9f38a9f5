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
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .contrasts import Contrast, select_levels  # noqa: E402
from .cycles import node_columns  # noqa: E402
from .io import atomic_path  # noqa: E402

__all__ = [
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

_LABELS = {
    "knee_flexion": "Knee flexion (deg)",
    "knee_extensor_moment": "Knee extensor moment (N.m/kg)",
    "knee_adduction_moment": "Knee adduction moment, external (N.m/kg)",
    "vgrf": "Vertical GRF (BW)",
    "pfj_force": "PFJ reaction force (BW)",
    "pfj_stress": "PFJ stress (MPa)",
}

sns.set_theme(context="paper", style="whitegrid", palette="colorblind")


def save(fig: plt.Figure, path: str | os.PathLike, *, dpi: int = 110) -> None:
    """Save a figure atomically as PNG without volatile metadata."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def subject_mean_curves(waveforms: pd.DataFrame, *, domain: str, nodes: int = 101) -> pd.DataFrame:
    """Long table of subject-mean curves: subject, condition, variable, unit, pct, value."""
    cols = node_columns(nodes)
    w = waveforms[waveforms["domain"] == domain]
    if w.empty:
        return pd.DataFrame(columns=["subject", "condition", "variable", "unit", "pct", "value"])
    means = w.groupby(["subject", "condition", "variable", "unit"], sort=True)[cols].mean().reset_index()
    long = means.melt(id_vars=["subject", "condition", "variable", "unit"], value_vars=cols,
                      var_name="node", value_name="value")
    long["pct"] = long["node"].map({c: 100.0 * k / (nodes - 1) for k, c in enumerate(cols)})
    return long.drop(columns="node")


def _no_data(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_waveforms(curves: pd.DataFrame, variables: Sequence[str], *, domain: str, title: str,
                   clusters: pd.DataFrame | None = None, ncols: int = 3) -> plt.Figure:
    """Mean +/- SD across subjects of subject-mean curves, one panel per variable.

    ``clusters`` (optional): SPM clusters with columns ``variable``,
    ``start_pct``, ``end_pct``, ``p`` to shade.
    """
    variables = [v for v in variables if v in set(curves["variable"])] if not curves.empty else []
    n = max(len(variables), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    flat = axes.ravel()
    if not variables:
        _no_data(flat[0], "no data for these variables in this dataset")
    order = sorted(curves["condition"].unique()) if not curves.empty else []
    for ax, var in zip(flat, variables):
        data = curves[curves["variable"] == var]
        sns.lineplot(data=data, x="pct", y="value", hue="condition", hue_order=order, errorbar="sd",
                     estimator="mean", ax=ax, legend=ax is flat[0])
        if clusters is not None and not clusters.empty:
            for c in clusters[clusters["variable"] == var].itertuples(index=False):
                ax.axvspan(c.start_pct, c.end_pct, color="0.85", zorder=0)
        unit = data["unit"].iloc[0] if len(data) else ""
        ax.set_title(_LABELS.get(var, f"{var.removeprefix('emg_').replace('_', ' ')} ({unit})"), fontsize=9)
        ax.set_xlabel(f"% {domain}")
        ax.set_ylabel(unit)
        ax.set_xlim(0, 100)
    for ax in flat[len(variables):]:
        ax.set_visible(False) if variables else None
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_paired(measures: pd.DataFrame, contrasts: Sequence[Contrast], *, title: str,
                key_measures: Sequence[str] = KEY_MEASURES) -> plt.Figure:
    """Subject means at the two levels of each contrast, lines joining each subject."""
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
            means = sm.groupby(["subject", "level", "level_value"])["value"].mean().reset_index()
            both = means.groupby("subject")["level"].nunique()
            means = means[means["subject"].isin(both[both == 2].index)]
            if not means.empty:
                panels.append((c, m, sm["unit"].iloc[0], means))
    n = max(len(panels), 1)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.0 * nrows), squeeze=False)
    flat = axes.ravel()
    if not panels:
        _no_data(flat[0], "no contrast has both levels in this dataset")
    for ax, (c, m, unit, means) in zip(flat, panels):
        order = [str(c.levels[0]), str(c.levels[1])]
        sns.lineplot(data=means, x="level_value", y="value", units="subject", estimator=None, color="0.6",
                     linewidth=0.8, marker="o", markersize=3, ax=ax, sort=False)
        sns.pointplot(data=means, x="level_value", y="value", order=order, errorbar=("ci", 95), color="C3",
                      ax=ax, markersize=5)
        ax.set_title(f"{m.replace('_', ' ')}\n{c.label}", fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel(unit)
    for ax in flat[len(panels):]:
        ax.set_visible(False) if panels else None
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
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
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
