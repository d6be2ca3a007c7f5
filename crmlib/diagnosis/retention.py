"""The 5:25 check: what a few more points of retention are worth on the client's own data.

The rule of thumb (Reichheld / Bain) says keeping 5% more customers can raise profit by about
25%. Instead of quoting it, this measures it:
- retention rate r = customers of the previous period who bought again in the analysis period /
  customers of the previous period (both periods `months` long, back to back, ending at as_of);
- revenue per retained customer v = the analysis period's revenue of those retained customers /
  their number;
- with retention r + u (u = uplift in points / 100, capped at 100%), the previous period's C
  customers would give C x u more retained customers in the next period, worth C x u x v; followed
  for H periods at the same per-period retention, the extra revenue is
  C x v x sum_{k=1..H} ((r + u)^k - r^k).
Assumptions (stated in the report): retained customers keep spending v per period, retention is
the same in every period, acquisition is unchanged, no discounting, revenue not profit (no
margin data). Both periods must lie inside the data, or the check is not made.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from ..store.purchases import Purchases, analysis_periods
from ..wording import ratio

# The previous period's customers are its rows with no later purchase inside it; those whose
# next purchase falls in the analysis period were retained.
RETENTION_SQL = """
SELECT count(*) FILTER (WHERE {previous} AND (next_day IS NULL OR next_day >= DATE '{start}')) AS previous_customers,
       count(*) FILTER (WHERE {previous} AND next_day >= DATE '{start}' AND next_day < DATE '{end}') AS retained,
       coalesce(sum(revenue) FILTER (WHERE {current}), 0.0) AS current_revenue
FROM purchases
WHERE day >= DATE '{previous_start}' AND day < DATE '{end}'
"""

# The analysis period's revenue of retained customers: those whose first purchase in it follows
# a purchase in the previous period.
RETAINED_REVENUE_SQL = """
SELECT coalesce(sum(p.revenue), 0.0) AS revenue
FROM purchases p
SEMI JOIN (
    SELECT key FROM purchases
    WHERE {current} AND prev_day >= DATE '{previous_start}' AND prev_day < DATE '{start}'
) r ON p.key = r.key
WHERE {current_p}
"""


def retention_value(purchases: Purchases, months: int = 12, uplift_points: float = 5.0,
                    horizon: int = 3) -> dict[str, Any]:
    """Retention of the previous period's customers and the revenue an uplift of `uplift_points` would add.

    Keys: previous_start, start, end, covered, previous_customers, retained, retention_rate,
    revenue_per_retained, current_revenue, uplift_points, extra_customers, gain_next_period,
    gain_share (of the analysis period's revenue), horizon, gain_horizon.
    """
    current, _ = analysis_periods(purchases.as_of, months)
    previous, _ = analysis_periods(current.start, months)
    fill = {"previous": previous.sql(), "current": current.sql(), "current_p": current.sql("p.day"),
            "start": current.start.isoformat(), "end": current.end.isoformat(),
            "previous_start": previous.start.isoformat()}
    row = purchases.query(RETENTION_SQL.format(**fill)).iloc[0]
    retained_revenue = float(purchases.scalar(RETAINED_REVENUE_SQL.format(**fill)))
    previous_customers, retained = int(row["previous_customers"]), int(row["retained"])
    rate = ratio(retained, previous_customers)
    per_customer = ratio(retained_revenue, retained)
    out: dict[str, Any] = {
        "previous_start": previous.start, "start": current.start, "end": current.end,
        "covered": purchases.covers(previous),
        "previous_customers": previous_customers, "retained": retained, "retention_rate": rate,
        "retained_revenue": retained_revenue, "revenue_per_retained": per_customer,
        "current_revenue": float(row["current_revenue"]), "uplift_points": float(uplift_points),
        "horizon": int(horizon), "months": int(months),
        "extra_customers": None, "gain_next_period": None, "gain_share": None, "gain_horizon": None,
    }
    if rate is None or per_customer is None:
        return out
    raised = min(rate + uplift_points / 100.0, 1.0)
    out["extra_customers"] = previous_customers * (raised - rate)
    out["gain_next_period"] = out["extra_customers"] * per_customer
    out["gain_share"] = ratio(out["gain_next_period"], out["current_revenue"])
    out["gain_horizon"] = previous_customers * per_customer * sum(
        raised ** k - rate ** k for k in range(1, int(horizon) + 1))
    return out


def value_table(value: dict[str, Any], lang: str, currency: str) -> pd.DataFrame:
    """Display table of the inputs and results of the 5:25 check."""
    rows = [
        ("previous_customers", fmt_int(value["previous_customers"])),
        ("retention_rate", fmt_pct(value["retention_rate"])),
        ("revenue_per_retained", fmt_money(value["revenue_per_retained"], currency)),
        ("uplift", t("diagnosis.value.points_value", lang, points=fmt_num(value["uplift_points"], 1))),
        ("extra_customers", fmt_int(value["extra_customers"])),
        ("gain_next_period", fmt_money(value["gain_next_period"], currency)),
        ("gain_share", fmt_pct(value["gain_share"])),
        ("gain_horizon", fmt_money(value["gain_horizon"], currency)),
    ]
    return pd.DataFrame({
        t("common.col_metric", lang): [t(f"diagnosis.value.row_{key}", lang, months=value["months"],
                                         horizon=value["horizon"]) for key, _ in rows],
        t("common.col_value", lang): [text for _, text in rows],
    })


def value_assumptions(value: dict[str, Any], lang: str, currency: str) -> str:
    """The assumptions behind the estimate, as a paragraph for the report."""
    return t("diagnosis.value.assumptions", lang, months=value["months"], horizon=value["horizon"],
             per_customer=fmt_money(value["revenue_per_retained"], currency, lang, prose=True),
             rate=fmt_pct(value["retention_rate"]))


def value_takeaway(value: dict[str, Any], lang: str, currency: str) -> str:
    """One sentence: the retention rate and what the uplift would add next period and over the horizon."""
    if not value["covered"]:
        return t("diagnosis.value.not_covered", lang, months=value["months"])
    if value["gain_next_period"] is None:
        return t("diagnosis.value.empty", lang)
    return t(
        "diagnosis.value.takeaway",
        lang,
        points=fmt_num(value["uplift_points"], 1),
        customers=fmt_int(value["previous_customers"]),
        rate=fmt_pct(value["retention_rate"]),
        raised=fmt_pct(min(value["retention_rate"] + value["uplift_points"] / 100.0, 1.0)),
        gain=fmt_money(value["gain_next_period"], currency, lang, prose=True),
        share=fmt_pct(value["gain_share"]),
        horizon=value["horizon"],
        gain_horizon=fmt_money(value["gain_horizon"], currency, lang, prose=True),
        months=value["months"],
    )
