"""Segment migration: the same customers classified at an earlier date and on the as-of date.

Both dates use the as-of yardstick (classify.SegmentCuts), so a move is the customer's own change.
Every customer on the as-of date has exactly one move:
- new: no order before the earlier date;
- stayed: the same class at both dates;
- lapsed: from an active class into a lapsed one (RFM: hibernating/lost by default; CPM: the
  離脱 twins; ladder: lapsed);
- returned: from a lapsed class back into an active one (won back);
- up / down: otherwise, to a class ranked higher / lower (classes are ranked best first: the RFM
  rule order, CPM 優良 > 流行 > コツコツ > よちよち > 初回 then the twins, ladder stage 4 > ... > 1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..customers import customer_base
from ..kept import kept_arrays
from . import cpm, ladder
from .classify import Segmentation, kept_derived_path, scheme_classes
from .settings import RfmSegmentRule

NEW = "_new"  # row label of customers who had not bought yet (rule keys cannot start with '_')
MOVES = ("new", "up", "stayed", "down", "lapsed", "returned")
SCHEMES = ("rfm", "cpm", "ladder")
SCHEME_COLUMNS = {"rfm": "rfm_segment", "cpm": "cpm_cell", "ladder": "ladder"}
FACTS = ("orders", "purchases", "revenue", "recency_days", "tenure_days")  # what the classes read
CHUNK_ROWS = 1_000_000  # as-of customers classified at a time for the start date (bounds the temporaries)


@dataclass(frozen=True)
class ClassOrder:
    """A scheme's classes, best first, and which of them count as lapsed."""

    keys: tuple[str, ...]
    lapsed: frozenset[str]


def class_order(scheme: str, rules: list[RfmSegmentRule]) -> ClassOrder:
    """The ranking and lapsed classes of 'rfm' (from the rules), 'cpm' or 'ladder'."""
    if scheme == "rfm":
        return ClassOrder(tuple(r.key for r in rules), frozenset(r.key for r in rules if r.lapsed))
    if scheme == "cpm":
        return ClassOrder(cpm.CELLS, cpm.LAPSED)
    if scheme == "ladder":
        return ClassOrder(ladder.CLASSES, ladder.LAPSED)
    raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def match_rows(start: pd.DataFrame, end: pd.DataFrame) -> np.ndarray:
    """For each end-date customer, its row in start (-1 when new), by customer id.

    Arrow's hash lookup matches the ids without creating Python string objects."""
    where = pc.index_in(pa.array(end["customer_id"].astype("str")),
                        value_set=pa.array(start["customer_id"].astype("str")))
    found = where.is_valid().to_numpy(zero_copy_only=False)
    return np.where(found, where.fill_null(0).to_numpy(zero_copy_only=False), -1).astype(np.int64)


def aligned_start(start: pd.DataFrame, end: pd.DataFrame, column: str, rows: np.ndarray | None = None) -> pd.Series:
    """The start-date class of each end-date customer (end's order; missing = new customer)."""
    if list(start[column].cat.categories) != list(end[column].cat.categories):
        raise ValueError("start and end classes must have the same categories")
    rows = match_rows(start, end) if rows is None else rows
    start_codes = start[column].cat.codes.to_numpy(np.int64)
    codes = np.where(rows >= 0, start_codes[np.maximum(rows, 0)] if len(start_codes) else -1, -1)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=end[column].dtype), index=end.index, name=column)


