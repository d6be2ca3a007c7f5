"""Spreadsheet formula injection guard for files a client opens in Excel (customer lists).

A text cell that starts with = + - @, a tab or a carriage return can be run as a formula by
Excel or LibreOffice (e.g. a customer id ``=HYPERLINK(...)`` planted in a shop's order form).
Following the OWASP CSV injection guidance, such cells get a leading single quote, which makes
the spreadsheet show them as text. Numbers are left alone: only text columns pass through here.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Text values with a single quote prepended where they would start a formula (vectorised)."""
    text = values.astype("str")
    risky = text.str.contains(FORMULA_START, regex=True, na=False)
    if not risky.any():
        return text
    return text.where(~risky, "'" + text)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text (object/string) columns are neutralised; numbers untouched."""
    out = frame.copy()
    for column in out.columns:
        kind = out[column].dtype
        if kind == object or isinstance(kind, pd.StringDtype):
            mask = out[column].notna()
            out[column] = neutralise_formulas(out[column].where(mask, "")).where(mask, out[column])
    return out


__all__ = ["FORMULA_START", "neutralise_formulas", "neutralise_frame"]
