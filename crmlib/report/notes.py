"""Consultant notes apart from client text: what names a setting or asks the consultant to fill
something in leaves the client's pages (and so report.html, the PDF and the deck) for a notes
page the consultant keeps (consultant/notes.html).

Decided on the rendered page, sentence by sentence: a sentence (or a bracketed aside) naming a
setting of the client YAML (`ltv.cpa`, `strategy.journey.text`) or the client YAML itself goes
to the notes; a table cell of the strategy template still to fill in ('To fill in: ...') shows a
dash to the client. While any template is unfilled the report is a draft (marked on every page).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from ..findings import Finding
from ..i18n import catalog, t
from ..registry import CHAPTERS

FILE_EXTENSIONS = {"html", "pdf", "pptx", "csv", "json", "xlsx", "yaml", "yml", "ipynb", "parquet", "png"}
CONSULTANT_WORDS = ("クライアントYAML", "クライアント設定", "client YAML", "client settings", "client configuration",
                    "Client configuration")
DASH = "—"
KEEP = "crm-keep"  # a paragraph with this class stays on the page (a failed chapter's what-to-do)


@dataclass(frozen=True)
class Note:
    """One piece of text for the consultant: where it was and what it said."""

    chapter: str  # page stem
    section: str  # the heading it stood under ('' = before the first)
    text: str  # plain text
    unfilled: bool = False  # a strategy template still to fill in
    html: str = ""  # a block shown as it is (a technical table the page marked for the consultant)


@lru_cache(maxsize=1)
def _setting_pattern() -> re.Pattern:
    """A dotted setting name of the client YAML: a section (report:, a chapter's) and its keys."""
    sections = sorted({c.section for c in CHAPTERS if getattr(c, "section", None)} | {"report", "strategy"})
    return re.compile(r"(?<![\w./])(?:" + "|".join(map(re.escape, sections)) + r")(?:\.[a-z_][a-z0-9_]*)+(?![\w/])")


_YAML_SNIPPET = re.compile(r"\{\s*[a-z_]+:\s|^\s*-\s*[a-z_]+:\s", re.M)  # {segment: ...} / - metric: ...


def names_setting(text: str) -> bool:
    """True when the text names a setting (ltv.cpa; not a file such as report.html), the client
    YAML, or holds a YAML snippet ({segment: 'cpm:first', move_share: 0.1})."""
    if any(word in text for word in CONSULTANT_WORDS) or _YAML_SNIPPET.search(text):
        return True
    return any(m.group(0).rsplit(".", 1)[1] not in FILE_EXTENSIONS for m in _setting_pattern().finditer(text))


@lru_cache(maxsize=4)
def guidance_starts(lang: str) -> tuple[str, ...]:
    """The fixed openings of the strategy chapter's 'nothing set yet' messages (strategy.*.guidance)."""
    starts = []
    for key, message in catalog(lang).items():
        if key.startswith("strategy.") and key.endswith(".guidance"):
            fixed = message.split("{", 1)[0].strip()
            if len(fixed) >= 8:
                starts.append(fixed[:40])
    return tuple(starts)


_SENTENCE_END = {"ja": re.compile(r"(?<=。)"), "en": re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")}
_ASIDE = re.compile(r"\s?[(（][^()（）]*[)）]")
_TAG = re.compile(r"<[^>]+>")


def _plain(fragment: str) -> str:
    return html.unescape(_TAG.sub("", fragment)).strip()


def _split_text(inner: str, lang: str) -> tuple[str, list[tuple[str, bool]]]:
    """(what the client keeps, [(moved text, unfilled)]) of one paragraph's inner HTML."""
    moved: list[tuple[str, bool]] = []
    plain = _plain(inner)
    if any(plain.startswith(start) for start in guidance_starts(lang)):
        return "", [(plain, True)]

    asides: list[str] = []

    def aside(match: re.Match) -> str:
        if names_setting(_plain(match.group(0))):
            asides.append(_plain(match.group(0)).strip("()（） "))
            return ""
        return match.group(0)

    kept = []
    for sentence in _SENTENCE_END[lang].split(inner):
        if not sentence.strip():
            continue
        asides.clear()
        trimmed = _ASIDE.sub(aside, sentence)
        if names_setting(_plain(trimmed)):  # the whole sentence is for the consultant
            moved.append((_plain(sentence), False))
        else:
            kept.append(trimmed)
            moved.extend((text, False) for text in asides)
    return ("" if lang == "ja" else " ").join(kept).strip(), moved


_BLOCK = re.compile(r'<h([23]) id="[^"]*">(.*?)</h\1>|<p(\s[^>]*)?>(.*?)</p>|<td(\s[^>]*)?>(.*?)</td>'
                    r'|<section class="crm-consultant">(.*?)</section>', re.S)


def split_notes(page: str, chapter: str, lang: str) -> tuple[str, list[Note]]:
    """(the client's page, the notes taken out of it) for one rendered chapter page."""
    start, end = page.find("<main>"), page.rfind("</main>")
    if start < 0 or end < start:
        return page, []
    prefix = t("strategy.guidance_prefix", lang).strip()
    notes: list[Note] = []
    heading = [""]

    def block(match: re.Match) -> str:
        if match.group(7) is not None:  # a block the page marked for the consultant, whole
            notes.append(Note(chapter, heading[0], _plain(match.group(7))[:200], html=match.group(7)))
            return ""
        if match.group(1):
            heading[0] = _plain(match.group(2))
            return match.group(0)
        if match.group(4) is not None:
            if KEEP in (match.group(3) or ""):
                return match.group(0)
            kept, moved = _split_text(match.group(4), lang)
            if not moved:
                return match.group(0)
            notes.extend(Note(chapter, heading[0], text, unfilled) for text, unfilled in moved)
            return f"<p{match.group(3) or ''}>{kept}</p>" if _plain(kept) else ""
        cell = _plain(match.group(6))
        if cell.startswith(prefix):
            notes.append(Note(chapter, heading[0], cell, True))
            return f"<td{match.group(5) or ''}>{DASH}</td>"
        kept, moved = _split_text(match.group(6), lang)
        if not moved:
            return match.group(0)
        notes.extend(Note(chapter, heading[0], text, unfilled) for text, unfilled in moved)
        return f"<td{match.group(5) or ''}>{kept if _plain(kept) else DASH}</td>"

    body = fill_empty_sections(_BLOCK.sub(block, page[start:end]), lang)
    return page[:start] + body + page[end:], notes


_HEADING = re.compile(r'<h([23]) id="[^"]*">.*?</h\1>', re.S)
EMPTY = "crm-empty"  # the class of the sentence that stands in a section left with nothing


def fill_empty_sections(body: str, lang: str) -> str:
    """A section left with nothing under its heading (its only paragraph was guidance for the
    consultant: no execution log, experiment or survey yet) says so in one sentence, instead of
    an empty heading. A heading followed by its own subsections is not empty."""
    headings = list(_HEADING.finditer(body))
    sentence = f'<p class="{EMPTY}">{html.escape(t("report.section_empty", lang))}</p>'
    out, last = [], 0
    for i, match in enumerate(headings):
        following = headings[i + 1] if i + 1 < len(headings) else None
        between = body[match.end():following.start() if following else len(body)]
        deeper = following is not None and int(following.group(1)) > int(match.group(1))
        if not deeper and not _plain(between) and "<img" not in between and "<table" not in between:
            out.append(body[last:match.end()] + sentence)
            last = match.end()
    out.append(body[last:])
    return "".join(out)


SUMMARY = "index"  # the chapter name of notes taken from the executive summary (index.html)


def split_summary(findings: Sequence[Finding], limits: Sequence[str], lang: str
                  ) -> tuple[list[Finding], list[str], list[Note]]:
    """(findings, data-limit sentences, notes) with what names a setting taken out of the
    summary's sentences, as split_notes does on a chapter page: the summary is shown on the
    index, in report.html and the deck, so it is filtered once, before any of them is made."""
    notes: list[Note] = []
    section = t("summary.title", lang)

    def keep(text: str) -> str:
        kept, moved = _split_text(html.escape(text, quote=False), lang)
        notes.extend(Note(SUMMARY, section, moved_text, unfilled) for moved_text, unfilled in moved)
        return html.unescape(kept) if moved else text

    shown = [replace(finding, text=text) for finding in findings if (text := keep(finding.text))]
    kept_limits = [text for text in (keep(limit) for limit in limits) if text]
    return shown, kept_limits, notes


def notes_html(notes: list[Note], *, lang: str, title: str, chapter_titles: dict[str, str], css: str) -> str:
    """The consultant's notes page: every note under its chapter and section (no client data
    beyond what the pages show; kept out of the client's pages, PDF and deck)."""
    rows = []
    for note in notes:
        where = " / ".join(p for p in (chapter_titles.get(note.chapter, note.chapter), note.section) if p)
        mark = f'<span class="crm-badge crm-badge-alert">{html.escape(t("report.notes_unfilled", lang))}</span>' \
            if note.unfilled else ""
        shown = note.html or html.escape(note.text)  # html: a block the report itself rendered (escaped)
        rows.append(f"<tr><td>{html.escape(where)}</td><td>{mark}{shown}</td></tr>")
    table = (f'<div class="crm-table-wrap"><table class="crm-table crm-text"><thead><tr><th>'
             f'{html.escape(t("report.notes_where", lang))}</th><th>{html.escape(t("report.notes_text", lang))}'
             f'</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>') if rows else \
        f"<p>{html.escape(t('report.notes_none', lang))}</p>"
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1.0"><title>{html.escape(title)}</title>'
            f'<style type="text/css">{css}</style><!--crm-font--></head><body class="crm-page"><main>'
            f'<h1>{html.escape(title)}</h1><p class="crm-lead">{html.escape(t("report.notes_lead", lang))}</p>'
            f"{table}</main></body></html>")


DRAFT_MARKER = '<header class="crm-header">'


def mark_draft(page: str, text: str) -> str:
    """The page with a draft banner under its header and the draft text at the top of every
    printed page (a CSS page-margin box)."""
    from .html import css_string

    banner = f'{DRAFT_MARKER}\n<p class="crm-draft" role="note">{html.escape(text)}</p>'
    style = (f'<style type="text/css">@page {{ @top-right {{ content: {css_string(text)}; color: #c44e52; '
             'font-weight: 700; font-size: 9pt; font-family: "Noto Sans CJK JP", "CRM Report JP", Arial, sans-serif; } }'
             "</style>\n</head>")
    return page.replace(DRAFT_MARKER, banner, 1).replace("</head>", style, 1)
