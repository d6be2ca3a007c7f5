"""Figures of the strategy chapter, on plain matplotlib Figures (call crmlib.style.apply_style first)."""

from __future__ import annotations

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter
from matplotlib.transforms import Bbox

from ..i18n import t
from ..style import HIGHLIGHT, PALETTE


LABEL_POINTS = 8  # font size of a measure's label
MARKER_AREA = 60  # scatter marker size (points^2)
# where a measure's label may go around its dot, in order of preference: (dx, dy) in points,
# horizontal and vertical alignment; the first that fits inside the plot and hits nothing is used
LABEL_SLOTS = (
    (5, 6, "left", "bottom"), (5, -6, "left", "top"), (-5, 6, "right", "bottom"), (-5, -6, "right", "top"),
    (0, 8, "center", "bottom"), (0, -8, "center", "top"), (5, 18, "left", "bottom"), (5, -18, "left", "top"),
    (-5, 18, "right", "bottom"), (-5, -18, "right", "top"),
)


def service_timeline(plan: pd.DataFrame, journey: pd.DataFrame, lang: str) -> Figure:
    """One lane per stage: each measure at its timing, over the band where the stage's customers
    typically come back (25th percentile to median days to the next purchase). Each label is put
    where it hits no other label or dot (place_labels); a legend says what the band and colours mean."""
    stages = [s for s in journey["stage"] if s in set(plan["stage"])] or list(journey["stage"])
    fig = Figure(figsize=(9, 0.8 * len(stages) + 1.9))
    ax = fig.subplots()
    bands = journey.set_index("stage")
    right = 1.0
    points = []  # (x, lane, label) of every measure with a timing
    for lane, stage in enumerate(stages):
        source = "first_purchase" if stage == "arrival" else stage
        if source in bands.index and stage != "lapsed":
            low, high = bands.loc[source, "next_p25"], bands.loc[source, "next_median"]
            if pd.notna(low) and pd.notna(high):
                ax.barh(lane, high - low, left=low, height=0.5, color=PALETTE[0], alpha=0.15, zorder=1)
                right = max(right, float(high))
        rows = plan[(plan["stage"] == stage) & plan["timing_days"].notna()]
        ax.scatter(rows["timing_days"], [lane] * len(rows), s=MARKER_AREA, zorder=3,
                   color=[HIGHLIGHT if src == "data" else PALETTE[1] for src in rows["timing_source"]])
        points += [(float(x), lane, str(m)) for x, m in zip(rows["timing_days"], rows["measure"])]
    right = max([right, *(x for x, _, _ in points)])
    ax.set_yticks(range(len(stages)), [t(f"strategy.journey.stages.{s}", lang) for s in stages])
    ax.set_ylim(len(stages) - 0.5, -0.5)  # first stage on top
    ax.set_xlim(-0.04 * right - 1, right * 1.06 + 1)
    ax.set_xlabel(t("strategy.service.axis_days", lang))
    ax.grid(axis="y", visible=False)
    sources = set(plan.loc[plan["timing_days"].notna(), "timing_source"])
    handles = [Patch(color=PALETTE[0], alpha=0.15, label=t("strategy.service.legend_band", lang))]
    shown = {"settings": bool(sources - {"data"}), "data": "data" in sources}
    handles += [Line2D([], [], ls="", marker="o", color=colour, label=t(f"strategy.service.legend_{key}", lang))
                for key, colour in (("settings", PALETTE[1]), ("data", HIGHLIGHT)) if shown[key]]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles), frameon=False,
              fontsize="small", handlelength=1.2, columnspacing=1.2)
    ax.set_title(t("strategy.service.figure_title", lang), pad=24)
    fig.tight_layout()
    place_labels(ax, points)
    return fig


def place_labels(ax, points: list[tuple[float, float, str]]) -> None:
    """Label each (x, y, text) point beside its dot in the first LABEL_SLOTS position that stays
    inside the plot and overlaps no dot and no label placed before it (measured with the
    renderer); when none is free, the slot with the least overlap. Call after the layout is final."""
    renderer = FigureCanvasAgg(ax.figure).get_renderer()
    frame = ax.get_window_extent(renderer).padded(-2)
    radius = (MARKER_AREA ** 0.5) / 2 * ax.figure.dpi / 72
    taken = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
             for px, py in ax.transData.transform([(x, y) for x, y, _ in points])] if points else []
    for x, y, text in sorted(points, key=lambda p: (p[1], p[0])):
        best = None
        for dx, dy, ha, va in LABEL_SLOTS:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=LABEL_POINTS,
                                ha=ha, va=va, zorder=4)
            box = label.get_window_extent(renderer)
            outside = box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
            hit = sum(_area(box, other) for other in taken) + (box.width * box.height if outside else 0.0)
            if best is None or hit < best[0]:
                if best is not None:
                    best[1].remove()
                best = (hit, label, box)
            else:
                label.remove()
            if hit == 0:
                break
        taken.append(best[2])


def _area(a: Bbox, b: Bbox) -> float:
    """The area two boxes share (0 when apart)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0


def effect_chart(effect: pd.DataFrame, lang: str) -> Figure:
    """Treated and control shares buying in the window, each with its 95% interval."""
    r = effect.set_index("outcome").loc["bought"]
    if not (r["n_treated"] and r["n_control"]):
        raise ValueError("effect_chart needs customers in both groups (check verification.comparable first)")
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.subplots()
    labels = [t("strategy.effect.col_control", lang), t("strategy.effect.col_treated", lang)]
    shares = [r["control"], r["treated"]]
    counts = [r["n_control"], r["n_treated"]]
    errors = [1.959963984540054 * (p * (1 - p) / n) ** 0.5 if n else 0 for p, n in zip(shares, counts)]
    ax.barh(labels, shares, xerr=errors, color=[PALETTE[6], PALETTE[1]], capsize=6, height=0.55)
    for y, share in enumerate(shares):
        ax.text(share / 2, y, f"{share:.1%}", va="center", ha="center", color="white", fontweight="bold")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(t("strategy.effect.figure_title", lang))
    fig.tight_layout()
    return fig


__all__ = ["effect_chart", "service_timeline"]
