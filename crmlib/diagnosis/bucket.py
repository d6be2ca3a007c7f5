"""The leaky bucket (穴の空いたバケツ): customers gained, kept, won back and lost, period by period.

Definitions, with L = lapse_days (default 365) and purchases as in purchases.py:
- A customer is *active* on a day when their last purchase is less than L days old, and
  *lapses* on the day it turns L days old with no new purchase that day: a return exactly L
  days after a purchase keeps the customer active, a return after more than L days follows a lapse.
- Each period's buyers belong to one flow, decided by their first purchase in the period:
  new = their first purchase ever; reactivated = it comes more than L days after their previous
  purchase (they had lapsed, 休眠からの復帰); retained = otherwise (they were still active).
  The flow's revenue is the period's revenue of its customers.
- lost (離脱) = customers who lapse in the period (purchase on day d, the next one more than L
  days later or none, d + L inside the period and before as_of). Their revenue is what they
  spent in the 365 days up to and including their last purchase: the yearly revenue that leaks
  out with them.
- active at the end of a period = active at its start + new + reactivated - lost (exact: with L
  at least as long as the period, nobody lapses or comes back twice within one period).

Why 365 days by default: it keeps customers who buy once a year (gift seasons, annual sales)
active, and matches the 12-month analysis period; a consumables shop with monthly refills may
set 180. A period starting less than L days after the data's first day is a *warm-up* period:
nobody can have lapsed yet, and earlier customers look new.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_month
from ..store.purchases import Purchases
from ..wording import change_phrase

FLOWS = ("new", "retained", "reactivated", "lost")

# A customer's first purchase in a period is the row whose previous purchase lies before the
# period; a return after more than L days is always such a row (L is longer than a period).
BUYER_FLOWS_SQL = """
SELECT CAST(date_trunc('{unit}', day) AS DATE) AS period,
       count(*) FILTER (WHERE n = 1) AS new,
       count(*) FILTER (WHERE n > 1 AND prev_day < date_trunc('{unit}', day)
                          AND date_diff('day', prev_day, day) <= {lapse}) AS retained,
       count(*) FILTER (WHERE n > 1 AND date_diff('day', prev_day, day) > {lapse}) AS reactivated,
       sum(revenue) AS revenue,
       coalesce(sum(revenue) FILTER (WHERE first_day >= date_trunc('{unit}', day)), 0.0) AS new_revenue
FROM purchases
GROUP BY 1
"""

# The period's revenue of reactivated customers: their comeback purchase and what follows it in
# the same period.
REACTIVATED_REVENUE_SQL = """
WITH back AS (
    SELECT key, day, CAST(date_trunc('{unit}', day) AS DATE) AS period
    FROM purchases
    WHERE n > 1 AND date_diff('day', prev_day, day) > {lapse} AND day >= DATE '{since}'
)
SELECT b.period, sum(p.revenue) AS revenue
FROM back b JOIN purchases p
  ON p.key = b.key AND p.day >= b.day AND CAST(date_trunc('{unit}', p.day) AS DATE) = b.period
GROUP BY 1
"""

LAPSED = "(next_day IS NULL OR date_diff('day', day, next_day) > {lapse}) AND day + {lapse} < {as_of}"

# Lapses per period; lost_revenue starts as the revenue of the last purchase before the lapse ...
LOST_SQL = """
SELECT CAST(date_trunc('{unit}', day + {lapse}) AS DATE) AS period,
       count(*) AS lost,
       sum(revenue) AS lost_revenue
FROM purchases
WHERE {lapsed}
GROUP BY 1
"""

# ... to which the customer's earlier purchases within 364 days of it are added (the periods
# shown only; most lost customers bought once, so few rows take part).
LOST_EARLIER_SQL = """
WITH lost AS (
    SELECT key, day, CAST(date_trunc('{unit}', day + {lapse}) AS DATE) AS period
    FROM purchases
    WHERE {lapsed} AND day + {lapse} >= DATE '{since}' AND prev_day >= day - 364
)
SELECT l.period, sum(p.revenue) AS earlier
FROM lost l JOIN purchases p
  ON p.key = l.key AND p.day >= l.day - 364 AND p.day < l.day
