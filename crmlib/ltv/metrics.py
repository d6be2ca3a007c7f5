"""The model of metrics.json's "ltv" section (crmlib.ltv.headline.headline_metrics)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from ..metrics import MetricsModel, Num
from ..store.ltv.settings import LTVSettings


class FormulaInputs(MetricsModel):
    """The shop's own figures the formula LTV is computed from."""

    window_days: int | None = None
    revenue: Num = None
    annual_revenue: Num = None
    annual_complete: bool | None = None  # the data covers the 12 months of 年間LTV
    orders: int | None = None
    customers: int | None = None
    new_customers: int | None = None
    aov: Num = None
    frequency: Num = None
    retention_base: int | None = None
    retention_kept: int | None = None
    retention_period_days: int | None = None
    retention_rate: Num = None


class Formula(MetricsModel):
    """Formula LTV (AOV x frequency x lifetime), its gross profit, the CPO ceiling and payback."""

    aov: Num = None
    frequency: Num = None
    retention_rate: Num = None
    retention_years: Num = None
    ltv: Num = None
    gross_margin: Num = None
    ltv_gross_profit: Num = None
    cpa: Num = None
    cpo_ceiling: Num = None
    ratio: Num = None
    retention_cost_year: Num = None
    lifetime_cost: Num = None
    payback_months: Num = None
    payback_estimated: bool | None = None
    inputs: FormulaInputs | None = None


class FittedModel(MetricsModel):
    """One fitted model's parameters, their standard errors, log-likelihood and customers (n)."""

    model_config = ConfigDict(extra="allow")  # the parameters are the model's own (r, alpha, a, b, s, beta, p, q, v)

    n: int | None = None
    log_likelihood: Num = None
    se: dict[str, Num] = Field(default_factory=dict)


class HoldoutError(MetricsModel):
    """The holdout's predicted and actual purchases and the error."""

    predicted: Num = None
    actual: Num = None
    error: Num = None
    mae: Num = None


class HoldoutSeason(MetricsModel):
    """The holdout weeks' share of orders against their share of days."""

    day_share: Num = None
    order_share: Num = None
    ratio: Num = None


class FailedCheck(MetricsModel):
    """A model check that failed (and the model it concerns)."""

    check: str
    model: str | None = None


class GateEntry(MetricsModel):
    """A failed validity-gate check and the values it was judged on (they differ per check)."""

    model_config = ConfigDict(extra="allow")

    check: str
    model: str | None = None
    limit: Num = None


class CLV(MetricsModel):
    """Predictive CLV over the horizon (only when the models passed the gate)."""

    customers: int | None = None
    model_customers: int | None = None
    sample_share: Num = None
    mean: Num = None
    total: Num = None
    mean_p_alive: Num = None
    mean_expected_purchases: Num = None
    horizon_months: int | None = None
    discount_rate: Num = None


class LTVMetrics(MetricsModel):
    """Annual LTV, formula LTV, the fitted models and their gate, CLV."""

    as_of: str | None = None
    annual_ltv: Num = None
    annual_customers: int | None = None
    annual_revenue: Num = None
    annual_complete: bool | None = None  # the data covers the 12 months of 年間LTV
    formula: Formula | None = None
    predictive_status: str | None = None
    calibration_end: str | None = None
    repeat_buyers_calibration: int | None = None
    settings: LTVSettings | None = None
    params: dict[str, FittedModel] = Field(default_factory=dict)  # bgnbd, pareto_nbd, gamma_gamma
    calibration_params: dict[str, FittedModel] = Field(default_factory=dict)
    holdout_error: dict[str, HoldoutError] = Field(default_factory=dict)
    spend_frequency_correlation: Num = None
    failed_checks: list[FailedCheck] = Field(default_factory=list)
    gate: list[GateEntry] = Field(default_factory=list)
    holdout_season: HoldoutSeason | None = None
    clv: CLV | None = None
