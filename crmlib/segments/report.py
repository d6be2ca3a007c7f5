"""Tables, figures and sentences of the segments chapter, computed here so they can be tested.

Each function takes the classified customers (classify.Segmentation) or the migration and returns
one display table, one figure or one takeaway sentence in the report language. Numbers are
formatted with crmlib.style; every text comes from crmlib/messages/<lang>/segments.yaml.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..display import display_value
from ..i18n import t
from ..style import MISSING, fmt_date, fmt_int, fmt_money, fmt_num, fmt_pct
from . import charts
from ..store.segments import cpm, ladder
from ..store.segments.classify import Segmentation
from ..store.segments.decile import decile_summary
from .exports import export_file_name
from ..store.segments.migration import MOVES, NEW, SCHEME_COLUMNS, SCHEMES, Migration
from ..store.segments.names import class_names, display_order
from .profiles import segment_profiles, top_values, top_values_by
from ..store.segments.rfm import rf_cell_segments, rf_grid, rule_definition, segment_actions, segment_names


def _counts(seg: Segmentation, scheme: str) -> pd.Series:
    """Customers per class of a scheme, every class included."""
    return seg.customers[SCHEME_COLUMNS[scheme]].value_counts(sort=False)


def _share(part: float, whole: float) -> float | None:
    """part / whole, None when whole is 0."""
    return part / whole if whole else None


def lead(seg: Segmentation, lang: str) -> str:
    """The chapter's opening paragraph: date, customers, the three lenses and the comparison."""
    return t("segments.lead", lang, date=fmt_date(seg.as_of, lang), customers=fmt_int(len(seg.customers)),
             days=fmt_int(seg.settings.migration.days_before))


# --- 1. RFM definitions ------------------------------------------------------------------------


def _range(unit: str, lo: float | None, hi: float | None, lang: str, currency: str) -> str:
    """One score's value range: up to hi, lo to hi, or from lo (integers for days and purchases)."""
    key = "segments.rfm.definitions.range"
    if unit == "money":
        if lo is None:
            return t(f"{key}.money_up_to", lang, hi=fmt_money(hi, currency))
        if hi is None:
            return t(f"{key}.money_from", lang, lo=fmt_money(lo, currency))
        if hi <= lo:
            return t(f"{key}.empty", lang)
        return t(f"{key}.money_span", lang, lo=fmt_money(lo, currency), hi=fmt_money(hi, currency))
    if unit == "times" and lo is None:
        lo = 0  # every customer has at least one purchase: F1 reads '1' or '1-2', not 'up to 2'
    low = None if lo is None else int(np.floor(lo)) + 1  # whole days/purchases above the lower bound
    high = None if hi is None else int(np.floor(hi))
    if low is None:
        return t(f"{key}.{unit}_up_to", lang, hi=fmt_int(high))
    if high is None:
        return t(f"{key}.{unit}_from", lang, lo=fmt_int(low))
    if high < low:
        return t(f"{key}.empty", lang)
    if high == low:
        return t(f"{key}.{unit}_single", lang, n=fmt_int(low))
    return t(f"{key}.{unit}_span", lang, lo=fmt_int(low), hi=fmt_int(high))


def _score_ranges(bounds: tuple[float, ...], unit: str, lang: str, currency: str, lower_better: bool) -> list[str]:
    """Ranges of scores 5, 4, 3, 2, 1 from four ascending bounds."""
    edges = [None, *bounds, None]
    ranges = [_range(unit, edges[i], edges[i + 1], lang, currency) for i in range(5)]  # low values first
    return ranges if lower_better else ranges[::-1]


