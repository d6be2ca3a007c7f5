"""Step 1, goals: each numeric goal against the data's baseline, the gap, what it takes, and
whether the client's own history has ever moved that fast.

- baseline: the metric over the period_months months before as_of (crmlib.strategy.tree);
- required change: target / baseline - 1 for amounts and counts, target - baseline (points) for
  rates; per year: (1 + change) ** (12 / months to the deadline) - 1, or points * 12 / months;
- history: the same metric over the period_months months ending at each month-end (as_of minus
  k months), for periods with a year of data before them (without it every customer of the
  data's first year looks new), and its change against twelve months earlier (year on year);
- feasibility: 'met' (no change needed), 'within' (the yearly change needed is no larger than the
  largest year-on-year increase seen), 'stretch' (up to 1.5 times it), 'beyond', or 'unknown'
  (the data is too short for one year-on-year comparison).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ..store.purchases import Purchases, Span, analysis_periods, months_before
from .settings import RATE_METRICS, Goal
from .tree import kpi_values

STRETCH = 1.5  # 'stretch' up to this multiple of the largest year-on-year increase seen
HISTORY_MONTHS = 36  # month-ends looked at for the history (enough for two year-on-year changes)


def baseline_span(as_of: dt.date, months: int) -> Span:
    """The baseline period: the `months` months before as_of."""
    return analysis_periods(as_of, months)[0]


def period_ending(end: dt.date, months: int) -> Span:
    """The `months` months before end (end excluded)."""
    return Span(months_before(end, months), end)


def current_values(purchases: Purchases, months: int, f2_window: int, history: pd.DataFrame) -> dict[str, Any]:
    """Every goal metric over the baseline period: the history's latest row, or computed directly
    when the data is too short for a history (the period then starts before the data)."""
    if len(history):
        return history.iloc[0].to_dict()
    return kpi_values(purchases, baseline_span(purchases.as_of, months), f2_window)


def goal_targets(plan: pd.DataFrame) -> dict[str, float]:
    """metric -> target of the goals (the first goal of a metric wins), for the KPI tree."""
    known = plan.dropna(subset=["target"]).drop_duplicates("metric")
    return dict(zip(known["metric"], known["target"].astype(float)))


def metric_history(purchases: Purchases, months: int = 12, f2_window: int = 90,
                   look_back: int = HISTORY_MONTHS) -> pd.DataFrame:
    """Every goal metric over the `months` months ending at as_of and at each month-end before it
    (up to look_back), for the periods the data fully covers; one row per period end."""
    rows = []
    for k in range(look_back + 1):
        end = months_before(purchases.as_of, k)
        span = Span(months_before(end, months), end)
        if not purchases.covers(Span(months_before(span.start, 12), end)):
            break
        rows.append({"end": end, **kpi_values(purchases, span, f2_window)})
    return pd.DataFrame(rows)


def goal_history(purchases: Purchases, goals: list[Goal], months: int = 12, f2_window: int = 90) -> pd.DataFrame:
    """The history the goals need: every month-end back to HISTORY_MONTHS when there are goals
    (their feasibility reads the largest year-on-year change), else the latest period only (the
    baseline table): three queries a month-end, a tenth of the chapter's time at 10M orders."""
    return metric_history(purchases, months, f2_window, look_back=HISTORY_MONTHS if goals else 0)


def change(metric: str, new: float | None, old: float | None) -> float | None:
    """Change from old to new: points for rates, relative otherwise (None when undefined)."""
    if new is None or old is None or pd.isna(new) or pd.isna(old):
        return None
    if metric in RATE_METRICS:
        return float(new) - float(old)
    return float(new) / float(old) - 1.0 if old else None


def yoy_changes(history: pd.DataFrame, metric: str) -> pd.Series:
    """Year-on-year change of the metric at each period end that has a period twelve months earlier."""
    if history.empty:
        return pd.Series(dtype="float64")
    by_end = history.set_index("end")[metric]
    out = {}
    for end, value in by_end.items():
        earlier = months_before(end, 12)
        if earlier in by_end.index:
            out[end] = change(metric, value, by_end[earlier])
    return pd.Series(out, dtype="float64").dropna()


def months_between(start: dt.date, end: dt.date) -> float:
    """Calendar months from start to end (days / mean month length)."""
    return (end - start).days / (365.25 / 12)


def per_year(metric: str, required: float, months: float) -> float:
    """The required change as a yearly pace (compounded for relative changes)."""
    if metric in RATE_METRICS:
        return required * 12.0 / months
    return (1.0 + required) ** (12.0 / months) - 1.0


