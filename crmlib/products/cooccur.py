"""Pair counts of items seen in linked slots (consecutive purchases, one order) as one sparse product.

transitions and basket_pairs count, for every pair of items (a, b), the slots whose left side holds
a and whose right side holds b. In SQL that is a self-join and a GROUP BY with one hash group per
pair seen (3.6M groups from 11M joined rows on Online Retail: most of the chapter's time). With
0/1 incidence matrices L (slot x item) and R (slot x item) the same counts are L.T @ R, which
scipy's sparse product computes in a fraction of that. It pays off only with many items (a shop
of a few dozen products has a few thousand pairs at most, which the SQL groups faster than the
lines can be fetched: MIN_ITEMS), and the product holds every pair seen in memory, so it runs only
while the lines and the join are small (MAX_LINES, MAX_JOIN_ROWS); otherwise the callers keep their
SQL, which DuckDB can spill to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MIN_ITEMS = 500  # fewer items: at most 250,000 pairs, cheaper in SQL than fetching the lines
MAX_LINES = 20_000_000  # rows fetched from DuckDB into numpy (about 0.3 GB at most)
MAX_JOIN_ROWS = 30_000_000  # (left, right) item pairs over all slots, a bound of the pairs kept: about 0.5 GB


def worth_it(n_items: int, n_lines: int) -> bool:
    """True when the sparse product beats the SQL and fits in memory (MIN_ITEMS, MAX_LINES)."""
    return n_items >= MIN_ITEMS and n_lines <= MAX_LINES


@dataclass(frozen=True)
class PairCounts:
    """Pairs seen at least `floor` times (codes a, b and their count), with each item's slots per side."""

    a: np.ndarray
    b: np.ndarray
    count: np.ndarray
    left_slots: np.ndarray  # per item code: slots whose left side holds it
    right_slots: np.ndarray  # per item code: slots whose right side holds it


def _incidence(slots: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The 0/1 slot x item matrix (an item listed twice in one slot counts once)."""
    matrix = sp.csr_matrix((np.ones(len(slots), dtype=np.int32), (slots, items)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def pair_counts(left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray], n_slots: int,
                n_items: int, floor: int, *, upper: bool = False) -> PairCounts | None:
    """Count the slots holding a on the left and b on the right (left, right: slot and item code
    arrays), keeping pairs seen `floor` times or more (upper: only a < b). None when the join is
    too big for memory (the caller then runs its SQL)."""
    shape = (n_slots, n_items)
    lmat, rmat = _incidence(*left, shape), _incidence(*right, shape)
    # counted in int64: in int32 (scipy's indptr) a join of over 2**31 rows wraps around and
    # passes the guard
    if int(np.dot(np.diff(lmat.indptr).astype(np.int64), np.diff(rmat.indptr).astype(np.int64))) > MAX_JOIN_ROWS:
        return None
    counts = (lmat.T.tocsr() @ rmat).tocoo()
    keep = counts.data >= floor
    if upper:
        keep &= counts.row < counts.col
    return PairCounts(counts.row[keep], counts.col[keep], counts.data[keep],
                      np.bincount(lmat.indices, minlength=n_items), np.bincount(rmat.indices, minlength=n_items))
