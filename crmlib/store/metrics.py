"""The model of metrics.json's "coverage" section: what the data can show (crmlib.store.coverage)."""

from __future__ import annotations

from ..metrics import MetricsModel, Num


class CoverageMetrics(MetricsModel):
    """Coverage.as_metrics(): history, purchase cycle, lapse, left censoring, revenue without a customer."""

    as_of: str | None = None
    data_start: str | None = None
    data_end: str | None = None
    history_days: int | None = None
    gaps: int | None = None
    gap_median: Num = None
    gap_lookback: Num = None
    gap_lapse: Num = None
    lookback_days: int | None = None
    observed_from: str | None = None
    lapse_days: int | None = None
    lapse_source: str | None = None
    customers: int | None = None
    censored_customers: int | None = None
    censored_share: Num = None
    observable_customers: int | None = None
    orders: int | None = None
    revenue: Num = None
    no_customer_orders: int | None = None
    no_customer_revenue: Num = None
    no_customer_share: Num = None
    min_customers: int | None = None