def feasibility(required_per_year: float | None, largest: float | None) -> str:
    """'met', 'within', 'stretch', 'beyond' or 'unknown' (see the module docstring)."""
    if required_per_year is None:
        return "unknown"
    if required_per_year <= 0:
        return "met"
    if largest is None:
        return "unknown"
    if required_per_year <= largest:
        return "within"
    if largest > 0 and required_per_year <= STRETCH * largest:
        return "stretch"
    return "beyond"


def goal_target(goal: Goal, baseline: float | None) -> float | None:
    """The goal's value to reach: target, or baseline changed by change / increase."""
    if goal.target is not None:
        return float(goal.target)
    if baseline is None:
        return None
    if goal.change is not None:
        return float(baseline) * (1.0 + goal.change)
    return float(baseline) + float(goal.increase)


def goal_plan(purchases: Purchases, goals: list[Goal], months: int = 12, f2_window: int = 90,
              history: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per goal: metric, label, deadline, baseline, target, gap, required (change),
    months (to the deadline), required_per_year, largest_yoy (seen), feasibility, window_days (the
    F2 window of an F2 goal, which names it)."""
    if history is None:
        history = metric_history(purchases, months, f2_window)
    base = current_values(purchases, months, f2_window, history)
    rows = []
    for goal in goals:
        deadline = goal.deadline or months_before(purchases.as_of, -months)
        baseline = base.get(goal.metric)
        baseline = None if baseline is None or pd.isna(baseline) else float(baseline)
        target = goal_target(goal, baseline)
        required = change(goal.metric, target, baseline)
        span = months_between(purchases.as_of, deadline)
        pace = per_year(goal.metric, required, span) if required is not None and span > 0 else None
        seen = yoy_changes(history, goal.metric)
        largest = float(seen.max()) if len(seen) else None
        rows.append({
            "metric": goal.metric, "label": goal.label, "deadline": deadline,
            "baseline": baseline, "target": target,
            "gap": None if target is None or baseline is None else target - baseline,
            "required": required, "months": span, "required_per_year": pace,
            "largest_yoy": largest, "yoy_periods": int(len(seen)),
            "feasibility": "deadline_passed" if span <= 0 else feasibility(pace, largest),
            "window_days": f2_window if goal.metric == "f2_rate" else None,
        })
    return pd.DataFrame(rows, columns=["metric", "label", "deadline", "baseline", "target", "gap", "required",
                                       "months", "required_per_year", "largest_yoy", "yoy_periods", "feasibility",
                                       "window_days"])


def revenue_levers(values: dict[str, Any], gap: float) -> pd.DataFrame:
    """Ways to close a revenue gap through the KPI tree, each lever alone, the others held:
    more orders at today's AOV, a higher AOV at today's orders, more new customers at today's
    revenue per new customer, existing customers buying more often at today's existing AOV, and
    the F2 points among the period's new customers that many extra second purchases would be.
    The last three need new and existing customers told apart: not for a period that starts
    inside the data's first look-back (split_observable false)."""
    revenue, orders, aov = values["revenue"], values["orders"], values["aov"]
    split = values.get("split_observable", True)
    new_c, new_r = (values["new_customers"], values["new_revenue"]) if split else (0, 0.0)
    ex_r, ex_freq = (values["existing_revenue"], values["existing_frequency"]) if split else (0.0, None)
    rows = []
    if aov:
        extra_orders = gap / aov
        rows.append({"lever": "orders", "now": orders, "needed": orders + extra_orders, "delta": extra_orders,
                     "relative": extra_orders / orders if orders else None})
        if new_c:
            rows.append({"lever": "f2_points", "now": values["f2_rate"], "needed": None,
                         "delta": extra_orders / new_c, "relative": None})
    if revenue:
        rows.append({"lever": "aov", "now": aov, "needed": aov * (1 + gap / revenue), "delta": aov * gap / revenue,
                     "relative": gap / revenue})
    if new_c and new_r:
        per_new = new_r / new_c
        rows.append({"lever": "new_customers", "now": new_c, "needed": new_c + gap / per_new,
                     "delta": gap / per_new, "relative": gap / new_r})
    if ex_r and ex_freq:
        rows.append({"lever": "existing_frequency", "now": ex_freq, "needed": ex_freq * (1 + gap / ex_r),
                     "delta": ex_freq * gap / ex_r, "relative": gap / ex_r})
    return pd.DataFrame(rows, columns=["lever", "now", "needed", "delta", "relative"])


__all__ = ["baseline_span", "change", "current_values", "feasibility", "goal_history", "goal_plan", "goal_target", "goal_targets", "metric_history",
           "months_between", "per_year", "period_ending", "revenue_levers", "yoy_changes"]
