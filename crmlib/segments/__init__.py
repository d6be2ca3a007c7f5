"""The segments chapter: RFM, CPM, loyalty ladder, spend deciles, migration and mail-tool exports.

    seg = segment_customers(processed_dir / "orders.parquet", as_of, settings)   # every class, once
    mig = segment_migration(seg)                                                 # vs 90 days earlier
    write_segment_exports(processed_dir, as_of, settings, out_dir, lang="ja")    # CSVs + workbook

Modules: settings (the `segments:` YAML section), customers (DuckDB facts per customer), scoring
(quantile tie rule), rfm, cpm, ladder, decile, classify, migration, profiles, names, charts,
report (tables and sentences of the notebook), exports.
"""

from ..store.segments.classify import Segmentation, SegmentCuts, classify_customers, segment_customers, segment_cuts
from ..store.segments.cpm import cpm_cells, cpm_spend_line
from ..store.customers import customer_base, resolve_as_of
from ..store.segments.decile import spend_deciles
from .exports import write_segment_exports
from ..store.segments.ladder import ladder_spend_floor, ladder_stages
from ..store.segments.migration import Migration, migration_matrix, migration_moves, segment_migration
from .profiles import segment_profiles, top_values
from ..store.segments.rfm import rfm_bounds, rfm_scores, rfm_segments
from ..store.segments.settings import SegmentSettings, default_rfm_rules, load_settings

__all__ = [
    "Migration", "SegmentCuts", "SegmentSettings", "Segmentation", "classify_customers", "cpm_cells",
    "cpm_spend_line", "customer_base", "default_rfm_rules", "ladder_spend_floor", "ladder_stages",
    "load_settings", "migration_matrix", "migration_moves", "resolve_as_of", "rfm_bounds", "rfm_scores",
    "rfm_segments", "segment_customers", "segment_cuts", "segment_migration", "segment_profiles",
    "spend_deciles", "top_values", "write_segment_exports",
]
