"""The sales KPI tree of one period, the figures goals and KPIs are measured with.

revenue = new customers x new orders per customer x new AOV
        + existing customers x existing orders per customer x existing AOV
existing customers = prior customers x retention + reactivated customers
A period is a Span of calendar days before as_of; new customers made their first purchase ever
in it, existing customers bought before it and again in it (as crmlib.diagnosis.kpis, whose
revenue, customers and repeat rate these figures equal). f2_rate: first-time customers of the
period whose f2 window ended before the period's end and whose first purchase is observable
(crmlib.store.coverage: on or after observed_from), share with a second purchase within it.
New and existing customers are told apart only when split_observable (the period starts on or
after observed_from); the figures are computed either way, and the report shows them only then.
retention: the share of the prior period's customers (the equally long period just before) who
bought again in this one (retained customers); the other existing customers had not bought in
the prior period (reactivated). None when the data does not reach back to the prior period's
first day (its customers would be undercounted).
"""

from __future__ import annotations

from typing import Any

from ..store.kpis import period_kpis
from ..store.purchases import Purchases, Span, months_before
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
WHERE first_day >= DATE '{start}' AND first_day + {window} < DATE '{end}' AND ({observable})
"""

RETENTION_SQL = """
SELECT count(*) FILTER (WHERE day < DATE '{start}' AND (prev_day IS NULL OR prev_day < DATE '{prior}')) AS prior_customers,
       count(*) FILTER (WHERE day >= DATE '{start}' AND prev_day >= DATE '{prior}' AND prev_day < DATE '{start}')
           AS retained_customers
FROM purchases
WHERE day >= DATE '{prior}' AND day < DATE '{end}'
"""

# The leaves and branches of the tree, in display order, with their depth.
TREE_ROWS: tuple[tuple[str, int], ...] = (
    ("revenue", 0),
    ("new_revenue", 1), ("new_customers", 2), ("new_frequency", 2), ("new_aov", 2),
    ("existing_revenue", 1), ("existing_customers", 2), ("existing_frequency", 2), ("existing_aov", 2),
)


def prior_span(span: Span) -> Span:
    """The period just before span, as many calendar months long (in days for a span that is no
    whole number of months)."""
    months = (span.end.year - span.start.year) * 12 + span.end.month - span.start.month
    if months > 0 and months_before(span.end, months) == span.start:
        return Span(months_before(span.start, months), span.start)
    return Span(span.start - (span.end - span.start), span.start)


def retention_values(purchases: Purchases, span: Span, existing_customers: int) -> dict[str, Any]:
    """prior_customers, retained_customers, reactivated_customers and retention of the period (see
    the module docstring); None where the data does not cover the prior period."""
    prior = prior_span(span)
    row = purchases.query(RETENTION_SQL.format(prior=prior.start.isoformat(), start=span.start.isoformat(),
                                               end=span.end.isoformat())).iloc[0]
    if not purchases.covers(prior):
        return {"prior_customers": None, "retained_customers": None, "reactivated_customers": None, "retention": None}
    prior_c, retained = int(row["prior_customers"]), int(row["retained_customers"])
    return {"prior_customers": prior_c, "retained_customers": retained,
            "reactivated_customers": existing_customers - retained, "retention": ratio(retained, prior_c)}


def kpi_values(purchases: Purchases, span: Span, f2_window: int = 90) -> dict[str, Any]:
    """Every goal metric and tree node of one period (definitions in the module docstring)."""
    base = period_kpis(purchases, span)
    row = purchases.query(TREE_SQL.format(start=span.start.isoformat(), span=span.sql())).iloc[0]
    f2 = purchases.query(F2_SQL.format(window=int(f2_window), start=span.start.isoformat(),
                                       end=span.end.isoformat(), observable=purchases.observable_sql)).iloc[0]
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
        **retention_values(purchases, span, ex_c),
    }


__all__ = ["TREE_ROWS", "kpi_values", "prior_span", "retention_values"]
