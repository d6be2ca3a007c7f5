"""report.pptx: the editable PowerPoint deck a consultant hands over (python-pptx).

Slides: a title slide; one slide per executive-summary finding (its figure, sentence and the
chart of its section); the key chart of each chapter with its first takeaway; the six strategy
steps on one slide. Everything is read from the rendered pages (headings, takeaways, the PNG
figures), so the deck says exactly what the report says. Text stays text (only charts are
pictures), with a Japanese East Asian font set on every run; the client's logo and colours come
from `report:`. Consultant notes (crm-note) never reach the deck.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..i18n import t
from .html import PageFrame
from .summary import Finding

DECK_NAME = "report.pptx"
LATIN_FONT = "Arial"
EA_FONT = {"ja": "Yu Gothic", "en": "Yu Gothic"}  # Japanese client data shows in English decks too
STRATEGY_CHAPTER = "04_strategy"
STRATEGY_STEPS = ("goals", "targets", "journey", "service", "log", "kpis")  # DOMAIN: the six steps
WIDTH_IN, HEIGHT_IN = 13.333, 7.5  # 16:9


@dataclass
class Block:
    """One piece of a page's <main> in order: a heading, a takeaway or a figure."""

    kind: str  # "h2", "h3", "takeaway", "figure", "table"
    text: str = ""
    anchor: str = ""
    png: bytes = b""
    rows: list[list[str]] | None = None  # a table's cells, header row first


class _PageReader(HTMLParser):
    """Collects headings, takeaways and figure PNGs of a page's <main>, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._in_main = False
        self._open: Block | None = None
        self._tag = ""
        self._table: Block | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "main":
            self._in_main = True
        if not self._in_main:
            return
        if tag in ("h2", "h3") and a.get("id"):
            self._open, self._tag = Block(tag, anchor=a["id"] or ""), tag
        elif tag == "p" and "crm-takeaway" in (a.get("class") or "").split():
            self._open, self._tag = Block("takeaway"), "p"
        elif tag == "table":
            self._table = Block("table", rows=[])
        elif self._table is not None and tag == "tr":
            self._table.rows.append([])
        elif self._table is not None and tag in ("th", "td") and self._table.rows:
            self._table.rows[-1].append("")
        elif tag == "img" and "crm-figure" in (a.get("class") or "").split():
            src = a.get("src") or ""
            if src.startswith("data:image/png;base64,"):
                self.blocks.append(Block("figure", text=a.get("alt") or "",
                                         png=base64.b64decode(src.split(",", 1)[1])))

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self._in_main = False
        if tag == "table" and self._table is not None:
            self._table.rows = [[" ".join(c.split()) for c in row] for row in self._table.rows if row]
            self.blocks.append(self._table)
            self._table = None
        if self._open is not None and tag == self._tag:
            self._open.text = " ".join(self._open.text.split())
            self.blocks.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data
        elif self._table is not None and self._table.rows and self._table.rows[-1]:
            self._table.rows[-1][-1] += data


def page_blocks(page: str) -> list[Block]:
    """The headings, takeaways and figures of a rendered page's <main>, in order."""
    reader = _PageReader()
    reader.feed(page)
    reader.close()
    return reader.blocks


def section(blocks: Sequence[Block], anchor: str) -> list[Block]:
    """The blocks of one section: from its heading to the next heading of the same or a higher level."""
    for i, block in enumerate(blocks):
        if block.kind in ("h2", "h3") and block.anchor == anchor:
            level = block.kind
            end = next((j for j in range(i + 1, len(blocks))
                        if blocks[j].kind == "h2" or (level == "h3" and blocks[j].kind == "h3")), len(blocks))
            return list(blocks[i:end])
    return []


def _section_of(blocks: Sequence[Block], block: Block) -> list[Block]:
    """The h2 section a block belongs to (the blocks from its h2 to the next)."""
    at = next(i for i, b in enumerate(blocks) if b is block)
    heading = next((b for b in reversed(blocks[:at]) if b.kind == "h2"), None)
    return section(blocks, heading.anchor) if heading else list(blocks)


def _first(blocks: Sequence[Block], kind: str) -> Block | None:
    return next((b for b in blocks if b.kind == kind), None)


