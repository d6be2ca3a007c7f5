"""The report's frame without a kernel: `report:` settings, numbering, footer, report.html, fonts."""

from __future__ import annotations

import base64
import io
import re

import pytest
from fontTools.ttLib import TTFont
from nbformat.v4 import new_code_cell, new_notebook, new_output

from crmlib.config import parse_config
from crmlib.errors import ConfigError
from crmlib.report.fonts import FONT_FAMILY, page_characters
from crmlib.report.html import (
    PageFrame, chapter_html, chapter_parts, data_fingerprint, external_urls, index_html, number_sections,
    single_file_html,
)
from crmlib.report.settings import ReportSettings, logo_data_uri
from crmlib.report.summary import Finding

# the smallest valid PNG (1x1, transparent)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _config(report: dict):
    return parse_config({"name": "t", "data": "orders.csv", "report": report})


def test_report_section_is_validated_on_load():
    config = _config({"primary_color": "#AA3300", "accent_color": "#0a0", "single_file": False})
    assert config.report == {"primary_color": "#AA3300", "accent_color": "#0a0", "single_file": False}
    settings = ReportSettings.model_validate(config.report)
    assert (settings.primary_color, settings.accent_color) == ("#aa3300", "#0a0")
    with pytest.raises(ConfigError, match=r"report\.primary_color.*not a hex colour"):
        _config({"primary_color": "red"})
    with pytest.raises(ConfigError, match=r"unknown key 'report\.colour'"):
        _config({"colour": "#fff"})
    with pytest.raises(ConfigError, match=r"report\.max_findings"):
        _config({"max_findings": 40})


@pytest.mark.parametrize("url", ["https://example.com/logo.png", "http://x/l.png", "//cdn.example/l.png",
                                 "file:///etc/logo.png", "data:image/png;base64,AAAA"])
def test_logo_url_is_refused(url):
    with pytest.raises(ConfigError, match=r"report\.logo.*URL"):
        _config({"logo": url})


def test_logo_is_read_relative_to_the_yaml_and_embedded(tmp_path):
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(PNG)
    uri = logo_data_uri(ReportSettings(logo="brand/logo.png"), tmp_path)
    assert uri == "data:image/png;base64," + base64.b64encode(PNG).decode()
    with pytest.raises(ConfigError, match=r"report\.logo: no such file .*missing\.png"):
        logo_data_uri(ReportSettings(logo="missing.png"), tmp_path)
    with pytest.raises(ConfigError, match=r"report\.logo.*\.png"):
        _config({"logo": "logo.bmp"})


def test_fingerprint_from_the_ledger():
    ledger = {"source": {"file": "orders.csv", "sha256": "24acfba1d97250ba38eda64b"}, "input_rows": 59780}
    assert data_fingerprint(ledger, "ja") == "元データ orders.csv（SHA-256 24acfba1d972…、59,780行）"
    assert data_fingerprint(ledger, "en") == "Data orders.csv (SHA-256 24acfba1d972…, 59,780 rows)"
    assert data_fingerprint({}, "en") == ""
    assert data_fingerprint({"source": {"file": "t.csv"}, "input_rows": 10}, "ja") == "元データ t.csv（10行）"


def test_sections_are_numbered_after_their_chapter():
    page = ('<main><h2 id="kpis">1. 主要指標</h2><h2 id="f2">12. F2転換率</h2><h3 id="x">12.1 sub</h3>'
            '<h3 id="y">note</h3></main>')
    assert number_sections(page, 4) == (
        '<main><h2 id="kpis">4.1 主要指標</h2><h2 id="f2">4.12 F2転換率</h2><h3 id="x">4.12.1 sub</h3>'
        '<h3 id="y">note</h3></main>'
    )
    assert number_sections(page, None) == page


def _notebook():
    cell = new_code_cell("x", outputs=[new_output("display_data", data={
        "text/html": '<h2 id="kpis">1. 主要指標</h2><p>売上</p><a href="#kpis">up</a>'
                     '<a href="02_segments.html#cpm">CPM</a><a href="index.html">i</a>',
        "text/plain": "h"})])
    return new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "display_name": "p"}})


FRAME = PageFrame(lang="ja", client="テスト商店", as_of="2024-05-01", version="9.9",
                  fingerprint="元データ t.csv(SHA-256 abc…、10行)", logo="data:image/png;base64,AAAA",
                  primary="#aa3300", accent="#00aa00")


