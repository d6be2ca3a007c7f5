"""The model of metrics.json's "strategy" section (crmlib.strategy.headline.headline_metrics)."""

from __future__ import annotations

from ..metrics import MetricsModel, Num


class Goal(MetricsModel):
    """A goal: its baseline, target, the pace it needs and the assessment."""

    metric: str | None = None
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


class StrategyMetrics(MetricsModel):
    """Goals, targets, the journey's conversions, experiments and NPS."""

    goals: list[Goal] = []
    targets: list[Target] = []
    journey: dict[str, Num] = {}  # stage -> conversion
    experiments: list[Experiment] = []
    nps: NPS | None = None
