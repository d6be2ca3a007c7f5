"""Executed notebooks -> self-contained, offline HTML pages, the index page and report.html.

Uses nbconvert's HTMLExporter in process with the `crm` template (the lab template minus every
external script and stylesheet), hides code, prompts and notebook-only cells, numbers the
sections after their chapter (2.3), then adds a table of contents built from the page's
headings. Every page carries the same frame (PageFrame): client, as-of date, logo, colours, the
data fingerprint and the crmlib version; the Japanese glyphs it uses are embedded (fonts.py).
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import nbformat
from nbconvert import HTMLExporter

from ..i18n import t
from .fonts import FONT_MARKER, embed_font
from .settings import DEFAULT_ACCENT, DEFAULT_PRIMARY
from .summary import Finding

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "crm"
CSS_PATH = TEMPLATES_DIR / TEMPLATE_NAME / "static" / "report.css"
TOC_MARKER = "<!--crm-toc-->"
# Cells with this tag are for people reading the notebook (English notes), not for the client.
NOTEBOOK_ONLY_TAG = "notebook-only"
_HIDDEN_TAGS = {NOTEBOOK_ONLY_TAG, "parameters", "injected-parameters"}
_URL_ATTRS = {"src", "href", "srcset", "data", "poster", "action", "formaction", "background"}
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.IGNORECASE)


def report_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook with only what the client sees: no notebook-only,
    parameter or output-less code cells, and no stderr (warnings stay in the .ipynb)."""
    shown = copy.deepcopy(nb)
    cells = []
    for cell in shown.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _HIDDEN_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [
                out for out in cell.get("outputs", [])
                if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue
        cells.append(cell)
    shown.cells = cells
    return shown


@lru_cache(maxsize=4)
def _exporter(lang: str) -> HTMLExporter:
    """An HTMLExporter for the crm template: no code, no prompts, no anchor links (one per
    language and process: a new exporter compiles its ~40 Jinja templates again, about a second)."""
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)]
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    # the notebook validated once after the preprocessors, not after each of the twelve (0.04
    # CPU-s a report; nbconvert's own switch)
    exporter.optimistic_validation = True
    exporter.language_code = lang
    return exporter


@dataclass(frozen=True)
class PageFrame:
    """What every page shows around its content: client, as-of date, identity, data fingerprint."""

    lang: str
    client: str
    as_of: str
    version: str
    fingerprint: str = ""  # formatted "data orders.csv (SHA-256 ..., n rows)"; "" = not shown
    logo: str | None = None  # a data: URI
    primary: str = DEFAULT_PRIMARY
    accent: str = DEFAULT_ACCENT
    embed_font: bool = True
    footer_extra: tuple[str, ...] = field(default_factory=tuple)

    @property
    def meta(self) -> str:
        """'client | as of date' line of the page header."""
        return t("report.page_meta", self.lang, client=self.client, date=self.as_of)

    @property
    def logo_alt(self) -> str:
        return t("report.logo_alt", self.lang, client=self.client)

    @property
    def identity_css(self) -> str:
        """The client's colours as CSS variables (validated hex, so safe to inline) and the
        printed page's frame (print_css)."""
        return f":root {{ --crm-primary: {self.primary}; --crm-accent: {self.accent}; }}\n{self.print_css}"

    @property
    def print_footer(self) -> str:
        """The line at the foot of every printed page: client, date and the data fingerprint."""
        return " / ".join([self.meta, *([self.fingerprint] if self.fingerprint else [])])

    @property
    def print_css(self) -> str:
        """A4 pages with the client, date and data fingerprint at the foot of every page and
        'page / pages' in the corner (CSS page-margin boxes, which Chromium prints)."""
        return (
            "@page { size: A4; margin: 16mm 14mm 18mm;\n"
            f"  @bottom-left {{ content: {css_string(self.print_footer)}; {_MARGIN_BOX} }}\n"
            f"  @bottom-right {{ content: counter(page) \" / \" counter(pages); {_MARGIN_BOX} }} }}"
        )

    @property
    def footer_parts(self) -> list[str]:
        """Footer of every page: client and date, data fingerprint, crmlib version."""
        parts = [self.meta]
        if self.fingerprint:
            parts.append(self.fingerprint)
        parts.extend(self.footer_extra)
        parts.append(t("report.generated_by", self.lang, version=self.version))
        return parts


