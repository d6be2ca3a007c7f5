"""Executed notebooks -> self-contained, offline HTML pages, plus the report's index page.

Uses nbconvert's HTMLExporter in process with the `crm` template (the lab template minus every
external script and stylesheet), hides code, prompts and notebook-only cells, then adds a
table of contents built from the page's headings.
"""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import nbformat
from nbconvert import HTMLExporter

from ..i18n import t

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


def _exporter(lang: str) -> HTMLExporter:
    """An HTMLExporter for the crm template: no code, no prompts, no anchor links."""
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)]
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.language_code = lang
    return exporter


def chapter_html(
    nb: nbformat.NotebookNode,
    *,
    lang: str,
    chapter_title: str,
    client_title: str,
    as_of: str,
    version: str,
) -> str:
    """One chapter page: header, table of contents and the notebook's outputs, all inline."""
    crm = {
        "page_title": f"{chapter_title} | {client_title}",
        "chapter_title": chapter_title,
        "meta": t("report.page_meta", lang, client=client_title, date=as_of),
        "back": t("report.back", lang),
        "footer": t("report.generated_by", lang, version=version),
        "version": version,
    }
    body, _ = _exporter(lang).from_notebook_node(report_cells(nb), resources={"crm": crm})
    return add_toc(body, t("report.toc", lang))


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


def index_html(
    *,
    lang: str,
    client_title: str,
    as_of: str,
    version: str,
    chapters: list[tuple[str, str]],
    files: list[tuple[str, str]],
) -> str:
    """The report's index page: client title, as-of date, chapter links, data files, version."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, keep_trailing_newline=True
    )
    template = env.get_template("report_index.html.j2")
    return template.render(
        lang=lang,
        title=t("report.index_title", lang, client=client_title),
        as_of=t("report.as_of", lang, date=as_of),
        contents=t("report.contents", lang),
        files_title=t("report.files", lang),
        chapters=[{"href": href, "title": title} for href, title in chapters],
        files=[{"href": href, "label": label} for href, label in files],
        footer=t("report.generated_by", lang, version=version),
        version=version,
        css=CSS_PATH.read_text(encoding="utf-8"),
    )


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
