"""The `strategy:` section of the client YAML: the consultant's inputs to the six strategy steps.

Every key is optional: a client with `strategy: {}` gets every template filled with the data and
with guidance where the consultant still has to write. Files (trial, execution log, survey) are
relative to the client YAML; the report pipeline resolves them (report_settings) and hands the
notebook the segments and diagnosis settings too, so every chapter classifies customers alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from ..store.segments.settings import report_settings as segment_settings

GoalMetric = Literal[
    "revenue", "orders", "customers", "new_customers", "existing_customers", "aov",
    "orders_per_customer", "repeat_rate", "f2_rate",
]
RATE_METRICS = frozenset({"repeat_rate", "f2_rate"})
STAGES = ("first_purchase", "arrival", "second_purchase", "habit", "loyal", "lapsed")
JOURNEY_ROWS = ("action", "thoughts", "touchpoints", "pain_points", "measures")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Goal(_Strict):
    """One numeric goal for the period_months months ending at the deadline.

    Give exactly one of target (the value to reach), change (relative: 0.1 = +10%) or increase
    (absolute: 5000000 yen, or 0.05 = +5 points for a rate).
    """

    metric: GoalMetric
    target: float | None = None
    change: float | None = Field(None, gt=-1)
    increase: float | None = None
    deadline: dt.date | None = Field(None, description="default: as_of plus period_months")
    label: str | None = Field(None, description="the goal as the client words it")

    @model_validator(mode="after")
    def _one_form(self) -> Goal:
        given = [name for name in ("target", "change", "increase") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"goal '{self.metric}': give exactly one of target, change or increase "
                             f"(found {', '.join(given) or 'none'})")
        if self.metric in RATE_METRICS and self.target is not None and not 0 <= self.target <= 1:
            raise ValueError(f"goal '{self.metric}': a rate target is a share between 0 and 1 (0.35 = 35%)")
        return self


class Target(_Strict):
    """A segment to move up: scheme:key (ladder:stage1, cpm:first, rfm:at_risk)."""

    segment: str = Field(pattern=r"^(ladder|cpm|rfm):[a-z0-9_]+$")
    move_share: float = Field(0.10, gt=0, le=1, description="share of the segment assumed to move up")
    next: str | None = Field(None, pattern=r"^(ladder|cpm|rfm):[a-z0-9_]+$",
                             description="the class they move to; default: the next stage up")


class StageText(_Strict):
    """The consultant's text of one journey stage (missing rows show guidance)."""

    label: str | None = None
    action: str | None = None
    thoughts: str | None = None
    touchpoints: str | None = None
    pain_points: str | None = None
    measures: str | None = None


class Journey(_Strict):
    """The customer journey map: which stages, their text, and the windows of the data rows."""

    stages: list[str] = Field(default_factory=lambda: list(STAGES))
    text: dict[str, StageText] = Field(default_factory=dict)
    arrival_days: int = Field(30, ge=3, le=120, description="days after the first purchase that count as arrival and use")
    conversion_window_days: int = Field(90, ge=7, le=730, description="window of the first stage's conversion (F2)")

    @model_validator(mode="after")
    def _known(self) -> Journey:
        unknown = [s for s in [*self.stages, *self.text] if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown journey stage(s) {unknown}; choose from {', '.join(STAGES)}")
        return self


class Measure(_Strict):
    """One measure of the service process."""

    stage: str
    measure: str
    owner: str | None = None
    channel: str | None = None
    timing_days: int | None = Field(None, ge=0, le=730, description="days after the stage's purchase; default from the data")
    cost: float | None = Field(None, ge=0, description="cost per contact")

    @model_validator(mode="after")
    def _stage(self) -> Measure:
        if self.stage not in STAGES:
            raise ValueError(f"measure '{self.measure}': unknown stage '{self.stage}'; choose from {', '.join(STAGES)}")
        return self


class Experiment(_Strict):
    """A treated vs control comparison from a file of customer_id, group[, sent_at]."""

    name: str
    file: Path
    measure_date: dt.date | None = Field(None, description="the mail day when the file has no sent_at column")
    window_days: int = Field(60, ge=1, le=730, description="outcome window after (and before) the measure")
    treated: str = Field("treated", description="the group value of the treated customers")
    control: str = Field("control", description="the group value of the control customers")


class BeforeAfter(_Strict):
    """Shop-wide KPIs in the window_days before and after a measure date, against a year earlier."""

    name: str
    date: dt.date
    window_days: int = Field(90, ge=7, le=365)


class Kpis(_Strict):
    """The KPI tree's baseline: the period ending at baseline_end (default: the previous period)."""

    baseline_end: dt.date | None = None


class Nps(_Strict):
    """An NPS survey file of customer_id, score (0-10)[, comment, answered_at]."""

    file: Path
    segment: Literal["ladder", "cpm", "rfm"] = "ladder"


PLAN_SEGMENT = r"^((ladder|cpm|rfm):[a-z0-9_]+|due:replenishment)$"


class PlanMeasure(_Strict):
    """One measure of the 90-day action plan: who gets it, what it is expected to do, what it costs.

    uplift is an assumption: the rise in the share of the list buying within the plan's horizon
    ([0.02, 0.05] = +2 to +5 points); a measure naming a verified experiment takes that trial's
    95% interval instead, and the assumption is used only when the trial did not verify an effect.
    """

    name: str = Field(min_length=1)
    segment: str = Field(pattern=PLAN_SEGMENT, description="scheme:class of the segments chapter, or "
                         "due:replenishment (repeat customers past their own purchase cycle)")
    experiment: str | None = Field(None, description="name of a strategy.experiments trial that measured this measure")
    uplift: tuple[float, float] | None = Field(None, description="assumed [low, high] rise in the share buying")
    cost_per_contact: float | None = Field(None, ge=0)
    fixed_cost: float | None = Field(None, ge=0, description="cost of the measure regardless of the list size")
    owner: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _range(self) -> PlanMeasure:
        if self.uplift is not None and not 0 <= self.uplift[0] <= self.uplift[1] <= 1:
            raise ValueError(f"plan measure '{self.name}': uplift is [low, high] with 0 <= low <= high <= 1 "
                             f"(0.02 = +2 points in the share buying)")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"plan measure '{self.name}': end is before start")
        return self


