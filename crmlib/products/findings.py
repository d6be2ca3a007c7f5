"""The products chapter's findings for the executive summary (registered on import): regular
customers slipping away, and an entry product clearly above the shop's F2."""

from __future__ import annotations

from ..findings import (
    Assessment,
    Count,
    Metrics,
    Money,
    Pct,
    SummarySettings,
    finding_rule,
    sample,
)


@finding_rule("products_slipping", chapter="05_products", anchor="key-accounts", priority=85,
              needs=("products.key_accounts.customers", "products.key_accounts.value_at_risk"), headline="customers",
              message="products.summary.slipping", nonzero=("customers", "value"))
def _slipping(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """Regular customers past their own cycle: the count and their revenue of the last value_days (none: skipped)."""
    customers = m.get("products.key_accounts.customers")
    if not customers:
        return None
    return Assessment(True, {"customers": Count(customers), "value": Money(m.get("products.key_accounts.value_at_risk")),
                             "days": Count(m.get("products.key_accounts.value_days") or 365)})


@finding_rule("products_entry", chapter="05_products", anchor="entry", priority=45,
              needs=("products.entry.top",), headline="lift", message="products.summary.entry",
              requires=(sample("products.entry.shop_eligible"),))
def _entry(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """The best entry product when its interval lies above the shop's F2 (else nothing to say)."""
    top = m.get("products.entry.top")
    shop = m.get("products.entry.shop_rate")
    if not top or shop is None or not top[0]["low"] > shop:
        return None
    best = top[0]
    return Assessment(False, {"item": best["item"] or "—", "lift": f"{best['lift']:.2f}", "rate": Pct(best["rate"]),
                              "n": Count(best["n"]), "days": m.get("products.entry.window_days") or 90,
                              "low": Pct(best["low"])})
