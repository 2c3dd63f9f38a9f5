"""The self-contained HTML report.

One file: figures are embedded as base64 PNG, tables are rendered inline,
all text coming from data or config is HTML-escaped (Jinja2 autoescape), so
metadata such as ``<script>`` in a trial name is shown, never executed.
"""

from __future__ import annotations

import base64
import importlib.metadata
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from retrogait.io import write_text

__all__ = ["Figure", "Section", "software_versions", "render_report", "fmt", "table_html"]

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


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number for a table: significant digits, p-values as < 0.001."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        magnitude = abs(float(value))
        if magnitude == 0:
            return "0"
        if magnitude >= 10_000 or magnitude < 10 ** (-digits):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def table_html(df: pd.DataFrame, *, digits: int = 3, max_rows: int = 500) -> str:
    """Render a DataFrame as an escaped HTML table (no index)."""
    env = jinja2.Environment(autoescape=True)
    tpl = env.from_string(
        "<table><thead><tr>{% for c in cols %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>"
        "{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>"
        "{% if more %}<p class='note'>{{ more }} more rows in the table file.</p>{% endif %}")
    shown = df.head(max_rows)
    rows = [[fmt(v, digits) for v in row] for row in shown.itertuples(index=False)]
    return tpl.render(cols=list(df.columns), rows=rows, more=max(len(df) - max_rows, 0))


def render_report(*, title: str, question: str, sections: Sequence[Section], software: Mapping[str, str],
                  output: str | os.PathLike, timings: pd.DataFrame | None = None) -> None:
    """Render the report template into ``output`` (atomic write).

    ``timings`` (:func:`retrogait.report.timings.stage_timings`), when given
    and not empty, is shown in the Software section as the run's stage timings.
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("retrogait.report", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["table_html"] = lambda df, **kw: jinja2.utils.markupsafe.Markup(table_html(df, **kw))
    html = env.get_template("report.html.j2").render(title=title, question=question, sections=sections,
                                                       software=software,
                                                       timings=timings if timings is not None and len(timings) else None)
    write_text(html, output)
