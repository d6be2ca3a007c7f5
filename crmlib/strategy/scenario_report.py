"""The scenario table and its sentences (section 1.2 of the strategy chapter, and the workshop
simulator's table), in the report language (crmlib/messages/*/scenarios.yaml): every assumption
shown where it is used, the defaults marked, a missing margin or CPA said in plain words."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..i18n import t
from ..style import MISSING, fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from .report import metric_change, metric_name, metric_value
from .scenarios import Baseline
from .settings import POINT_DRIVERS, SCENARIOS

K = "strategy.scenarios"
DEFAULT_MARK = "※"
# the driver rows: the figure each shows (None: the change alone) and its format
DRIVER_ROWS = (("new_customers", "new_customers"), ("f2_rate", "f2_rate"), ("retention", "retention"),
               ("aov", None), ("frequency", "existing_frequency"), ("gross_margin", "gross_margin"), ("cpa", "cpa"))
RESULT_ROWS = ("new_revenue", "existing_customers", "existing_revenue", "revenue", "revenue_change")
PROFIT_ROWS = ("gross_profit", "gross_profit_change", "acquisition_cost", "profit_after_acquisition")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _signed(text: str) -> str:
    return text if text.startswith("-") or text == MISSING else f"+{text}"


def change_text(driver: str, change: float) -> str:
    """A driver's change as assumed: points for rates, percent otherwise ('+2.0 pt', '-10.0%')."""
    if driver in POINT_DRIVERS:
        return _signed(fmt_num(change * 100, 1)) + " pt"
    return _signed(fmt_pct(change))


def _value(figure: str, value: Any, currency: str) -> str:
    if _missing(value):
        return MISSING
    if figure in ("retention", "gross_margin"):
        return fmt_pct(value)
    if figure in ("cpa", "acquisition_cost", "gross_profit", "profit_after_acquisition"):
        return fmt_money(value, currency)
    if figure in ("revenue_change", "gross_profit_change"):
        return metric_change("revenue", value)
    return metric_value(figure, value, currency)


def column_name(name: str, lang: str, months: int) -> str:
    """A scenario's column: the baseline period, a scenario's name, or the workshop's own."""
    if name == "baseline":
        return t(f"{K}.col_baseline", lang, months=months)
    return t(f"{K}.names.{name}", lang)


def _needs(figure: str, base: Baseline, lang: str) -> str | None:
    """The plain words for a figure that lacks its input (margin, CPA), or None."""
    margin, cost = base.gross_margin is None, base.cpa is None
    if figure in ("gross_margin", "gross_profit", "gross_profit_change") and margin:
        return t(f"{K}.needs_margin", lang)
    if figure in ("cpa", "acquisition_cost") and cost:
        return t(f"{K}.needs_cpa", lang)
    if figure == "profit_after_acquisition" and (margin or cost):
        return t(f"{K}.needs_margin" if margin else f"{K}.needs_cpa", lang)
    return None


def scenario_table(frame: pd.DataFrame, base: Baseline, changes: dict[str, dict[str, float]],
                   defaults: dict[str, frozenset[str]], goals: pd.DataFrame, lang: str, currency: str,
                   f2_window: int = 90) -> pd.DataFrame:
    """Rows: each driver as assumed (value and change, a default marked ※), then next period's
    results, the goals and the profit; columns: the baseline period, then each scenario of frame.
    A row whose input is missing (no margin, no CPA) is left out: scenario_notes says once what
    would complete it, instead of a row of "needs the margin" in every column."""
    names = list(frame.index)
    rows: list[list[str]] = []
    for driver, figure in DRIVER_ROWS:
        label = t(f"{K}.drivers.{driver}", lang, window=f2_window)
        if _needs(driver, base, lang):
            continue
        cells = []
        for name in names:
            if driver == "retention" and base.retention is None:
                cells.append(t(f"{K}.not_measured", lang))
                continue
            value = "" if figure is None else _value(figure, frame.loc[name, figure], currency)
            if name == "baseline":
                cells.append(value if figure else _value("aov", frame.loc[name, "aov"], currency))
                continue
            step = change_text(driver, changes[name][driver]) + (DEFAULT_MARK if driver in defaults.get(name, ()) else "")
            cells.append(f"{value} ({step})" if value else step)
        rows.append([t(f"{K}.assumption", lang, label=label), *cells])
    for figure in RESULT_ROWS:
        rows.append([t(f"{K}.figures.{figure}", lang),
                     *[MISSING if name == "baseline" and figure.endswith("_change")
                       else _value(figure, frame.loc[name, figure], currency) for name in names]])
    for _, goal in goals.iterrows():  # one row per goal the model projects
        label = goal["label"] if isinstance(goal["label"], str) and goal["label"] else metric_name(goal["metric"], lang, f2_window)
        rows.append([t(f"{K}.goal_row", lang, goal=label, target=metric_value(goal["metric"], goal["target"], currency),
                       deadline=fmt_date(goal["deadline"], lang)),
                     *[_goal_cell(goal["metric"], goal[name], lang, currency) for name in names]])
    for figure in PROFIT_ROWS:
        if _needs(figure, base, lang):
            continue
        rows.append([t(f"{K}.figures.{figure}", lang),
                     *[MISSING if name == "baseline" and figure.endswith("_change")
                       else _value(figure, frame.loc[name, figure], currency) for name in names]])
    columns = [t(f"{K}.col_item", lang), *[column_name(name, lang, base.months) for name in names]]
    return pd.DataFrame(rows, columns=columns)


