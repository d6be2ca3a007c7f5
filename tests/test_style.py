"""Number formats and the shared figure style (Japanese glyphs, deterministic PNGs)."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from decimal import Decimal

import matplotlib as mpl
import pandas as pd
import pytest
from matplotlib.figure import Figure

from crmlib.charts import coverage_chart, figure_png
from crmlib.style import apply_style, fmt_date, fmt_int, fmt_money, fmt_month, fmt_num, fmt_pct


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1234567, "JPY", "¥1,234,567"),
        (1234567.5, "JPY", "¥1,234,568"),  # half-up, not banker's rounding
        (2.5, "JPY", "¥3"),
        (0, "JPY", "¥0"),
        (-1234.4, "JPY", "-¥1,234"),
        (Decimal("9700"), "JPY", "¥9,700"),
        (1234.5, "USD", "$1,234.50"),
        (1234.565, "EUR", "€1,234.57"),
        (0.1, "GBP", "£0.10"),
        (1234.5, "CHF", "CHF 1,234.50"),
        (None, "JPY", "—"),
        (float("nan"), "USD", "—"),
    ],
)
def test_fmt_money(value, currency, expected):
    assert fmt_money(value, currency) == expected


def test_fmt_int_pct_num():
    assert fmt_int(1234567) == "1,234,567"
    assert fmt_int(2.5) == "3"
    assert fmt_int(None) == "—"
    assert fmt_pct(0.1234) == "12.3%"
    assert fmt_pct(0.5, 0) == "50%"
    assert fmt_pct(1 / 3, 2) == "33.33%"
    assert fmt_num(5 / 3) == "1.67"


def test_fmt_dates():
    day = dt.datetime(2024, 3, 5, 23, 59)
    assert fmt_date(day, "ja") == "2024年3月5日"
    assert fmt_date(day, "en") == "2024-03-05"
    assert fmt_month(pd.Timestamp("2024-03-01"), "ja") == "2024年3月"
    assert fmt_month(pd.Timestamp("2024-03-01"), "en") == "Mar 2024"
    with pytest.raises(ValueError, match="unsupported language"):
        fmt_month(day, "fr")


def _draw_japanese_png() -> list[str]:
    """Draw a figure with Japanese labels to PNG; return the warning messages raised."""
    fig = Figure()
    ax = fig.subplots()
    ax.bar(["一月", "二月"], [3, 5])
    ax.set_title("月別の注文数と客単価")
    ax.set_ylabel("顧客数")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("name, lang, shown", [
    # Online Retail's entry products, as the chart's axis showed them cut at 28 characters
    ("NATURAL SLATE RECTANGLE CHALKBOARD", "en", "NATURAL SLATE RECTANGLE..."),  # was "NATURAL SLATE RECTANGLE CHAL"
    ("SCANDINAVIAN PAISLEY PICNIC BAG", "en", "SCANDINAVIAN PAISLEY..."),  # was "SCANDINAVIAN PAISLEY PICNIC "
    ("SCANDINAVIAN PAISLEY PICNIC BAG", "ja", "SCANDINAVIAN PAISLEY PICNIC…"),  # ends at a word: kept whole
    ("SINGLE HEART ZINC T-LIGHT HOLDER", "en", "SINGLE HEART ZINC T-LIGHT..."),
    ("CHARLOTTE BAG PINK POLKADOT", "en", "CHARLOTTE BAG PINK POLKADOT"),  # 27 characters: whole
    ("【定期便】グルコサミン&コンドロイチン 180粒 お徳用ボトル", "ja", "【定期便】グルコサミン&コンドロイチン 180粒…"),
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "en", "ABCDEFGHIJKLMNOPQRSTUVWXY..."),  # no word break: cut, marked
])
def test_short_labels_end_in_an_ellipsis_at_a_word_break(name, lang, shown):
    from crmlib.style import short_label

    assert short_label(name, 28, lang) == shown and len(shown) <= 28


def test_japanese_glyphs_render_without_missing_glyph_warnings():
    with mpl.rc_context():
        apply_style("ja")
        assert mpl.rcParams["font.family"] == ["IPAexGothic"]
        messages = _draw_japanese_png()
        assert not [m for m in messages if "missing" in m and "Glyph" in m], messages
        # control: the same drawing with the default font does warn, so the check can fail
        mpl.rcParams["font.family"] = ["DejaVu Sans"]
        assert any("Glyph" in m and "missing" in m for m in _draw_japanese_png())


def test_figures_are_byte_identical_for_the_same_data():
    frame = pd.DataFrame(
        {"month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]), "orders": [4, 0, 7]}
    )
    with mpl.rc_context():
        apply_style("ja")
        first = figure_png(coverage_chart(frame, "ja"))
        second = figure_png(coverage_chart(frame, "ja"))
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert first == second


def _matplotlib_tight_png(fig: Figure, compress_level: int = 6) -> bytes:
    """The reference: matplotlib's own bbox_inches="tight" crop (two draws per figure)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=144, bbox_inches="tight", metadata={"Software": None},
                pil_kwargs={"compress_level": compress_level})
    return buffer.getvalue()


