"""Per-customer purchase histories for the buy-till-you-die models, built in DuckDB.

The models count purchase *days*: orders of one customer on the same calendar day are merged
into one purchase (their amounts added), as in the published CDNOW analyses. Time runs from
the customer's first purchase day, in units of `time_unit_days` (7 = weeks):

- x: repeat purchases = purchase days after the first one, before the calibration end;
- t_x: time of the last purchase day (0 when x = 0);
- T: age = time from the first purchase day to the last observed day (the day before the
  calibration end);
- monetary_value: mean amount of the repeat purchase days (the first purchase is left out, as
  in the Gamma-Gamma model; NaN when x = 0).

With calibration_end, purchases from calibration_end up to as_of (exclusive) are the holdout:
x_holdout purchase days and their revenue, over holdout_length time units. Only customers whose
first purchase is before calibration_end are in the summary. rfm_summaries gives that summary
and the whole history's from one query (the predictive chapter fits the models on both).

With sample_share, only a random share of the customers is read: a customer is in the sample when
hash(customer_id) falls in the first share of SAMPLE_BUCKETS buckets, so every summary of one file
(calibration and full history, every run) holds the same customers. Above a few million customers
this keeps the models' memory and time bounded (LTVSettings.max_model_customers).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...orders import orders_sql, query, query_arrow
from ..asof import resolve_as_of, to_date  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    import pyarrow as pa

SUMMARY_COLUMNS = (
    "customer_id", "first_purchase", "cohort_month", "first_channel", "first_category",
    "x", "t_x", "T", "monetary_value", "first_amount", "revenue", "x_holdout", "holdout_revenue",
    "holdout_length",
)

SAMPLE_BUCKETS = 1_000_000

# One read of the orders gives both periods: the whole history to as_of (x, t_x, ...) and the
# calibration period (cal_x, cal_t_x, ...; its customers are those whose first purchase day is
# before the calibration end). The predictive chapter needs both, and the query costs about as
# much as one period's. Two aggregations and no join: the orders are merged into purchase days,
# and the days into customers; the first day's amount is the day with the smallest date
# (arg_min), so the mean of the repeat days is (revenue - first amount) / repeat days. The first
# order's attributes are taken only for the columns asked for (FIRST_ATTRIBUTES): each costs two
# string aggregations, about a quarter of the query. Dates leave as TIMESTAMP so that the result
# can come through Arrow (query_arrow: about a quarter of the CPU time of DuckDB's own conversion
# to pandas, a second per million customers).
SUMMARY_SQL = """
WITH days AS (
    SELECT customer_id, CAST(ordered_at AS DATE) AS day, sum(coalesce(amount, 0)) AS amount{day_firsts}
    FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL{sample}
    GROUP BY customer_id, day
),
customers AS (
    SELECT customer_id,
           min(day) AS first_day,{customer_firsts}
           count(*) AS n_days,{days_list}
           max(day) AS last_day,
           arg_min(amount, day) AS first_amount,
           sum(amount) AS revenue,
           count(*) FILTER (WHERE day < {cal_end_date}) AS cal_days,
           max(day) FILTER (WHERE day < {cal_end_date}) AS cal_last_day,
           sum(amount) FILTER (WHERE day < {cal_end_date}) AS cal_revenue,
           coalesce(sum(amount) FILTER (WHERE day >= {cal_end_date}), 0.0) AS holdout_revenue
    FROM days
    GROUP BY customer_id
)
SELECT customer_id,
       CAST(first_day AS TIMESTAMP) AS first_purchase,
       CAST(date_trunc('month', first_day) AS TIMESTAMP) AS cohort_month,
       {first_columns}
       CAST(n_days - 1 AS BIGINT) AS x,
       date_diff('day', first_day, last_day) / {unit} AS t_x,
       date_diff('day', first_day, {as_of_date} - 1) / {unit} AS T,
       CASE WHEN n_days > 1 THEN (revenue - first_amount) / (n_days - 1) END AS monetary_value,
       first_amount,
       revenue,
       CAST(cal_days - 1 AS BIGINT) AS cal_x,
       date_diff('day', first_day, cal_last_day) / {unit} AS cal_t_x,
       date_diff('day', first_day, {cal_end_date} - 1) / {unit} AS cal_T,
       CASE WHEN cal_days > 1 THEN (cal_revenue - first_amount) / (cal_days - 1) END AS cal_monetary_value,
       cal_revenue,
       CAST(n_days - cal_days AS BIGINT) AS x_holdout,
       holdout_revenue{days_column}
