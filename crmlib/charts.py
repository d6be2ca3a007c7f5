"""Figures for the report chapters, drawn on plain matplotlib Figures (no pyplot state).

Call crmlib.style.apply_style(lang) first; figure_png gives byte-identical PNGs for the same data.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, partial

import matplotlib as mpl
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from .agg_canvas import ReportCanvas
from .i18n import t
from .style import DPI, HIGHLIGHT, PALETTE, fmt_int, fmt_month

# zlib level of the report PNGs (crmlib.png): 6 would make them about a fifth smaller in twice
# the encoding time (a 1152 x 518 chart: 40 KB in 11.4 ms against 52 KB in 5.8 ms)
PNG_COMPRESS_LEVEL = 1


def tight_bbox(fig: Figure, dpi: int = DPI) -> Bbox | str:
    """The padded bounding box savefig(bbox_inches="tight") would crop to, measured without the
    layout-only draw savefig does first (a third of a figure's cost). That draw is needed only
    with a live layout engine (constrained, tight): then "tight" is returned as it is."""
    if _live_layout(fig):
        return "tight"
    canvas = ReportCanvas(fig)  # savefig draws on it too: the labels are measured once
    original = fig.dpi
    try:
        fig.dpi = dpi
        box = fig.get_tightbbox(canvas.get_renderer())
    finally:
        fig.dpi = original
    pad = mpl.rcParams["savefig.pad_inches"]
    return box.padded(pad, pad)


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes without a 'Software' stamp, so equal figures give equal bytes;
    cropped as bbox_inches="tight" crops."""
    buffer = io.BytesIO()
    # tick labels made while drawing are plain text too (the rc setting)
    with mpl.rc_context({"text.parse_math": False}), _ticks_once(fig):
        plain_text(fig)
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=tight_bbox(fig, dpi), metadata={"Software": None},
                    pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()


@contextmanager
def _ticks_once(fig: Figure) -> Iterator[None]:
    """Each axis places and labels its ticks once for the crop's measuring pass and the draw
    (matplotlib's Axis._update_ticks runs the locator and formatter in both): 5-10% of a figure's
    drawing, the same pixels (tests/test_style.py). Only without a live layout engine, where
    neither the view limits nor the axes' sizes (which set how many ticks fit) change between
    the two; left as matplotlib has it if a release renames the method."""
    if _live_layout(fig) or not hasattr(Axis, "_update_ticks"):
        yield
        return
    axes = [axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)]
    for axis in axes:
        axis._update_ticks = cache(partial(Axis._update_ticks, axis))  # the first call's ticks
    try:
        yield
    finally:
        for axis in axes:
            del axis._update_ticks


def _live_layout(fig: Figure) -> bool:
    """Whether a layout engine (constrained, tight) moves the axes at every draw; after a one-off
    fig.tight_layout() the engine is a placeholder that lays out nothing."""
    return not isinstance(fig.get_layout_engine(), (type(None), PlaceHolderLayoutEngine))


def plain_text(fig: Figure) -> None:
    """Draw every text of the figure as it is, never as mathtext: a data value with a '$' pair
    (a channel "US$ price, 10% off $") would be garbled or fail to parse. apply_style sets the
    same for texts made later (text.parse_math)."""
    for text in _texts(fig):
        text.set_parse_math(False)


def _texts(artist: Artist) -> Iterator[Text]:
    """The Text artists of a figure as they are. fig.findobj asks each axis for its ticks, which
    runs the tick locators and makes the ticks (a tenth of a figure's drawing time); ticks made
    later, while figure_png draws, take text.parse_math from its rc_context."""
    if isinstance(artist, Text):
        yield artist
    children = ([artist.label, artist.offsetText, *artist.majorTicks, *artist.minorTicks]
                if isinstance(artist, Axis) else artist.get_children())
    for child in children:
        yield from _texts(child)


BAR_DAYS = 20  # bar width on a monthly date axis; bars start on the 1st of the month


def _month_axis(ax, months: pd.Series, lang: str) -> None:
    """Label a monthly date axis in the report language under the bar centres, at most ~12 labels."""
    step = max(1, -(-len(months) // 12))
    ticks = list(months.iloc[::step])
    ax.set_xticks([m + pd.Timedelta(days=BAR_DAYS / 2) for m in ticks])
    ax.set_xticklabels([fmt_month(m, lang) for m in ticks], rotation=45 if len(ticks) > 6 else 0,
                       ha="right" if len(ticks) > 6 else "center")
    # no minor ticks per month: the theme draws no tick marks and no minor grid, so they showed
    # nothing and cost a month's worth of tick artists (a third of the data check's figure)
    ax.grid(axis="x", visible=False)


def coverage_chart(frame: pd.DataFrame, lang: str) -> Figure:
    """Bars of orders per month; months without orders are shaded so gaps cannot be missed."""
    fig = Figure()
    ax = fig.subplots()
    ax.bar(frame["month"], frame["orders"], width=BAR_DAYS, align="edge", color=PALETTE[0])
    gaps = frame.loc[frame["orders"] == 0, "month"]
    for month in gaps:
        ax.axvspan(month, month + pd.offsets.MonthBegin(1), color=HIGHLIGHT, alpha=0.25, lw=0)
    handles = [Patch(color=PALETTE[0], label=t("data_check.coverage.legend_orders", lang))]
    if len(gaps):
        handles.append(Patch(color=HIGHLIGHT, alpha=0.25, label=t("data_check.coverage.legend_gap", lang)))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
    ax.set_title(t("data_check.coverage.chart_title", lang), pad=28)
    ax.set_ylabel(t("data_check.coverage.axis_orders", lang))
    ax.set_xlabel("")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(lambda value, _pos: fmt_int(value))
    if len(frame):
        _month_axis(ax, frame["month"], lang)
    ax.set_ylim(bottom=0)
    return fig


def drawn_texts(fig: Figure) -> list[tuple[Text, Bbox]]:
    """Every text the figure draws, with its box in display pixels: titles, axis and tick labels
    (only the ticks inside the view), annotations, bar labels and legend entries."""
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    fig.draw_without_rendering()
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden.update((id(tick.label1), id(tick.label2)))
    return [(text, text.get_window_extent(renderer)) for text in fig.findobj(Text)
            if text.get_visible() and text.get_text().strip() and id(text) not in hidden]


def overlapping_texts(fig: Figure, pad: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap (each box grown by pad pixels): labels that run
    into each other. Empty for a figure a client can read."""
    boxes = [(text.get_text(), box.padded(pad)) for text, box in drawn_texts(fig)]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]
