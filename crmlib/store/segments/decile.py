"""Spend deciles (デシル): customers in ten equal groups by total spend before as_of, decile 1 = top.

Groups follow the tie rule of crmlib.store.segments.scoring (equal spend, equal decile; a customer is in
decile 1 when at least 90% of the customers spent strictly less), so groups are only roughly equal
when many customers spend the same amount. A one-off large order can put a one-time buyer in
decile 1: the decile table shows the share of one-time buyers in each decile for that reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .scoring import score_higher_better, tile_bounds

DECILES = 10


def decile_bounds(base: pd.DataFrame) -> np.ndarray:
    """Nine ascending spend bounds between deciles 10 (lowest) and 1 (top)."""
    return tile_bounds(base["revenue"].to_numpy(dtype=np.float64), DECILES)


def spend_deciles(base: pd.DataFrame, bounds: np.ndarray) -> pd.Series:
    """Decile per customer: 1 = top spenders ... 10 = lowest (int8)."""
    score = score_higher_better(base["revenue"].to_numpy(dtype=np.float64), bounds)
    return pd.Series((DECILES + 1 - score).astype(np.int8), index=base.index, name="spend_decile")


def decile_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Per decile 1-10: customers, revenue, revenue share, cumulative share, one-time share, min spend."""
    keyed = customers.assign(one_time=customers["purchases"] <= 1).groupby("spend_decile", observed=True)
    frame = pd.DataFrame({
        "customers": keyed.size(),
        "revenue": keyed["revenue"].sum(),
        "one_time": keyed["one_time"].sum(),
        "min_spend": keyed["revenue"].min(),
    }).reindex(range(1, DECILES + 1), fill_value=0)
    total = frame["revenue"].sum()
    frame["revenue_share"] = frame["revenue"] / total if total else np.nan
    frame["cumulative_share"] = frame["revenue_share"].cumsum()
    frame["one_time_share"] = frame["one_time"] / frame["customers"].where(frame["customers"] > 0)
    frame.loc[frame["customers"] == 0, "min_spend"] = np.nan
    return frame.rename_axis("decile").reset_index()
