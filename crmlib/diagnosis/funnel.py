"""The purchase-count funnel (F1 -> F2 -> F3 ...) and F2 conversion (F2転換率) within fixed windows.

Definitions (purchases as in purchases.py: same-day orders count once by default):
- reach(n) = customers with at least n purchases before as_of; conversion(n) = reach(n+1) /
  reach(n); drop-off(n) = 1 - conversion(n). The funnel counts whole histories, so recent
  customers who have not had time to come back pull the later steps down.
- F2 conversion within W days = converted / eligible, where eligible = customers whose first
  purchase is observable (on or after purchases.observed_from: not left-censored, see
  crmlib.store.coverage) and lies more than W days before as_of (the whole window is observed:
  first_day + W < as_of) and converted = those of them whose second purchase came at most W days
  after the first.
- early share (short, long) = among the customers eligible for the long window who converted
  within it, the share who converted within the short window: one base, so it is a share.
- Splits: the same rate per value of an attribute of the customer's first order (first channel,
  first category, acquisition source, region); a missing value is its own group.
"""

from __future__ import annotations

import pandas as pd

from ..display import display_value
from ..i18n import t
from ..intervals import wilson_interval
from ..store.purchases import Purchases
from ..style import fmt_int, fmt_pct

SMALL_SAMPLE = 400  # below this many customers a rate is shown with its 95% interval

FUNNEL_SQL = """
SELECT n AS step, count(*) AS customers
FROM purchases
WHERE n <= {last}
GROUP BY n
"""

F2_SQL = """
SELECT {windows}
FROM firsts
"""


def purchase_funnel(purchases: Purchases, steps: int = 6) -> pd.DataFrame:
    """Customers reaching purchase 1..steps, with conversion to the next purchase and drop-off.

    Columns: step, customers, share_of_first (reach / reach(1)), conversion (to step + 1), drop_off.
    """
    raw = purchases.query(FUNNEL_SQL.format(last=int(steps) + 1)).set_index("step")["customers"]
    reach = raw.reindex(range(1, int(steps) + 2), fill_value=0).astype("int64")
    frame = pd.DataFrame({"step": range(1, int(steps) + 1), "customers": reach.iloc[:-1].to_numpy()})
    following = reach.iloc[1:].to_numpy()
    frame["next_customers"] = following
    frame["share_of_first"] = frame["customers"] / reach.iloc[0] if reach.iloc[0] else float("nan")
    frame["conversion"] = frame["next_customers"] / frame["customers"].where(frame["customers"] > 0)
    frame["drop_off"] = 1.0 - frame["conversion"]
    return frame


def _window_columns(windows: list[int], as_of: str, observable: str = "TRUE") -> str:
    """SQL select items: eligible_<W> and converted_<W> for each window (first-time customers whose
    first purchase is observable and whose whole window lies before as_of)."""
    items = []
    for w in windows:
        eligible = f"({observable}) AND first_day + {int(w)} < {as_of}"
        items.append(f"count(*) FILTER (WHERE {eligible}) AS eligible_{int(w)}")
        items.append(f"count(*) FILTER (WHERE {eligible} AND date_diff('day', first_day, second_day) <= {int(w)})"
                     f" AS converted_{int(w)}")
    return ", ".join(items)


def _long(frame: pd.DataFrame, windows: list[int], keys: list[str]) -> pd.DataFrame:
    """Wide eligible_/converted_ columns -> one row per key and window with the rate."""
    parts = []
    for w in windows:
        part = frame[keys].copy()
        part["window_days"] = int(w)
        part["eligible"] = frame[f"eligible_{int(w)}"].astype("int64")
        part["converted"] = frame[f"converted_{int(w)}"].astype("int64")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["rate"] = out["converted"] / out["eligible"].where(out["eligible"] > 0)
    return out


