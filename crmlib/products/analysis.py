"""The products chapter's tables, each one SQL aggregation over the session's purchase tables.

- entry_products: 入口商品. Per product (or category) of the first purchase: new customers, F2
  within the window (eligible = first purchase more than W days before as_of, converted = second
  purchase at most W days after the first, as the diagnosis counts F2), its Wilson interval, the
  lift against the shop's F2 and the revenue per customer in value_days from the first purchase
  (customers whose value window has closed; when fewer than min_customers have, the longest of
  180 and 90 days that has them, stated under the table, else none: value_window). stage=2 gives the same from the 2nd to the 3rd purchase.
  Only customers first seen on or after the coverage model's observed_from count (open_lines).
  A customer whose first purchase holds several products counts for each of them.
- transitions: 引き上げ商品. Pairs (item in purchase n, item in purchase n+1) of the same customer,
  the same item again included: support = pairs / consecutive purchase pairs, confidence = pairs /
  purchase pairs whose earlier purchase holds the item, lift = confidence / share of purchase
  pairs whose later purchase holds the next item.
- basket_pairs: products in one order: support, confidence both ways and lift = P(a and b) /
  (P(a) P(b)) over the orders with 1 .. basket_max_products distinct products.
  Both count their pairs in SQL for a small catalogue, and with one sparse matrix product for a
  large one (crmlib.products.cooccur: the same counts, in a fraction of the time).
- replenishment: days between a customer's consecutive purchases of the same product (median,
  quartiles) against the shop-wide median days between consecutive purchases.
- key_accounts: repeat customers past their own cycle (median gap) by overdue_factor, not yet
  lapsed, with the revenue of the last value_days as the value at risk; with the LTV chapter's
  BG/NBD model where it passed its validity gate (crmlib.store.ltv.verdict), each one's P(alive)
  and the list ordered by value at risk x P(alive).
- best_customer_products: share of the best customers (top CPM cell) who bought each product
  against the share of the others, with Newcombe's interval of the difference.
- seasonal_index: month-of-year index per category over full calendar months (two years or more):
  each month's revenue over the centred 2x12 moving average (classical decomposition), averaged per
  month of the year and scaled to a mean of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..store.coverage import LAPSE_DEFAULT
from ..store.ltv.verdict import ModelVerdict
from . import cooccur
from .data import ProductLines
from .settings import ProductSettings
from ..intervals import difference_interval, wilson

ITEM = {"product": "p", "category": "c"}  # the code column of pl
NAMES = {"product": "SELECT p AS code, product AS name FROM dim_product",
         "category": "SELECT c AS code, category AS name FROM dim_category"}


def _named(lines: ProductLines, frame: pd.DataFrame, by: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Replace code columns by the names of the products or categories (one small lookup)."""
    names = lines.query(NAMES[by]).set_index("code")["name"]
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(names).astype(object)
        out[column] = out[column].where(out[column].notna(), None)
    return out


def _lift(value: pd.Series, base: float | None) -> pd.Series:
    """value / base (NaN when the base is missing or zero)."""
    return value / base if base else value * float("nan")


def shop_f2(lines: ProductLines, window: int, stage: int = 1) -> dict[str, float]:
    """The shop's eligible and converted customers and rate for the step stage -> stage + 1."""
    start, nxt = ("first_day", "second_day") if stage == 1 else ("second_day", "third_day")
    row = lines.query(
        f"SELECT count(*) FILTER (WHERE {start} + {int(window)} < {lines.as_of_sql}) AS eligible, "
        f"count(*) FILTER (WHERE {start} + {int(window)} < {lines.as_of_sql} "
        f"AND date_diff('day', {start}, {nxt}) <= {int(window)}) AS converted FROM firsts "
        f"WHERE {start} IS NOT NULL AND observable"
    ).iloc[0]
    eligible, converted = int(row["eligible"]), int(row["converted"])
    return {"eligible": eligible, "converted": converted, "rate": converted / eligible if eligible else float("nan")}


VALUE_FALLBACK_DAYS = (180, 90)  # shorter value windows, tried in turn when value_days is not observable yet


