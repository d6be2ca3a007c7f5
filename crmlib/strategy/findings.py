"""The strategy chapter's findings for the executive summary (registered on import; see
crmlib/findings.py): goals that need more than the shop has ever done, and measures whose
effect the control group proves."""

from __future__ import annotations

from ..findings import Assessment, Count, Metrics, Pct, SummarySettings, finding_rule
from ..style import fmt_num

HARD = ("stretch", "beyond")  # feasibility of a goal that needs more than the history shows
SIGNIFICANCE = 0.05


@finding_rule("strategy_goals", chapter="04_strategy", anchor="goals", priority=88,
              needs=("strategy.goals",), headline="ratio")
def goals_beyond_history(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """How many of the client's goals need a yearly change beyond the largest one seen."""
    goals = [g for g in m.get("strategy.goals") or [] if isinstance(g, dict) and g.get("feasibility")]
    if not goals:
        return None
    hard = sum(g["feasibility"] in HARD for g in goals)
    met = sum(g["feasibility"] in ("met", "within") for g in goals)
    return Assessment(hard > 0, {"hard": Count(hard), "goals": Count(len(goals)), "within": Count(met),
                                 "ratio": f"{hard}/{len(goals)}"}, "hard" if hard else "within")


@finding_rule("strategy_experiment", chapter="04_strategy", anchor="effect", priority=72,
              needs=("strategy.experiments",), headline="lift")
def proven_measure(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """The measure with the largest significant lift in buying over its control group."""
    proven = [e for e in m.get("strategy.experiments") or []
              if isinstance(e, dict) and e.get("p") is not None and e["p"] < SIGNIFICANCE
              and e.get("difference") is not None and e["difference"] > 0]
    if not proven:
        return None
    best = max(proven, key=lambda e: e["difference"])
    return Assessment(False, {
        "difference": fmt_num(best["difference"] * 100, 1), "name": best.get("name") or "",
        "treated": Pct(best["treated"]), "control": Pct(best["control"]),
        "low": fmt_num(best["low"] * 100, 1), "high": fmt_num(best["high"] * 100, 1),
        "days": Count(best.get("window_days") or 0), "lift": f"+{fmt_num(best['difference'] * 100, 1)} pt",
    })
