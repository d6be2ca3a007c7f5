"""The 90-day action plan: measures drawn from the targets, each with its list, expected uplift,
business case and control group (strategy.plan in the client YAML).

A measure's list is a class of the store's segmentation (ladder:stage1 = recent first-time
buyers, cpm:top_lapsed = lapsed top customers ...) or due:replenishment: customers with at least
DUE_MIN_PURCHASES purchase days whose days since their last purchase reached their own median
gap and are still short of the ladder's lapse days (due for their next purchase).

- baseline rate: the share buying within the plan's horizon without the measure, measured on
  the client's past: the same list rule applied horizon_days before as_of (today's yardstick)
  and the share of those customers who bought since; fewer than min_customers then: unknown;
- value: the list's own revenue per order (its customers' revenue / orders before as_of);
- uplift: a verified experiment's 95% interval of the rise in the share buying (the measure's
  `experiment`, when its interval lies above zero), else the YAML's assumption, labelled so;
- the business case, control group and sample size: crmlib.strategy.business_case.
Without measures in the YAML, three suggested ones (F2 follow-up, win-back of lapsed top
customers, replenishment reminder) are sized with no uplift, cost or owner: the guidance says
which keys complete them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from ..orders import connect, orders_sql
from ..safe_cells import neutralise_sql
from ..sql import sql_ident
from ..store.kept import kept_arrays
from ..store.segments.classify import Segmentation, kept_derived_path
from ..store.segments.migration import SCHEME_COLUMNS, start_codes
from ..store.segments.names import class_names
from . import business_case as bc
from .settings import Plan, PlanMeasure, StrategySettings

DUE = "due:replenishment"
DUE_MIN_PURCHASES = 3
HASH_CHUNK = 1_000_000  # list ids hashed at a time for the control group
SUGGESTED = (("f2_follow_up", "ladder:stage1"), ("win_back", "cpm:top_lapsed"), ("replenishment", DUE))

DUE_SQL = """
WITH days AS (SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) AS day
              FROM ({src}) WHERE customer_id IS NOT NULL),
gaps AS (SELECT customer_id, day,
                date_diff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS gap FROM days),
per AS (SELECT customer_id, count(*) AS purchases, max(day) AS last_day, median(gap) AS cycle
        FROM gaps GROUP BY customer_id)
SELECT customer_id FROM per
WHERE purchases >= {min_purchases}
  AND date_diff('day', last_day, DATE '{day}') >= cycle
  AND date_diff('day', last_day, DATE '{day}') < {lapse}
