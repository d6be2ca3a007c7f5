"""Monthly trends of the headline KPIs, with revenue and customers split into new and existing.

Per calendar month: new customers = customers whose first order ever falls in that month (their
revenue that month is new revenue); existing customers = the month's other customers. A month
that starts before purchases.observed_from is not split (split_observable False): its "new"
customers may be accounts from before the data. AOV =
revenue / orders, orders per customer = orders / customers. A month that as_of cuts short is
marked partial and left out of the takeaway.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_month, fmt_pct
from ..store.purchases import Purchases
from ..wording import change_phrase

MONTHLY_SQL = """
SELECT CAST(date_trunc('month', day) AS DATE) AS month,
       count(*) FILTER (WHERE prev_day IS NULL OR prev_day < date_trunc('month', day)) AS customers,
       count(*) FILTER (WHERE n = 1) AS new_customers,
       CAST(sum(orders) AS BIGINT) AS orders,
       count(*) AS purchases,
       sum(revenue) AS revenue,
       coalesce(sum(revenue) FILTER (WHERE first_day >= date_trunc('month', day)), 0.0) AS new_revenue
FROM purchases
WHERE day >= DATE '{start}'
GROUP BY 1
"""


def month_start(day: dt.date) -> dt.date:
    """The first day of the day's month."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after day's month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def monthly_trends(purchases: Purchases, months: int = 24) -> pd.DataFrame:
    """Revenue, orders, customers, new vs existing, AOV and orders per customer per month.

    The last `months` calendar months up to the month of as_of's eve (not before the data's
    first month); months without orders are zero rows; partial = as_of falls inside the month
    or the data starts after its first day.
    """
    if purchases.data_start is None:
        return pd.DataFrame(columns=["month", "revenue", "orders", "customers", "new_customers",
                                     "existing_customers", "new_revenue", "existing_revenue", "aov",
                                     "orders_per_customer", "existing_revenue_share", "partial",
                                     "split_observable"])
    last = month_start(purchases.as_of - dt.timedelta(days=1))
    first = max(add_months(last, -(months - 1)), month_start(purchases.data_start))
    frame = purchases.query(MONTHLY_SQL.format(start=first.isoformat()))
    frame["month"] = pd.to_datetime(frame["month"])
    calendar = pd.DataFrame({"month": pd.date_range(first, last, freq="MS")})
    frame = calendar.merge(frame, on="month", how="left")
    for column in ("customers", "new_customers", "orders", "purchases"):
        frame[column] = frame[column].fillna(0).astype("int64")
    for column in ("revenue", "new_revenue"):
        frame[column] = frame[column].fillna(0.0).astype("float64")
    frame["existing_customers"] = frame["customers"] - frame["new_customers"]
    frame["existing_revenue"] = frame["revenue"] - frame["new_revenue"]
    frame["aov"] = frame["revenue"] / frame["orders"].where(frame["orders"] > 0)
    frame["orders_per_customer"] = frame["orders"] / frame["customers"].where(frame["customers"] > 0)
    frame["existing_revenue_share"] = frame["existing_revenue"] / frame["revenue"].where(frame["revenue"] != 0)
    next_month = frame["month"] + pd.offsets.MonthBegin(1)
    # as_of cuts the last month short; an export that starts mid-month cuts the first one
    frame["partial"] = (next_month > pd.Timestamp(purchases.as_of)) | (
        frame["month"] < pd.Timestamp(purchases.data_start))
    # new vs existing only from the first month that starts after the left-censored look-back
    frame["split_observable"] = True if purchases.observed_from is None else \
        frame["month"] >= pd.Timestamp(purchases.observed_from)
    return frame[["month", "revenue", "orders", "customers", "new_customers", "existing_customers",
                  "new_revenue", "existing_revenue", "aov", "orders_per_customer",
                  "existing_revenue_share", "partial", "split_observable"]].reset_index(drop=True)


def trends_takeaway(trends: pd.DataFrame, lang: str, currency: str) -> str:
    """One sentence: the latest full month's revenue, its change on a year earlier, the existing share."""
    full = trends[~trends["partial"]]
    if full.empty or not full["revenue"].any():
        return t("diagnosis.trends.empty", lang)
    latest = full.iloc[-1]
    split = bool(latest.get("split_observable", True))
    values = {
        "month": fmt_month(latest["month"], lang),
        "revenue": fmt_money(latest["revenue"], currency, lang, prose=True),
        "share": fmt_pct(latest["existing_revenue_share"]),
        "new_customers": fmt_int(latest["new_customers"]),
    }
    year_ago = full[full["month"] == latest["month"] - pd.DateOffset(years=1)]
    suffix = "" if split else "_no_split"
    if year_ago.empty or not year_ago["revenue"].iloc[0]:
        return t(f"diagnosis.trends.takeaway{suffix}", lang, **values)
    return t(
        f"diagnosis.trends.takeaway_yoy{suffix}",
        lang,
        change=change_phrase(latest["revenue"], year_ago["revenue"].iloc[0], lang),
        year_ago=fmt_month(year_ago["month"].iloc[0], lang),
        **values,
    )
