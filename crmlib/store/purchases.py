"""The purchase table every diagnosis reads: one client's orders before as_of, in one DuckDB session.

A *purchase* is what a customer bought on one calendar day: with merge_same_day (the default) a
customer's orders on the same day count as one purchase (split baskets, a forgotten item, an
invoice re-issued minutes later), otherwise every order is a purchase. Purchase counts (F2, the
funnel, days between purchases, the repeat rate) count purchases; order counts (AOV, orders per
customer) count orders.

open_purchases groups the orders Parquet into purchases once and numbers them per customer with
window functions (purchase number n, previous and next purchase day, first purchase day) in a
temporary table; every analysis aggregates that table into a small pandas frame. On 10 million
orders this takes about 7 s and 1.4 GB on 2 cores (bench/diagnosis.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd

from ..orders import MEMORY_LIMIT, as_timestamp, connect  # noqa: F401 (re-exported)
from ..periods import Span, analysis_periods, months_before  # noqa: F401 (re-exported)
from ..sql import sql_literal as _quote
from .asof import resolve_as_of  # noqa: F401 (re-exported)

DIMENSIONS = ("channel", "category", "source", "region")


def _day(value: dt.date | str | None) -> dt.date | None:
    """An as-of value as a date; '' or None stay None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _date(value: object) -> dt.date | None:
    """A DuckDB/pandas date or timestamp as a plain date (None for NaT/None)."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


@dataclass
class Purchases:
    """One client's purchases before as_of, held in a DuckDB session (close it, or use `with`).

    Tables: purchases(key, day, orders, revenue, n, prev_day, next_day, first_day)
    with key = the customer, n = the purchase's number in the customer's history (1 = first
    purchase); firsts(key, first_day, second_day, code_<attribute> of the first order), with the
    codes' values in dim_<attribute>(value, code).
    A customer's first purchase in a period is the row whose prev_day is NULL or before the
    period: counting those rows counts the period's customers without a DISTINCT.
    """

    con: duckdb.DuckDBPyConnection
    as_of: dt.date
    data_start: dt.date | None  # day of the first order before as_of
    data_end: dt.date | None  # day of the last order before as_of
    merge_same_day: bool
    dimensions: tuple[str, ...] = field(default_factory=tuple)  # first-order attributes in the data
    # the first day a customer's first purchase counts as their first ever (crmlib.store.coverage:
    # customers first seen earlier are left-censored); None: every customer counts
    observed_from: dt.date | None = None

    def query(self, sql: str) -> pd.DataFrame:
        """Run one aggregate query on the session's tables and return pandas."""
        return self.con.execute(sql).df()

    def scalar(self, sql: str) -> object:
        """The single value of a one-row, one-column query."""
        return self.con.execute(sql).fetchone()[0]

    @property
    def as_of_sql(self) -> str:
        """as_of as a SQL date literal (exclusive end of the data)."""
        return f"DATE '{self.as_of.isoformat()}'"

    @property
    def observable_sql(self) -> str:
        """SQL condition on first_day: the customer's first purchase is observable (not left-censored)."""
        return "TRUE" if self.observed_from is None else f"first_day >= DATE '{self.observed_from.isoformat()}'"

    def splits_new(self, span: Span) -> bool:
        """True when every customer first seen in the span is observably new, so new and existing
        customers can be told apart in it: the span starts on or after observed_from, or no
        customer was first seen between its start and observed_from (a closed cohort such as
        CDNOW's, whose every first purchase is in its first quarter: its later periods have exactly
        0 new customers, not an unknown number)."""
        if self.observed_from is None or span.start >= self.observed_from:
            return True
        return not self.scalar(f"SELECT count(*) FROM firsts WHERE first_day >= DATE '{span.start.isoformat()}' "
                               f"AND first_day < DATE '{self.observed_from.isoformat()}'")

    def covers(self, span: Span) -> bool:
        """True when the data reaches back to the span's first day (an earlier start is unknown)."""
        return self.data_start is not None and self.data_start <= span.start and span.end <= self.as_of

    def close(self) -> None:
        """Close the DuckDB session (its temporary tables go with it)."""
        self.con.close()

    def __enter__(self) -> Purchases:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


