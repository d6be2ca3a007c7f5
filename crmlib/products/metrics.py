"""The model of metrics.json's "products" section (crmlib.products.report.headline_metrics)."""

from __future__ import annotations

from pydantic import Field

from ..metrics import MetricsModel, Num


class EntryProduct(MetricsModel):
    """An entry product: new customers (n), their F2 rate, its lower bound and the lift."""

    item: str | None = None
    n: int | None = None
    rate: Num = None
    low: Num = None
    lift: Num = None


class EntryProducts(MetricsModel):
    """The shop's F2 over the window and the top entry products by lift."""

    window_days: int | None = None
    shop_rate: Num = None
    shop_eligible: int | None = None
    top: list[EntryProduct] = Field(default_factory=list)


class KeyAccounts(MetricsModel):
    """Key accounts slipping away: how many, and the value at risk."""

    customers: int | None = None
    value_at_risk: Num = None
    value_days: int | None = None


class ProductsMetrics(MetricsModel):
    """Entry products and key accounts."""

    entry: EntryProducts | None = None
    key_accounts: KeyAccounts | None = None
