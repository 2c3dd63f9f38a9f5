"""Forest plot of the meta-analysis: studies and pooled effects per stratum.

Draws the tables of :func:`retrogait.analysis.meta.pool` (docs/methods.md
§6.6); walking and running, and speed-matched and non-matched studies, are
separate strata and never pooled together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from retrogait.analysis.meta import SPEED_STRATA, STRATA, stratum_label
from retrogait.report.style import POOLED_COLOUR, SOURCE_STYLE

__all__ = ["plot_forest"]

_STYLE = SOURCE_STYLE  # source -> marker, colour, legend label (report/style.py: one place for colours)
_POOLED_COLOUR = POOLED_COLOUR


def plot_forest(study_rows: pd.DataFrame, pooled_rows: pd.DataFrame, *, measure: str,
                title: str | None = None) -> Figure:
    """Forest plot of one measure: studies, then a pooled diamond, per stratum.

    One y row per study (point at g with its CI whiskers; marker area ∝ the
    random-effects weight; published studies as blue circles, the
    pipeline's datasets as orange squares) and one per pooled row (diamond
    spanning the Hartung-Knapp-Sidik-Jonkman CI; "not pooled" text when the
    stratum has too few studies). Strata (activity x speed matching) follow
    each other, walking and speed-matched first, separated by a line; study
    rows of running strata are labelled "[running]". A dashed line marks
    g = 0.

    Parameters
    ----------
    study_rows, pooled_rows : pandas.DataFrame
        The two tables returned by :func:`pool`.
    measure : str, keyword-only
        Measure to draw.
    title : str, optional, keyword-only
        Default ``"<measure>: backward vs forward"``.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot (nothing to close); save with ``savefig``.
        Its y tick labels are the study and pooled labels, top to bottom.

    Raises
    ------
    ValueError
        When ``measure`` has no rows.
    """
    studies = study_rows[study_rows["measure"] == measure]
    pooled = pooled_rows[pooled_rows["measure"] == measure]
    if studies.empty and pooled.empty:
        raise ValueError(f"plot_forest: no rows for measure {measure!r}")
    order = [stratum_label(a, m) for a in STRATA for m in SPEED_STRATA]
    strata = [s for s in order if (studies["stratum"] == s).any() or (pooled["stratum"] == s).any()]
    n_rows = len(studies) + len(pooled)
    fig = Figure(figsize=(8.0, 2.0 + 0.42 * n_rows + 0.3 * (len(strata) - 1)))
    ax = fig.add_subplot()
    y = float(n_rows + 0.3 * (len(strata) - 1))
    ticks: list[float] = []
    labels: list[str] = []
    xs: list[float] = [0.0]
    unestimable: list[float] = []
    for j, stratum in enumerate(strata):
        if j:  # a gap and a rule between strata
            y -= 0.3
            ax.axhline(y - 0.35, color="0.6", lw=0.8)
        suffix = " [running]" if stratum.startswith("running") else ""
        colour_p = _POOLED_COLOUR["running" if stratum.startswith("running") else "walking"]
        for rec in studies[studies["stratum"] == stratum].to_dict("records"):
            y -= 1.0
            marker, colour, _ = _STYLE.get(str(rec["source"]), ("D", "0.3", ""))
            n = rec.get("n")
            n_txt = f" (n={int(n)})" if isinstance(n, (int, float, np.integer, np.floating)) and np.isfinite(n) \
                and n > 0 else ""
            ticks.append(y)
            labels.append(f"{rec['label']}{n_txt}{suffix}")
            if np.isfinite(rec["effect"]):
                ax.plot([rec["ci_low"], rec["ci_high"]], [y, y], color=colour, lw=1.4, zorder=2)
                w = rec["weight"]
                size = 25.0 + 300.0 * w if np.isfinite(w) else 45.0
                ax.scatter([rec["effect"]], [y], s=size, marker=marker, color=colour, edgecolor="white",
                           linewidth=0.5, zorder=3)
                xs += [rec["ci_low"], rec["ci_high"]]
            else:
                unestimable.append(y)
        for rec in pooled[pooled["stratum"] == stratum].to_dict("records"):
            y -= 1.0
            ticks.append(y)
            k = int(rec["k"])
            if np.isfinite(rec["effect"]):
                labels.append(f"Pooled {stratum} ({rec['method']} RE, HKSJ CI, k={k})")
                lo, mid, hi = rec["ci_low"], rec["effect"], rec["ci_high"]
                ax.add_patch(Polygon([(lo, y), (mid, y + 0.32), (hi, y), (mid, y - 0.32)], closed=True,
                                     facecolor=colour_p, edgecolor="black", lw=0.8, zorder=3))
                xs += [lo, hi]
            else:
                labels.append(f"Pooled {stratum}: not pooled (k={k})")
                unestimable.append(y)
    finite = [x for x in xs if np.isfinite(x)]
    lo, hi = min(finite), max(finite)
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(lo - pad, hi + pad)
    for yy in unestimable:
        ax.text(0.0, yy, " not estimated", va="center", ha="left", fontsize=8, color="0.35", style="italic")
    ax.axvline(0.0, color="0.3", lw=0.9, ls="--", zorder=1)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    ax.set_ylim(y - 0.7, float(n_rows + 0.3 * (len(strata) - 1)) - 0.3)
    ax.set_xlabel("Hedges' g (BW − FW)")
    ax.set_title(title if title is not None else f"{measure}: backward vs forward")
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Line2D([], [], marker=m, color=c, ls="", label=lab) for src, (m, c, lab) in _STYLE.items()
               if (studies["source"] == src).any()]
    handles += [Polygon([(0, 0)], closed=True, facecolor=_POOLED_COLOUR["running" if s.startswith("running")
                                                                         else "walking"], edgecolor="black",
                        label=f"pooled, {s}") for s in strata if np.isfinite(
                            pooled.loc[pooled["stratum"] == s, "effect"]).any()]
    height = fig.get_figheight()
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 2), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0.0, min(0.45, 0.6 / height), 1.0, 1.0))
    else:
        fig.tight_layout()
    return fig
