"""Headline KPIs of the analysis period and the period it is compared with.

Definitions (a period is a run of calendar days; orders on or after as_of are never seen):
- revenue: sum of order amounts in the period; orders: orders in the period.
- customers: customers with at least one order in the period.
- new customers: customers whose first order ever (in the data before as_of) falls in the period;
  existing customers: the period's other customers (first order before the period).
- new / existing revenue: the period's revenue of new / existing customers (a new customer's
  second order in the same period is new revenue).
- AOV (客単価) = revenue / orders; orders per customer = orders / customers.
- repeat rate (リピート率) = share of the period's customers with 2 or more purchases within the
  period (purchases, not orders: same-day orders count once, see purchases.py). Counting only
  purchases inside the period keeps the rate comparable between periods and independent of how
  far back the data reaches.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from .purchases import Purchases, Span, analysis_periods
from .text import change_phrase, comparison_label, pct_change, point_change, points_phrase, ratio, span_text

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


def _rows(kpis: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The current and previous rows of a headline_kpis frame."""
    return kpis.iloc[0], kpis.iloc[1]


def kpi_table(kpis: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Display table: metric, this period, comparison period, change (blank when not comparable)."""
    cur, prev = _rows(kpis)
    compare = bool(prev["covered"])
    money = lambda v: fmt_money(v, currency)  # noqa: E731
    share = lambda v: fmt_pct(v)  # noqa: E731
    specs = [
        ("revenue", t("metric.revenue", lang), money, pct_change),
        ("orders", t("metric.orders", lang), fmt_int, pct_change),
        ("customers", t("metric.customers", lang), fmt_int, pct_change),
        ("new_customers", t("diagnosis.kpis.new_customers", lang), fmt_int, pct_change),
        ("existing_customers", t("diagnosis.kpis.existing_customers", lang), fmt_int, pct_change),
        ("new_revenue", t("diagnosis.kpis.new_revenue", lang), money, pct_change),
        ("existing_revenue", t("diagnosis.kpis.existing_revenue", lang), money, pct_change),
        ("existing_revenue_share", t("diagnosis.kpis.existing_revenue_share", lang), share, point_change),
        ("aov", t("metric.aov", lang), money, pct_change),
        ("orders_per_customer", t("metric.orders_per_customer", lang), lambda v: fmt_num(v, 2), pct_change),
        ("repeat_rate", t("diagnosis.kpis.repeat_rate", lang), share, point_change),
    ]
    months = kpis.attrs.get("months", 12)
    head_cur = t("diagnosis.kpis.col_current", lang, span=span_text(_span(cur), lang))
    head_prev = t("diagnosis.kpis.col_previous", lang, span=span_text(_span(prev), lang))
    rows = []
    for key, label, fmt, change in specs:
        rows.append({
            t("common.col_metric", lang): label,
            head_cur: fmt(cur[key]),
            head_prev: fmt(prev[key]) if compare else "—",
            t("diagnosis.kpis.col_change", lang): (change(cur[key], prev[key]) or "—") if compare else "—",
        })
    frame = pd.DataFrame(rows)
    frame.attrs["months"] = months
    return frame


def _span(row: pd.Series) -> Span:
    """The span of a headline_kpis row."""
    return Span(pd.Timestamp(row["start"]).date(), pd.Timestamp(row["end"]).date())


def kpi_takeaway(kpis: pd.DataFrame, lang: str, currency: str) -> str:
    """One sentence: revenue and its change, customers, and the existing customers' revenue share."""
    cur, prev = _rows(kpis)
    months = kpis.attrs.get("months", 12)
    label = comparison_label(months, kpis.attrs.get("compare_to", "previous_period"), lang)
    values = {
        "months": months,
        "span": span_text(_span(cur), lang),
        "revenue": fmt_money(cur["revenue"], currency),
        "customers": fmt_int(cur["customers"]),
        "new_customers": fmt_int(cur["new_customers"]),
        "share": fmt_pct(cur["existing_revenue_share"]),
        "aov": fmt_money(cur["aov"], currency),
        "compare": label,
    }
    if not cur["orders"]:
        return t("diagnosis.kpis.empty", lang, **values)
    if not prev["covered"]:
        return t("diagnosis.kpis.takeaway_no_compare", lang, **values)
    return t(
        "diagnosis.kpis.takeaway",
        lang,
        revenue_change=change_phrase(cur["revenue"], prev["revenue"], lang),
        share_change=points_phrase(cur["existing_revenue_share"], prev["existing_revenue_share"], lang),
        **values,
    )
