"""The action plan's tables, sentences, workbook and metrics (section 4.1 and the plan vs actual of
step 5): what the page shows, what exports/action_plan.xlsx holds, what metrics.json records.

Money columns are gross profit when the gross margin is known, else revenue, labelled so; a
sentence naming a setting (ltv.gross_margin, strategy.plan.measures) is routed to the
consultant notes by the report (crmlib/report/notes.py), never shown to the client.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..i18n import t
from ..store.segments.classify import Segmentation
from ..store.segments.names import class_names
from ..style import MISSING, fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from .plan import DUE

K = "strategy.plan"
YEAR_DAYS = 365  # a measure that needs more than a year of lists to verify is pooled, not repeated


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))


def _pt(value: Any, signed: bool = True) -> str:
    if _missing(value):
        return MISSING
    text = fmt_num(float(value) * 100, 1)
    return f"+{text}" if signed and not text.startswith("-") else text


def _range(low: Any, high: Any, lang: str, unit: str = " pt") -> str:
    if _missing(low) or _missing(high):
        return MISSING
    return t("strategy.interval", lang, low=_pt(low) + unit, high=_pt(high) + unit)


def segment_label(seg: Segmentation, segment: str, lang: str) -> str:
    """The display name of a plan list (scheme:class, or the due list)."""
    if segment == DUE:
        return t(f"{K}.due", lang)
    scheme, key = segment.split(":", 1)
    return class_names(seg, scheme, lang).get(key, segment)


def _money_range(low: Any, high: Any, currency: str, lang: str) -> str:
    if _missing(low) or _missing(high):
        return MISSING
    if round(float(low)) == round(float(high)):
        return fmt_money(low, currency)
    return t("strategy.interval", lang, low=fmt_money(low, currency), high=fmt_money(high, currency))


def _roi_range(low: Any, high: Any, lang: str) -> str:
    if _missing(low) or _missing(high):
        return MISSING
    return t("strategy.interval", lang, low=fmt_pct(low, 0), high=fmt_pct(high, 0))


def _period(start: Any, end: Any, lang: str) -> str:
    if _missing(start) and _missing(end):
        return MISSING
    return t("diagnosis.common.span", lang, start=MISSING if _missing(start) else fmt_date(start, lang),
             end=MISSING if _missing(end) else fmt_date(end, lang))


def uplift_text(r: pd.Series, lang: str) -> str:
    """The uplift range with its source: verified by the named trial, or an assumption."""
    if r["uplift_source"] is None or _missing(r["uplift_source"]):
        return MISSING
    text = _range(r["uplift_low"], r["uplift_high"], lang)
    if r["uplift_source"] == "verified":
        return t(f"{K}.verified", lang, range=text, trial=r["trial"])
    return t(f"{K}.assumed", lang, range=text)


def plan_lead(frame: pd.DataFrame, lang: str) -> str:
    """What the plan holds: the horizon, the control hold-out, where the editable plan is."""
    return t(f"{K}.lead", lang, days=frame.attrs.get("horizon", 90), share=fmt_pct(frame.attrs.get("control_share"), 0))


def plan_table(frame: pd.DataFrame, seg: Segmentation, lang: str, currency: str) -> pd.DataFrame:
    """One row per measure: target, customers (contacted / control), baseline, uplift with its
    source, cost, expected gross profit (revenue without a margin), ROI, break-even uplift,
    customers needed to verify, owner and period."""
    with_margin = frame.attrs.get("margin") is not None
    rows = []
    for _, r in frame.iterrows():  # one row per measure (a handful)
        money = ("profit" if with_margin else "revenue")
        needed = MISSING if _missing(r["needed"]) else t(f"{K}.{'enough' if r['verifiable'] else 'short'}", lang,
                                                          needed=fmt_int(r["needed"]))
        rows.append([
            r["name"], segment_label(seg, r["segment"], lang),
            t(f"{K}.customers", lang, n=fmt_int(r["customers"]), treated=fmt_int(r["treated"]),
              control=fmt_int(r["control"])),
            fmt_pct(r["baseline"]), uplift_text(r, lang),
            MISSING if _missing(r["cost"]) else fmt_money(r["cost"], currency),
            _money_range(r[f"{money}_low"], r[f"{money}_high"], currency, lang),
            _roi_range(r["roi_low"], r["roi_high"], lang),
            _pt(r["break_even"], signed=True) + ("" if _missing(r["break_even"]) else " pt"),
            needed, r["owner"] or MISSING, _period(r["start"], r["end"], lang),
        ])
    cols = [t(f"{K}.col_{c}", lang) for c in ("measure", "target", "customers")]
    cols += [t(f"{K}.col_baseline", lang, days=frame.attrs.get("horizon", 90)), t(f"{K}.col_uplift", lang),
             t(f"{K}.col_cost", lang), t(f"{K}.col_{'profit' if with_margin else 'revenue'}", lang)]
    cols += [t(f"{K}.col_{c}", lang) for c in ("roi", "break_even", "needed", "owner", "period")]
    return pd.DataFrame(rows, columns=cols)


def _names(frame: pd.DataFrame, lang: str) -> str:
    return t("common.list_separator", lang).join(frame["name"].astype("str"))


def plan_notes(frame: pd.DataFrame, lang: str) -> list[str]:
    """What the plan cannot say yet and why, and each measure's verification verdict. Sentences
    that name a setting go to the consultant notes (the report routes them)."""
    days = frame.attrs.get("horizon", 90)
    notes = []
    if frame.attrs.get("margin") is None:
        notes.append(t(f"{K}.no_margin", lang))
    no_cost = frame[frame["cost"].isna()]
    if len(no_cost):
        notes.append(t(f"{K}.no_cost", lang, names=_names(no_cost, lang)))
    no_uplift = frame[frame["uplift_source"].isna()]
    if len(no_uplift):
        notes.append(t(f"{K}.no_uplift", lang, names=_names(no_uplift, lang)))
    share = fmt_pct(frame.attrs.get("control_share", 0.1), 0)
    for _, r in frame.iterrows():  # one verdict per measure
        if r["trial_status"] == "missing":
            notes.append(t(f"{K}.trial_missing", lang, name=r["name"], trial=r["trial"]))
        elif r["trial_status"] in ("unclear", "pending") and r["uplift_source"] == "assumed":
            notes.append(t(f"{K}.trial_unclear", lang, name=r["name"], trial=r["trial"]))
        if _missing(r["uplift"]):
            continue
        if _missing(r["baseline"]):
            notes.append(t(f"{K}.no_baseline", lang, name=r["name"], days=days, n=fmt_int(r["baseline_n"])))
        elif _missing(r["needed"]):
            continue
        elif r["verifiable"]:
            notes.append(t(f"{K}.verifiable", lang, name=r["name"], n=fmt_int(r["customers"]),
                           needed=fmt_int(r["needed"]), uplift=_pt(r["uplift"], signed=False)))
        else:  # repeat the measure over rounds of the horizon, up to a year; beyond, pool it
            rounds = math.ceil(r["needed"] / r["customers"]) if r["customers"] else None
            key = "too_few" if rounds is not None and rounds * days <= YEAR_DAYS else "too_few_pool"
            notes.append(t(f"{K}.{key}", lang, name=r["name"], n=fmt_int(r["customers"]), share=share,
                           needed=fmt_int(r["needed"]), even=fmt_int(r["needed_even"]),
                           uplift=_pt(r["uplift"], signed=False), days=days, rounds=fmt_int(rounds),
                           detectable=_pt(r["detectable"], signed=False)))
    return notes


def plan_totals(frame: pd.DataFrame) -> dict[str, Any]:
    """Customers, cost, revenue, gross profit and ROI over the measures that have both an uplift
    and a cost (the expected, middle uplift); counts of measures in each state."""
    complete = frame[frame["cost"].notna() & frame["revenue"].notna()]
    cost = float(complete["cost"].sum()) if len(complete) else None
    revenue = float(complete["revenue"].sum()) if len(complete) else None
    profit = float(complete["profit"].sum()) if len(complete) and complete["profit"].notna().all() else None
    return {
        "measures": len(frame), "customers": int(frame["customers"].sum()), "complete": len(complete),
        "cost": cost, "revenue": revenue, "gross_profit": profit,
        "roi": (profit - cost) / cost if profit is not None and cost else None,
        "verifiable": int((frame["verifiable"] == True).sum()),
        "margin": frame.attrs.get("margin"),
    }


def plan_takeaway(frame: pd.DataFrame, lang: str, currency: str) -> str:
    """Measures and customers, and the expected gross profit and ROI of those with uplift and cost."""
    s = plan_totals(frame)
    args = dict(count=fmt_int(s["measures"]), customers=fmt_int(s["customers"]))
    if not s["complete"]:
        return t(f"{K}.takeaway_open", lang, **args)
    if s["gross_profit"] is None:
        return t(f"{K}.takeaway_revenue", lang, **args, cost=fmt_money(s["cost"], currency, lang, prose=True),
                 revenue=fmt_money(s["revenue"], currency, lang, prose=True))
    return t(f"{K}.takeaway", lang, **args, cost=fmt_money(s["cost"], currency, lang, prose=True),
             profit=fmt_money(s["gross_profit"], currency, lang, prose=True), roi=fmt_pct(s["roi"], 0))


def plan_metrics(frame: pd.DataFrame) -> dict[str, Any]:
    """The plan's headline figures for metrics.json (strategy.plan): totals and one entry per measure."""
    def num(value: Any) -> float | None:
        return None if _missing(value) else float(value)

    measures = [{
        "name": r["name"], "segment": r["segment"], "customers": int(r["customers"]), "control": int(r["control"]),
        "uplift": num(r["uplift"]), "uplift_low": num(r["uplift_low"]), "uplift_high": num(r["uplift_high"]),
        "uplift_source": None if _missing(r["uplift_source"]) else r["uplift_source"],
        "cost": num(r["cost"]), "revenue": num(r["revenue"]), "gross_profit": num(r["profit"]), "roi": num(r["roi"]),
        "break_even": num(r["break_even"]), "needed": None if _missing(r["needed"]) else int(r["needed"]),
        "verifiable": None if _missing(r["verifiable"]) else bool(r["verifiable"]),
    } for _, r in frame.iterrows()]  # a handful of measures
    # the measure with the largest expected return net of its cost (gross profit; revenue without a margin)
    complete = [m for m in measures if m["revenue"] is not None and m["cost"] is not None and m["customers"] > 0]
    money = "gross_profit" if frame.attrs.get("margin") is not None else "revenue"
    top = max(complete, key=lambda m: m[money] - m["cost"]) if complete else None
    return {**plan_totals(frame), "horizon_days": frame.attrs.get("horizon"), "measure_list": measures,
            "best": top}


