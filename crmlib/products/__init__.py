"""The products chapter: entry products (入口商品), what sells next (引き上げ商品), basket pairs,
re-buy cycles, products of the best customers, the seasonal calendar and the regular customers
slipping away (with their list in exports/). Analysis in DuckDB over order_lines.parquet."""

from __future__ import annotations

from .analysis import (
    basket_pairs,
    best_customer_products,
    entry_products,
    key_accounts,
    replenishment,
    seasonal_index,
    transitions,
)
from .data import ProductLines, open_lines
from .exports import write_key_account_exports
from .settings import ProductSettings, load_settings, report_settings

__all__ = ["ProductLines", "ProductSettings", "basket_pairs", "best_customer_products", "entry_products",
           "key_accounts", "load_settings", "open_lines", "replenishment", "report_settings", "seasonal_index",
           "transitions", "write_key_account_exports"]
