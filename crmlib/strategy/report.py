"""Tables and sentences of the strategy notebook, in the report language (crmlib/messages/*/strategy.yaml)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..store.purchases import Span
from ..wording import span_text, times_text
from ..i18n import t
from ..store.segments.classify import Segmentation
from ..store.segments.names import class_names
from ..style import MISSING, fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from .settings import JOURNEY_ROWS, RATE_METRICS, Journey
from .tree import TREE_ROWS

K = "strategy"


def _signed(text: str) -> str:
    return text if text.startswith("-") or text == MISSING else f"+{text}"


def metric_name(metric: str, lang: str, f2_window: int = 90) -> str:
    """The display name of a goal metric or KPI tree node."""
    return t(f"{K}.metrics.{metric}", lang, window=f2_window)


def metric_value(metric: str, value: Any, currency: str, lang: str | None = None, prose: bool = False) -> str:
    """A metric's value as the report prints it (money, count, share or ratio); prose=True with
    a lang writes money as prose does (1.2億円, ¥17.1M), tables keep the exact amount."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if metric in RATE_METRICS:
        return fmt_pct(value)
    if metric in ("revenue", "aov", "new_revenue", "existing_revenue", "new_aov", "existing_aov"):
        return fmt_money(value, currency, lang, prose=prose)
    if metric in ("orders_per_customer", "new_frequency", "existing_frequency"):
        return times_text(value, lang) if lang else fmt_num(value, 2)
    return fmt_int(value)


SPLIT_METRICS = frozenset({"new_customers", "new_revenue", "new_orders", "new_frequency", "new_aov",
                           "existing_customers", "existing_revenue", "existing_orders", "existing_frequency",
                           "existing_aov", "existing_revenue_share"})


def shown(values: dict[str, Any], metric: str) -> Any:
    """A period's value of a metric as the report may show it: None for a new/existing figure of a
    period that starts inside the data's first look-back (split_observable false), where customers
    of many years look new (Online Retail's last 12 months: 3,753 "new" against 497 existing)."""
    if metric in SPLIT_METRICS and not values.get("split_observable", True):
        return None
    return values.get(metric)


def split_note(*periods: dict[str, Any], lang: str) -> str | None:
    """Why the new/existing rows read '—', when any of the periods cannot tell them apart."""
    if all(p.get("split_observable", True) for p in periods):
        return None
    return t(f"{K}.split_unobservable", lang)


def metric_change(metric: str, value: Any) -> str:
    """A required or observed change: points for rates, percent otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if metric in RATE_METRICS:
        return _signed(fmt_num(value * 100, 1)) + " pt"
    return _signed(fmt_pct(value))


# ---- 1. goals ---------------------------------------------------------------------------------

def goal_label(row: pd.Series, lang: str, f2_window: int) -> str:
    return row["label"] if isinstance(row["label"], str) and row["label"] else metric_name(row["metric"], lang, f2_window)


def goals_table(plan: pd.DataFrame, lang: str, currency: str, months: int, f2_window: int) -> pd.DataFrame:
    """One row per goal: goal, deadline, baseline, target, gap, change per year, best YoY, assessment."""
    k = f"{K}.goals"
    rows = [[
        goal_label(r, lang, f2_window), fmt_date(r["deadline"], lang),
        metric_value(r["metric"], r["baseline"], currency, lang), metric_value(r["metric"], r["target"], currency, lang),
        metric_change(r["metric"], r["gap"]) if r["metric"] in RATE_METRICS else
        (MISSING if pd.isna(r["gap"]) else _signed(metric_value(r["metric"], r["gap"], currency, lang))),
        metric_change(r["metric"], r["required_per_year"]), metric_change(r["metric"], r["largest_yoy"]),
        t(f"{K}.feasibility.{r['feasibility']}", lang),
    ] for _, r in plan.iterrows()]  # one row per goal (a handful), not per order
    columns = [t(f"{k}.col_goal", lang), t(f"{k}.col_deadline", lang), t(f"{k}.col_baseline", lang, months=months),
               t(f"{k}.col_target", lang), t(f"{k}.col_gap", lang), t(f"{k}.col_required", lang),
               t(f"{k}.col_largest", lang), t(f"{k}.col_feasibility", lang)]
    return pd.DataFrame(rows, columns=columns)


GOAL_METRICS = ("revenue", "orders", "customers", "new_customers", "existing_customers", "aov",
                "orders_per_customer", "repeat_rate", "f2_rate")


def baseline_table(values: dict[str, Any], lang: str, currency: str, months: int) -> pd.DataFrame:
    """Today's value of every goal metric (shown when no goal is set)."""
    f2 = int(values.get("f2_window", 90))
    rows = [[metric_name(m, lang, f2), metric_value(m, shown(values, m), currency, lang)] for m in GOAL_METRICS]
    return pd.DataFrame(rows, columns=[t(f"{K}.goals.col_metric", lang), t(f"{K}.goals.col_now", lang, months=months)])