def test_chapter_page_carries_the_frame():
    page = chapter_html(_notebook(), lang="ja", chapter_title="現状診断", client_title="x", as_of="x",
                        version="x", number=1, frame=FRAME)
    assert "<h1>1. 現状診断</h1>" in page and '<h2 id="kpis">1.1 主要指標</h2>' in page
    assert '<a href="#kpis">1.1 主要指標</a>' in page  # the table of contents shows the number
    footer = re.search(r'<footer class="crm-footer">(.*?)</footer>', page, re.S).group(1)
    for part in ("テスト商店|基準日 2024-05-01", "元データ t.csv(SHA-256 abc…、10行)", "crmlib 9.9 で作成"):
        assert f"<li>{part}</li>" in footer
    assert re.search(r'<img (?=[^>]*class="crm-logo")(?=[^>]*src="data:image/png;base64,AAAA")'
                     r'(?=[^>]*alt="テスト商店 ロゴ")', page)
    assert "--crm-primary: #aa3300; --crm-accent: #00aa00;" in page
    assert external_urls(page) == []


def _font_chars(page: str) -> set[str]:
    data = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    font = TTFont(io.BytesIO(base64.b64decode(data)))
    return {chr(code) for code in font.getBestCmap()}


def test_embedded_font_holds_exactly_the_japanese_characters_of_the_page():
    page = chapter_html(_notebook(), lang="ja", chapter_title="現状診断", client_title="x", as_of="x",
                        version="x", number=1, frame=FRAME)
    assert f'font-family: "{FONT_FAMILY}"' in page
    shown = page_characters(re.sub(r"<style.*?</style>", "", page, flags=re.S))
    assert {"現", "状", "診", "断", "売", "上", "商", "店", "…"} <= shown
    assert _font_chars(page) == shown
    off = chapter_html(_notebook(), lang="ja", chapter_title="現状診断", client_title="x", as_of="x",
                       version="x", number=1, frame=PageFrame(**{**FRAME.__dict__, "embed_font": False}))
    assert "@font-face" not in off and "<!--crm-font-->" not in off


def test_english_page_embeds_a_font_only_for_japanese_client_data():
    page = index_html(lang="en", client_title="Shop", as_of="2024-05-01", version="9.9", chapters=[], files=[])
    assert "·" in page and "@font-face" not in page and "<!--crm-font-->" not in page
    page = index_html(lang="en", client_title="茶舗", as_of="2024-05-01", version="9.9", chapters=[], files=[])
    assert _font_chars(page) == {"茶", "舗", "·"}


def test_chapter_parts_prefix_ids_and_links():
    page = chapter_html(_notebook(), lang="ja", chapter_title="現状診断", client_title="x", as_of="x",
                        version="x", number=1, frame=FRAME)
    toc, body = chapter_parts(page, "01_diagnosis")
    assert '<a href="#01_diagnosis--kpis">' in toc
    assert '<h2 id="01_diagnosis--kpis">1.1 主要指標</h2>' in body
    assert '<a href="#01_diagnosis--kpis">up</a>' in body
    assert '<a href="#02_segments--cpm">CPM</a>' in body and '<a href="#top">i</a>' in body


def _ids_and_links(page: str) -> tuple[set[str], set[str]]:
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    links = {h[1:] for h in re.findall(r'\bhref="([^"]+)"', page) if h.startswith("#")}
    return ids, links


def test_single_file_has_every_chapter_and_working_in_page_links():
    chapter = chapter_html(_notebook(), lang="ja", chapter_title="現状診断", client_title="x", as_of="x",
                           version="x", number=1, frame=FRAME)
    other = chapter_html(_notebook(), lang="ja", chapter_title="顧客セグメント", client_title="x", as_of="x",
                         version="x", number=2, frame=FRAME).replace("kpis", "cpm")
    finding = Finding(rule="f2_conversion", chapter="01_diagnosis", anchor="kpis", alert=True, priority=90,
                      text="F2転換率は25.0%です。", headline="25.0%")
    page = single_file_html(frame=FRAME, findings=[finding], chapters=[
        ("01_diagnosis", "1. 現状診断", chapter), ("02_segments", "2. 顧客セグメント", other)])
    ids, links = _ids_and_links(page)
    assert links and links <= ids, links - ids
    assert {"top", "summary", "01_diagnosis", "02_segments", "01_diagnosis--kpis", "02_segments--cpm"} <= ids
    assert '<a class="crm-finding-link" href="#01_diagnosis--kpis">' in page
    assert not [h for h in re.findall(r'\b(?:href|src)="([^"]+)"', page) if not h.startswith(("#", "data:"))]
    assert page.count("<footer") == 1 and page.count("<main>") == 1
    assert external_urls(page) == []