# margin boxes have no inherited font: the page's own stack, small and muted
_MARGIN_BOX = ('font-family: "Hiragino Kaku Gothic ProN", "Noto Sans CJK JP", "CRM Report JP", Arial, sans-serif; '
               "font-size: 7.5pt; color: #5b6775;")


def css_string(text: str) -> str:
    """text as a quoted CSS string: quotes, backslashes, '<' (no '</style>') and control characters
    escaped as CSS hex escapes (a client's file name may hold any of them)."""
    def escape(c: str) -> str:
        return f"\\{ord(c):x} " if c in '"\\<>' or ord(c) < 0x20 or ord(c) == 0x7F else c

    return '"' + "".join(escape(c) for c in text) + '"'


def data_fingerprint(ledger: dict, lang: str) -> str:
    """'data orders.csv (SHA-256 24acfba1d97b…, 59,780 rows)' from ledger.json's source and rows."""
    from ..style import fmt_int

    source = ledger.get("source") or {}
    if not source.get("file"):
        return ""
    rows = fmt_int(ledger.get("input_rows"))
    sha = str(source.get("sha256") or "")[:12]
    if not sha:
        return t("report.fingerprint_unhashed", lang, file=source["file"], rows=rows)
    return t("report.fingerprint", lang, file=source["file"], sha=sha, rows=rows)


def numbered_title(number: int | None, title: str, lang: str) -> str:
    """'1. Diagnosis': chapters are numbered after their file prefix (00_data_check is 0)."""
    return title if number is None else t("report.chapter_number", lang, number=number, title=title)


_SECTION_NUMBER = re.compile(r'(<h2 id="[^"]*">)(\d+)\.\s*')
_SUBSECTION_NUMBER = re.compile(r'(<h3 id="[^"]*">)(\d+\.\d+)\s+')


def number_sections(page: str, chapter: int | None) -> str:
    """Turn the notebooks' '3. Title' section headings into '1.3 Title' (chapter.section) and
    their '3.1 Title' subsections into '1.3.1 Title'."""
    if chapter is None:
        return page
    page = _SECTION_NUMBER.sub(lambda m: f"{m.group(1)}{chapter}.{m.group(2)} ", page)
    return _SUBSECTION_NUMBER.sub(lambda m: f"{m.group(1)}{chapter}.{m.group(2)} ", page)


def chapter_html(
    nb: nbformat.NotebookNode,
    *,
    lang: str,
    chapter_title: str,
    client_title: str,
    as_of: str,
    version: str,
    number: int | None = None,
    frame: PageFrame | None = None,
    embed: bool = True,
) -> str:
    """One chapter page: header, table of contents and the notebook's outputs, all inline
    (embed=False: the font marker is left for fonts.embed_fonts over all of a report's pages)."""
    frame = frame or PageFrame(lang=lang, client=client_title, as_of=as_of, version=version)
    title = numbered_title(number, chapter_title, lang)
    crm = {
        "page_title": f"{title} | {frame.client}",
        "chapter_title": title,
        "meta": frame.meta,
        "back": t("report.back", lang),
        "footer_parts": frame.footer_parts,
        "version": frame.version,
        "logo": frame.logo,
        "logo_alt": frame.logo_alt,
        "identity_css": frame.identity_css,
    }
    body, _ = _exporter(lang).from_notebook_node(report_cells(nb), resources={"crm": crm})
    page = add_toc(number_sections(body, number), t("report.toc", lang))
    return embed_font(page, frame.embed_font) if embed else page


