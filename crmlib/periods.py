"""Runs of calendar days: the analysis period, the period it is compared with, months back.

Plain date logic with no data behind it, shared by the store, the chapters and their wording.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Span:
    """A run of calendar days: start included, end excluded."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Number of days in the span."""
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        """The last day inside the span."""
        return self.end - dt.timedelta(days=1)

    def sql(self, column: str = "day") -> str:
        """A SQL condition: column (a DATE) lies in the span."""
        return f"({column} >= DATE '{self.start.isoformat()}' AND {column} < DATE '{self.end.isoformat()}')"


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (the month's last day when it is shorter)."""
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def analysis_periods(as_of: dt.date, months: int = 12, compare_to: str = "previous_period") -> tuple[Span, Span]:
    """The analysis period (the `months` months before as_of) and the period it is compared with.

    compare_to='previous_period': the equally long period just before; 'year_before': the same
    calendar days a year earlier (the same as previous_period for 12-month periods).
    """
    if compare_to not in ("previous_period", "year_before"):
        raise ValueError(f"compare_to must be 'previous_period' or 'year_before', not {compare_to!r}")
    current = Span(months_before(as_of, months), as_of)
    shift = months if compare_to == "previous_period" else 12
    return current, Span(months_before(current.start, shift), months_before(as_of, shift))


__all__ = ["Span", "analysis_periods", "months_before"]
