"""One figure style and one set of number formats for every chapter, so pages look alike.

Figures use IPAexGothic (shipped in the matplotlib-fontja wheel) in both languages: client
data often holds Japanese product or region names even in an English report.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

LANGS = ("ja", "en")
FONT_FAMILY = "IPAexGothic"

# Fixed palette (colour-blind friendly order); index 0 is the main series colour.
PALETTE = ["#1f4e79", "#e07b39", "#3a9e6f", "#c44e52", "#8172b3", "#937860", "#8c8c8c", "#ccb974"]
HIGHLIGHT = "#c44e52"  # problems: gap months, failed checks
FIGSIZE = (8.0, 3.6)
DPI = 144  # the PNG resolution written into reports

CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "CNY": "CN¥", "KRW": "₩"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}
MISSING = "—"


def check_lang(lang: str) -> str:
    """Return lang when it is a supported report language, else raise ValueError."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; use one of {', '.join(LANGS)}")
    return lang


# seaborn's theme (set_theme(style="whitegrid", context="notebook")) written out, so applying the
# style imports neither seaborn nor scipy.stats, which seaborn loads (0.8 CPU-s in every kernel of
# a run); tests/test_style.py checks it against seaborn's own axes_style and plotting_context.
# Left out: "image.cmap" ("rocket", registered only by importing seaborn; every image here names
# its colour map) and "font.family" (the report's font replaces it).
THEME: dict[str, Any] = {
    "figure.facecolor": "white", "axes.facecolor": "white", "axes.labelcolor": ".15", "text.color": ".15",
    "xtick.direction": "out", "ytick.direction": "out", "xtick.color": ".15", "ytick.color": ".15",
    "axes.axisbelow": True, "grid.linestyle": "-", "grid.color": ".8", "axes.grid": True, "axes.edgecolor": ".8",
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "xtick.bottom": False, "ytick.left": False,
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True, "axes.spines.top": True,
    "axes.linewidth": 1.25, "grid.linewidth": 1, "lines.linewidth": 1.5, "lines.markersize": 6,
    "patch.linewidth": 1, "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.width": 1,
    "ytick.minor.width": 1, "xtick.major.size": 6, "ytick.major.size": 6, "xtick.minor.size": 4,
    "ytick.minor.size": 4, "font.size": 12, "axes.labelsize": 12, "axes.titlesize": 12, "xtick.labelsize": 11,
    "ytick.labelsize": 11, "legend.fontsize": 11, "legend.title_fontsize": 12,
}


def apply_style(lang: str) -> None:
    """Set the shared theme (seaborn's whitegrid, written out), palette, size, PNG metadata, a
    Japanese-capable font, and plain text (no mathtext) for every label."""
    import matplotlib as mpl  # here, not at the top: the run's own process formats numbers without it
    import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib on import)

    check_lang(lang)
    mpl.rcParams.update(THEME)
    mpl.rcParams.update(
        {
            "axes.prop_cycle": mpl.cycler(color=[mpl.colors.to_rgb(c) for c in PALETTE]),
            "font.family": FONT_FAMILY,
            "axes.unicode_minus": False,  # IPAexGothic has no U+2212 minus glyph
            "figure.figsize": FIGSIZE,
            "figure.dpi": 100,
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "axes.titlesize": "medium",
            "svg.hashsalt": "crm-workbook",  # stable ids if a figure is ever saved as SVG
            # client values are drawn as they are: a '$' pair in a channel or category name
            # ("US$ price, 10% off $") is text, not mathtext (which garbles it or fails to parse)
            "text.parse_math": False,
        }
    )


def _is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA, which print as a dash."""
    import pandas as pd  # here: reading a client YAML (crmlib.i18n) needs no pandas

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-likes are not missing scalars
        return False


def _round(value: Any, places: int) -> Decimal:
    """Round half-up through Decimal(str(value)) so 0.5 yen always rounds away from zero."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt_money(value: Any, currency: str, lang: str | None = None, prose: bool = False) -> str:
    """Money for reports. Exact (tables, and prose when prose=False): JPY '¥1,234,567' (no
    decimals), USD '$1,234.50', unknown 'CHF 1,234.50'. prose=True with a lang: the rounded
    figure a consultant writes (fmt_money_short): ja '1,707万円', en '¥17.1M'."""
    if prose:
        return fmt_money_short(value, currency, lang or "en")
    if _is_missing(value):
        return MISSING
    places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    number = _round(value, places)
    sign = "-" if number < 0 else ""
    digits = f"{abs(number):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{currency} {digits}"