def test_embedded_font_bytes_do_not_depend_on_the_clock():
    import time

    from crmlib.report.fonts import subset_woff

    first = subset_woff(set("基準日"))
    time.sleep(1.1)  # fontTools stamps head.modified in seconds unless told not to
    assert subset_woff(set("基準日")) == first


def test_the_subset_draws_the_fonts_own_outlines_within_its_bounds():
    from fontTools.ttLib import TTFont

    from crmlib.report.fonts import font_path, subset_woff

    text = "現状診断の休眠顧客"
    full, part = TTFont(str(font_path())), TTFont(io.BytesIO(subset_woff(set(text))))
    for char in text:
        source, kept = full["glyf"][full.getBestCmap()[ord(char)]], part["glyf"][part.getBestCmap()[ord(char)]]
        assert list(kept.getCoordinates(part["glyf"])[0]) == list(source.getCoordinates(full["glyf"])[0])
        assert part["hmtx"][part.getBestCmap()[ord(char)]] == full["hmtx"][full.getBestCmap()[ord(char)]]
        # the bounds kept from the whole font (not recalculated for the subset) hold every glyph
        head, glyph = part["head"], kept
        assert head.xMin <= glyph.xMin and head.yMin <= glyph.yMin
        assert glyph.xMax <= head.xMax and glyph.yMax <= head.yMax
        assert glyph.numberOfContours <= part["maxp"].maxContours
    assert part["hhea"].ascent == full["hhea"].ascent and part["hhea"].descent == full["hhea"].descent


def test_a_missing_logo_stops_the_report_before_any_notebook_runs(tiny_processed_dir, tmp_path):
    import datetime as dt

    from crmlib.config import load_config
    from crmlib.report import render_report

    yaml_path = tmp_path / "client.yaml"
    yaml_path.write_text("name: t\ndata: orders.csv\nreport:\n  logo: brand/logo.png\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"report\.logo: no such file .*brand/logo\.png"):
        render_report(load_config(yaml_path), tiny_processed_dir, dt.date(2024, 5, 1), tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


def _embedded_glyphs(page: str) -> dict[int, list]:
    """Code point -> outline points of the WOFF font embedded in a page."""
    from fontTools.ttLib import TTFont

    data = re.search(r"data:font/woff;base64,([A-Za-z0-9+/=]+)", page).group(1)
    font = TTFont(io.BytesIO(base64.b64decode(data)))
    glyf = font["glyf"]
    return {cp: list(glyf[name].getCoordinates(glyf)[0]) if glyf[name].numberOfContours else []
            for cp, name in font.getBestCmap().items()}


def test_the_pages_of_a_report_share_one_subset_of_the_glyphs_they_show():
    from crmlib.report.fonts import FONT_MARKER, embed_font, embed_fonts

    pages = {
        "a.html": f"<head>{FONT_MARKER}</head><p>現状診断 F2転換率 ¥1,000</p>",
        "b.html": f"<head>{FONT_MARKER}</head><p>休眠顧客 — 客単価</p>",
        "c.html": f"<head>{FONT_MARKER}</head><p>only ASCII and · here</p>",
        "d.html": "<p>no marker: left alone 顧客</p>",
    }
    shared = embed_fonts(pages)
    # the pages showing Japanese hold the non-ASCII characters of both (the '·'-only page and
    # the marker-less page get no font) ...
    both = {ord(c) for c in "現状診断転換率¥休眠顧客—単価"}
    assert set(_embedded_glyphs(shared["a.html"])) == both
    assert shared["a.html"].split("</style>")[0] == shared["b.html"].split("</style>")[0]
    assert FONT_MARKER not in shared["c.html"] and "@font-face" not in shared["c.html"]
    assert shared["d.html"] == pages["d.html"]
    # ... with the outlines a subset of the whole font gives for those characters
    one_page = f"<head>{FONT_MARKER}</head><p>現状診断 F2転換率 ¥1,000 休眠顧客 — 客単価</p>"
    assert _embedded_glyphs(shared["a.html"]) == _embedded_glyphs(embed_font(one_page))
    assert embed_fonts(pages, enabled=False)["a.html"] == pages["a.html"].replace(FONT_MARKER, "")


def test_page_characters_are_the_non_ascii_characters_shown():
    page = "<p>F2転換率\u3000は 1,707万円\xa0(\u00e9\u2014✓😀)\x7f\x80</p>" + "QUJD" * 1000 + "<td>休眠顧客</td>"
    expected = {c for c in set(page) if ord(c) > 0x7F and not c.isspace()}
    assert page_characters(page) == expected
    assert "\u3000" not in expected and "\xa0" not in expected and "\x80" in expected  # spaces drawn by any font
