"""Step 2, targets: the chosen segments sized and valued, and what moving some of them up is worth.

The worth of a class is forward-looking and measured on the client's own past: the customers
classified a year before as_of (with today's yardstick, as in the migration tables) and the
revenue each class brought in the twelve months that followed, per customer (customers who did
not buy count as zero). value at stake = customers now x that value; gain = move_share x
customers x (value of the next class - value of this class). When the data does not reach a year
back, the classes' own revenue of the last twelve months per customer stands in (basis 'trailing').

A value per customer resting on fewer than `min_customers` customers (the class a year before
for the backtest, the class now for 'trailing') is too few to project money on (issue #16): the
value, the value at stake and any gain built on it are not computed (status 'too_few'). A move
of less than one customer (status 'no_movers') and a move up that is not worth more on this data
(gain <= 0, status 'no_gain') give no gain either: never a move of 0 customers or a negative gain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ..store.purchases import months_before
from ..orders import connect, orders_sql, query
from ..store.segments.classify import Segmentation, classify_on
from ..store.segments.migration import SCHEME_COLUMNS
from ..store.segments.names import display_order
from .settings import MIN_CLASS_CUSTOMERS, Target

# The class a customer reaches by moving up one step (a lapsed customer: by buying again).
NEXT_CLASS: dict[str, dict[str, str]] = {
    "ladder": {"stage1": "stage2", "stage2": "stage3", "stage3": "stage4", "lapsed": "stage2"},
    "cpm": {"first": "early", "early": "steady", "steady": "top", "trend": "top",
            "first_lapsed": "first", "early_lapsed": "early", "steady_lapsed": "steady",
            "trend_lapsed": "trend", "top_lapsed": "top"},
    # a purchase sets R to 4-5 and keeps F: the nearest class with the customer's frequency
    "rfm": {"loyal": "champions", "potential_loyalist": "loyal", "new": "potential_loyalist",
            "promising": "potential_loyalist", "need_attention": "loyal", "about_to_sleep": "potential_loyalist",
            "cant_lose": "champions", "at_risk": "loyal", "hibernating": "potential_loyalist", "lost": "new"},
}

REVENUE_SQL = """
SELECT customer_id, sum(amount) AS revenue
FROM ({src})
WHERE ordered_at >= TIMESTAMP '{start}' AND customer_id IS NOT NULL
GROUP BY customer_id
"""


def _revenue_since(seg: Segmentation, start: dt.date) -> pd.DataFrame:
    """Revenue per customer from start to as_of (DuckDB over the orders)."""
    return query(REVENUE_SQL.format(src=orders_sql(seg.orders_path, seg.as_of), start=start.isoformat()))


@dataclass(frozen=True)
class Backtest:
    """The customers' classes now and a year before as_of (every scheme), and the revenue per
    customer from that earlier day to as_of: read once, grouped per scheme by class_values."""

    now: pd.DataFrame
    then: pd.DataFrame
    revenue: pd.DataFrame  # customer_id, revenue


def backtest(seg: Segmentation, months: int = 12) -> Backtest:
    """Classify the customers `months` months before as_of and read the revenue since (one DuckDB
    aggregate, one classification)."""
    start = months_before(seg.as_of, months)
    columns = ["customer_id", *SCHEME_COLUMNS.values()]
    then = classify_on(seg, start)
    return Backtest(seg.customers[columns], then[columns] if len(then) else then, _revenue_since(seg, start))


CLASS_SQL = """
SELECT c.cls AS class, count(*) AS customers, coalesce(sum(r.revenue), 0.0) AS revenue
FROM classes c LEFT JOIN revenue r USING (customer_id)
GROUP BY c.cls
"""


def _class_sums(frame: pd.DataFrame, column: str, revenue: pd.DataFrame) -> pd.DataFrame:
    """Customers and their revenue per class (the join and sums in DuckDB: no per-row mapping)."""
    classes = pd.DataFrame({"customer_id": frame["customer_id"], "cls": frame[column].astype(str)})
    con = connect()
    try:
        con.register("classes", classes)
        con.register("revenue", revenue)
        return con.execute(CLASS_SQL).df().set_index("class")
    finally:
        con.close()


def class_values(seg: Segmentation, scheme: str, months: int = 12, data: Backtest | None = None) -> pd.DataFrame:
    """Per class of the scheme: customers now, their revenue of the last `months` months, and the
    value per customer (see the module docstring); basis is 'backtest' or 'trailing'."""
    column = SCHEME_COLUMNS[scheme]
    data = data if data is not None else backtest(seg, months)
    out = _class_sums(data.now, column, data.revenue)
    if len(data.then):
        forward = _class_sums(data.then, column, data.revenue).rename(
            columns={"customers": "then_customers", "revenue": "next_revenue"})
        out = out.join(forward, how="outer")
        out["value"] = out["next_revenue"] / out["then_customers"].where(out["then_customers"] > 0)
    else:
        out["then_customers"], out["next_revenue"] = 0, 0.0
        out["value"] = out["revenue"] / out["customers"].where(out["customers"] > 0)
    out = out.reindex(display_order(seg, scheme))
    # the basis is the scheme's, not a class's: set after the reindex, so a class with no
    # customers now nor a year before (CDNOW's stage 1) has one too
    out["basis"] = "backtest" if len(data.then) else "trailing"
    out[["customers", "then_customers"]] = out[["customers", "then_customers"]].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out.index.name = "class"
    return out.reset_index()


def parse_segment(text: str) -> tuple[str, str]:
    """'ladder:stage1' -> ('ladder', 'stage1')."""
    scheme, key = text.split(":", 1)
    return scheme, key


MIN_CUSTOMERS = MIN_CLASS_CUSTOMERS  # default floor of customers behind a value per customer


def _value_n(row: pd.Series) -> int:
    """The customers a class's value per customer rests on (a year before, or now for 'trailing')."""
    return int(row["then_customers"] if row["basis"] == "backtest" else row["customers"])