@dataclass(frozen=True)
class ValueWindow:
    """The window of the revenue per new customer: value_days when the data can show it, else the
    longest of VALUE_FALLBACK_DAYS it can (stated as such), else None. customers: the new
    customers whose window has closed; observable_days: the longest history after an observable
    first purchase (as_of - the earliest one)."""

    days: int | None
    requested: int
    customers: int
    observable_days: int

    @property
    def shortened(self) -> bool:
        return self.days is not None and self.days != self.requested

    @property
    def missing_days(self) -> int:
        """Days of history still needed for the requested window (0 when it is observable)."""
        return max(0, self.requested - self.observable_days)


def value_window(lines: ProductLines, settings: ProductSettings) -> ValueWindow:
    """The value window the data can show: a window counts when at least min_customers observable
    new customers had their first purchase that many days before as_of (one query over firsts)."""
    requested = int(settings.value_days)
    candidates = [requested, *(d for d in VALUE_FALLBACK_DAYS if d < requested)]
    counts = ", ".join(f"count(*) FILTER (WHERE first_day + {d} <= {lines.as_of_sql}) AS w{d}" for d in candidates)
    row = lines.query(f"SELECT {counts}, date_diff('day', min(first_day), {lines.as_of_sql}) AS span "
                      f"FROM firsts WHERE observable").iloc[0]
    span = 0 if pd.isna(row["span"]) else int(row["span"])
    for days in candidates:
        if int(row[f"w{days}"]) >= settings.min_customers:
            return ValueWindow(days, requested, int(row[f"w{days}"]), span)
    return ValueWindow(None, requested, 0, span)


def _values(lines: ProductLines, days: int | None) -> str:
    """The table of each customer's revenue in `days` from the first purchase (made once per session;
    without a window, an empty table)."""
    if days is None:
        lines.con.execute("CREATE TEMP TABLE IF NOT EXISTS value_none (k INTEGER, value DOUBLE)")
        return "value_none"
    name = f"value_{int(days)}"
    lines.con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} AS SELECT p.k, sum(p.revenue) AS value FROM pu p "
        f"JOIN firsts f USING (k) WHERE f.observable AND f.first_day + {int(days)} <= {lines.as_of_sql} "
        f"AND p.day < f.first_day + {int(days)} GROUP BY p.k")
    return name


ENTRY_SQL = """
WITH base AS (
  SELECT f.k, f.{start} + {window} < {as_of} AS eligible,
         date_diff('day', f.{start}, f.{nxt}) <= {window} AS converted
  FROM firsts f WHERE f.{start} IS NOT NULL AND f.observable
), items AS (
  SELECT DISTINCT k, {item} AS item FROM pl WHERE n = {stage}
)
SELECT i.item, count(*) AS customers,
       count(*) FILTER (WHERE b.eligible) AS eligible,
       count(*) FILTER (WHERE b.eligible AND b.converted) AS converted,
       count(v.value) AS valued, sum(v.value) AS value_sum
FROM items i JOIN base b USING (k) LEFT JOIN {values} v USING (k)
GROUP BY i.item
"""


def entry_products(lines: ProductLines, settings: ProductSettings, by: str = "product", stage: int = 1) -> pd.DataFrame:
    """入口商品 (stage 1) or the 2nd -> 3rd step (stage 2) per product or category, ranked by lift.

    Columns: item, customers, eligible, converted, rate, low, high, lift, valued, value (per
    customer), value_index, ranked (eligible >= min_customers). Ranked rows come first, by lift.
    """
    window = settings.f2_window_days
    start, nxt = ("first_day", "second_day") if stage == 1 else ("second_day", "third_day")
    window_of_value = value_window(lines, settings)
    values = _values(lines, window_of_value.days)
    frame = lines.query(ENTRY_SQL.format(start=start, nxt=nxt, window=int(window), as_of=lines.as_of_sql,
                                         values=values, item=ITEM[by], stage=int(stage)))
    frame = _named(lines, frame, by, ("item",))
    shop = shop_f2(lines, window, stage)
    shop_value = lines.query(f"SELECT count(*) AS valued, sum(value) AS value_sum FROM {values}").iloc[0]
    shop_per_customer = float(shop_value["value_sum"]) / int(shop_value["valued"]) if shop_value["valued"] else None
    for column in ("customers", "eligible", "converted", "valued"):
        frame[column] = frame[column].astype("int64")
    frame["rate"] = frame["converted"] / frame["eligible"].where(frame["eligible"] > 0)
    frame["low"], frame["high"] = wilson(frame["converted"], frame["eligible"], settings.confidence)
    frame["lift"] = _lift(frame["rate"], shop["rate"])
    frame["value"] = frame["value_sum"].astype("float64") / frame["valued"].where(frame["valued"] > 0)
    frame["value_index"] = _lift(frame["value"], shop_per_customer)
    frame["ranked"] = frame["eligible"] >= settings.min_customers
    frame = frame.sort_values(["ranked", "lift", "eligible", "item"], ascending=[False, False, False, True],
                              na_position="last", kind="stable").reset_index(drop=True)
    frame.attrs.update(shop_rate=shop["rate"], shop_eligible=shop["eligible"], shop_value=shop_per_customer,
                       window=window, stage=stage, by=by, value_window=window_of_value)
    return frame.drop(columns="value_sum")