def rfm_definition_table(seg: Segmentation, lang: str, currency: str) -> pd.DataFrame:
    """R, F and M: what each measures and the values behind scores 5 (best) to 1."""
    b = seg.cuts.rfm
    key = "segments.rfm.definitions"
    freq = "def_f_days" if seg.settings.merge_same_day else "def_f_orders"
    rows = [
        [t(f"{key}.axis_r", lang), t(f"{key}.def_r", lang),
         *_score_ranges(b.recency_days, "days", lang, currency, lower_better=True)],
        [t(f"{key}.axis_f", lang), t(f"{key}.{freq}", lang),
         *_score_ranges(b.frequency, "times", lang, currency, lower_better=False)],
        [t(f"{key}.axis_m", lang), t(f"{key}.def_m_{b.monetary_basis}", lang),
         *_score_ranges(b.monetary, "money", lang, currency, lower_better=False)],
    ]
    columns = [t(f"{key}.col_axis", lang), t(f"{key}.col_definition", lang),
               *(t(f"{key}.col_score", lang, score=s) for s in (5, 4, 3, 2, 1))]
    return pd.DataFrame(rows, columns=columns)


def rfm_definition_takeaway(seg: Segmentation, lang: str) -> str:
    """How the scores were set: quantiles with the tie rule, or the client's fixed thresholds."""
    return t(f"segments.rfm.definitions.takeaway_{seg.cuts.rfm.method}", lang)


# --- 2. RFM grid --------------------------------------------------------------------------------


def rfm_grid_figure(seg: Segmentation, lang: str) -> Figure:
    """The R x F heatmap with segment names and borders."""
    scores = seg.customers[["r", "f"]]
    return charts.rfm_grid_chart(rf_grid(scores), rf_cell_segments(seg.rules), segment_names(seg.rules, lang), lang)


def rfm_grid_takeaway(seg: Segmentation, lang: str) -> str:
    """The largest segment, and the best segment's share of customers against its share of revenue."""
    profile = segment_profiles(seg.customers, "rfm_segment").set_index("segment")
    names = segment_names(seg.rules, lang)
    largest = profile["customers"].idxmax()
    best = seg.rules[0].key
    return t("segments.rfm.grid.takeaway", lang, largest=names[largest],
             largest_share=fmt_pct(profile.loc[largest, "customer_share"]), best=names[best],
             best_share=fmt_pct(profile.loc[best, "customer_share"]),
             best_revenue=fmt_pct(profile.loc[best, "revenue_share"]))


# --- profiles (RFM, CPM, ladder) ----------------------------------------------------------------


