"""Who the best customers are: the top CPM cell of the store's one classification (as the segments chapter)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..store.segments.classify import segment_customers
from ..store.segments.settings import load_settings as load_segment_settings
from .settings import ProductSettings

BEST_CELL = "top"


def best_flags(processed_dir: Path | str, as_of: dt.date, settings: ProductSettings) -> pd.DataFrame:
    """One row per customer: customer_id, best (in the top CPM cell on as_of)."""
    segments = load_segment_settings(settings.context.get("segments") or {})
    seg = segment_customers(Path(processed_dir) / "orders.parquet", as_of, segments)
    best = seg.customers["cpm_cell"] == BEST_CELL  # on the categorical's codes: no string per customer
    return pd.DataFrame({"customer_id": seg.customers["customer_id"].astype("str"), "best": best})