def f2_conversion(purchases: Purchases, windows: list[int] | tuple[int, ...] = (30, 90, 365)) -> pd.DataFrame:
    """F2 conversion per window: window_days, eligible first-time customers, converted, rate."""
    windows = sorted(set(int(w) for w in windows))
    wide = purchases.query(F2_SQL.format(windows=_window_columns(windows, purchases.as_of_sql, purchases.observable_sql)))
    wide["all"] = "all"
    return _long(wide, windows, ["all"]).drop(columns="all")


EARLY_SQL = """
SELECT count(*) FILTER (WHERE date_diff('day', first_day, second_day) <= {long}) AS converted,
       count(*) FILTER (WHERE date_diff('day', first_day, second_day) <= {short}) AS early
FROM firsts
WHERE ({observable}) AND first_day + {long} < {as_of}
"""


def early_share(purchases: Purchases, short: int, long: int) -> dict[str, float | int | None]:
    """Of the customers who converted within `long` days (eligible for it), how many did within
    `short` days: converted, early, share (None without conversions)."""
    row = purchases.query(EARLY_SQL.format(short=int(short), long=int(long), as_of=purchases.as_of_sql,
                                           observable=purchases.observable_sql)).iloc[0]
    converted, early = int(row["converted"]), int(row["early"])
    return {"short_days": int(short), "long_days": int(long), "converted": converted, "early": early,
            "share": early / converted if converted else None}


SEGMENTS_SQL = """
SELECT {codes}, {windows}
FROM firsts
GROUP BY GROUPING SETS ({sets})
"""


def f2_by_segment(purchases: Purchases, windows: list[int] | tuple[int, ...] = (30, 90, 365),
                  dimensions: list[str] | tuple[str, ...] = ("channel", "category", "source")) -> pd.DataFrame:
    """F2 conversion per value of each first-order attribute present in the data.

    Columns: dimension, value (None = not recorded), window_days, eligible, converted, rate;
    an attribute with a single value (nothing to compare) is left out.
    """
    windows = sorted(set(int(w) for w in windows))
    dims = [d for d in dimensions if d in purchases.dimensions]
    columns = ["dimension", "value", "window_days", "eligible", "converted", "rate"]
    if not dims:
        return pd.DataFrame(columns=columns)
    # one pass over the first purchases for every attribute, then the codes are named
    wide = purchases.query(SEGMENTS_SQL.format(
        codes=", ".join(f"code_{d}, grouping(code_{d}) AS g_{d}" for d in dims),
        windows=_window_columns(windows, purchases.as_of_sql, purchases.observable_sql),
        sets=", ".join(f"(code_{d})" for d in dims)))
    parts = []
    for dim in dims:
        part = wide[wide[f"g_{dim}"] == 0]
        if len(part) < 2:
            continue
        names = purchases.query(f"SELECT code, value FROM dim_{dim}").set_index("code")["value"]
        part = part.assign(dimension=dim, value=part[f"code_{dim}"].map(names))
        parts.append(_long(part, windows, ["dimension", "value"]))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(object).where(out["value"].notna(), None)
    order = {d: i for i, d in enumerate(dimensions)}
    out["_order"] = out["dimension"].map(order)
    out = out.sort_values(["_order", "window_days", "eligible", "value"], ascending=[True, True, False, True],
                          kind="stable", na_position="last")
    return out.drop(columns="_order").reset_index(drop=True)


