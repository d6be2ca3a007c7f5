"""Wording shared by the chapters' takeaways: changes, periods and safe ratios."""

from __future__ import annotations

from typing import Any

from .i18n import t
from .numbers import ratio  # noqa: F401 (re-exported)
from .periods import Span
from .style import MISSING, fmt_date, fmt_num, fmt_pct


def pct_change(current: Any, previous: Any) -> str | None:
    """Relative change as a signed percentage text ('+8.2%'), None when it cannot be computed."""
    change = ratio(current, previous)
    if change is None:
        return None
    return _signed(fmt_pct(change - 1.0))


def point_change(current: Any, previous: Any) -> str | None:
    """Change of a share in percentage points as signed text ('-6.0 pt'), None when unknown."""
    if current is None or previous is None:
        return None
    return _signed(fmt_num((float(current) - float(previous)) * 100, 1)) + " pt"


def _signed(text: str) -> str:
    """Prefix a plus sign to a non-negative formatted number."""
    return text if text.startswith("-") or text.startswith("−") else f"+{text}"


def change_phrase(current: Any, previous: Any, lang: str) -> str:
    """'up 8.2%' / 'down 3.1%' / 'unchanged' (ja: 8.2%増 / 3.1%減 / 横ばい)."""
    change = ratio(current, previous)
    if change is None:
        if previous is not None and current is not None and float(previous) == 0 and float(current) > 0:
            return t("diagnosis.common.from_zero", lang)
        return t("diagnosis.common.no_comparison", lang)
    rounded = round((change - 1.0) * 1000) / 10
    if rounded == 0:
        return t("diagnosis.common.flat", lang)
    key = "diagnosis.common.up_pct" if rounded > 0 else "diagnosis.common.down_pct"
    return t(key, lang, pct=fmt_pct(abs(change - 1.0)))


def points_phrase(current: Any, previous: Any, lang: str) -> str:
    """'up 2.1 points from 44.0%' (ja: 44.0%から2.1ポイント上昇) for a share's change."""
    if current is None or previous is None:
        return t("diagnosis.common.no_comparison", lang)
    diff = (float(current) - float(previous)) * 100
    if round(diff, 1) == 0:
        return t("diagnosis.common.points_flat", lang, previous=fmt_pct(previous))
    key = "diagnosis.common.points_up" if diff > 0 else "diagnosis.common.points_down"
    return t(key, lang, points=fmt_num(abs(diff), 1), previous=fmt_pct(previous))


def times_text(value: Any, lang: str, places: int = 2) -> str:
    """A count per customer with its unit: '1.87回' (en: '1.87'); '—' when unknown."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return t("common.times", lang, value=fmt_num(value, places))


def span_text(span: Span, lang: str) -> str:
    """'2024-04-01 to 2025-03-31' (ja: 2024年4月1日〜2025年3月31日)."""
    return t("diagnosis.common.span", lang, start=fmt_date(span.start, lang), end=fmt_date(span.last_day, lang))


def comparison_label(months: int, compare_to: str, lang: str) -> str:
    """What the comparison period is called: 'the previous 12 months', 'a year earlier' ..."""
    if compare_to == "year_before" or months == 12:
        return t("diagnosis.common.compare_year_before", lang)
    return t("diagnosis.common.compare_previous", lang, months=months)
