"""The self-contained HTML report.

One file: figures are embedded as base64 PNG, tables are rendered inline,
all text coming from data or config is HTML-escaped (Jinja2 autoescape), so
metadata such as ``<script>`` in a trial name is shown, never executed.
"""

from __future__ import annotations

import base64
import importlib.metadata
import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from retrogait.gait.catalog import label as measure_label
from retrogait.io import write_text

__all__ = ["Figure", "Section", "software_versions", "render_report", "fmt", "format_table", "decimals_for",
           "table_html", "csv_data_uri", "COLUMN_LABELS", "SCALE_GROUPS"]

SOFTWARE = ("retrogait", "numpy", "scipy", "pandas", "pyarrow", "ezc3d", "statsmodels", "spm1d",
            "matplotlib", "seaborn", "jinja2", "snakemake", "remotezip", "requests")


@dataclass(frozen=True)
class Figure:
    """An embedded figure with its caption."""

    title: str
    path: str
    caption: str

    def data_uri(self) -> str:
        data = base64.b64encode(Path(self.path).read_bytes()).decode("ascii")
        return f"data:image/png;base64,{data}"


@dataclass
class Section:
    """A titled block of paragraphs, definition items and tables."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    #: a prominent warning shown before everything else in the section (e.g. no backward walking)
    notice: str = ""
    items: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    subsections: list["Section"] = field(default_factory=list)


def software_versions(lock: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Versions of Python and of the packages the results depend on, and the lock they came from.

    Parameters
    ----------
    lock : mapping, optional
        :func:`retrogait.codeversion.lock_status` of the project's lock file;
        adds its name and sha256 and whether the installed packages match it.
    """
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in SOFTWARE:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    if lock is not None:
        if lock.get("sha256") is None:
            out["lock file"] = f"{lock['file']} not found: versions are whatever was installed"
        else:
            out["lock file"] = f"{lock['file']}, sha256 {lock['sha256']} ({lock['n_locked']} packages pinned)"
            differs = lock.get("differs") or {}
            out["environment vs lock"] = (
                f"every locked package installed here is at its locked version ({lock['n_checked']} checked)"
                if not differs else
                f"DIFFERS from the lock in {len(differs)} package(s): "
                + ", ".join(f"{n} {inst} (locked {want})" for n, (inst, want) in differs.items()))
    return out


_P_COLUMN = re.compile(r"(^|_)p($|_)")
_COUNT_COLUMN = re.compile(r"^(n|m|k)(_|$)|(^|_)(n|count|cycles|trials|subjects|nodes|clusters|cluster)$")

#: Columns of one row that share a scale (same unit): formatted with the same number of decimals, set by
#: the largest of them, so an estimate of -0.000454 beside a CI of ±0.2 reads 0.000, not as noise.
SCALE_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "sd", "mean", "sesoi", "tost_ci90_low",
               "tost_ci90_high", "estimate"}),
    frozenset({"lmm_estimate", "lmm_se", "lmm_ci_low", "lmm_ci_high", "lmm_boot_ci_low", "lmm_boot_ci_high"}),
    frozenset({"dz", "dz_ci_low", "dz_ci_high", "g_av"}),
    frozenset({"effect", "ci_low_g", "ci_high_g"}),
)


def decimals_for(magnitude: float, digits: int = 3) -> int:
    """Decimals that show ``digits`` significant digits of a number of this magnitude (0 to 6)."""
    magnitude = abs(float(magnitude))
    if not np.isfinite(magnitude) or magnitude == 0:
        return 0
    return int(min(6, max(0, digits - 1 - math.floor(math.log10(magnitude)))))


