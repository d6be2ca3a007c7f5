"""Days between purchase n and n+1 (転換日数): when customers come back, so follow-ups land in time.

gap = days from a customer's purchase n to purchase n+1 (calendar days; purchases as in
purchases.py, so the gap is at least 1 day when same-day orders are merged). Percentiles are
linear interpolations between the sorted gaps (as numpy/pandas quantile). Recent customers have
not had time for long gaps yet, so the distribution leans slightly short; the share of gaps
beyond the histogram's range is reported. Only customers whose first purchase the data shows
(purchases.observed_from) count: for a customer first seen within the data's first purchase
cycle, the data's "second purchase" may be the tenth (Online Retail's 1.10 had 57 days where the
journey map, on observable customers, had 49).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..i18n import t
from ..style import fmt_date, fmt_int, fmt_num, fmt_pct
from ..store.purchases import Purchases

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

INTERVALS_SQL = """
SELECT least(n - 1, {steps}) AS step,
       count(*) AS gaps,
       avg(gap) AS mean,
       quantile_cont(gap, {quantiles}) AS q
FROM (SELECT n, date_diff('day', prev_day, day) AS gap FROM purchases WHERE n >= 2 AND ({observable}))
GROUP BY GROUPING SETS ((step), ())
"""

HISTOGRAM_SQL = """
SELECT least(date_diff('day', prev_day, day), {cap}) AS gap, count(*) AS gaps
FROM purchases
WHERE n = {n} AND ({observable})
GROUP BY 1
"""


def purchase_intervals(purchases: Purchases, steps: int = 4) -> pd.DataFrame:
    """Per step (1 = first to second purchase ... steps = that step and all later ones pooled)
    and for all steps (step 0): number of gaps, mean and the 10/25/50/75/90th percentile days."""
    frame = purchases.query(INTERVALS_SQL.format(steps=int(steps), quantiles=list(QUANTILES),
                                                  observable=purchases.observable_sql))
    frame["step"] = frame["step"].fillna(0).astype("int64")
    names = [f"p{int(q * 100)}" for q in QUANTILES]
    rows = [q if isinstance(q, (list, tuple, np.ndarray)) else [np.nan] * len(QUANTILES) for q in frame["q"]]
    quantiles = pd.DataFrame(rows, columns=names, index=frame.index, dtype="float64")
    out = pd.concat([frame.drop(columns="q"), quantiles], axis=1)
    out = out.sort_values("step", key=lambda s: s.replace(0, np.iinfo("int64").max)).reset_index(drop=True)
    out.attrs["steps"] = int(steps)
    out.attrs["observed_from"] = _censored_before(purchases)
    return out


def _censored_before(purchases: Purchases):
    """The day from which first purchases are observable, when earlier customers are left out."""
    seen = purchases.observed_from
    return seen if seen is not None and purchases.data_start is not None and seen > purchases.data_start else None


def gap_histogram(purchases: Purchases, step: int = 1, max_days: int = 365, bin_days: int = 7) -> pd.DataFrame:
    """Gaps from purchase `step` to the next in bins of bin_days: bin_start, bin_end (exclusive),
    gaps, share; max_days is rounded down to whole bins (365 days in weeks: 364), and gaps of
    that many days or more fall in the last bin (open-ended: bin_end is missing)."""
    cap = int(bin_days) * max(1, int(max_days) // int(bin_days))
    raw = purchases.query(HISTOGRAM_SQL.format(cap=cap, n=int(step) + 1, observable=purchases.observable_sql))
    edges = list(range(0, cap + 1, int(bin_days)))
    counts = np.zeros(len(edges), dtype="int64")
    if len(raw):
        index = np.searchsorted(edges, raw["gap"].to_numpy(), side="right") - 1
        np.add.at(counts, index, raw["gaps"].to_numpy(dtype="int64"))
    total = counts.sum()
    return pd.DataFrame({
        "bin_start": edges,
        "bin_end": pd.array([*edges[1:], None], dtype="Int64"),
        "gaps": counts,
        "share": counts / total if total else np.zeros(len(edges)),
    })


def step_label(step: int, steps: int, lang: str) -> str:
    """'1→2', ..., '4→5 and later' (ja: 4→5回目以降); step 0 = all steps."""
    if step == 0:
        return t("diagnosis.intervals.all_steps", lang)
    if step >= steps:
        return t("diagnosis.intervals.step_later", lang, n=step, next=step + 1)
    return t("diagnosis.intervals.step", lang, n=step, next=step + 1)


def intervals_table(intervals: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Display table: step, number of gaps, median and percentiles in days."""
    steps = intervals.attrs.get("steps", 4)
    days = lambda v: fmt_num(v, 0)  # noqa: E731
    return pd.DataFrame({
        t("diagnosis.intervals.col_step", lang): [step_label(s, steps, lang) for s in intervals["step"]],
        t("diagnosis.intervals.col_gaps", lang): [fmt_int(v) for v in intervals["gaps"]],
        t("diagnosis.intervals.col_p25", lang): [days(v) for v in intervals["p25"]],
        t("diagnosis.intervals.col_p50", lang): [days(v) for v in intervals["p50"]],
        t("diagnosis.intervals.col_p75", lang): [days(v) for v in intervals["p75"]],
        t("diagnosis.intervals.col_p90", lang): [days(v) for v in intervals["p90"]],
    })


def intervals_takeaway(intervals: pd.DataFrame, histogram: pd.DataFrame, lang: str, min_customers: int = 1) -> str:
    """One sentence: median and quartiles of first-to-second purchase days, as follow-up timing
    (none on fewer than min_customers second purchases)."""
    first = intervals[intervals["step"] == 1]
    seen = intervals.attrs.get("observed_from")
    if first.empty or not first["gaps"].iloc[0]:
        if seen is not None:  # second purchases there may be, but no observable first purchase
            return t("diagnosis.intervals.empty_censored", lang, observed_from=fmt_date(seen, lang))
        return t("diagnosis.intervals.empty", lang)
    if first["gaps"].iloc[0] < min_customers:
        return t("diagnosis.too_few_sentence", lang, n=fmt_int(first["gaps"].iloc[0]), floor=fmt_int(min_customers))
    row = first.iloc[0]
    days = lambda v: fmt_num(v, 0)  # noqa: E731
    beyond = float(histogram["share"].iloc[-1]) if len(histogram) else 0.0
    text = t(
        f"diagnosis.intervals.takeaway{'' if beyond > 0 else '_within'}",  # no "0.0% come back after ..."
        lang,
        p25=days(row["p25"]), p50=days(row["p50"]), p75=days(row["p75"]), p90=days(row["p90"]),
        beyond=fmt_pct(beyond), max_days=fmt_int(histogram["bin_start"].iloc[-1]) if len(histogram) else "—",
    )
    if seen is None:
        return text
    return text + t("diagnosis.intervals.observable", lang, n=fmt_int(row["gaps"]), observed_from=fmt_date(seen, lang))