def _goal_cell(metric: str, gap: Any, lang: str, currency: str) -> str:
    """Reached (with the margin) or short (by how much) of a goal."""
    if _missing(gap):
        return MISSING
    if metric in ("f2_rate",):
        amount = fmt_num(abs(gap) * 100, 1) + " pt"
    elif metric in ("revenue", "aov"):
        amount = fmt_money(abs(gap), currency)
    elif metric == "orders_per_customer":
        amount = fmt_num(abs(gap), 2)
    else:
        amount = fmt_int(abs(gap))
    return t(f"{K}.reached" if gap >= 0 else f"{K}.short", lang, amount=amount)


def unavailable(base: Baseline, lang: str) -> str | None:
    """Why no scenario is computed: the data does not cover the baseline period, or it cannot tell
    its new customers from existing ones (the scenarios add the two up); None when they can be."""
    if not base.covered:
        return t("strategy.scenarios.partial", lang, months=base.months)
    if not base.split:
        return t("strategy.scenarios.not_split", lang, months=base.months)
    return None


def scenario_notes(base: Baseline, defaults: dict[str, frozenset[str]], lang: str) -> list[str]:
    """What the table assumes and what is missing: the model in one sentence, the default mark,
    retention not measured, the gross margin and the CPA not given (each with the setting, a
    sentence the report moves to the consultant's notes)."""
    notes = [t(f"{K}.model_note", lang, months=base.months)]
    if any(defaults.values()):
        notes.append(t(f"{K}.default_note", lang, mark=DEFAULT_MARK))
    if base.retention is None:
        notes.append(t(f"{K}.retention_note", lang, months=base.months))
    if base.gross_margin is None:
        notes.append(t(f"{K}.margin_missing", lang))
    if base.cpa is None:
        notes.append(t(f"{K}.cpa_missing", lang))
    return notes


def scenario_takeaway(frame: pd.DataFrame, base: Baseline, goals: pd.DataFrame, lang: str, currency: str) -> str:
    """The expected scenario's revenue (and gross profit) against the baseline, and which scenarios
    reach the first revenue goal."""
    money = lambda value: fmt_money(value, currency, lang, prose=True)  # noqa: E731
    expected = frame.loc["expected"]
    parts = [t(f"{K}.takeaway", lang, months=base.months, revenue=money(expected["revenue"]),
               change=metric_change("revenue", expected["revenue_change"]))]
    if not _missing(expected["gross_profit"]):
        parts.append(t(f"{K}.takeaway_profit", lang, profit=money(expected["gross_profit"]),
                       change=metric_change("revenue", expected["gross_profit_change"])))
    revenue_goals = goals[goals["metric"] == "revenue"] if len(goals) else goals
    if len(revenue_goals):
        goal = revenue_goals.iloc[0]
        reaching = [t(f"{K}.names.{name}", lang).lower() for name in SCENARIOS if name in goal and goal[name] >= 0]
        target, gap = money(goal["target"]), goal["expected"]
        if gap >= 0:
            parts.append(t(f"{K}.takeaway_goal_expected", lang, target=target, amount=money(gap)))
        elif reaching:
            parts.append(t(f"{K}.takeaway_goal", lang, target=target, amount=money(-gap),
                           scenarios=t("common.list_separator", lang).join(reaching)))
        else:
            parts.append(t(f"{K}.takeaway_goal_none", lang, target=target, short=money(-goal.get(SCENARIOS[-1], gap))))
    return t("strategy.sentence_gap", lang).join(parts)


METRIC_FIGURES = ("new_customers", "existing_customers", "new_revenue", "existing_revenue", "revenue",
                  "gross_profit", "acquisition_cost", "profit_after_acquisition")


def scenario_metrics(frame: pd.DataFrame) -> dict[str, Any]:
    """metrics.json's strategy.scenarios: per row (baseline, each scenario) its headline figures
    (None: the input is missing, e.g. no gross margin)."""
    return {name: {k: None if _missing(frame.loc[name, k]) else float(frame.loc[name, k]) for k in METRIC_FIGURES}
            for name in frame.index}


__all__ = ["DEFAULT_MARK", "change_text", "column_name", "scenario_metrics", "scenario_notes", "scenario_table",
           "scenario_takeaway"]
