"""RFM: recency, frequency and monetary scores 1-5 and the named segments they fall into.

- Recency (R): days since the customer's last purchase on the as-of date; fewer is better.
- Frequency (F): purchases before as_of (calendar days with an order when merge_same_day).
- Monetary (M): total spend before as_of (default) or the customer's mean order value.

Scores come from four thresholds per axis, either fixed by the client or set by quantiles of the
customers on the as-of date with the tie rule of crmlib.store.segments.scoring (equal values share a
score; score = 1 + floor(5 x customers strictly worse / customers)). Frequency is the exception
that tie rule forces: one-time buyers are one tied block, usually more than half the customers,
which would leave F2 and F3 empty; so F1 = one purchase, and F2-F5 split the repeat buyers into
quarters by the same rule (F = 2 + floor(4 x repeat buyers with fewer purchases / repeat buyers)).

Named segments look up the (R, F, M) combination in a 125-cell table built from the rule set,
which settings validation has proven to cover every combination exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...i18n import t
from .scoring import (
    score_higher_better,
    score_lower_better,
    spread_bounds,
    tile_bounds,
    tile_bounds_lower_better,
)
from .settings import SCORES, RfmSegmentRule, RfmSettings, parse_scores

TILES = len(SCORES)


@dataclass(frozen=True)
class RfmBounds:
    """Four ascending bounds per axis: recency upper bounds of R5, R4, R3, R2 (days); frequency
    and monetary upper bounds of scores 1-4 (the top score is everything above the last bound)."""

    method: str
    monetary_basis: str
    recency_days: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]


def monetary_values(base: pd.DataFrame, basis: str = "total") -> np.ndarray:
    """M's value per customer: total spend, or mean order value (spend / orders)."""
    revenue = base["revenue"].to_numpy(dtype=np.float64)
    if basis == "mean":
        return revenue / np.maximum(base["orders"].to_numpy(dtype=np.float64), 1.0)
    return revenue


def frequency_bounds(purchases: np.ndarray) -> tuple[float, ...]:
    """F bounds by quantiles: F1 <= 1 purchase, then quarters of the repeat buyers (tie rule,
    tied bounds spread so no score stays empty: scoring.spread_bounds)."""
    repeat = purchases[purchases >= 2]
    if len(repeat) == 0:
        return (1.0, 1.0, 1.0, 1.0)
    return (1.0, *spread_bounds(repeat, tile_bounds(repeat, TILES - 1)).tolist())


def rfm_bounds(base: pd.DataFrame, settings: RfmSettings) -> RfmBounds:
    """The thresholds in force: the client's fixed ones, or quantiles of these customers (tied
    bounds spread so that no score stays empty while there are values to tell apart)."""
    if settings.method == "fixed":
        fixed = settings.fixed_thresholds()
        return RfmBounds("fixed", settings.monetary, tuple(map(float, fixed.recency_days)),
                         tuple(map(float, fixed.frequency)), tuple(map(float, fixed.monetary)))
    days, money = base["recency_days"].to_numpy(), monetary_values(base, settings.monetary)
    return RfmBounds(
        "quantile",
        settings.monetary,
        tuple(spread_bounds(days, tile_bounds_lower_better(days, TILES)).tolist()),
        frequency_bounds(base["purchases"].to_numpy()),
        tuple(spread_bounds(money, tile_bounds(money, TILES)).tolist()),
    )


def rfm_scores(base: pd.DataFrame, bounds: RfmBounds) -> pd.DataFrame:
    """Scores r, f, m (1-5, int8) per customer, in the order of base."""
    return pd.DataFrame(
        {
            "r": score_lower_better(base["recency_days"].to_numpy(), np.array(bounds.recency_days)),
            "f": score_higher_better(base["purchases"].to_numpy(), np.array(bounds.frequency)),
            "m": score_higher_better(monetary_values(base, bounds.monetary_basis), np.array(bounds.monetary)),
        },
        index=base.index,
    )


