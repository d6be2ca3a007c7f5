"""The `products:` section of the client YAML: windows, sample floors and the key-account rule.

Every key is optional (`products: {}` runs with the defaults). The report hands the notebook this
section plus the `segments:` and `ltv:` sections under `context` (report_settings), so 'the best
customers' are the top CPM cell of the same classification as the segments chapter, and the key
accounts use the LTV chapter's model only when it passed the same validity gate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..store.segments.settings import report_settings as segment_settings

CONTEXT_SECTIONS = ("segments", "ltv")  # the other sections the report hands the chapter (report_settings)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyAccounts(_Strict):
    """Which repeat customers count as slipping away, and how many the report shows."""

    min_purchases: int = Field(3, ge=2, le=50, description="purchases needed for a customer's own cycle (median gap)")
    overdue_factor: float = Field(1.5, ge=1.0, le=10.0,
                                  description="slipping when the days since the last purchase reach this many median gaps")
    lapse_days: int | None = Field(None, ge=30, le=3650,
                                   description="beyond this many days since the last purchase: lapsed, not slipping; "
                                               "unset: the shop's one lapse window (diagnosis.lapse_days, else the data check's)")
    value_days: int = Field(365, ge=30, le=730, description="value at risk: the customer's revenue in this many days before as_of")
    report_rows: int = Field(20, ge=1, le=200, description="rows of the list shown in the report (the export has all)")


class Exports(_Strict):
    """The key-account list written to exports/ (CSV always, xlsx up to xlsx_max_customers)."""

    enabled: bool = True
    xlsx_max_customers: int = Field(200_000, ge=0, le=5_000_000)


class ProductSettings(_Strict):
    """Validated settings of the products chapter (client YAML section `products:`)."""

    f2_window_days: int = Field(90, ge=7, le=730, description="F2 within this many days of the first purchase (the label says so)")
    value_days: int = Field(365, ge=30, le=1095, description="value per customer: revenue in this many days from the first purchase")
    min_customers: int = Field(30, ge=1, le=100_000, description="sample floor of a ranked product or category")
    min_pairs: int = Field(20, ge=1, le=1_000_000, description="floor of a transition or basket pair (times seen)")
    min_rebuys: int = Field(20, ge=1, le=1_000_000, description="floor of a product's re-buy cycle (re-buys seen)")
    basket_max_products: int = Field(50, ge=2, le=1000,
                                     description="orders with more distinct products are left out of basket pairs (wholesale)")
    top_n: int = Field(15, ge=1, le=200, description="rows of each ranked table")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="level of the intervals")
    key_accounts: KeyAccounts = Field(default_factory=KeyAccounts)
    exports: Exports = Field(default_factory=Exports)
    # set by the report pipeline (report_settings), not in the YAML
    context: dict[str, Any] = Field(default_factory=dict, description="filled by the report; leave out")

    @field_validator("context")
    @classmethod
    def _context(cls, value: dict[str, Any]) -> dict[str, Any]:
        """context holds only the segments and ltv sections, each valid as in the YAML."""
        from ..config import section_model

        unknown = sorted(str(key) for key in value if key not in CONTEXT_SECTIONS)
        if unknown:
            raise ValueError(f"context is filled by the report and holds only {' and '.join(CONTEXT_SECTIONS)} "
                             f"(found {', '.join(unknown)})")
        for name in CONTEXT_SECTIONS:
            if name in value:
                if not isinstance(value[name], dict):
                    raise ValueError(f"context.{name} must be the {name}: section (a mapping)")
                section_model(name).model_validate(value[name])
        return value


def load_settings(settings: ProductSettings | dict | None) -> ProductSettings:
    """The chapter's settings from the notebook's dict (a bad key stops here with pydantic's message)."""
    if isinstance(settings, ProductSettings):
        return settings
    return ProductSettings.model_validate(settings or {})


def report_settings(config: Any) -> dict[str, Any]:
    """The notebook's `settings`: the products: section plus the segments: and ltv: sections as context
    (the best customers are the segments chapter's top cell; the key accounts read the LTV model's verdict)."""
    section = dict(getattr(config, "products", {}) or {})
    if "context" in section:
        from ..errors import ConfigError

        raise ConfigError("key 'products.context' is filled by the report; remove it from the YAML.")
    return {**section, "context": {"segments": segment_settings(config), "ltv": dict(getattr(config, "ltv", {}) or {})}}
