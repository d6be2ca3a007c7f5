"""Display tables: number columns right, text columns left, every table in its own scroll box;
the page's font order that keeps Japanese from showing as boxes (no kernel needed)."""

from __future__ import annotations

import re

import pandas as pd

from crmlib.report.html import CSS_PATH
from crmlib.report.nbtools import is_number_cell, number_columns, table_html


def test_number_cells_are_recognised_with_units_and_asides():
    for cell in ("¥1,707", "-¥3,080", "12.3%", "+8.1 pt", "1,452 (5.1%)", "約655万円", "101日以内", "5回以上",
                 "2.0", 47, 1.5, "$1,234.50"):
        assert is_number_cell(cell), cell
    for cell in ("優良顧客", "ファッション 27%、スキンケア 26%", "R(最新購入日)", "web", "該当なし",
                 "Top customers", "基準日までの累計購入金額"):
        assert not is_number_cell(cell), cell


def test_columns_are_numbers_when_three_quarters_of_the_shown_cells_are():
    frame = pd.DataFrame({
        "セグメント": ["優良顧客", "常連顧客"],
        "顧客数": ["1,241", "1,401"],
        "売上": ["¥6,832", None],  # a missing cell does not make a column text
        "主なカテゴリ": ["ファッション 27%", "スキンケア 25%"],
        "空": [None, None],
    })
    assert number_columns(frame) == [False, True, True, False, False]
    # a value column: 3 numbers and a period (3/4 = 0.75) stays a number column; 2 of 4 does not
    values = pd.DataFrame({"値": ["5", "¥8,500", "1.67", "2024年1月10日〜2024年4月30日"],
                           "半々": ["5", "¥8,500", "優良顧客", "常連顧客"]})
    assert number_columns(values) == [True, False]
    out = table_html(values)
    assert '<td class="crm-num">¥8,500</td>' in out
    assert '<td class="crm-num crm-wrap">2024年1月10日〜2024年4月30日</td>' in out  # may wrap, unlike numbers


def test_table_html_marks_number_cells_and_wraps_the_table_in_a_scroll_box():
    frame = pd.DataFrame({"指標": ["客単価", "<b>"], "値": ["¥1,700", "—"]})
    out = table_html(frame)
    assert out.startswith('<div class="crm-table-wrap"><table class="crm-table">')
    assert '<th>指標</th><th class="crm-num">値</th>' in out
    assert '<td>客単価</td><td class="crm-num">¥1,700</td>' in out
    assert "<td>&lt;b&gt;</td>" in out  # escaped
    prose = table_html(frame, text=True)
    assert 'class="crm-table crm-text"' in prose and "crm-num" not in prose


def test_css_aligns_by_class_and_keeps_japanese_words_whole():
    css = CSS_PATH.read_text(encoding="utf-8")
    assert "td:not(:first-child)" not in css  # no blanket right alignment of every column after the first
    assert re.search(r"\.crm-num \{[^}]*text-align: right", css)
    assert "word-break: auto-phrase" in css and "word-break: keep-all" in css and "line-break: strict" in css
    assert re.search(r"\.crm-table-wrap \{[^}]*overflow-x: auto", css)


def test_embedded_japanese_font_comes_before_the_latin_fonts():
    # Chromium without Japanese system fonts draws boxes for some Japanese runs when Arial comes
    # first (seen in headings and table heads of the demo, on screen and in the PDF)
    family = re.search(r"body\.crm-page \{[^}]*font-family: ([^;]*);", CSS_PATH.read_text(encoding="utf-8"))
    names = [name.strip().strip('"') for name in family.group(1).split(",")]
    assert names.index("CRM Report JP") < names.index("Arial")


def test_the_stylesheet_parses_and_every_rule_is_where_it_belongs():
    import tinycss2

    rules = tinycss2.parse_stylesheet(CSS_PATH.read_text(encoding="utf-8"), skip_comments=True,
                                      skip_whitespace=True)
    assert not [r for r in rules if r.type == "error"]
    top = {tinycss2.serialize(r.prelude).strip() for r in rules if r.type == "qualified-rule"}
    assert ".crm-finding-figure" in top and "table.crm-table .crm-num" in top  # not swallowed by a media block
    media = [tinycss2.serialize(r.prelude).strip() for r in rules if r.type == "at-rule" and r.at_keyword == "media"]
    assert media == ["print", "(max-width: 40rem)"]


def _pandas_number_columns(frame: pd.DataFrame) -> list[bool]:
    """The definition as pandas states it (number_columns' own path before text columns got a
    plain-Python one)."""
    from crmlib.report.nbtools import MISSING_CELL, NUMBER_COLUMN_SHARE

    flags = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        shown = column[column.notna()].astype(str).str.strip()
        shown = shown[shown != MISSING_CELL]
        flags.append(bool(len(shown)) and float(shown.map(is_number_cell).mean()) >= NUMBER_COLUMN_SHARE)
    return flags


def test_text_columns_read_as_pandas_reads_them():
    import numpy as np

    cells = ["1,241", " ¥6,832 ", "—", None, np.nan, pd.NA, "優良顧客", 3, 2.5, "12%", "約 3万円", "", " — "]
    rng = np.random.default_rng(7)
    for _ in range(200):
        columns = {f"c{j}": [cells[k] for k in rng.integers(0, len(cells), size=int(rng.integers(1, 7)))]
                   for j in range(3)}
        width = max(len(v) for v in columns.values())
        frame = pd.DataFrame({k: (v * width)[:width] for k, v in columns.items()}, dtype=object)
        assert number_columns(frame) == _pandas_number_columns(frame)
        assert number_columns(frame.astype("str")) == _pandas_number_columns(frame.astype("str"))