ORDER BY customer_id
"""



def suggested_measures(lang: str) -> list[PlanMeasure]:
    """The three measures shown when the YAML has none: sized, without uplift, cost or owner."""
    from ..i18n import t

    return [PlanMeasure(name=t(f"strategy.plan.suggested.{key}", lang), segment=segment) for key, segment in SUGGESTED]


def due_customers(orders_path: Path | str, day: dt.date, lapse_days: int,
                  min_purchases: int = DUE_MIN_PURCHASES) -> pd.Series:
    """Ids of the customers due for their next purchase on `day` (see the module docstring)."""
    con = connect()
    try:
        frame = con.execute(DUE_SQL.format(src=orders_sql(orders_path, day), day=day.isoformat(),
                                           lapse=int(lapse_days), min_purchases=int(min_purchases))).df()
    finally:
        con.close()
    return frame["customer_id"].astype("str")


def is_in(values: pd.Series, ids: Iterable[str]) -> np.ndarray:
    """values.isin(ids) for customer ids (no missing ones) in one Arrow pass: pandas' isin on
    Arrow strings boxes every id in Python (10-20 ms a list on 25,000 customers)."""
    text = pa.large_string()
    wanted = pa.array(ids if isinstance(ids, pd.Series) else list(ids), type=text)
    return pc.is_in(pa.array(values.astype("str"), type=text), value_set=wanted).to_numpy(zero_copy_only=False)


def class_rows(classes: pd.Series, key: str) -> np.ndarray:
    """Which rows of a class column (categorical) hold the class key: compared as category codes,
    so no text is made per customer (at 50M customers a text column is gigabytes)."""
    categories = classes.cat.categories
    if key not in categories:
        return np.zeros(len(classes), dtype=bool)
    return classes.cat.codes.to_numpy() == categories.get_loc(key)


def check_segments(seg: Segmentation, measures: list[PlanMeasure]) -> None:
    """A class the segmentation does not have is a ConfigError naming the classes it has."""
    for m in measures:
        if m.segment == DUE:
            continue
        scheme, key = m.segment.split(":", 1)
        known = list(class_names(seg, scheme, "en"))
        if key not in known:
            raise ConfigError(f"strategy.plan.measures: '{m.name}' has segment '{m.segment}', which {scheme} does "
                              f"not have.", hint=f"choose from {', '.join(f'{scheme}:{k}' for k in known)} or {DUE}")


class ListSource:
    """Who is on each list now and on the day one horizon earlier (for the baseline), as masks over
    the segmentation's customers (every list is a subset of them): the earlier classes come from
    the migration's start codes, and who bought since from the customers' last order, so no
    second frame of every customer is made."""

    def __init__(self, seg: Segmentation, horizon_days: int, lapse_days: int) -> None:
        self.seg, self.lapse_days = seg, lapse_days
        self.then_day = seg.as_of - dt.timedelta(days=horizon_days)
        self._then: dict[str, np.ndarray] | None = None
        self._due: dict[dt.date, np.ndarray] = {}

    def rows(self, segment: str, then: bool = False) -> np.ndarray:
        """Which of the segmentation's customers are on the list now (or on the earlier day)."""
        day = self.then_day if then else self.seg.as_of
        customers = self.seg.customers
        if segment == DUE:
            if day not in self._due:
                self._due[day] = self._due_rows(day, "then" if then else "now")
            return self._due[day]
        scheme, key = segment.split(":", 1)
        column = SCHEME_COLUMNS[scheme]
        if not then:
            return class_rows(customers[column], key)
        if self._then is None:
            self._then = start_codes(self.seg, self.then_day, keep=True)[0]
        categories = customers[column].cat.categories
        if key not in categories:
            return np.zeros(len(customers), dtype=bool)
        return self._then[column] == categories.get_loc(key)

    def _due_rows(self, day: dt.date, when: str) -> np.ndarray:
        """Which customers are due on `day`, kept beside the classification (the chapter and its
        lists, in two processes, ask for the same two days)."""
        path = kept_derived_path(self.seg, f"due_{when}", day.isoformat(), self.lapse_days, DUE_MIN_PURCHASES)

        def compute() -> dict[str, np.ndarray]:
            return {"due": is_in(self.seg.customers["customer_id"],
                                 due_customers(self.seg.orders_path, day, self.lapse_days))}

        return kept_arrays(path, compute)["due"]

    def members(self, segment: str, then: bool = False) -> pd.Series:
        """Ids on the list now (or on the earlier day), in the segmentation's order."""
        ids = self.seg.customers["customer_id"]
        return ids[self.rows(segment, then)].astype("str")

    def bought_since(self) -> np.ndarray:
        """Which customers bought from the earlier day to as_of (their last order on or after it)."""
        return (self.seg.customers["last_order"] >= pd.Timestamp(self.then_day)).to_numpy(dtype=bool)

    def baseline(self, segment: str, min_customers: int) -> tuple[float | None, int]:
        """(share of the earlier list who bought within the horizon, customers it rests on); the
        share is None on fewer than min_customers or when the data does not reach back."""
        first = pd.to_datetime(self.seg.customers["first_order"]).min() if len(self.seg.customers) else None
        if first is None or pd.isna(first) or self.then_day <= first.date():  # the data does not reach back
            return None, 0
        then = self.rows(segment, then=True)
        n = int(then.sum())
        if n < max(min_customers, 1):
            return None, n
        return float(self.bought_since()[then].mean()), n

    def value(self, rows: np.ndarray) -> float | None:
        """The list's revenue per order before as_of."""
        customers = self.seg.customers
        orders = float(customers["orders"][rows].sum())
        return float(customers["revenue"][rows].sum()) / orders if orders > 0 else None


def verified_uplift(effects: list[pd.DataFrame], name: str | None) -> tuple[str, tuple[float, float, float] | None]:
    """(status, (low, difference, high)) of the experiment named: 'verified' when its 95% interval
    of the rise in buying lies above zero; 'unclear', 'pending' or 'missing' otherwise."""
    if not name:
        return "none", None
    for effect in effects:
        if effect.attrs.get("name") != name:
            continue
        r = effect.set_index("outcome").loc["bought"]
        if not (r["n_treated"] and r["n_control"]) or r["low"] is None or pd.isna(r["low"]):
            return "pending", None
        if r["low"] > 0:
            return "verified", (float(r["low"]), float(r["difference"]), float(r["high"]))
        return "unclear", None
    return "missing", None


PLAN_COLUMNS = [
    "name", "segment", "customers", "treated", "control", "baseline", "baseline_n", "value", "uplift_low",
    "uplift", "uplift_high", "uplift_source", "trial", "trial_status", "cost_per_contact", "fixed_cost", "cost",
    "revenue_low", "revenue", "revenue_high", "profit_low", "profit", "profit_high", "roi_low", "roi", "roi_high",
    "break_even", "needed", "needed_even", "detectable", "verifiable", "owner", "start", "end",
]


