"""Prose as a consultant writes it: money rounded in 万円/億円 (¥17.1M) in sentences, exact only
in tables and below 10万円; never '約' with an exact figure."""

from __future__ import annotations

import html
import re

import pytest

# an exact amount of a million or more, a yen sign in Japanese prose, or 'about' an exact figure
EXACT_YEN_JA = re.compile(r"[¥￥]\s?\d|(?<![\d,.])\d{1,3}(?:,\d{3}){2,}円|約\d{1,3}(?:,\d{3})+円")


def prose(page: str) -> str:
    """The page's text outside tables, styles and scripts (tables keep exact amounts)."""
    shown = re.sub(r"<(style|script|table)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", shown))


def test_the_pattern_tells_prose_money_from_exact_yen():
    for exact in ("売上は¥115,966,206で", "約¥6,599,889", "売上は115,966,206円", "約6,599,889円"):
        assert EXACT_YEN_JA.search(exact), exact
    for shown in ("売上は1.2億円で", "約660万円", "客単価7,046円", "LTVは11,710円", "19,390人"):
        assert not EXACT_YEN_JA.search(shown), shown


def test_strategy_kpi_sentence_writes_money_as_prose():
    """Hand: revenue 87,004,236 -> 115,966,206 (+33.3%); new customers' revenue 10,000,000 ->
    23,958,178 (+13,958,178 = 1,395.8万 -> 1,396万円, £14.0M -> £14M); existing +15,003,792
    (28,961,970 - 13,958,178; 1,500.4万 -> 1,500万円, £15M)."""
    from crmlib.strategy.report import kpi_takeaway

    baseline = {"revenue": 87_004_236.0, "new_revenue": 10_000_000.0, "covered": True}
    actual = {"revenue": 115_966_206.0, "new_revenue": 23_958_178.0}
    ja = kpi_takeaway(baseline, actual, "ja", "JPY")
    assert "8,700万円に対し1.2億円（+33.3%）" in ja and "+1,396万円" in ja and "+1,500万円" in ja
    assert not EXACT_YEN_JA.search(ja)
    en = kpi_takeaway(baseline, actual, "en", "GBP")
    assert "£87M" in en and "£116M" in en and "+£14M" in en and "+£15M" in en


@pytest.mark.slow
def test_demo_prose_has_no_exact_yen(demo_report):
    """Every page of the demo (ja, JPY) outside its tables: no ¥123,456,789 and no 約 + exact."""
    found = {}
    for page in sorted(demo_report.glob("*.html")):
        hits = EXACT_YEN_JA.findall(prose(page.read_text(encoding="utf-8")))
        if hits:
            found[page.name] = hits[:5]
    assert found == {}
