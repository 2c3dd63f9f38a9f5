"""Figure of one contrast's waveforms: mean ± SD at both levels with SPM1D clusters shaded, and SPM{t}.

Each variable has two panels: the mean ± SD curves of both levels (colours
from :mod:`retrogait.report.style`, the same as the dataset's waveform
figures), and below them the paired SPM{t} curve with its critical
threshold ±t* (dashed), so a reader sees how far the statistic crosses.

The statistics are :func:`retrogait.analysis.waveforms.spm_contrasts`; this
module only draws them (docs/methods.md §6.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
import seaborn as sns

from retrogait.analysis.contrasts import Contrast
from retrogait.analysis.waveforms import (_NODE_RE, DEFAULT_DOMAINS, _domain_for, _one_dataset,
                                          subject_curves)
from retrogait.report.figures import WAVEFORM_TITLES
from retrogait.report.style import THRESHOLD_COLOUR, level_colours
from retrogait.stats.waveforms import spm_paired

__all__ = ["plot_contrast_waveforms"]


def _no_data(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _spm_caption(row: Mapping | None) -> str:
    if row is None:
        return ""
    status = str(row.get("status", ""))
    if status != "ok":
        reason = status.removeprefix("skipped: ").split(" (")[0]
        return "SPM not tested: " + (reason if len(reason) <= 50 else reason[:49] + "\u2026")
    text = f"t* = {float(row['zstar']):.2f}, \u03b1 = {float(row['alpha']):.4g} ({row.get('correction', '')}, " \
           f"m = {int(row['m'])})"
    untested = str(row.get("untested_nodes", "") or "")
    if untested and untested.lower() != "nan":
        text += f"; not tested at {untested} % (zero variance of a − b)"
    return text


def plot_contrast_waveforms(waveforms: pd.DataFrame, contrast: Contrast, clusters: pd.DataFrame | None, *,
                            variables: Sequence[str], domains: Mapping[str, str] | None = None,
                            title: str, summary: pd.DataFrame | None = None, ncols: int = 3) -> plt.Figure:
    """Mean ± SD of the paired subject-mean curves at both levels, SPM clusters shaded.

    One panel per entry of ``variables`` (in that order): the mean ± SD
    across subjects of the subject-mean curves (:func:`subject_curves`: the
    same subjects and domain as the test) for level a and level b (legend:
    the level values; ``n`` subjects in each panel); every supra-threshold
    cluster of this contrast, dataset, variable and domain in ``clusters``
    is shaded light grey and annotated with its cluster p value
    [Pataky2012]_ (docs/methods.md §6.1). A variable without curves at both
    levels gets a "no data" panel.

    Parameters
    ----------
    waveforms : pandas.DataFrame
        ``waveforms`` table of ONE dataset.
    contrast : Contrast
    clusters : pandas.DataFrame or None
        Clusters table of :func:`spm_contrasts` (rows of other contrasts,
        datasets or domains are ignored); None or empty: nothing shaded.
    variables : sequence of str, keyword-only
        Variables to draw, one panel each.
    domains : mapping, keyword-only
        As in :func:`spm_contrasts` (default :data:`DEFAULT_DOMAINS`).
    title : str, keyword-only
        Figure title.
    summary : pandas.DataFrame, optional, keyword-only
        Summary table of :func:`spm_contrasts`; when given, each panel
        states the critical t and per-test alpha, or why SPM was not run
        (so "no shading" is not mistaken for "no difference").
    ncols : int, keyword-only
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One visible axes per variable; save it with
        :func:`retrogait.report.figures.save`.
    """
    _one_dataset(waveforms, "plot_contrast_waveforms")
    domains = dict(DEFAULT_DOMAINS if domains is None else domains)
    # the report's theme (retrogait.report.figures: seaborn "paper" context, "whitegrid" style), set locally
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return _plot(waveforms, contrast, clusters, summary, variables=[str(v) for v in variables],
                     domains=domains, title=title, ncols=ncols)


def _plot(waveforms: pd.DataFrame, contrast: Contrast, clusters: pd.DataFrame | None,
          summary: pd.DataFrame | None, *, variables: list[str], domains: Mapping[str, str], title: str,
          ncols: int) -> plt.Figure:
    n = max(len(variables), 1)
    ncols = max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(2 * nrows, ncols, figsize=(4.2 * ncols, 4.3 * nrows + 0.5), squeeze=False,
                             layout="constrained", height_ratios=[2.3, 1.0] * nrows)
    flat = axes[0::2].ravel()   # mean ± SD panels
    tflat = axes[1::2].ravel()  # SPM{t} panel under each
    if not variables:
        _no_data(flat[0], "no variables requested")
    dataset = None
    if "dataset" in waveforms.columns and len(waveforms):
        dataset = str(waveforms["dataset"].iloc[0])

    def _this(table: pd.DataFrame | None) -> pd.DataFrame:
        if table is None or len(table) == 0:
            return pd.DataFrame()
        keep = pd.Series(True, index=table.index)
        if "contrast" in table:
            keep &= table["contrast"].astype(str) == str(contrast.id)
        if dataset is not None and "dataset" in table:
            keep &= table["dataset"].astype(str) == dataset
        return table[keep]

    clus, summ = _this(clusters), _this(summary)
    conditions = sorted({str(c) for c in waveforms["condition"].unique()}) \
        if "condition" in waveforms.columns and len(waveforms) else []
    colors = level_colours(contrast.levels, conditions)
    labels = (str(contrast.levels[0]), str(contrast.levels[1]))
    has_cols = any(_NODE_RE.fullmatch(str(c)) for c in waveforms.columns)
    handles = None
    for ax, tax, var in zip(flat, tflat, variables):
        tax.set_visible(False)  # shown by _plot_spm_t when the variable was tested
        dom = _domain_for(var, domains)
        rows = waveforms[waveforms["variable"].astype(str) == var] if len(waveforms) else waveforms
        unit = str(rows["unit"].iloc[0]) if len(rows) and "unit" in rows else ""
        label = WAVEFORM_TITLES.get(var)
        ax.set_title(label or f"{var.removeprefix('emg_').replace('_', ' ')} ({unit})", fontsize=9)
        if dom is None or not has_cols or rows.empty:
            _no_data(ax, "no data" if dom is not None else "no data (no domain configured)")
            continue
        try:
            ya, yb, used, _ = subject_curves(waveforms, contrast, variable=var, domain=dom)
        except ValueError as exc:
            _no_data(ax, f"not drawn: {exc}"[:80])
            continue
        if not used:
            _no_data(ax, f"no data: no subject with both levels ({dom})")
            continue
        Q = ya.shape[1]
        x = np.arange(Q) * 100.0 / (Q - 1)
        lines = []
        for y, lab, col in ((ya, labels[0], colors[0]), (yb, labels[1], colors[1])):
            mu = y.mean(axis=0)
            sd = y.std(axis=0, ddof=1) if len(y) > 1 else np.zeros(Q)
            ax.fill_between(x, mu - sd, mu + sd, color=col, alpha=0.2, linewidth=0)
            lines.extend(ax.plot(x, mu, color=col, linewidth=1.3, label=lab))
        handles = handles or lines
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        if len(clus) and "variable" in clus:
            vc = clus[clus["variable"].astype(str) == var]
            if "domain" in vc:
                vc = vc[vc["domain"].astype(str) == dom]
            for k, r in enumerate(vc.sort_values("start_pct").itertuples(index=False)):
                ax.axvspan(float(r.start_pct), float(r.end_pct), color="0.85", zorder=0, linewidth=0)
                xc = float(getattr(r, "centroid_pct", (r.start_pct + r.end_pct) / 2))
                ha = "left" if xc < 8 else "right" if xc > 92 else "center"
                ax.text(xc, 0.98 - 0.07 * (k % 2), _p_text(float(r.p)), transform=trans, ha=ha, va="top",
                        fontsize=6.5, color="0.25")
        caption = f"n = {len(used)}"
        srow = None
        if len(summ) and "variable" in summ:
            match = summ[(summ["variable"].astype(str) == var) & (summ["domain"].astype(str) == dom)]
            srow = match.iloc[0].to_dict() if len(match) else None
            extra = _spm_caption(srow)
            caption += f"; {extra}" if extra else ""
        _plot_spm_t(tax, ya, yb, srow, x_label=f"% {dom}")
        ax.text(0.01, 0.01, caption, transform=ax.transAxes, ha="left", va="bottom", fontsize=6, color="0.35")
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"% {dom}")
        ax.set_ylabel(unit)
    for ax in [*flat[len(variables):], *tflat[len(variables):]]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    if handles:
        fig.legend(handles, [x.get_label() for x in handles], loc="outside lower center", ncol=2, fontsize=8,
                   frameon=False)
    return fig


def _plot_spm_t(ax: plt.Axes, ya: np.ndarray, yb: np.ndarray, row: Mapping | None, *, x_label: str) -> None:
    """The paired SPM{t} of a − b against ±t*, the critical threshold of the test in ``row``.

    The t curve is :func:`retrogait.stats.spm_paired` (spm1d's one-sample
    SPM{t} of the difference curves) at the per-test alpha the summary
    records; the threshold drawn is the summary's own ``zstar`` when there is
    one, so the figure shows the test that was run. Nothing is drawn for a
    variable that was not tested (the panel above says why).
    """
    if row is None or str(row.get("status", "")) != "ok" or len(ya) < 3:
        return
    try:
        res = spm_paired(ya, yb, alpha=float(row["alpha"]), two_tailed=True)
    except (ValueError, RuntimeError):
        return
    t = np.asarray(res.t, dtype=float)
    zstar = float(row.get("zstar", np.nan))
    x = np.arange(t.size) * 100.0 / max(t.size - 1, 1)
    ax.set_visible(True)
    ax.plot(x, t, color="black", lw=1.1, label="SPM{t}")
    if np.isfinite(zstar):
        for sgn in (1, -1):
            ax.axhline(sgn * zstar, color=THRESHOLD_COLOUR, ls="--", lw=1.0)
            ax.fill_between(x, sgn * zstar, t, where=(sgn * t > zstar), color="0.6", lw=0, interpolate=True)
        ax.text(0.99, 0.97, f"±t* = {zstar:.2f}", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                color=THRESHOLD_COLOUR)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlim(0, 100)
    ax.set_ylabel("SPM{t}", fontsize=8)
    ax.set_xlabel(x_label)
