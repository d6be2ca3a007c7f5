"""Scores by quantiles with a fixed tie rule, turned into plain thresholds (numpy, no sorting of rows).

The rule (RFM fifths, spend deciles, the ladder's top spenders): with n customers,

    score = 1 + floor(k * worse / n)

where `worse` is the number of customers strictly worse than this one on the axis (a lower spend,
fewer purchases, more days since the last purchase). Customers with equal values share a score,
the result does not depend on row order or customer ids, and the top score needs at least
(k-1)/k of the customers strictly below. When many customers tie (most buy once), the tied block
takes the lowest score it reaches and some scores stay empty: F1 for every one-time buyer, never
an arbitrary split of equal customers.

RFM scores must not stay empty because of ties (a whole column of "0 (0%)"), so RFM moves tied
bounds apart along the ranks of the distinct values (spread_bounds): with d distinct values and
k scores, bound s is put on the i_s-th smallest distinct value, where i_s starts at the tie
rule's bound and is raised to at least i_(s-1) + 1 and lowered to at most d - 1 - (k - 1) + s
(0-based). Every score then holds at least one value, equal values still share a score, and the
result still depends on the values only. With fewer distinct values than scores some scores
must stay empty (there is nothing to tell apart); the tie rule's bounds are kept.

The rule is stored as k-1 thresholds, so the same yardstick can score another date's customers
(migration) and fixed client thresholds use the same code: for an axis where higher is better,
score = 1 + (number of bounds below the value), i.e. score s covers (bound[s-2], bound[s-1]].
"""

from __future__ import annotations

import math

import numpy as np


def _ranks(n: int, tiles: int) -> np.ndarray:
    """c_s = ceil(n * s / tiles) for s = 1 .. tiles-1: customers strictly worse needed for tile s+1."""
    s = np.arange(1, tiles, dtype=np.int64)
    return (n * s + tiles - 1) // tiles


def _order_stats(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The values at the given 0-based positions of the ascending order (np.partition, O(n))."""
    unique = np.unique(positions)
    part = np.partition(values, unique)
    return part[positions]


def tile_bounds(values: np.ndarray, tiles: int) -> np.ndarray:
    """Ascending bounds of the tie rule where higher is better: tile s+1 holds values above bound s."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("cannot set quantile bounds without customers")
    if np.isnan(values).any():
        raise ValueError("values must not be missing")
    # score >= s+1  <=>  worse >= c_s  <=>  value > (c_s-th smallest value)
    return _order_stats(values, _ranks(len(values), tiles) - 1)


def tile_bounds_lower_better(days: np.ndarray, tiles: int) -> np.ndarray:
    """Ascending upper bounds where lower is better (whole days): the best tile holds days <= bound[0]."""
    days = np.asarray(days)
    if len(days) == 0:
        raise ValueError("cannot set quantile bounds without customers")
    if not np.issubdtype(days.dtype, np.integer):
        raise ValueError("days must be whole numbers")
    n = len(days)
    # score >= s+1  <=>  worse >= c_s  <=>  days < (c_s-th largest) = (n-c_s)-th smallest (0-based)
    strict = _order_stats(days, n - _ranks(n, tiles))  # strict upper bound of tiles s+1.. for s = 1..
    return (strict - 1)[::-1].astype(np.float64)  # whole days: d < x  <=>  d <= x - 1; best tile first


def spread_bounds(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The bounds moved apart so that every score holds a value (see the module docstring); works
    for both directions, as both score (bound[j-1], bound[j]] as one score."""
    unique = np.unique(np.asarray(values, dtype=np.float64))
    bounds = np.asarray(bounds, dtype=np.float64)
    m, d = len(bounds), len(unique)
    if d <= m or m == 0:
        return bounds
    index = np.searchsorted(unique, bounds, side="right") - 1  # the largest value at or below each bound
    for s in range(m):  # a handful of bounds, not rows
        index[s] = max(index[s], 0 if s == 0 else index[s - 1] + 1)
    index = np.minimum(index, d - 1 - m + np.arange(m))
    return unique[index]


def score_higher_better(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """1 + number of bounds strictly below each value (bounds ascending)."""
    return (1 + np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="left")).astype(np.int8)


def score_lower_better(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """len(bounds)+1 minus the number of bounds strictly below each value (bounds ascending)."""
    top = len(bounds) + 1
    return (top - np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="left")).astype(np.int8)


def top_share_floor(values: np.ndarray, share: float) -> float:
    """The spend floor of the top `share` by the tie rule: value >= floor <=> at least (1-share) of
    the customers are strictly below (the bound is moved to the next float so the test reads '>=')."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return math.inf
    needed = math.ceil(round(n * (1.0 - share), 9))  # customers strictly below a top customer
    if needed <= 0:
        return -math.inf
    bound = _order_stats(values, np.array([needed - 1]))[0]  # top <=> value > bound
    return float(np.nextafter(bound, math.inf))


__all__ = [
    "score_higher_better", "score_lower_better", "spread_bounds", "tile_bounds", "tile_bounds_lower_better",
    "top_share_floor",
]
