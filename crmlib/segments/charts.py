"""Figures of the segments chapter, on plain matplotlib Figures (call crmlib.style.apply_style first).

Each figure takes small aggregate frames (never one row per customer) and the display names,
so it is the same in both languages apart from its text.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..i18n import t
from ..style import PALETTE, fmt_int, fmt_pct

LAPSED_COLOUR = "#8c8c8c"
_CMAP = LinearSegmentedColormap.from_list("crm_blues", ["#f4f7fb", PALETTE[0]])


def _ink(share: float) -> str:
    """Text colour readable on a cell of the heatmap colour scale."""
    return "white" if share > 0.55 else "#222222"


def _tick_label(text: str, width: int = 12) -> str:
    """Wrap a long tick label at spaces (English stage names); Japanese labels have none and stay."""
    return "\n".join(textwrap.wrap(text, width)) or text


def _count_axis(ax) -> None:
    """A y axis of whole customer counts with thousands separators, starting at zero."""
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(lambda value, _pos: fmt_int(value))
    ax.set_ylim(bottom=0)


def rfm_grid_chart(
    grid: pd.DataFrame, cell_segments: dict[tuple[int, int], list[str]], names: dict[str, str], lang: str
) -> Figure:
    """R x F heatmap of customers: colour = share of customers, text = segment and count; lines
    mark segment borders (cells split by M list every segment they hold)."""
    fig = Figure(figsize=(8.0, 5.4))
    ax = fig.subplots()
    counts = grid.to_numpy(dtype=np.float64)
    total = counts.sum()
    shares = counts / total if total else counts
    scale = shares / shares.max() if shares.max() > 0 else shares
    ax.imshow(scale, cmap=_CMAP, vmin=0, vmax=1, aspect="auto")
    rows, cols = list(grid.index), list(grid.columns)  # R5..R1, F1..F5
    labels = {}
    for i, r in enumerate(rows):
        for j, f in enumerate(cols):
            keys = cell_segments[(int(r), int(f))]
            labels[(i, j)] = tuple(keys)
            name = "\n".join(names[k] for k in keys[:2]) + ("…" if len(keys) > 2 else "")
            ax.text(j, i - 0.12, name, ha="center", va="center", fontsize=7.5, color=_ink(scale[i, j]))
            ax.text(j, i + 0.28, f"{fmt_int(counts[i, j])} ({fmt_pct(shares[i, j], 0)})", ha="center",
                    va="center", fontsize=8.5, color=_ink(scale[i, j]))
    for i in range(len(rows)):  # segment borders between neighbouring cells with different segments
        for j in range(len(cols)):
            if j + 1 < len(cols) and labels[(i, j)] != labels[(i, j + 1)]:
                ax.plot([j + 0.5, j + 0.5], [i - 0.5, i + 0.5], color="#e07b39", lw=2.2)
            if i + 1 < len(rows) and labels[(i, j)] != labels[(i + 1, j)]:
                ax.plot([j - 0.5, j + 0.5], [i + 0.5, i + 0.5], color="#e07b39", lw=2.2)
    ax.set_xticks(range(len(cols)), [f"F{f}" for f in cols])
    ax.set_yticks(range(len(rows)), [f"R{r}" for r in rows])
    ax.set_xlabel(t("segments.rfm.grid.axis_f", lang))
    ax.set_ylabel(t("segments.rfm.grid.axis_r", lang))
    ax.set_title(t("segments.rfm.grid.chart_title", lang))
    ax.grid(False)
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    return fig


def cpm_chart(counts: pd.Series, stages: tuple[str, ...], names: dict[str, str], lang: str) -> Figure:
    """Bars of the ten CPM cells: per stage (初回 ... 優良) the active cell and its lapsed twin."""
    fig = Figure(figsize=(8.0, 3.8))
    ax = fig.subplots()
    x = np.arange(len(stages))
    width = 0.4
    active = counts.reindex(list(stages)).fillna(0).to_numpy()
    lapsed = counts.reindex([f"{s}_lapsed" for s in stages]).fillna(0).to_numpy()
    bars_a = ax.bar(x - width / 2, active, width, color=PALETTE[0], label=t("segments.cpm.legend_active", lang))
    bars_l = ax.bar(x + width / 2, lapsed, width, color=LAPSED_COLOUR, label=t("segments.cpm.legend_lapsed", lang))
    for bars in (bars_a, bars_l):
        ax.bar_label(bars, labels=[fmt_int(b.get_height()) for b in bars], fontsize=8, padding=2)
    ax.set_xticks(x, [_tick_label(names[s]) for s in stages])
    ax.set_ylabel(t("segments.axis_customers", lang))
    _count_axis(ax)
    ax.margins(y=0.15)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
    ax.set_title(t("segments.cpm.chart_title", lang), pad=26)
    return fig


def ladder_chart(active: pd.Series, lapsed: pd.Series, names: dict[str, str], lang: str) -> Figure:
    """Left: active customers on each of the four stages; right, apart: lapsed customers by the
    stage they had reached (own scale: lapsed one-time buyers usually outnumber everyone).
    Horizontal bars, stage 1 on top, named once on the left: a stage name ('②期待感の充足',
    'Stage 2: expectations met') has a row of its own and never runs into the next."""
    stages = list(active.index)
    fig = Figure(figsize=(8.0, 0.45 * len(stages) + 1.3))
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1], "wspace": 0.12})
    rows = np.arange(len(stages))
    for ax, values, colour, title in (
        (left, active.to_numpy(), PALETTE[0], t("segments.ladder.chart_active", lang)),
        (right, lapsed.reindex(stages).fillna(0).to_numpy(), LAPSED_COLOUR, t("segments.ladder.chart_lapsed", lang)),
    ):
        bars = ax.barh(rows, values, color=colour, height=0.6)
        ax.bar_label(bars, labels=[fmt_int(v) for v in values], fontsize=8, padding=3)
        ax.set_title(title)
        ax.set_xlabel(t("segments.axis_customers", lang))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.xaxis.set_major_formatter(lambda value, _pos: fmt_int(value))
        ax.set_xlim(0, max(float(values.max()), 1.0) * 1.22)  # room for the count after the bar
        ax.grid(axis="y", visible=False)
    left.set_yticks(rows, [_tick_label(names[f"stage{s}"], 22) for s in stages])
    left.invert_yaxis()  # stage 1 on top (the axis is shared)
    right.tick_params(axis="y", left=False, labelleft=False)
    return fig


def migration_chart(matrix: pd.DataFrame, row_names: list[str], col_names: list[str], title: str,
                    lang: str) -> Figure:
    """Heatmap of moves: rows = class at the earlier date, columns = class on the as-of date;
    colour = share of the row (where the row's customers went), text = customers; diagonal framed."""
    counts = matrix.to_numpy(dtype=np.float64)
    rows_total = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows_total, out=np.zeros_like(counts), where=rows_total > 0)
    height = max(3.2, 0.42 * len(row_names) + 1.6)
    fig = Figure(figsize=(8.0, height))
    ax = fig.subplots()
    ax.imshow(shares, cmap=_CMAP, vmin=0, vmax=1, aspect="auto")
    small = 7 if len(col_names) > 6 else 8
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                ax.text(j, i, fmt_int(counts[i, j]), ha="center", va="center", fontsize=small,
                        color=_ink(shares[i, j]))
    for j, key in enumerate(matrix.columns):  # frame "stayed": the cell of the same class
        if key in matrix.index:
            i = list(matrix.index).index(key)
            ax.add_patch(_frame(j, i))
    ax.set_xticks(range(len(col_names)), col_names, rotation=40, ha="right", fontsize=small)
    ax.set_yticks(range(len(row_names)), row_names, fontsize=small)
    ax.set_xlabel(t("segments.migration.axis_to", lang))
    ax.set_ylabel(t("segments.migration.axis_from", lang))
    ax.set_title(title)
    ax.grid(False)
    return fig


def _frame(x: int, y: int) -> Rectangle:
    """A rectangle outlining one heatmap cell."""
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=PALETTE[1], lw=1.5)


__all__ = ["cpm_chart", "ladder_chart", "migration_chart", "rfm_grid_chart"]
