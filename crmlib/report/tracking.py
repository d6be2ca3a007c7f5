"""Tracking (定点観測): what changed since the client's last report, at the top of the index page.

The earlier report is the latest complete one of the same client before this as-of
(crmlib.history.earlier_report). Compared are:
- the headline KPIs of both reports' periods (diagnosis.kpis.current of each metrics.json, the
  12 months before each as-of) and the 90-day F2 rate; a rate on fewer than the coverage floor's
  customers is shown as "too few customers (n)", never as a number or a change;
- segment migration between the two dates: the loyalty-ladder class of every customer at the
  earlier as-of and now. It is recomputed from the current data with today's yardstick
  (crmlib.store.segments.migration), not read from the earlier report: that report kept counts
  only (no per-customer classes: client data stays out of the report folder), its processed
  data has been replaced by the new export, and a yardstick fixed once makes a move the
  customer's own change, not a shift of the crowd's quantiles or a late correction of the data;
- goal progress: each goal of the earlier report (its baseline, target and yearly pace needed)
  against the change seen since, annualised: on track, behind, or met;
- experiments: each experiment of the new report and whether its result is new since the
  earlier report (absent there, or not yet conclusive there).
Everything is counts and aggregates; no customer id reaches the section.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..errors import CrmError
from ..history import PastReport, earlier_report
from ..i18n import t
from ..metrics import metric_at
from ..numbers import ratio
from ..periods import Span
from ..style import fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from ..wording import pct_change, point_change

# The KPIs compared: (metric in diagnosis.kpis.current, kind, the KPI that is its n; "" = none)
KPIS: tuple[tuple[str, str, str], ...] = (
    ("revenue", "money", ""),
    ("customers", "count", ""),
    ("new_customers", "count", ""),
    ("existing_customers", "count", ""),
    ("orders", "count", ""),
    ("aov", "money", "orders"),
    ("repeat_rate", "rate", "customers"),
)
F2_WINDOW = "90"  # the diagnosis' F2 window (days) compared
SPLIT_METRICS = frozenset({"new_customers", "existing_customers"})
RATE_GOALS = {"f2_rate": "new_customers", "repeat_rate": "customers"}  # goal -> the KPI that is its n
MIGRATION_SCHEME = "ladder"  # five classes: a matrix a reader takes in at a glance
DEFAULT_FLOOR = 30


def _floor(metrics: dict[str, Any]) -> int:
    """The sample floor the report's coverage measured (coverage.min_customers)."""
    value = metric_at(metrics, "coverage.min_customers") or metric_at(metrics, "diagnosis.min_customers")
    return int(value) if value else DEFAULT_FLOOR


def _date(text: Any) -> dt.date | None:
    """An ISO date (or timestamp) text as a date, None when it is not one."""
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


# ---- the comparison (plain JSON, recorded in metrics.json under `tracking`) ----------------

def kpi_changes(before: dict[str, Any], after: dict[str, Any], floor: int) -> list[dict[str, Any]]:
    """One row per KPI: the value in each report, its n (for rates and averages), and the change
    (relative for amounts and counts, points for rates); `shown` False when a rate's n is below
    the floor in either report, or the new/existing split was not observable in either."""
    old, new = metric_at(before, "diagnosis.kpis.current"), metric_at(after, "diagnosis.kpis.current")
    rows = []
    for metric, kind, n_of in KPIS:
        b, a = old.get(metric), new.get(metric)
        if b is None or a is None:
            continue
        n_b, n_a = (old.get(n_of), new.get(n_of)) if n_of else (None, None)
        shown = True
        if metric in SPLIT_METRICS:
            shown = bool(old.get("split_observable", True) and new.get("split_observable", True))
        if kind == "rate":
            shown = shown and min(n_b or 0, n_a or 0) >= floor
        rows.append({"metric": metric, "kind": kind, "before": b, "after": a, "n_before": n_b, "n_after": n_a,
                     "change": (a - b) if kind == "rate" else _relative(a, b), "shown": shown})
    f2_b, f2_a = metric_at(before, f"diagnosis.f2_conversion.{F2_WINDOW}"), metric_at(after, f"diagnosis.f2_conversion.{F2_WINDOW}")
    if f2_b and f2_a and f2_b.get("rate") is not None and f2_a.get("rate") is not None:
        rows.append({"metric": "f2_rate", "kind": "rate", "before": f2_b["rate"], "after": f2_a["rate"],
                     "n_before": f2_b["eligible"], "n_after": f2_a["eligible"],
                     "change": f2_a["rate"] - f2_b["rate"],
                     "shown": min(f2_b["eligible"], f2_a["eligible"]) >= floor})
    return rows


