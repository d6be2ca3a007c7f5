"""Step 6, effect verification: treated vs control, difference-in-differences, before and after.

Treated vs control (a file of customer_id, group[, sent_at]; sent_at = the measure's day per
customer, else measure_date for all):
- per customer, purchase days and revenue in the `window` days after sent_at (0 < day - sent_at
  <= window) and in as many days before it (-window < day - sent_at <= 0);
- customers whose after-window has not ended by as_of are left out and counted; ids not found in
  the orders stay in as customers who did not buy (intention to treat: dropping them would drop
  only the non-buyers, since a purchase would have put them in the orders) and are counted;
- difference = mean(treated) - mean(control) with a 95% interval from the normal approximation
  (unpooled variances: the Wald interval for a share, Welch's for revenue); p is two-sided;
- difference-in-differences = the same comparison of each customer's after - before change,
  which removes a difference the groups already had before the measure.
Before and after (shop-wide, no control group): revenue, orders and customers in the window
before and after the date, against the same two windows a year earlier, so the season's own
change is not taken for the measure's effect.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd

from ..store.purchases import Purchases, Span
from ..errors import DataError
from ..orders import connect
from ..sql import sql_literal
from .inputs import parse_dates, read_table
from .settings import BeforeAfter, Experiment

Z95 = 1.959963984540054

OUTCOMES_SQL = """
WITH orders AS (
    SELECT customer_id, CAST(ordered_at AS DATE) AS day, amount
    FROM read_parquet({path})
    WHERE ordered_at < {as_of} AND customer_id IS NOT NULL),
known AS (SELECT DISTINCT customer_id FROM orders WHERE customer_id IN (SELECT customer_id FROM groups))
SELECT g.customer_id, g."group", g.sent_at, k.customer_id IS NOT NULL AS known,
       count(DISTINCT o.day) FILTER (WHERE date_diff('day', g.sent_at, o.day) BETWEEN 1 AND {w}) AS after_days,
       count(DISTINCT o.day) FILTER (WHERE date_diff('day', g.sent_at, o.day) BETWEEN 1 - {w} AND 0) AS before_days,
       coalesce(sum(o.amount) FILTER (WHERE date_diff('day', g.sent_at, o.day) BETWEEN 1 AND {w}), 0.0) AS after_revenue,
       coalesce(sum(o.amount) FILTER (WHERE date_diff('day', g.sent_at, o.day) BETWEEN 1 - {w} AND 0), 0.0) AS before_revenue
FROM groups g
LEFT JOIN known k USING (customer_id)
LEFT JOIN orders o ON o.customer_id = g.customer_id
    AND o.day BETWEEN g.sent_at - {w} AND g.sent_at + {w}
GROUP BY ALL
"""


def read_groups(experiment: Experiment) -> pd.DataFrame:
    """The experiment file as customer_id, group, sent_at (a date); only the treated and control
    values are allowed, and a customer may appear once."""
    path = experiment.file
    frame = read_table(path, ("customer_id", "group"), f"experiment '{experiment.name}'")
    out = pd.DataFrame({"customer_id": frame["customer_id"].str.strip(), "group": frame["group"].str.strip()})
    if "sent_at" in frame.columns:
        out["sent_at"] = parse_dates(path, frame, "sent_at")
    elif experiment.measure_date is not None:
        out["sent_at"] = experiment.measure_date
    else:
        raise DataError(f"{path}: experiment '{experiment.name}' has no sent_at column and no measure_date.",
                        hint="add a sent_at column (YYYY-MM-DD) or set measure_date in the client YAML")
    wrong = ~out["group"].isin([experiment.treated, experiment.control])
    if wrong.any():
        values = ", ".join(sorted(out.loc[wrong, "group"].unique())[:5])
        raise DataError(f"{path}: column 'group' has values other than '{experiment.treated}' and "
                        f"'{experiment.control}': {values}.",
                        hint="set treated: and control: of the experiment in the client YAML to the file's values")
    repeated = out["customer_id"].duplicated()
    if repeated.any():
        raise DataError(f"{path}: {int(repeated.sum())} customer id(s) appear more than once "
                        f"(first: {out.loc[repeated, 'customer_id'].iloc[0]}).",
                        hint="list each customer once, in one group")
    return out


def experiment_outcomes(orders_path: Path | str, as_of: dt.date, groups: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per customer of the experiment: group, known (in the orders), complete (after-window ended
    before as_of), after/before purchase days and revenue (DuckDB over the orders)."""
    con = connect()
    try:
        frame = groups.assign(sent_at=pd.to_datetime(groups["sent_at"]))
        con.register("groups_df", frame)
        con.execute('CREATE TEMP TABLE groups AS SELECT customer_id, "group", CAST(sent_at AS DATE) AS sent_at FROM groups_df')
        out = con.execute(OUTCOMES_SQL.format(path=sql_literal(str(orders_path)), w=int(window),
                                              as_of=f"TIMESTAMP '{as_of.isoformat()}'")).df()
    finally:
        con.close()
    out["sent_at"] = pd.to_datetime(out["sent_at"]).dt.date
    out["complete"] = pd.to_datetime(out["sent_at"]) + pd.Timedelta(days=int(window)) < pd.Timestamp(as_of)
    out["after_bought"] = (out["after_days"] > 0).astype("float64")
    out["before_bought"] = (out["before_days"] > 0).astype("float64")
    return out.sort_values("customer_id").reset_index(drop=True)