TRANSITIONS_SQL = """
WITH a AS (SELECT DISTINCT k, n, {item} AS item, has_next FROM pl WHERE has_next OR n > 1),
total AS (SELECT count(*) AS total FROM pu WHERE next_day IS NOT NULL),
src AS (SELECT item, count(*) AS from_pairs FROM a WHERE has_next GROUP BY item),
dst AS (SELECT item, count(*) AS to_pairs FROM a WHERE n > 1 GROUP BY item),
moves AS (  -- one-time buyers' purchases and last purchases are left out of the join's sides
  SELECT x.item AS from_item, y.item AS to_item, count(*) AS pairs
  FROM (SELECT k, n, item FROM a WHERE has_next) x JOIN (SELECT k, n, item FROM a WHERE n > 1) y
    ON x.k = y.k AND y.n = x.n + 1
  GROUP BY x.item, y.item HAVING count(*) >= {floor}
)
SELECT m.from_item, m.to_item, m.pairs, s.from_pairs, d.to_pairs, t.total
FROM moves m JOIN src s ON s.item IS NOT DISTINCT FROM m.from_item
JOIN dst d ON d.item IS NOT DISTINCT FROM m.to_item, total t
"""


TRANSITION_SLOTS_SQL = """
SELECT u.u, l.{item} AS item, l.has_next, l.n > 1 AS later
FROM pl l JOIN (SELECT k, n, row_number() OVER (ORDER BY k, n) - 1 AS u FROM pu) u USING (k, n)
"""


def _transition_counts(lines: ProductLines, by: str, floor: int) -> pd.DataFrame | None:
    """TRANSITIONS_SQL's rows by one sparse product (crmlib.products.cooccur): a purchase's items on
    the left, the next purchase's on the right (purchases numbered by customer and n, so the next
    one is u + 1); None when the SQL is the better way (cooccur.worth_it)."""
    dim = "dim_product" if by == "product" else "dim_category"
    n_items, n_lines, n_slots, total = lines.con.execute(
        f"SELECT (SELECT count(*) FROM {dim}), (SELECT count(*) FROM pl), (SELECT count(*) FROM pu), "
        f"(SELECT count(*) FROM pu WHERE next_day IS NOT NULL)").fetchone()
    if not cooccur.worth_it(n_items, n_lines):
        return None
    rows = lines.con.execute(TRANSITION_SLOTS_SQL.format(item=ITEM[by])).fetchnumpy()
    slots, items = rows["u"].astype("int64"), rows["item"].astype("int64")
    has_next, later = rows["has_next"].astype("bool"), rows["later"].astype("bool")
    counts = cooccur.pair_counts((slots[has_next], items[has_next]), (slots[later] - 1, items[later]),
                                 n_slots, n_items, floor)
    if counts is None:
        return None
    return pd.DataFrame({"from_item": counts.a, "to_item": counts.b, "pairs": counts.count,
                         "from_pairs": counts.left_slots[counts.a], "to_pairs": counts.right_slots[counts.b],
                         "total": total})