def fmt(value: Any, digits: int = 3, *, decimals: int | None = None, p: bool = False) -> str:
    """Format one number for the report: the single formatting rule of every table and sentence.

    * ``None``/NaN/inf: empty; booleans: ``yes``/``no``; integers as they are;
    * ``p=True``: a p value, ``< 0.001`` or three decimals (``0.046``, ``1.000``);
    * otherwise ``digits`` significant digits (32.1, 0.0123, 1250), never
      trailing zeros beyond them (no ``32.100``), or exactly ``decimals``
      decimals when given (a column or row scale, see :data:`SCALE_GROUPS`);
      a value that rounds to zero is ``0`` or ``0.00``, never ``-0.00``;
      magnitudes of 10^6 and more, or below 10^-4, in scientific notation.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            return ""
        if p:
            return "< 0.001" if v < 0.001 else f"{v:.3f}"
        magnitude = abs(v)
        if decimals is None:
            if magnitude != 0 and (magnitude >= 1e6 or magnitude < 1e-4):
                return f"{v:.{max(digits - 1, 0)}e}"
            decimals = decimals_for(magnitude, digits)
        out = f"{v:.{decimals}f}"
        if float(out) == 0:
            out = out.lstrip("-")
        return out
    return str(value)


def _is_p_column(name: str) -> bool:
    return bool(_P_COLUMN.search(str(name))) and not str(name).startswith("pct")


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def format_table(df: pd.DataFrame, *, digits: int = 3) -> list[list[str]]:
    """Every cell of ``df`` as text, by the rule of :func:`fmt`.

    p-value columns (``p``, ``p_*``, ``*_p``, ``*_p_*``) get the p format;
    counts (``n_*``, ``m``, ``k``...) with whole values are integers; the
    columns of one :data:`SCALE_GROUPS` group in a row share the decimals of
    their largest value; other numbers get ``digits`` significant digits.
    """
    cols = [str(c) for c in df.columns]
    groups = [[c for c in cols if c in g] for g in SCALE_GROUPS]
    rows = []
    for rec in df.itertuples(index=False):
        values = dict(zip(cols, rec))
        shared: dict[str, int] = {}
        for g in groups:
            nums = [abs(float(values[c])) for c in g if isinstance(values[c], (float, np.floating, int, np.integer))
                    and not isinstance(values[c], (bool, np.bool_)) and np.isfinite(float(values[c]))]
            if len(nums) > 1:
                d = decimals_for(max(nums), digits)
                shared.update({c: d for c in g})
        row = []
        for c in cols:
            v = values[c]
            if _is_p_column(c) and isinstance(v, (float, np.floating)):
                row.append(fmt(v, p=True))
            elif (_COUNT_COLUMN.search(c) and isinstance(v, (float, np.floating)) and np.isfinite(v)
                  and float(v).is_integer()):
                row.append(str(int(v)))
            else:
                row.append(fmt(v, digits, decimals=shared.get(c)))
        rows.append(row)
    return rows


#: Column headers a reader understands; the code name (as in the CSV and docs/tables.md) is shown under it.
COLUMN_LABELS = {
    "dataset": "Dataset", "measure": "Measure", "unit": "Unit", "role": "Role", "n_subjects": "Subjects",
    "mean_a": "Mean, level a", "mean_b": "Mean, level b", "mean_diff": "Difference a − b",
    "ci_low": "95 % CI low", "ci_high": "95 % CI high", "dz": "Cohen's d_z", "dz_ci_low": "d_z CI low",
    "dz_ci_high": "d_z CI high", "g_av": "Hedges' g_av", "p_t": "p (paired t)", "p_wilcoxon": "p (Wilcoxon)",
    "p_holm": "p (paired t, Holm)", "lmm_estimate": "Estimate", "lmm_se": "SE", "lmm_df": "df",
    "lmm_ci_low": "95 % CI low", "lmm_ci_high": "95 % CI high", "lmm_boot_ci_low": "Bootstrap CI low",
    "lmm_boot_ci_high": "Bootstrap CI high", "lmm_p": "p", "lmm_p_holm": "p (Holm)",
    "lmm_random_effects": "Random effects", "lmm_converged": "Converged", "lmm_flag": "Flag",
    "lmm_speed_mps_estimate": "Speed slope", "lmm_speed_mps_ci_low": "Speed slope CI low",
    "lmm_speed_mps_ci_high": "Speed slope CI high", "sesoi": "SESOI", "tost_ci90_low": "90 % CI low",
    "tost_ci90_high": "90 % CI high", "tost_p": "p (TOST)", "equivalent": "Equivalent", "claim": "Claim",
    "contrast": "Contrast", "expected": "Expected", "estimate": "Estimate", "p_bonferroni": "p (Bonferroni)",
    "verdict": "Verdict", "reason": "Reason", "condition": "Condition", "subject": "Subject", "trial": "Trial",
    "reason_or_rule": "Rule", "muscle": "Muscle", "channel": "Channel", "cycles": "Cycles",
    "agreement": "Paired vs mixed model", "answer": "Answer", "what_the_data_show": "What the data show", "paired_note": "Note (paired analysis)", "why": "Why not",
    "how_sure": "How sure", "subjects_lacking": "Subjects lacking", "reasons": "Reasons", "kept": "Kept",
    "rejected": "Rejected", "rule": "Rule",
}

#: Columns whose values are measure (or waveform variable) code names: shown with their plain label.
_MEASURE_COLUMNS = ("measure", "variable", "tested_as")


def _cell_html(column: str, text: str) -> Markup:
    if column in _MEASURE_COLUMNS and text:
        human = measure_label(text)
        if human != text:
            return Markup("{}<br><code class='code'>{}</code>").format(human, text)
    return Markup("{}").format(text)


def csv_data_uri(df: pd.DataFrame) -> str:
    """The table as a ``data:text/csv`` URI (UTF-8, base64): full precision, the code column names.

    Embedded in the report next to the table, so a reader downloads every
    table from the self-contained HTML file without a network or a server.
    """
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def table_html(df: pd.DataFrame, *, digits: int = 3, max_rows: int = 500, name: str = "table",
               collapse: bool | None = None) -> str:
    """Render a DataFrame as an escaped HTML table (no index) with a CSV download link.

    Numbers are right-aligned (class ``num``), text left-aligned and
    wrapping; every header shows a readable label with the code name
    (:data:`COLUMN_LABELS`); measure names show their plain label first
    (:func:`retrogait.gait.catalog.label`). The whole table (all rows, full
    precision) is embedded as CSV (:func:`csv_data_uri`) under the download
    name ``<name>.csv``. ``collapse`` (default: more than 60 rows) puts the
    table in a ``<details>`` element that the print stylesheet opens.
    """
    shown = df.head(max_rows)
    cols = [str(c) for c in df.columns]
    numeric = [(_numeric(df[c]) or _is_p_column(c)) and not df[c].dtype == object for c in df.columns]
    rows = format_table(shown, digits=digits)
    # text columns with long unbreakable tokens (checksums, paths, URLs) may break anywhere
    long_token = [not isnum and any(len(tok) > 24 for r in rows for tok in str(r[i]).split())
                  for i, isnum in enumerate(numeric)]
    head = Markup("").join(
        Markup("<th class='{}' scope='col'>{}{}</th>").format(
            "num" if isnum else "txt", COLUMN_LABELS.get(c, c),
            Markup("<br><code class='code'>{}</code>").format(c) if c in COLUMN_LABELS else "")
        for c, isnum in zip(cols, numeric))
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(
            Markup("<td class='{}'>{}</td>").format("num" if isnum else "txt brk" if brk else "txt", _cell_html(c, v))
            for c, v, isnum, brk in zip(cols, r, numeric, long_token)))
        for r in rows)
    more = max(len(df) - max_rows, 0)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "table"
    link = Markup("<a class='csv' download='{}.csv' href='{}'>Download CSV ({} rows)</a>").format(
        safe_name, csv_data_uri(df), len(df))
    table = Markup("<div class='tablewrap'><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>"
                   ).format(head, body)
    note = Markup("<p class='note'>{} more rows in the CSV.</p>").format(more) if more else Markup("")
    if collapse is None:
        collapse = len(df) > 60
    if collapse:
        return str(Markup("<details class='long'><summary>Show the table ({} rows)</summary>{}{}</details>"
                          "<p class='csvline'>{}</p>").format(len(df), table, note, link))
    return str(table + note + Markup("<p class='csvline'>{}</p>").format(link))


_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:)]")


def linkify(text: object) -> Markup:
    """Escape ``text`` and turn every http(s) URL in it into a link (references: DOI and PubMed links)."""
    escaped = str(Markup.escape(str(text)))
    return Markup(_URL.sub(lambda m: f"<a href=\"{m.group(0)}\">{m.group(0)}</a>", escaped))


def render_report(*, title: str, question: str, sections: Sequence[Section], software: Mapping[str, str],
                  output: str | os.PathLike, metadata: Mapping[str, str] | None = None,
                  timings: pd.DataFrame | None = None) -> None:
    """Render the report template into ``output`` (atomic write).

    ``metadata`` (:func:`retrogait.codeversion.run_metadata`): date, code
    version, commit, config and lock hashes, platform, shown under the title.
    Every text (titles, paragraphs, table cells, metadata) is HTML-escaped.

    ``timings`` (:func:`retrogait.report.timings.stage_timings`), when given
    and not empty, is shown in the Software section as the run's stage timings.
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("retrogait.report", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["table_html"] = lambda df, **kw: Markup(table_html(df, **kw))
    env.filters["linkify"] = linkify
    html = env.get_template("report.html.j2").render(title=title, question=question, sections=sections,
                                                       software=software, metadata=dict(metadata or {}),
                                                       timings=timings if timings is not None and len(timings) else None)
    write_text(html, output)
