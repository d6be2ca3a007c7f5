"""Every customer classified once on the as-of date: RFM scores and segment, CPM cell, ladder, decile.

The yardstick (SegmentCuts: RFM bounds, CPM spend line, ladder spend floor, decile bounds) is set
from the as-of customers and then applied unchanged to any other date, so a move in the migration
tables is the customer's own change, not a shift of the crowd's quantiles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .cpm import SpendLine, cpm_cells, cpm_spend_line
from .customers import customer_base, to_date
from .decile import decile_bounds, spend_deciles
from .ladder import ladder_spend_floor, ladder_stages
from .rfm import RfmBounds, monetary_values, rfm_bounds, rfm_scores, rfm_segments
from .settings import RfmSegmentRule, SegmentSettings, load_settings


@dataclass(frozen=True)
class SegmentCuts:
    """The thresholds every classification uses, fixed on the as-of date."""

    rfm: RfmBounds
    cpm_spend: SpendLine
    ladder_spend_floor: float | None
    deciles: tuple[float, ...]


@dataclass(frozen=True)
class Segmentation:
    """The customers on the as-of date with every class, plus the settings, rules and cuts used."""

    as_of: dt.date
    orders_path: Path
    settings: SegmentSettings
    rules: list[RfmSegmentRule]
    cuts: SegmentCuts
    customers: pd.DataFrame


def segment_cuts(base: pd.DataFrame, settings: SegmentSettings) -> SegmentCuts:
    """The yardstick from the as-of customers (quantile bounds, AOV-scaled spend line, top spend)."""
    if base.empty:
        raise DataError("there are no customers with an order before the as-of date to segment.",
                        hint="check as_of against the order dates (the data check chapter shows them)")
    return SegmentCuts(
        rfm=rfm_bounds(base, settings.rfm),
        cpm_spend=cpm_spend_line(base, settings.cpm),
        ladder_spend_floor=ladder_spend_floor(base, settings.ladder),
        deciles=tuple(decile_bounds(base).tolist()),
    )


def classify_customers(
    base: pd.DataFrame, settings: SegmentSettings, cuts: SegmentCuts, rules: list[RfmSegmentRule] | None = None
) -> pd.DataFrame:
    """base plus monetary, r, f, m, rfm (e.g. 545), rfm_segment, cpm_cell, ladder_*, spend_decile."""
    rules = rules if rules is not None else settings.rfm.segment_rules()
    scores = rfm_scores(base, cuts.rfm)
    rfm_code = scores["r"].astype(np.int16) * 100 + scores["f"].astype(np.int16) * 10 + scores["m"].astype(np.int16)
    return pd.concat(
        [
            base,
            pd.DataFrame({"monetary": monetary_values(base, cuts.rfm.monetary_basis)}, index=base.index),
            scores,
            rfm_code.rename("rfm"),
            rfm_segments(scores, rules),
            cpm_cells(base, settings.cpm, cuts.cpm_spend.amount),
            ladder_stages(base, settings.ladder, cuts.ladder_spend_floor),
            spend_deciles(base, np.array(cuts.deciles)),
        ],
        axis=1,
    )


def segment_customers(
    orders_path: Path | str, as_of: dt.date | str, settings: SegmentSettings | dict | None = None
) -> Segmentation:
    """Read the customers before as_of, set the yardstick and classify every customer."""
    settings = load_settings(settings)
    day = to_date(as_of)
    base = customer_base(orders_path, day, settings.merge_same_day)
    cuts = segment_cuts(base, settings)
    rules = settings.rfm.segment_rules()
    customers = classify_customers(base, settings, cuts, rules)
    return Segmentation(day, Path(orders_path), settings, rules, cuts, customers)


def classify_on(segmentation: Segmentation, day: dt.date) -> pd.DataFrame:
    """The customers before `day` classified with the segmentation's yardstick (for migration)."""
    base = customer_base(segmentation.orders_path, day, segmentation.settings.merge_same_day)
    return classify_customers(base, segmentation.settings, segmentation.cuts, segmentation.rules)


__all__ = ["SegmentCuts", "Segmentation", "classify_customers", "classify_on", "segment_customers", "segment_cuts"]