def transitions(lines: ProductLines, settings: ProductSettings, by: str = "product") -> pd.DataFrame:
    """引き上げ商品: what the next purchase holds after each item (pairs >= min_pairs), ranked by lift.

    Columns: from_item, to_item, same (the same item again), pairs, from_pairs, to_pairs, total,
    support, confidence, lift.
    """
    frame = _transition_counts(lines, by, int(settings.min_pairs))
    if frame is None:  # too big for memory: DuckDB's join, which can spill
        frame = lines.query(TRANSITIONS_SQL.format(item=ITEM[by], floor=int(settings.min_pairs)))
    frame["same"] = frame["from_item"] == frame["to_item"]  # codes: a missing category is a code too
    frame = _named(lines, frame, by, ("from_item", "to_item"))
    for column in ("pairs", "from_pairs", "to_pairs", "total"):
        frame[column] = frame[column].astype("int64")
    frame["support"] = frame["pairs"] / frame["total"]
    frame["confidence"] = frame["pairs"] / frame["from_pairs"]
    frame["lift"] = frame["confidence"] / (frame["to_pairs"] / frame["total"])
    frame = frame.sort_values(["lift", "pairs", "from_item", "to_item"], ascending=[False, False, True, True],
                              kind="stable").reset_index(drop=True)
    return frame[["from_item", "to_item", "same", "pairs", "from_pairs", "to_pairs", "total", "support",
                  "confidence", "lift"]]


BASKET_SQL = """
WITH baskets AS (  -- one string grouping: each order's distinct products as a list, then integers only
  SELECT CAST(row_number() OVER () AS INTEGER) AS o, ps, len(ps) AS size
  FROM (SELECT list(DISTINCT p) AS ps FROM li WHERE p IS NOT NULL GROUP BY order_id)
  WHERE len(ps) <= {max_products}
),
u AS (SELECT o, size, unnest(ps) AS p FROM baskets),
total AS (SELECT count(*) AS orders FROM baskets),
single AS (SELECT p, count(*) AS orders FROM u GROUP BY p),
multi AS (SELECT o, p FROM u WHERE size >= 2),  -- only orders of two or more products make pairs
together AS (
  SELECT a.p AS a, b.p AS b, count(*) AS together
  FROM multi a JOIN multi b ON a.o = b.o AND a.p < b.p
  GROUP BY a.p, b.p HAVING count(*) >= {floor}
)
SELECT t.a, t.b, t.together, sa.orders AS a_orders, sb.orders AS b_orders, total.orders AS orders
FROM together t JOIN single sa ON sa.p = t.a JOIN single sb ON sb.p = t.b, total
"""


BASKET_SLOTS_SQL = """
WITH baskets AS (
  SELECT row_number() OVER () - 1 AS o, ps
  FROM (SELECT list(DISTINCT p) AS ps FROM li WHERE p IS NOT NULL GROUP BY order_id)
  WHERE len(ps) <= {max_products}
)
SELECT o, unnest(ps) AS p FROM baskets
"""


def _basket_counts(lines: ProductLines, max_products: int, floor: int) -> pd.DataFrame | None:
    """BASKET_SQL's rows by one sparse product (crmlib.products.cooccur) of the order x product
    matrix with itself; None when the SQL is the better way (cooccur.worth_it)."""
    n_items, n_lines = lines.con.execute("SELECT (SELECT count(*) FROM dim_product), (SELECT count(*) FROM li)").fetchone()
    if not cooccur.worth_it(n_items, n_lines):
        return None
    rows = lines.con.execute(BASKET_SLOTS_SQL.format(max_products=int(max_products))).fetchnumpy()
    slots, items = rows["o"].astype("int64"), rows["p"].astype("int64")
    n_slots = int(slots.max()) + 1 if len(slots) else 0
    counts = cooccur.pair_counts((slots, items), (slots, items), n_slots, n_items, floor, upper=True)
    if counts is None:
        return None
    return pd.DataFrame({"a": counts.a, "b": counts.b, "together": counts.count,
                         "a_orders": counts.left_slots[counts.a], "b_orders": counts.left_slots[counts.b],
                         "orders": n_slots})


