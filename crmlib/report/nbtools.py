"""Small display helpers for chapter notebooks, so notebooks stay thin and pages look alike.

Everything shown is HTML or PNG built here: headings carry fixed ASCII ids (for the page's table
of contents), tables use one CSS class, figures are PNG bytes without timestamps.
"""

from __future__ import annotations

import base64
import html
import re
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


# A cell that reads as a number: an optional sign or "about", currency, digits, a short unit
# ('%', 'pt', '万円', '人', '回以上') and an optional short aside in brackets ('1,452 (5.1%)').
_NUMBER_CELL = re.compile(
    r"^[~約≈+\-−±]?\s*(?:CN¥|[¥$€£₩])?\s*[\d.][\d,.]*\s*[^\s\d]{0,4}\s*(?:[(（][^)）]{0,16}[)）])?$"
)


def is_number_cell(value: object) -> bool:
    """True when a displayed cell reads as a number (aligned right); missing cells count as any."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    return bool(_NUMBER_CELL.match(str(value).strip()))


NUMBER_COLUMN_SHARE = 0.75  # a column of numbers may hold the odd text cell (a period in a value column)


def number_columns(frame: pd.DataFrame) -> list[bool]:
    """Per column: True when at least NUMBER_COLUMN_SHARE of its shown (non-missing) cells read as
    numbers (a column of only missing cells is text)."""
    flags = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            # display tables are small and already formatted: plain Python, not five pandas calls
            # per column (their text is what str() gives; other dtypes keep pandas' own astype)
            shown = [text for value in column.tolist()
                     if not _is_missing(value) and (text := str(value).strip()) != MISSING_CELL]
            flags.append(bool(shown) and sum(map(is_number_cell, shown)) / len(shown) >= NUMBER_COLUMN_SHARE)
            continue
        texts = column[column.notna()].astype(str).str.strip()
        texts = texts[texts != MISSING_CELL]
        flags.append(bool(len(texts)) and float(texts.map(is_number_cell).mean()) >= NUMBER_COLUMN_SHARE)
    return flags


MISSING_CELL = "—"


def _cell(tag: str, value: object, number: bool) -> str:
    """One <th>/<td>; cells of a number column carry class crm-num (right-aligned, tabular
    digits), and the odd text cell among them crm-wrap too (it may wrap; numbers never do)."""
    text = MISSING_CELL if _is_missing(value) else html.escape(str(value).strip())  # stripped, as pandas' to_html
    if not number:
        return f"<{tag}>{text}</{tag}>"
    wrap = tag == "td" and not _is_missing(value) and not is_number_cell(value)
    return f'<{tag} class="crm-num{" crm-wrap" if wrap else ""}">{text}</{tag}>'


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def table_html(frame: pd.DataFrame, text: bool = False) -> str:
    """A display table as plain HTML inside a scroll box (no index, escaped, one CSS class):
    columns whose cells read as numbers are aligned right, every other column left; text=True:
    cells of prose (a journey map), all left and top, the phrases kept whole."""
    numbers = [False] * frame.shape[1] if text else number_columns(frame)
    classes = f"{TABLE_CLASS} crm-text" if text else TABLE_CLASS
    head = "".join(_cell("th", col, num) for col, num in zip(frame.columns, numbers))
    rows = "\n".join(
        "<tr>" + "".join(_cell("td", value, num) for value, num in zip(row, numbers)) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return (f'<div class="crm-table-wrap"><table class="{classes}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{rows}\n</tbody>\n</table></div>")


def show_table(frame: pd.DataFrame, text: bool = False) -> None:
    """Show a small, already formatted table (text=True for a table of prose, e.g. a journey map)."""
    display(HTML(table_html(frame, text)))


CONSULTANT_CLASS = "crm-consultant"  # a block for the consultant: moved to consultant/notes.html


def consultant_table(frame: pd.DataFrame, text: bool = False) -> None:
    """Show a technical table (model parameters) for the consultant only: the report moves it
    from the client's pages to the consultant notes (crmlib.report.notes), under its section."""
    display(HTML(f'<section class="{CONSULTANT_CLASS}">{table_html(frame, text)}</section>'))


def consultant_note(text: str) -> None:
    """A technical sentence (a model's checks) for the consultant only, moved like consultant_table."""
    display(HTML(f'<section class="{CONSULTANT_CLASS}"><p>{html.escape(text)}</p></section>'))


def figure_html(fig: Figure, alt: str | None = None) -> str:
    """An <img> with the figure as an inline base64 PNG; alt defaults to the axes titles."""
    if alt is None:
        alt = " / ".join(ax.get_title() for ax in fig.axes if ax.get_title())
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img class="crm-figure" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def show_figure(fig: Figure, alt: str | None = None) -> None:
    """Show a figure as an embedded PNG with alt text (deterministic bytes)."""
    display({"text/html": figure_html(fig, alt), "text/plain": alt or "figure"}, raw=True)
