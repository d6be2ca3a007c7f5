"""Consultant notes apart from client text: setting names, YAML snippets and template cells to
fill in leave the client's pages for consultant/notes.html; unfilled templates mark a draft."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crmlib.report.notes import mark_draft, names_setting, split_notes


def test_setting_names_and_snippets_are_recognised_but_not_file_names():
    assert names_setting("set ltv.cpa in the YAML")
    assert names_setting("segments.exports.include_email を true にします")
    assert names_setting("クライアント設定に顧客獲得単価がないため")
    assert names_setting("「- {segment: 'cpm:first', move_share: 0.1}」のように指定してください")
    assert not names_setting("全章を report.html にまとめました")
    assert not names_setting("F2転換率(90日以内)は24.7%です。")
    assert not names_setting("1.3 ltv")


def test_split_notes_moves_sentences_asides_and_unfilled_cells():
    page = ('<header class="crm-header"></header><main><h2 id="ltv">3.4 計算式によるLTV</h2>'
            '<p class="crm-takeaway">LTVは¥15,752です。クライアント設定に顧客獲得単価(ltv.cpa)がないため、評価は省略しました。</p>'
            '<p class="crm-note">CSVで出力しています(含めるには segments.exports.include_email を true にします)。</p>'
            '<p class="crm-note">「記入してください」の行はクライアントYAMLの strategy.journey.text に書いた内容が入ります。</p>'
            '<table><tr><td>顧客の行動</td><td>記入してください：購入の決め手</td></tr></table></main>')
    client, notes = split_notes(page, "03_ltv", "ja")
    assert '<p class="crm-takeaway">LTVは¥15,752です。</p>' in client
    assert '<p class="crm-note">CSVで出力しています。</p>' in client
    assert "strategy.journey" not in client and "ltv.cpa" not in client and "記入してください" not in client
    assert "<td>顧客の行動</td><td>—</td>" in client
    assert [(n.section, n.unfilled) for n in notes] == [("3.4 計算式によるLTV", False)] * 3 + [("3.4 計算式によるLTV", True)]
    assert notes[0].text == "クライアント設定に顧客獲得単価(ltv.cpa)がないため、評価は省略しました。"
    assert notes[3].text == "記入してください：購入の決め手"



def test_a_section_left_empty_by_its_guidance_says_so_on_the_clients_page():
    """Online Retail has no execution log, experiment or survey: each section's only paragraph is
    the guidance that moves to the consultant's notes, and the client saw bare headings (4.5,
    4.6.1, 4.7). A heading followed by its own subsection, a table or a figure is not empty."""
    import html as html_lib

    from crmlib.i18n import t

    def page(lang: str) -> str:
        def note(key: str) -> str:
            text = t(key, lang, template="execution_log_template.csv")
            return f'<div><p class="crm-note">{html_lib.escape(text)}</p></div>'

        return ('<main><div><h2 id="log">4.5 Execution log</h2></div>' + note("strategy.log.guidance") +
                '<div><h2 id="kpis">4.6 KPIs</h2></div><div><table><tr><td>Revenue</td></tr></table></div>'
                '<div><h3 id="effect">4.6.1 Effect verification</h3></div>' + note("strategy.effect.guidance") +
                '<div><h2 id="journey">4.3 Journey</h2></div><div><h3 id="map">4.3.1 Map</h3></div><img src="x.png">'
                '<div><h2 id="nps">4.7 NPS</h2></div>' + note("strategy.nps.guidance") + '</main>')

    client, notes = split_notes(page("en"), "04_strategy", "en")
    empty = '<p class="crm-empty">Not covered in this report: the data or settings it needs are not there yet.</p>'
    assert client.count(empty) == 3
    for section in ('4.5 Execution log</h2>', '4.6.1 Effect verification</h3>', '4.7 NPS</h2>'):
        assert section + empty in client
    assert "4.6 KPIs</h2>" + empty not in client and "4.3 Journey</h2>" + empty not in client
    assert len(notes) == 3 and "strategy." not in client
    ja, _ = split_notes(page("ja"), "04_strategy", "ja")
    assert ja.count("この項目は、必要なデータまたは設定がまだないため、今回のレポートでは扱っていません。") == 3


def test_a_block_marked_for_the_consultant_moves_whole_with_its_table():
    """nbtools.consultant_table / consultant_note: the LTV model's parameter table and checks."""
    from crmlib.report.nbtools import table_html

    import pandas as pd

    table = table_html(pd.DataFrame({"パラメータ": ["r", "alpha"], "推定値": ["0.52", "41.3"]}))
    page = ('<main><h2 id="params">3.8 予測モデルから見た購入の傾向</h2>'
            f'<section class="crm-consultant">{table}</section>'
            '<p class="crm-takeaway">購入を続けている顧客は平均で年1.4回購入します。</p>'
            '<section class="crm-consultant"><p>Gamma-Gammaの前提として、qは3.10です。</p></section></main>')
    client, notes = split_notes(page, "03_ltv", "ja")
    assert "crm-consultant" not in client and "alpha" not in client and "qは3.10" not in client
    assert '<p class="crm-takeaway">購入を続けている顧客は平均で年1.4回購入します。</p>' in client
    assert [(n.section, bool(n.html)) for n in notes] == [("3.8 予測モデルから見た購入の傾向", True)] * 2
    assert "<table" in notes[0].html and "alpha" in notes[0].html
    from crmlib.report.notes import notes_html

    shown = notes_html(notes, lang="ja", title="notes", chapter_titles={"03_ltv": "3. LTV"}, css="")
    assert "<td>alpha</td>" in shown.replace(' class="crm-num"', "") or ">alpha<" in shown