class Plan(_Strict):
    """The 90-day action plan: measures with their lists, business case and control groups."""

    horizon_days: int = Field(90, ge=7, le=365, description="the plan's period; the baseline rate is measured over it")
    control_share: float = Field(0.10, gt=0, lt=1, description="share of each list held out as the control group")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="two-sided significance level of the power calculation")
    power: float = Field(0.80, gt=0.5, lt=1, description="power to detect the expected uplift")
    xlsx_max_customers: int = Field(200_000, ge=0, description="lists longer than this are in CSV only")
    measures: list[PlanMeasure] = Field(default_factory=list)


SCENARIOS = ("conservative", "expected", "ambitious")
# The drivers of the KPI tree a scenario changes: relative changes (0.05 = +5%) except the rates,
# which move in points (0.02 = +2 points)
DRIVERS = ("new_customers", "f2_rate", "retention", "aov", "frequency", "gross_margin", "cpa")
POINT_DRIVERS = frozenset({"f2_rate", "retention", "gross_margin"})
# The workbook's default assumptions for a driver a scenario leaves out (the report marks them as
# defaults): expected = today's rates held; conservative and ambitious a plausible step either way.
# The gross margin is the client's pricing, not a CRM lever: held in every default.
DEFAULT_CHANGES: dict[str, dict[str, float]] = {
    "conservative": {"new_customers": -0.10, "f2_rate": -0.02, "retention": -0.02, "aov": -0.02, "frequency": -0.03,
                     "gross_margin": 0.0, "cpa": 0.10},
    "expected": dict.fromkeys(DRIVERS, 0.0),
    "ambitious": {"new_customers": 0.10, "f2_rate": 0.03, "retention": 0.03, "aov": 0.03, "frequency": 0.05,
                  "gross_margin": 0.0, "cpa": -0.10},
}


class ScenarioChanges(_Strict):
    """One scenario's changes of the drivers against the baseline year; a driver left out takes
    the default assumption (DEFAULT_CHANGES)."""

    new_customers: float | None = Field(None, gt=-1, description="new customers, relative (0.1 = +10%)")
    f2_rate: float | None = Field(None, ge=-1, le=1, description="F2 conversion, points (0.02 = +2 pt)")
    retention: float | None = Field(None, ge=-1, le=1, description="retention of last year's customers, points")
    aov: float | None = Field(None, gt=-1, description="order value (AOV) of new and existing customers, relative")
    frequency: float | None = Field(None, gt=-1, description="orders per existing customer, relative")
    gross_margin: float | None = Field(None, ge=-1, le=1, description="gross margin, points (needs ltv.gross_margin)")
    cpa: float | None = Field(None, gt=-1, description="acquisition cost per new customer, relative (needs ltv.cpa)")


class Scenarios(_Strict):
    """The scenario table's three scenarios (and the workshop simulator's starting point: expected)."""

    conservative: ScenarioChanges = Field(default_factory=ScenarioChanges)
    expected: ScenarioChanges = Field(default_factory=ScenarioChanges)
    ambitious: ScenarioChanges = Field(default_factory=ScenarioChanges)


MIN_CLASS_CUSTOMERS = 30  # default floor of customers behind a target's value per customer


CONTEXT_SECTIONS = ("segments", "diagnosis", "ltv")  # the other sections the report hands the chapter


