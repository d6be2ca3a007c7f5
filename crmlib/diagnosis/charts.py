"""Figures of the diagnosis chapter, drawn on plain matplotlib Figures (no pyplot state).

Call crmlib.style.apply_style(lang) first. Colours keep one meaning across figures: existing /
retained customers blue, new orange, reactivated green, lost red.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from ..i18n import t
from ..style import HIGHLIGHT, PALETTE, fmt_int, fmt_money_short, fmt_month, fmt_num, fmt_pct
from .cohorts import CohortTables, cohort_month_label
from .intervals import step_label
from .bucket import last_full_period, period_label

EXISTING, NEW, REACTIVATED, LOST = PALETTE[0], PALETTE[1], PALETTE[2], HIGHLIGHT
UNSPLIT = PALETTE[6]  # months too close to the data's start to tell new from existing customers
BAR_DAYS = 20  # bar width on a monthly date axis
MARK_LABEL_ROOM = 0.32  # top share of the gap histogram kept free for the quartile labels


def compact_money(value: float, currency: str, lang: str) -> str:
    """Short money for axes, as prose writes it (crmlib.style.fmt_money_short): ja '1.2億円', '3,500万円'; en '¥1.2M'."""
    return fmt_money_short(value, currency, lang)


def _no_data(fig: Figure, lang: str) -> Figure:
    """A figure that says there is not enough data to draw it (tiny or very short exports)."""
    fig.clear()
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, t("diagnosis.common.no_data", lang), ha="center", va="center", color=PALETTE[6])
    return fig


def _colours(colour: str, alpha: np.ndarray) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per bar: the same hue, faded where alpha < 1."""
    return [to_rgba(colour, float(a)) for a in alpha]