def target_values(seg: Segmentation, targets: list[Target], months: int = 12,
                  min_customers: int = MIN_CUSTOMERS) -> pd.DataFrame:
    """One row per target: scheme, key, next_key, customers, revenue (last months), value (per
    customer), value_n (customers it rests on), value_at_stake, next_value, next_n, move_share,
    movers, gain, basis, status (ok, too_few, no_movers, no_gain, no_next; see the module
    docstring); an unknown class is a ValueError naming the classes the scheme has."""
    cache: dict[str, pd.DataFrame] = {}
    data = backtest(seg, months)
    rows = []
    for target in targets:
        scheme, key = parse_segment(target.segment)
        if scheme not in cache:
            cache[scheme] = class_values(seg, scheme, months, data).set_index("class")
        values = cache[scheme]
        if key not in values.index:
            raise ValueError(f"strategy.targets: '{target.segment}' is not a {scheme} class; "
                             f"choose from {', '.join(f'{scheme}:{k}' for k in values.index)}")
        next_key = parse_segment(target.next)[1] if target.next else NEXT_CLASS[scheme].get(key)
        if target.next and parse_segment(target.next)[0] != scheme:
            raise ValueError(f"strategy.targets: '{target.segment}' moves within {scheme}, not to '{target.next}'")
        if next_key is not None and next_key not in values.index:
            raise ValueError(f"strategy.targets: next class '{next_key}' is not a {scheme} class")
        row = values.loc[key]
        value_n = _value_n(row)
        value = None
        if value_n >= min_customers:
            value = float(row["value"]) if pd.notna(row["value"]) else 0.0
        next_n = _value_n(values.loc[next_key]) if next_key else None
        next_value = None
        if next_key and next_n >= min_customers and pd.notna(values.loc[next_key, "value"]):
            next_value = float(values.loc[next_key, "value"])
        movers = target.move_share * int(row["customers"])
        gain = None if value is None or next_value is None else movers * (next_value - value)
        status = ("no_next" if next_key is None else
                  "too_few" if value is None or next_value is None else
                  "no_movers" if movers < 1 else
                  "no_gain" if gain is None or gain <= 0 else "ok")
        rows.append({
            "scheme": scheme, "key": key, "next_key": next_key,
            "customers": int(row["customers"]), "revenue": float(row["revenue"]),
            "value": value, "value_n": value_n,
            "value_at_stake": None if value is None else value * int(row["customers"]),
            "next_value": next_value, "next_n": next_n, "move_share": target.move_share, "movers": movers,
            "gain": gain if status == "ok" else None,
            "basis": row["basis"], "status": status,
        })
    return pd.DataFrame(rows, columns=["scheme", "key", "next_key", "customers", "revenue", "value", "value_n",
                                       "value_at_stake", "next_value", "next_n", "move_share", "movers", "gain",
                                       "basis", "status"])


def default_targets(seg: Segmentation) -> list[Target]:
    """Targets shown when the YAML names none: every ladder class that has a next step."""
    return [Target(segment=f"ladder:{key}") for key in display_order(seg, "ladder") if key in NEXT_CLASS["ladder"]]


__all__ = ["Backtest", "MIN_CUSTOMERS", "NEXT_CLASS", "backtest", "class_values", "default_targets", "parse_segment", "target_values"]
