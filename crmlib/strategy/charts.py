"""Figures of the strategy chapter, on plain matplotlib Figures (call crmlib.style.apply_style first)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..i18n import t
from ..style import HIGHLIGHT, PALETTE


def service_timeline(plan: pd.DataFrame, journey: pd.DataFrame, lang: str) -> Figure:
    """One lane per stage: each measure at its timing, over the band where the stage's customers
    typically come back (25th percentile to median days to the next purchase)."""
    stages = [s for s in journey["stage"] if s in set(plan["stage"])] or list(journey["stage"])
    fig = Figure(figsize=(9, 0.7 * len(stages) + 1.6))
    ax = fig.subplots()
    bands = journey.set_index("stage")
    for lane, stage in enumerate(stages):
        source = "first_purchase" if stage == "arrival" else stage
        if source in bands.index and stage != "lapsed":
            low, high = bands.loc[source, "next_p25"], bands.loc[source, "next_median"]
            if pd.notna(low) and pd.notna(high):
                ax.barh(lane, high - low, left=low, height=0.5, color=PALETTE[0], alpha=0.15, zorder=1)
        rows = plan[(plan["stage"] == stage) & plan["timing_days"].notna()]
        ax.scatter(rows["timing_days"], [lane] * len(rows), s=60, zorder=3,
                   color=[HIGHLIGHT if src == "data" else PALETTE[1] for src in rows["timing_source"]])
        for offset, (_, r) in enumerate(rows.iterrows()):  # a few measures per lane
            ax.annotate(str(r["measure"]), (r["timing_days"], lane), xytext=(6, 6 - 12 * (offset % 2)),
                        textcoords="offset points", fontsize=8, va="center")
    ax.set_yticks(range(len(stages)), [t(f"strategy.journey.stages.{s}", lang) for s in stages])
    ax.invert_yaxis()
    ax.set_xlim(left=-2)
    ax.set_xlabel(t("strategy.service.axis_days", lang))
    ax.set_title(t("strategy.service.figure_title", lang))
    fig.tight_layout()
    return fig


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
