"""First-purchase cohorts (コホート): how each month's new customers go on buying.

Rows = first-purchase month (cohort), columns = months since the first purchase (calendar
months: a first purchase on 31 January and a purchase on 1 February are months 0 and 1). Cells:
- retention: share of the cohort's customers with a purchase in that month (month 0 = 100%);
- orders per customer: orders placed from month 0 up to that month / cohort customers (cumulative);
- revenue per customer: revenue from month 0 up to that month / cohort customers (cumulative;
  cohort LTV so far).
A cell is empty when its month is not over by as_of (not observed yet). The cohorts shown are
the last `cohorts` months whose month 0 is over and which start on or after
purchases.observed_from (earlier "new" customers may be accounts from before the data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from ..store.purchases import Purchases
from .trends import add_months, month_start

COHORT_SQL = """
SELECT CAST(date_trunc('month', first_day) AS DATE) AS cohort,
       date_diff('month', date_trunc('month', first_day), date_trunc('month', day)) AS month,
       count(*) FILTER (WHERE prev_day IS NULL OR date_trunc('month', prev_day) < date_trunc('month', day))
           AS customers,
       CAST(sum(orders) AS BIGINT) AS orders,
       sum(revenue) AS revenue
FROM purchases
WHERE first_day >= DATE '{first}' AND first_day < DATE '{end}'
  AND date_diff('month', date_trunc('month', first_day), date_trunc('month', day)) <= {months}
GROUP BY 1, 2
"""


@dataclass
class CohortTables:
    """The three cohort tables (index: cohort month, columns: months since 0..n) and cohort sizes."""

    sizes: pd.Series
    retention: pd.DataFrame
    orders_per_customer: pd.DataFrame
    revenue_per_customer: pd.DataFrame


def cohort_tables(purchases: Purchases, cohorts: int = 12, months: int = 12) -> CohortTables:
    """Retention %, cumulative orders and cumulative revenue per customer by months since first purchase."""
    last = add_months(month_start(purchases.as_of), -1)  # the last month that is over by as_of
    first = add_months(last, -(cohorts - 1))
    if purchases.data_start is not None:
        first = max(first, month_start(purchases.data_start))
    if purchases.observed_from is not None:  # left-censored months are pre-existing accounts, not cohorts
        observed = month_start(purchases.observed_from)
        first = max(first, observed if observed == purchases.observed_from else add_months(observed, 1))
    index = pd.DatetimeIndex(pd.date_range(first, last, freq="MS"), name="cohort") if first <= last else \
        pd.DatetimeIndex([], name="cohort")
    columns = pd.RangeIndex(0, months + 1, name="month")
    raw = purchases.query(COHORT_SQL.format(first=first.isoformat(), end=add_months(last, 1).isoformat(),
                                            months=int(months)))
    raw["cohort"] = pd.to_datetime(raw["cohort"])
    grid = lambda value: (raw.pivot_table(index="cohort", columns="month", values=value, aggfunc="sum")  # noqa: E731
                          .reindex(index=index, columns=columns).fillna(0.0))
    active, orders, revenue = grid("customers"), grid("orders"), grid("revenue")
    sizes = active[0].astype("int64").rename("customers")
    denominator = sizes.where(sizes > 0).astype("float64")
    # a cell is observed when its calendar month is over by as_of
    over = np.array([[add_months(c.date(), m + 1) <= purchases.as_of for m in columns] for c in index],
                    dtype=bool).reshape(len(index), len(columns))
    mask = lambda frame: frame.where(over)  # noqa: E731
    return CohortTables(
        sizes=sizes,
        retention=mask(active.div(denominator, axis=0)),
        orders_per_customer=mask(orders.cumsum(axis=1).div(denominator, axis=0)),
        revenue_per_customer=mask(revenue.cumsum(axis=1).div(denominator, axis=0)),
    )


def weighted_mean(table: pd.DataFrame, sizes: pd.Series, month: int) -> float | None:
    """Customer-weighted mean of one month's cells over the cohorts observed that far."""
    if month not in table.columns:
        return None
    cells = table[month].dropna()
    weights = sizes.reindex(cells.index).astype("float64")
    if cells.empty or weights.sum() == 0:
        return None
    return float((cells * weights).sum() / weights.sum())


