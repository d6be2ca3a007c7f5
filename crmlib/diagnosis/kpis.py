"""The KPI table and sentence of the analysis period against the period it is compared with
(the figures and their definitions: crmlib.store.kpis)."""

from __future__ import annotations


import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from ..periods import Span
from ..store.kpis import KPI_COLUMNS, headline_kpis, period_kpis  # noqa: F401 (re-exported)
from ..wording import (
    change_phrase, comparison_label, pct_change, point_change, points_phrase, span_text, times_text,
)

def _rows(kpis: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The current and previous rows of a headline_kpis frame."""
    return kpis.iloc[0], kpis.iloc[1]


def kpi_table(kpis: pd.DataFrame, lang: str, currency: str, min_customers: int = 1) -> pd.DataFrame:
    """Display table: metric, this period, comparison period, change (blank when not comparable);
    a period with fewer than min_customers customers shows "too few customers (n)" for its rates."""
    cur, prev = _rows(kpis)
    compare = bool(prev["covered"])
    money = lambda v: fmt_money(v, currency)  # noqa: E731
    share = lambda v: fmt_pct(v)  # noqa: E731
    few = {row["period"]: int(row["customers"]) < min_customers for row in (cur, prev)}
    specs = [
        ("revenue", t("metric.revenue", lang), money, pct_change),
        ("orders", t("metric.orders", lang), fmt_int, pct_change),
        ("customers", t("metric.customers", lang), fmt_int, pct_change),
        ("new_customers", t("diagnosis.kpis.new_customers", lang), fmt_int, pct_change),
        ("existing_customers", t("diagnosis.kpis.existing_customers", lang), fmt_int, pct_change),
        ("new_revenue", t("diagnosis.kpis.new_revenue", lang), money, pct_change),
        ("existing_revenue", t("diagnosis.kpis.existing_revenue", lang), money, pct_change),
        ("existing_revenue_share", t("diagnosis.kpis.existing_revenue_share", lang), share, point_change),
        ("aov", t("metric.aov", lang), money, pct_change),
        ("orders_per_customer", t("metric.orders_per_customer", lang), lambda v: times_text(v, lang), pct_change),
        ("repeat_rate", t("diagnosis.kpis.repeat_rate", lang), share, point_change),
    ]
    months = kpis.attrs.get("months", 12)
    head_cur = t("diagnosis.kpis.col_current", lang, span=span_text(_span(cur), lang))
    head_prev = t("diagnosis.kpis.col_previous", lang, span=span_text(_span(prev), lang))
    split = {"new_customers", "existing_customers", "new_revenue", "existing_revenue", "existing_revenue_share"}
    unseen = t("diagnosis.kpis.not_observable", lang)
    observable = lambda row: bool(row.get("split_observable", True))  # noqa: E731
    rows = []
    for key, label, fmt, change in specs:
        cur_ok = key not in split or observable(cur)
        prev_ok = compare and (key not in split or observable(prev))
        if fmt is share:  # a rate: not on fewer customers than the floor
            cur_fmt = (lambda v, n=int(cur["customers"]): t("diagnosis.too_few", lang, n=fmt_int(n))) \
                if few[cur["period"]] else fmt
            prev_fmt = (lambda v, n=int(prev["customers"]): t("diagnosis.too_few", lang, n=fmt_int(n))) \
                if few[prev["period"]] else fmt
            cur_ok_rate = not few[cur["period"]]
            prev_ok_rate = not few[prev["period"]]
        else:
            cur_fmt = prev_fmt = fmt
            cur_ok_rate = prev_ok_rate = True
        rows.append({
            t("common.col_metric", lang): label,
            head_cur: cur_fmt(cur[key]) if cur_ok else unseen,
            head_prev: (prev_fmt(prev[key]) if prev_ok else unseen) if compare else "—",
            t("diagnosis.kpis.col_change", lang): (change(cur[key], prev[key]) or "—")
            if cur_ok and prev_ok and cur_ok_rate and prev_ok_rate else "—",
        })
    frame = pd.DataFrame(rows)
    frame.attrs["months"] = months
    return frame


def _span(row: pd.Series) -> Span:
    """The span of a headline_kpis row."""
    return Span(pd.Timestamp(row["start"]).date(), pd.Timestamp(row["end"]).date())


def kpi_takeaway(kpis: pd.DataFrame, lang: str, currency: str) -> str:
    """One sentence: revenue and its change, customers, and the existing customers' revenue share."""
    cur, prev = _rows(kpis)
    months = kpis.attrs.get("months", 12)
    label = comparison_label(months, kpis.attrs.get("compare_to", "previous_period"), lang)
    values = {
        "months": months,
        "span": span_text(_span(cur), lang),
        "revenue": fmt_money(cur["revenue"], currency, lang, prose=True),
        "customers": fmt_int(cur["customers"]),
        "new_customers": fmt_int(cur["new_customers"]),
        "share": fmt_pct(cur["existing_revenue_share"]),
        "aov": fmt_money(cur["aov"], currency, lang, prose=True),
        "compare": label,
    }
    if not cur["orders"]:
        return t("diagnosis.kpis.empty", lang, **values)
    if not bool(cur.get("split_observable", True)):
        key = "takeaway_no_split" if prev["covered"] else "takeaway_no_split_no_compare"
        return t(f"diagnosis.kpis.{key}", lang, revenue_change=change_phrase(cur["revenue"], prev["revenue"], lang),
                 **values)
    if not prev["covered"]:
        return t("diagnosis.kpis.takeaway_no_compare", lang, **values)
    if not bool(prev.get("split_observable", True)):
        return t("diagnosis.kpis.takeaway_no_prev_split", lang,
                 revenue_change=change_phrase(cur["revenue"], prev["revenue"], lang), **values)
    return t(
        "diagnosis.kpis.takeaway",
        lang,
        revenue_change=change_phrase(cur["revenue"], prev["revenue"], lang),
        share_change=points_phrase(cur["existing_revenue_share"], prev["existing_revenue_share"], lang),
        **values,
    )