def basket_pairs(lines: ProductLines, settings: ProductSettings) -> pd.DataFrame:
    """Products bought together in one order (together >= min_pairs), ranked by lift.

    Columns: a, b, together, a_orders, b_orders, orders, support, confidence_ab, confidence_ba, lift.
    """
    frame = _basket_counts(lines, int(settings.basket_max_products), int(settings.min_pairs))
    if frame is None:  # too big for memory: DuckDB's join, which can spill
        frame = lines.query(BASKET_SQL.format(max_products=int(settings.basket_max_products),
                                              floor=int(settings.min_pairs)))
    frame = _named(lines, frame, "product", ("a", "b"))
    for column in ("together", "a_orders", "b_orders", "orders"):
        frame[column] = frame[column].astype("int64")
    frame["support"] = frame["together"] / frame["orders"]
    frame["confidence_ab"] = frame["together"] / frame["a_orders"]
    frame["confidence_ba"] = frame["together"] / frame["b_orders"]
    frame["lift"] = frame["together"] * frame["orders"] / (frame["a_orders"] * frame["b_orders"]).astype("float64")
    return frame.sort_values(["lift", "together", "a", "b"], ascending=[False, False, True, True],
                             kind="stable").reset_index(drop=True)


REBUY_SQL = """
WITH x AS (SELECT k, p, day, lag(day) OVER (PARTITION BY k, p ORDER BY day) AS prev FROM pl)
SELECT p AS product, count(*) AS rebuys, count(DISTINCT k) AS customers,
       median(date_diff('day', prev, day)) AS median_days,
       quantile_cont(date_diff('day', prev, day), 0.25) AS q1_days,
       quantile_cont(date_diff('day', prev, day), 0.75) AS q3_days
FROM x WHERE prev IS NOT NULL GROUP BY p HAVING count(*) >= {floor}
"""


def shop_median_gap(lines: ProductLines) -> float | None:
    """The shop-wide median days between a customer's consecutive purchases (None without repeats)."""
    value = lines.query("SELECT median(date_diff('day', prev_day, day)) AS m FROM pu WHERE prev_day IS NOT NULL").iloc[0, 0]
    return None if pd.isna(value) else float(value)


def replenishment(lines: ProductLines, settings: ProductSettings) -> pd.DataFrame:
    """Re-buy cycles per product (rebuys >= min_rebuys), most re-bought first.

    Columns: product, rebuys, customers, median_days, q1_days, q3_days, vs_shop (median / shop median).
    """
    frame = _named(lines, lines.query(REBUY_SQL.format(floor=int(settings.min_rebuys))), "product", ("product",))
    frame["rebuys"] = frame["rebuys"].astype("int64")
    frame["customers"] = frame["customers"].astype("int64")
    shop = shop_median_gap(lines)
    frame["vs_shop"] = _lift(frame["median_days"].astype("float64"), shop)
    frame.attrs["shop_median_gap"] = shop
    return frame.sort_values(["rebuys", "product"], ascending=[False, True], kind="stable").reset_index(drop=True)


# The median gap per customer from the middle one or two of its sorted gaps (what median() gives:
# the mean of the two middle values for an even count): a window DuckDB spills to disk, where
# median() per customer keeps every customer's gaps in memory and ran the products chapter out of
# its 3 GB cap at 100M orders (51M customers); the same rows (test).
KEY_SQL = """
WITH c0 AS (
  SELECT k, count(*) AS purchases, min(day) AS first_day, max(day) AS last_day
  FROM pu GROUP BY k HAVING count(*) >= {min_purchases}
), gaps AS (
  SELECT pu.k, date_diff('day', pu.prev_day, pu.day) AS gap,
         row_number() OVER (PARTITION BY pu.k ORDER BY date_diff('day', pu.prev_day, pu.day)) AS rn,
         count(*) OVER (PARTITION BY pu.k) AS n
  FROM pu SEMI JOIN c0 USING (k) WHERE pu.prev_day IS NOT NULL
), m AS (
  SELECT k, avg(gap) AS median_gap FROM gaps WHERE rn IN ((n + 1) // 2, (n + 2) // 2) GROUP BY k
), g AS (
  SELECT c0.*, m.median_gap FROM c0 LEFT JOIN m USING (k)
), v AS (
  SELECT k, sum(revenue) AS value_at_risk FROM pu WHERE day >= {as_of} - {value_days} GROUP BY k
), s AS (
  SELECT g.k, g.purchases, g.first_day, g.last_day, g.median_gap,
         date_diff('day', g.last_day, {as_of}) AS days_since,
         coalesce(v.value_at_risk, 0) AS value_at_risk
  FROM g LEFT JOIN v USING (k)
)
SELECT c.customer_id, purchases, first_day, last_day, median_gap,
       last_day + CAST(round(median_gap) AS INTEGER) AS expected_day, days_since,
       days_since - median_gap AS overdue_days, days_since / median_gap AS overdue_ratio, value_at_risk
FROM s JOIN dim_customer c USING (k)
WHERE days_since >= {factor} * median_gap AND days_since <= {lapse_days} AND value_at_risk > 0
ORDER BY value_at_risk DESC, c.customer_id
"""


