"""Step 2, targets: the chosen segments sized and valued, and what moving some of them up is worth.

The worth of a class is forward-looking and measured on the client's own past: the customers
classified a year before as_of (with today's yardstick, as in the migration tables) and the
revenue each class brought in the twelve months that followed, per customer (customers who did
not buy count as zero). value at stake = customers now x that value; gain = move_share x
customers x (value of the next class - value of this class). When the data does not reach a year
back, the classes' own revenue of the last twelve months per customer stands in (basis 'trailing');
so it does when a year back lies before the coverage model's observed_from (basis 'censored'):
then every customer has at most one look-back of history, long-standing accounts look like
first-time buyers, and what the year-ago classes spent since is no value of today's classes
(Online Retail: "stage 1" a year ago, 9 days into the data, were wholesale accounts worth 8-11x
what stage 1 spends).

A value per customer resting on fewer than `min_customers` customers (the class a year before
for the backtest, the class now for 'trailing') is too few to project money on (issue #16): the
value, the value at stake and any gain built on it are not computed (status 'too_few'). A move
of less than one customer (status 'no_movers') and a move up that is not worth more on this data
(gain <= 0, status 'no_gain') give no gain either: never a move of 0 customers or a negative gain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..orders import connect, orders_sql
from ..store.coverage import measure_coverage
from ..store.purchases import months_before
from ..store.segments.classify import Segmentation
from ..store.segments.migration import SCHEME_COLUMNS, start_codes
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
ORDER BY customer_id
"""

CHUNK_ROWS = 1_000_000  # customers counted, or revenue rows read, at a time (bounds the temporaries)
SUMS = ("customers", "revenue", "then_customers", "next_revenue")


@dataclass(frozen=True)
class Backtest:
    """Per class column (SCHEME_COLUMNS) and class: the customers now and a year before as_of and
    the revenue they brought in from that earlier day to as_of (SUMS); then_total is how many
    customers had ordered before it (0: the data does not reach back, basis 'trailing'; or it does,
    but start lies before the coverage's observed_from: censored). Read once by backtest, a few
    numbers per class: no per-customer frame outlives it."""

    start: dt.date
    then_total: int
    sums: dict[str, pd.DataFrame]  # class column -> SUMS indexed by the column's categories
    censored: bool = False  # start lies inside the data's first look-back: the classes then are not comparable


def _add_counts(total: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None) -> None:
    """Add to total[1 + code] the rows (or the weights) per code, -1 (no class) in total[0];
    a chunk at a time, so no 8-byte copy of every customer's code is made."""
    for lo in range(0, len(codes), CHUNK_ROWS):
        chunk = codes[lo:lo + CHUNK_ROWS].astype(np.int64) + 1
        total += np.bincount(chunk, weights=None if weights is None else weights[lo:lo + CHUNK_ROWS],
                             minlength=len(total))


class _Unaligned(Exception):
    """The revenue rows are not in seg.customers' order (the customers then matched by id)."""


