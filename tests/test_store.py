"""The store: one as-of resolution for every chapter, and one classification per report.

The migration shop of tests/test_segments.py is classified by hand there; here the kept copy must
equal a fresh classification exactly, be what a second call returns, and be refreshed when the
orders or the settings change.
"""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlib.errors import DataError
from crmlib.store import asof, kept
from crmlib.store.segments import classify
from crmlib.store.segments.classify import segment_customers

from test_segments import AS_OF, MIGRATION_ORDERS, write_orders


@pytest.fixture
def shop(tmp_path):
    write_orders(tmp_path, MIGRATION_ORDERS)
    return tmp_path / "orders.parquet"


def test_kept_segmentation_equals_a_fresh_one_and_is_reused(shop, monkeypatch):
    first = segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}})
    kept = list((shop.parent / "store").glob("segments-*.parquet"))
    assert len(kept) == 1
    calls = []
    monkeypatch.setattr(classify, "customer_base", lambda *a, **k: calls.append(a) or pd.DataFrame())
    again = segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}})
    assert calls == []  # read back, not recomputed
    pd.testing.assert_frame_equal(again.customers, first.customers)
    assert again.cuts == first.cuts
    assert again.customers["cpm_cell"].dtype == first.customers["cpm_cell"].dtype


def test_the_kept_round_trip_gives_the_very_same_frame(shop):
    fresh = segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}}, reuse=False)
    classify._memo.clear()  # from the file, not from this process's memory
    again = segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}})
    # strict: the same index class (a RangeIndex, not int64 values 0..n-1), dtypes, exact values
    pd.testing.assert_frame_equal(again.customers, fresh.customers, check_exact=True, check_index_type=True,
                                  check_column_type=True, check_categorical=True)
    assert isinstance(fresh.customers.index, pd.RangeIndex) and isinstance(again.customers.index, pd.RangeIndex)
    assert again.customers.dtypes.to_dict() == fresh.customers.dtypes.to_dict()
    assert all(again.customers[c].cat.ordered for c in ("rfm_segment", "cpm_cell", "ladder"))
    # the index is kept as metadata: the file holds the frame's columns and no 8-byte index column
    (path,) = (shop.parent / "store").glob("segments-*.parquet")
    assert pq.read_schema(path).names == list(fresh.customers.columns)


def test_the_process_reads_the_kept_file_once_and_hands_out_copies(shop, monkeypatch):
    settings = {"cpm": {"spend": 70000}}
    first = segment_customers(shop, AS_OF, settings)
    reads = []
    original = classify._read_kept
    monkeypatch.setattr(classify, "_read_kept", lambda *a: reads.append(a) or original(*a))
    again = segment_customers(shop, AS_OF, settings)
    assert reads == []  # remembered, not read again
    pd.testing.assert_frame_equal(again.customers, first.customers, check_exact=True)
    again.customers["note"] = "changed by a caller"
    again.customers.loc[0, "revenue"] = -1.0
    third = segment_customers(shop, AS_OF, settings)
    assert "note" not in third.customers and third.customers.loc[0, "revenue"] == first.customers.loc[0, "revenue"]
    # the kept file rewritten (another run refreshed it): read again
    (path,) = (shop.parent / "store").glob("segments-*.parquet")
    os.utime(path, ns=(10**18, 10**18))
    segment_customers(shop, AS_OF, settings)
    assert len(reads) == 1
    # a large client's classification is not held in memory beyond its use
    monkeypatch.setattr(classify, "MEMO_MAX_CUSTOMERS", 4)  # the shop has 5 customers
    segment_customers(shop, AS_OF, settings, reuse=False)
    segment_customers(shop, AS_OF, settings)
    assert len(reads) == 2


def test_counts_and_days_are_int32_and_monetary_is_no_copy_of_revenue(shop):
    c = segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}}).customers.set_index("customer_id")
    narrowed = ("orders", "purchases", "recency_days", "tenure_days")
    assert {column: str(c[column].dtype) for column in narrowed} == dict.fromkeys(narrowed, "int32")
    assert "monetary" not in c.columns  # the total basis: M's value is the revenue column
    # the migration shop by hand: 9 orders on 8 purchase days (grow's two orders of one day are one);
    # grow: last order 60 days before as_of, first 150 days before (tenure 90)
    assert (int(c["orders"].sum()), int(c["purchases"].sum())) == (9, 8)
    assert (c.loc["grow", "recency_days"], c.loc["grow", "tenure_days"]) == (60, 90)
    mean = segment_customers(shop, AS_OF, {"rfm": {"monetary": "mean"}}).customers.set_index("customer_id")
    assert mean.loc["grow", "monetary"] == pytest.approx(11000 / 3)  # (5,000 + 5,000 + 1,000) / 3 orders


