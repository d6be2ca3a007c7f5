"""Decile analysis (デシル分析) and revenue concentration (the Pareto curve).

Customers are ranked by spend (revenue in the analysis period, or all purchases before as_of
with basis='lifetime'), highest first, and cut into 10 groups of equal
size with SQL NTILE (when the count does not divide by 10, the first groups get one customer
more). Decile 1 is the top 10%. A *one-off buyer* has a single purchase ever (before as_of): in
the top decile that is a big one-time order, not a loyal customer, and is flagged as such.
Ties in spend are ordered by one-off first, then by more orders: customers still tied are
alike in everything reported, so the result does not depend on which of them lands where.
The Pareto curve gives the revenue share of the top x% of customers (x = 1..100, the top
ceil(x% of customers) customers).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..i18n import t
from ..style import fmt_date, fmt_int, fmt_money, fmt_pct
from ..store.purchases import Purchases, Span, analysis_periods
from ..wording import span_text

# Customers ranked by spend (1 = the biggest spender); one sort, then only small aggregates.
RANKED_SQL = """
CREATE OR REPLACE TEMP TABLE ranked_spend AS
SELECT revenue, orders, one_off,
       row_number() OVER (ORDER BY revenue DESC, one_off DESC, orders DESC) AS rank
FROM (
    SELECT key, sum(revenue) AS revenue, sum(orders) AS orders,
           bool_and(n = 1 AND next_day IS NULL) AS one_off
    FROM purchases
    WHERE {where}
    GROUP BY key
)
"""

# NTILE(10) from the rank: with N = 10q + r customers the first r deciles hold q + 1 customers.
DECILES_SQL = """
WITH size AS (SELECT count(*) // 10 AS q, count(*) % 10 AS r FROM ranked_spend),
     grouped AS (
    SELECT CASE WHEN rank <= r * (q + 1) THEN (rank - 1) // (q + 1) + 1
                ELSE r + (rank - r * (q + 1) - 1) // q + 1 END AS decile,
           revenue, orders, one_off
    FROM ranked_spend, size
)
SELECT decile,
       count(*) AS customers,
       sum(revenue) AS revenue,
       min(revenue) AS min_revenue,
       max(revenue) AS max_revenue,
       CAST(sum(orders) AS BIGINT) AS orders,
       count(*) FILTER (WHERE one_off) AS one_off_customers,
       coalesce(sum(revenue) FILTER (WHERE one_off), 0.0) AS one_off_revenue
FROM grouped
GROUP BY decile
ORDER BY decile
"""

# The top x% are the top ceil(x * N / 100) customers: customer `rank` first counts in
# percent floor(100 * (rank - 1) / N) + 1.
PARETO_SQL = """
WITH total AS (SELECT count(*) AS customers FROM ranked_spend)
SELECT CAST(100 * (rank - 1) // customers + 1 AS INTEGER) AS percent,
       count(*) AS customers,
       sum(revenue) AS revenue
FROM ranked_spend, total
GROUP BY 1
ORDER BY 1
"""


def _where(purchases: Purchases, basis: str, months: int) -> tuple[str, Span | None]:
    """The purchases a customer's spend counts: the analysis period or everything before as_of."""
    if basis == "lifetime":
        return "TRUE", None
    if basis != "period":
        raise ValueError(f"basis must be 'period' or 'lifetime', not {basis!r}")
    span, _ = analysis_periods(purchases.as_of, months)
    return span.sql(), span


def decile_analysis(purchases: Purchases, basis: str = "period", months: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(deciles, pareto): per-decile customers, revenue, share, spend range, one-off buyers; and
    the revenue share of the top 1..100% of customers."""
    where, span = _where(purchases, basis, months)
    purchases.con.execute(RANKED_SQL.format(where=where))
    try:
        deciles = purchases.query(DECILES_SQL)
        pareto = purchases.query(PARETO_SQL)
    finally:
        purchases.con.execute("DROP TABLE IF EXISTS ranked_spend")
    pareto = _pareto(pareto)
    total = deciles["revenue"].sum()
    deciles["share"] = deciles["revenue"] / total if total else float("nan")
    deciles["cumulative_share"] = deciles["share"].cumsum()
    deciles["mean_revenue"] = deciles["revenue"] / deciles["customers"]
    deciles["one_off_share"] = deciles["one_off_revenue"] / deciles["revenue"].where(deciles["revenue"] != 0)
    for frame in (deciles, pareto):
        frame.attrs.update(basis=basis, start=span.start if span else None, end=span.end if span else None)
    return deciles, pareto


def _pareto(buckets: pd.DataFrame) -> pd.DataFrame:
    """Per percent 1..100: the share of customers and of revenue of the top percent% customers."""
    frame = pd.DataFrame({"percent": range(1, 101)}).merge(buckets, on="percent", how="left").fillna(0)
    customers, revenue = frame["customers"].sum(), frame["revenue"].sum()
    return pd.DataFrame({
        "percent": frame["percent"],
        "customer_share": frame["customers"].cumsum() / customers if customers else float("nan"),
        "revenue_share": frame["revenue"].cumsum() / revenue if revenue else float("nan"),
    })


def top_share(pareto: pd.DataFrame, percent: int) -> float | None:
    """Revenue share of the top `percent`% of customers."""
    row = pareto[pareto["percent"] == percent]
    return None if row.empty else float(row["revenue_share"].iloc[0])


def decile_table(deciles: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Display table: decile, customers, revenue, share, cumulative share, mean and minimum spend, one-off buyers."""
    return pd.DataFrame({
        t("diagnosis.deciles.col_decile", lang): [t("diagnosis.deciles.decile_value", lang, n=int(d))
                                                  for d in deciles["decile"]],
        t("diagnosis.deciles.col_customers", lang): [fmt_int(v) for v in deciles["customers"]],
        t("diagnosis.deciles.col_revenue", lang): [fmt_money(v, currency) for v in deciles["revenue"]],
        t("diagnosis.deciles.col_share", lang): [fmt_pct(v) for v in deciles["share"]],
        t("diagnosis.deciles.col_cumulative", lang): [fmt_pct(v) for v in deciles["cumulative_share"]],
        t("diagnosis.deciles.col_mean", lang): [fmt_money(v, currency) for v in deciles["mean_revenue"]],
        t("diagnosis.deciles.col_min", lang): [fmt_money(v, currency) for v in deciles["min_revenue"]],
        t("diagnosis.deciles.col_one_off", lang): [fmt_int(v) for v in deciles["one_off_customers"]],
    })


def _too_few(deciles: pd.DataFrame, lang: str, min_customers: int) -> str | None:
    """The "too few customers" sentence when the deciles rank fewer than min_customers customers."""
    customers = int(deciles["customers"].sum())
    if customers < min_customers:
        return t("diagnosis.too_few_sentence", lang, n=fmt_int(customers), floor=fmt_int(min_customers))
    return None


def decile_takeaway(deciles: pd.DataFrame, pareto: pd.DataFrame, lang: str, min_customers: int = 1) -> str:
    """One sentence: revenue share of the top 10% and 20%, and the one-off big buyers in the top decile."""
    if deciles.empty or not deciles["revenue"].sum():
        return t("diagnosis.deciles.empty", lang)
    few = _too_few(deciles, lang, min_customers)
    if few:
        return few
    top = deciles.iloc[0]
    values = {
        "top10": fmt_pct(top["share"]),
        "top20": fmt_pct(top_share(pareto, 20)),
        "one_off": fmt_int(top["one_off_customers"]),
        "top_customers": fmt_int(top["customers"]),
        "one_off_share": fmt_pct(top["one_off_share"]),
    }
    key = "diagnosis.deciles.takeaway" if top["one_off_customers"] else "diagnosis.deciles.takeaway_no_one_off"
    return t(key, lang, **values)


def concentration_takeaway(deciles: pd.DataFrame, pareto: pd.DataFrame, lang: str, min_customers: int = 1) -> str:
    """One sentence: revenue share of the top 20% and 50% of customers, and of one-off buyers."""
    if deciles.empty or not deciles["revenue"].sum():
        return t("diagnosis.deciles.empty", lang)
    few = _too_few(deciles, lang, min_customers)
    if few:
        return few
    one_off = deciles["one_off_revenue"].sum() / deciles["revenue"].sum()
    return t("diagnosis.deciles.concentration", lang, top20=fmt_pct(top_share(pareto, 20)),
             top50=fmt_pct(top_share(pareto, 50)), one_off_share=fmt_pct(one_off))


def basis_note(deciles: pd.DataFrame, as_of: dt.date, lang: str) -> str:
    """Which spend ranks the customers: the analysis period's, or everything before as_of."""
    if deciles.attrs.get("basis") == "lifetime":
        return t("diagnosis.deciles.basis_lifetime", lang, as_of=fmt_date(as_of, lang))
    return t("diagnosis.deciles.basis_period", lang,
             span=span_text(Span(deciles.attrs["start"], deciles.attrs["end"]), lang))


def decile_metrics(deciles: pd.DataFrame, pareto: pd.DataFrame) -> dict[str, object]:
    """Concentration figures for metrics.json."""
    if deciles.empty:
        return {}
    top = deciles.iloc[0]
    return {"top10_share": top["share"], "top20_share": top_share(pareto, 20),
            "top_decile_one_off_customers": top["one_off_customers"],
            "top_decile_one_off_share": top["one_off_share"]}
