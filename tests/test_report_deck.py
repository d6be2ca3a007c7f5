"""report.pptx: the demo's deck opened with python-pptx (slides, every finding's sentence, the
chart pictures, East Asian font, nothing for the consultant's eyes only), and the page reader."""

from __future__ import annotations

import json

import pytest

from crmlib.report.deck import page_blocks, section


def _texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


@pytest.fixture(scope="module")
def deck(demo_report):
    from pptx import Presentation

    return Presentation(demo_report / "report.pptx")


def _findings(demo_report) -> list[tuple[str, str]]:
    """(headline, sentence) of every finding, read back from the index page's summary."""
    from html.parser import HTMLParser

    class Summary(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.items, self.where = [], None

        def handle_starttag(self, tag, attrs):
            cls = dict(attrs).get("class") or ""
            if "crm-finding-figure" in cls:
                self.items.append(["", ""]); self.where = 0
            elif "crm-finding-text" in cls:
                self.where = 1
            elif "crm-badge" in cls or "crm-finding-link" in cls or "crm-finding-ref" in cls:
                self.where = None

        def handle_endtag(self, tag):
            if tag == "span" and self.where == 0 or tag == "p":
                self.where = None
            elif tag == "span" and self.where is None and self.items and not self.items[-1][1]:
                self.where = 1  # after the badge the sentence follows

        def handle_data(self, data):
            if self.where is not None and self.items:
                self.items[-1][self.where] += data

    reader = Summary()
    reader.feed((demo_report / "index.html").read_text(encoding="utf-8"))
    return [(h.strip(), s.strip()) for h, s in reader.items]


@pytest.mark.slow
def test_deck_has_title_findings_chapter_charts_and_strategy_steps(deck, demo_report):
    findings = _findings(demo_report)
    metrics = json.loads((demo_report / "metrics.json").read_text(encoding="utf-8"))
    chapters = metrics["report"]["chapters"]
    assert len(findings) == 8 and all(len(sentence) > 20 for _h, sentence in findings)  # max_findings
    # title + one per finding + one key chart per chapter + the six steps
    assert len(deck.slides) == 1 + len(findings) + len(chapters) + 1
    all_text = ["\n".join(_texts(slide)) for slide in deck.slides]
    assert "サンプル通販ショップ CRM分析レポート" in all_text[0]
    for (headline, sentence), text in zip(findings, all_text[1:]):
        assert headline in text and sentence in text
    chart_slides = list(deck.slides)[1 + len(findings): 1 + len(findings) + len(chapters)]
    assert all(any(shape.shape_type == 13 for shape in slide.shapes) for slide in chart_slides)  # pictures
    steps = all_text[-1]
    for heading in ("4.1 目標設定", "4.2 ターゲット", "4.3 カスタマージャーニーマップ", "4.4 サービスプロセス",
                    "4.5 施策の実行記録", "4.6 KPI"):
        assert heading in steps


@pytest.mark.slow
def test_deck_text_is_editable_with_a_japanese_font_and_no_consultant_notes(deck):
    from pptx.oxml.ns import qn

    runs = [run for slide in deck.slides for shape in slide.shapes if shape.has_text_frame
            for paragraph in shape.text_frame.paragraphs for run in paragraph.runs]
    assert runs and all(run._r.get_or_add_rPr().find(qn("a:ea")) is not None for run in runs)
    text = "\n".join(run.text for run in runs)
    for leak in ("strategy.journey.text", "ltv.cpa", "記入してください", "To fill in", "YAML"):
        assert leak not in text


def test_page_blocks_and_sections():
    page = ('<main><h2 id="a">1.1 A</h2><p class="crm-takeaway">要点 <b>A</b></p><h3 id="a1">1.1.1 x</h3>'
            '<img class="crm-figure" alt="f" src="data:image/png;base64,iVBORw0KGgo="><p class="crm-note">n</p>'
            '<h2 id="b">1.2 B</h2></main>')
    blocks = page_blocks(page)
    assert [(b.kind, b.anchor or b.text) for b in blocks] == [
        ("h2", "a"), ("takeaway", "要点 A"), ("h3", "a1"), ("figure", "f"), ("h2", "b")]
    assert [b.kind for b in section(blocks, "a")] == ["h2", "takeaway", "h3", "figure"]
    assert [b.kind for b in section(blocks, "a1")] == ["h3", "figure"]
    assert blocks[3].png == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("draft", ["", "DRAFT (strategy templates not filled in)"])
def test_build_deck_from_pages_with_logo_colours_and_draft(draft):
    """No kernel: two findings, a chapter page with one chart, the client's logo and colours."""
    import base64
    import io

    from PIL import Image
    from pptx import Presentation
    from pptx.dml.color import RGBColor

    from crmlib.report.deck import build_deck
    from crmlib.report.html import PageFrame
    from crmlib.report.summary import Finding

    def png(colour: str) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (40, 20), colour).save(out, format="PNG")
        return out.getvalue()

    chart = base64.b64encode(png("blue")).decode()
    page = (f'<main><h2 id="f2">1.8 F2</h2><p class="crm-takeaway">F2 is 25%.</p>'
            f'<img class="crm-figure" alt="F2" src="data:image/png;base64,{chart}"><h2 id="kpi">1.1 KPIs</h2>'
            '<div class="crm-table-wrap"><table class="crm-table"><thead><tr><th>Metric</th><th>Value</th></tr></thead>'
            '<tbody><tr><td>Revenue</td><td class="crm-num">¥17,066,990</td></tr></tbody></table></div></main>')
    logo = "data:image/png;base64," + base64.b64encode(png("red")).decode()
    frame = PageFrame(lang="en", client="Shop", as_of="2024-05-01", version="9", fingerprint="Data x.csv",
                      logo=logo, primary="#112233", accent="#aa5500")
    findings = [Finding(rule="f2", chapter="01_diagnosis", anchor="f2", alert=True, priority=1,
                        text="F2 conversion is 25.0%.", headline="25.0%"),
                Finding(rule="kpi", chapter="01_diagnosis", anchor="kpi", alert=False, priority=1,
                        text="Revenue is ¥17.1M.", headline="¥17.1M")]
    deck = Presentation(io.BytesIO(build_deck(frame=frame, title="Shop: CRM report", findings=findings,
                                              chapters=[("01_diagnosis", "1. Diagnosis", page)], draft=draft)))
    slides = list(deck.slides)
    assert len(slides) == 1 + 2 + 1  # title, two findings, the chapter's chart (no strategy chapter)
    pictures = [[s for s in slide.shapes if s.shape_type == 13] for slide in slides]
    assert [len(p) for p in pictures] == [1, 1, 0, 1]  # logo; the F2 section's chart; none in 1.1; the chapter's
    # a finding whose section has no chart shows the section's table, as a native (editable) table
    from pptx.enum.text import PP_ALIGN

    (table,) = [s.table for s in slides[2].shapes if s.has_table]
    assert [[table.cell(i, j).text for j in range(2)] for i in range(2)] == [["Metric", "Value"],
                                                                           ["Revenue", "¥17,066,990"]]
    assert table.cell(1, 1).text_frame.paragraphs[0].alignment == PP_ALIGN.RIGHT
    assert not [s for s in slides[1].shapes if s.has_table]
    runs = {run.text: run for slide in slides for shape in slide.shapes if shape.has_text_frame
            for paragraph in shape.text_frame.paragraphs for run in paragraph.runs}
    assert runs["Shop: CRM report"].font.color.rgb == RGBColor(0x11, 0x22, 0x33)
    assert runs["25.0%"].font.color.rgb == RGBColor(0xAA, 0x55, 0x00)
    assert "F2 conversion is 25.0%." in runs and "F2 is 25%." in runs
    assert sum(text == draft for text in runs) == (1 if draft else 0)  # one text, on every slide
    marks = [any(bool(draft) and s.has_text_frame and s.text_frame.text == draft for s in slide.shapes)
             for slide in slides]
    assert marks == [bool(draft)] * len(slides)
