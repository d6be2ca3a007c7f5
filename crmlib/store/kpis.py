"""Headline KPIs of the analysis period and the period it is compared with.

Definitions (a period is a run of calendar days; orders on or after as_of are never seen):
- revenue: sum of order amounts in the period; orders: orders in the period.
- customers: customers with at least one order in the period.
- new customers: customers whose first order ever (in the data before as_of) falls in the period;
  existing customers: the period's other customers (first order before the period).
- new / existing revenue: the period's revenue of new / existing customers (a new customer's
  second order in the same period is new revenue).
- split_observable: the period starts on or after purchases.observed_from (crmlib.store.coverage),
  so a customer first seen in it is new and not a long-standing account from before the data;
  otherwise the new / existing figures are shown as not observable and feed no finding.
- AOV (客単価) = revenue / orders; orders per customer = orders / customers.
- repeat rate (リピート率) = share of the period's customers with 2 or more purchases within the
  period (purchases, not orders: same-day orders count once, see purchases.py). Counting only
  purchases inside the period keeps the rate comparable between periods and independent of how
  far back the data reaches.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..numbers import ratio
from ..periods import Span, analysis_periods
from .purchases import Purchases

# A customer's first purchase in the period has no earlier purchase inside it (prev_day before
# the period's start): counting those rows counts customers, and the ones whose next purchase
# also falls inside the period are the customers with 2+ purchases in it.
PERIOD_SQL = """
SELECT count(*) FILTER (WHERE prev_day IS NULL OR prev_day < DATE '{start}') AS customers,
       CAST(coalesce(sum(orders), 0) AS BIGINT) AS orders,
       count(*) AS purchases,
       coalesce(sum(revenue), 0.0) AS revenue,
       count(*) FILTER (WHERE n = 1) AS new_customers,
       coalesce(sum(revenue) FILTER (WHERE first_day >= DATE '{start}'), 0.0) AS new_revenue,
       count(*) FILTER (WHERE (prev_day IS NULL OR prev_day < DATE '{start}')
                          AND next_day < DATE '{end}') AS repeat_customers
FROM purchases
WHERE {span}
"""

KPI_COLUMNS = [
    "revenue", "orders", "customers", "new_customers", "existing_customers", "new_revenue",
    "existing_revenue", "existing_revenue_share", "aov", "orders_per_customer", "repeat_rate",
]


def period_kpis(purchases: Purchases, span: Span) -> dict[str, Any]:
    """The headline KPIs of one period (definitions in the module docstring)."""
    row = purchases.query(PERIOD_SQL.format(span=span.sql(), start=span.start.isoformat(), end=span.end.isoformat())).iloc[0]
    customers, orders = int(row["customers"]), int(row["orders"])
    revenue, new_revenue = float(row["revenue"]), float(row["new_revenue"])
    new_customers = int(row["new_customers"])
    return {
        "start": span.start,
        "end": span.end,
        "covered": purchases.covers(span),
        # new vs existing needs every customer first seen in the period to be observably new
        "split_observable": purchases.splits_new(span),
        "revenue": revenue,
        "orders": orders,
        "purchases": int(row["purchases"]),
        "customers": customers,
        "new_customers": new_customers,
        "existing_customers": customers - new_customers,
        "new_revenue": new_revenue,
        "existing_revenue": revenue - new_revenue,
        "existing_revenue_share": ratio(revenue - new_revenue, revenue),
        "aov": ratio(revenue, orders),
        "orders_per_customer": ratio(orders, customers),
        "repeat_customers": int(row["repeat_customers"]),
        "repeat_rate": ratio(int(row["repeat_customers"]), customers),
    }


def headline_kpis(purchases: Purchases, months: int = 12, compare_to: str = "previous_period") -> pd.DataFrame:
    """KPIs of the analysis period (the `months` months before as_of) and its comparison period.

    One row per period: 'current' then 'previous'; `covered` is False when the data starts after
    the period's first day (its figures are then partial and not compared).
    """
    current, previous = analysis_periods(purchases.as_of, months, compare_to)
    rows = [{"period": "current", **period_kpis(purchases, current)},
            {"period": "previous", **period_kpis(purchases, previous)}]
    frame = pd.DataFrame(rows)
    frame.attrs.update(months=months, compare_to=compare_to)
    return frame


__all__ = ["KPI_COLUMNS", "headline_kpis", "period_kpis"]
