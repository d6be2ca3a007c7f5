"""Next year's revenue and gross profit under changes of the KPI tree's drivers: the one model
behind the report's scenario table (conservative / expected / ambitious) and the workshop
simulator's sliders (notebooks/workshop_simulator.ipynb), so the workshop and the report never
disagree.

From the baseline period's tree (crmlib.strategy.tree.kpi_values over the period_months before
as_of) and a scenario's changes d_<driver> (relative; points for F2, retention and margin), the
next period of the same length:
  new customers'             = new customers x (1 + d_new_customers)
  new orders per customer'   = new orders per customer + d_f2_rate
                               (each extra F2 conversion is one more order in the period, its
                               second purchase, as crmlib.strategy.goals.revenue_levers counts F2 points)
  existing customers'        = this period's customers x (retention + d_retention) + reactivated
                               (this period's customers are the next one's prior customers; the
                               reactivated customers, who skipped the prior period, are held)
  existing orders per customer' = existing orders per customer x (1 + d_frequency)
  new and existing AOV'      = AOV x (1 + d_aov)
  revenue'                   = new customers' x new orders per customer' x new AOV'
                               + existing customers' x existing orders per customer' x existing AOV'
  gross profit'              = revenue' x (gross margin + d_gross_margin)
  acquisition cost'          = new customers' x CPA x (1 + d_cpa)
  gross profit after acquisition cost' = gross profit' - acquisition cost'
Rates stay within 0-100%. Without a measured retention (the data does not reach back to the
period before the baseline) next period's existing customers are this period's and the retention
change is not applied. Without a gross margin (ltv.gross_margin) there is no gross profit and
without a CPA (ltv.cpa) no acquisition cost: those figures are None, and the tables say which
input completes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from .settings import DEFAULT_CHANGES, DRIVERS, POINT_DRIVERS, SCENARIOS, Scenarios

# Goal metrics the model projects (the repeat rate is not one of its figures)
PROJECTED_GOALS = ("revenue", "orders", "customers", "new_customers", "existing_customers", "aov",
                   "orders_per_customer", "f2_rate")
FIGURES = ("new_customers", "f2_rate", "new_frequency", "new_revenue", "retention", "existing_customers",
           "existing_frequency", "existing_revenue", "revenue", "orders", "customers", "aov",
           "orders_per_customer", "gross_margin", "gross_profit", "cpa", "acquisition_cost", "profit_after_acquisition")


def _num(value: Any) -> float | None:
    """A finite float, or None for None / NaN."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _share(value: float) -> float:
    """A rate kept within 0-100%."""
    return min(max(value, 0.0), 1.0)


@dataclass(frozen=True)
class Baseline:
    """The baseline period's KPI tree: the drivers' values the scenarios change."""

    months: int
    new_customers: float
    new_frequency: float
    new_aov: float
    f2_rate: float | None
    customers: float  # this period's customers: the next period's prior customers
    retention: float | None
    reactivated: float | None
    existing_customers: float
    existing_frequency: float
    existing_aov: float
    revenue: float
    gross_margin: float | None = None
    cpa: float | None = None
    covered: bool = True  # the data covers the whole baseline period
    split: bool = True  # new and existing customers can be told apart in it (split_observable)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], months: int, gross_margin: float | None = None,
                    cpa: float | None = None) -> Baseline:
        """The baseline from kpi_values (or a metric_history row) and the ltv: margin and CPA."""
        get = lambda key: _num(values.get(key)) or 0.0  # noqa: E731 (a missing ratio: nothing to scale)
        return cls(months=int(months), new_customers=get("new_customers"), new_frequency=get("new_frequency"),
                   new_aov=get("new_aov"), f2_rate=_num(values.get("f2_rate")), customers=get("customers"),
                   retention=_num(values.get("retention")), reactivated=_num(values.get("reactivated_customers")),
                   existing_customers=get("existing_customers"), existing_frequency=get("existing_frequency"),
                   existing_aov=get("existing_aov"), revenue=get("revenue"), gross_margin=_num(gross_margin),
                   cpa=_num(cpa), covered=bool(values.get("covered", True)),
                   split=bool(values.get("split_observable", True)))


def baseline_figures(base: Baseline) -> dict[str, float | None]:
    """The baseline period in the projection's terms (its revenue, gross profit, costs)."""
    new_revenue = base.new_customers * base.new_frequency * base.new_aov
    existing_revenue = base.existing_customers * base.existing_frequency * base.existing_aov
    orders = base.new_customers * base.new_frequency + base.existing_customers * base.existing_frequency
    return _figures(base, base.new_customers, base.f2_rate, base.new_frequency, new_revenue, base.retention,
                    base.existing_customers, base.existing_frequency, existing_revenue, orders, base.gross_margin,
                    base.cpa)