def test_other_settings_or_new_orders_are_classified_again(shop):
    segment_customers(shop, AS_OF, {"cpm": {"spend": 70000}})
    other = segment_customers(shop, AS_OF, {"cpm": {"spend": 1000}})
    # 1,000 of spend: every customer with a purchase in the period is above the line
    assert other.cuts.cpm_spend.amount == 1000
    assert len(list((shop.parent / "store").glob("segments-*.parquet"))) == 1  # the old key is gone
    write_orders(shop.parent, MIGRATION_ORDERS[:3])
    os.utime(shop, ns=(1, 1))  # a rewritten file: other size and time
    fewer = segment_customers(shop, AS_OF, {"cpm": {"spend": 1000}})
    assert sorted(fewer.customers["customer_id"]) == ["back", "gone", "new"]


def test_a_read_only_store_still_classifies(shop, monkeypatch):
    monkeypatch.setattr(kept, "KEPT_DIR", "no/such/deep/folder")
    seg = segment_customers(shop, AS_OF, {})
    assert len(seg.customers) == 5


def test_one_as_of_rule_for_every_chapter(shop, tmp_path):
    # the day after the last order (2024-12-12 12:00 in the migration shop: 20 days before AS_OF)
    assert asof.resolve_as_of(shop, "") == AS_OF - dt.timedelta(days=19)
    assert asof.resolve_as_of(shop, dt.datetime(2024, 7, 1, 15)) == dt.date(2024, 7, 1)
    empty = tmp_path / "empty"
    write_orders(empty, [])
    with pytest.raises(DataError, match="no orders"):
        asof.resolve_as_of(empty / "orders.parquet", None)
    from crmlib.store.customers import resolve_as_of as customers_resolve
    from crmlib.store.ltv.summary import resolve_as_of as ltv_resolve
    from crmlib.store.purchases import resolve_as_of as purchases_resolve

    assert ltv_resolve is customers_resolve is purchases_resolve is asof.resolve_as_of


def test_the_migration_codes_are_kept_once_for_the_settings_days_only(shop, monkeypatch):
    from crmlib.store.segments import migration

    seg = segment_customers(shop, AS_OF, {})
    fresh = migration.segment_migration(seg)  # the settings' 90 days: kept
    (path,) = (shop.parent / "store").glob("start_codes_90-*.npz")
    monkeypatch.setattr(migration, "_start_codes", lambda *a: pytest.fail("computed again"))
    again = migration.segment_migration(segment_customers(shop, AS_OF, {}))
    assert again.start_customers == fresh.start_customers
    for scheme in migration.SCHEMES:
        pd.testing.assert_series_equal(again.classes[scheme][0], fresh.classes[scheme][0], check_exact=True)
    monkeypatch.undo()
    migration.segment_migration(seg, days_before=30)  # the tracking section's own span: not kept
    assert [p.name for p in (shop.parent / "store").glob("start_codes_*")] == [path.name]
    # other settings: another key, the old copy removed when the new one is kept
    migration.segment_migration(segment_customers(shop, AS_OF, {"cpm": {"spend": 1000}}))
    assert len(list((shop.parent / "store").glob("start_codes_90-*.npz"))) == 1
    assert not path.exists()


def test_the_plan_lists_due_customers_are_kept_for_the_lists(shop, monkeypatch):
    from crmlib.strategy import plan

    seg = segment_customers(shop, AS_OF, {})
    first = plan.ListSource(seg, 90, 240)
    now, then = first.rows(plan.DUE), first.rows(plan.DUE, then=True)
    assert sorted(p.name.split("-")[0] for p in (shop.parent / "store").glob("due_*")) == ["due_now", "due_then"]
    monkeypatch.setattr(plan, "due_customers", lambda *a, **k: pytest.fail("queried again"))
    second = plan.ListSource(segment_customers(shop, AS_OF, {}), 90, 240)
    assert (second.rows(plan.DUE) == now).all() and (second.rows(plan.DUE, then=True) == then).all()
    assert second.rows(plan.DUE).dtype == bool and len(now) == len(seg.customers)


def test_kept_arrays_recompute_an_unreadable_file_and_never_unpickle(tmp_path):
    import numpy as np

    path = tmp_path / "store" / "codes-abc.npz"
    calls = []
    compute = lambda: calls.append(1) or {"a": np.arange(3, dtype=np.int8)}  # noqa: E731
    assert kept.kept_arrays(path, compute)["a"].tolist() == [0, 1, 2] and path.is_file()
    assert kept.kept_arrays(path, compute)["a"].dtype == np.int8 and len(calls) == 1
    path.write_bytes(b"not a zip")
    assert kept.kept_arrays(path, compute)["a"].tolist() == [0, 1, 2] and len(calls) == 2
    with path.open("wb") as file:  # an object array needs pickle: refused, computed again
        np.savez(file, a=np.array([{"x": 1}], dtype=object))
    assert kept.kept_arrays(path, compute)["a"].tolist() == [0, 1, 2] and len(calls) == 3
    assert kept.kept_arrays(None, compute)["a"].tolist() == [0, 1, 2] and len(calls) == 4