# Japanese units of yen in prose and on axes (万 = 10^4, 億 = 10^8); English abbreviations
JA_YEN_UNITS = ((Decimal(10) ** 8, "億"), (Decimal(10) ** 4, "万"))
JA_EXACT_BELOW = Decimal(100_000)  # 10万円: below it prose writes the yen as they are ('12,910円')
EN_UNITS = ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K"))  # K from 10,000 up


def _short(number: Decimal, places: int) -> str:
    """A rounded number with separators, trailing '.0' dropped: 1.20 -> '1.2', 1.0 -> '1'."""
    text = f"{_round(number, places):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_money_short(value: Any, currency: str, lang: str) -> str:
    """Money as prose and chart axes write it (rounded; tables keep fmt_money's exact yen).
    ja and JPY: '1.2億円', '1,707万円', '79万円', and below 10万 the exact '12,910円' (a per-customer
    figure such as an LTV: '1.3万円' would make 12,910 and 13,450 read the same); ja and another
    currency: the same units after its symbol ('£798万', '£4,988'); en: symbol and B/M/K: '¥17.1M',
    '$655K', '¥6,832' (below ten thousand the figure is exact)."""
    if _is_missing(value):
        return MISSING
    check_lang(lang)
    number = _round(value, 2)
    sign, number = ("-" if number < 0 else ""), abs(number)
    symbol = CURRENCY_SYMBOLS.get(currency)
    prefix = symbol if symbol else f"{currency} "
    if lang == "ja":  # 万/億 for every currency: '1,707万円', and for a UK client '£798万'
        head, tail = ("", "円") if currency == "JPY" else (prefix, "")
        if _round(number, 0) < JA_EXACT_BELOW:
            return f"{sign}{head}{_short(number, 0)}{tail}"
        for size, unit in JA_YEN_UNITS:
            scaled = number / size
            if _round(scaled, 1) >= 1:
                return f"{sign}{head}{_short(scaled, 1 if unit == '億' and scaled < 100 else 0)}{unit}{tail}"
        return f"{sign}{head}{_short(number, 0)}{tail}"
    for size, unit in EN_UNITS:
        scaled = number / size
        if _round(scaled, 1) >= (10 if unit == "K" else 1):
            return f"{sign}{prefix}{_short(scaled, 1)}{unit}"
    return f"{sign}{prefix}{_round(number, 0):,.0f}"


def fmt_int(value: Any) -> str:
    """A count with thousands separators: 1234567 -> '1,234,567' (rounded half-up)."""
    if _is_missing(value):
        return MISSING
    return f"{_round(value, 0):,.0f}"


def fmt_num(value: Any, places: int = 2) -> str:
    """A plain decimal number with thousands separators: 1.2345 -> '1.23'."""
    if _is_missing(value):
        return MISSING
    return f"{_round(value, places):,.{places}f}"


def fmt_pct(value: Any, places: int = 1) -> str:
    """A share as a percentage: 0.1234 -> '12.3%'."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, float) and math.isinf(value):
        return MISSING
    return f"{_round(Decimal(str(value)) * 100, places):,.{places}f}%"


def fmt_date(value: dt.date | dt.datetime | Any, lang: str) -> str:
    """A calendar day: ja '2024年3月5日', en '2024-03-05'."""
    if _is_missing(value):
        return MISSING
    day = value.date() if isinstance(value, dt.datetime) else value
    if check_lang(lang) == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def short_label(text: str, limit: int, lang: str = "ja") -> str:
    """A label of at most `limit` characters for a chart axis: a longer one ends in an ellipsis,
    cut at a word break when one falls in its last third ("NATURAL SLATE RECTANGLE...", not
    "...RECTANGLE CHAL"); tables show the whole name. Japanese text ends in "…" (the charts'
    Japanese font centres it, as Japanese is written), English in "...", which sits on the line."""
    text = str(text)
    if len(text) <= limit:
        return text
    ellipsis = "…" if lang == "ja" else "..."
    head = text[: max(limit - len(ellipsis), 1)]
    space = head.rfind(" ")
    if text[len(head)] != " " and space >= len(head) * 2 // 3:  # not already at a word's end
        head = head[:space]
    return head.rstrip(" ,、・-/") + ellipsis


def fmt_month(value: dt.date | dt.datetime | Any, lang: str) -> str:
    """A calendar month: ja '2024年3月', en 'Mar 2024'."""
    if _is_missing(value):
        return MISSING
    if check_lang(lang) == "ja":
        return f"{value.year}年{value.month}月"
    return dt.date(value.year, value.month, 1).strftime("%b %Y")