def plan_measures(seg: Segmentation, plan: Plan, effects: list[pd.DataFrame], margin: float | None,
                  lapse_days: int, min_customers: int, measures: list[PlanMeasure] | None = None,
                  source: ListSource | None = None) -> pd.DataFrame:
    """One row per measure (PLAN_COLUMNS): list size, control split, baseline, value, uplift
    range and its source ('verified', 'assumed' or None), cost, expected revenue / gross profit /
    ROI at the low, expected and high uplift, break-even uplift, the list size needed to verify
    the expected uplift (at the plan's control share and at an even split), the smallest uplift
    the list can verify, and verifiable (list >= needed; None when unknown)."""
    measures = plan.measures if measures is None else measures
    check_segments(seg, measures)
    source = source or ListSource(seg, plan.horizon_days, lapse_days)
    rows = []
    for m in measures:  # one row per measure (a handful), each aggregate vectorised
        rows_on = source.rows(m.segment)
        n = int(rows_on.sum())
        treated, control = bc.split(n, plan.control_share)
        p0, p0_n = source.baseline(m.segment, min_customers)
        value = source.value(rows_on)
        status, trial = verified_uplift(effects, m.experiment)
        if trial is not None:
            low, mid, high, origin = *trial, "verified"
        elif m.uplift is not None:
            low, high = m.uplift
            mid, origin = (low + high) / 2, "assumed"
        else:
            low = mid = high = origin = None
        cost = bc.campaign_cost(treated, m.cost_per_contact, m.fixed_cost)
        revenue = {k: bc.expected_revenue(treated, u, value) for k, u in (("low", low), ("mid", mid), ("high", high))}
        profit = {k: bc.gross_profit(v, margin) for k, v in revenue.items()}
        returns = {k: bc.roi(v, cost) for k, v in profit.items()}
        needed = bc.sample_size(p0, mid, plan.control_share, plan.alpha, plan.power)
        rows.append({
            "name": m.name, "segment": m.segment, "customers": n, "treated": treated, "control": control,
            "baseline": p0, "baseline_n": p0_n, "value": value, "uplift_low": low, "uplift": mid, "uplift_high": high,
            "uplift_source": origin, "trial": m.experiment, "trial_status": status,
            "cost_per_contact": m.cost_per_contact, "fixed_cost": m.fixed_cost, "cost": cost,
            "revenue_low": revenue["low"], "revenue": revenue["mid"], "revenue_high": revenue["high"],
            "profit_low": profit["low"], "profit": profit["mid"], "profit_high": profit["high"],
            "roi_low": returns["low"], "roi": returns["mid"], "roi_high": returns["high"],
            "break_even": bc.break_even_uplift(treated, value, margin, cost),
            "needed": needed, "needed_even": bc.sample_size(p0, mid, 0.5, plan.alpha, plan.power),
            "detectable": bc.detectable_uplift(p0, n, plan.control_share, plan.alpha, plan.power),
            "verifiable": None if needed is None else n >= needed,
            "owner": m.owner, "start": m.start, "end": m.end,
        })
    frame = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    frame.attrs.update(horizon=plan.horizon_days, control_share=plan.control_share, margin=margin,
                       alpha=plan.alpha, power=plan.power, then_day=source.then_day)
    return frame


def plan_effects(orders_path: Path | str, day: dt.date, settings: StrategySettings,
                 measures: list[PlanMeasure]) -> list[pd.DataFrame]:
    """The effect tables of the experiments the plan's measures name (verification, step 6)."""
    from .verification import verify_experiment

    named = {m.experiment for m in measures if m.experiment}
    return [verify_experiment(orders_path, day, e) for e in settings.experiments if e.name in named]


def action_plan(seg: Segmentation, settings: StrategySettings, lang: str) -> tuple[pd.DataFrame, list[PlanMeasure], ListSource]:
    """The plan of the report: the YAML's measures (or the suggested ones), with the gross margin
    from the ltv section (context) and the verified experiments; (plan, measures, list source)."""
    measures = settings.plan.measures or suggested_measures(lang)
    lapse_days = seg.settings.ladder.lapse_days
    source = ListSource(seg, settings.plan.horizon_days, lapse_days)
    margin = (settings.context.get("ltv") or {}).get("gross_margin")
    effects = plan_effects(seg.orders_path, seg.as_of, settings, measures)
    frame = plan_measures(seg, settings.plan, effects, margin, lapse_days, settings.min_class_customers,
                          measures, source)
    return frame, measures, source


