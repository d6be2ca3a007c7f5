"""The strategy chapter's findings for the executive summary (registered on import; see
crmlib/findings.py): goals that need more than the shop has ever done, and measures whose
effect the control group proves, and the action plan's most profitable measure."""

from __future__ import annotations

from ..findings import Assessment, Count, Metrics, Money, Pct, SummarySettings, Words, finding_rule, sample
from ..style import fmt_int, fmt_num

SIGNIFICANCE = 0.05


@finding_rule("strategy_goals", chapter="04_strategy", anchor="goals", priority=88,
              needs=("strategy.goals",), headline="ratio")
def goals_beyond_history(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """The client's goals judged as section 4.1 judges them: an alert for goals beyond reach (more
    than 1.5 times the largest yearly change seen), a note for stretch goals (above it, within 1.5
    times), so the summary and 4.1 give one verdict (the demo's F2 goal was "needs a change never
    achieved, act" here and "a stretch" in 4.1)."""
    goals = [g for g in m.get("strategy.goals") or [] if isinstance(g, dict) and g.get("feasibility")]
    if not goals:
        return None
    beyond = [g for g in goals if g["feasibility"] == "beyond"]
    stretch = [g for g in goals if g["feasibility"] == "stretch"]
    met = sum(g["feasibility"] in ("met", "within") for g in goals)
    named = beyond or stretch
    variant = ("beyond_stretch" if stretch else "beyond") if beyond else ("stretch" if stretch else "within")
    counts = {"hard": fmt_int(len(named)), "goals": fmt_int(len(goals))}
    return Assessment(bool(beyond), {
        "hard": Count(len(named)), "goals": Count(len(goals)), "within": Count(met),
        "names": Words(goal_name(g) for g in named),  # beyond reach, else the stretch goals
        "stretch_names": Words(goal_name(g) for g in stretch),
        "ratio": Words([(f"summary.strategy_goals_headline_{'within' if variant == 'within' else 'hard'}", counts)]),
    }, variant)


def goal_name(goal: dict) -> str | tuple[str, dict]:
    """A goal as the summary names it: the label the client gave it, else its metric's name."""
    if isinstance(goal.get("label"), str) and goal["label"].strip():
        return goal["label"].strip()
    window = goal.get("window_days")
    return (f"strategy.metrics.{goal.get('metric')}", {"window": fmt_int(window) if window else ""})


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


@finding_rule("strategy_plan", chapter="04_strategy", anchor="plan", priority=70,
              needs=("strategy.plan.best",),
              requires=(sample("strategy.plan.best.customers"),), nonzero=("customers", "profit"),
              headline="profit")
def best_plan_measure(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """The plan's measure with the largest expected gross profit net of its cost, when it pays
    (ROI above zero); its uplift verified by a trial or assumed. Needs the gross margin and costs."""
    best = m.get("strategy.plan.best")
    if not isinstance(best, dict) or best.get("gross_profit") is None or not best.get("roi") or best["roi"] <= 0:
        return None  # no margin (revenue is not profit), or the best measure does not pay
    return Assessment(False, {
        "name": best.get("name") or "", "customers": Count(best.get("customers") or 0),
        "profit": Money(best["gross_profit"]), "cost": Money(best["cost"]), "roi": Pct(best["roi"]),
    }, "verified" if best.get("uplift_source") == "verified" else "assumed")
