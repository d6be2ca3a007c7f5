"""The analysis date, resolved one way for every chapter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import DataError
from ..orders import connect
from ..sql import sql_literal


def to_date(value: dt.date | dt.datetime | str) -> dt.date:
    """A date from a date, datetime or ISO text (notebooks pass dates as text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def resolve_as_of(orders_path: Path | str, as_of: dt.date | str | None) -> dt.date:
    """as_of as a date; '' or None mean the day after the last order (what the ingest reports).
    Data without orders has no such day: a DataError that says so, in every chapter alike."""
    if as_of not in (None, ""):
        return to_date(as_of)
    con = connect()
    try:
        day = con.execute(f"SELECT CAST(max(ordered_at) AS DATE) FROM read_parquet({sql_literal(str(orders_path))})"
                          ).fetchone()[0]
    finally:
        con.close()
    if day is None:
        raise DataError(f"{orders_path}: there are no orders, so there is no default as-of date.",
                        hint="check the ingest output (crm-workbook validate) or set as_of")
    return to_date(day) + dt.timedelta(days=1)


__all__ = ["resolve_as_of", "to_date"]
