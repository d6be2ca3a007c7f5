"""The `diagnosis:` section of the client YAML: periods, thresholds and windows of the diagnosis chapter.

Every key has a default, so `diagnosis: {}` runs; an unknown key is an error (a typo must not
pass silently as a default).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SplitDimension = Literal["channel", "category", "source", "region"]

# Longest calendar period of each leaky-bucket granularity, in days (see lapse_days).
PERIOD_DAYS = {"month": 31, "quarter": 92}


class DiagnosisSettings(BaseModel):
    """Validated settings of the diagnosis chapter (client YAML section `diagnosis:`)."""

    model_config = ConfigDict(extra="forbid")

    period_months: int = Field(
        12, ge=1, le=60,
        description="length of the analysis period ending the day before as_of (headline KPIs, deciles, 5:25)",
    )
    compare_to: Literal["previous_period", "year_before"] = Field(
        "previous_period",
        description="comparison period: the period just before, or the same months a year earlier "
        "(identical for 12-month periods; year_before avoids seasonality for shorter periods)",
    )
    merge_same_day: bool = Field(
        True,
        description="count a customer's orders on one calendar day as one purchase (split baskets, a "
        "forgotten item), so a re-order minutes later is not an F2 conversion at 0 days",
    )
    trend_months: int = Field(24, ge=3, le=120, description="calendar months shown in the monthly trends")
    bucket_period: Literal["month", "quarter"] = Field("quarter", description="leaky-bucket period")
    lapse_days: int | None = Field(
        None, ge=31, le=1095,
        description="a customer who goes more than this many days without a purchase is lost (離脱); "
        "unset: derived from the shop's purchase cycle (the 90th percentile of the days between "
        "purchases, kept within 92 to 730 days; crmlib.store.coverage), stated in the data check",
    )
    min_customers: int = Field(
        30, ge=1, description="a rate on fewer customers is shown as 'too few customers (n)' and feeds no finding",
    )
    bucket_periods_shown: int = Field(8, ge=2, le=60, description="leaky-bucket periods shown in the figure")
    cohort_count: int = Field(12, ge=2, le=60, description="first-purchase months shown in the cohort tables")
    cohort_months: int = Field(12, ge=1, le=60, description="months since first purchase shown in the cohort tables")
    funnel_steps: int = Field(6, ge=2, le=20, description="purchase counts shown in the funnel (1 .. n)")
    f2_windows: list[int] = Field(
        default_factory=lambda: [30, 90, 365],
        description="F2 conversion windows in days after the first purchase",
    )
    f2_splits: list[SplitDimension] = Field(
        default_factory=lambda: ["channel", "category", "source"],
        description="first-purchase attributes F2 conversion is split by, when the data has them",
    )
    min_segment_customers: int = Field(
        30, ge=1, description="F2 rates of segments with fewer eligible first-time customers are not shown"
    )
    interval_steps: int = Field(
        4, ge=1, le=10, description="purchase steps with their own row in the interval table; later steps are pooled"
    )
    interval_max_days: int = Field(365, ge=30, le=1095, description="range of the days-between-purchases histogram")
    interval_bin_days: int = Field(7, ge=1, le=90, description="bin width of the days-between-purchases histogram")
    decile_basis: Literal["period", "lifetime"] = Field(
        "period", description="decile spend: in the analysis period, or all purchases before as_of"
    )
    retention_uplift_points: float = Field(
        5.0, gt=0, le=50, description="retention change valued in the 5:25 check, in percentage points"
    )
    uplift_horizon_periods: int = Field(
        3, ge=1, le=10, description="periods the extra retained customers are followed in the 5:25 check"
    )

    @field_validator("f2_windows")
    @classmethod
    def _windows(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one window in days, e.g. [30, 90, 365]")
        if any(day < 1 or day > 1095 for day in value):
            raise ValueError("windows must be between 1 and 1095 days")
        return sorted(set(value))

    @field_validator("f2_splits")
    @classmethod
    def _splits(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _lapse_longer_than_period(self) -> DiagnosisSettings:
        # a customer can lapse at most once and come back at most once per bucket period only
        # when the lapse threshold is longer than the period (the flows then add up exactly)
        longest = PERIOD_DAYS[self.bucket_period]
        if self.lapse_days is not None and self.lapse_days < longest:
            raise ValueError(
                f"lapse_days ({self.lapse_days}) must be at least {longest} days with "
                f"bucket_period '{self.bucket_period}'"
            )
        return self