# ---- slides -------------------------------------------------------------------------------

def _rgb(hex_colour: str):
    from pptx.dml.color import RGBColor

    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return RGBColor.from_string(value.upper())


def set_fonts(run, lang: str) -> None:
    """Latin and East Asian typefaces on one run (python-pptx names only the Latin one)."""
    from pptx.oxml.ns import qn

    run.font.name = LATIN_FONT
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        old = rpr.find(qn(tag))
        if old is not None:
            rpr.remove(old)
    ea = rpr.makeelement(qn("a:ea"), {"typeface": EA_FONT[lang]})
    latin = rpr.find(qn("a:latin"))
    latin.addnext(ea)


def _text(slide, left, top, width, height, text: str, lang: str, *, size: int = 18, bold: bool = False,
          colour: str | None = None, align=None):
    """A text box with one paragraph per line of text, fonts set for Japanese."""
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        if align is not None:
            paragraph.alignment = align
        run = paragraph.add_run()
        run.text = line
        run.font.size = Pt(size)
        run.font.bold = bold
        if colour:
            run.font.color.rgb = _rgb(colour)
        set_fonts(run, lang)
    return box


def _picture(slide, png: bytes, left, top, max_w, max_h) -> None:
    """A chart picture fitted inside a box, keeping its aspect ratio."""
    from PIL import Image
    from pptx.util import Inches

    with Image.open(io.BytesIO(png)) as image:
        w, h = image.size
    scale = min(max_w / w, max_h / h)
    slide.shapes.add_picture(io.BytesIO(png), Inches(left), Inches(top), Inches(w * scale), Inches(h * scale))


TABLE_ROWS = 7  # data rows of a section's table on a finding slide (the page has them all)


def _table(slide, rows: list[list[str]], left, top, width, max_height, lang: str, primary: str) -> None:
    """A section's table as a native PowerPoint table (editable): the header and its first
    TABLE_ROWS rows, numbers aligned right as on the page, the header in the client's colour."""
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches, Pt

    from .nbtools import is_number_cell

    header, body = rows[0], rows[1:1 + TABLE_ROWS]
    columns = max(len(header), *(len(r) for r in body))
    shown = [r + [""] * (columns - len(r)) for r in [header, *body]]
    height = min(max_height, 0.4 * len(shown))
    grid = slide.shapes.add_table(len(shown), columns, Inches(left), Inches(top), Inches(width),
                                  Inches(height)).table
    for i, row in enumerate(shown):
        for j, value in enumerate(row):
            cell = grid.cell(i, j)
            cell.text_frame.word_wrap = True
            if i == 0:
                cell.fill.solid()
                cell.fill.fore_color.rgb = _rgb(primary)
            paragraph = cell.text_frame.paragraphs[0]
            if i and j and is_number_cell(value):
                paragraph.alignment = PP_ALIGN.RIGHT
            run = paragraph.add_run()
            run.text = value
            run.font.size = Pt(12 if i else 11)
            run.font.bold = i == 0
            set_fonts(run, lang)


def _frame_marks(slide, frame: PageFrame, draft: str, lang: str) -> None:
    """The band in the client's colour, the footer (client, date, data) and the draft mark."""
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Inches

    band = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, Inches(WIDTH_IN), Inches(0.12))
    band.fill.solid()
    band.fill.fore_color.rgb = _rgb(frame.primary)
    band.line.fill.background()
    _text(slide, 0.5, HEIGHT_IN - 0.45, WIDTH_IN - 1, 0.35, frame.print_footer, lang, size=9, colour="#5b6775")
    if draft:
        _text(slide, WIDTH_IN - 3.2, 0.2, 2.8, 0.5, draft, lang, size=16, bold=True, colour="#c44e52")