def test_english_guidance_cells_and_sentences():
    page = ('<main><h2 id="j">4.3 Customer journey map</h2><p>Rows marked "To fill in" come from '
            'strategy.journey.text in the client YAML. The rows below come from the orders.</p>'
            '<table><tr><td>To fill in: what they do</td></tr></table></main>')
    client, notes = split_notes(page, "04_strategy", "en")
    assert "<p>The rows below come from the orders.</p>" in client and "<td>—</td>" in client
    assert [n.unfilled for n in notes] == [False, True]


def test_draft_mark_on_screen_and_on_every_printed_page():
    page = mark_draft('<html><head></head><body><header class="crm-header"><h1>x</h1></header></body></html>',
                      "下書き")
    assert '<p class="crm-draft" role="note">下書き</p>' in page
    assert '@top-right { content: "下書き"' in page


@pytest.mark.slow
def test_an_unfilled_strategy_is_a_draft_without_consultant_text_for_the_client(demo_report, tmp_path):
    """The demo's data with `strategy: {}` (what `init` writes): 30 template cells to fill in."""
    sample = demo_report.parents[2] / "data" / "sample"
    if not (sample / "demo.yaml").is_file():
        pytest.skip("needs the demo folder the demo_report fixture renders")
    text = (sample / "demo.yaml").read_text(encoding="utf-8")
    text = text[: text.index("strategy:")] + "strategy: {}\n"
    config = sample / "empty_strategy.yaml"
    config.write_text(text.replace("name: demo", "name: empty_strategy"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "CRM_REPORT_PDF": "1"}
    subprocess.run([sys.executable, "-m", "crmlib.cli", "run", str(config), "--reports-dir", str(tmp_path),
                    "--data-dir", str(demo_report.parents[2] / "data")],
                   cwd=demo_report.parents[2], env=env, check=True, capture_output=True, timeout=900)
    folder = next((tmp_path / "empty_strategy").glob("20*"))
    leak = re.compile(r"(?:strategy|ltv|segments|diagnosis)\.[a-z_]+(?:\.[a-z_]+)*(?<!\.html)|記入してください|"
                      r"クライアント(?:YAML|設定)|\{\s*[a-z_]+:\s")
    for page in [*folder.glob("*.html")]:
        shown = re.sub(r"<style.*?</style>", "", page.read_text(encoding="utf-8"), flags=re.S)
        shown = re.sub(r'href="[^"]*"', "", shown)
        assert not leak.findall(shown), page.name
        assert '<p class="crm-draft" role="note">下書き' in shown, page.name
    notes = (folder / "consultant" / "notes.html").read_text(encoding="utf-8")
    assert notes.count("記入してください") >= 30 and "strategy.goals" in notes
    from pptx import Presentation

    deck = Presentation(folder / "report.pptx")
    texts = [shape.text_frame.text for slide in deck.slides for shape in slide.shapes if shape.has_text_frame]
    assert not [t for t in texts if leak.search(t)]
    assert all(any(t.startswith("下書き") for t in [s.text_frame.text for s in slide.shapes if s.has_text_frame])
               for slide in deck.slides)
    if (folder / "report.pdf").is_file():  # printed when Chromium is installed: the mark on every page
        from pypdf import PdfReader

        pages = [page.extract_text() for page in PdfReader(folder / "report.pdf").pages]
        assert pages and all("下書き" in text for text in pages)


SETTING_NAME = re.compile(r"(?<![\w./])(?:report|data_check|diagnosis|segments|ltv|strategy|products)"
                          r"(?:\.[a-z_][a-z0-9_]*)+(?<!\.html)(?<!\.pdf)(?<!\.pptx)(?<!\.csv)(?<!\.json)(?![\w/])")


def _client_text(page: str) -> str:
    """What a reader sees of a page: no style, script or link targets."""
    shown = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r'(?:href|src)="[^"]*"', "", shown)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_summary_keeps_setting_names_off_the_index(lang):
    """The LTV finding without a margin names ltv.gross_margin in its last sentence: the index,
    report.html and the deck get the sentence without the setting, the notes get the setting."""
    from crmlib.findings import Finding
    from crmlib.i18n import t
    from crmlib.report.html import PageFrame, index_html
    from crmlib.report.notes import SUMMARY, split_summary

    text = t("summary.annual_ltv_no_margin", lang, annual="11,710円", years="1.3", ltv="15,738円")
    assert "ltv.gross_margin" in text  # the catalog's sentence this test is about
    finding = Finding(rule="annual_ltv", chapter="03_ltv", anchor="formula", alert=False, priority=50,
                      text=text, headline="11,710円")
    limit = "A limit that stays." if lang == "en" else "残る一文です。"
    findings, limits, notes = split_summary([finding], [limit], lang)
    assert len(findings) == 1 and "11,710円" in findings[0].text and "15,738円" in findings[0].text
    assert limits == [limit]
    assert [(n.chapter, n.section) for n in notes] == [(SUMMARY, t("summary.title", lang))]
    assert "ltv.gross_margin" in notes[0].text
    page = index_html(lang=lang, client_title="ACME", as_of="2025-04-01", version="0", chapters=[], files=[],
                      findings=findings, limits=limits, frame=PageFrame(lang=lang, client="ACME", as_of="2025-04-01",
                                                                        version="0", embed_font=False))
    assert not SETTING_NAME.findall(_client_text(page))
    if lang == "ja":  # the client keeps the sentence, only the aside naming the setting is gone
        assert "粗利率が未設定のままでは新規獲得単価（CPO）の上限は示せません。" in findings[0].text