CODE_BITS = 32  # the attribute codes of an order share 32 bits (see _packed_dimensions)


def _code_bits(values: list[str]) -> int:
    """Bits for an attribute's codes 0 (not recorded) .. len(values)."""
    return max(1, len(values).bit_length())


def _present_dimensions(con: duckdb.DuckDBPyConnection, source: str, wanted: tuple[str, ...]) -> dict[str, list[str]]:
    """The first-order attributes present in the orders: name -> its sorted distinct values.

    An attribute that is missing or always empty is left out; so are the attributes with the
    most values when all codes do not fit in CODE_BITS (they are too fine to split by).
    """
    columns = set(con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {source})").df()["column_name"])
    have = [name for name in wanted if name in columns]
    if not have:
        return {}
    counts = dict(zip(have, con.execute(
        "SELECT " + ", ".join(f"count(DISTINCT CAST({name} AS VARCHAR))" for name in have) + f" FROM {source}"
    ).fetchone()))
    keep, bits = [], 0
    for name in sorted((n for n in have if counts[n]), key=lambda n: counts[n]):
        width = max(1, int(counts[name]).bit_length())
        if bits + width <= CODE_BITS:
            keep.append(name)
            bits += width
    keep = [name for name in have if name in keep]  # back in the asked order
    if not keep:
        return {}
    lists = con.execute("SELECT " + ", ".join(
        f"list(DISTINCT CAST({name} AS VARCHAR)) FILTER (WHERE {name} IS NOT NULL)" for name in keep
    ) + f" FROM {source}").fetchone()
    return {name: sorted(str(v) for v in values) for name, values in zip(keep, lists)}


def _with_codes(source: str, dims: dict[str, list[str]]) -> str:
    """The orders with code_<attribute> columns: the value's number in table dim_<attribute> (0 = empty)."""
    if not dims:
        return source
    codes = ", ".join(f"coalesce(d_{name}.code, 0) AS code_{name}" for name in dims)
    joins = " ".join(f"LEFT JOIN dim_{name} d_{name} ON CAST(o.{name} AS VARCHAR) = d_{name}.value" for name in dims)
    return f"(SELECT o.*, {codes} FROM {source} o {joins})"


def _shifts(dims: dict[str, list[str]]) -> dict[str, int]:
    """Bit position of each attribute's code inside the low 32 bits of first_key."""
    shifts, position = {}, 0
    for name in reversed(list(dims)):
        shifts[name] = position
        position += _code_bits(dims[name])
    return shifts


def _packed_dimensions(dims: dict[str, list[str]]) -> str:
    """SQL: an order's time and attribute codes as one BIGINT, so min() picks the earliest order.

    The high bits hold the seconds since 2000-01-01 (signed: 1932 to 2068 fit), the low 32 bits
    the attribute codes; orders in the same second are told apart by the smallest codes.
    """
    parts = ["(epoch_ms(ordered_at) // 1000 - 946684800) * 4294967296"]
    parts += [f"(CAST(code_{name} AS BIGINT) << {shift})" for name, shift in _shifts(dims).items()]
    return " + ".join(parts)


def _unpacked_codes(dims: dict[str, list[str]]) -> str:
    """SQL select items: first_key back into code_<attribute> columns."""
    return "".join(f", CAST((first_key >> {shift}) & {(1 << _code_bits(dims[name])) - 1} AS USMALLINT) AS code_{name}"
                   for name, shift in _shifts(dims).items())


# One row per customer and purchase day; `key` is the customer id's 128-bit MD5 (sorting and
# grouping on it is faster than on text; a collision between two ids is not a practical concern).
GROUPED_BY_DAY_SQL = """
SELECT md5_number(customer_id) AS key, CAST(ordered_at AS DATE) AS day,
       count(*) AS orders, coalesce(sum(amount), 0.0) AS revenue{first_key}
FROM {source}
GROUP BY key, day
"""

