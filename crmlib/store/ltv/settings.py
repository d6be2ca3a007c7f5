"""The `ltv:` section of the client YAML: costs, margin and model settings of the LTV chapter.

Every key has a default, so `ltv: {}` runs; an unknown key is an error (a typo must not pass
silently as a default). Money is in the report currency.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LTVSettings(BaseModel):
    """Validated settings of the LTV chapter (client YAML section `ltv:`)."""

    model_config = ConfigDict(extra="forbid")

    cpa: float | None = Field(
        None, ge=0, description="acquisition cost per new customer (CPA); None: cost views are skipped"
    )
    retention_cost_per_customer_year: float = Field(
        0.0, ge=0, description="yearly cost of keeping one customer (mail, DM, point programme ...)"
    )
    gross_margin: float | None = Field(
        None, gt=0, le=1,
        description="gross margin on revenue (0.4 = 40%); not set: every money figure is revenue, not "
                    "profit, and no CPO ceiling is shown",
    )
    discount_rate: float = Field(0.10, ge=0, lt=1, description="annual discount rate for predicted CLV")
    horizon_months: int = Field(36, ge=1, le=120, description="horizon of predicted purchases and CLV")
    holdout_share: float = Field(
        0.25, gt=0, lt=0.75, description="share of the period (first order to as-of) kept as holdout"
    )
    min_repeat_buyers: int = Field(
        200, ge=10, description="fewer repeat buyers than this: the models are not fitted"
    )
    max_holdout_error: float = Field(
        0.20, gt=0, le=1,
        description="validity gate: |predicted - actual| / actual repeat purchases of the holdout at most this",
    )
    max_relative_se: float = Field(
        1.0, gt=0, description="validity gate: standard error / estimate of every parameter at most this",
    )
    max_season_ratio: float = Field(
        1.25, gt=1,
        description="validity gate: the holdout's share of the last year's orders / its share of the "
                    "year's days within [1 / this, this]",
    )
    time_unit_days: int = Field(7, ge=1, le=31, description="model time unit in days (7 = weeks)")
    cohort_period: Literal["auto", "month", "quarter", "year"] = Field(
        "auto", description="acquisition cohort length; auto: quarters when there are more than 12 months"
    )
    max_model_customers: int = Field(
        1_000_000, ge=1000,
        description="above this many customers the models are fitted and scored on a random sample of this size",
    )
    max_retention_years: float = Field(
        10.0, gt=0, description="cap on the formula's retention period 1 / (1 - annual retention)"
    )