@pytest.mark.slow
def test_no_setting_name_on_any_client_page_of_the_demo(demo_report):
    """The index (executive summary, data limits), report.html and every chapter page: setting
    names are for the consultant notes only."""
    pages = sorted(demo_report.glob("*.html"))
    assert {"index.html", "report.html"} <= {p.name for p in pages}
    for page in pages:
        found = SETTING_NAME.findall(_client_text(page.read_text(encoding="utf-8")))
        assert not found, (page.name, found[:5])


@pytest.mark.slow
def test_the_model_parameter_table_is_in_the_notes_not_on_the_ltv_page(demo_report):
    page = (demo_report / "03_ltv.html").read_text(encoding="utf-8")
    notes = (demo_report / "consultant" / "notes.html").read_text(encoding="utf-8")
    assert 'id="params"' in page and "crm-consultant" not in page and "Gamma-Gammaの前提" not in page
    assert "Gamma-Gammaの前提" in notes and notes.count("<table") >= 2  # the notes list and the parameters


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_targets_note_leaves_no_dangling_example_on_the_clients_page(lang):
    """The YAML example moves to the consultant's notes with its whole sentence: the client read
    "Name the segments to work on, e.g." before."""
    import html as html_lib

    from crmlib.i18n import t

    # quotes stay raw inside a paragraph, as the exported page writes them
    note = html_lib.escape(t("strategy.targets.defaults_note", lang), quote=False)
    client, notes = split_notes(f'<main><h2 id="targets">4.2 Targets</h2><p class="crm-note">{note}</p></main>',
                                "04_strategy", lang)
    kept = re.sub(r"<[^>]+>", "", client.split("</h2>")[1]).strip()
    assert kept in ("No targets are set; the table shows every ladder stage.",
                    "ターゲットが未設定のため、ロイヤルティラダーの全段階を表示しています。")
    assert any("move_share" in n.text for n in notes)
