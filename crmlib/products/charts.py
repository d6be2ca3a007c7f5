"""Figures of the products chapter on plain matplotlib Figures (call crmlib.style.apply_style first).

Each takes a small aggregate frame: F2 by entry product with its interval, the category-to-category
confidence grid, and the month-of-year index per category.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure

from ..i18n import t
from ..style import PALETTE, fmt_num, fmt_pct, short_label
from .report import item_label, month_name

LABEL_CHARS = 28  # a product name on the entry chart's axis; the table beside it gives the whole name
_BLUES = LinearSegmentedColormap.from_list("crm_blues", ["#f4f7fb", PALETTE[0]])
_DIVERGING = LinearSegmentedColormap.from_list("crm_season", [PALETTE[0], "#f7f7f7", PALETTE[1]])


def entry_chart(frame: pd.DataFrame, top_n: int, level: str, lang: str) -> Figure:
    """Horizontal bars: F2 of the ranked entry products with their intervals, the shop's rate as a line."""
    rows = frame[frame["ranked"]].head(top_n).iloc[::-1]
    fig = Figure(figsize=(8.0, max(2.4, 0.32 * len(rows) + 1.2)))
    ax = fig.subplots()
    y = np.arange(len(rows))
    rate = rows["rate"].to_numpy(dtype="float64")
    errors = np.vstack([rate - rows["low"].to_numpy(dtype="float64"), rows["high"].to_numpy(dtype="float64") - rate])
    ax.barh(y, rate, color=PALETTE[0], xerr=errors, error_kw={"ecolor": "#555555", "capsize": 2, "lw": 0.8})
    ax.axvline(frame.attrs["shop_rate"], color=PALETTE[1], lw=1.5, ls="--", label=t("products.entry.chart_shop", lang))
    ax.set_yticks(y, [short_label(item_label(v, lang), LABEL_CHARS, lang) for v in rows["item"]])
    ax.xaxis.set_major_formatter(lambda value, _pos: fmt_pct(value, 0))
    ax.set_xlim(0, 1 if rows.empty else min(1.0, float(rows["high"].max()) * 1.1 + 0.02))
    ax.set_title(t("products.entry.chart_title", lang, days=frame.attrs["window"], level=level))
    ax.legend(loc="lower right", frameon=False)
    return fig


def transition_grid_chart(frame: pd.DataFrame, lang: str, top: int = 10) -> Figure:
    """Heatmap of category -> next-purchase category: the share of next purchases (confidence)."""
    grid = frame.assign(f=[item_label(v, lang) for v in frame["from_item"]],
                        to=[item_label(v, lang) for v in frame["to_item"]])
    order = grid.groupby("f")["from_pairs"].max().sort_values(ascending=False).head(top).index.to_list()
    matrix = grid.pivot_table(index="f", columns="to", values="confidence", aggfunc="sum").reindex(index=order, columns=order)
    values = matrix.to_numpy(dtype="float64")
    fig = Figure(figsize=(8.0, max(3.0, 0.45 * len(order) + 1.6)))
    ax = fig.subplots()
    ax.imshow(np.nan_to_num(values), cmap=_BLUES, vmin=0, vmax=max(float(np.nanmax(values)) if values.size else 1, 1e-9),
              aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if not np.isnan(v):
            ax.text(j, i, fmt_pct(v, 0), ha="center", va="center", fontsize=8,
                    color="white" if v > 0.55 * np.nanmax(values) else "#222222")
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_yticks(range(len(order)), order)
    ax.grid(False)
    ax.set_xlabel(t("products.transitions.chart_to", lang))
    ax.set_ylabel(t("products.transitions.chart_from", lang))
    ax.set_title(t("products.transitions.chart_title", lang))
    return fig


def season_chart(frame: pd.DataFrame, lang: str) -> Figure:
    """Heatmap of the month-of-year index per category (1.0 = an average month)."""
    months = [str(m) for m in range(1, 13)]
    values = frame[months].to_numpy(dtype="float64")
    fig = Figure(figsize=(8.0, max(2.4, 0.4 * len(frame) + 1.4)))
    ax = fig.subplots()
    spread = max(float(np.nanmax(np.abs(values - 1))) if values.size else 0.1, 0.05)
    ax.imshow(values, cmap=_DIVERGING, norm=TwoSlopeNorm(1.0, 1 - spread, 1 + spread), aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt_num(v, 2), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(12), [month_name(m, lang)[:3] if lang == "en" else month_name(m, lang) for m in range(1, 13)])
    ax.set_yticks(range(len(frame)), [item_label(v, lang) for v in frame["category"]])
    ax.grid(False)
    ax.set_title(t("products.season.chart_title", lang))
    return fig