def warm_pages(lang: str) -> None:
    """Compile what a report's first page compiles (the exporter's Jinja templates, the page
    template, the heading and table-of-contents passes) by rendering one small page: `run` does
    it in its import thread beside the ingest, where a page made it while the chapters ran
    (0.2-0.3 CPU-s of the first page's 0.25)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    # an entity and non-ASCII text: BeautifulSoup (in nbconvert) builds its entity tables the
    # first time a page has them
    table = ("<h2 id='a'>a</h2><table class='dataframe'><tr><th>a &amp; b</th></tr>"
             "<tr><td>1 – 日本 &lt; ✓</td></tr></table>")
    cell = new_code_cell("", outputs=[new_output("display_data", data={"text/html": table})])
    chapter_html(new_notebook(cells=[new_markdown_cell("# a"), cell]), lang=lang, chapter_title="a",
                 client_title="a", as_of="2000-01-01", version="0", number=0, embed=False)
    for name in ("report_index.html.j2", "report_single.html.j2"):  # compiled once, kept
        _environment().get_template(name)


class _HeadingCollector(HTMLParser):
    """Collects (level, id, text) of h2/h3 headings with an id inside <main>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str, str]] = []
        self._in_main = False
        self._current: tuple[int, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self._in_main = True
        elif self._in_main and tag in ("h2", "h3"):
            anchor = dict(attrs).get("id")
            if anchor:
                self._current, self._text = (int(tag[1]), anchor), []

    def handle_endtag(self, tag: str) -> None:
        if self._current and tag == f"h{self._current[0]}":
            level, anchor = self._current
            self.headings.append((level, anchor, "".join(self._text).strip()))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current:
            self._text.append(data)


def headings(page: str) -> list[tuple[int, str, str]]:
    """The (level, id, text) of every h2/h3 with an id in the page's <main>."""
    collector = _HeadingCollector()
    collector.feed(page)
    collector.close()
    return collector.headings


def add_toc(page: str, title: str) -> str:
    """Replace the TOC marker with a list of links to the page's headings (none: marker removed)."""
    found = headings(page)
    if not found:
        return page.replace(TOC_MARKER, "", 1)
    items = "\n".join(
        f'<li class="crm-toc-{level}"><a href="#{html.escape(anchor)}">{html.escape(text)}</a></li>'
        for level, anchor, text in found
    )
    nav = (
        f'<nav class="crm-toc" aria-label="{html.escape(title)}">\n'
        f'<p class="crm-toc-title">{html.escape(title)}</p>\n<ol>\n{items}\n</ol>\n</nav>'
    )
    return page.replace(TOC_MARKER, nav, 1)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Jinja for the index and report.html templates (autoescaped), one per process: it keeps
    the compiled templates (a batch worker compiled both again for every client, 0.1 CPU-s)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, keep_trailing_newline=True
    )


def _summary_text(lang: str) -> dict[str, str]:
    """The fixed words of the executive summary block."""
    return {key: t(f"summary.{key}", lang)
            for key in ("title", "lead", "alert", "note", "details", "empty", "limits_title")}


_SECTION_NUMBER_TEXT = re.compile(r"^\d+(?:\.\d+)*\b")


def section_numbers(pages: Mapping[str, str]) -> dict[str, str]:
    """'01_diagnosis#f2' -> '1.3' for every numbered h2/h3 of the chapter pages (stem -> page):
    what a printed report shows instead of a link."""
    found = {}
    for stem, page in pages.items():
        for _level, anchor, text in headings(page):
            number = _SECTION_NUMBER_TEXT.match(text)
            if number:
                found[f"{stem}#{anchor}"] = number.group(0)
    return found


def _finding_items(findings: Sequence[Finding], link, lang: str,
                   sections: Mapping[str, str] | None = None) -> list[dict]:
    """Findings as template items with their link (page#anchor, or an in-file anchor) and, for
    print, the section they point at ('See 1.3')."""
    sections = sections or {}
    return [
        {"rule": f.rule, "alert": f.alert, "headline": f.headline, "text": f.text, "link": link(f),
         "section": (t("summary.see_section", lang, section=sections[f"{f.chapter}#{f.anchor}"])
                     if f"{f.chapter}#{f.anchor}" in sections else "")}
        for f in findings
    ]


def index_html(
    *,
    lang: str,
    client_title: str,
    as_of: str,
    version: str,
    chapters: list[tuple[str, str]],
    files: list[tuple[str, str]],
    findings: Sequence[Finding] = (),
    frame: PageFrame | None = None,
    embed: bool = True,
    failed: Collection[str] = (),
    limits: Sequence[str] = (),
    sections: Mapping[str, str] | None = None,
    tracking: Mapping[str, Any] | None = None,
) -> str:
    """The report's index page: executive summary, chapter links (those in failed, by href,
    marked as not completed), data files; the frame around (embed=False: font marker left in
    place, as for chapter_html)."""
    frame = frame or PageFrame(lang=lang, client=client_title, as_of=as_of, version=version)
    page = _environment().get_template("report_index.html.j2").render(
        frame=frame,
        title=t("report.index_title", lang, client=frame.client),
        as_of=t("report.as_of", lang, date=frame.as_of),
        contents=t("report.contents", lang),
        files_title=t("report.files", lang),
        summary_text=_summary_text(lang),
        findings=_finding_items(findings, lambda f: f.href, lang, sections),
        limits=list(limits),
        tracking=tracking,
        chapters=[{"href": href, "title": title, "failed": href in failed} for href, title in chapters],
        failed_mark=t("report.failure.index_mark", lang),
        files=[{"href": href, "label": label} for href, label in files],
        css=CSS_PATH.read_text(encoding="utf-8"),
    )
    return embed_font(page, frame.embed_font) if embed else page


