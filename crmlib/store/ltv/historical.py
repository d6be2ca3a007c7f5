"""Historical LTV: cumulative revenue per customer by months since the first purchase, and 年間LTV.

Months are calendar months, month 0 being the month of the first purchase. Only complete
months count (the month containing as_of is partial, so the last complete month is the one
before it). The value at month k is the sum over months j = 0..k of the revenue in month j of
the customers observable through month j, divided by the number of those customers: the mean
revenue per customer of each month since the first purchase, cumulated. For one monthly cohort
this is simply its cumulative revenue / its customers; for a group of cohorts (a quarter, a
channel) each month is averaged over the customers who have reached it, so customers too new to
have a month never dilute it and the curve does not jump when the oldest cohorts drop out.

Comparisons by first purchase (acquisition cohort, first channel or category) take only the
customers whose first purchase is observable: first seen on or after the coverage model's
observed_from (crmlib.store.coverage). A customer first seen earlier may be a long-standing
account whose real first purchase is before the data, so its "cohort" and "first channel" are
not its own and its months since the first purchase are undercounted.

年間LTV = revenue of the last 12 months (before as_of) / customers who bought in those months,
per acquisition cohort and in total.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ...orders import connect, orders_sql, query
from .summary import date_sql, order_span, to_date

Period = Literal["month", "quarter", "year"]
MIN_CURVE_CUSTOMERS = 30  # the report's curves stop below this many observable customers
GroupBy = Literal["cohort", "first_channel", "first_category", "all"]

FIRSTS_SQL = """
CREATE TEMP TABLE firsts AS
SELECT customer_id,
       CAST(date_trunc('month', min(ordered_at)) AS DATE) AS first_month,
       arg_min(channel, ordered_at) AS first_channel,
       arg_min(category, ordered_at) AS first_category
FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
GROUP BY customer_id
HAVING min(ordered_at) < CAST({last_month} + INTERVAL 1 MONTH AS TIMESTAMP) AND min(ordered_at) >= {observed_from}
"""

# revenue per first month, first channel, first category and month since the first purchase (k)
MONTH_REVENUE_SQL = """
SELECT f.first_month, f.first_channel, f.first_category,
       date_diff('month', f.first_month, CAST(date_trunc('month', o.ordered_at) AS DATE)) AS k,
       sum(coalesce(o.amount, 0)) AS revenue
FROM firsts f JOIN ({src}) o USING (customer_id)
WHERE o.ordered_at < CAST({last_month} + INTERVAL 1 MONTH AS TIMESTAMP)
GROUP BY ALL
"""

FIRST_MONTH_SIZES_SQL = """
SELECT first_month, first_channel, first_category, count(*) AS customers FROM firsts GROUP BY ALL
"""


@functools.lru_cache(maxsize=4)
def _month_cells(orders_path: str, stamp: tuple[int, int], as_of: dt.date,
                 observed_from: dt.date | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(revenue cells, customers per first month/channel/category) of the customers acquired up to
    the last complete month (and from observed_from on, when given); one pass for every curve of
    a chapter (cached on the file's mtime/size)."""
    last_month = date_sql(last_complete_month(as_of))
    since = f"TIMESTAMP '{observed_from.isoformat()} 00:00:00'" if observed_from else "TIMESTAMP '0001-01-01 00:00:00'"
    src = orders_sql(orders_path, as_of)
    con = connect()
    try:
        con.execute(FIRSTS_SQL.format(src=src, last_month=last_month, observed_from=since))
        cells = con.execute(MONTH_REVENUE_SQL.format(src=src, last_month=last_month)).df()
        sizes = con.execute(FIRST_MONTH_SIZES_SQL).df()
    finally:
        con.close()
    return cells, sizes