def goals_takeaway(plan: pd.DataFrame, lang: str, currency: str, f2_window: int) -> str:
    """The first goal in one sentence: baseline, target, pace needed and the assessment."""
    if plan.empty:
        return t(f"{K}.goals.takeaway_none", lang)
    r = plan.iloc[0]
    return t(f"{K}.goals.takeaway", lang, goal=goal_label(r, lang, f2_window),
             baseline=metric_value(r["metric"], r["baseline"], currency, lang, prose=True),
             target=metric_value(r["metric"], r["target"], currency, lang, prose=True), deadline=fmt_date(r["deadline"], lang),
             pace=metric_change(r["metric"], r["required_per_year"]),
             assessment=t(f"{K}.feasibility.{r['feasibility']}", lang),
             largest=metric_change(r["metric"], r["largest_yoy"]))


def levers_table(levers: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Each lever alone: today, needed, change."""
    kinds = {"orders": "orders", "aov": "aov", "new_customers": "new_customers",
             "existing_frequency": "existing_frequency", "f2_points": "f2_rate"}
    rows = []
    for _, r in levers.iterrows():  # at most five levers
        metric = kinds[r["lever"]]
        if r["lever"] == "f2_points":
            needed = None if r["now"] is None or pd.isna(r["now"]) else r["now"] + r["delta"]
            change = metric_change("f2_rate", r["delta"])
        else:
            needed, change = r["needed"], metric_change(metric, r["relative"])
        rows.append([t(f"{K}.levers.names.{r['lever']}", lang), metric_value(metric, r["now"], currency, lang),
                     metric_value(metric, needed, currency, lang), change])
    k = f"{K}.levers"
    return pd.DataFrame(rows, columns=[t(f"{k}.col_lever", lang), t(f"{k}.col_now", lang),
                                       t(f"{k}.col_needed", lang), t(f"{k}.col_change", lang)])


def levers_takeaway(levers: pd.DataFrame, values: dict[str, Any], gap: float, lang: str, currency: str) -> str:
    """The revenue gap as extra orders and as F2 points."""
    by = levers.set_index("lever")
    if "f2_points" not in by.index:  # no new customers, or none told apart from existing ones
        return t(f"{K}.levers.takeaway_orders", lang, gap=fmt_money(gap, currency, lang, prose=True),
                 orders=fmt_int(by.loc["orders", "delta"]), aov=fmt_money(values["aov"], currency, lang, prose=True))
    points = by.loc["f2_points", "delta"]
    return t(f"{K}.levers.takeaway", lang, gap=fmt_money(gap, currency, lang, prose=True), orders=fmt_int(by.loc["orders", "delta"]),
             aov=fmt_money(values["aov"], currency, lang, prose=True), new_customers=fmt_int(values["new_customers"]),
             points=fmt_num(points * 100, 1))


# ---- 2. targets -------------------------------------------------------------------------------

def _class_label(seg: Segmentation, scheme: str, key: str | None, lang: str) -> str:
    if key is None:
        return MISSING
    return class_names(seg, scheme, lang).get(key, key)


def targets_table(values: pd.DataFrame, seg: Segmentation, lang: str, currency: str) -> pd.DataFrame:
    """One row per target: segment, customers, revenue, value per customer, at stake, next, share, gain."""
    k = f"{K}.targets"
    rows = [[
        _class_label(seg, r["scheme"], r["key"], lang), fmt_int(r["customers"]), fmt_money(r["revenue"], currency),
        _value_cell(r["value"], r["value_n"], lang, currency), _money_or_dash(r["value_at_stake"], currency),
        _class_label(seg, r["scheme"], r["next_key"], lang), fmt_pct(r["move_share"], 0),
        _gain_cell(r, lang, currency),
    ] for _, r in values.iterrows()]  # one row per target segment
    # the value is what the class a year ago spent since (backtest), else the class's own last
    # twelve months (trailing, censored): the header says which
    recent = len(values) and values["basis"].iloc[0] != "backtest"
    cols = ["segment", "customers", "revenue", "value_recent" if recent else "value", "stake", "next", "share", "gain"]
    return pd.DataFrame(rows, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def _money_or_dash(value: Any, currency: str) -> str:
    return MISSING if value is None or pd.isna(value) else fmt_money(value, currency)


def _value_cell(value: Any, n: int, lang: str, currency: str) -> str:
    """A value per customer, or "too few customers (n)" when it rests on fewer than the floor."""
    if value is None or pd.isna(value):
        return t(f"{K}.targets.too_few", lang, n=fmt_int(n))
    return fmt_money(value, currency)


def _gain_cell(row: pd.Series, lang: str, currency: str) -> str:
    """The gain, or why there is none (too few customers, no one to move, not worth more)."""
    if row["status"] == "ok":
        return fmt_money(row["gain"], currency)
    if row["status"] == "too_few" and row["next_n"] is not None and pd.notna(row["next_n"]):
        return t(f"{K}.targets.too_few", lang, n=fmt_int(min(row["value_n"], row["next_n"])))
    return t(f"{K}.targets.gain_{row['status']}", lang) if row["status"] != "no_next" else MISSING


def targets_takeaway(values: pd.DataFrame, seg: Segmentation, lang: str, currency: str) -> str:
    """The target whose move up is worth most (only targets with a gain: enough customers, at
    least one mover, worth more)."""
    movable = values.dropna(subset=["gain"])
    if movable.empty:
        key = "takeaway_too_few" if (values["status"] != "no_next").any() else "takeaway_none"
        return t(f"{K}.targets.{key}", lang)
    r = movable.loc[movable["gain"].idxmax()]
    return t(f"{K}.targets.takeaway", lang, segment=_class_label(seg, r["scheme"], r["key"], lang),
             share=fmt_pct(r["move_share"], 0), movers=fmt_int(r["movers"]),
             next=_class_label(seg, r["scheme"], r["next_key"], lang), gain=fmt_money(r["gain"], currency, lang, prose=True))


def targets_note(values: pd.DataFrame, defaults: bool, lang: str, min_customers: int = 30) -> str:
    """How the value per customer was measured, the floor of customers behind it (and a hint when
    the targets are the defaults)."""
    basis = values["basis"].iloc[0] if len(values) else "backtest"
    notes = [t(f"{K}.targets.basis_{basis}", lang), t(f"{K}.targets.floor_note", lang, min=fmt_int(min_customers))]
    if defaults:
        notes.append(t(f"{K}.targets.defaults_note", lang))
    return t(f"{K}.sentence_gap", lang).join(notes)


# ---- 3. journey -------------------------------------------------------------------------------

def _days(value: Any) -> str:
    return MISSING if value is None or pd.isna(value) else fmt_int(value)


def journey_table(data: pd.DataFrame, journey: Journey, lang: str) -> pd.DataFrame:
    """The map: one column per stage; the consultant's rows (or guidance), then the data rows."""
    k = f"{K}.journey"
    prefix = t(f"{K}.guidance_prefix", lang)
    columns = {}
    for _, r in data.iterrows():  # one column per journey stage
        stage = r["stage"]
        text = journey.text.get(stage)
        label = (text.label if text and text.label else None) or t(f"{k}.stages.{stage}", lang)
        cells = [getattr(text, row) if text and getattr(text, row) else prefix + t(f"{k}.guidance.{row}", lang)
                 for row in JOURNEY_ROWS]
        if r["conversion"] is None or pd.isna(r["conversion"]):
            conversion = MISSING
        elif stage == "lapsed":
            conversion = t(f"{k}.winback", lang, rate=fmt_pct(r["conversion"]))
        else:
            conversion = t(f"{k}.conversion", lang, rate=fmt_pct(r["conversion"]), days=int(r["window_days"]))
        cells += [fmt_int(r["customers"]), conversion,
                  t(f"{k}.days", lang, median=_days(r["next_median"]), p25=_days(r["next_p25"])),
                  t("common.list_separator", lang).join(r["products"]) or MISSING]
        columns[label] = cells
    index = [t(f"{k}.rows.{row}", lang) for row in (*JOURNEY_ROWS, "customers", "conversion", "next_days", "products")]
    frame = pd.DataFrame(columns, index=index)
    frame.insert(0, t(f"{k}.col_row", lang) or " ", index)
    return frame.reset_index(drop=True)


def journey_takeaway(data: pd.DataFrame, lang: str, min_customers: int = 1) -> str:
    """The stage (before lapse) with the lowest conversion to the next purchase, among the stages
    measured over the same window (the arrival stage's short window is not compared with the
    others') and on at least min_customers eligible customers."""
    steps = data[(data["stage"] != "lapsed") & data["conversion"].notna() & (data["eligible"] >= min_customers)]
    if not steps.empty:  # one window: the one most stages use (the longer one on a tie)
        counts = steps["window_days"].value_counts()
        window = max(w for w, n in counts.items() if n == counts.max())
        steps = steps[steps["window_days"] == window]
    if steps.empty:
        return t(f"{K}.service.takeaway_none", lang)
    r = steps.loc[steps["conversion"].astype(float).idxmin()]
    return t(f"{K}.journey.takeaway", lang, stage=t(f"{K}.journey.stages.{r['stage']}", lang),
             rate=fmt_pct(r["conversion"]), days=int(r["window_days"]), median=_days(r["next_median"]))


# ---- 4. service process -----------------------------------------------------------------------

def service_table(plan: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """One row per measure: stage, measure, owner, channel, timing (marked when from the data), costs."""
    k = f"{K}.service"
    rows = []
    for _, r in plan.iterrows():  # one row per planned measure
        timing = _days(r["timing_days"])
        if r["timing_source"] == "data" and timing != MISSING:
            timing = t(f"{k}.from_data", lang, days=timing)
        rows.append([t(f"{K}.journey.stages.{r['stage']}", lang), r["measure"], r["owner"] or MISSING,
                     r["channel"] or MISSING, timing, fmt_money(r["cost"], currency), fmt_money(r["cost_now"], currency)])
    cols = ["stage", "measure", "owner", "channel", "timing", "cost", "cost_now"]
    return pd.DataFrame(rows, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def service_takeaway(plan: pd.DataFrame, lang: str, currency: str) -> str:
    """How many measures, over how many stages, and the cost of one round."""
    if plan.empty:
        return t(f"{K}.service.takeaway_none", lang)
    return t(f"{K}.service.takeaway", lang, count=len(plan), stages=plan["stage"].nunique(),
             cost=fmt_money(plan["cost_now"].fillna(0).sum(), currency, lang, prose=True))


# ---- 5. execution log -------------------------------------------------------------------------

def log_table(summary: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Per measure: runs, period, channel, target, volume, cost, cost per contact."""
    k = f"{K}.log"
    rows = [[r["measure"], fmt_int(r["runs"]),
             t("diagnosis.common.span", lang, start=fmt_date(r["first"], lang), end=fmt_date(r["last"], lang)),
             r["channel"], r["segment"], fmt_int(r["volume"]), fmt_money(r["cost"], currency),
             fmt_money(r["cost_per_contact"], currency)]
            for _, r in summary.iterrows()]  # one row per measure
    cols = ["measure", "runs", "period", "channel", "segment", "volume", "cost", "cpc"]
    return pd.DataFrame(rows, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def log_takeaway(log: pd.DataFrame, summary: pd.DataFrame, lang: str, currency: str) -> str:
    """Sends, period, volume and cost, and the measure with the largest cost (a log with a header
    and no rows yet: what to fill in)."""
    if log.empty:
        return t(f"{K}.log.empty", lang)
    top = summary.iloc[0]
    total = float(summary["cost"].sum())
    return t(f"{K}.log.takeaway", lang, runs=fmt_int(len(log)), first=fmt_date(log["date"].min(), lang),
             last=fmt_date(log["date"].max(), lang), volume=fmt_int(log["volume"].sum()),
             cost=fmt_money(total, currency, lang, prose=True), measure=top["measure"],
             share=fmt_pct(top["cost"] / total if total else None))


# ---- 6. KPIs and verification -----------------------------------------------------------------

def kpi_tree_table(baseline: dict[str, Any], actual: dict[str, Any], targets: dict[str, float],
                   lang: str, currency: str) -> pd.DataFrame:
    """The KPI tree, indented: baseline, actual, change and target (from the goals) per node. A
    baseline period that starts before the data shows no figures: a few days' revenue beside a
    year's (Online Retail: £301K of 9 days against £8.0M) would read as growth."""
    k = f"{K}.kpis"
    covered = baseline.get("covered", True)
    rows = []
    for metric, depth in TREE_ROWS:
        b, a = (shown(baseline, metric) if covered else None), shown(actual, metric)
        change = None if b in (None, 0) or a is None else a / b - 1
        rows.append(["\u3000" * depth + metric_name(metric, lang), metric_value(metric, b, currency, lang),
                     metric_value(metric, a, currency, lang), metric_change(metric, change),
                     metric_value(metric, targets.get(metric), currency, lang)])
    return pd.DataFrame(rows, columns=[
        t(f"{k}.col_kpi", lang),
        t(f"{k}.col_baseline", lang, span=span_text(Span(baseline["start"], baseline["end"]), lang)),
        t(f"{k}.col_actual", lang, span=span_text(Span(actual["start"], actual["end"]), lang)),
        t(f"{k}.col_change", lang), t(f"{k}.col_target", lang)])


def kpi_takeaway(baseline: dict[str, Any], actual: dict[str, Any], lang: str, currency: str) -> str:
    """Revenue against the baseline and, when both periods tell them apart, the new/existing split
    of the change."""
    if not baseline.get("covered", True):
        return t(f"{K}.kpis.partial", lang)
    revenue = {"actual": fmt_money(actual["revenue"], currency, lang, prose=True),
               "baseline": fmt_money(baseline["revenue"], currency, lang, prose=True),
               "change": metric_change("revenue", actual["revenue"] / baseline["revenue"] - 1 if baseline["revenue"] else None)}
    if not (baseline.get("split_observable", True) and actual.get("split_observable", True)):
        return t(f"{K}.kpis.takeaway_no_split", lang, **revenue)
    change = actual["revenue"] - baseline["revenue"]
    new_change = actual["new_revenue"] - baseline["new_revenue"]
    return t(f"{K}.kpis.takeaway", lang, **revenue,
             new_change=_signed(fmt_money(new_change, currency, lang, prose=True)),
             existing_change=_signed(fmt_money(change - new_change, currency, lang, prose=True)))


def _effect_value(outcome: str, value: Any, currency: str, difference: bool = False) -> str:
    if value is None or pd.isna(value):
        return MISSING
    if outcome.startswith("bought"):
        return (_signed(fmt_num(value * 100, 1)) + " pt") if difference else fmt_pct(value)
    text = fmt_money(value, currency)
    return _signed(text) if difference else text


def effect_table(effect: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Per outcome: treated, control, difference, 95% interval and p."""
    k = f"{K}.effect"
    window = effect.attrs.get("window", 0)
    rows = [[t(f"{k}.outcomes.{r['outcome']}", lang, window=window),
             _effect_value(r["outcome"], r["treated"], currency), _effect_value(r["outcome"], r["control"], currency),
             _effect_value(r["outcome"], r["difference"], currency, True),
             t(f"{K}.interval", lang, low=_effect_value(r["outcome"], r["low"], currency, True),
               high=_effect_value(r["outcome"], r["high"], currency, True)),
             MISSING if r["p"] is None or pd.isna(r["p"]) else ("<0.001" if r["p"] < 0.001 else fmt_num(r["p"], 3))]
            for _, r in effect.iterrows()]  # four outcomes
    cols = ["outcome", "treated", "control", "difference", "interval", "p"]
    return pd.DataFrame(rows, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def effect_counts(effect: pd.DataFrame, lang: str) -> str:
    """Who was compared and who was left out (a clause only when someone was: never "0 left out")."""
    r = effect.iloc[0]
    sentences = [t(f"{K}.effect.counts", lang, name=effect.attrs["name"], treated=fmt_int(r["n_treated"]),
                   control=fmt_int(r["n_control"]))]
    if effect.attrs["incomplete"]:
        sentences.append(t(f"{K}.effect.counts_incomplete", lang, incomplete=fmt_int(effect.attrs["incomplete"]),
                           window=effect.attrs["window"]))
    if effect.attrs["unknown"]:
        sentences.append(t(f"{K}.effect.counts_unknown", lang, unknown=fmt_int(effect.attrs["unknown"])))
    return t(f"{K}.sentence_gap", lang).join(sentences)


def effect_pending(effect: pd.DataFrame, lang: str) -> str:
    """Why an experiment cannot be compared yet: no customer's window has ended, or one group has
    no customer to compare (a file listing only the treated)."""
    r = effect.set_index("outcome").loc["bought"]
    attrs = effect.attrs
    if not r["n_treated"] and not r["n_control"] and attrs.get("ready_on"):
        return t(f"{K}.effect.pending", lang, name=attrs["name"], window=attrs["window"],
                 waiting=fmt_int(attrs["incomplete"]), date=fmt_date(attrs["ready_on"], lang))
    missing = "control" if r["n_treated"] else "treated"
    return t(f"{K}.effect.one_group", lang, name=attrs["name"], window=attrs["window"],
             group=t(f"{K}.effect.col_{missing}", lang).lower(), treated=fmt_int(r["n_treated"]),
             control=fmt_int(r["n_control"]), waiting=fmt_int(attrs["incomplete"]))


def effect_takeaway(effect: pd.DataFrame, lang: str) -> str:
    """The effect on buying in the window, significant or not (the 95% interval excludes zero)."""
    r = effect.set_index("outcome").loc["bought"]
    args = dict(name=effect.attrs["name"], window=effect.attrs["window"],
                difference=_effect_value("bought", r["difference"], "", True),
                low=_effect_value("bought", r["low"], "", True), high=_effect_value("bought", r["high"], "", True))
    if r["difference"] is not None and pd.notna(r["low"]) and (r["low"] > 0 or r["high"] < 0):
        return t(f"{K}.effect.takeaway_significant", lang, **args, treated=fmt_pct(r["treated"]),
                 control=fmt_pct(r["control"]), extra=fmt_int(r["difference"] * r["n_treated"]))
    return t(f"{K}.effect.takeaway_unclear", lang, **args)


def before_after_table(frame: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Per metric: before, after, change, the same change a year earlier, and beyond the season."""
    k = f"{K}.before_after"
    days = frame.attrs["window"]
    rows = [[metric_name(r["metric"], lang), metric_value(r["metric"], r["before"], currency, lang),
             metric_value(r["metric"], r["after"], currency, lang), metric_change("revenue", r["change"]),
             metric_change("revenue", r["change_year_before"]),
             MISSING if r["beyond_season"] is None or pd.isna(r["beyond_season"])
             else _signed(fmt_num(r["beyond_season"] * 100, 1)) + " pt"]
            for _, r in frame.iterrows()]  # three metrics
    return pd.DataFrame(rows, columns=[t(f"{k}.col_metric", lang), t(f"{k}.col_before", lang, days=days),
                                       t(f"{k}.col_after", lang, days=days), t(f"{k}.col_change", lang),
                                       t(f"{k}.col_year_before", lang), t(f"{k}.col_beyond", lang)])


def before_after_takeaway(frame: pd.DataFrame, lang: str) -> str:
    """Revenue's change around the date against the season's."""
    r = frame.set_index("metric").loc["revenue"]
    args = dict(name=frame.attrs["name"], date=fmt_date(frame.attrs["date"], lang))
    if r["change"] is None or pd.isna(r["change"]) or r["change_year_before"] is None or pd.isna(r["change_year_before"]):
        return t(f"{K}.before_after.takeaway_partial", lang, **args)
    return t(f"{K}.before_after.takeaway", lang, **args, change=metric_change("revenue", r["change"]),
             ly_change=metric_change("revenue", r["change_year_before"]),
             beyond=_signed(fmt_num(r["beyond_season"] * 100, 1)) + " pt")


# ---- 7. NPS -----------------------------------------------------------------------------------

def _nps(value: Any) -> str:
    return MISSING if value is None or pd.isna(value) else _signed(fmt_num(value, 1))


def nps_table(overall: dict[str, Any], by_segment: pd.DataFrame, seg: Segmentation, scheme: str,
              lang: str) -> pd.DataFrame:
    """NPS of all respondents, then per segment: answers, shares, NPS and its 95% interval."""
    k = f"{K}.nps"
    names = class_names(seg, scheme, lang)
    rows = [(t(f"{k}.all", lang), overall)] + [(names.get(r["class"], r["class"]), r) for _, r in by_segment.iterrows()]
    table = [[label, fmt_int(r["n"]), fmt_pct(r["promoters"]), fmt_pct(r["passives"]), fmt_pct(r["detractors"]),
              _nps(r["nps"]), t(f"{K}.interval", lang, low=_nps(r["low"]), high=_nps(r["high"]))] for label, r in rows]
    cols = ["segment", "n", "promoters", "passives", "detractors", "nps", "interval"]
    return pd.DataFrame(table, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def nps_category_table(by_category: pd.DataFrame, lang: str, currency: str) -> pd.DataFrame:
    """Per answer category: respondents, purchases, spend and repeat share."""
    k = f"{K}.nps"
    rows = [[t(f"{k}.categories.{r['category']}", lang), fmt_int(r["respondents"]), fmt_num(r["purchases"], 2),
             fmt_money(r["revenue"], currency), fmt_pct(r["repeat_share"])] for _, r in by_category.iterrows()]
    cols = ["category", "n", "purchases", "revenue", "repeat"]
    return pd.DataFrame(rows, columns=[t(f"{k}.col_{c}", lang) for c in cols])


def nps_takeaway(overall: dict[str, Any], by_category: pd.DataFrame, lang: str) -> str:
    """NPS with its benchmark and the promoters' spend against the detractors'."""
    spend = by_category.set_index("category")["revenue"]
    ratio = spend.get("promoter") / spend.get("detractor") if spend.get("detractor") else None
    return t(f"{K}.nps.takeaway", lang, nps=_nps(overall["nps"]), n=fmt_int(overall["n"]),
             ratio=MISSING if ratio is None or pd.isna(ratio) else fmt_num(ratio, 1))


__all__ = [
    "baseline_table", "before_after_table", "before_after_takeaway", "effect_counts", "effect_pending", "effect_table",
    "effect_takeaway", "goals_table", "goals_takeaway", "journey_table", "journey_takeaway", "kpi_takeaway",
    "kpi_tree_table", "levers_table", "levers_takeaway", "log_table", "log_takeaway", "metric_change",
    "metric_name", "metric_value", "nps_category_table", "nps_table", "nps_takeaway", "service_table",
    "service_takeaway", "targets_note", "targets_table", "targets_takeaway",
]