def _codes(start: pd.Series, end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Category codes of start (-1 = new) and end, checked to share their categories."""
    if list(start.cat.categories) != list(end.cat.categories):
        raise ValueError("start and end classes must have the same categories")
    return start.cat.codes.to_numpy(np.int64), end.cat.codes.to_numpy(np.int64)


def migration_matrix(start: pd.Series, end: pd.Series) -> pd.DataFrame:
    """Customers by start class (rows, NEW first) and end class (columns), zeros included."""
    start_codes, end_codes = _codes(start, end)
    keys = list(end.cat.categories)
    k = len(keys)
    counts = np.bincount((start_codes + 1) * k + end_codes, minlength=(k + 1) * k).reshape(k + 1, k)
    return pd.DataFrame(counts, index=[NEW, *keys], columns=keys)


def move_kinds(start: pd.Series, end: pd.Series, order: ClassOrder) -> pd.Series:
    """The move of every customer (categorical of MOVES)."""
    start_codes, end_codes = _codes(start, end)
    if tuple(end.cat.categories) != order.keys:
        raise ValueError("the classes are not in the order's ranking")
    lapsed = np.array([key in order.lapsed for key in order.keys], dtype=bool)
    new = start_codes < 0
    was_lapsed = lapsed[np.where(new, 0, start_codes)]
    is_lapsed = lapsed[end_codes]
    kind = np.select(
        [new, start_codes == end_codes, ~was_lapsed & is_lapsed, was_lapsed & ~is_lapsed, end_codes < start_codes],
        [0, 2, 4, 5, 1],
        3,  # down: a larger code is a lower rank
    )
    return pd.Series(pd.Categorical.from_codes(kind, categories=list(MOVES)), index=end.index, name="move")


def migration_moves(start: pd.Series, end: pd.Series, order: ClassOrder) -> pd.Series:
    """Customers per move (new, up, stayed, down, lapsed, returned); they add up to the end customers."""
    kinds = move_kinds(start, end, order)
    return pd.Series(np.bincount(kinds.cat.codes.to_numpy(), minlength=len(MOVES)), index=list(MOVES),
                     name="customers")


@dataclass(frozen=True)
class Migration:
    """Start and end classes of the as-of customers for each scheme."""

    start_date: dt.date
    end_date: dt.date
    start_customers: int
    classes: dict[str, tuple[pd.Series, pd.Series]]  # scheme -> (start, end)
    orders: dict[str, ClassOrder]

    def matrix(self, scheme: str) -> pd.DataFrame:
        """The scheme's migration matrix (rows: start class with NEW first; columns: end class)."""
        return migration_matrix(*self.classes[scheme])

    def moves(self, scheme: str) -> pd.Series:
        """Customers per move kind for the scheme."""
        return migration_moves(*self.classes[scheme], self.orders[scheme])


def start_codes(segmentation: Segmentation, start_date: dt.date, *, keep: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """The class codes on start_date (-1 = no order yet) of every as-of customer, in the as-of
    order, per class column; and how many customers had ordered before start_date.

    keep: kept beside the classification (crmlib.store.kept, one copy per number of days before
    the as-of date): the segments chapter's migration, the strategy chapter's plan baseline and
    its lists all look 90 days back by default, in two processes.
    """
    if not keep:
        return _start_codes(segmentation, start_date)
    days = (segmentation.as_of - start_date).days
    path = kept_derived_path(segmentation, f"start_codes_{days}", start_date.isoformat())
    arrays = kept_arrays(path, lambda: _as_arrays(*_start_codes(segmentation, start_date)))
    count = int(arrays.pop(_COUNT))
    return arrays, count


_COUNT = "__customers_before__"  # the count beside the code arrays in a kept file


def _as_arrays(codes: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """start_codes' result as the arrays of one kept file."""
    return {**codes, _COUNT: np.array(count)}


def _start_codes(segmentation: Segmentation, start_date: dt.date) -> tuple[dict[str, np.ndarray], int]:
    """start_codes, computed.

    A customer with no order from start_date on had the same orders on start_date as on the
    as-of date: the same purchases, spend and tenure, and a recency shorter by the days between.
    These (most customers) are classified from the as-of frame, a chunk at a time; only the
    customers who ordered since start_date are aggregated again (DuckDB) and matched by id. The
    classes are those classify_on(segmentation, start_date) gives, without a second frame of
    every customer in memory."""
    end, settings = segmentation.customers, segmentation.settings
    n, days = len(end), (segmentation.as_of - start_date).days
    codes = {column: np.full(n, -1, dtype=np.int8 if len(end[column].cat.categories) < 127 else np.int16)
             for column in SCHEME_COLUMNS.values()}

    def put(rows: np.ndarray, facts: pd.DataFrame) -> None:
        for column, classes in scheme_classes(facts, settings, segmentation.cuts, segmentation.rules).items():
            if list(classes.categories) != list(end[column].cat.categories):
                raise ValueError("start and end classes must have the same categories")
            codes[column][rows] = classes.codes

    recent = (end["last_order"] >= pd.Timestamp(start_date)).to_numpy(dtype=bool)
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, n)
        same = ~recent[lo:hi]
        facts = pd.DataFrame({column: end[column].to_numpy()[lo:hi][same] for column in FACTS})
        facts["recency_days"] -= days
        put(lo + np.flatnonzero(same), facts)
    recent_rows = np.flatnonzero(recent)
    changed = customer_base(segmentation.orders_path, start_date, settings.merge_same_day,
                            ordered_until=segmentation.as_of)
    if len(changed):
        # the as-of rows of the re-aggregated customers: the hash is of their ids, and the ids of
        # those who ordered since are looked up a chunk at a time (no array of all their ids)
        known = pa.array(changed["customer_id"].astype("str"))
        rows = np.full(len(changed), -1, dtype=np.int64)
        for lo in range(0, len(recent_rows), CHUNK_ROWS):
            chunk = recent_rows[lo:lo + CHUNK_ROWS]
            where = pc.index_in(pa.array(end["customer_id"].iloc[chunk].astype("str")), value_set=known)
            found = where.is_valid().to_numpy(zero_copy_only=False)
            rows[where.drop_null().to_numpy(zero_copy_only=False)] = chunk[found]
        del known
        if (rows < 0).any():
            raise ValueError("customers who ordered before the start date are missing on the as-of date")
        put(rows, changed.loc[:, list(FACTS)])
    return codes, n - len(recent_rows) + len(changed)


def segment_migration(segmentation: Segmentation, days_before: int | None = None) -> Migration:
    """Classify the customers days_before (default: the settings') the as-of date and pair the classes."""
    days = days_before if days_before is not None else segmentation.settings.migration.days_before
    start_date = segmentation.as_of - dt.timedelta(days=days)
    end = segmentation.customers
    # the settings' comparison is kept (the strategy chapter's plan looks as far back by default)
    codes, start_customers = start_codes(segmentation, start_date, keep=days_before is None)
    classes = {
        scheme: (pd.Series(pd.Categorical.from_codes(codes.pop(column), dtype=end[column].dtype), index=end.index,
                           name=column), end[column])
        for scheme, column in SCHEME_COLUMNS.items()
    }
    orders = {scheme: class_order(scheme, segmentation.rules) for scheme in SCHEMES}
    return Migration(start_date, segmentation.as_of, start_customers, classes, orders)


__all__ = [
    "MOVES", "NEW", "SCHEMES", "SCHEME_COLUMNS", "ClassOrder", "Migration", "aligned_start", "class_order",
    "match_rows", "migration_matrix", "migration_moves", "move_kinds", "segment_migration", "start_codes",
]