def _deepest_month(table: pd.DataFrame, min_cohorts: int = 3) -> int | None:
    """The largest months-since value observed for at least min_cohorts cohorts (fewer cohorts: 1)."""
    need = min(min_cohorts, max(len(table), 1))
    counts = table.notna().sum()
    candidates = [int(m) for m, n in counts.items() if n >= need and m > 0]
    return max(candidates) if candidates else None


def retention_takeaway(tables: CohortTables, lang: str) -> str:
    """One sentence: how many new customers buy again in month 1 and later, recent vs early cohorts."""
    month1 = weighted_mean(tables.retention, tables.sizes, 1)
    if month1 is None:
        return t("diagnosis.cohorts.too_short", lang)
    deep = _deepest_month(tables.retention) or 1
    if deep == 1:
        return t("diagnosis.cohorts.retention_month1", lang, month1=fmt_pct(month1),
                 cohorts=fmt_int(tables.retention[1].notna().sum()))
    observed = tables.retention[1].dropna()
    sizes = tables.sizes.reindex(observed.index)
    values = {
        "month1": fmt_pct(month1),
        "deep_month": fmt_int(deep),
        "deep": fmt_pct(weighted_mean(tables.retention, tables.sizes, deep)),
        "cohorts": fmt_int(len(observed)),
    }
    if len(observed) >= 6:
        recent = float((observed.iloc[-3:] * sizes.iloc[-3:]).sum() / sizes.iloc[-3:].sum())
        early = float((observed.iloc[:3] * sizes.iloc[:3]).sum() / sizes.iloc[:3].sum())
        return t("diagnosis.cohorts.retention_trend", lang, recent=fmt_pct(recent), early=fmt_pct(early), **values)
    return t("diagnosis.cohorts.retention", lang, **values)


def orders_takeaway(tables: CohortTables, lang: str) -> str:
    """One sentence: orders per new customer in month 0 and by the deepest month observed."""
    deep = _deepest_month(tables.orders_per_customer)
    first = weighted_mean(tables.orders_per_customer, tables.sizes, 0)
    if deep is None or first is None:
        return t("diagnosis.cohorts.too_short", lang)
    return t("diagnosis.cohorts.orders", lang, first=fmt_num(first, 2), deep_month=fmt_int(deep),
             deep=fmt_num(weighted_mean(tables.orders_per_customer, tables.sizes, deep), 2))


def revenue_takeaway(tables: CohortTables, lang: str, currency: str) -> str:
    """One sentence: revenue per new customer in month 0, by the deepest month, and the repeat uplift."""
    deep = _deepest_month(tables.revenue_per_customer)
    first = weighted_mean(tables.revenue_per_customer, tables.sizes, 0)
    if deep is None or first is None:
        return t("diagnosis.cohorts.too_short", lang)
    # compare month 0 and month `deep` on the same cohorts (those observed that far)
    cohorts = tables.revenue_per_customer[deep].dropna().index
    same = CohortTables(tables.sizes.reindex(cohorts), tables.retention.reindex(cohorts),
                        tables.orders_per_customer.reindex(cohorts), tables.revenue_per_customer.reindex(cohorts))
    base = weighted_mean(same.revenue_per_customer, same.sizes, 0)
    later = weighted_mean(same.revenue_per_customer, same.sizes, deep)
    uplift = None if not base else later / base - 1.0
    return t("diagnosis.cohorts.revenue", lang, first=fmt_money(base, currency, lang, prose=True), deep_month=fmt_int(deep),
             deep=fmt_money(later, currency, lang, prose=True), uplift=fmt_pct(uplift))


def cohort_metrics(tables: CohortTables) -> dict[str, float | None]:
    """Customer-weighted month-1, -3, -6 and -12 retention for metrics.json."""
    return {f"retention_month_{m}": weighted_mean(tables.retention, tables.sizes, m) for m in (1, 3, 6, 12)}


def cohort_month_label(cohort: pd.Timestamp | dt.date, lang: str) -> str:
    """A cohort row label: '2024-03' (ja: 2024年3月)."""
    cohort = pd.Timestamp(cohort)
    return f"{cohort.year}年{cohort.month}月" if lang == "ja" else cohort.strftime("%Y-%m")