# ---- report.html: every chapter in one file ---------------------------------------------

_ID_ATTR = re.compile(r'\bid="([^"]*)"')
_HREF_ATTR = re.compile(r'\bhref="([^"]*)"')
_CHAPTER_LINK = re.compile(r"^(\d\d_[A-Za-z0-9_]+)\.html(?:#(.*))?$")


def in_file_anchor(chapter: str, anchor: str | None = None) -> str:
    """The id of a chapter (or of one of its sections) inside report.html."""
    return f"{chapter}--{anchor}" if anchor else chapter


def _between(page: str, start: str, end: str) -> str:
    """The text between the first start and the last end marker ('' when absent)."""
    i = page.find(start)
    j = page.rfind(end)
    return page[i + len(start): j] if i >= 0 and j > i else ""


def chapter_parts(page: str, chapter: str) -> tuple[str, str]:
    """(table of contents, body) of a chapter page with every id and in-page link prefixed by
    the chapter, and links to other chapter pages or the index turned into in-file anchors."""
    toc_start = page.find('<nav class="crm-toc"')
    toc = page[toc_start: page.find("</nav>", toc_start) + len("</nav>")] if toc_start >= 0 else ""
    body = _between(page, "<main>", "</main>")

    def rename_id(match: re.Match) -> str:
        return f'id="{in_file_anchor(chapter, match.group(1))}"'

    def relink(match: re.Match) -> str:
        href = match.group(1)
        if href.startswith("#"):
            return f'href="#{in_file_anchor(chapter, href[1:])}"'
        if href == "index.html":
            return 'href="#top"'
        other = _CHAPTER_LINK.match(href)
        if other:
            return f'href="#{in_file_anchor(other.group(1), other.group(2))}"'
        return match.group(0)

    return tuple(_HREF_ATTR.sub(relink, _ID_ATTR.sub(rename_id, part)) for part in (toc, body))


def single_file_html(
    *,
    frame: PageFrame,
    chapters: list[tuple[str, str, str]],
    findings: Sequence[Finding] = (),
    embed: bool = True,
    limits: Sequence[str] = (),
    sections: Mapping[str, str] | None = None,
    tracking: Mapping[str, Any] | None = None,
) -> str:
    """report.html: summary, contents and every chapter (stem, numbered title, page) in one file
    (embed=False: font marker left in place, as for chapter_html)."""
    lang = frame.lang
    items = []
    for stem, title, page in chapters:
        toc, body = chapter_parts(page.replace(FONT_MARKER, ""), stem)
        items.append({"id": in_file_anchor(stem), "title": title, "toc": toc, "body": body})
    page = _environment().get_template("report_single.html.j2").render(
        frame=frame,
        title=t("report.index_title", lang, client=frame.client),
        as_of=t("report.as_of", lang, date=frame.as_of),
        note=t("report.single_note", lang),
        contents=t("report.contents", lang),
        top=t("report.top", lang),
        summary_text=_summary_text(lang),
        findings=_finding_items(findings, lambda f: "#" + in_file_anchor(f.chapter, f.anchor), lang, sections),
        limits=list(limits),
        tracking=tracking,
        chapters=items,
        css=CSS_PATH.read_text(encoding="utf-8"),
    )
    return embed_font(page, frame.embed_font) if embed else page


class _UrlCollector(HTMLParser):
    """Collects every URL a page would load or link to: attributes and CSS url()/@import."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if not value:
                continue
            if name in _URL_ATTRS:
                parts = value.split(",") if name == "srcset" else [value]
                self.urls.extend(part.strip().split(" ")[0] for part in parts)
            elif name == "style":
                self.urls.extend(_CSS_URL.findall(value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls.extend(_CSS_URL.findall(data))


def external_urls(page: str) -> list[str]:
    """URLs in the page that need the network (http(s), protocol-relative, any non-data scheme)."""
    collector = _UrlCollector()
    collector.feed(page)
    collector.close()
    return [
        url for url in collector.urls
        if url.startswith("//") or urlsplit(url).scheme.lower() not in ("", "data")
    ]
