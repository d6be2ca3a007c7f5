"""The per-customer facts every segmentation reads, aggregated in DuckDB from orders.parquet.

Definitions (the as-of cut is exclusive: orders with ordered_at < as_of, as in crmlib.orders):
- recency_days: days from the day of the last order to as_of (an order the day before as_of: 1);
- purchases: with merge_same_day, the calendar days with an order (a split basket is one
  purchase); otherwise the orders. This is the F of RFM and the purchase count of CPM and ladder;
- orders, revenue: orders and their net merchandise revenue (the orders.parquet `amount`),
  summed as DECIMAL(38, 6) so the total does not depend on the order DuckDB's threads add rows in
  (equal spends stay equal, and quantile ties and bins are reproducible run to run);
- tenure_days: days from the first to the last order's day.
recency_days and tenure_days are computed exactly as in crmlib.orders.customer_summary.
orders, purchases, recency_days and tenure_days are int32 (4 bytes a customer each, not 8: 2**31
orders or days is out of reach); pandas and numpy add them up in int64, so their sums stay exact.
Orders without a customer id or timestamp are left out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..orders import as_timestamp, orders_sql, query_stream
from .asof import resolve_as_of, to_date  # noqa: F401 (re-exported)

BASE_SQL = """
WITH days AS (  -- one row per customer and order day: the distinct days need no DISTINCT aggregate
    SELECT customer_id, CAST(ordered_at AS DATE) AS day,
           min(ordered_at) AS first_at, max(ordered_at) AS last_at, count(*) AS orders,
           sum(CAST(amount AS DECIMAL(38, 6))) AS revenue
    FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
    GROUP BY customer_id, day
)
SELECT customer_id,
       min(first_at) AS first_order,
       max(last_at) AS last_order,
       CAST(sum(orders) AS INTEGER) AS orders,
       CAST({purchases} AS INTEGER) AS purchases,
       CAST(coalesce(sum(revenue), 0) AS DOUBLE) AS revenue,
       CAST(date_diff('day', max(day), CAST({asof} AS DATE)) AS INTEGER) AS recency_days,
       CAST(date_diff('day', min(day), max(day)) AS INTEGER) AS tenure_days
FROM days
GROUP BY customer_id
ORDER BY customer_id
"""

BASE_COLUMNS = ("customer_id", "first_order", "last_order", "orders", "purchases", "revenue",
                "recency_days", "tenure_days")


def customer_base(
    orders_path: Path | str, as_of: dt.date | str, merge_same_day: bool = True,
    *, ordered_until: dt.date | str | None = None,
) -> pd.DataFrame:
    """One row per customer with an order before as_of: orders, purchases, revenue, recency, tenure.

    With ordered_until (after as_of), only the customers who also ordered from as_of to the day
    before ordered_until: the few whose facts on as_of differ from those on ordered_until (the
    segment migration reads the others off the later base)."""
    purchases = "count(*)" if merge_same_day else "sum(orders)"
    src = orders_sql(orders_path, as_of)
    if ordered_until is not None:
        src = (f"{src} AND customer_id IN (SELECT customer_id FROM ({orders_sql(orders_path, ordered_until)}) "
               f"WHERE ordered_at >= {as_timestamp(as_of)})")
    # typed in SQL and streamed out of DuckDB: 50 million customers never sit in its memory cap
    frame = query_stream(BASE_SQL.format(src=src, asof=as_timestamp(as_of), purchases=purchases))
    if frame["customer_id"].dtype != "str":
        frame["customer_id"] = frame["customer_id"].astype("str")
    return frame
