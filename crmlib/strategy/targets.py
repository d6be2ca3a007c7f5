"""Step 2, targets: the chosen segments sized and valued, and what moving some of them up is worth.

The worth of a class is forward-looking and measured on the client's own past: the customers
classified a year before as_of (with today's yardstick, as in the migration tables) and the
revenue each class brought in the twelve months that followed, per customer (customers who did
not buy count as zero). value at stake = customers now x that value; gain = move_share x
customers x (value of the next class - value of this class). When the data does not reach a year
back, the classes' own revenue of the last twelve months per customer stands in (basis 'trailing').
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..diagnosis.purchases import months_before
from ..orders import orders_sql, query
from ..segments.classify import Segmentation, classify_on
from ..segments.migration import SCHEME_COLUMNS
from ..segments.names import display_order
from .settings import Target

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


def class_values(seg: Segmentation, scheme: str, months: int = 12) -> pd.DataFrame:
    """Per class of the scheme: customers now, their revenue of the last `months` months, and the
    value per customer (see the module docstring); basis is 'backtest' or 'trailing'."""
    column = SCHEME_COLUMNS[scheme]
    start = months_before(seg.as_of, months)
    revenue = _revenue_since(seg, start).set_index("customer_id")["revenue"]
    now = seg.customers[["customer_id", column]].copy()
    now["revenue"] = now["customer_id"].map(revenue).fillna(0.0).astype("float64")
    out = now.groupby(column, observed=False).agg(customers=("customer_id", "size"), revenue=("revenue", "sum"))
    then = classify_on(seg, start)
    if len(then):
        then = then[["customer_id", column]].copy()
        then["revenue"] = then["customer_id"].map(revenue).fillna(0.0).astype("float64")
        forward = then.groupby(column, observed=False).agg(then_customers=("customer_id", "size"),
                                                           next_revenue=("revenue", "sum"))
        out = out.join(forward)
        out["value"] = out["next_revenue"] / out["then_customers"].where(out["then_customers"] > 0)
        out["basis"] = "backtest"
    else:
        out["then_customers"], out["next_revenue"] = 0, 0.0
        out["value"] = out["revenue"] / out["customers"].where(out["customers"] > 0)
        out["basis"] = "trailing"
    out = out.reindex(display_order(seg, scheme))
    out.index.name = "class"
    return out.reset_index()


def parse_segment(text: str) -> tuple[str, str]:
    """'ladder:stage1' -> ('ladder', 'stage1')."""
    scheme, key = text.split(":", 1)
    return scheme, key


def target_values(seg: Segmentation, targets: list[Target], months: int = 12) -> pd.DataFrame:
    """One row per target: scheme, key, next_key, customers, revenue (last months), value (per
    customer), value_at_stake, next_value, move_share, movers, gain, basis; an unknown class is
    a ValueError naming the classes the scheme has."""
    cache: dict[str, pd.DataFrame] = {}
    rows = []
    for target in targets:
        scheme, key = parse_segment(target.segment)
        if scheme not in cache:
            cache[scheme] = class_values(seg, scheme, months).set_index("class")
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
        value = float(row["value"]) if pd.notna(row["value"]) else 0.0
        next_value = float(values.loc[next_key, "value"]) if next_key and pd.notna(values.loc[next_key, "value"]) else None
        movers = target.move_share * int(row["customers"])
        rows.append({
            "scheme": scheme, "key": key, "next_key": next_key,
            "customers": int(row["customers"]), "revenue": float(row["revenue"]),
            "value": value, "value_at_stake": value * int(row["customers"]),
            "next_value": next_value, "move_share": target.move_share, "movers": movers,
            "gain": None if next_value is None else movers * (next_value - value),
            "basis": row["basis"],
        })
    return pd.DataFrame(rows, columns=["scheme", "key", "next_key", "customers", "revenue", "value", "value_at_stake",
                                       "next_value", "move_share", "movers", "gain", "basis"])


def default_targets(seg: Segmentation) -> list[Target]:
    """Targets shown when the YAML names none: every ladder class that has a next step."""
    return [Target(segment=f"ladder:{key}") for key in display_order(seg, "ladder") if key in NEXT_CLASS["ladder"]]


__all__ = ["NEXT_CLASS", "class_values", "default_targets", "parse_segment", "target_values"]