def key_accounts(lines: ProductLines, settings: ProductSettings, model: ModelVerdict | None = None,
                 lapse_days: int | None = None) -> pd.DataFrame:
    """Repeat customers slipping away (customer ids only). Without a model that passed the LTV
    chapter's validity gate: biggest value at risk first (the cycle rule only). With one: each
    customer's BG/NBD P(alive) from the same purchase days (x = purchases - 1, t_x = last - first,
    T = the day before as_of - first, in the model's time unit), biggest value at risk x P(alive) first.

    A customer silent for more than lapse_days (model.lapse_window: the shop's lapse window unless
    the YAML sets key_accounts.lapse_days; 365 when neither is given) has lapsed and is not listed.

    Columns: customer_id, purchases, first_day, last_day, median_gap, expected_day, days_since,
    overdue_days, overdue_ratio, value_at_risk, p_alive (NaN without the model); attrs["model"],
    attrs["lapse_days"].
    """
    rule = settings.key_accounts
    lapse = rule.lapse_days or lapse_days or LAPSE_DEFAULT
    frame = lines.query(KEY_SQL.format(min_purchases=int(rule.min_purchases), as_of=lines.as_of_sql,
                                       value_days=int(rule.value_days), factor=float(rule.overdue_factor),
                                       lapse_days=int(lapse)))
    frame["purchases"] = frame["purchases"].astype("int64")
    frame["days_since"] = frame["days_since"].astype("int64")
    frame["p_alive"] = float("nan")
    frame.attrs["model"] = model
    frame.attrs["lapse_days"] = int(lapse)
    if model is None or not model.ok or frame.empty:
        return frame
    first, last = pd.to_datetime(frame["first_day"]), pd.to_datetime(frame["last_day"])
    unit = float(model.time_unit_days)
    end = pd.Timestamp(lines.as_of) - pd.Timedelta(days=1)
    frame["p_alive"] = model.p_alive((frame["purchases"] - 1).to_numpy("float64"),
                                     ((last - first).dt.days / unit).to_numpy("float64"),
                                     ((end - first).dt.days / unit).to_numpy("float64"))
    order = frame.assign(_rank=frame["value_at_risk"] * frame["p_alive"])
    order = order.sort_values(["_rank", "customer_id"], ascending=[False, True], kind="stable")
    out = order.drop(columns="_rank").reset_index(drop=True)
    out.attrs["model"] = model
    return out


BEST_SQL = """
WITH flags AS (SELECT c.k, f.best FROM best_flags f JOIN dim_customer c USING (customer_id)),
buyers AS (SELECT DISTINCT k, p FROM pl),
groups AS (SELECT count(*) FILTER (WHERE best) AS best_n, count(*) FILTER (WHERE NOT best) AS other_n FROM flags)
SELECT b.p AS product, count(*) FILTER (WHERE f.best) AS best_buyers, count(*) FILTER (WHERE NOT f.best) AS other_buyers,
       g.best_n, g.other_n
FROM buyers b JOIN flags f USING (k), groups g
GROUP BY b.p, g.best_n, g.other_n HAVING count(*) >= {floor}
"""