def _pixels(png: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def _outside_figure() -> Figure:
    """Legend and title above the axes, a long label sticking out right: content beyond the
    canvas that only a tight crop keeps."""
    fig = Figure(figsize=(4.0, 2.0))
    ax = fig.subplots()
    ax.bar(["東京都", "大阪府"], [3, 5], label="注文数")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    ax.set_title("都道府県別の注文数", pad=30)
    ax.text(1.05, 0.5, "ここは図の外まで続く長い注釈です", transform=ax.transAxes)
    return fig


def test_figure_png_crops_like_matplotlibs_tight_bbox():
    frame = pd.DataFrame(
        {"month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]), "orders": [4, 0, 7]}
    )
    with mpl.rc_context():
        apply_style("ja")
        for make in (lambda: coverage_chart(frame, "ja"), _outside_figure):
            ours, reference = figure_png(make()), _matplotlib_tight_png(make())
            # the same image, pixel for pixel (only the zlib level differs) ...
            assert _pixels(ours).shape == _pixels(reference).shape
            assert (_pixels(ours) == _pixels(reference)).all()
            # ... and larger than the 4 x 2 in canvas at 144 dpi (576 px): the crop kept what sticks out
        assert _pixels(figure_png(_outside_figure())).shape[1] > 576
        # after a one-off tight_layout (a placeholder engine) and with a live constrained layout
        for arrange in (lambda fig: fig.tight_layout(), lambda fig: fig.set_layout_engine("constrained")):
            fig, reference = _outside_figure(), _outside_figure()
            arrange(fig)
            arrange(reference)
            assert fig.get_layout_engine() is not None
            assert (_pixels(figure_png(fig)) == _pixels(_matplotlib_tight_png(reference))).all()


def _labelled_grid() -> Figure:
    """A heatmap's worth of small labels, a rotated axis, a two-line title and a legend: the texts
    the shared measurements (crmlib.agg_canvas) must measure exactly as matplotlib does."""
    import numpy as np

    fig = Figure(figsize=(6.0, 3.0))
    ax = fig.subplots()
    values = np.arange(24, dtype=float).reshape(4, 6)
    ax.imshow(values, cmap="Blues", aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, f"{value / 23:.0%}", ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(6), [f"2024年{m}月" for m in range(1, 7)], rotation=45, ha="right")
    ax.set_yticks(range(4), ["初回 (1,234)", "2回目", "3回目", "休眠顧客"])
    ax.set_title("継続率(F2転換率)\nsecond line, 10% off $", loc="left")
    ax.plot([0, 5], [0, 3], label="trend")
    ax.legend(loc="upper right", fontsize=7)
    return fig


def test_report_pngs_measure_text_as_matplotlib_does_in_any_font():
    """figure_png measures each label once per process (crmlib.agg_canvas): the pixels stay
    matplotlib's own, byte for byte, also when the font or size changes between figures."""
    shapes = {}
    with mpl.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # DejaVu Sans has no kana: boxes, as in matplotlib
        apply_style("ja")
        # the same FontProperties ("sans-serif") names another font once the rc list changes
        for family, size in (("IPAexGothic", 10.0), ("DejaVu Sans", 10.0), ("IPAexGothic", 12.0)):
            mpl.rcParams.update({"font.family": "sans-serif", "font.sans-serif": [family], "font.size": size})
            for make in (_labelled_grid, _outside_figure):
                ours, reference = _pixels(figure_png(make())), _pixels(_matplotlib_tight_png(make()))
                assert ours.shape == reference.shape, (family, size, make.__name__)
                assert (ours == reference).all(), (family, size, make.__name__)
                shapes[family, size, make.__name__] = ours.shape
    # the fonts and sizes crop differently: no measurement was reused across them
    assert len({shape for (*_, name), shape in shapes.items() if name == "_labelled_grid"}) == 3


def _scattered_texts() -> Figure:
    """One label at forty positions (whole and fractional pixels), three angles and sizes, with
    and without antialiasing: each glyph at many sub-pixel offsets."""
    fig = Figure(figsize=(4.0, 3.0))
    for i in range(40):
        fig.text(0.05 + i * 0.0213, 0.1 + (i % 7) * 0.1137, "F2転換率 1,707万円", fontsize=7 + i % 3,
                 rotation=(0, 90, 33)[i % 3], antialiased=bool(i % 2))
    return fig


def test_report_glyphs_are_matplotlibs_at_every_position_angle_and_mode():
    """ReportRenderer renders a glyph once per sub-pixel offset and moves it by whole pixels
    (crmlib.agg_canvas): the pixels are matplotlib's own, with the cache cold and warm."""
    with mpl.rc_context():
        apply_style("ja")
        for _ in range(2):
            ours, reference = _pixels(figure_png(_scattered_texts())), _pixels(_matplotlib_tight_png(_scattered_texts()))
            assert ours.shape == reference.shape
            assert (ours == reference).all()


@pytest.mark.parametrize(
    ("value", "currency", "lang", "expected"),
    [
        # ja yen in prose and on axes: 万 = 10,000, 億 = 100,000,000 (a consultant's 1,707万円)
        (17_066_990, "JPY", "ja", "1,707万円"),  # 1,706.699万 -> 1,707
        (6_551_968, "JPY", "ja", "655万円"),  # 655.1968万
        (123_456_789, "JPY", "ja", "1.2億円"),  # 1.23456789億
        (1_250_000_000, "JPY", "ja", "12.5億円"),
        (100_000_000, "JPY", "ja", "1億円"),  # no '1.0'
        (35_000, "JPY", "ja", "35,000円"),  # below 10万: the exact yen (LTV 12,910円 vs 13,450円)
        (99_999.4, "JPY", "ja", "99,999円"),
        (99_999.5, "JPY", "ja", "10万円"),  # rounds to 100,000: whole 万 from 10万 up
        (789_178, "JPY", "ja", "79万円"),  # 78.9178万: from 10万 up whole 万
        (6_832, "JPY", "ja", "6,832円"),  # below 1万: the exact yen
        (-4_800_000, "JPY", "ja", "-480万円"),
        (99_999_999, "JPY", "ja", "1億円"),  # 9,999.9999万 rounds up to the next unit, not '10,000万円'
        (17_066_990, "JPY", "en", "¥17.1M"),
        (6_551_968, "JPY", "en", "¥6.6M"),
        (1_234_000_000, "USD", "en", "$1.2B"),
        (35_000, "JPY", "en", "¥35K"),
        (6_832, "JPY", "en", "¥6,832"),
        (17_066_990, "CHF", "en", "CHF 17.1M"),
        # a Japanese report on a UK client: the same 万/億 after the currency's symbol
        (7_979_840.08, "GBP", "ja", "£798万"),
        (456_280.69, "GBP", "ja", "£46万"),
        (123_456_789, "GBP", "ja", "£1.2億"),
        (4_987.75, "GBP", "ja", "£4,988"),
        (17_066_990, "CHF", "ja", "CHF 1,707万"),
        (None, "JPY", "ja", "—"),
    ],
)
def test_fmt_money_short(value, currency, lang, expected):
    from crmlib.style import fmt_money_short

    assert fmt_money_short(value, currency, lang) == expected


def test_fmt_money_prose_variant_and_exact_tables():
    assert fmt_money(17_066_990, "JPY") == "¥17,066,990"  # tables keep the exact yen
    assert fmt_money(17_066_990, "JPY", "ja", prose=True) == "1,707万円"
    assert fmt_money(17_066_990, "JPY", "en", prose=True) == "¥17.1M"


def test_written_out_theme_is_seaborns_whitegrid_notebook_theme() -> None:
    """apply_style sets seaborn's theme without importing seaborn: the written-out rc values must
    be those seaborn's set_theme(style="whitegrid", context="notebook", palette=PALETTE) sets."""
    import seaborn as sns

    from crmlib.style import PALETTE, THEME

    expected = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}
    left_out = {"image.cmap", "font.family"}  # seaborn's own colour map; the report font replaces it
    assert set(expected) - set(THEME) == left_out
    assert {key: expected[key] for key in THEME} == THEME
    with mpl.rc_context():
        apply_style("en")
        colours = [c["color"] for c in mpl.rcParams["axes.prop_cycle"]]
    assert colours == list(sns.color_palette(PALETTE))


def test_chapter_imports_leave_out_seaborn_scipy_stats_and_statsmodels() -> None:
    """The chapters' import cells, which every kernel runs before its first chapter, load none of
    the heavy modules only one chapter needs (about 0.8 CPU-s a kernel); they come on first use."""
    import subprocess
    import sys
    from pathlib import Path

    from crmlib.report.pipeline import default_notebooks_dir
    from crmlib.report.warm import import_cells

    code = import_cells(sorted(default_notebooks_dir().glob("0*.ipynb")))
    heavy = ["seaborn", "scipy.stats", "scipy.optimize", "statsmodels"]
    check = code + f"\nimport sys\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip().splitlines()[-1] == "[]"
