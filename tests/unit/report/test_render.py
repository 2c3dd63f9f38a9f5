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


def test_significant_digits_without_noise():
    from retrogait.report.render import decimals_for, format_table

    assert fmt(32.1) == "32.1" and fmt(32.1000001) == "32.1"  # never 32.100
    assert fmt(70.0) == "70.0" and fmt(1234.6) == "1235" and fmt(0.5) == "0.500"
    assert fmt(-0.000454) == "-0.000454"            # alone: three significant digits
    assert fmt(-0.0004, decimals=2) == "0.00"        # in a row scale: rounds to zero, never "-0.00"
    assert fmt(2.5e7) == "2.50e+07"
    assert fmt(0.0004, p=True) == "< 0.001" and fmt(0.04567, p=True) == "0.046" and fmt(1.0, p=True) == "1.000"
    assert decimals_for(0.5) == 3 and decimals_for(12.3) == 1 and decimals_for(250) == 0 and decimals_for(0) == 0
    df = pd.DataFrame({"measure": ["a"], "mean_diff": [-0.000454], "ci_low": [-0.21], "ci_high": [0.2],
                       "p_holm": [0.0001], "lmm_p": [0.2], "n_subjects": [12.0], "pct_flagged": [0.5]})
    (row,) = format_table(df)
    assert row == ["a", "0.000", "-0.210", "0.200", "< 0.001", "0.200", "12", "0.500"]


def test_tables_align_numbers_right_text_left_and_label_measures():
    html = table_html(pd.DataFrame({"measure": ["pfj_stress_peak"], "reason": ["long text"], "p_t": [0.01]}))
    assert "<td class='txt'>Peak kneecap (patellofemoral) stress<br><code class='code'>pfj_stress_peak</code>" in html
    assert "<td class='num'>0.010</td>" in html and "<td class='txt'>long text</td>" in html
    assert "p (paired t)<br><code class='code'>p_t</code>" in html


def test_every_table_embeds_its_csv():
    import base64
    import io
    import re

    df = pd.DataFrame({"trial": ["a,b", "<x>"], "value": [1.23456789, float("nan")]})
    html = table_html(df, name="Quality control / trials")
    m = re.search(r"download='([^']+)' href='data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)'", html)
    assert m and m.group(1) == "Quality_control_trials.csv"
    back = pd.read_csv(io.StringIO(base64.b64decode(m.group(2)).decode("utf-8")))
    pd.testing.assert_frame_equal(back, df)  # every row, full precision, the code column names


def test_every_text_from_data_or_config_is_escaped(tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    sections = [Section(f"S {evil}", paragraphs=[evil], notice=evil, items=[(evil, evil)],
                        tables=[(evil, pd.DataFrame({evil: [evil], "measure": [evil]}))],
                        subsections=[Section(evil, paragraphs=[evil])])]
    out = tmp_path / "r.html"
    render_report(title=evil, question=evil, sections=sections, software={"retrogait": evil, evil: evil},
                  metadata={evil: evil}, output=out)
    html = out.read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_urls_become_links_and_stay_escaped():
    from retrogait.report.render import linkify

    out = str(linkify('Holm (1979). https://doi.org/10.2307/4615733. <b>x</b> "https://a.b/?q=<script>"'))
    assert '<a href="https://doi.org/10.2307/4615733">https://doi.org/10.2307/4615733</a>.' in out
    assert "<b>" not in out and "<script>" not in out


def test_every_catalog_measure_has_a_plain_label():
    # a measure added to the catalog without a label would reach readers as its code name
    from retrogait.gait.catalog import MEASURES, label

    unlabelled = [n for n in MEASURES if label(n) == n]
    assert unlabelled == [], f"measures without a plain-language label in gait/catalog.py LABELS: {unlabelled}"
    assert label("hip_extensor_work_positive_stance") == "Shortening (concentric) hip extensor work in stance"