FROM customers
ORDER BY customer_id
"""

FIRST_ATTRIBUTES = ("channel", "category")  # the first order's attributes a summary can carry (first_<name>)


def _firsts_sql(attributes: tuple[str, ...]) -> dict[str, str]:
    """The SQL fragments of SUMMARY_SQL that carry the first order's attributes: per day the
    attribute of the day's first order, per customer that of the first day's; the columns not
    asked for are NULL."""
    unknown = set(attributes) - set(FIRST_ATTRIBUTES)
    if unknown:
        raise ValueError(f"unknown first-order attributes: {sorted(unknown)}")
    day = "".join(f", arg_min({a}, ordered_at) AS {a}" for a in attributes)
    customer = "".join(f"\n           arg_min({a}, first_at) AS first_{a}," for a in attributes)
    columns = " ".join(f"first_{a}," if a in attributes else f"CAST(NULL AS VARCHAR) AS first_{a},"
                       for a in FIRST_ATTRIBUTES)
    return {"day_firsts": (", min(ordered_at) AS first_at" + day) if attributes else "",
            "customer_firsts": customer, "first_columns": columns}


def date_sql(day: dt.date) -> str:
    """A DuckDB DATE literal."""
    return f"DATE '{day.isoformat()}'"


FIRST_PURCHASE_COUNTS_SQL = """
SELECT first_purchase, first_channel, first_category, count(*) AS customers
FROM (
    SELECT CAST(min(ordered_at) AS DATE) AS first_purchase,
           arg_min(channel, ordered_at) AS first_channel,
           arg_min(category, ordered_at) AS first_category
    FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
    GROUP BY customer_id
)
GROUP BY ALL
"""


def customer_count(orders_path: Path | str, as_of: dt.date | str) -> int:
    """Customers with an order before as_of."""
    return int(query(f"SELECT count(DISTINCT customer_id) FROM ({orders_sql(orders_path, to_date(as_of))}) "
                     f"WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL").iloc[0, 0])


def first_purchase_counts(orders_path: Path | str, as_of: dt.date | str) -> pd.DataFrame:
    """Customers before as_of per first purchase day, first channel and first category (exact
    counts of every customer: what the sampled model's means are scaled to)."""
    frame = query(FIRST_PURCHASE_COUNTS_SQL.format(src=orders_sql(orders_path, to_date(as_of))))
    frame["first_purchase"] = pd.to_datetime(frame["first_purchase"])
    frame["customers"] = frame["customers"].astype("int64")
    return frame


def order_span(orders_path: Path | str, as_of: dt.date | str | None = None) -> tuple[dt.date, dt.date] | None:
    """The first and last order day before as_of (None when there are no orders)."""
    first, last = query(
        f"SELECT CAST(min(ordered_at) AS DATE), CAST(max(ordered_at) AS DATE) "
        f"FROM ({orders_sql(orders_path, as_of or None)})"
    ).iloc[0].tolist()
    if pd.isna(first):
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def calibration_end_for(orders_path: Path | str, as_of: dt.date | str, holdout_share: float = 0.25) -> dt.date:
    """The calibration end that keeps the last `holdout_share` of the days first order..as_of as holdout."""
    as_of = to_date(as_of)
    span = order_span(orders_path, as_of)
    if span is None:
        return as_of
    days = (as_of - span[0]).days
    return as_of - dt.timedelta(days=max(1, round(days * holdout_share)))


def sample_filter(sample_share: float | None) -> str:
    """The SQL condition (with a leading AND) that keeps the customers of the hash sample."""
    if sample_share is None or sample_share >= 1:
        return ""
    if sample_share <= 0:
        raise ValueError("sample_share must be positive")
    return f" AND hash(customer_id) % {SAMPLE_BUCKETS} < {max(1, round(sample_share * SAMPLE_BUCKETS))}"


def rfm_summary(
    orders_path: Path | str,
    as_of: dt.date | str,
    calibration_end: dt.date | str | None = None,
    time_unit_days: int = 7,
    sample_share: float | None = None,
    firsts: tuple[str, ...] = FIRST_ATTRIBUTES,
) -> pd.DataFrame:
    """One row per customer: x, t_x, T, monetary_value (+ holdout purchases when calibration_end).

    Orders before as_of are read; same-day orders are one purchase. Without calibration_end the
    whole history up to as_of is the calibration period (x_holdout = 0, holdout_length = 0).
    sample_share < 1 reads only the customers of the hash sample (see the module docstring).
    firsts: the first order's attributes to carry (first_channel, first_category); the others are empty.
    """
    return rfm_summaries(orders_path, as_of, calibration_end, time_unit_days, sample_share, firsts)[0]


def rfm_summaries(
    orders_path: Path | str,
    as_of: dt.date | str,
    calibration_end: dt.date | str | None = None,
    time_unit_days: int = 7,
    sample_share: float | None = None,
    firsts: tuple[str, ...] = FIRST_ATTRIBUTES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration, whole history) from one query: the frames of rfm_summary(..., calibration_end)
    and rfm_summary(..., None), for the chapter that fits the models on both."""
    return _summaries(orders_path, as_of, calibration_end, time_unit_days, sample_share, firsts)[:2]


def rfm_summaries_and_days(
    orders_path: Path | str,
    as_of: dt.date | str,
    calibration_end: dt.date | str,
    time_unit_days: int = 7,
    sample_share: float | None = None,
    firsts: tuple[str, ...] = FIRST_ATTRIBUTES,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """rfm_summaries and, from the same query, the purchase days per day of the calibration
    customers (validation.tracking_counts' frame: day, is_first, n), so the tracking curve needs
    no query of its own. With sample_share, the days are the sample's."""
    return _summaries(orders_path, as_of, calibration_end, time_unit_days, sample_share, firsts, days=True)


def _summaries(
    orders_path: Path | str, as_of: dt.date | str, calibration_end: dt.date | str | None, time_unit_days: int,
    sample_share: float | None, firsts: tuple[str, ...], days: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(calibration, whole history, purchase days per day or None): see rfm_summaries_and_days."""
    as_of = to_date(as_of)
    cal_end = to_date(calibration_end) if calibration_end else as_of
    if cal_end > as_of:
        raise ValueError(f"calibration_end {cal_end} is after as_of {as_of}")
    if time_unit_days <= 0:
        raise ValueError("time_unit_days must be positive")
    unit = float(time_unit_days)
    table = query_arrow(SUMMARY_SQL.format(
        src=orders_sql(orders_path, as_of),
        as_of_date=date_sql(as_of),
        cal_end_date=date_sql(cal_end),
        unit=f"{unit!r}",
        sample=sample_filter(sample_share),
        days_list="\n           list(day) AS purchase_days," if days else "",
        days_column=",\n       purchase_days" if days else "",
        **_firsts_sql(tuple(firsts)),
    ))
    counts = None
    if days:  # taken apart in Arrow: as pandas, a list column is one Python object per customer
        counts = _day_counts(table, cal_end)
        table = table.drop_columns(["purchase_days"])
    frame = table.to_pandas(self_destruct=True)
    del table
    frame["first_purchase"] = pd.to_datetime(frame["first_purchase"])
    frame["cohort_month"] = pd.to_datetime(frame["cohort_month"])
    whole = _typed(frame.assign(x_holdout=0, holdout_revenue=0.0, holdout_length=0.0))
    calibration = frame[frame["first_purchase"] < pd.Timestamp(cal_end)]
    calibration = calibration.drop(columns=["x", "t_x", "T", "monetary_value", "revenue"]).rename(
        columns={"cal_x": "x", "cal_t_x": "t_x", "cal_T": "T", "cal_monetary_value": "monetary_value",
                 "cal_revenue": "revenue"})
    calibration = _typed(calibration.assign(holdout_length=(as_of - cal_end).days / unit))
    return calibration, whole, counts


def _day_counts(table: pa.Table, cal_end: dt.date) -> pd.DataFrame:
    """Per calendar day, the purchase days of the customers first seen before cal_end: first
    purchases (is_first) and repeat purchases apart, ordered by day (tracking_counts' frame)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = table.column("first_purchase")
    calibration = pc.less(first, pa.scalar(pd.Timestamp(cal_end).to_pydatetime(), type=first.type))
    days = pc.list_flatten(pc.filter(table.column("purchase_days"), calibration))
    day_numbers = days.cast(pa.int32()).to_numpy()  # days since 1970-01-01
    first_numbers = (pc.filter(first, calibration).cast(pa.int64()).to_numpy()
                     // (pd.Timedelta(days=1) // pd.Timedelta(1, unit=first.type.unit)))
    offset = int(day_numbers.min()) if len(day_numbers) else 0
    every = np.bincount(day_numbers - offset)
    firsts = np.bincount(first_numbers - offset, minlength=len(every))
    repeats = every - firsts
    frames = []
    for is_first, n in ((True, firsts), (False, repeats)):
        present = np.flatnonzero(n)
        frames.append(pd.DataFrame({"day": present + offset, "is_first": is_first, "n": n[present].astype("int64")}))
    counts = pd.concat(frames, ignore_index=True)
    counts["day"] = pd.to_datetime(counts["day"].to_numpy("int64"), unit="D")
    return counts.sort_values(["day", "is_first"], kind="stable", ignore_index=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The summary columns in order, counts as int64 and times and amounts as float64."""
    frame = frame[list(SUMMARY_COLUMNS)].reset_index(drop=True)
    for column in ("x", "x_holdout"):
        frame[column] = frame[column].astype("int64")
    for column in ("t_x", "T", "monetary_value", "first_amount", "revenue", "holdout_revenue", "holdout_length"):
        frame[column] = frame[column].astype("float64")
    return frame
