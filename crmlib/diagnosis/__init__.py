"""The diagnosis chapter: where the client's business stands, read from its own orders.

Open the orders once with open_purchases (DuckDB over orders.parquet, cut at as_of), then call
the analyses; each returns a small pandas frame (or dict) and has a table or takeaway function
that words it in the report language. Definitions are in each module's docstring.

    with open_purchases(orders_path, as_of) as purchases:
        kpis = headline_kpis(purchases, months=12)
        print(kpi_takeaway(kpis, "en", "JPY"))
"""

from __future__ import annotations

from ..store.purchases import (
    Purchases,
    Span,
    analysis_periods,
    open_purchases,
    resolve_as_of,
)
from .cohorts import (
    CohortTables,
    cohort_metrics,
    cohort_tables,
    orders_takeaway,
    retention_takeaway,
    revenue_takeaway,
)
from .deciles import (
    basis_note,
    concentration_takeaway,
    decile_analysis,
    decile_metrics,
    decile_table,
    decile_takeaway,
    top_share,
)
from .funnel import (
    early_share,
    f2_by_segment,
    f2_conversion,
    f2_headline,
    f2_table,
    f2_takeaway,
    funnel_takeaway,
    purchase_funnel,
    segment_table,
    segment_takeaway,
    segment_window,
)
from .headline import headline_metrics
from .rate_intervals import wilson_interval
from .intervals import (
    gap_histogram,
    intervals_table,
    intervals_takeaway,
    purchase_intervals,
)
from .kpis import headline_kpis, kpi_table, kpi_takeaway, period_kpis
from .leaky_bucket import bucket_metrics, bucket_takeaway, leaky_bucket
from .notes import bucket_definition, chapter_lead, f2_definition, history_note
from .retention_value import (
    retention_value,
    value_assumptions,
    value_table,
    value_takeaway,
)
from .settings import DiagnosisSettings
from .trends import monthly_trends, trends_takeaway

__all__ = [
    "CohortTables", "DiagnosisSettings", "Purchases", "Span", "analysis_periods", "basis_note", "bucket_definition",
    "bucket_metrics", "bucket_takeaway", "chapter_lead", "cohort_metrics", "concentration_takeaway", "cohort_tables", "decile_analysis",
    "decile_metrics", "decile_table", "decile_takeaway", "early_share", "f2_by_segment", "f2_conversion", "f2_definition", "f2_headline",
    "f2_table", "f2_takeaway", "funnel_takeaway", "gap_histogram", "headline_kpis", "headline_metrics",
    "history_note", "intervals_table", "intervals_takeaway", "kpi_table", "kpi_takeaway", "leaky_bucket",
    "monthly_trends", "open_purchases", "orders_takeaway", "period_kpis", "purchase_funnel",
    "purchase_intervals", "resolve_as_of", "retention_takeaway", "retention_value", "revenue_takeaway",
    "segment_table", "segment_takeaway", "segment_window", "top_share", "trends_takeaway", "value_assumptions",
    "value_table", "value_takeaway", "wilson_interval",
]
