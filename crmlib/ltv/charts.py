"""Figures of the LTV chapter, on plain matplotlib Figures in the shared style (crmlib.style).

Call crmlib.style.apply_style(lang) first. Text comes from the message catalog (ltv.*).
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..i18n import t
from ..style import PALETTE, fmt_int, fmt_money, fmt_month
from .text import group_label, model_label

MODEL_STYLES = {"bgnbd": (PALETTE[1], "--"), "pareto_nbd": (PALETTE[2], ":")}


def money_tick(value: float, currency: str, lang: str) -> str:
    """An axis label in money as prose writes it: '12,000円', '15万円', '£5,000', '£12K'."""
    return fmt_money(round(value), currency, lang, prose=True)


def _money_axis(ax, currency: str, lang: str) -> None:
    """Y axis in money of the report currency, starting at 0."""
    ax.yaxis.set_major_formatter(lambda value, _pos: money_tick(value, currency, lang))
    ax.set_ylim(bottom=0)


def _date_axis(ax, lang: str) -> None:
    """X axis of dates labelled by month in the report language ('2024年3月', 'Mar 2024')."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(lambda value, _pos: fmt_month(mdates.num2date(value), lang))


def _colours(n: int, sequential: bool) -> list:
    """Line colours: the palette for a few groups, a blue ramp (old -> new) for many cohorts."""
    if not sequential and n <= len(PALETTE):
        return PALETTE[:n]
    ramp = mpl.colormaps["Blues"]
    return [ramp(0.35 + 0.6 * i / max(n - 1, 1)) for i in range(n)]


def cumulative_chart(curve: pd.DataFrame, by: str, period: str, lang: str, currency: str) -> Figure:
    """Lines of cumulative revenue per customer by months since the first purchase, one per group."""
    fig = Figure()
    ax = fig.subplots()
    groups = list(curve["group"].drop_duplicates())
    colours = _colours(len(groups), sequential=by == "cohort")
    for group, colour in zip(groups, colours):
        part = curve[curve["group"].eq(group) if not pd.isna(group) else curve["group"].isna()]
        ax.plot(part["months_since"], part["revenue_per_customer"], color=colour, lw=1.8,
                marker="o" if len(part) <= 3 else None, ms=4, label=group_label(group, by, period, lang))
    ax.set_title(t(f"ltv.chart.cumulative_title_{by}", lang))
    ax.set_xlabel(t("ltv.chart.axis_months_since", lang))
    ax.set_ylabel(t("ltv.chart.axis_revenue_per_customer", lang))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _money_axis(ax, currency, lang)
    ax.set_xlim(left=0)
    if groups:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small",
                  ncol=1 if len(groups) <= 14 else 2)
    return fig


def tracking_chart(frame: pd.DataFrame, calibration_end, lang: str) -> Figure:
    """Cumulative repeat purchases per time unit: actual vs each model; the holdout is shaded."""
    fig = Figure()
    ax = fig.subplots()
    ax.plot(frame["period_end"], frame["actual"], color=PALETTE[0], lw=2.2, label=t("ltv.chart.actual", lang))
    for name, (colour, style) in MODEL_STYLES.items():
        if name in frame:
            ax.plot(frame["period_end"], frame[name], color=colour, ls=style, lw=1.8, label=model_label(name, lang))
    cut = pd.Timestamp(calibration_end)
    ax.axvspan(cut, frame["period_end"].max(), color=PALETTE[6], alpha=0.12, lw=0,
               label=t("ltv.chart.holdout_period", lang))
    ax.axvline(cut, color=PALETTE[6], lw=1)
    ax.set_title(t("ltv.chart.tracking_title", lang))
    ax.set_ylabel(t("ltv.chart.axis_cumulative_repeat", lang))
    ax.yaxis.set_major_formatter(lambda value, _pos: fmt_int(value))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    _date_axis(ax, lang)
    fig.autofmt_xdate()
    return fig


def frequency_chart(table: pd.DataFrame, lang: str) -> Figure:
    """Grouped bars per calibration frequency bucket: mean actual vs predicted holdout purchases."""
    fig = Figure()
    ax = fig.subplots()
    series = [("actual", PALETTE[0], t("ltv.chart.actual", lang))] + [
        (name, MODEL_STYLES[name][0], model_label(name, lang)) for name in MODEL_STYLES if name in table
    ]
    positions = np.arange(len(table))
    width = 0.8 / len(series)
    for i, (column, colour, text) in enumerate(series):
        ax.bar(positions + (i - (len(series) - 1) / 2) * width, table[column], width=width, color=colour, label=text)
    ax.set_xticks(positions)
    ax.set_xticklabels(table["bucket"])
    ax.set_title(t("ltv.chart.frequency_title", lang))
    ax.set_xlabel(t("ltv.chart.axis_calibration_repeats", lang))
    ax.set_ylabel(t("ltv.chart.axis_holdout_purchases", lang))
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return fig


__all__ = ["cumulative_chart", "frequency_chart", "tracking_chart"]