def project(base: Baseline, changes: Mapping[str, float]) -> dict[str, float | None]:
    """Next period's figures under the changes (the model in the module docstring); a driver
    missing from changes is held."""
    d = {driver: float(changes.get(driver) or 0.0) for driver in DRIVERS}
    new_c = base.new_customers * (1 + d["new_customers"])
    f2 = None if base.f2_rate is None else _share(base.f2_rate + d["f2_rate"])
    f2_step = d["f2_rate"] if base.f2_rate is None else f2 - base.f2_rate
    new_freq = max(base.new_frequency + f2_step, 0.0)
    aov_factor = 1 + d["aov"]
    if base.retention is None or base.reactivated is None:
        retention, existing_c = None, base.existing_customers
    else:
        retention = _share(base.retention + d["retention"])
        existing_c = base.customers * retention + base.reactivated
    existing_freq = base.existing_frequency * (1 + d["frequency"])
    margin = None if base.gross_margin is None else _share(base.gross_margin + d["gross_margin"])
    cpa = None if base.cpa is None else base.cpa * (1 + d["cpa"])
    return _figures(base, new_c, f2, new_freq, new_c * new_freq * base.new_aov * aov_factor, retention, existing_c,
                    existing_freq, existing_c * existing_freq * base.existing_aov * aov_factor,
                    new_c * new_freq + existing_c * existing_freq, margin, cpa)


def _figures(base: Baseline, new_c: float, f2: float | None, new_freq: float, new_revenue: float,
             retention: float | None, existing_c: float, existing_freq: float, existing_revenue: float,
             orders: float, margin: float | None, cpa: float | None) -> dict[str, float | None]:
    revenue = new_revenue + existing_revenue
    customers = new_c + existing_c
    gross_profit = None if margin is None else revenue * margin
    acquisition = None if cpa is None else new_c * cpa
    return {
        "new_customers": new_c, "f2_rate": f2, "new_frequency": new_freq, "new_revenue": new_revenue,
        "retention": retention, "existing_customers": existing_c, "existing_frequency": existing_freq,
        "existing_revenue": existing_revenue, "revenue": revenue, "orders": orders, "customers": customers,
        "aov": revenue / orders if orders else None,
        "orders_per_customer": orders / customers if customers else None,
        "gross_margin": margin, "gross_profit": gross_profit, "cpa": cpa, "acquisition_cost": acquisition,
        "profit_after_acquisition": None if gross_profit is None or acquisition is None else gross_profit - acquisition,
    }


def scenario_changes(scenarios: Scenarios) -> tuple[dict[str, dict[str, float]], dict[str, frozenset[str]]]:
    """(scenario -> driver -> change, scenario -> the drivers that took the default assumption):
    the YAML's strategy.scenarios with DEFAULT_CHANGES where a driver is left out."""
    changes: dict[str, dict[str, float]] = {}
    defaults: dict[str, frozenset[str]] = {}
    for name in SCENARIOS:
        given = getattr(scenarios, name).model_dump()
        changes[name] = {d: DEFAULT_CHANGES[name][d] if given[d] is None else float(given[d]) for d in DRIVERS}
        defaults[name] = frozenset(d for d in DRIVERS if given[d] is None)
    return changes, defaults


def scenario_frame(base: Baseline, changes: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per scenario, 'baseline' first: the figures (FIGURES), and the changes against the
    baseline of revenue and gross profit (revenue_change, gross_profit_change; relative)."""
    rows = {"baseline": baseline_figures(base), **{name: project(base, c) for name, c in changes.items()}}
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(FIGURES))
    frame = frame.astype("float64")  # None -> NaN: one dtype for every figure
    for figure in ("revenue", "gross_profit"):
        start = frame.loc["baseline", figure]
        frame[f"{figure}_change"] = frame[figure] / start - 1 if pd.notna(start) and start else float("nan")
    return frame


def against_goals(frame: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """One row per goal the model projects (with a target): metric, label, deadline, target, and
    per row of the frame (the baseline and each scenario) its value minus the target."""
    goals = plan[plan["metric"].isin(PROJECTED_GOALS) & plan["target"].notna()] if len(plan) else plan
    scenarios = list(frame.index)
    rows = [{"metric": g["metric"], "label": g["label"], "deadline": g["deadline"], "target": float(g["target"]),
             **{name: frame.loc[name, g["metric"]] - float(g["target"]) for name in scenarios}}
            for _, g in goals.iterrows()]  # one row per goal (a handful)
    return pd.DataFrame(rows, columns=["metric", "label", "deadline", "target", *scenarios])


def expected_changes(scenarios: Scenarios) -> dict[str, float]:
    """The expected scenario's changes: the workshop simulator's starting sliders."""
    return scenario_changes(scenarios)[0]["expected"]


__all__ = ["Baseline", "FIGURES", "POINT_DRIVERS", "PROJECTED_GOALS", "against_goals", "baseline_figures",
           "expected_changes", "project", "scenario_changes", "scenario_frame"]
