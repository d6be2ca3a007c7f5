"""The model of metrics.json's "strategy" section (crmlib.strategy.headline.headline_metrics)."""

from __future__ import annotations

from pydantic import Field

from ..metrics import MetricsModel, Num


class Goal(MetricsModel):
    """A goal: its baseline, target, the pace it needs and the assessment."""

    metric: str | None = None
    label: str | None = None  # the client's name for the goal (strategy.goals[].label); the summary names it
    window_days: int | None = None  # an F2 goal's window (names a goal without a label)
    baseline: Num = None
    target: Num = None
    required_per_year: Num = None
    feasibility: str | None = None


class Target(MetricsModel):
    """A target class: customers, the sample its value rests on, value at stake, gain, status."""

    segment: str | None = None
    customers: int | None = None
    value_n: int | None = None
    value_at_stake: Num = None
    gain: Num = None
    status: str | None = None


class Experiment(MetricsModel):
    """One verified experiment's effect on buying: treated vs control with a 95% interval."""

    name: str | None = None
    window_days: int | None = None
    treated: Num = None
    control: Num = None
    difference: Num = None
    low: Num = None
    high: Num = None
    p: Num = None
    n_treated: int | None = None
    n_control: int | None = None


class NPS(MetricsModel):
    """The survey's NPS with its interval and number of answers."""

    nps: Num = None
    n: int | None = None
    low: Num = None
    high: Num = None


class PlanMeasure(MetricsModel):
    """One measure of the 90-day action plan: list, control group, uplift and its business case."""

    name: str | None = None
    segment: str | None = None
    customers: int | None = None
    control: int | None = None
    uplift: Num = None
    uplift_low: Num = None
    uplift_high: Num = None
    uplift_source: str | None = None  # verified, assumed or None (no uplift)
    cost: Num = None
    revenue: Num = None
    gross_profit: Num = None  # None without ltv.gross_margin
    roi: Num = None
    break_even: Num = None
    needed: int | None = None
    verifiable: bool | None = None


class Plan(MetricsModel):
    """The action plan's totals (over the measures with an uplift and a cost), its measures and
    the one with the largest expected return net of cost (the summary finding reads it)."""

    measures: int | None = None
    customers: int | None = None
    complete: int | None = None
    cost: Num = None
    revenue: Num = None
    gross_profit: Num = None
    roi: Num = None
    verifiable: int | None = None
    margin: Num = None
    horizon_days: int | None = None
    measure_list: list[PlanMeasure] = Field(default_factory=list)
    best: PlanMeasure | None = None


class ScenarioFigures(MetricsModel):
    """One row of the scenario table (the baseline or a scenario; crmlib.strategy.scenario_report):
    next period's customers, revenue, gross profit and acquisition cost (null: no margin or CPA)."""

    new_customers: Num = None
    existing_customers: Num = None
    new_revenue: Num = None
    existing_revenue: Num = None
    revenue: Num = None
    gross_profit: Num = None
    acquisition_cost: Num = None
    profit_after_acquisition: Num = None


class StrategyMetrics(MetricsModel):
    """Goals, targets, the journey's conversions, experiments, NPS and the action plan."""

    goals: list[Goal] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    journey: dict[str, Num] = Field(default_factory=dict)  # stage -> conversion
    experiments: list[Experiment] = Field(default_factory=list)
    nps: NPS | None = None
    plan: Plan | None = None  # the 90-day action plan (crmlib.strategy.plan_report.plan_metrics)
    scenarios: dict[str, ScenarioFigures] = Field(default_factory=dict)  # baseline, conservative, expected, ambitious