ONE_PER_ORDER_SQL = """
SELECT md5_number(customer_id) AS key, CAST(ordered_at AS DATE) AS day, ordered_at AS ts, order_id,
       1 AS orders, coalesce(amount, 0.0) AS revenue{first_key}
FROM {source}
"""

# n = purchase number; prev_day/next_day = the customer's previous/next purchase day; first_day =
# the first purchase day.
PURCHASES_SQL = """
CREATE TEMP TABLE purchases AS
SELECT key, day, CAST(orders AS BIGINT) AS orders, CAST(revenue AS DOUBLE) AS revenue,
       row_number() OVER w AS n,
       lag(day) OVER w AS prev_day,
       lead(day) OVER w AS next_day,
       first_value(day) OVER w AS first_day{first_key}
FROM ({grouped})
WINDOW w AS (PARTITION BY key ORDER BY {order})
"""


def open_purchases(
    orders_path: Path | str,
    as_of: dt.date | str | None = None,
    *,
    merge_same_day: bool = True,
    dimensions: Sequence[str] = DIMENSIONS,
    threads: int | None = None,
    temp_dir: Path | str | None = None,
) -> Purchases:
    """Group the orders before as_of (with a customer id) into the purchase tables of a new session.

    as_of '' or None: the day after the last order. dimensions: first-order attributes kept for
    splits (of channel, category, source, region; only those present in the data are kept).
    """
    unknown = [name for name in dimensions if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown split attribute(s) {unknown}; choose from {', '.join(DIMENSIONS)}")
    day = resolve_as_of(orders_path, as_of)
    # a session (its temporary tables private to it) of the process's database: the purchase tables
    # live as long as the chapter under the one memory cap the chapter's other queries share, and
    # spill when those need the memory. A database of their own (until 2026-12-05) doubled what
    # DuckDB could hold in a kernel: at 100M orders 3 GB of purchase tables beside 3 GB of queries
    con = connect(threads, temp_dir)
    try:
        source = (f"(SELECT * FROM read_parquet({_quote(str(orders_path))}) "
                  f"WHERE ordered_at < {as_timestamp(day)} AND customer_id IS NOT NULL AND ordered_at IS NOT NULL)")
        dims = _present_dimensions(con, source, tuple(dimensions))
        for name, values in dims.items():
            # the attribute's values, numbered from 1 (0 = not recorded)
            con.execute(f"CREATE TEMP TABLE dim_{name} (value VARCHAR, code USMALLINT)")
            con.executemany(f"INSERT INTO dim_{name} VALUES (?, ?)", [(v, i + 1) for i, v in enumerate(values)])
        source = _with_codes(source, dims)
        if merge_same_day:  # one purchase per customer and day, so the day orders them
            first_key = f",\n       min({_packed_dimensions(dims)}) AS first_key" if dims else ""
            grouped, order = GROUPED_BY_DAY_SQL.format(source=source, first_key=first_key), "day"
        else:
            first_key = f", {_packed_dimensions(dims)} AS first_key" if dims else ""
            grouped, order = ONE_PER_ORDER_SQL.format(source=source, first_key=first_key), "day, ts, order_id"
        con.execute(PURCHASES_SQL.format(grouped=grouped, order=order, first_key=", first_key" if dims else ""))
        con.execute(
            "CREATE TEMP TABLE firsts AS SELECT key, day AS first_day, next_day AS second_day"
            + _unpacked_codes(dims) + " FROM purchases WHERE n = 1"
        )
        start, end = con.execute("SELECT min(day), max(day) FROM purchases").fetchone()
    except BaseException:
        con.close()
        raise
    return Purchases(con=con, as_of=day, data_start=_date(start), data_end=_date(end),
                     merge_same_day=merge_same_day, dimensions=tuple(dims))
