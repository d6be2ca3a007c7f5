"""Small display helpers for chapter notebooks, so notebooks stay thin and pages look alike.

Everything shown is HTML or PNG built here: headings carry fixed ASCII ids (for the page's table
of contents), tables use one CSS class, figures are PNG bytes without timestamps.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd
from IPython.display import HTML, display
from matplotlib.figure import Figure

from ..charts import figure_png

TABLE_CLASS = "crm-table"


def repo_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder at or above start (default cwd) with pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "crmlib").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]  # source checkout: crmlib/report/ -> repo


def repo_path(path: str | Path) -> Path:
    """An absolute path; relative paths are taken from the repository root (works from notebooks/)."""
    path = Path(path)
    return path if path.is_absolute() else repo_root() / path


def heading(text: str, anchor: str, level: int = 2) -> None:
    """Show a section heading with a fixed id (the page's table of contents links to it)."""
    display(HTML(f'<h{level} id="{html.escape(anchor)}">{html.escape(text)}</h{level}>'))


def lead(text: str) -> None:
    """Show the chapter's introductory paragraph."""
    display(HTML(f'<p class="crm-lead">{html.escape(text)}</p>'))


def takeaway(text: str) -> None:
    """Show a section's one-sentence conclusion, highlighted."""
    display(HTML(f'<p class="crm-takeaway">{html.escape(text)}</p>'))


NOTE_STYLE = "border-left: 4px solid #8c8c8c; background: #f4f4f4; padding: 0.5em 0.8em;"


def note(text: str) -> None:
    """Show a note for the consultant (guidance where the client YAML has no input yet, or a
    secondary fact beside a section's takeaway)."""
    display(HTML(f'<p class="crm-note" style="{NOTE_STYLE}">{html.escape(text)}</p>'))


WARNING_STYLE = "border-left: 4px solid #c44e52; background: #fbeaea; padding: 0.5em 0.8em; font-weight: 600;"


def warning(text: str) -> None:
    """Show a warning the reader must not miss (e.g. a missing column that changes the figures)."""
    display(HTML(f'<p class="crm-warning" role="note" style="{WARNING_STYLE}">⚠ {html.escape(text)}</p>'))


def table_html(frame: pd.DataFrame, text: bool = False) -> str:
    """A display table as plain HTML (no index, escaped, one CSS class; text=True: cells of prose,
    aligned left and top instead of numbers aligned right)."""
    classes = [TABLE_CLASS, "crm-text"] if text else TABLE_CLASS
    return frame.to_html(index=False, classes=classes, border=0, escape=True, na_rep="—")


def show_table(frame: pd.DataFrame, text: bool = False) -> None:
    """Show a small, already formatted table (text=True for a table of prose, e.g. a journey map)."""
    display(HTML(table_html(frame, text)))


def figure_html(fig: Figure, alt: str | None = None) -> str:
    """An <img> with the figure as an inline base64 PNG; alt defaults to the axes titles."""
    if alt is None:
        alt = " / ".join(ax.get_title() for ax in fig.axes if ax.get_title())
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img class="crm-figure" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def show_figure(fig: Figure, alt: str | None = None) -> None:
    """Show a figure as an embedded PNG with alt text (deterministic bytes)."""
    display({"text/html": figure_html(fig, alt), "text/plain": alt or "figure"}, raw=True)