def control_rows(ids: pd.Series, measure: str, control_share: float) -> np.ndarray:
    """Which of a list's customers are its control group: a reproducible random share of the list
    (the lowest hashes of id and measure), the same whatever the list's order."""
    if ids.empty:
        return np.zeros(0, dtype=bool)
    _, control = bc.split(len(ids), control_share)
    text = ids.astype("str")
    keys = np.concatenate([  # a million ids at a time: pandas hashes text as Python objects
        pd.util.hash_pandas_object(text.iloc[lo:lo + HASH_CHUNK] + "\x1f" + measure, index=False).to_numpy()
        for lo in range(0, len(text), HASH_CHUNK)])
    held_out = np.zeros(len(keys), dtype=bool)
    held_out[np.argsort(keys, kind="stable")[:control]] = True  # the lowest hashes, ties in list order
    return held_out


def assign_groups(ids: pd.Series, measure: str, control_share: float) -> pd.Series:
    """'control' for a reproducible random share of the list (by a hash of id and measure), else 'treated'."""
    if ids.empty:
        return pd.Series([], dtype="str")
    return pd.Series(np.where(control_rows(ids, measure, control_share), "control", "treated"), index=ids.index,
                     dtype="str")


GROUPS = ("treated", "control")  # a list's groups, by code (0 treated, 1 control)
LIST_COLUMNS = ("customer_id", "group", "purchases", "orders", "revenue", "last_order", "recency_days")


def list_rows(seg: Segmentation, source: ListSource, measure: PlanMeasure, control_share: float) -> pa.Table:
    """The rows of one measure's list, unsorted, as a compact Arrow table (LIST_COLUMNS; last_order
    a timestamp, revenue rounded to 2 decimals): list_sql sorts and formats them. Made column by
    column from the list's rows only: a list can hold most of 50M customers."""
    rows = source.rows(measure.segment)
    c = seg.customers
    ids = c["customer_id"][rows].astype("str").reset_index(drop=True)
    return pa.table({
        "customer_id": pa.array(ids, type=pa.large_string()),
        "group": pa.DictionaryArray.from_arrays(pa.array(control_rows(ids, measure.name, control_share).astype(np.int8)),
                                                pa.array(GROUPS)),
        "purchases": pa.array(c["purchases"].to_numpy()[rows], type=pa.int64()),
        "orders": pa.array(c["orders"].to_numpy()[rows], type=pa.int64()),
        "revenue": pa.array(c["revenue"][rows].astype("float64").round(2).to_numpy(), type=pa.float64()),
        "last_order": pa.array(pd.to_datetime(c["last_order"][rows]).to_numpy(), type=pa.timestamp("us")),
        "recency_days": pa.array(c["recency_days"].to_numpy()[rows], type=pa.int64()),
    })


def list_sql(table: str, first_name: str = "customer_id") -> str:
    """The list's rows as the CSV and the workbook show them: customer ids guarded against formulas
    (crmlib.safe_cells), the last order as YYYY-MM-DD, biggest spenders first (ties by id)."""
    group = sql_ident("group")
    return (f"SELECT {neutralise_sql('l.customer_id')} AS {sql_ident(first_name)}, "
            f"CAST(l.{group} AS VARCHAR) AS {group}, l.purchases, l.orders, l.revenue, strftime(l.last_order, '%Y-%m-%d') AS last_order, l.recency_days "
            f"FROM {table} l ORDER BY l.revenue DESC, l.customer_id")


def list_file(position: int, segment: str) -> str:
    """The CSV of one measure's list: 'plan_01_ladder_stage1.csv' (ASCII, in plan order)."""
    return f"plan_{position:02d}_{segment.replace(':', '_')}.csv"


def plan_vs_actual(frame: pd.DataFrame, log_summary: pd.DataFrame) -> pd.DataFrame:
    """Per plan measure the execution log names (same name, trimmed): planned and logged volume
    (contacts) and cost; empty when no log row names a plan measure."""
    planned = frame.assign(key=frame["name"].str.strip())[["key", "name", "treated", "cost"]]
    logged = log_summary.assign(key=log_summary["measure"].astype("str").str.strip())[["key", "volume", "cost", "runs"]]
    both = planned.merge(logged, on="key", suffixes=("_plan", "_actual"))
    return both.rename(columns={"treated": "volume_plan", "volume": "volume_actual"}).drop(columns="key")[
        ["name", "volume_plan", "volume_actual", "cost_plan", "cost_actual", "runs"]]


__all__ = [
    "DUE",
    "PLAN_COLUMNS",
    "SUGGESTED",
    "ListSource",
    "action_plan",
    "assign_groups",
    "check_segments",
    "control_rows",
    "due_customers",
    "list_file",
    "list_rows",
    "list_sql",
    "plan_effects",
    "plan_measures",
    "plan_vs_actual",
    "suggested_measures",
    "verified_uplift",
]