def funnel_takeaway(funnel: pd.DataFrame, lang: str, min_customers: int = 1) -> str:
    """One sentence: the share who never come back, and the step with the biggest drop-off
    (none on fewer than min_customers customers)."""
    if funnel.empty or not funnel["customers"].iloc[0]:
        return t("diagnosis.funnel.empty", lang)
    if funnel["customers"].iloc[0] < min_customers:
        return t("diagnosis.too_few_sentence", lang, n=fmt_int(funnel["customers"].iloc[0]),
                 floor=fmt_int(min_customers))
    first = funnel.iloc[0]
    later = funnel.iloc[1:].dropna(subset=["drop_off"])
    values = {
        "customers": fmt_int(first["customers"]),
        "never": fmt_pct(first["drop_off"]),
        "f2": fmt_pct(first["conversion"]),
    }
    if later.empty:
        return t("diagnosis.funnel.takeaway_short", lang, **values)
    best = later.loc[later["conversion"].idxmax()]
    if int(best["step"]) == 2:  # the second step is already named
        return t("diagnosis.funnel.takeaway_f3", lang, f3=fmt_pct(funnel.iloc[1]["conversion"]), **values)
    return t("diagnosis.funnel.takeaway", lang, f3=fmt_pct(funnel.iloc[1]["conversion"]),
             best_step=fmt_int(best["step"]), best_next=fmt_int(best["step"] + 1),
             best=fmt_pct(best["conversion"]), **values)


def f2_takeaway(f2: pd.DataFrame, lang: str, early: dict | None = None, min_customers: int = 1) -> str:
    """One sentence: F2 conversion in the shortest and longest window with at least min_customers
    eligible customers; the early share is of the long window's conversions (early_share)."""
    usable = f2[f2["eligible"] >= max(int(min_customers), 1)]
    if usable.empty:
        if (f2["eligible"] > 0).any():
            return t("diagnosis.f2.too_few", lang, n=fmt_int(f2["eligible"].max()), floor=fmt_int(min_customers))
        return t("diagnosis.f2.empty", lang)
    short, long = usable.iloc[0], usable.iloc[-1]
    values = {
        "short_days": fmt_int(short["window_days"]), "short": fmt_pct(short["rate"]),
        "long_days": fmt_int(long["window_days"]), "long": fmt_pct(long["rate"]),
        "eligible": fmt_int(long["eligible"]),
    }
    if len(usable) == 1:
        return t("diagnosis.f2.takeaway_one", lang, **values)
    if early is None or early.get("share") is None or early.get("long_days") != int(long["window_days"]) \
            or early.get("short_days") != int(short["window_days"]):
        return t("diagnosis.f2.takeaway_two", lang, **values)
    return t("diagnosis.f2.takeaway", lang, early_share=fmt_pct(early["share"]),
             long_converted=fmt_int(early["converted"]), **values)


