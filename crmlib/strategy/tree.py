"""The sales KPI tree of one period, the figures goals and KPIs are measured with.

revenue = new customers x new orders per customer x new AOV
        + existing customers x existing orders per customer x existing AOV
A period is a Span of calendar days before as_of; new customers made their first purchase ever
in it, existing customers bought before it and again in it (as crmlib.diagnosis.kpis, whose
revenue, customers and repeat rate these figures equal). f2_rate: first-time customers of the
period whose f2 window ended before the period's end, share with a second purchase within it.
"""

from __future__ import annotations

from typing import Any

from ..store.kpis import period_kpis
from ..store.purchases import Purchases, Span
from ..wording import ratio

TREE_SQL = """
SELECT count(*) FILTER (WHERE n = 1) AS new_customers,
       coalesce(sum(orders) FILTER (WHERE first_day >= DATE '{start}'), 0) AS new_orders,
       coalesce(sum(revenue) FILTER (WHERE first_day >= DATE '{start}'), 0.0) AS new_revenue,
       count(*) FILTER (WHERE first_day < DATE '{start}' AND prev_day < DATE '{start}') AS existing_customers,
       coalesce(sum(orders) FILTER (WHERE first_day < DATE '{start}'), 0) AS existing_orders,
       coalesce(sum(revenue) FILTER (WHERE first_day < DATE '{start}'), 0.0) AS existing_revenue
FROM purchases
WHERE {span}
"""

F2_SQL = """
SELECT count(*) AS eligible,
       count(*) FILTER (WHERE date_diff('day', first_day, second_day) <= {window}) AS converted
FROM firsts
WHERE first_day >= DATE '{start}' AND first_day + {window} < DATE '{end}'
"""

# The leaves and branches of the tree, in display order, with their depth.
TREE_ROWS: tuple[tuple[str, int], ...] = (
    ("revenue", 0),
    ("new_revenue", 1), ("new_customers", 2), ("new_frequency", 2), ("new_aov", 2),
    ("existing_revenue", 1), ("existing_customers", 2), ("existing_frequency", 2), ("existing_aov", 2),
)


def kpi_values(purchases: Purchases, span: Span, f2_window: int = 90) -> dict[str, Any]:
    """Every goal metric and tree node of one period (definitions in the module docstring)."""
    base = period_kpis(purchases, span)
    row = purchases.query(TREE_SQL.format(start=span.start.isoformat(), span=span.sql())).iloc[0]
    f2 = purchases.query(F2_SQL.format(window=int(f2_window), start=span.start.isoformat(),
                                       end=span.end.isoformat())).iloc[0]
    new_c, new_o, new_r = int(row["new_customers"]), int(row["new_orders"]), float(row["new_revenue"])
    ex_c, ex_o, ex_r = int(row["existing_customers"]), int(row["existing_orders"]), float(row["existing_revenue"])
    return {
        **base,
        "new_orders": new_o, "existing_orders": ex_o,
        "new_frequency": ratio(new_o, new_c), "new_aov": ratio(new_r, new_o),
        "existing_frequency": ratio(ex_o, ex_c), "existing_aov": ratio(ex_r, ex_o),
        "f2_window": int(f2_window),
        "f2_eligible": int(f2["eligible"]), "f2_converted": int(f2["converted"]),
        "f2_rate": ratio(int(f2["converted"]), int(f2["eligible"])),
    }


__all__ = ["TREE_ROWS", "kpi_values"]
