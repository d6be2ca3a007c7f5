"""Step 3, the customer journey map: the consultant's text per stage, with rows read from the orders.

Stages and the purchases that belong to them (purchase numbers n as in crmlib.diagnosis, same-day
orders merged; thresholds from the segments chapter's ladder settings):
- first_purchase: n = 1; arrival (arrival and use): n = 1, looked at over arrival_days;
- second_purchase: n = stage2 (2); habit: stage3 <= n < stage4 (3-4); loyal: n >= stage4 (5);
- lapsed: customers with no purchase for lapse_days (the ladder's 240 by default), and the
  purchases that ended such a gap (win-backs).
Data rows per stage:
- customers: customers at the stage on as_of (the ladder of crmlib.segments; arrival: one-time
  buyers whose purchase is at most arrival_days old);
- conversion: share of the stage's purchases followed by another purchase within the window
  (conversion_window_days; arrival: arrival_days), counting only purchases old enough for the
  whole window; lapsed: share of the customers lapsed a year before as_of who bought again in
  the year since;
- next_p10 / next_p25 / next_median: days to the next purchase among those who came back
  (lapsed: days away before the win-back), the data's follow-up timing (see service.py);
- products: the three products most often in the stage's purchases (arrival: in second
  purchases within arrival_days; lapsed: in win-back purchases).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..store.purchases import Purchases, months_before
from ..store.segments.classify import Segmentation
from ..sql import sql_literal
from .settings import Journey

STEP_SQL = """
SELECT count(*) FILTER (WHERE day + {window} < {as_of}) AS eligible,
       count(*) FILTER (WHERE day + {window} < {as_of} AND date_diff('day', day, next_day) <= {window}) AS converted,
       quantile_cont(date_diff('day', day, next_day), 0.1) AS next_p10,
       quantile_cont(date_diff('day', day, next_day), 0.25) AS next_p25,
       quantile_cont(date_diff('day', day, next_day), 0.5) AS next_median
FROM purchases
WHERE {condition}
"""

WINBACK_SQL = """
WITH per_customer AS (
    SELECT key, max(day) FILTER (WHERE day < DATE '{start}') AS last_before,
           min(day) FILTER (WHERE day >= DATE '{start}') AS back
    FROM purchases GROUP BY key)
SELECT count(*) FILTER (WHERE last_before + {lapse} <= DATE '{start}') AS eligible,
       count(*) FILTER (WHERE last_before + {lapse} <= DATE '{start}' AND back IS NOT NULL) AS converted,
       (SELECT quantile_cont(date_diff('day', prev_day, day), 0.1) FROM purchases
        WHERE date_diff('day', prev_day, day) >= {lapse}) AS next_p10,
       (SELECT quantile_cont(date_diff('day', prev_day, day), 0.25) FROM purchases
        WHERE date_diff('day', prev_day, day) >= {lapse}) AS next_p25,
       (SELECT quantile_cont(date_diff('day', prev_day, day), 0.5) FROM purchases
        WHERE date_diff('day', prev_day, day) >= {lapse}) AS next_median
FROM per_customer
"""

PRODUCTS_SQL = """
WITH lines AS (
    SELECT customer_id, CAST(ordered_at AS DATE) AS day, coalesce(product, sku) AS product
    FROM read_parquet({path})
    WHERE ordered_at < {as_of} AND customer_id IS NOT NULL AND coalesce(product, sku) IS NOT NULL
      AND coalesce(line_type, 'product') = 'product'),
{days},
-- one pass over the lines: per product, the purchase numbers (capped) and the two day-based flags
grouped AS (
    SELECT l.product, least(d.n, {cap}) AS n,
           d.n = 2 AND date_diff('day', d.first_day, d.day) <= {arrival} AS arrival,
           coalesce(date_diff('day', d.prev_day, d.day) >= {lapse}, false) AS winback,
           count(*) AS lines
    FROM lines l JOIN days d ON {join}
    GROUP BY ALL),
staged AS ({stages})
SELECT stage, product, purchases FROM (
    SELECT stage, product, sum(lines) AS purchases,
           row_number() OVER (PARTITION BY stage ORDER BY sum(lines) DESC, product) AS rank
    FROM staged GROUP BY stage, product)
WHERE rank <= {top}
ORDER BY stage, rank
"""

# The purchase number of each customer-day: the session's purchases table when it holds one row
# per customer and day (same-day orders merged), else numbered again from the lines.
DAYS_FROM_PURCHASES = "days AS (SELECT key, day, n, prev_day, first_day FROM purchases)"
DAYS_FROM_LINES = """days AS (
    SELECT customer_id, day, row_number() OVER w AS n, lag(day) OVER w AS prev_day, first_value(day) OVER w AS first_day
    FROM (SELECT DISTINCT customer_id, day FROM lines)
    WINDOW w AS (PARTITION BY customer_id ORDER BY day))"""


def stage_conditions(seg: Segmentation, journey: Journey) -> dict[str, str]:
    """SQL conditions on purchases (n, day, prev_day, first_day) of each stage's purchases."""
    lad = seg.settings.ladder
    s2, s3, s4 = lad.stage2_purchases, lad.stage3_purchases, lad.stage4_purchases
    return {
        "first_purchase": "n = 1",
        "arrival": f"n = 2 AND date_diff('day', first_day, day) <= {int(journey.arrival_days)}",
        "second_purchase": f"n = {s2}",
        "habit": f"n >= {s3} AND n < {s4}",
        "loyal": f"n >= {s4}",
        "lapsed": f"date_diff('day', prev_day, day) >= {int(lad.lapse_days)}",
    }


