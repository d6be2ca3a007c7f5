"""A chapter that failed still gets a page: which chapter, in which section, what to do.

The run goes on with the other chapters; the failed chapter's page is built here from the
message catalog (no traceback: the executed notebook in notebooks/ keeps the error for the
consultant), the index marks the chapter, and the run ends with ChapterFailed (exit 4).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from ..i18n import t
from .html import number_sections
from .notes import KEEP

# nbtools.heading's output: <h2 id="targets">2. Targets: ...</h2>
_HEADING = re.compile(r"<h([23]) id=\"[^\"]*\">(.*?)</h\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Failure:
    """What the page and the console say about a failed chapter."""

    chapter: str  # the chapter's name, 04_strategy
    message: str  # the console's message (names the cell; may hold client values: never on a page)
    hint: str | None
    error: str  # the exception's type name, e.g. KeyError
    section: str | None  # the numbered heading the failing cell was under; None: before the first
    exports: bool = False  # the notebook ran, writing its files (customer lists ...) failed


def failed_section(executed: Path, number: int | None) -> str | None:
    """The heading (numbered as on the page, '4.2 Targets ...') of the last section the executed
    notebook showed up to and including its failing cell (the one with an error output; papermill
    adds marker cells, so indexes are not used); None when it failed before its first heading."""
    if not executed.is_file():
        return None
    nb = nbformat.read(executed, as_version=4)
    found = None
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        for output in outputs:
            markup = output.get("data", {}).get("text/html", "")
            markup = "".join(markup) if isinstance(markup, list) else markup
            for match in _HEADING.finditer(markup):
                found = match.group(0)
        if any(output.get("output_type") == "error" for output in outputs):
            break
    if found is None:
        return None
    numbered = number_sections(found, number)
    return html.unescape(_TAG.sub("", numbered)).strip() or None


def failure_notebook(failure: Failure, lang: str) -> nbformat.NotebookNode:
    """A one-cell notebook whose output is the failure notice, for chapter_html to frame."""
    if failure.exports:
        where = t("report.failure.in_exports", lang)
    elif failure.section:
        where = t("report.failure.in_section", lang, section=failure.section)
    else:
        where = t("report.failure.before_sections", lang)
    paragraphs = [
        ("crm-takeaway", t("report.failure.headline", lang, where=where, error=failure.error)),
        ("crm-note", t("report.failure.others", lang)),
        # what to do names the client YAML: kept on the page (a report with a failed chapter is
        # the consultant's to mend, not to send), not moved to the consultant notes
        (f"crm-note {KEEP}", t("report.failure.todo", lang, chapter=failure.chapter)),
    ]
    body = "\n".join(f'<p class="{css}">{html.escape(text)}</p>' for css, text in paragraphs)
    notice = f'<div class="crm-failed" role="alert">\n{body}\n</div>'
    cell = new_code_cell("", outputs=[new_output("display_data", data={"text/html": notice, "text/plain": where})])
    return new_notebook(cells=[cell], metadata={"language_info": {"name": "python"}})


__all__ = ["Failure", "failed_section", "failure_notebook"]
