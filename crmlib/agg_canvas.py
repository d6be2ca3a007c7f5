"""The Agg canvas report PNGs are drawn on: matplotlib's, with text measured and glyphs rendered
once per process, and the PNG written by crmlib.png.

A report PNG is drawn twice over: once to measure the tight crop (crmlib.charts.tight_bbox),
once for the pixels, each time on a new renderer. matplotlib caches a text's measurement per
renderer, so the second pass measured every label again, and it looks up the font's height
metrics (a font search and two table reads) each time a text is laid out: together about a
sixth of a report's figure time. Here both caches are kept for the process, keyed by everything
the measurement depends on. Drawing a label renders each of its glyphs with FreeType at the
glyph's sub-pixel position; the same glyph at the same fraction of a pixel is the same bitmap
moved by whole pixels, so each is rendered once per process (a report's tick labels repeat the
same digits and words: a quarter of the figures' text drawing). The pixels are the same, byte for
byte (tests/test_style.py).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import (
    FigureCanvasAgg,
    RendererAgg,
    get_hinting_flag,
)
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import RenderMode

from .png import encode_png

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


@lru_cache(maxsize=64)
def _glyph_matrix(angle: float, slant: float, extend: float) -> np.ndarray:
    """FreeType's 16.16 transform of a glyph drawn at this angle (as RendererAgg computes it)."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]).round().astype(int)


_GLYPHS: dict[tuple, tuple[np.ndarray, int, int]] = {}
_GLYPHS_MAX = 20_000  # about 10 MB of small bitmaps; cleared when full


def _glyph(font: Any, size: float, dpi: float, glyph_index: int, matrix_key: tuple, fraction: tuple[int, int],
           load_flags: Any, mode: Any, rc: tuple) -> tuple[np.ndarray, int, int]:
    """A glyph's bitmap rendered at a sub-pixel offset (1/64 px), with its left and top at that
    offset: FreeType rasterises an outline moved by whole pixels into the same bitmap moved by as
    many, so one rendering serves every position with the same fraction."""
    key = (font.fname, font.face_index, size, dpi, glyph_index, matrix_key, fraction, load_flags, mode, rc)
    found = _GLYPHS.get(key)
    if found is None:
        if len(_GLYPHS) >= _GLYPHS_MAX:
            _GLYPHS.clear()
        font.set_size(size, dpi)
        font._set_transform(_glyph_matrix(*matrix_key), list(fraction))
        bitmap = font._render_glyph(glyph_index, load_flags, mode)
        buffer = np.array(bitmap.buffer)  # a copy: FreeType's buffer is the font's own
        if mode == RenderMode.MONO:
            buffer *= 0xFF
        found = _GLYPHS[key] = (buffer, bitmap.left, bitmap.top)
    return found


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

    def _draw_text_glyphs_and_boxes(self, gc: Any, x: float, y: float, angle: float, glyphs: Any, boxes: Any) -> None:
        """RendererAgg's glyph loop with each glyph's bitmap rendered once per process for its
        sub-pixel offset (plain text; mathtext's boxes go to matplotlib's own loop)."""
        if boxes:
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        load_flags = get_hinting_flag()
        mode = RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO
        height = self.height
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards
            tx = round(0x40 * (x + dx * cos - dy * sin))
            ty = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y is upwards
            buffer, left, top = _glyph(font, size, self.dpi, glyph_index, (angle, slant, extend),
                                       (tx & 0x3F, ty & 0x3F), load_flags, mode, self._rc)
            # draw_text_image's y is downwards and names the bitmap's bottom side
            self._renderer.draw_text_image(buffer, left + (tx >> 6), int(height) - (top + (ty >> 6)) + buffer.shape[0],
                                           0, gc)
        return None

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

    def print_png(self, filename_or_obj: Any, *, metadata: dict | None = None,
                  pil_kwargs: dict | None = None, **_savefig: Any) -> None:
        """The figure as PNG by crmlib.png (2.5 times faster than Pillow's per-row filter search,
        the same pixels) when no text metadata is asked for (figure_png's Software=None); other
        metadata, Pillow options or a file name go to matplotlib's own writer. savefig's colours,
        orientation and crop restore come along, as to every print method outside matplotlib;
        matplotlib's own print_png takes none of them either."""
        options = dict(pil_kwargs or {})
        level = options.pop("compress_level", 6)
        if (metadata is None or any(value is not None for value in metadata.values()) or options
                or not hasattr(filename_or_obj, "write")):
            return super().print_png(filename_or_obj, metadata=metadata, pil_kwargs=pil_kwargs)
        FigureCanvasAgg.draw(self)
        filename_or_obj.write(encode_png(np.asarray(self.buffer_rgba()), self.figure.dpi, level))
        return None


__all__ = ["ReportCanvas", "ReportRenderer"]
