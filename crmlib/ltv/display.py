"""Warnings in the chapter page: a visible box when a model should not be trusted as it stands.

crmlib.report.nbtools has no warning style yet, so the box carries its own inline style (the
report stays offline and self-contained); the colours are the report's --crm-warn red.
"""

from __future__ import annotations

import html

from IPython.display import HTML, display

WARNING_STYLE = (
    "border-left:4px solid #c44e52;background:#fbeaea;padding:0.6rem 0.9rem;"
    "margin:0.8rem 0 1.2rem;font-weight:600;color:#1d2733"
)


def warning_html(text: str) -> str:
    """One warning paragraph (class crm-warning, inline style), text escaped."""
    return f'<p class="crm-warning" role="note" style="{WARNING_STYLE}">⚠ {html.escape(text)}</p>'


def show_warnings(texts: list[str]) -> None:
    """Show each warning as a highlighted box (nothing when the list is empty)."""
    for text in texts:
        display(HTML(warning_html(text)))