def _money_axis(ax, currency: str, lang: str, axis: str = "y") -> None:
    """Format an axis with compact money labels."""
    formatter = FuncFormatter(lambda value, _pos: compact_money(value, currency, lang))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _count_axis(ax, axis: str = "y") -> None:
    """Integer ticks with thousands separators."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(integer=True))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: fmt_int(value)))


def _month_ticks(ax, months: pd.Series, lang: str) -> None:
    """Month labels under the bar centres, at most about 12 of them."""
    step = max(1, -(-len(months) // 12))
    ticks = list(months.iloc[::step])
    ax.set_xticks([m + pd.Timedelta(days=BAR_DAYS / 2) for m in ticks])
    rotate = len(ticks) > 6
    ax.set_xticklabels([fmt_month(m, lang) for m in ticks], rotation=45 if rotate else 0,
                       ha="right" if rotate else "center")
    ax.grid(axis="x", visible=False)


def trends_chart(trends: pd.DataFrame, lang: str, currency: str) -> Figure:
    """Monthly revenue and customers, each stacked into existing and new; partial months faded."""
    fig = Figure(figsize=(8.0, 5.4))
    if trends.empty:
        return _no_data(fig, lang)
    top, bottom = fig.subplots(2, 1, sharex=True)
    alpha = np.where(trends["partial"], 0.35, 1.0)
    split = trends["split_observable"].to_numpy(bool) if "split_observable" in trends else np.ones(len(trends), bool)
    for ax, (old, new, whole), title in (
        (top, ("existing_revenue", "new_revenue", "revenue"), "diagnosis.trends.chart_revenue"),
        (bottom, ("existing_customers", "new_customers", "customers"), "diagnosis.trends.chart_customers"),
    ):
        # months before the observable start: one grey bar, not split into new and existing
        lower = np.where(split, trends[old], trends[whole])
        colours = [c if s else to_rgba(UNSPLIT, a)
                   for c, s, a in zip(_colours(EXISTING, alpha), split, alpha)]
        ax.bar(trends["month"], lower, width=BAR_DAYS, align="edge", color=colours)
        ax.bar(trends["month"], np.where(split, trends[new], 0), bottom=lower, width=BAR_DAYS, align="edge",
               color=_colours(NEW, alpha))
        ax.set_title(t(title, lang), loc="left", pad=24 if ax is top else 6)
        ax.set_ylim(bottom=0)
    _money_axis(top, currency, lang)
    _count_axis(bottom)
    handles = [Patch(color=EXISTING, label=t("diagnosis.trends.legend_existing", lang)),
               Patch(color=NEW, label=t("diagnosis.trends.legend_new", lang))]
    if trends["partial"].any():
        handles.append(Patch(color=EXISTING, alpha=0.35, label=t("diagnosis.trends.legend_partial", lang)))
    if not split.all():
        handles.append(Patch(color=UNSPLIT, label=t("diagnosis.trends.legend_unsplit", lang)))
        top.set_title(t("diagnosis.trends.chart_revenue", lang), loc="left", pad=40)  # room for two legend rows
    top.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize=8)
    if len(trends):
        _month_ticks(bottom, trends["month"], lang)
    return fig


def bucket_chart(bucket: pd.DataFrame, lang: str) -> Figure:
    """Left: customers gained (new, reactivated) and lost per period; right: the last full period's
    bucket as a waterfall from active customers at its start to active customers at its end."""
    unit = bucket.attrs.get("period", "quarter")
    fig = Figure(figsize=(9.0, 3.8))
    if bucket.empty:
        return _no_data(fig, lang)
    grid = fig.add_gridspec(1, 3, wspace=0.45)
    flows, fall = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2])
    x = np.arange(len(bucket))
    faded = np.where(bucket["partial"] | bucket["warmup"], 0.4, 1.0)
    flows.bar(x, bucket["new"], color=_colours(NEW, faded), width=0.7)
    flows.bar(x, bucket["reactivated"], bottom=bucket["new"], color=_colours(REACTIVATED, faded), width=0.7)
    flows.bar(x, -bucket["lost"], color=_colours(LOST, faded), width=0.7)
    net = bucket["new"] + bucket["reactivated"] - bucket["lost"]
    flows.plot(x, net, color="black", marker="o", markersize=3, lw=1, label=t("diagnosis.bucket.legend_net", lang))
    flows.axhline(0, color="black", lw=0.6)
    flows.margins(y=0.08)
    flows.set_xticks(x)
    flows.set_xticklabels([period_label(p, unit, lang) for p in bucket["period"]],
                          rotation=45 if len(bucket) > 4 else 0, ha="right" if len(bucket) > 4 else "center")
    flows.grid(axis="x", visible=False)
    flows.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: fmt_int(abs(value))))
    # the legend sits on its own line between the title and the axes: beside the title it ran
    # into the English one ("Customers gained and lost per period")
    flows.set_title(t("diagnosis.bucket.chart_flows", lang), loc="left", pad=16)
    handles = [Patch(color=NEW, label=t("diagnosis.bucket.flow_new", lang)),
               Patch(color=REACTIVATED, label=t("diagnosis.bucket.flow_reactivated", lang)),
               Patch(color=LOST, label=t("diagnosis.bucket.flow_lost", lang))]
    flows.legend(handles=[*handles, *flows.get_legend_handles_labels()[0]], loc="lower left",
                 bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False, fontsize=7, handlelength=1.2,
                 columnspacing=0.8, borderaxespad=0.2)

    row = last_full_period(bucket)
    if row is not None:
        steps = [("active_start", row["active_start"], EXISTING), ("new", row["new"], NEW),
                 ("reactivated", row["reactivated"], REACTIVATED), ("lost", -row["lost"], LOST),
                 ("active_end", row["active_end"], EXISTING)]
        level = 0
        for i, (name, value, colour) in enumerate(steps):
            if name.startswith("active"):
                fall.bar(i, value, color=colour, width=0.7)
                level = top = value
                label = fmt_int(value)
            else:
                fall.bar(i, value, bottom=level, color=colour, width=0.7)
                level += value
                top = max(level, level - value)
                label = ("+" if value >= 0 else "-") + fmt_int(abs(value))
            fall.annotate(label, (i, top), ha="center", va="bottom", fontsize=7,
                          xytext=(0, 2), textcoords="offset points")
        fall.set_ylim(0, max(row["active_start"] + row["new"] + row["reactivated"], row["active_end"], 1) * 1.12)
        fall.set_xticks(range(len(steps)))
        fall.set_xticklabels([t(f"diagnosis.bucket.step_{name}", lang) for name, _, _ in steps],
                             rotation=45, ha="right")
        fall.grid(axis="x", visible=False)
        _count_axis(fall)
        fall.set_title(period_label(row["period"], unit, lang), loc="left", pad=16)  # level with the flows title
    else:
        fall.set_axis_off()
    return fig


def relative_luminance(rgba: np.ndarray) -> np.ndarray:
    """The WCAG relative luminance of RGBA colours (one per row), as seaborn's heatmap reads it."""
    rgb = np.asarray(rgba, dtype=float)[:, :3]
    rgb = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def _tick_every(ax, count: int) -> int:
    """Label every n-th column so that the labels fit the axes' width, as seaborn's "auto" ticks do."""
    width = ax.get_window_extent().transformed(ax.figure.dpi_scale_trans.inverted()).width
    tick, = ax.xaxis.set_ticks([0])
    fits = int(width // (tick.label1.get_size() / 72))
    return count // fits + 1 if fits >= 1 else max(count, 1)


def heatmap(ax, data: pd.DataFrame, annot: np.ndarray, mask: np.ndarray, yticklabels: list[str], *, cmap: str,
            vmin: float, vmax: float | None, cbar_kws: dict) -> None:
    """seaborn.heatmap(data, annot=annot, fmt="", mask=mask, linewidths=0.4, linecolor="white",
    annot_kws={"fontsize": 6.5}) as matplotlib calls, without importing seaborn: seaborn loads
    scipy.stats (0.8 CPU-s of the diagnosis kernel for this one chart) and draws the whole figure
    once more to see whether tick labels overlap. Here the cohort labels ("2010-12 (948)") always
    lie flat and the month numbers never overlap, which is what seaborn ends up with for them
    (tests/test_diagnosis.py compares the pixels with seaborn's)."""
    values = np.ma.masked_where(mask | data.isna().to_numpy(), data.to_numpy(dtype=float))
    top = np.nanmax(values.filled(np.nan)) if vmax is None else vmax
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    mesh = ax.pcolormesh(values, cmap=mpl.colormaps[cmap], vmin=vmin, vmax=top, linewidths=0.4, edgecolor="white")
    ax.set(xlim=(0, values.shape[1]), ylim=(0, values.shape[0]))
    ax.invert_yaxis()
    colorbar = ax.figure.colorbar(mesh, None, ax, **cbar_kws)
    colorbar.outline.set_linewidth(0)
    every = _tick_every(ax, values.shape[1])
    ax.set(xticks=np.arange(0, values.shape[1], every) + 0.5, yticks=np.arange(values.shape[0]) + 0.5)
    ax.set_xticklabels(data.columns.to_numpy()[::every])
    ax.set_yticklabels(yticklabels, rotation="horizontal", va="center")
    mesh.update_scalarmappable()
    dark = relative_luminance(mesh.get_facecolors()) <= 0.408
    rows, columns = values.shape
    for index in np.flatnonzero(~np.ma.getmaskarray(values).ravel()):
        row, column = divmod(int(index), columns)
        ax.text(column + 0.5, row + 0.5, str(annot[row, column]), color="w" if dark[index] else ".15",
                ha="center", va="center", fontsize=6.5)


def cohort_heatmap(tables: CohortTables, kind: str, lang: str, currency: str) -> Figure:
    """A cohort table as a heatmap: kind = 'retention', 'orders_per_customer' or 'revenue_per_customer'."""
    table = getattr(tables, kind)
    fig = Figure(figsize=(9.0, max(2.6, 0.32 * len(table) + 1.4)))
    if table.empty or table.isna().all().all() or not tables.sizes.sum():
        return _no_data(fig, lang)
    ax = fig.subplots()
    if kind == "retention":
        # month 0 is 100% by definition: leave it out of the colour scale so later months show
        data, annot = table.copy(), table.map(lambda v: "" if pd.isna(v) else fmt_pct(v, 0 if v >= 0.1 else 1))
        data[0] = np.nan
        vmax = np.nanmax(data.to_numpy()) if np.isfinite(data.to_numpy(dtype=float)).any() else 1.0
        cmap, fmt_bar = "Blues", PercentFormatter(1.0, decimals=0)
    elif kind == "orders_per_customer":
        data, annot = table, table.map(lambda v: "" if pd.isna(v) else fmt_num(v, 2))
        vmax, cmap, fmt_bar = None, "Greens", None
    else:
        data = table
        annot = table.map(lambda v: "" if pd.isna(v) else compact_money(v, currency, lang))
        vmax, cmap, fmt_bar = None, "Oranges", FuncFormatter(lambda v, _p: compact_money(v, currency, lang))
    labels = [f"{cohort_month_label(c, lang)} ({fmt_int(n)})" for c, n in zip(table.index, tables.sizes)]
    heatmap(ax, data.astype(float), annot.to_numpy(), table.isna().to_numpy() & data.isna().to_numpy(), labels,
            cmap=cmap, vmin=0, vmax=vmax, cbar_kws={"format": fmt_bar, "shrink": 0.8} if fmt_bar else {"shrink": 0.8})
    if kind == "retention":  # month 0 is uncoloured, so seaborn leaves its cells unlabelled
        for row, observed in enumerate(table[0].notna()):
            if observed:
                ax.text(0.5, row + 0.5, "100%", ha="center", va="center", fontsize=6.5, color=PALETTE[6])
    ax.grid(False)
    ax.set_xlabel(t("diagnosis.cohorts.axis_months", lang))
    ax.set_ylabel(t("diagnosis.cohorts.axis_cohort", lang))
    ax.set_title(t(f"diagnosis.cohorts.chart_{kind}", lang), loc="left")
    ax.tick_params(axis="y", labelsize=7)
    ax.tick_params(axis="x", labelsize=7, rotation=0)
    return fig


def funnel_chart(funnel: pd.DataFrame, lang: str) -> Figure:
    """Customers reaching each purchase count, with the conversion to the next purchase."""
    fig = Figure()
    if funnel.empty or not funnel["customers"].iloc[0]:
        return _no_data(fig, lang)
    ax = fig.subplots()
    x = np.arange(len(funnel))
    ax.bar(x, funnel["customers"], color=[NEW] + [EXISTING] * (len(funnel) - 1), width=0.65)
    top = float(funnel["customers"].max()) if len(funnel) else 1.0
    for i, row in enumerate(funnel.itertuples(index=False)):
        ax.annotate(fmt_int(row.customers), (i, row.customers), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
        if i + 1 < len(funnel) and not pd.isna(row.conversion):
            ax.annotate(f"→ {fmt_pct(row.conversion)}", (i + 0.5, row.next_customers + top * 0.12),
                        ha="center", fontsize=7.5, color=HIGHLIGHT if i == 0 else "black")
    ax.set_xticks(x)
    ax.set_xticklabels([t("diagnosis.funnel.step_label", lang, n=int(s)) for s in funnel["step"]])
    ax.grid(axis="x", visible=False)
    _count_axis(ax)
    ax.set_ylim(0, top * 1.12)
    ax.set_title(t("diagnosis.funnel.chart_title", lang), loc="left")
    ax.set_ylabel(t("diagnosis.funnel.axis_customers", lang))
    return fig


def interval_chart(histogram: pd.DataFrame, intervals: pd.DataFrame, lang: str) -> Figure:
    """Left: days from the first to the second purchase (quartiles marked; the grey bar holds every
    longer gap); right: median and quartiles of the days to the next purchase at each step."""
    fig = Figure(figsize=(9.0, 3.6))
    if not histogram["gaps"].sum():
        return _no_data(fig, lang)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2], "wspace": 0.35})
    if len(histogram) > 1:
        width = float(histogram["bin_start"].iloc[1] - histogram["bin_start"].iloc[0])
        colours = [PALETTE[0]] * (len(histogram) - 1) + [PALETTE[6]]
        left.bar(histogram["bin_start"], histogram["share"], width=width * 0.9, align="edge", color=colours)
    first = intervals[intervals["step"] == 1]
    if not first.empty:
        for key, style in (("p25", ":"), ("p50", "--"), ("p75", ":")):
            value = float(first[key].iloc[0])
            left.axvline(value, color=HIGHLIGHT, ls=style, lw=1.2)
            left.annotate(t(f"diagnosis.intervals.mark_{key}", lang, days=fmt_num(value, 0)), (value, 1.0),
                          xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=7,
                          color=HIGHLIGHT, bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        # the marks' labels hang from the top: the bars stay below them (the demo's median label sat
        # on its tallest bar)
        left.set_ylim(0, float(histogram["share"].max()) / (1 - MARK_LABEL_ROOM))
    left.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    left.set_xlabel(t("diagnosis.intervals.axis_days", lang))
    left.set_ylabel(t("diagnosis.intervals.axis_share", lang))
    left.set_title(t("diagnosis.intervals.chart_title", lang), loc="left")
    left.set_xlim(left=0)

    steps = intervals[intervals["step"] > 0].sort_values("step", ascending=False)
    y = np.arange(len(steps))
    right.barh(y, steps["p75"] - steps["p25"], left=steps["p25"], color=to_rgba(PALETTE[0], 0.35), height=0.55)
    right.scatter(steps["p50"], y, color=PALETTE[0], zorder=3, s=18)
    for yi, median in zip(y, steps["p50"]):
        right.annotate(fmt_num(median, 0), (median, yi), xytext=(0, 6), textcoords="offset points",
                       ha="center", fontsize=7)
    right.set_yticks(y)
    right.set_yticklabels([step_label(int(s), intervals.attrs.get("steps", 4), lang) for s in steps["step"]],
                          fontsize=7)
    right.set_xlabel(t("diagnosis.intervals.axis_step_days", lang))
    right.set_title(t("diagnosis.intervals.chart_steps", lang), loc="left")
    right.set_xlim(left=0)
    right.grid(axis="y", visible=False)
    return fig


def decile_chart(deciles: pd.DataFrame, pareto: pd.DataFrame, lang: str) -> Figure:
    """Left: each decile's share of revenue, one-off buyers' part hatched; right: the Pareto curve."""
    fig = Figure(figsize=(9.0, 3.6))
    if deciles.empty or not deciles["revenue"].sum():
        return _no_data(fig, lang)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2], "wspace": 0.3})
    x = deciles["decile"].to_numpy()
    repeat = (deciles["revenue"] - deciles["one_off_revenue"]) / deciles["revenue"].sum()
    one_off = deciles["one_off_revenue"] / deciles["revenue"].sum()
    left.bar(x, repeat, color=EXISTING, width=0.7, label=t("diagnosis.deciles.legend_repeat", lang))
    left.bar(x, one_off, bottom=repeat, color=NEW, hatch="///", edgecolor="white", width=0.7,
             label=t("diagnosis.deciles.legend_one_off", lang))
    for xi, share in zip(x, deciles["share"]):
        left.annotate(fmt_pct(share), (xi, share), ha="center", va="bottom", fontsize=7,
                      xytext=(0, 2), textcoords="offset points")
    left.set_xticks(x)
    left.set_xticklabels([str(int(d)) for d in x])
    left.set_xlabel(t("diagnosis.deciles.axis_decile", lang))
    left.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    left.grid(axis="x", visible=False)
    left.legend(frameon=False, fontsize=7)
    left.set_title(t("diagnosis.deciles.chart_share", lang), loc="left")

    right.plot([0, *pareto["customer_share"]], [0, *pareto["revenue_share"]], color=EXISTING, lw=1.8)
    right.plot([0, 1], [0, 1], color=PALETTE[6], lw=0.8, ls="--")
    row = pareto[pareto["percent"] == 20]
    if not row.empty:
        cx, cy = float(row["customer_share"].iloc[0]), float(row["revenue_share"].iloc[0])
        right.plot([cx, cx], [0, cy], color=HIGHLIGHT, lw=0.8, ls=":")
        right.plot([0, cx], [cy, cy], color=HIGHLIGHT, lw=0.8, ls=":")
        right.annotate(t("diagnosis.deciles.mark_top20", lang, share=fmt_pct(cy)), (cx, cy), fontsize=7,
                       xytext=(6, -12), textcoords="offset points", color=HIGHLIGHT)
    right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    right.set_xlim(0, 1)
    right.set_ylim(0, 1.02)
    right.set_xlabel(t("diagnosis.deciles.axis_customers", lang))
    right.set_ylabel(t("diagnosis.deciles.axis_revenue", lang))
    right.set_title(t("diagnosis.deciles.chart_pareto", lang), loc="left")
    return fig


__all__ = ["bucket_chart", "cohort_heatmap", "compact_money", "decile_chart", "funnel_chart",
           "interval_chart", "trends_chart"]