XLSX_COLUMNS = ("measure", "target", "segment", "customers", "treated", "control", "baseline", "uplift_low",
                "uplift_high", "source", "value", "cost_per_contact", "fixed_cost", "cost", "revenue", "profit", "roi",
                "break_even", "needed", "owner", "start", "end", "status", "list")


def workbook_sheet(frame: pd.DataFrame, seg: Segmentation, files: list[str], lang: str) -> pd.DataFrame:
    """The plan sheet of action_plan.xlsx: numbers as numbers (rates as shares; gross profit and
    ROI empty without a margin), owner, start, end and a progress column for the consultant to
    fill in, and the list file of each measure; headers in the report's language."""
    def rounded(column: str, places: int) -> pd.Series:
        return frame[column].astype("float64").round(places)

    values = {
        "measure": frame["name"].astype("str"),
        "target": pd.Series([segment_label(seg, s, lang) for s in frame["segment"]], dtype="str"),
        "segment": frame["segment"].astype("str"),
        "customers": frame["customers"].astype("int64"), "treated": frame["treated"].astype("int64"),
        "control": frame["control"].astype("int64"), "baseline": rounded("baseline", 4),
        "uplift_low": rounded("uplift_low", 4), "uplift_high": rounded("uplift_high", 4),
        "source": pd.Series([t(f"{K}.xlsx.source_{v}", lang) if v in ("verified", "assumed") else ""
                             for v in frame["uplift_source"]], dtype="str"),
        "value": rounded("value", 0), "cost_per_contact": rounded("cost_per_contact", 2),
        "fixed_cost": rounded("fixed_cost", 0), "cost": rounded("cost", 0), "revenue": rounded("revenue", 0),
        "profit": rounded("profit", 0), "roi": rounded("roi", 3), "break_even": rounded("break_even", 4),
        "needed": frame["needed"].astype("float64"),
        "owner": frame["owner"].fillna("").astype("str"),
        "start": pd.Series([("" if _missing(d) else d.isoformat()) for d in frame["start"]], dtype="str"),
        "end": pd.Series([("" if _missing(d) else d.isoformat()) for d in frame["end"]], dtype="str"),
        "status": pd.Series([""] * len(frame), dtype="str"),
        "list": pd.Series(files, dtype="str"),
    }
    return pd.DataFrame({t(f"{K}.xlsx.{c}", lang): values[c].reset_index(drop=True) for c in XLSX_COLUMNS})


