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

Public names are imported from their modules on first use (crmlib.lazy): reading a client's
YAML imports this package for its settings model and must not load the analysis modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..lazy import exports as _exports
from ..lazy import lazy_dir as _lazy_dir
from ..lazy import lazy_getattr as _lazy_getattr

_EXPORTS = _exports(__name__, {
    ".goals": (
        "baseline_span", "current_values", "goal_history", "goal_plan", "goal_targets", "metric_history", "period_ending",
        "revenue_levers",
    ),
    ".headline": ("headline_metrics",),
    ".inputs": ("execution_summary", "read_execution_log", "write_log_template"),
    ".journey": ("journey_data",),
    ".plan": ("action_plan", "plan_vs_actual"),
    ".nps": ("nps_by_category", "nps_by_segment", "nps_score", "read_survey", "survey_customers"),
    ".service": ("service_plan", "suggested_measures"),
    ".settings": ("StrategySettings", "load_settings", "report_settings"),
    ".targets": ("class_values", "default_targets", "target_values"),
    ".tree": ("kpi_values",),
    ".verification": (
        "before_after", "compare_groups", "experiment_outcomes", "read_groups", "verify_experiment",
    ),
})


def write_strategy_exports(processed_dir: Path | str, as_of: Any, settings: dict[str, Any], out_dir: Path | str,
                           lang: str = "ja") -> None:
    """The report's exports/ for the strategy chapter: an execution-log template for the shop, and
    the action plan (action_plan.xlsx and each measure's list)."""
    from ..store.segments.classify import segment_customers
    from .inputs import write_log_template
    from .plan_exports import write_plan_exports
    from .settings import load_settings

    write_log_template(out_dir)
    config = load_settings(settings)
    seg = segment_customers(Path(processed_dir) / "orders.parquet", as_of, config.context.get("segments", {}))
    write_plan_exports(seg, config, out_dir, lang)


__getattr__ = _lazy_getattr(__name__, _EXPORTS)
__dir__ = _lazy_dir(__name__, _EXPORTS)
__all__ = sorted([*_EXPORTS, "write_strategy_exports"])  # noqa: PLE0605 (the lazy table is the one list)