def profile(seg: Segmentation, scheme: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scheme's profile (one row per class) and its top categories and channels."""
    column = SCHEME_COLUMNS[scheme]
    return segment_profiles(seg.customers, column), top_values(seg.orders_path, seg.as_of, seg.customers, column)


def profiles(seg: Segmentation) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """profile() of every scheme, their top categories and channels from one read of the orders
    (the chapter shows all three; profile_table takes one as `data`)."""
    columns = {scheme: SCHEME_COLUMNS[scheme] for scheme in SCHEMES}
    tops = top_values_by(seg.orders_path, seg.as_of, seg.customers, tuple(columns.values()))
    return {scheme: (segment_profiles(seg.customers, column), tops[column]) for scheme, column in columns.items()}


def _top_text(tops: pd.DataFrame, dimension: str, lang: str) -> dict[str, str]:
    """Class -> 'お茶 60%、菓子 25%' for one dimension (largest first)."""
    part = tops[tops["dimension"] == dimension]
    if part.empty:
        return {}
    names = part["value"].map(lambda code: display_value(dimension, code, lang))  # one per class and value shown
    text = names + " " + part["share"].map(lambda v: fmt_pct(v, 0))
    return text.groupby(part["segment"].astype(str)).agg(t("common.list_separator", lang).join).to_dict()


def history_days(seg: Segmentation) -> int:
    """Days from the first order in the data to the as-of date."""
    first = seg.customers["first_order"].min()
    return 0 if pd.isna(first) else (seg.as_of - pd.Timestamp(first).date()).days


def cpm_unobservable(seg: Segmentation) -> dict[str, int]:
    """CPM cells this history is too short to fill -> days they need (never shown as 0)."""
    return cpm.unobservable_cells(seg.settings.cpm, history_days(seg))


def profile_table(seg: Segmentation, scheme: str, lang: str, currency: str,
                  data: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per class: customers, shares, AOV, orders per customer, median recency, top categories/channels;
    a CPM cell the history is too short to fill reads "not observable yet (needs N days)"."""
    frame, tops = data if data is not None else profile(seg, scheme)
    unseen = cpm_unobservable(seg) if scheme == "cpm" else {}
    frame = frame.set_index("segment").reindex(display_order(seg, scheme))
    names = class_names(seg, scheme, lang)
    categories, channels = _top_text(tops, "category", lang), _top_text(tops, "channel", lang)
    key = "segments.col"
    table = pd.DataFrame({
        t(f"{key}.segment", lang): [names[k] for k in frame.index],
        t(f"{key}.customers", lang): [t("segments.not_observable", lang, days=fmt_int(unseen[k])) if k in unseen
                                      else fmt_int(v) for k, v in zip(frame.index, frame["customers"])],
        t(f"{key}.customer_share", lang): [fmt_pct(v) for v in frame["customer_share"]],
        t(f"{key}.revenue_share", lang): [fmt_pct(v) for v in frame["revenue_share"]],
        t(f"{key}.aov", lang): [fmt_money(v, currency) for v in frame["aov"]],
        t(f"{key}.orders_per_customer", lang): [fmt_num(v, 1) for v in frame["orders_per_customer"]],
        t(f"{key}.median_recency", lang): [fmt_int(v) for v in frame["median_recency_days"]],
        t(f"{key}.top_categories", lang): [categories.get(k, MISSING) for k in frame.index],
        t(f"{key}.top_channels", lang): [channels.get(k, MISSING) for k in frame.index],
    })
    # a dimension the export does not carry (e.g. no channel column) would only print dashes
    for dim, values in (("top_categories", categories), ("top_channels", channels)):
        if not values:
            table = table.drop(columns=t(f"{key}.{dim}", lang))
    return table


def rfm_profile_takeaway(seg: Segmentation, lang: str) -> str:
    """The fewest segments that bring half the revenue, and their share of customers."""
    frame = segment_profiles(seg.customers, "rfm_segment").sort_values(
        ["revenue_share", "segment"], ascending=[False, True])
    cumulative = frame["revenue_share"].cumsum().to_numpy()
    k = int(np.searchsorted(cumulative, 0.5 - 1e-12) + 1) if len(frame) else 0
    top = frame.iloc[:k]
    names = segment_names(seg.rules, lang)
    return t("segments.rfm.profile.takeaway", lang, k=fmt_int(k),
             names=t("common.list_separator", lang).join(names[str(s)] for s in top["segment"]),
             revenue=fmt_pct(top["revenue_share"].sum()), customers=fmt_pct(top["customer_share"].sum()))


# --- actions and lists ---------------------------------------------------------------------------


def action_table(seg: Segmentation, lang: str) -> pd.DataFrame:
    """Per RFM segment: score conditions, customers, a suggested measure and its list's file name."""
    counts = _counts(seg, "rfm")
    names, actions = segment_names(seg.rules, lang), segment_actions(seg.rules, lang)
    exported = seg.settings.exports.enabled and "rfm" in seg.settings.exports.schemes
    key = "segments.col"
    return pd.DataFrame({
        t(f"{key}.segment", lang): [names[r.key] for r in seg.rules],
        t(f"{key}.definition", lang): [rule_definition(r) for r in seg.rules],
        t(f"{key}.customers", lang): [fmt_int(counts.get(r.key, 0)) for r in seg.rules],
        t(f"{key}.action", lang): [actions[r.key] or MISSING for r in seg.rules],
        t(f"{key}.file", lang): [export_file_name("rfm", i, r.key) if exported else MISSING
                                 for i, r in enumerate(seg.rules, start=1)],
    })


def action_takeaway(seg: Segmentation, lang: str) -> str:
    """Where the customer lists are written, and whether they carry e-mail addresses."""
    settings = seg.settings.exports
    if not settings.enabled:
        return t("segments.actions.disabled", lang)
    email = t(f"segments.actions.email_{'included' if settings.include_email else 'excluded'}", lang)
    schemes = t("common.list_separator", lang).join(t(f"segments.schemes.{s}", lang) for s in settings.schemes)
    if len(seg.customers) > settings.xlsx_max_customers:  # the workbook would be too big to open
        return t("segments.actions.takeaway_csv_only", lang, schemes=schemes, email=email,
                 limit=fmt_int(settings.xlsx_max_customers))
    return t("segments.actions.takeaway", lang, schemes=schemes, email=email)


# --- CPM ---------------------------------------------------------------------------------------


def cpm_figure(seg: Segmentation, lang: str) -> Figure:
    """Bars of the ten CPM cells."""
    return charts.cpm_chart(_counts(seg, "cpm"), cpm.STAGES, cpm.cell_names(lang), lang)


def spend_line_text(seg: Segmentation, lang: str, currency: str) -> str:
    """The CPM spend line with its origin: the client's amount, or the multiple of the AOV."""
    line = seg.cuts.cpm_spend
    if line.source == "settings":
        return t("segments.cpm.spend_fixed", lang, spend=fmt_money(line.amount, currency, lang, prose=True))
    return t("segments.cpm.spend_aov", lang, spend=fmt_money(line.amount, currency, lang, prose=True),
             aov=fmt_money(line.aov, currency, lang, prose=True), multiple=fmt_num(line.multiple, 1).removesuffix(".0"))


def cpm_takeaway(seg: Segmentation, lang: str, currency: str) -> str:
    """Active top customers against their revenue share, the largest cell, and the spend line."""
    frame = segment_profiles(seg.customers, "cpm_cell").set_index("segment")
    names = cpm.cell_names(lang)
    largest = frame["customers"].idxmax()
    return t("segments.cpm.takeaway", lang, top=fmt_int(frame.loc["top", "customers"]),
             top_share=fmt_pct(frame.loc["top", "customer_share"]),
             top_revenue=fmt_pct(frame.loc["top", "revenue_share"]), largest=names[largest],
             largest_share=fmt_pct(frame.loc[largest, "customer_share"]), line=spend_line_text(seg, lang, currency),
             active_days=fmt_int(seg.settings.cpm.active_days))


def cpm_profile_takeaway(seg: Segmentation, lang: str) -> str:
    """Lapsed customers, and how many of them left after a single purchase."""
    counts = _counts(seg, "cpm")
    lapsed = int(counts[list(cpm.LAPSED)].sum())
    return t("segments.cpm.profile_takeaway", lang, lapsed=fmt_int(lapsed),
             lapsed_share=fmt_pct(_share(lapsed, len(seg.customers))),
             first_share=fmt_pct(_share(int(counts["first_lapsed"]), lapsed)))


# --- ladder ------------------------------------------------------------------------------------


def _ladder_counts(seg: Segmentation) -> tuple[pd.Series, pd.Series]:
    """Active and lapsed customers per stage reached (1-4)."""
    c = seg.customers
    stage, lapsed = c["ladder_stage"].to_numpy(np.int64), c["ladder_lapsed"].to_numpy()
    active = np.bincount(stage[~lapsed], minlength=5)[1:]
    gone = np.bincount(stage[lapsed], minlength=5)[1:]
    return pd.Series(active, index=list(ladder.STAGES)), pd.Series(gone, index=list(ladder.STAGES))


def ladder_figure(seg: Segmentation, lang: str) -> Figure:
    """Active customers per stage, and lapsed customers apart by the stage they reached."""
    active, lapsed = _ladder_counts(seg)
    return charts.ladder_chart(active, lapsed, ladder.stage_names(lang), lang)


def ladder_takeaway(seg: Segmentation, lang: str) -> str:
    """The share still at stage 1, stage 4's size, and the lapsed who never made a second purchase."""
    active, lapsed = _ladder_counts(seg)
    n_active, n_lapsed = int(active.sum()), int(lapsed.sum())
    return t("segments.ladder.takeaway", lang, active=fmt_int(n_active),
             stage1_share=fmt_pct(_share(int(active[1]), n_active)), stage4=fmt_int(active[4]),
             follow_up=fmt_int(seg.settings.ladder.follow_up_days), lapsed=fmt_int(n_lapsed),
             one_time_share=fmt_pct(_share(int(lapsed[1]), n_lapsed)))


def ladder_profile_takeaway(seg: Segmentation, lang: str) -> str:
    """Stage 4's share of the active customers against its share of their revenue."""
    active = segment_profiles(seg.customers, "ladder").set_index("segment").drop(index="lapsed")
    return t("segments.ladder.profile_takeaway", lang,
             share=fmt_pct(_share(int(active.loc["stage4", "customers"]), int(active["customers"].sum()))),
             revenue=fmt_pct(_share(float(active.loc["stage4", "revenue"]), float(active["revenue"].sum()))),
             spend=_ladder_spend_text(seg, lang))


def _ladder_spend_text(seg: Segmentation, lang: str) -> str:
    """How top spend lifts a customer to stage 4 (or that it does not)."""
    settings = seg.settings.ladder
    if seg.cuts.ladder_spend_floor is None:
        return t("segments.ladder.spend_off", lang, n=fmt_int(settings.stage4_purchases))
    return t("segments.ladder.spend_on", lang, n=fmt_int(settings.stage4_purchases),
             min=fmt_int(settings.stage4_spend_min_purchases))


# --- deciles -----------------------------------------------------------------------------------


def decile_table(seg: Segmentation, lang: str, currency: str) -> pd.DataFrame:
    """Deciles 1-10: customers, lowest spend, revenue share, cumulative share, one-time buyers."""
    frame = decile_summary(seg.customers)
    key = "segments.col"
    return pd.DataFrame({
        t(f"{key}.decile", lang): [t("segments.decile.label", lang, n=d) for d in frame["decile"]],
        t(f"{key}.customers", lang): [fmt_int(v) for v in frame["customers"]],
        t(f"{key}.min_spend", lang): [fmt_money(v, currency) for v in frame["min_spend"]],
        t(f"{key}.revenue_share", lang): [fmt_pct(v) for v in frame["revenue_share"]],
        t(f"{key}.cumulative_share", lang): [fmt_pct(v) for v in frame["cumulative_share"]],
        t(f"{key}.one_time_share", lang): [fmt_pct(v) for v in frame["one_time_share"]],
    })


def decile_takeaway(seg: Segmentation, lang: str) -> str:
    """Top decile's and top three deciles' revenue share, and the one-time buyers in decile 1."""
    frame = decile_summary(seg.customers).set_index("decile")
    return t("segments.decile.takeaway", lang, d1=fmt_pct(frame.loc[1, "revenue_share"]),
             d3=fmt_pct(frame.loc[3, "cumulative_share"]), one_time=fmt_pct(frame.loc[1, "one_time_share"]))


# --- migration ---------------------------------------------------------------------------------


def moves_table(mig: Migration, lang: str) -> pd.DataFrame:
    """Per scheme: customers new, up, stayed, down, lapsed and returned, and the total."""
    key = "segments.migration"
    rows = []
    for scheme in SCHEMES:
        moves = mig.moves(scheme)
        rows.append([t(f"segments.schemes.{scheme}", lang), *(fmt_int(moves[m]) for m in MOVES),
                     fmt_int(moves.sum())])
    columns = [t(f"{key}.col_scheme", lang), *(t(f"{key}.moves.{m}", lang) for m in MOVES),
               t(f"{key}.col_total", lang)]
    return pd.DataFrame(rows, columns=columns)


def moves_takeaway(mig: Migration, lang: str) -> str:
    """RFM moves in one sentence (or that nobody had bought before the earlier date)."""
    moves = mig.moves("rfm")
    dates = {"start": fmt_date(mig.start_date, lang), "end": fmt_date(mig.end_date, lang)}
    if mig.start_customers == 0:
        return t("segments.migration.no_start", lang, **dates)
    return t("segments.migration.takeaway", lang, **dates, **{m: fmt_int(moves[m]) for m in MOVES})


def migration_figure(mig: Migration, seg: Segmentation, scheme: str, lang: str) -> Figure:
    """The scheme's matrix of moves as a heatmap (rows: earlier date, columns: as-of date)."""
    matrix = mig.matrix(scheme)
    order = display_order(seg, scheme)
    matrix = matrix.reindex(index=[NEW, *order], columns=order)
    names = {**class_names(seg, scheme, lang), NEW: t("segments.migration.new_row", lang)}
    title = t("segments.migration.chart_title", lang, scheme=t(f"segments.schemes.{scheme}", lang),
              start=fmt_date(mig.start_date, lang), end=fmt_date(mig.end_date, lang))
    return charts.migration_chart(matrix, [names[k] for k in matrix.index], [names[k] for k in matrix.columns],
                                  title, lang)


def migration_takeaway(mig: Migration, seg: Segmentation, scheme: str, lang: str) -> str:
    """One reading of the scheme's matrix: the best RFM segment's retention, CPM actives lapsing,
    ladder stage 1 moving on to a second purchase."""
    start, end = mig.classes[scheme]
    key = f"segments.migration.{scheme}_takeaway"
    days = fmt_int((mig.end_date - mig.start_date).days)
    if scheme == "rfm":
        best = seg.rules[0].key
        was = (start == best).to_numpy()
        n = int(was.sum())
        if not n:
            return t("segments.migration.none", lang)
        lapsed_keys = [r.key for r in seg.rules if r.lapsed]
        return t(key, lang, best=segment_names(seg.rules, lang)[best], n=fmt_int(n),
                 kept=fmt_pct((end[was] == best).mean()), lapsed=fmt_pct(end[was].isin(lapsed_keys).mean()),
                 days=days)
    if scheme == "cpm":
        active = start.notna().to_numpy() & ~start.isin(list(cpm.LAPSED)).to_numpy()
        n = int(active.sum())
        if not n:
            return t("segments.migration.none", lang)
        went = end[active].isin(list(cpm.LAPSED)).mean()
        return t(key, lang, n=fmt_int(n), lapsed=fmt_pct(went), days=days)
    was = (start == "stage1").to_numpy()
    n = int(was.sum())
    if not n:
        return t("segments.migration.none", lang)
    advanced = (seg.customers["ladder_stage"].to_numpy()[was] >= 2).mean()
    return t(key, lang, n=fmt_int(n), advanced=fmt_pct(advanced), days=days)


# --- metrics.json ------------------------------------------------------------------------------


def _sizes(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Class -> customers, customer_share, revenue_share (for metrics.json)."""
    frame = frame.assign(segment=frame["segment"].astype(str)).set_index("segment")
    return frame[["customers", "customer_share", "revenue_share"]].to_dict("index")


def headline_metrics(seg: Segmentation, mig: Migration | None = None) -> dict[str, Any]:
    """What the chapter records under 'segments': sizes and revenue shares per scheme, the cuts
    in force and (with a migration) the moves per scheme."""
    b = seg.cuts.rfm
    values: dict[str, Any] = {
        "as_of": seg.as_of,
        "customers": len(seg.customers),
        "revenue": float(seg.customers["revenue"].sum()),
        "rfm_method": b.method,
        "rfm_bounds": {"recency_days": list(b.recency_days), "frequency": list(b.frequency),
                       "monetary": list(b.monetary), "monetary_basis": b.monetary_basis},
        "cpm_spend_line": seg.cuts.cpm_spend.amount,
        "cpm_spend_source": seg.cuts.cpm_spend.source,
        "history_days": history_days(seg),
        "cpm_unobservable": cpm_unobservable(seg),
        "ladder_spend_floor": seg.cuts.ladder_spend_floor,
    }
    for scheme in SCHEMES:
        values[scheme] = _sizes(segment_profiles(seg.customers, SCHEME_COLUMNS[scheme]))
    if mig is not None:
        values["migration"] = {
            "start": mig.start_date, "end": mig.end_date, "start_customers": mig.start_customers,
            **{scheme: {m: int(v) for m, v in mig.moves(scheme).items()} for scheme in SCHEMES},
        }
    return values