def segment_window(windows: list[int] | tuple[int, ...]) -> int:
    """The window the split takeaway talks about: 90 days when asked for, else the middle one."""
    windows = sorted(set(int(w) for w in windows))
    return 90 if 90 in windows else windows[len(windows) // 2]


def segment_takeaway(segments: pd.DataFrame, lang: str, window: int, min_customers: int = 30) -> str:
    """One sentence: the attribute whose values differ most in F2 conversion, best and worst value."""
    if segments.empty:
        return t("diagnosis.segments.none", lang)
    rows = segments[(segments["window_days"] == window) & (segments["eligible"] >= min_customers)]
    rows = rows.dropna(subset=["rate"])
    if rows.empty:
        return t("diagnosis.segments.empty", lang)
    spreads = rows.groupby("dimension")["rate"].agg(lambda r: r.max() - r.min())
    spreads = spreads[rows.groupby("dimension").size() >= 2]
    if spreads.empty:
        return t("diagnosis.segments.empty", lang)
    dim = spreads.idxmax()
    part = rows[rows["dimension"] == dim]
    best, worst = part.loc[part["rate"].idxmax()], part.loc[part["rate"].idxmin()]
    return t(
        "diagnosis.segments.takeaway",
        lang,
        window=fmt_int(window),
        dimension=t(f"diagnosis.segments.dim_{dim}", lang),
        best=segment_value(best["value"], lang, dim), best_rate=fmt_pct(best["rate"]),
        worst=segment_value(worst["value"], lang, dim), worst_rate=fmt_pct(worst["rate"]),
    )


def segment_value(value: object, lang: str, dimension: str = "") -> str:
    """A segment value for display: its display name (web -> ウェブ, crmlib.display), 'not
    recorded' for a missing value."""
    if value is None or pd.isna(value):
        return t("diagnosis.segments.unknown", lang)
    return display_value(dimension, value, lang)


def f2_headline(f2: pd.DataFrame, min_customers: int = 1) -> dict[str, object]:
    """The F2 figure a summary may quote: the 365-day window when it has min_customers eligible
    customers, else the longest window that has; {} when none has."""
    usable = f2[f2["eligible"] >= max(int(min_customers), 1)]
    if usable.empty:
        return {}
    windows = [int(w) for w in usable["window_days"]]
    row = usable[usable["window_days"] == (365 if 365 in windows else max(windows))].iloc[0]
    return {"window_days": int(row["window_days"]), "eligible": int(row["eligible"]),
            "converted": int(row["converted"]), "rate": float(row["rate"])}


def rate_text(rate: float | None, n: int, lang: str, min_customers: int = 1) -> str:
    """A rate for display: "too few customers (n)" below the floor, else the rate with its 95%
    Wilson interval when n is small (under SMALL_SAMPLE)."""
    if n < max(int(min_customers), 1) or rate is None or pd.isna(rate):
        return t("diagnosis.too_few", lang, n=fmt_int(n))
    if n < SMALL_SAMPLE:
        low, high = wilson_interval(round(rate * n), n)
        return t("diagnosis.rate_interval", lang, rate=fmt_pct(rate), low=fmt_pct(low), high=fmt_pct(high))
    return fmt_pct(rate)


def f2_table(f2: pd.DataFrame, lang: str, min_customers: int = 1) -> pd.DataFrame:
    """Display table of F2 conversion per window, with n; "too few customers (n)" below the floor."""
    return pd.DataFrame({
        t("diagnosis.f2.col_window", lang): [t("diagnosis.f2.window_value", lang, days=fmt_int(w)) for w in f2["window_days"]],
        t("diagnosis.f2.col_eligible", lang): [fmt_int(v) for v in f2["eligible"]],
        t("diagnosis.f2.col_converted", lang): [fmt_int(v) for v in f2["converted"]],
        t("diagnosis.f2.col_rate", lang): [rate_text(r, int(n), lang, min_customers)
                                          for r, n in zip(f2["rate"], f2["eligible"])],
    })


def segment_table(segments: pd.DataFrame, lang: str, min_customers: int = 30) -> pd.DataFrame:
    """Display table: one row per attribute value, F2 rate per window (blank below min_customers)."""
    dim_col, value_col = t("diagnosis.segments.col_dimension", lang), t("diagnosis.segments.col_value", lang)
    customers_col = t("diagnosis.segments.col_customers", lang)
    if segments.empty:
        return pd.DataFrame({dim_col: [], value_col: [], customers_col: []})
    frame = segments.copy()
    frame["key"] = frame["value"].fillna("\0")  # a missing value is a group of its own
    frame["rate"] = frame["rate"].where(frame["eligible"] >= min_customers)
    rates = frame.pivot_table(index=["dimension", "key"], columns="window_days", values="rate",
                              aggfunc="first", dropna=False, sort=False)
    windows = sorted(frame["window_days"].unique())
    first = frame[frame["window_days"] == windows[0]].set_index(["dimension", "key"])
    out = pd.DataFrame({
        dim_col: [t(f"diagnosis.segments.dim_{d}", lang) for d in first.index.get_level_values(0)],
        value_col: [segment_value(v, lang, d) for d, v in zip(first.index.get_level_values(0), first["value"])],
        customers_col: [fmt_int(v) for v in first["eligible"]],
    })
    for w in windows:
        column = t("diagnosis.f2.window_value", lang, days=fmt_int(w))
        out[column] = [fmt_pct(v) for v in rates[w].reindex(first.index)]
    return out