def _p_value(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def mean_difference(treated: pd.Series, control: pd.Series) -> dict[str, float | int | None]:
    """mean(treated) - mean(control) with its 95% interval (unpooled normal approximation) and p."""
    n1, n0 = len(treated), len(control)
    if n1 < 2 or n0 < 2:
        return {"n_treated": n1, "n_control": n0, "treated": None, "control": None, "difference": None,
                "low": None, "high": None, "p": None}
    m1, m0 = float(treated.mean()), float(control.mean())
    se = math.sqrt(float(treated.var(ddof=1)) / n1 + float(control.var(ddof=1)) / n0)
    diff = m1 - m0
    return {"n_treated": n1, "n_control": n0, "treated": m1, "control": m0, "difference": diff,
            "low": diff - Z95 * se, "high": diff + Z95 * se, "p": _p_value(diff / se) if se > 0 else None}


def share_difference(treated: pd.Series, control: pd.Series) -> dict[str, float | int | None]:
    """Difference of two shares (0/1 values) with the Wald 95% interval (variances p(1-p)/n)."""
    n1, n0 = len(treated), len(control)
    if n1 == 0 or n0 == 0:
        return mean_difference(treated, control)
    p1, p0 = float(treated.mean()), float(control.mean())
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return {"n_treated": n1, "n_control": n0, "treated": p1, "control": p0, "difference": diff,
            "low": diff - Z95 * se, "high": diff + Z95 * se, "p": _p_value(diff / se) if se > 0 else None}


def compare_groups(outcomes: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """The effect table: one row per outcome (bought in the window, revenue per customer, and
    their differences-in-differences) with n, means, difference, 95% interval and p."""
    used = outcomes[outcomes["complete"]]
    t = used[used["group"] == experiment.treated]
    c = used[used["group"] == experiment.control]
    rows = [
        {"outcome": "bought", **share_difference(t["after_bought"], c["after_bought"])},
        {"outcome": "revenue", **mean_difference(t["after_revenue"], c["after_revenue"])},
        {"outcome": "bought_did", **mean_difference(t["after_bought"] - t["before_bought"],
                                                    c["after_bought"] - c["before_bought"])},
        {"outcome": "revenue_did", **mean_difference(t["after_revenue"] - t["before_revenue"],
                                                     c["after_revenue"] - c["before_revenue"])},
    ]
    frame = pd.DataFrame(rows)
    waiting = outcomes.loc[~outcomes["complete"], "sent_at"]
    frame.attrs.update(listed=len(outcomes), unknown=int((~outcomes["known"]).sum()),
                       incomplete=int((~outcomes["complete"]).sum()),
                       window=experiment.window_days, name=experiment.name,
                       treated_label=experiment.treated, control_label=experiment.control,
                       # the first as-of date on which a waiting customer's window has ended
                       ready_on=(min(waiting) + dt.timedelta(days=experiment.window_days + 1)) if len(waiting) else None)
    return frame


def comparable(effect: pd.DataFrame) -> bool:
    """True when both groups have customers whose window has ended (the share buying is known
    for each), so the table, the figure and the takeaway have something to compare."""
    r = effect.set_index("outcome").loc["bought"]
    return bool(r["n_treated"]) and bool(r["n_control"])


def verify_experiment(orders_path: Path | str, as_of: dt.date, experiment: Experiment) -> pd.DataFrame:
    """Read an experiment's groups and return its effect table (compare_groups)."""
    groups = read_groups(experiment)
    return compare_groups(experiment_outcomes(orders_path, as_of, groups, experiment.window_days), experiment)


WINDOW_SQL = """
SELECT coalesce(sum(revenue), 0.0) AS revenue, coalesce(sum(orders), 0) AS orders, count(DISTINCT key) AS customers
FROM purchases WHERE {span}
"""

BEFORE_AFTER_METRICS = ("revenue", "orders", "customers")


def _window(purchases: Purchases, span: Span) -> dict[str, float] | None:
    if not purchases.covers(span):
        return None
    row = purchases.query(WINDOW_SQL.format(span=span.sql())).iloc[0]
    return {m: float(row[m]) for m in BEFORE_AFTER_METRICS}


def _shift_year(day: dt.date) -> dt.date:
    return (pd.Timestamp(day) - pd.DateOffset(years=1)).date()


def before_after(purchases: Purchases, item: BeforeAfter) -> pd.DataFrame:
    """Per metric: before, after, change (relative), the same change a year earlier, and the
    change beyond the season's (change - change a year earlier); None where data is missing."""
    w = dt.timedelta(days=item.window_days)
    spans = {"before": Span(item.date - w, item.date), "after": Span(item.date, item.date + w)}
    spans_ly = {k: Span(_shift_year(s.start), _shift_year(s.end)) for k, s in spans.items()}
    now = {k: _window(purchases, s) for k, s in spans.items()}
    ly = {k: _window(purchases, s) for k, s in spans_ly.items()}
    rows = []
    for metric in BEFORE_AFTER_METRICS:
        before = now["before"][metric] if now["before"] else None
        after = now["after"][metric] if now["after"] else None
        change = after / before - 1 if before and after is not None else None
        ly_change = (ly["after"][metric] / ly["before"][metric] - 1
                     if ly["before"] and ly["after"] and ly["before"][metric] else None)
        rows.append({"metric": metric, "before": before, "after": after, "change": change,
                     "change_year_before": ly_change,
                     "beyond_season": None if change is None or ly_change is None else change - ly_change})
    frame = pd.DataFrame(rows)
    frame.attrs.update(name=item.name, date=item.date, window=item.window_days)
    return frame


__all__ = ["before_after", "comparable", "compare_groups", "experiment_outcomes", "mean_difference", "read_groups",
           "share_difference", "verify_experiment"]
