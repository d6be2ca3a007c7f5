"""The segments chapter's findings for the executive summary (registered on import): 休眠顧客
in the lapsed CPM cells."""

from __future__ import annotations

from collections.abc import Mapping

from ..findings import Assessment, Count, Metrics, Pct, SummarySettings, finding_rule, sample


CPM_LAPSED = ("first_lapsed", "early_lapsed", "steady_lapsed", "trend_lapsed", "top_lapsed")
CPM_TOP = ("top", "top_lapsed")


# CPM shares are rates over all customers: at least the sample floor of them, and somebody lapsed
@finding_rule("dormant", chapter="02_segments", anchor="cpm", priority=65, needs=("segments.cpm",), headline="share",
              requires=(sample("coverage.customers"),), nonzero=("customers",))
def _dormant(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """CPM lapsed customers (離脱, not the RFM segment 休眠顧客): share of customers in the lapsed cells
    and the share of revenue they once brought."""
    cells = m.get("segments.cpm")
    if not isinstance(cells, Mapping) or not all(c in cells for c in CPM_LAPSED):
        return None
    customers = sum(cells[c]["customers"] for c in CPM_LAPSED)
    share = sum(cells[c]["customer_share"] for c in CPM_LAPSED)
    revenue = sum(cells[c]["revenue_share"] for c in CPM_LAPSED)
    top_lapsed = cells["top_lapsed"]["customers"]
    values = {"customers": Count(customers), "share": Pct(share), "revenue_share": Pct(revenue)}
    unseen = m.get("segments.cpm_unobservable") or {}
    if not top_lapsed or "top_lapsed" in unseen:  # no sentence makes a priority of nobody
        return Assessment(share > 0.5, values, "no_top")
    return Assessment(share > 0.5, {**values, "top_lapsed": Count(top_lapsed)})