def _revenue_rows(seg: Segmentation, start: dt.date, recent: np.ndarray,
                  aligned: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(rows of seg.customers, their revenue from start to as_of), a DuckDB batch at a time.

    Only the customers whose last order is on or after start (`recent`) have any, and each of them
    has: sorted by id as customer_base sorts them, the aggregate's rows are those customers in
    order (checked batch by batch; aligned=False matches them by id with Arrow's hash lookup)."""
    ids = seg.customers["customer_id"]
    value_set = None if aligned else pa.array(ids.iloc[recent].astype("str"))
    sql = REVENUE_SQL.format(src=orders_sql(seg.orders_path, seg.as_of), start=start.isoformat())
    con = connect()
    try:
        lo = 0
        for batch in con.sql(sql).to_arrow_reader(CHUNK_ROWS):
            revenue = pc.cast(batch.column(1), pa.float64()).to_numpy(zero_copy_only=False)
            if aligned:
                rows = recent[lo:lo + batch.num_rows]
                expected = pa.array(ids.iloc[rows].astype("str"))
                if len(rows) < batch.num_rows or not pc.all(pc.equal(pc.cast(batch.column(0), expected.type),
                                                                      expected)).as_py():
                    raise _Unaligned
            else:
                found = pc.index_in(pc.cast(batch.column(0), value_set.type), value_set=value_set)
                if found.null_count:
                    raise ValueError("customers who ordered since the start date are missing on the as-of date")
                rows = recent[found.to_numpy(zero_copy_only=False)]
            lo += batch.num_rows
            yield rows, revenue
        if aligned and lo != len(recent):
            raise _Unaligned
    finally:
        con.close()


def _revenue_by_class(seg: Segmentation, start: dt.date,
                      then: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per class column, the revenue from start to as_of summed by class now and by class then
    (at 1 + code), without a column of every customer's id or revenue."""
    end = seg.customers
    now = {column: end[column].cat.codes.to_numpy() for column in then}
    recent = np.flatnonzero((end["last_order"] >= pd.Timestamp(start)).to_numpy(dtype=bool))
    for aligned in (True, False):
        sums = {column: (np.zeros(len(end[column].cat.categories) + 1),
                         np.zeros(len(end[column].cat.categories) + 1)) for column in then}
        try:
            for rows, revenue in _revenue_rows(seg, start, recent, aligned):
                for column in then:
                    _add_counts(sums[column][0], now[column][rows], revenue)
                    _add_counts(sums[column][1], then[column][rows], revenue)
            return sums
        except _Unaligned:
            continue
    raise AssertionError("unreachable: the matching by id does not raise _Unaligned")


def backtest(seg: Segmentation, months: int = 12) -> Backtest:
    """Classify the customers `months` months before as_of (migration.start_codes: the classes of
    classify_on, without a second frame of every customer) and sum per class their customers and
    their revenue since (one DuckDB aggregate)."""
    start = months_before(seg.as_of, months)
    observed_from = measure_coverage(seg.orders_path, seg.as_of,
                                     merge_same_day=seg.settings.merge_same_day).observed_from
    censored = start < observed_from
    then, then_total = start_codes(seg, start)
    pa.default_memory_pool().release_unused()  # start_codes' freed Arrow buffers, before the next read
    revenue = _revenue_by_class(seg, start, then)
    sums = {}
    for column, codes in then.items():
        categories = seg.customers[column].cat.categories
        customers, then_customers = np.zeros(len(categories) + 1, np.int64), np.zeros(len(categories) + 1, np.int64)
        _add_counts(customers, seg.customers[column].cat.codes.to_numpy())
        _add_counts(then_customers, codes)
        # index 0: no class (now: never; then: no order yet), left out as the classes' join did
        sums[column] = pd.DataFrame({"customers": customers[1:], "revenue": revenue[column][0][1:],
                                     "then_customers": then_customers[1:], "next_revenue": revenue[column][1][1:]},
                                    index=pd.Index(list(categories), name="class"))
    pa.default_memory_pool().release_unused()  # the batches' Arrow buffers: back to the system, not cached
    return Backtest(start, 0 if censored else then_total, sums, censored=censored and then_total > 0)


def class_values(seg: Segmentation, scheme: str, months: int = 12, data: Backtest | None = None) -> pd.DataFrame:
    """Per class of the scheme: customers now, their revenue of the last `months` months, and the
    value per customer (see the module docstring); basis is 'backtest' or 'trailing'."""
    column = SCHEME_COLUMNS[scheme]
    data = data if data is not None else backtest(seg, months)
    sums = data.sums[column]
    out = sums[["customers", "revenue"]].copy()
    now = out["customers"] > 0
    if data.then_total:
        then = sums["then_customers"] > 0
        out["then_customers"] = sums["then_customers"]
        out["next_revenue"] = sums["next_revenue"].where(then)  # no customer a year before: no sum
        out["value"] = out["next_revenue"] / out["then_customers"].where(then)
    else:
        out["then_customers"], out["next_revenue"] = 0, np.where(now, 0.0, np.nan)
        out["value"] = out["revenue"] / out["customers"].where(now)
    out = out.reindex(display_order(seg, scheme))
    # the basis is the scheme's, not a class's: set after the reindex, so a class with no
    # customers now nor a year before (CDNOW's stage 1) has one too
    out["basis"] = "backtest" if data.then_total else "censored" if data.censored else "trailing"
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