def segment_lookup(rules: list[RfmSegmentRule]) -> np.ndarray:
    """A 125-entry table: index (r-1)*25 + (f-1)*5 + (m-1) -> position of the segment in rules."""
    table = np.full(TILES**3, -1, dtype=np.int16)
    for position, rule in enumerate(rules):
        for r, f, m in rule.combinations():
            table[(r - 1) * 25 + (f - 1) * 5 + (m - 1)] = position
    if (table < 0).any():  # settings validation refuses gaps; a hand-built rule list may not
        raise ValueError("the RFM rules leave score combinations without a segment")
    return table


def rfm_segments(scores: pd.DataFrame, rules: list[RfmSegmentRule]) -> pd.Series:
    """The named segment of every customer (categorical of rule keys, best segment first)."""
    codes = (scores["r"].to_numpy(np.int16) - 1) * 25 + (scores["f"].to_numpy(np.int16) - 1) * 5 \
        + (scores["m"].to_numpy(np.int16) - 1)
    segment = segment_lookup(rules)[codes]
    categories = pd.CategoricalDtype([rule.key for rule in rules], ordered=True)
    return pd.Series(pd.Categorical.from_codes(segment, dtype=categories), index=scores.index, name="rfm_segment")


def rf_cell_segments(rules: list[RfmSegmentRule]) -> dict[tuple[int, int], list[str]]:
    """For each (R, F) cell of the grid, the segments its five M scores fall into (rule order)."""
    cells: dict[tuple[int, int], list[str]] = {(r, f): [] for r in SCORES for f in SCORES}
    for rule in rules:
        for r, f, _m in sorted(rule.combinations()):
            if rule.key not in cells[(r, f)]:
                cells[(r, f)].append(rule.key)
    return cells


def rf_grid(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers per (R, F) cell: rows R5..R1, columns F1..F5 (every cell, zeros included)."""
    codes = (scores["r"].to_numpy(np.int64) - 1) * TILES + scores["f"].to_numpy(np.int64) - 1
    counts = np.bincount(codes, minlength=TILES * TILES).reshape(TILES, TILES)  # [r-1, f-1]
    return pd.DataFrame(counts[::-1], index=list(SCORES[::-1]), columns=list(SCORES))


def segment_names(rules: list[RfmSegmentRule], lang: str) -> dict[str, str]:
    """Segment key -> display name in lang (the rule's own name, else the message catalog)."""
    return {r.key: getattr(r.name, lang) if r.name else t(f"segments.rfm.names.{r.key}", lang) for r in rules}


def segment_actions(rules: list[RfmSegmentRule], lang: str) -> dict[str, str | None]:
    """Segment key -> suggested measure in lang (the rule's own, else the catalog; None if neither)."""
    out: dict[str, str | None] = {}
    for rule in rules:
        key = f"segments.rfm.actions.{rule.key}"
        if rule.action is not None:
            out[rule.key] = getattr(rule.action, lang)
        else:
            try:
                out[rule.key] = t(key, lang)
            except KeyError:
                out[rule.key] = None
    return out


def _axis_text(axis: str, scores: tuple[int, ...]) -> str:
    """'F', (4, 5) -> 'F4-5'; (1, 3) -> 'F1,3'; the full range 1-5 -> '' (no condition)."""
    if scores == SCORES:
        return ""
    if scores == tuple(range(scores[0], scores[-1] + 1)):
        span = str(scores[0]) if len(scores) == 1 else f"{scores[0]}-{scores[-1]}"
    else:
        span = ",".join(map(str, scores))
    return f"{axis.upper()}{span}"


def rule_definition(rule: RfmSegmentRule) -> str:
    """The segment's score conditions as the report prints them: 'R5 F4-5', boxes joined by ' / '."""
    boxes = []
    for box in rule.cells:
        parts = [_axis_text(axis, parse_scores(getattr(box, axis), axis)) for axis in ("r", "f", "m")]
        boxes.append(" ".join(p for p in parts if p) or "R1-5")
    return " / ".join(boxes)


__all__ = [
    "RfmBounds", "frequency_bounds", "monetary_values", "rf_cell_segments", "rf_grid", "rfm_bounds",
    "rfm_scores", "rfm_segments", "rule_definition", "segment_actions", "segment_lookup", "segment_names",
]
