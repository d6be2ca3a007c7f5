"""The strategy chapter: the six CRM strategy steps as templates filled with the client's numbers.

    with open_purchases(orders_path, as_of) as purchases:
        plan = goal_plan(purchases, settings.goals)                    # 1. goals, gap, feasibility
        values = target_values(seg, settings.targets)                  # 2. targets and their worth
        journey = journey_data(purchases, seg, settings.journey, lines_path)   # 3. journey rows
        process = service_plan(settings.service, journey, lapse_days)  # 4. service process
        effect = verify_experiment(orders_path, as_of, experiment)     # 6. treated vs control

Modules: settings (the `strategy:` YAML section), tree (KPI tree of a period), goals, targets,
journey, service, plan (the 90-day action plan's measures and lists), business_case (ROI,
break-even uplift, sample size), plan_report and plan_exports (its page and action_plan.xlsx),
inputs (execution log and other small CSVs), verification (experiments, before/after), nps,
charts, report (tables and sentences of the notebook).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .goals import baseline_span, current_values, goal_plan, goal_targets, metric_history, period_ending, revenue_levers
from .headline import headline_metrics
from .inputs import execution_summary, read_execution_log, write_log_template
from .journey import journey_data
from .plan import action_plan, plan_vs_actual
from .nps import nps_by_category, nps_by_segment, nps_score, read_survey, survey_customers
from .service import service_plan, suggested_measures
from .settings import StrategySettings, load_settings, report_settings
from .targets import class_values, default_targets, target_values
from .tree import kpi_values
from .verification import before_after, compare_groups, experiment_outcomes, read_groups, verify_experiment


def write_strategy_exports(processed_dir: Path | str, as_of: Any, settings: dict[str, Any], out_dir: Path | str,
                           lang: str = "ja") -> None:
    """The report's exports/ for the strategy chapter: an execution-log template for the shop, and
    the action plan (action_plan.xlsx and each measure's list)."""
    from ..store.segments.classify import segment_customers
    from .plan_exports import write_plan_exports

    write_log_template(out_dir)
    config = load_settings(settings)
    seg = segment_customers(Path(processed_dir) / "orders.parquet", as_of, config.context.get("segments", {}))
    write_plan_exports(seg, config, out_dir, lang)


__all__ = [
    "StrategySettings", "action_plan", "plan_vs_actual", "baseline_span", "before_after", "current_values", "goal_targets", "headline_metrics", "period_ending",
    "suggested_measures", "class_values", "compare_groups", "default_targets", "execution_summary",
    "experiment_outcomes", "goal_plan", "journey_data", "kpi_values", "load_settings", "metric_history",
    "nps_by_category", "nps_by_segment", "nps_score", "read_execution_log", "read_groups", "read_survey",
    "report_settings", "revenue_levers", "service_plan", "survey_customers", "target_values", "verify_experiment",
    "write_log_template", "write_strategy_exports",
]
