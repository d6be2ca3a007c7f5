"""Print and report.pdf: the A4 page frame in CSS (no browser needed) and the demo's report.pdf
read back with pypdf (needs headless Chromium, which prints it; skipped without)."""

from __future__ import annotations

import json
import re

import pytest

from crmlib.report.chromium import find_chromium
from crmlib.report.html import PageFrame, css_string, section_numbers

A4_POINTS = (595.28, 841.89)  # 210 x 297 mm at 72 pt per inch


def test_css_string_escapes_what_could_end_the_string_or_the_style():
    assert css_string('a"b\\c</style>\n') == '"a\\22 b\\5c c\\3c /style\\3e \\a "'
    assert css_string("元データ orders.csv") == '"元データ orders.csv"'


def test_every_printed_page_carries_client_date_fingerprint_and_page_number():
    frame = PageFrame(lang="ja", client="テスト商店", as_of="2024-05-01", version="9.9",
                      fingerprint="元データ orders.csv(SHA-256 24acfba1d97b…、10行)")
    css = frame.identity_css
    assert "@page { size: A4;" in css
    assert '@bottom-left { content: "テスト商店|基準日 2024-05-01 / 元データ orders.csv(SHA-256 24acfba1d97b…、10行)"' in css
    assert '@bottom-right { content: counter(page) " / " counter(pages);' in css


def test_section_numbers_of_the_chapter_headings():
    page = ('<main><h2 id="f2">1.8 F2転換率</h2><h3 id="f2-detail">1.8.1 内訳</h3><h2 id="x">付録</h2></main>')
    assert section_numbers({"01_diagnosis": page}) == {"01_diagnosis#f2": "1.8", "01_diagnosis#f2-detail": "1.8.1"}


@pytest.fixture(scope="module")
def pdf(demo_report):
    path = demo_report / "report.pdf"
    if find_chromium() is None:
        pytest.skip("headless Chromium not installed (Debian/Ubuntu: apt-get install chromium): no report.pdf")
    from pypdf import PdfReader

    assert path.is_file(), "Chromium is installed but the report has no report.pdf"
    return PdfReader(path)


@pytest.mark.slow
def test_report_pdf_is_a4_with_the_fingerprint_and_page_number_on_every_page(pdf, demo_report):
    ledger = json.loads((demo_report / "ledger.json").read_text(encoding="utf-8"))
    sha = ledger["source"]["sha256"][:12]
    pages = [page.extract_text() for page in pdf.pages]
    assert len(pages) > 5
    for number, (page, text) in enumerate(zip(pdf.pages, pages), start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - A4_POINTS[0]) < 1 and abs(height - A4_POINTS[1]) < 1, number
        assert sha in text, f"page {number} has no data fingerprint"
        assert re.search(rf"(?<!\d){number}\s*/\s*{len(pages)}(?!\d)", text), f"page {number} has no page number"


@pytest.mark.slow
def test_report_pdf_has_extractable_japanese_and_links_as_section_numbers(pdf):
    first = re.sub(r"\s+", "", pdf.pages[0].extract_text())  # pypdf spaces some CJK runs
    assert "エグゼクティブサマリー" in first and "サンプル通販ショップ" in first
    assert "詳細は" in first and "詳しく見る" not in first  # links on paper name the section
    assert re.search(r"詳細は\d+\.\d+", first)