def vs_table(both: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Per plan measure in the log: planned and logged contacts and cost."""
    rows = [[r["name"], fmt_int(r["volume_plan"]), fmt_int(r["volume_actual"]),
             MISSING if _missing(r["cost_plan"]) else fmt_money(r["cost_plan"], currency),
             fmt_money(r["cost_actual"], currency)] for _, r in both.iterrows()]
    cols = [t(f"{K}.col_measure", lang)] + [t(f"{K}.col_{c}", lang) for c in
                                            ("planned_volume", "actual_volume", "planned_cost", "actual_cost")]
    return pd.DataFrame(rows, columns=cols)


def vs_takeaway(both: pd.DataFrame, lang: str, currency: str) -> str:
    """Planned against logged contacts and cost, summed over the measures in both."""
    return t(f"{K}.vs_takeaway", lang, count=fmt_int(len(both)), planned=fmt_int(both["volume_plan"].sum()),
             actual=fmt_int(both["volume_actual"].sum()), planned_cost=fmt_money(both["cost_plan"].sum(), currency, lang, prose=True),
             actual_cost=fmt_money(both["cost_actual"].sum(), currency, lang, prose=True))


__all__ = ["plan_lead", "plan_metrics", "plan_notes", "plan_table", "plan_takeaway", "plan_totals", "segment_label", "uplift_text",
           "vs_table", "vs_takeaway", "workbook_sheet"]