WHERE p.day >= DATE '{since}' - {lapse} - 364
GROUP BY 1
"""


def period_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the month or quarter holding day."""
    if unit == "month":
        return day.replace(day=1)
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_period(start: dt.date, unit: str) -> dt.date:
    """The first day of the next month or quarter."""
    step = 1 if unit == "month" else 3
    index = start.year * 12 + start.month - 1 + step
    return dt.date(index // 12, index % 12 + 1, 1)


def leaky_bucket(purchases: Purchases, period: str = "quarter", lapse_days: int = 365,
                 periods: int = 8) -> pd.DataFrame:
    """Active customers and the new / retained / reactivated / lost flows of the last `periods` periods.

    Columns: period (first day), period_end (exclusive), partial (as_of inside the period),
    warmup (starts less than lapse_days after the data's first day), active_start, new,
    retained, reactivated, lost, active_end, and <flow>_revenue for each flow.
    """
    if period not in ("month", "quarter"):
        raise ValueError(f"period must be 'month' or 'quarter', not {period!r}")
    columns = ["period", "period_end", "partial", "warmup", "active_start", *FLOWS, "active_end",
               *(f"{flow}_revenue" for flow in FLOWS)]
    if purchases.data_start is None:
        return pd.DataFrame(columns=columns)
    fill = {"unit": period, "lapse": int(lapse_days), "as_of": purchases.as_of_sql}

    starts = [period_start(purchases.data_start, period)]
    while next_period(starts[-1], period) < purchases.as_of:
        starts.append(next_period(starts[-1], period))
    frame = pd.DataFrame({"period": pd.to_datetime(starts)})

    fill["lapsed"] = LAPSED.format(**fill)
    buyers = purchases.query(BUYER_FLOWS_SQL.format(**fill))
    lost = purchases.query(LOST_SQL.format(**fill))
    for part in (buyers, lost):
        part["period"] = pd.to_datetime(part["period"])
    frame = frame.merge(buyers, on="period", how="left").merge(lost, on="period", how="left")
    for flow in FLOWS:
        frame[flow] = frame[flow].fillna(0).astype("int64")
    for column in ("revenue", "new_revenue", "lost_revenue"):
        frame[column] = frame[column].fillna(0.0).astype("float64")
    frame["active_end"] = (frame["new"] + frame["reactivated"] - frame["lost"]).cumsum()
    frame["active_start"] = frame["active_end"].shift(1, fill_value=0).astype("int64")
    frame["period_end"] = pd.to_datetime([next_period(s, period) for s in starts])
    frame["partial"] = frame["period_end"] > pd.Timestamp(purchases.as_of)
    first_lapse = pd.Timestamp(purchases.data_start + dt.timedelta(days=int(lapse_days)))
    frame["warmup"] = frame["period"] < first_lapse

    shown = frame.tail(periods).copy()
    since = shown["period"].iloc[0].date().isoformat()
    back = purchases.query(REACTIVATED_REVENUE_SQL.format(since=since, **fill))
    earlier = purchases.query(LOST_EARLIER_SQL.format(since=since, **fill))
    for part in (back, earlier):
        part["period"] = pd.to_datetime(part["period"])
    shown = shown.merge(back.rename(columns={"revenue": "reactivated_revenue"}), on="period", how="left")
    shown = shown.merge(earlier, on="period", how="left")
    shown["reactivated_revenue"] = shown["reactivated_revenue"].fillna(0.0).astype("float64")
    shown["lost_revenue"] = shown["lost_revenue"] + shown["earlier"].fillna(0.0)
    shown["retained_revenue"] = shown["revenue"] - shown["new_revenue"] - shown["reactivated_revenue"]
    shown.attrs.update(period=period, lapse_days=int(lapse_days))
    return shown[columns].reset_index(drop=True)


def period_label(start: pd.Timestamp | dt.date, unit: str, lang: str) -> str:
    """'Mar 2024' / 'Jan–Mar 2024' (ja: 2024年3月 / 2024年1〜3月)."""
    start = pd.Timestamp(start)
    if unit == "month":
        return fmt_month(start, lang)
    end = start + pd.DateOffset(months=2)
    if lang == "ja":
        return f"{start.year}年{start.month}〜{end.month}月"
    return f"{start.strftime('%b')}–{end.strftime('%b')} {start.year}"


def last_full_period(bucket: pd.DataFrame) -> pd.Series | None:
    """The latest period that as_of does not cut short (None when there is none)."""
    full = bucket[~bucket["partial"]]
    return None if full.empty else full.iloc[-1]


def bucket_takeaway(bucket: pd.DataFrame, lang: str, currency: str) -> str:
    """One sentence: the last full period's inflows and outflows and what they did to the active base."""
    row = last_full_period(bucket)
    if row is None:
        return t("diagnosis.bucket.empty", lang)
    unit = bucket.attrs.get("period", "quarter")
    values = {
        "period": period_label(row["period"], unit, lang),
        "new": fmt_int(row["new"]),
        "reactivated": fmt_int(row["reactivated"]),
        "lost": fmt_int(row["lost"]),
        "lost_revenue": fmt_money(row["lost_revenue"], currency, lang, prose=True),
        "start": fmt_int(row["active_start"]),
        "end": fmt_int(row["active_end"]),
        "change": change_phrase(row["active_end"], row["active_start"], lang),
        "lapse_days": fmt_int(bucket.attrs.get("lapse_days", 365)),
        "retained": fmt_int(row["retained"]),
    }
    key = "diagnosis.bucket.takeaway_warmup" if row["warmup"] else "diagnosis.bucket.takeaway"
    return t(key, lang, **values)


def bucket_metrics(bucket: pd.DataFrame) -> dict[str, object]:
    """The last full period's flows for metrics.json."""
    row = last_full_period(bucket)
    if row is None:
        return {}
    keys = ["active_start", *FLOWS, "active_end", *(f"{flow}_revenue" for flow in FLOWS), "warmup"]
    return {"period_start": row["period"].date(), "period_end": row["period_end"].date(),
            **{key: row[key] for key in keys}}