def _relative(new: Any, old: Any) -> float | None:
    """new / old - 1, None when old is zero or missing."""
    change = ratio(new, old)
    return None if change is None else change - 1.0


def kpi_windows(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The period each report's KPIs cover (start included, end excluded)."""
    return {name: {"start": str(metric_at(m, "diagnosis.kpis.current.start")), "end": str(metric_at(m, "diagnosis.kpis.current.end"))}
            for name, m in (("before", before), ("after", after))}


def per_year(metric: str, before: float, after: float, months: float) -> float | None:
    """The change from before to after as a yearly pace (points for rates, compounded otherwise),
    the way the strategy chapter states the pace a goal needs."""
    if months <= 0:
        return None
    if metric in RATE_GOALS:
        return (after - before) * 12.0 / months
    if not before or before <= 0 or after < 0:
        return None
    return (after / before) ** (12.0 / months) - 1.0


def goal_progress(before: dict[str, Any], after: dict[str, Any], months: float, floor: int) -> list[dict[str, Any]]:
    """Each goal of the earlier report: its baseline then and now, its target, the yearly pace it
    needed and the pace seen since; status 'met', 'on_track', 'behind', 'too_few' (a rate on fewer
    customers than the floor) or 'unknown'."""
    now = {g["metric"]: g for g in reversed(metric_at(after, "strategy.goals") or [])}
    rows = []
    for goal in metric_at(before, "strategy.goals") or []:
        metric = goal.get("metric")
        if metric not in now or any(goal.get(k) is None for k in ("baseline", "target")):
            continue
        b, a, target = float(goal["baseline"]), now[metric].get("baseline"), float(goal["target"])
        if a is None:
            continue
        a = float(a)
        needed = goal.get("required_per_year")
        actual = per_year(metric, b, a, months)
        n_of = RATE_GOALS.get(metric)
        n_b = metric_at(before, f"diagnosis.kpis.current.{n_of}") if n_of else None
        n_a = metric_at(after, f"diagnosis.kpis.current.{n_of}") if n_of else None
        direction = (target > b) - (target < b)
        if n_of and min(n_b or 0, n_a or 0) < floor:
            status = "too_few"
        elif direction == 0 or (a - target) * direction >= 0:
            status = "met"
        elif needed is None or actual is None:
            status = "unknown"
        else:
            status = "on_track" if (actual - float(needed)) * direction >= 0 else "behind"
        rows.append({"metric": metric, "before": b, "after": a, "target": target, "needed_per_year": needed,
                     "actual_per_year": actual, "n_before": n_b, "n_after": n_a, "status": status})
    return rows


def conclusive(experiment: dict[str, Any], floor: int) -> bool:
    """The experiment shows an effect on buying: its 95% interval excludes zero, on at least the
    floor's customers in each group."""
    low, high = experiment.get("low"), experiment.get("high")
    if low is None or high is None:
        return False
    n = min(experiment.get("n_treated") or 0, experiment.get("n_control") or 0)
    return n >= floor and (low > 0 or high < 0)


def experiment_changes(before: dict[str, Any], after: dict[str, Any], floor: int) -> list[dict[str, Any]]:
    """Each experiment of the new report with its status since the earlier one: 'verified' (its
    result is new: absent there or not yet conclusive, conclusive now), 'pending' (not
    conclusive now) or 'confirmed' (conclusive in both: the new report's figures update it)."""
    earlier = {e.get("name"): e for e in metric_at(before, "strategy.experiments") or []}
    rows = []
    for exp in metric_at(after, "strategy.experiments") or []:
        old = earlier.get(exp.get("name"))
        now_ok = conclusive(exp, floor)
        status = "pending" if not now_ok else ("confirmed" if old and conclusive(old, floor) else "verified")
        rows.append({
            "name": exp.get("name"), "status": status, "in_earlier": old is not None,
            "difference": exp.get("difference"), "low": exp.get("low"), "high": exp.get("high"),
            "n": (exp.get("n_treated") or 0) + (exp.get("n_control") or 0),
            "n_earlier": None if old is None else (old.get("n_treated") or 0) + (old.get("n_control") or 0),
            "window_days": exp.get("window_days"),
        })
    return rows


def ladder_migration(orders_path: Path, as_of: dt.date, earlier: dt.date, settings: Any) -> dict[str, Any] | None:
    """Customers by loyalty-ladder class at the earlier as-of (rows, '_new' = no order yet) and
    now (columns), recomputed from the current data with today's yardstick; None when the
    customers cannot be classified (no customers before the as-of)."""
    from ..store.segments.classify import segment_customers
    from ..store.segments.migration import segment_migration

    try:
        segmentation = segment_customers(orders_path, as_of, settings)
        migration = segment_migration(segmentation, days_before=(as_of - earlier).days)
    except CrmError:
        return None
    matrix = migration.matrix(MIGRATION_SCHEME)
    return {
        "scheme": MIGRATION_SCHEME, "start": earlier.isoformat(), "end": as_of.isoformat(),
        "classes": [str(c) for c in matrix.columns],  # best first (metrics.json sorts the keys below)
        "matrix": {row: {col: int(matrix.loc[row, col]) for col in matrix.columns} for row in matrix.index},
        "moves": {k: int(v) for k, v in migration.moves(MIGRATION_SCHEME).items()},
    }


def compare_reports(previous: PastReport, current: dict[str, Any], *, orders_path: Path | None,
                    segments: Any = None) -> dict[str, Any]:
    """The `tracking` section of metrics.json: the earlier report and every comparison."""
    as_of = _date(metric_at(current, "report.as_of"))
    floor = _floor(current)
    months = (as_of - previous.as_of).days / (365.25 / 12)
    migration = None
    if orders_path is not None and Path(orders_path).is_file():
        migration = ladder_migration(Path(orders_path), as_of, previous.as_of, segments)
    return {
        "previous": {"as_of": previous.as_of.isoformat(), "folder": f"{previous.folder.parent.name}/{previous.folder.name}"},
        "months": months, "min_customers": floor,
        "windows": kpi_windows(previous.metrics, current),
        "kpis": kpi_changes(previous.metrics, current, floor),
        "migration": migration,
        "goals": goal_progress(previous.metrics, current, months, floor),
        "experiments": experiment_changes(previous.metrics, current, floor),
    }


def tracking_section(client_dir: Path, current: dict[str, Any], *, orders_path: Path | None,
                     segments: Any = None) -> dict[str, Any]:
    """The `tracking` section for a report: the comparison with the client's earlier report, or
    {"previous": None} when there is none."""
    as_of = _date(metric_at(current, "report.as_of"))
    previous = earlier_report(client_dir, as_of) if as_of else None
    if previous is None:
        return {"previous": None}
    if metric_at(current, "diagnosis.kpis.current") is None:  # this report's diagnosis did not complete
        return {"previous": {"as_of": previous.as_of.isoformat(),
                             "folder": f"{previous.folder.parent.name}/{previous.folder.name}"}, "incomplete": True}
    return compare_reports(previous, current, orders_path=orders_path, segments=segments)


# ---- the words and tables of the section ------------------------------------------------------

def _value(kind: str, value: Any, currency: str, lang: str) -> str:
    """A KPI's value as the chapters format it (money, share or count)."""
    if kind == "money":
        return fmt_money(value, currency, lang)
    if kind == "rate":
        return fmt_pct(value)
    return fmt_int(value)


def _kpi_label(metric: str, lang: str) -> str:
    """A KPI's name in the table."""
    if metric == "f2_rate":
        return t("tracking.kpi.f2_rate", lang, window=F2_WINDOW)
    return t(f"tracking.kpi.{metric}", lang)


def _kpi_rows(tracking: dict[str, Any], currency: str, lang: str) -> list[list[str]]:
    """The KPI table's rows: name, then, now, change; a rate below the floor shows only its n."""
    floor = tracking["min_customers"]
    rows = []
    for row in tracking["kpis"]:
        cells = [_kpi_label(row["metric"], lang)]
        for which in ("before", "after"):
            n = row[f"n_{which}"]
            if row["kind"] == "rate" and (n or 0) < floor:
                cells.append(t("tracking.too_few", lang, n=fmt_int(n or 0)))
            elif row["kind"] == "rate":
                cells.append(t("tracking.with_n", lang, value=fmt_pct(row[which]), n=fmt_int(n)))
            else:
                cells.append(_value(row["kind"], row[which], currency, lang))
        if not row["shown"]:
            change = t("tracking.not_compared", lang)
        elif row["kind"] == "rate":
            change = point_change(row["after"], row["before"]) or "-"
        else:
            change = pct_change(row["after"], row["before"]) or "-"
        cells.append(change)
        rows.append(cells)
    return rows


def _span(window: dict[str, str], lang: str) -> str:
    """A KPI window as its first and last day."""
    start, end = _date(window["start"]), _date(window["end"])
    if start is None or end is None:
        return "-"
    span = Span(start, end)
    return t("tracking.span", lang, start=fmt_date(span.start, lang), end=fmt_date(span.last_day, lang))


def _pace(metric: str, value: Any, lang: str) -> str:
    """A yearly pace: points a year for rates, percent a year otherwise."""
    if value is None:
        return "-"
    if metric in RATE_GOALS:
        return t("tracking.points_per_year", lang, points=fmt_num(float(value) * 100, 1))
    return t("tracking.pct_per_year", lang, pct=fmt_pct(value))


def _goal_value(metric: str, value: Any, n: Any, currency: str, lang: str) -> str:
    """A goal's value; a rate with the customers of the period it is about (metrics.json keeps no
    denominator of the strategy chapter's rates, so the period's new customers or customers)."""
    if metric in RATE_GOALS:
        text = fmt_pct(value)
        return t(f"tracking.goals.n_{metric}", lang, value=text, n=fmt_int(n)) if n is not None else text
    if metric == "revenue":
        return fmt_money(value, currency, lang)
    return fmt_int(value)


def _goal_label(metric: str, lang: str) -> str:
    """A goal's metric as the strategy chapter names it."""
    return t(f"strategy.metrics.{metric}", lang, window=F2_WINDOW)


def _migration_block(migration: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The migration matrix (new first, then the stages best first) and its moves sentence."""
    if not migration:
        return None
    classes = migration["classes"]
    names = {c: t(f"segments.ladder.names.{c}", lang) for c in classes}
    rows = []
    for start in [key for key in migration["matrix"] if key.startswith("_")] + classes:
        counts = migration["matrix"][start]
        label = t("tracking.migration.new_row", lang) if start.startswith("_") else names[start]
        rows.append([label, *(fmt_int(counts[c]) for c in classes), fmt_int(sum(counts.values()))])
    moves = migration["moves"]
    return {
        "title": t("tracking.migration.title", lang),
        "lead": t("tracking.migration.lead", lang, start=fmt_date(_date(migration["start"]), lang),
                  end=fmt_date(_date(migration["end"]), lang)),
        "head": [t("tracking.migration.col_from", lang), *(names[c] for c in classes),
                 t("tracking.migration.col_total", lang)],
        "rows": rows,
        "moves": t("tracking.migration.moves", lang, **{k: fmt_int(v) for k, v in moves.items()}),
    }


def _experiment_line(row: dict[str, Any], lang: str) -> str:
    """One experiment's sentence by its status since the earlier report."""
    values = {"name": row["name"], "n": fmt_int(row["n"]),
              "difference": point_change(row["difference"], 0.0) if row["difference"] is not None else "-",
              "low": fmt_num((row["low"] or 0) * 100, 1), "high": fmt_num((row["high"] or 0) * 100, 1),
              "n_earlier": fmt_int(row["n_earlier"] or 0), "window": fmt_int(row["window_days"] or 0)}
    status = row["status"]
    if status == "verified":
        key = "tracking.experiments.verified_since" if row["in_earlier"] else "tracking.experiments.verified_new"
    else:
        key = f"tracking.experiments.{status}"
    return t(key, lang, **values)


def tracking_block(tracking: dict[str, Any] | None, *, lang: str, currency: str) -> dict[str, Any] | None:
    """What the index page shows at its top: the comparison's tables and sentences, or one line
    saying what would complete it when there is no earlier report (None: no tracking recorded)."""
    if tracking is None:
        return None
    block: dict[str, Any] = {"title": t("tracking.title", lang)}
    if not tracking.get("previous"):
        block["empty"] = t("tracking.no_previous", lang)
        return block
    previous = _date(tracking["previous"]["as_of"])
    if tracking.get("incomplete"):
        block["empty"] = t("tracking.incomplete", lang, date=fmt_date(previous, lang))
        return block
    block["lead"] = t("tracking.lead", lang, date=fmt_date(previous, lang), folder=tracking["previous"]["folder"],
                      months=fmt_num(tracking["months"], 1), floor=fmt_int(tracking["min_customers"]))
    block["kpi_title"] = t("tracking.kpi.title", lang)
    block["kpi_head"] = [t("tracking.kpi.col_metric", lang),
                         t("tracking.kpi.col_before", lang, span=_span(tracking["windows"]["before"], lang)),
                         t("tracking.kpi.col_after", lang, span=_span(tracking["windows"]["after"], lang)),
                         t("tracking.kpi.col_change", lang)]
    block["kpi_rows"] = _kpi_rows(tracking, currency, lang)
    block["migration"] = _migration_block(tracking.get("migration"), lang)
    if block["migration"] is None:
        block["migration_empty"] = t("tracking.migration.empty", lang)
    block["goal_title"] = t("tracking.goals.title", lang)
    if tracking["goals"]:
        block["goal_head"] = [t(f"tracking.goals.col_{c}", lang) for c in
                              ("goal", "before", "after", "target", "needed", "actual", "status")]
        block["goal_rows"] = [
            [_goal_label(g["metric"], lang), _goal_value(g["metric"], g["before"], g["n_before"], currency, lang),
             _goal_value(g["metric"], g["after"], g["n_after"], currency, lang),
             _goal_value(g["metric"], g["target"], None, currency, lang),
             _pace(g["metric"], g["needed_per_year"], lang),
             _pace(g["metric"], g["actual_per_year"], lang) if g["status"] != "too_few" else "-",
             t(f"tracking.goals.status_{g['status']}", lang)]
            for g in tracking["goals"]
        ]
    else:
        block["goal_empty"] = t("tracking.goals.empty", lang)
    block["experiment_title"] = t("tracking.experiments.title", lang)
    block["experiment_lines"] = [_experiment_line(e, lang) for e in tracking["experiments"]] or [
        t("tracking.experiments.empty", lang)]
    return block


__all__ = ["compare_reports", "conclusive", "experiment_changes", "goal_progress", "kpi_changes", "ladder_migration",
           "per_year", "tracking_block", "tracking_section"]
