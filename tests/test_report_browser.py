"""The demo report in a real browser (headless Chromium): no sideways page scroll and no table
past the content column at 1280 px and 390 px, tables scrolling only inside their own box, the
summary's figure stacked above its sentence on a phone. Screenshots are kept in the test's tmp
folder for a person to look at. Skipped when Chromium is absent (Debian: apt-get install chromium).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from crmlib.report.chromium import dump_dom, find_chromium, screenshot

pytestmark = pytest.mark.slow

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                    "(Debian/Ubuntu: apt-get install chromium)")

# Runs inside the test harness page: measures the framed report page and writes the result into the
# harness's DOM, which --dump-dom prints (the report pages themselves carry no script).
CHECK = """
const frame = document.getElementById("page");
frame.addEventListener("load", () => {
  const d = frame.contentDocument;
  d.fonts.ready.then(() => {
    const vw = d.documentElement.clientWidth;
    const out = {viewport: vw, page_overflow: d.documentElement.scrollWidth - vw, tables: 0,
                 overflowing: [], scrolling: [], unwrapped: 0, stacked: null};
    d.querySelectorAll("table.crm-table").forEach((t, i) => {
      out.tables += 1;
      const box = t.closest(".crm-table-wrap");
      if (!box) { out.unwrapped += 1; return; }
      const r = box.getBoundingClientRect();
      if (r.right > vw + 1 || r.left < -1) out.overflowing.push(i);
      if (box.scrollWidth > box.clientWidth + 1) out.scrolling.push(i);
    });
    const li = d.querySelector(".crm-summary li");
    if (li) {
      const f = li.querySelector(".crm-finding-figure").getBoundingClientRect();
      const x = li.querySelector(".crm-finding-text").getBoundingClientRect();
      out.stacked = f.bottom <= x.top + 1;
    }
    const pre = document.createElement("pre"); pre.id = "result";
    pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  });
});
"""


def harness(page: Path, width: int, height: int) -> str:
    """A page showing the report page in an iframe exactly width px wide (headless Chromium's
    window is at least 500 px wide, so a phone is an iframe) and measuring it."""
    source = html.escape(page.read_text(encoding="utf-8"), quote=True)
    return (f'<!DOCTYPE html><html><body style="margin:0"><iframe id="page" style="border:0;width:{width}px;'
            f'height:{height}px" srcdoc="{source}"></iframe><script>{CHECK}</script></body></html>')


def measure(page: Path, width: int, tmp: Path) -> dict:
    """The layout facts of one page at one width (and a screenshot of its top beside it)."""
    probe = tmp / f"{page.stem}-{width}.html"
    probe.write_text(harness(page, width, 2400), encoding="utf-8")
    screenshot(CHROMIUM, probe, tmp / f"{page.stem}-{width}.png", max(width, 500), 2400)
    dom = dump_dom(CHROMIUM, probe, max(width, 500) + 20, 900)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom)
    assert found, f"the layout check did not run on {page.name} at {width}px"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def layout(demo_report, tmp_path_factory):
    """Measurements of the index and the segments chapter at desktop and phone widths."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (Debian/Ubuntu: apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("browser")
    return {(name, width): measure(demo_report / name, width, tmp)
            for name in ("index.html", "02_segments.html") for width in (1280, 390)}


@needs_chromium
@pytest.mark.parametrize("name", ["index.html", "02_segments.html"])
@pytest.mark.parametrize("width", [1280, 390])
def test_no_sideways_page_scroll_and_tables_inside_the_column(layout, name, width):
    facts = layout[(name, width)]
    assert facts["viewport"] == width
    assert facts["page_overflow"] == 0
    assert facts["unwrapped"] == 0 and facts["overflowing"] == []


@needs_chromium
def test_chapter_tables_fit_a_desktop_and_scroll_in_their_box_on_a_phone(layout):
    desktop, phone = layout[("02_segments.html", 1280)], layout[("02_segments.html", 390)]
    assert desktop["tables"] >= 5 and desktop["scrolling"] == []
    assert phone["scrolling"]  # the wide ones scroll inside their own box, not the page


@needs_chromium
def test_summary_figure_stacks_above_its_sentence_on_a_phone(layout):
    assert layout[("index.html", 390)]["stacked"] is True
    assert layout[("index.html", 1280)]["stacked"] is False