def build_deck(
    *,
    frame: PageFrame,
    title: str,
    findings: Sequence[Finding],
    chapters: Sequence[tuple[str, str, str]],
    draft: str = "",
) -> bytes:
    """The deck as .pptx bytes: title, findings, one key chart per chapter, the six strategy steps.
    chapters: (stem, numbered title, rendered page); draft: the mark on every slide ('' = none)."""
    from pptx import Presentation
    from pptx.util import Inches

    lang = frame.lang
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(WIDTH_IN), Inches(HEIGHT_IN)
    blank = deck.slide_layouts[6]
    blocks = {stem: page_blocks(page) for stem, _title, page in chapters}

    slide = deck.slides.add_slide(blank)
    _frame_marks(slide, frame, draft, lang)
    if frame.logo and frame.logo.startswith(("data:image/png;", "data:image/jpeg;", "data:image/gif;")):
        _picture(slide, base64.b64decode(frame.logo.split(",", 1)[1]), 0.8, 0.8, 3.0, 1.2)
    _text(slide, 0.8, 2.6, WIDTH_IN - 1.6, 1.4, title, lang, size=36, bold=True, colour=frame.primary)
    _text(slide, 0.8, 4.1, WIDTH_IN - 1.6, 0.6, t("report.as_of", lang, date=frame.as_of), lang, size=18,
          colour="#5b6775")

    summary_title = t("summary.title", lang)
    for number, finding in enumerate(findings, start=1):
        slide = deck.slides.add_slide(blank)
        _frame_marks(slide, frame, draft, lang)
        badge = t("summary.alert" if finding.alert else "summary.note", lang)
        _text(slide, 0.5, 0.3, 9.0, 0.5, f"{summary_title} {number}/{len(findings)} · {badge}", lang, size=14,
              colour="#5b6775")
        _text(slide, 0.5, 0.8, 12.3, 0.9, finding.headline, lang, size=40, bold=True, colour=frame.accent)
        part = section(blocks.get(finding.chapter, []), finding.anchor)
        figure, table = _first(part, "figure"), _first(part, "table")
        if figure:
            _text(slide, 0.5, 1.9, 5.6, 4.8, finding.text, lang, size=20)
            _picture(slide, figure.png, 6.4, 1.9, 6.4, 4.8)
        elif table and len(table.rows) > 1:  # no chart in the section: its table, as an editable table
            _text(slide, 0.5, 1.9, 12.3, 1.5, finding.text, lang, size=18)
            _table(slide, table.rows, 0.5, 3.5, 12.3, 3.4, lang, frame.primary)
        else:
            _text(slide, 0.5, 1.9, 12.3, 4.8, finding.text, lang, size=20)

    for stem, chapter_title, _page in chapters:
        figure = _first(blocks[stem], "figure")
        if figure is None:
            continue
        slide = deck.slides.add_slide(blank)
        _frame_marks(slide, frame, draft, lang)
        _text(slide, 0.5, 0.3, 12.3, 0.7, chapter_title, lang, size=28, bold=True, colour=frame.primary)
        takeaway = _first(_section_of(blocks[stem], figure), "takeaway") or _first(blocks[stem], "takeaway")
        _picture(slide, figure.png, 0.5, 1.2, 8.2, 5.6)
        if takeaway:
            _text(slide, 9.0, 1.2, 3.9, 5.6, takeaway.text, lang, size=16)

    steps = blocks.get(STRATEGY_CHAPTER)
    if steps:
        found = [(section(steps, anchor)) for anchor in STRATEGY_STEPS]
        found = [s for s in found if s]
        if found:
            slide = deck.slides.add_slide(blank)
            _frame_marks(slide, frame, draft, lang)
            _text(slide, 0.5, 0.3, 12.3, 0.7, t("report.deck_steps", lang), lang, size=28, bold=True,
                  colour=frame.primary)
            for i, part in enumerate(found):
                col, row = i % 3, i // 3
                left, top = 0.5 + col * 4.15, 1.2 + row * 2.95
                takeaway = _first(part, "takeaway")
                _text(slide, left, top, 4.0, 0.5, part[0].text, lang, size=15, bold=True, colour=frame.primary)
                _text(slide, left, top + 0.55, 4.0, 2.3, takeaway.text if takeaway else "", lang, size=12)

    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def write_deck(folder: Path, **kwargs) -> Path:
    """build_deck into folder/report.pptx."""
    target = folder / DECK_NAME
    target.write_bytes(build_deck(**kwargs))
    return target


__all__ = ["DECK_NAME", "build_deck", "page_blocks", "section", "write_deck"]
