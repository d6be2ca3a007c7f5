"""CPM (Customer Portfolio Management): ten cells from purchases, tenure, total spend and lapse.

On the as-of date, with tenure = days from the first to the last purchase and lapse = days since
the last purchase (recency):
- active while lapse < active_days (240), else lapsed (離脱): each active cell has a lapsed twin;
- 初回客 (first): one purchase;
- よちよち客 (early): two or more purchases, tenure < early_repeat_days (90);
- コツコツ客 (steady): tenure >= early_repeat_days, total spend < the spend line;
- 流行客 (trend): early_repeat_days <= tenure < top_tenure_days (210), spend >= the line;
- 優良客 (top): tenure >= top_tenure_days, spend >= the line.
The conditions are tested in that order, so the cells partition every customer.

The spend line is the client's `spend` when given. Otherwise it is scaled to the shop: the classic
70,000 yen line assumes an AOV near 10,000 yen, i.e. 7 x AOV; the line is spend_aov_multiple (7)
x the AOV of all orders before as_of, rounded half-up to two significant figures (AOV 7,012 yen
-> 49,084 -> 49,000 yen; AOV 474.80 GBP -> 3,323.60 -> 3,300).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ...i18n import t
from .settings import CpmSettings

STAGES = ("first", "early", "steady", "trend", "top")  # growth order, as the chart reads
CELLS = ("top", "trend", "steady", "early", "first",
         "top_lapsed", "trend_lapsed", "steady_lapsed", "early_lapsed", "first_lapsed")  # best first
LAPSED = frozenset(cell for cell in CELLS if cell.endswith("_lapsed"))
CPM_DTYPE = pd.CategoricalDtype(list(CELLS), ordered=True)


@dataclass(frozen=True)
class SpendLine:
    """The CPM spend line and where it came from ('settings', or 'aov' with the AOV and multiple)."""

    amount: float
    source: str
    aov: float | None = None
    multiple: float | None = None


def cell_needs_days(settings: CpmSettings) -> dict[str, int]:
    """Days of history a cell needs before anybody can be in it: a lapsed cell needs its active
    twin's tenure plus active_days of silence (top_lapsed: top_tenure_days + active_days)."""
    active = {"first": 0, "early": 1, "steady": settings.early_repeat_days, "trend": settings.early_repeat_days,
              "top": settings.top_tenure_days}
    return {**active, **{f"{cell}_lapsed": days + settings.active_days for cell, days in active.items()}}


def unobservable_cells(settings: CpmSettings, history_days: int) -> dict[str, int]:
    """Cell -> days it needs, for the cells this history is too short to fill."""
    return {cell: days for cell, days in cell_needs_days(settings).items() if days > history_days}


def round_significant(value: float, digits: int = 2) -> float:
    """Round half-up to `digits` significant figures: 49,084 -> 49,000; 3,323.6 -> 3,300."""
    if value <= 0 or not np.isfinite(value):
        return float(value)
    number = Decimal(str(value))
    exponent = number.adjusted() - digits + 1
    return float(number.scaleb(-exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP).scaleb(exponent))


def cpm_spend_line(base: pd.DataFrame, settings: CpmSettings) -> SpendLine:
    """The spend line in force: the client's amount, or spend_aov_multiple x AOV (2 significant figures)."""
    if settings.spend is not None:
        return SpendLine(float(settings.spend), "settings")
    orders = int(base["orders"].sum())
    aov = float(base["revenue"].sum()) / orders if orders else 0.0
    amount = round_significant(aov * settings.spend_aov_multiple)
    return SpendLine(amount if amount > 0 else float("inf"), "aov", aov, settings.spend_aov_multiple)


def cpm_cells(base: pd.DataFrame, settings: CpmSettings, spend: float) -> pd.Series:
    """The CPM cell of every customer (categorical, best cell first; lapsed twins after the active)."""
    purchases = base["purchases"].to_numpy()
    tenure = base["tenure_days"].to_numpy()
    revenue = base["revenue"].to_numpy(dtype=np.float64)
    stage = np.select(  # index into STAGES
        [purchases <= 1, tenure < settings.early_repeat_days, revenue < spend, tenure < settings.top_tenure_days],
        [0, 1, 2, 3],
        4,
    )
    lapsed = base["recency_days"].to_numpy() >= settings.active_days
    # CELLS position: active stage s -> 4 - s, lapsed twin -> 9 - s
    codes = (4 - stage) + 5 * lapsed
    return pd.Series(pd.Categorical.from_codes(codes.astype(np.int8), dtype=CPM_DTYPE), index=base.index,
                     name="cpm_cell")


def cell_names(lang: str) -> dict[str, str]:
    """CPM cell key -> display name (初回客, よちよち客, ... 優良離脱客)."""
    return {cell: t(f"segments.cpm.names.{cell}", lang) for cell in CELLS}


__all__ = ["CELLS", "CPM_DTYPE", "LAPSED", "STAGES", "SpendLine", "cell_names", "cpm_cells", "cpm_spend_line",
           "round_significant"]