def month_cells(orders_path: Path | str, as_of: dt.date, period: Period,
                observed_from: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Revenue cells and group sizes with their cohort (first month truncated to the period) and
    observed months (complete months from the first month to the last complete one)."""
    path = Path(orders_path)
    info = path.stat()
    cells, sizes = _month_cells(str(path.resolve()), (info.st_mtime_ns, info.st_size), as_of, observed_from)
    last = pd.Timestamp(last_complete_month(as_of))
    out = []
    for frame in (cells, sizes):
        first = pd.to_datetime(frame["first_month"])
        frame = frame.assign(
            cohort=first.dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).dt.start_time,
            observed=(last.year - first.dt.year) * 12 + last.month - first.dt.month,
        )
        out.append(frame)
    return out[0], out[1]


def last_complete_month(as_of: dt.date | str) -> dt.date:
    """The last calendar month fully before as_of (its first day)."""
    day = to_date(as_of)
    first = day.replace(day=1)
    return (pd.Timestamp(first) - pd.DateOffset(months=1)).date()


def choose_period(orders_path: Path | str, as_of: dt.date | str, setting: str = "auto") -> Period:
    """The cohort length: the setting, or (auto) month up to 12 months of data, quarter up to 48, else year."""
    if setting != "auto":
        return setting  # type: ignore[return-value]
    span = order_span(orders_path, as_of)
    if span is None:
        return "month"
    months = (span[1].year - span[0].year) * 12 + span[1].month - span[0].month + 1
    return "month" if months <= 12 else "quarter" if months <= 48 else "year"


def _group_column(by: GroupBy) -> str:
    return {"cohort": "cohort", "first_channel": "first_channel", "first_category": "first_category"}.get(by, "")


def cumulative_ltv(
    orders_path: Path | str,
    as_of: dt.date | str,
    *,
    by: GroupBy = "cohort",
    period: Period = "month",
    min_share: float = 0.0,
    min_customers: int = 1,
    observed_from: dt.date | None = None,
) -> pd.DataFrame:
    """Cumulative revenue per customer by months since the first purchase, per group.

    Columns: group, months_since, customers (observable through that month), group_customers,
    revenue_per_customer (cumulative). by = cohort (acquisition period), first_channel,
    first_category or all (one curve for everyone). A curve stops where fewer than min_share of
    its group or fewer than min_customers customers are observable (e.g. min_share=0.5 drops the
    last months of a quarter cohort that only its first month's customers have reached).
    observed_from: only customers first seen on or after this day (the coverage model's; None:
    all), as every comparison by first purchase must; by cohort, only the periods that begin on or
    after it (a quarter begun before it would be labelled as the whole quarter but hold only its
    last days' customers).
    """
    cells, sizes = month_cells(orders_path, to_date(as_of), period, observed_from)
    column = _group_column(by)
    cells["group"] = cells[column] if column else "all"
    sizes["group"] = sizes[column] if column else "all"
    out = []
    for group, size in sizes.groupby("group", sort=True, dropna=False):
        horizon = int(size["observed"].max())
        # customers per observed length K, and revenue per (K, k)
        per_length = np.zeros(horizon + 1)
        np.add.at(per_length, size["observed"].to_numpy("int64"), size["customers"].to_numpy("float64"))
        part = cells[_same(cells["group"], group)]
        revenue = np.zeros((horizon + 1, horizon + 1))
        np.add.at(revenue, (part["observed"].to_numpy("int64"), part["k"].to_numpy("int64")),
                  part["revenue"].to_numpy("float64"))
        eligible = per_length[::-1].cumsum()[::-1]  # customers with K >= k
        # revenue in month k of the customers observable through month k (K >= k), per customer,
        # summed over months 0..k
        month_revenue = np.triu(revenue.T).sum(axis=1)  # [k] -> sum over K >= k of revenue[K, k]
        value = np.cumsum(month_revenue / eligible)
        keep = (eligible >= max(min_customers, 1)) & (eligible >= min_share * per_length.sum())
        keep &= np.cumprod(keep).astype(bool)  # a curve ends at the first month that fails
        out.append(pd.DataFrame({
            "group": [group] * int(keep.sum()),
            "months_since": np.arange(horizon + 1)[keep],
            "customers": eligible[keep].astype("int64"),
            "group_customers": int(per_length.sum()),
            "revenue_per_customer": value[keep],
        }))
    if not out:
        return pd.DataFrame(columns=["group", "months_since", "customers", "group_customers", "revenue_per_customer"])
    frame = pd.concat(out, ignore_index=True)
    if by == "cohort":
        frame["group"] = pd.to_datetime(frame["group"])
        if observed_from is not None:  # a period begun before it holds only its last days' customers
            frame = frame[frame["group"] >= pd.Timestamp(observed_from)].reset_index(drop=True)
    return frame


def _same(series: pd.Series, value) -> pd.Series:
    """Equality that also matches missing values (a missing channel is a group of its own)."""
    return series.isna() if pd.isna(value) else series == value


def has_groups(orders_path: Path | str, as_of: dt.date | str, column: str) -> bool:
    """True when the orders carry at least two distinct non-empty values of column (channel, category)."""
    n = query(f"SELECT count(DISTINCT {column}) FROM ({orders_sql(orders_path, to_date(as_of))}) "
              f"WHERE {column} IS NOT NULL AND {column} <> ''").iloc[0, 0]
    return int(n) >= 2


def value_at(curve: pd.DataFrame, months: int) -> pd.Series:
    """Per group, the cumulative revenue per customer at `months` since the first purchase (NaN if not yet)."""
    groups = curve["group"].drop_duplicates()
    at = curve[curve["months_since"] == months].set_index("group")["revenue_per_customer"]
    return at.reindex(groups.to_numpy())


ANNUAL_SQL = """
WITH o AS (
    SELECT customer_id, ordered_at, amount FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
),
c AS (SELECT customer_id, min(ordered_at) AS first_order FROM o GROUP BY customer_id)
SELECT CAST(date_trunc('{period}', c.first_order) AS DATE) AS cohort,
       count(DISTINCT o.customer_id) AS customers,
       count(*) AS orders,
       sum(coalesce(o.amount, 0)) AS revenue
FROM o JOIN c USING (customer_id)
WHERE o.ordered_at >= {start}
GROUP BY ALL
ORDER BY cohort
"""


def annual_ltv(orders_path: Path | str, as_of: dt.date | str, *, period: Period = "year") -> pd.DataFrame:
    """年間LTV per acquisition cohort and in total (last row, cohort NaT): revenue of the 12 months
    before as_of / customers who bought in them. Columns: cohort, customers, orders, revenue, annual_ltv."""
    as_of = to_date(as_of)
    start = (pd.Timestamp(as_of) - pd.DateOffset(months=12)).date()
    frame = query(ANNUAL_SQL.format(src=orders_sql(orders_path, as_of), period=period,
                                    start=f"TIMESTAMP '{start.isoformat()} 00:00:00'"))
    frame["cohort"] = pd.to_datetime(frame["cohort"])
    total = pd.DataFrame({"cohort": [pd.NaT], "customers": [frame["customers"].sum()],
                          "orders": [frame["orders"].sum()], "revenue": [frame["revenue"].sum()]})
    frame = pd.concat([frame, total], ignore_index=True) if len(frame) else total
    frame["customers"] = frame["customers"].astype("int64")
    frame["orders"] = frame["orders"].astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64")
    frame["annual_ltv"] = frame["revenue"] / frame["customers"].where(frame["customers"] > 0)
    return frame


def annual_window(orders_path: Path | str, as_of: dt.date | str) -> tuple[dt.date, dt.date, bool]:
    """The 12-month window of 年間LTV (start, as_of) and whether the data covers all of it."""
    as_of = to_date(as_of)
    start = (pd.Timestamp(as_of) - pd.DateOffset(months=12)).date()
    span = order_span(orders_path, as_of)
    return start, as_of, bool(span and span[0] <= start)


def first_purchase_grouping(orders_path: Path | str, as_of: dt.date | str) -> GroupBy | None:
    """The attribute to split customers by: first_channel when the orders have channels, else
    first_category when they have categories, else None."""
    if has_groups(orders_path, as_of, "channel"):
        return "first_channel"
    if has_groups(orders_path, as_of, "category"):
        return "first_category"
    return None