def _stage_customers(seg: Segmentation, journey: Journey) -> dict[str, int]:
    """Customers at each stage on as_of (from the segments chapter's ladder)."""
    ladder = seg.customers["ladder"]  # counted on the categorical's codes: no string per customer
    counts = ladder.value_counts()
    arrival = int(((ladder == "stage1") & (seg.customers["recency_days"] <= journey.arrival_days)).sum())
    return {
        "first_purchase": int(counts.get("stage1", 0)), "arrival": arrival,
        "second_purchase": int(counts.get("stage2", 0)), "habit": int(counts.get("stage3", 0)),
        "loyal": int(counts.get("stage4", 0)), "lapsed": int(counts.get("lapsed", 0)),
    }


def stage_products(lines_path: Path | str, as_of: dt.date, purchases: Purchases, seg: Segmentation,
                   journey: Journey, top: int = 3) -> dict[str, list[str]]:
    """The `top` products most often bought in each stage's purchases (lines counted; empty
    without a product or sku column)."""
    lad = seg.settings.ladder
    s2, s3, s4 = lad.stage2_purchases, lad.stage3_purchases, lad.stage4_purchases
    conditions = {  # on the grouped lines: n is capped at stage 4's purchase count
        "first_purchase": "n = 1", "arrival": "arrival", "second_purchase": f"n = {s2}",
        "habit": f"n >= {s3} AND n < {s4}", "loyal": f"n >= {s4}", "lapsed": "winback",
    }
    stages = " UNION ALL ".join(f"SELECT '{stage}' AS stage, product, lines FROM grouped WHERE {condition}"
                                for stage, condition in conditions.items())
    if purchases.merge_same_day:
        days, join = DAYS_FROM_PURCHASES, "md5_number(l.customer_id) = d.key AND l.day = d.day"
    else:
        days, join = DAYS_FROM_LINES, "l.customer_id = d.customer_id AND l.day = d.day"
    frame = purchases.query(PRODUCTS_SQL.format(
        path=sql_literal(str(lines_path)), stages=stages, top=int(top), as_of=f"TIMESTAMP '{as_of.isoformat()}'",
        days=days, join=join, cap=int(s4), arrival=int(journey.arrival_days), lapse=int(lad.lapse_days)))
    return {stage: frame.loc[frame["stage"] == stage, "product"].tolist() for stage in conditions}


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def journey_data(purchases: Purchases, seg: Segmentation, journey: Journey,
                 lines_path: Path | str | None = None, observed_from: dt.date | None = None) -> pd.DataFrame:
    """One row per journey stage (journey.stages order): stage, customers, eligible, converted,
    conversion, window_days, next_p10, next_p25, next_median, products (definitions in the module docstring).

    observed_from (the store's coverage): the first-purchase and arrival steps count only customers
    first seen from that day, as the diagnosis's F2 does (earlier ones may have bought before the
    data starts), so the journey's F2 and the diagnosis's are one figure."""
    conditions = stage_conditions(seg, journey)
    if observed_from is not None:
        new_only = f" AND first_day >= DATE '{observed_from.isoformat()}'"
        conditions = {**conditions, "first_purchase": conditions["first_purchase"] + new_only,
                      "arrival_first": "n = 1" + new_only}
    customers = _stage_customers(seg, journey)
    products = (stage_products(lines_path, purchases.as_of, purchases, seg, journey)
                if lines_path is not None and Path(lines_path).is_file() else {})
    rows = []
    for stage in journey.stages:
        if stage == "lapsed":
            start = months_before(purchases.as_of, 12)
            row = purchases.query(WINBACK_SQL.format(start=start.isoformat(), lapse=int(seg.settings.ladder.lapse_days))).iloc[0]
            window = None
        else:
            window = journey.arrival_days if stage == "arrival" else journey.conversion_window_days
            condition = conditions.get("arrival_first", "n = 1") if stage == "arrival" else conditions[stage]
            row = purchases.query(STEP_SQL.format(window=int(window), as_of=purchases.as_of_sql, condition=condition)).iloc[0]
        eligible, converted = int(row["eligible"]), int(row["converted"])
        rows.append({
            "stage": stage, "customers": customers[stage], "eligible": eligible, "converted": converted,
            "conversion": converted / eligible if eligible else None, "window_days": window,
            "next_p10": _number(row["next_p10"]), "next_p25": _number(row["next_p25"]), "next_median": _number(row["next_median"]),
            "products": products.get(stage, []),
        })
    return pd.DataFrame(rows)


__all__ = ["journey_data", "stage_conditions", "stage_products"]
