"""Spreadsheet formula injection guard for files a client opens in Excel (customer lists).

A text cell that starts with = + - @, a tab or a carriage return can be run as a formula by
Excel or LibreOffice (e.g. a customer id ``=HYPERLINK(...)`` planted in a shop's order form).
Following the OWASP CSV injection guidance, such cells get a leading single quote, which makes
the spreadsheet show them as text. Numbers are left alone: only text columns pass through here.

Spreadsheets also trim or ignore what comes before the sign and read full-width signs as the
ASCII ones on input, so a cell is risky too when = + - @ (or their full-width and small forms
＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫ and the minus sign −) comes after any run of whitespace, control or invisible
format characters (line feed, no-break and ideographic spaces, zero-width spaces, the BOM).
The pattern is written for both Python's re and RE2 (pandas' pyarrow strings, DuckDB), so the
CSV lists (DuckDB) and the workbook (pandas) quote the same cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .sql import sql_literal

if TYPE_CHECKING:
    import duckdb

# whitespace, C0 controls and DEL, and the invisible characters a spreadsheet skips or trims
_LEADING = ("\\x00-\\x20\\x7f\u0085\u00a0\u00ad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f"
            "\u205f-\u2064\u2066-\u206f\u3000\ufeff")
# = + - @, their full-width and small forms, and the minus sign
_SIGNS = "=+\\-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212"
FORMULA_START = f"^(?:[\\t\\r\\n]|[{_LEADING}]*[{_SIGNS}])"


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Text values with a single quote prepended where they would start a formula (vectorised)."""
    text = values.astype("str")
    risky = text.str.contains(FORMULA_START, regex=True, na=False)
    if not risky.any():
        return text
    return text.where(~risky, "'" + text)


def neutralise_sql(column: str) -> str:
    """SQL for a text column with the same quote before a formula start (the CSV lists DuckDB writes)."""
    return f"CASE WHEN regexp_matches({column}, {sql_literal(FORMULA_START)}) THEN '''' || {column} ELSE {column} END"


BOM = "\ufeff"  # put before a list's first header name, so DuckDB's CSV starts with the UTF-8 BOM


def copy_list_csv(con: duckdb.DuckDBPyConnection, select: str, path: Path | str) -> None:
    """Write a customer list as Excel opens it: DuckDB's COPY of the select (whose first column
    name starts with BOM) with a header and CRLF line ends, in the select's order."""
    con.execute(f"COPY ({select}) TO {sql_literal(str(path))} (FORMAT csv, HEADER, NEW_LINE '\r\n')")


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text (object/string) columns are neutralised; numbers untouched."""
    out = frame.copy()
    for column in out.columns:
        kind = out[column].dtype
        if kind == object or isinstance(kind, pd.StringDtype):
            mask = out[column].notna()
            out[column] = neutralise_formulas(out[column].where(mask, "")).where(mask, out[column])
    return out


__all__ = ["BOM", "FORMULA_START", "copy_list_csv", "neutralise_formulas", "neutralise_frame", "neutralise_sql"]
