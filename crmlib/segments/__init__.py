"""The segments chapter: RFM, CPM, loyalty ladder, spend deciles, migration and mail-tool exports.

    seg = segment_customers(processed_dir / "orders.parquet", as_of, settings)   # every class, once
    mig = segment_migration(seg)                                                 # vs 90 days earlier
    write_segment_exports(processed_dir, as_of, settings, out_dir, lang="ja")    # CSVs + workbook

Modules: settings (the `segments:` YAML section), customers (DuckDB facts per customer), scoring
(quantile tie rule), rfm, cpm, ladder, decile, classify, migration, profiles, names, charts,
report (tables and sentences of the notebook), exports.

Public names are imported from their modules on first use (crmlib.lazy): reading a client's
YAML imports this package for its settings model and must not load the analysis modules.
"""

from __future__ import annotations

from ..lazy import exports as _exports
from ..lazy import lazy_dir as _lazy_dir
from ..lazy import lazy_getattr as _lazy_getattr

_EXPORTS = _exports(__name__, {
    "..store.segments.classify": (
        "Segmentation", "SegmentCuts", "classify_customers", "segment_customers", "segment_cuts",
    ),
    "..store.segments.cpm": ("cpm_cells", "cpm_spend_line"),
    "..store.customers": ("customer_base", "resolve_as_of"),
    "..store.segments.decile": ("spend_deciles",),
    ".exports": ("write_segment_exports",),
    "..store.segments.ladder": ("ladder_spend_floor", "ladder_stages"),
    "..store.segments.migration": ("Migration", "migration_matrix", "migration_moves", "segment_migration"),
    ".profiles": ("segment_profiles", "top_values"),
    "..store.segments.rfm": ("rfm_bounds", "rfm_scores", "rfm_segments"),
    "..store.segments.settings": ("SegmentSettings", "default_rfm_rules", "load_settings"),
})

__getattr__ = _lazy_getattr(__name__, _EXPORTS)
__dir__ = _lazy_dir(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the lazy table is the one list)
