"""Report rendering: escaping of data text, number formatting, embedded figures."""

import pandas as pd

from retrogait.report.render import Figure, Section, fmt, render_report, software_versions, table_html


def test_html_in_data_is_escaped():
    html = table_html(pd.DataFrame({"trial": ["<script>alert(1)</script>"], "value": [1.5]}))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_number_formatting():
    assert fmt(0.123456) == "0.123"
    assert fmt(float("nan")) == ""
    assert fmt(0.0000123) == "1.23e-05"
    assert fmt(12) == "12" and fmt(True) == "yes"


def test_report_embeds_figures_and_escapes_titles(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = tmp_path / "f.png"
    fig.savefig(png)
    sections = [Section("Results <b>", paragraphs=["a < b"], tables=[("t", pd.DataFrame({"x": [1.0]}))],
                        figures=[Figure("fig", str(png), "caption & more")])]
    out = tmp_path / "r.html"
    render_report(title="T <i>", question="Q?", sections=sections, software=software_versions(), output=out)
    html = out.read_text()
    assert "data:image/png;base64," in html
    assert "Results &lt;b&gt;" in html and "T &lt;i&gt;" in html and "caption &amp; more" in html
    assert "retrogait" in html and "numpy" in html


def test_software_section_states_lock_and_differences():
    lock = {"file": "requirements-lock.txt", "sha256": "ab" * 32, "n_locked": 90, "n_checked": 80, "differs": {}}
    sw = software_versions(lock)
    assert sw["lock file"] == f"requirements-lock.txt, sha256 {'ab' * 32} (90 packages pinned)"
    assert "every locked package installed here is at its locked version (80 checked)" == sw["environment vs lock"]
    sw = software_versions({**lock, "differs": {"pandas": ("3.0.0", "3.1.1")}})
    assert sw["environment vs lock"] == "DIFFERS from the lock in 1 package(s): pandas 3.0.0 (locked 3.1.1)"
    assert "not found" in software_versions({**lock, "sha256": None})["lock file"]
    assert sw["platform"] and sw["numpy"]
