"""The products chapter: entry products (入口商品), what sells next (引き上げ商品), basket pairs,
re-buy cycles, products of the best customers, the seasonal calendar and the regular customers
slipping away (with their list in exports/). Analysis in DuckDB over order_lines.parquet.

Public names are imported from their modules on first use (crmlib.lazy): reading a client's
YAML imports this package for its settings model and must not load the analysis modules.
"""

from __future__ import annotations

from ..lazy import exports as _exports
from ..lazy import lazy_dir as _lazy_dir
from ..lazy import lazy_getattr as _lazy_getattr

_EXPORTS = _exports(__name__, {
    ".analysis": (
        "basket_pairs", "best_customer_products", "entry_products", "key_accounts", "replenishment",
        "seasonal_index", "transitions",
    ),
    ".data": ("ProductLines", "open_lines"),
    ".exports": ("write_key_account_exports",),
    ".settings": ("ProductSettings", "load_settings", "report_settings"),
})

__getattr__ = _lazy_getattr(__name__, _EXPORTS)
__dir__ = _lazy_dir(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the lazy table is the one list)