class StrategySettings(_Strict):
    """Validated settings of the strategy chapter (client YAML section `strategy:`)."""

    period_months: int = Field(12, ge=1, le=36, description="length of the baseline and goal periods")
    goals: list[Goal] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    min_class_customers: int = Field(
        MIN_CLASS_CUSTOMERS, ge=1, description="a target's value per customer resting on fewer customers is shown as too few: "
                              "no value at stake and no gain",
    )
    journey: Journey = Field(default_factory=Journey)
    service: list[Measure] = Field(default_factory=list)
    execution_log: Path | None = Field(None, description="CSV of date, measure, segment, channel, volume, cost")
    experiments: list[Experiment] = Field(default_factory=list)
    before_after: list[BeforeAfter] = Field(default_factory=list)
    kpis: Kpis = Field(default_factory=Kpis)
    nps: Nps | None = None
    plan: Plan = Field(default_factory=Plan)
    scenarios: Scenarios = Field(default_factory=Scenarios)
    # set by the report pipeline (report_settings), not in the YAML: the other chapters' sections
    context: dict[str, Any] = Field(default_factory=dict, description="filled by the report; leave out")

    @field_validator("context")
    @classmethod
    def _context(cls, value: dict[str, Any]) -> dict[str, Any]:
        """context holds only the segments, diagnosis and ltv sections, each valid as in the YAML: no
        other key and no free nesting (a deep or alias-expanded tree is refused, not carried)."""
        from ..config import section_model  # the sections' models, without importing another chapter

        models = {key: section_model(key) for key in CONTEXT_SECTIONS}
        unknown = sorted(str(key) for key in value if key not in models)
        if unknown:
            raise ValueError(f"context is filled by the report and holds only {', '.join(models)} "
                             f"(found {', '.join(unknown)})")
        for key, section in value.items():
            if not isinstance(section, dict):
                raise ValueError(f"context.{key} must be the {key}: section (a mapping)")
            models[key].model_validate(section)
        return value

    def margin_and_cpa(self) -> tuple[float | None, float | None]:
        """The gross margin and acquisition cost per new customer of the ltv: section (None: not set)."""
        ltv = self.context.get("ltv") or {}
        return ltv.get("gross_margin"), ltv.get("cpa")

    def files(self) -> list[tuple[str, Path]]:
        """(YAML key, path) of every input file the settings name."""
        out = [(f"experiments[{i}].file", e.file) for i, e in enumerate(self.experiments)]
        if self.execution_log is not None:
            out.append(("execution_log", self.execution_log))
        if self.nps is not None:
            out.append(("nps.file", self.nps.file))
        return out


def load_settings(settings: StrategySettings | dict[str, Any] | None) -> StrategySettings:
    """Validate the section (a dict from the notebook parameters) into StrategySettings."""
    if isinstance(settings, StrategySettings):
        return settings
    return StrategySettings.model_validate(settings or {})


def _resolved(path: Path | None, base: Path) -> str | None:
    return None if path is None else str(path if path.is_absolute() else (base / path).resolve())


def report_settings(config: Any) -> dict[str, Any]:
    """The notebook's `settings`: the strategy section with its files made absolute (relative to
    the client YAML) and the segments, diagnosis and ltv sections in `context` (the ltv section's
    gross margin and acquisition cost price the scenarios)."""
    raw = dict(config.strategy or {})
    parsed = load_settings(raw)
    base = config.source_path.parent if config.source_path else Path.cwd()
    if parsed.execution_log is not None:
        raw["execution_log"] = _resolved(parsed.execution_log, base)
    if parsed.nps is not None:
        raw["nps"] = {**raw["nps"], "file": _resolved(parsed.nps.file, base)}
    if parsed.experiments:
        raw["experiments"] = [{**item, "file": _resolved(exp.file, base)}
                              for item, exp in zip(raw["experiments"], parsed.experiments)]
    raw["context"] = {key: dict(getattr(config, key) or {}) for key in CONTEXT_SECTIONS}  # ltv: the plan's and the scenarios' gross margin (and CPA)
    raw["context"]["segments"] = segment_settings(config)  # plus the report's one lapse window
    missing = [(key, path) for key, path in load_settings(raw).files() if not path.is_file()]
    if missing:
        key, path = missing[0]
        raise ConfigError(f"{config.source_path or '<config>'}: strategy.{key}: no such file {path}.",
                          hint="the path is relative to the client YAML; remove the key to render the "
                               "template without that input")
    return raw


__all__ = ["input_files", "BeforeAfter", "CONTEXT_SECTIONS", "DEFAULT_CHANGES", "DRIVERS", "POINT_DRIVERS", "SCENARIOS",
           "ScenarioChanges", "Scenarios", "Experiment", "Goal", "JOURNEY_ROWS", "Journey", "Kpis", "Measure", "Nps", "Plan",
           "PlanMeasure", "RATE_METRICS",
           "STAGES", "StageText", "StrategySettings", "Target", "load_settings", "report_settings"]


def input_files(config: Any) -> list[tuple[str, Path]]:
    """(YAML key, path) of the execution log, NPS survey and experiment files the chapter reads
    (for the report's fingerprint); a missing file is left to `run` and `validate` to report."""
    from ..errors import CrmError

    try:
        return load_settings(report_settings(config)).files()
    except CrmError:
        return []

