"""The Agg canvas report PNGs are drawn on: matplotlib's, with text measured once per process.

A report PNG is drawn twice over: once to measure the tight crop (crmlib.charts.tight_bbox),
once for the pixels, each time on a new renderer. matplotlib caches a text's measurement per
renderer, so the second pass measured every label again, and it looks up the font's height
metrics (a font search and two table reads) each time a text is laid out: together about a
sixth of a report's figure time. Here both caches are kept for the process, keyed by everything
the measurement depends on. The pixels are the same, byte for byte (tests/test_style.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.font_manager import FontProperties, fontManager, get_font

# what resolves a FontProperties to font files, or changes a measurement, besides the text itself
_RC_KEYS = ("font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive",
            "font.fantasy", "font.stretch", "text.hinting", "text.hinting_factor", "text.kerning_factor")


def _rc_key() -> tuple:
    return tuple(str(mpl.rcParams[key]) for key in _RC_KEYS)


@lru_cache(maxsize=4)
def _meter(dpi: float) -> RendererAgg:
    """A 1 x 1 px renderer that measures text at this resolution (no pixels are drawn on it)."""
    return RendererAgg(1, 1, dpi)


@lru_cache(maxsize=16_384)
def _text_size(text: str, prop: FontProperties, dpi: float, _rc: tuple) -> tuple[float, float, float]:
    """Width, height and descent of plain text in pixels, as RendererAgg measures it."""
    return RendererAgg.get_text_width_height_descent(_meter(dpi), text, prop, False)


@lru_cache(maxsize=1_024)
def _height_metrics(prop: FontProperties, dpi: float, _rc: tuple) -> tuple[Any, Any, Any]:
    """The font's ascent, descent and line gap at this size, as matplotlib.text reads them for
    every layout (OS/2 table, else hhea); (None, None, None) sends it to its measured fallback."""
    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                                                         ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


class ReportRenderer(RendererAgg):
    """RendererAgg whose text measurements come from the process-wide caches above."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__(width, height, dpi)
        # the rc settings as they are when the renderer is made: figure_png makes its renderers
        # inside one rc_context, so they cannot change while one is in use
        self._rc = _rc_key()

    def get_text_width_height_descent(self, s: str, prop: FontProperties, ismath: Any) -> tuple[float, float, float]:
        if ismath is False:
            return _text_size(s, prop.copy(), self.dpi, self._rc)  # a copy: FontProperties is mutable
        return super().get_text_width_height_descent(s, prop, ismath)

    def _get_font_height_metrics(self, prop: FontProperties) -> tuple[Any, Any, Any]:
        # matplotlib.text asks a renderer that has this method instead of reading the font itself
        return _height_metrics(prop.copy(), self.dpi, self._rc)


class ReportCanvas(FigureCanvasAgg):
    """FigureCanvasAgg drawing on a ReportRenderer (the same renderer reuse rule as its base)."""

    def get_renderer(self) -> RendererAgg:
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:
            self.renderer = ReportRenderer(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer


__all__ = ["ReportCanvas", "ReportRenderer"]
