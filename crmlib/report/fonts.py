"""Embed the Japanese glyphs a page uses (a subset of IPAexGothic) as an inline @font-face.

A machine without Japanese fonts (a locked-down laptop, a Linux server) otherwise shows tofu
boxes. Only the non-ASCII characters of the page are kept (Latin comes from the system fonts),
which costs about 10 KB on the index and 40-60 KB on a chapter page (WOFF, base64). An HTML page
with embedded fonts is a "Digital Document File" under the IPA Font License (Article 1.5), which
permits the embedding.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache
from pathlib import Path

FONT_MARKER = "<!--crm-font-->"
FONT_FAMILY = "CRM Report JP"


@lru_cache(maxsize=1)
def font_path() -> Path:
    """IPAexGothic as shipped in the matplotlib-fontja wheel (a dependency already)."""
    import matplotlib_fontja

    return Path(matplotlib_fontja.__file__).parent / "fonts" / "ipaexg.ttf"


CJK_START = 0x2E80  # CJK radicals, kana, kanji, full-width forms and beyond


_ASCII_RUNS = re.compile(r"[\x00-\x7f]+")


def page_characters(page: str) -> set[str]:
    """The non-ASCII characters of a page (base64 images and fonts are ASCII, so they add none).
    The ASCII runs go first, in one regular-expression pass: a set of a page's megabytes of
    characters took five times as long."""
    return {c for c in set(_ASCII_RUNS.sub("", page)) if not c.isspace()}


def needs_japanese_font(characters: set[str]) -> bool:
    """True when the page shows CJK text (a '·' or '¥' alone is in every system font)."""
    return any(ord(c) >= CJK_START for c in characters)


def subset_woff(characters: set[str]) -> bytes:
    """A WOFF font holding only the given characters (fontTools, no hinting, no layout tables)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.layout_features = []
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # keep copyright and licence notices
    options.notdef_outline = True
    # same bytes for the same page; the full font's bounding box and maxima kept (valid bounds for
    # the subset): recalculating them unpacked and recompiled every glyph, half the subset's CPU
    font = TTFont(str(font_path()), recalcTimestamp=False, recalcBBoxes=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def font_face_css(characters: set[str]) -> str:
    """An @font-face rule with the subset inline; '' when there is nothing to embed. One weight
    (400), so browsers embolden it for headings (a 400-700 range would claim a bold it lacks and
    leave bold Japanese regular beside bold digits); display: block, no flash of boxes."""
    if not needs_japanese_font(characters):
        return ""
    data = base64.b64encode(subset_woff(characters)).decode("ascii")
    return (
        f'@font-face {{ font-family: "{FONT_FAMILY}"; font-style: normal; font-weight: 400; font-display: block; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )


def _with_css(page: str, css: str) -> str:
    """The page with its font marker replaced by a <style> holding css (or removed when empty)."""
    return page.replace(FONT_MARKER, f'<style type="text/css">{css}</style>' if css else "", 1)


def embed_font(page: str, enabled: bool = True) -> str:
    """Replace the page's font marker with a <style> holding the subset (or remove the marker)."""
    if FONT_MARKER not in page:
        return page
    css = font_face_css(page_characters(page.replace(FONT_MARKER, ""))) if enabled else ""
    return _with_css(page, css)


def embed_fonts(pages: dict[str, str], enabled: bool = True) -> dict[str, str]:
    """embed_font for every page of a report, with one subset for all of them: the characters of
    every page that shows Japanese. Each such page carries the same font (about 80 KB as WOFF for
    a chapter report, some tens of KB more than its own glyphs would need); subsetting once
    instead of once per page saves about a second of CPU per report, which counts in a batch."""
    if not enabled:
        return {name: embed_font(page, False) for name, page in pages.items()}
    shown = {name: page_characters(page.replace(FONT_MARKER, ""))
             for name, page in pages.items() if FONT_MARKER in page}
    japanese = [name for name, chars in shown.items() if needs_japanese_font(chars)]
    css = font_face_css(set().union(*(shown[name] for name in japanese))) if japanese else ""
    return {name: _with_css(page, css if name in japanese else "") if name in shown else page
            for name, page in pages.items()}
