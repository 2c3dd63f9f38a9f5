"""The report as its readers see it: headless Chromium opens ``reports/report.html`` of a real run.

Reuses the GT23 replica run of tests/integration/conftest.py (``gt23_run``),
so no extra workflow run. Needs Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them); skipped with the reason
where they are missing. Checks, at a 1280 px wide window:

* every image decodes (``naturalWidth > 0``);
* the claims scorecard's verdict column and every p-value column of the
  Results tables are inside the viewport without horizontal scrolling;
* a print to PDF (Chrome DevTools ``Page.printToPDF`` through selenium's
  ``execute_cdp_cmd``) contains every column name of the Results tables
  (text extracted with pypdf), so printing cuts nothing off.

A screenshot of the top of the report (and the printed PDF) is saved in
``reports/screenshots/`` of the repository (kept by CI as an artifact;
ignored by git).
"""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import pytest

from .workflow import REPO

pytestmark = pytest.mark.integration

WIDTH = 1280
#: CI artifact folder (ignored by git)
SCREENSHOTS = REPO / "reports" / "screenshots"


def _chromium() -> tuple[str, str]:
    browser = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver",
                               "/usr/lib/chromium/chromedriver") if p and Path(p).exists()), None)
    if browser is None or driver is None:
        pytest.skip("headless Chromium not available: install Debian's chromium and chromium-driver "
                    f"(apt-get install -y chromium chromium-driver); found browser={browser}, driver={driver}")
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    binary, driver_path = _chromium()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra of pyproject.toml")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},1000", "--hide-scrollbars"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=driver_path)
    drv = webdriver.Chrome(options=options, service=service)
    # the report is large (figures embedded): printing it takes longer than chromedriver's default waits
    drv.set_page_load_timeout(600)
    drv.set_script_timeout(600)
    try:
        # the viewport, not the window, must be 1280 px wide
        inner = drv.execute_script("return window.innerWidth")
        drv.set_window_size(WIDTH + (WIDTH - inner), 1000)
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def report(gt23_run, browser):
    work = gt23_run[0]
    html = work / "reports" / "report.html"
    assert html.exists()
    browser.get(html.resolve().as_uri())
    assert browser.execute_script("return window.innerWidth") == WIDTH
    return work, browser


def test_every_image_decodes(report):
    _, drv = report
    images = drv.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);")
    assert images, "the report has no figure"
    broken = [alt for alt, complete, width in images if not complete or width <= 0]
    assert not broken, f"figures that do not decode: {broken}"


_COLUMN_BOXES = """
const want = arguments[0];
const out = [];
for (const th of document.querySelectorAll(arguments[1] + ' th')) {
  const code = th.querySelector('code');
  const name = code ? code.textContent.trim() : th.textContent.trim();
  if (!want.includes(name)) continue;
  const r = th.getBoundingClientRect();
  const wrap = th.closest('.tablewrap') || th.closest('table');
  out.push([name, r.left + window.scrollX, r.right + window.scrollX, wrap.scrollWidth, wrap.clientWidth]);
}
return out;
"""


def _visible_columns(drv, selector: str, names: list[str]) -> list:
    boxes = drv.execute_script(_COLUMN_BOXES, names, selector)
    doc = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert doc[0] <= doc[1], f"the page scrolls sideways: {doc[0]} px wide at {doc[1]} px"
    return boxes


def test_scorecard_verdict_and_results_p_values_need_no_horizontal_scroll(report):
    _, drv = report
    sections = drv.execute_script(
        "return Array.from(document.querySelectorAll('section')).map(s => [s.id, s.querySelector('h2').textContent]);")
    ids = {title: sid for sid, title in sections}
    boxes = _visible_columns(drv, f"#{ids['Claims scorecard']}", ["verdict"])
    assert boxes, "the scorecard has no verdict column"
    p_columns = ["p_t", "p_wilcoxon", "p_holm", "lmm_p", "lmm_p_holm", "tost_p"]
    boxes += _visible_columns(drv, f"#{ids['Results']}", p_columns)
    assert {b[0] for b in boxes} >= {"verdict", "p_t", "p_holm", "lmm_p", "lmm_p_holm"}
    for name, left, right, scroll_w, client_w in boxes:
        assert 0 <= left and right <= WIDTH, f"column {name} is outside the 1280 px viewport ({left}-{right})"
        assert scroll_w <= client_w, f"the table of column {name} scrolls sideways ({scroll_w} > {client_w})"


def test_print_to_pdf_contains_every_results_column(report):
    from pypdf import PdfReader

    work, drv = report
    names = drv.execute_script("""
        const sec = Array.from(document.querySelectorAll('section')).find(
            s => s.querySelector('h2').textContent === 'Results');
        return Array.from(new Set(Array.from(sec.querySelectorAll('th code')).map(c => c.textContent.trim())));""")
    assert {"mean_diff", "p_holm", "lmm_estimate", "lmm_p_holm"} <= set(names)
    # Chrome DevTools Page.printToPDF with the report's own @page size (A4 landscape); selenium's print_page
    # sends the same command through chromedriver but with a fixed 10 s renderer wait the report exceeds
    pdf = base64.b64decode(drv.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "report.pdf").write_bytes(pdf)
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = "".join(text.split())  # a long name may be broken over two lines of a narrow column
    missing = [n for n in names if n not in text and n not in flat]
    assert not missing, f"column names not in the printed PDF: {missing}"


def test_screenshot_of_the_top_is_kept(report):
    _, drv = report
    drv.execute_script("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / "report-top.png"
    assert drv.save_screenshot(str(out))
    assert out.stat().st_size > 10_000
