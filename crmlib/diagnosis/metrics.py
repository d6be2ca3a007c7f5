"""The model of metrics.json's "diagnosis" section (crmlib.diagnosis.headline.headline_metrics)."""

from __future__ import annotations

from pydantic import Field

from ..metrics import MetricsModel, Num


class PeriodKPIs(MetricsModel):
    """One period's KPIs (the last months and the same months a year before)."""

    start: str | None = None
    end: str | None = None
    covered: bool | None = None
    split_observable: bool | None = None
    revenue: Num = None
    orders: int | None = None
    purchases: int | None = None
    customers: int | None = None
    new_customers: int | None = None
    existing_customers: int | None = None
    new_revenue: Num = None
    existing_revenue: Num = None
    existing_revenue_share: Num = None
    repeat_customers: int | None = None
    repeat_rate: Num = None
    aov: Num = None
    orders_per_customer: Num = None


class KPIs(MetricsModel):
    """The current period and the one before."""

    current: PeriodKPIs | None = None
    previous: PeriodKPIs | None = None


class F2Window(MetricsModel):
    """Second-purchase conversion within one window: eligible first-time buyers, converted, rate."""

    eligible: int | None = None
    converted: int | None = None
    rate: Num = None


class F2Headline(F2Window):
    """The F2 conversion the report leads with, and its window."""

    window_days: int | None = None


class F2Early(MetricsModel):
    """The share of long-window conversions that happened within the short window (one base)."""

    short_days: int | None = None
    long_days: int | None = None
    converted: int | None = None
    early: int | None = None
    share: Num = None


class LeakyBucket(MetricsModel):
    """Customers gained, kept, won back and lost over the period, with their revenue."""

    period: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    lapse_days: int | None = None
    warmup: bool | None = None
    active_start: int | None = None
    active_end: int | None = None
    new: int | None = None
    new_revenue: Num = None
    retained: int | None = None
    retained_revenue: Num = None
    reactivated: int | None = None
    reactivated_revenue: Num = None
    lost: int | None = None
    lost_revenue: Num = None


class RetentionValue(MetricsModel):
    """What a few more points of retention would be worth."""

    covered: bool | None = None
    previous_customers: int | None = None
    retained: int | None = None
    retention_rate: Num = None
    uplift_points: Num = None
    extra_customers: Num = None
    revenue_per_retained: Num = None
    gain_next_period: Num = None
    gain_horizon: Num = None
    gain_share: Num = None
    horizon: int | None = None


class Concentration(MetricsModel):
    """How concentrated revenue is in the top customers."""

    top10_share: Num = None
    top20_share: Num = None
    top_decile_one_off_customers: Num = None
    top_decile_one_off_share: Num = None


class CohortRetention(MetricsModel):
    """Mean cohort retention after 1, 3, 6 and 12 months."""

    retention_month_1: Num = None
    retention_month_3: Num = None
    retention_month_6: Num = None
    retention_month_12: Num = None


class DiagnosisMetrics(MetricsModel):
    """The diagnosis chapter's headline figures."""

    period_months: int | None = None
    min_customers: int | None = None
    observed_from: str | None = None
    kpis: KPIs | None = None
    f2_conversion: dict[str, F2Window] = Field(default_factory=dict)  # window in days ("30", "90", "365") -> conversion
    f2_headline: F2Headline | None = None
    f2_early: F2Early | None = None
    leaky_bucket: LeakyBucket | None = None
    retention_value: RetentionValue | None = None
    concentration: Concentration | None = None
    cohorts: CohortRetention | None = None