def best_customer_products(lines: ProductLines, best: pd.DataFrame, settings: ProductSettings) -> pd.DataFrame:
    """What the best customers buy more than the others: share of each group who bought the product.

    best: one row per customer (customer_id, best: bool). Columns: product, best_buyers, best_n,
    best_share, other_buyers, other_n, other_share, difference, low, high; by difference.
    """
    flags = pd.DataFrame({"customer_id": best["customer_id"].astype("str"), "best": best["best"].astype("bool")})
    lines.con.register("best_flags", flags)
    try:
        frame = lines.query(BEST_SQL.format(floor=int(settings.min_customers)))
    finally:
        lines.con.unregister("best_flags")
    frame = _named(lines, frame, "product", ("product",))
    for column in ("best_buyers", "other_buyers", "best_n", "other_n"):
        frame[column] = frame[column].astype("int64")
    frame["best_share"] = frame["best_buyers"] / frame["best_n"].where(frame["best_n"] > 0)
    frame["other_share"] = frame["other_buyers"] / frame["other_n"].where(frame["other_n"] > 0)
    frame["difference"] = frame["best_share"] - frame["other_share"]
    frame["low"], frame["high"] = difference_interval(frame["best_buyers"], frame["best_n"], frame["other_buyers"],
                                                      frame["other_n"], settings.confidence)
    return frame.sort_values(["difference", "product"], ascending=[False, True], kind="stable").reset_index(drop=True)




def full_months(lines: ProductLines) -> pd.DatetimeIndex:
    """The calendar months wholly inside the data (from its first day to the day before as_of)."""
    first = lines.query("SELECT min(day) AS d FROM pu").iloc[0, 0]
    if pd.isna(first):
        return pd.DatetimeIndex([])
    first = pd.Timestamp(first)
    start = first if first.day == 1 else (first + pd.offsets.MonthBegin(1))
    end = pd.Timestamp(lines.as_of).to_period("M").to_timestamp()  # as_of's month is cut short
    return pd.date_range(start, end, freq="MS", inclusive="left")


def seasonal_index(lines: ProductLines, settings: ProductSettings, min_months: int = 24) -> pd.DataFrame:
    """Month-of-year index per category (ratio to the centred moving average, over full months),
    biggest categories first (top_n); empty with fewer than min_months full months.

    Columns: category, revenue, then "1".."12" (index), peak (month of the highest index).
    """
    months = full_months(lines)
    if len(months) < min_months:
        return pd.DataFrame(columns=["category", "revenue", *[str(m) for m in range(1, 13)], "peak"])
    raw = lines.query(
        f"SELECT d.category, date_trunc('month', day) AS month, sum(amount) AS revenue FROM pl JOIN dim_category d USING (c) "
        f"WHERE day >= DATE '{months[0].date().isoformat()}' AND day < DATE '{(months[-1] + pd.offsets.MonthBegin(1)).date().isoformat()}' "
        f"GROUP BY 1, 2")
    raw["month"] = pd.to_datetime(raw["month"])
    grid = raw.pivot_table(index="month", columns="category", values="revenue", aggfunc="sum", dropna=False)
    grid = grid.reindex(months).fillna(0.0)
    totals = grid.sum().sort_values(ascending=False).head(settings.top_n)
    grid = grid[totals.index]
    # classical ratio to the centred 2x12 moving average, so a growing shop's later months do not
    # pass for a season; the twelve indices are scaled to average 1
    rolling = grid.rolling(12).mean()
    trend = (rolling.shift(-5) + rolling.shift(-6)) / 2
    ratio = grid / trend.where(trend > 0)
    by_month = ratio.groupby(ratio.index.month).mean()
    index = by_month / by_month.mean()
    # a category sold only at the ends of the history has no month with a trend: no season to show
    index = index.loc[:, index.notna().any()]
    totals = totals[index.columns]
    out = index.T.reindex(columns=range(1, 13))
    out.columns = [str(c) for c in out.columns]
    out.insert(0, "revenue", totals.to_numpy())
    out.insert(0, "category", totals.index.to_list())
    out["peak"] = index.idxmax().reindex(totals.index).to_numpy().astype("int64")
    return out.reset_index(drop=True)
