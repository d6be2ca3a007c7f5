"""The diagnosis chapter: where the client's business stands, read from its own orders.

Open the orders once with open_purchases (DuckDB over orders.parquet, cut at as_of), then call
the analyses; each returns a small pandas frame (or dict) and has a table or takeaway function
that words it in the report language. Definitions are in each module's docstring.

    with open_purchases(orders_path, as_of) as purchases:
        kpis = headline_kpis(purchases, months=12)
        print(kpi_takeaway(kpis, "en", "JPY"))

Public names are imported from their modules on first use (crmlib.lazy): reading a client's
YAML imports this package for its settings model and must not load the analysis modules.
"""

from __future__ import annotations

from ..lazy import exports as _exports
from ..lazy import lazy_dir as _lazy_dir
from ..lazy import lazy_getattr as _lazy_getattr

_EXPORTS = _exports(__name__, {
    "..store.purchases": ("Purchases", "Span", "analysis_periods", "open_purchases", "resolve_as_of"),
    ".cohorts": (
        "CohortTables", "cohort_metrics", "cohort_tables", "orders_takeaway", "retention_takeaway",
        "revenue_takeaway",
    ),
    ".deciles": (
        "basis_note", "concentration_takeaway", "decile_analysis", "decile_metrics", "decile_table",
        "decile_takeaway", "top_share",
    ),
    ".funnel": (
        "early_share", "f2_by_segment", "f2_conversion", "f2_headline", "f2_table", "f2_takeaway",
        "funnel_takeaway", "purchase_funnel", "segment_table", "segment_takeaway", "segment_window",
    ),
    ".headline": ("headline_metrics",),
    ".intervals": ("gap_histogram", "intervals_table", "intervals_takeaway", "purchase_intervals"),
    ".kpis": ("headline_kpis", "kpi_table", "kpi_takeaway", "period_kpis"),
    ".bucket": ("bucket_metrics", "bucket_takeaway", "leaky_bucket"),
    ".notes": ("bucket_definition", "chapter_lead", "f2_definition", "history_note"),
    ".retention": ("retention_value", "value_assumptions", "value_table", "value_takeaway"),
    ".settings": ("DiagnosisSettings",),
    ".trends": ("monthly_trends", "trends_takeaway"),
})

__getattr__ = _lazy_getattr(__name__, _EXPORTS)
__dir__ = _lazy_dir(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the lazy table is the one list)
