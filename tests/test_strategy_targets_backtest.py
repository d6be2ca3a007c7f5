"""The targets' backtest (class codes a year before from migration.start_codes, sums with numpy)
gives the figures of its first definition: a second classification (classify_on) and the revenue
since grouped per class with pandas, written out here independently.

Three cases on one generated sample (crmlib.sample, 800 customers, about 1,500 orders): the data
reaching a year back ('backtest'), an as-of date six months after the first order ('trailing'),
and the sample without the customers whose first order is in the last 90 days, so that ladder
stage 1 (one purchase less than 90 days old) is empty now but not a year before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlib.periods import months_before
from crmlib.segments import segment_customers
from crmlib.store.segments import classify
from crmlib.store.segments.classify import classify_on
from crmlib.store.segments.migration import SCHEME_COLUMNS
from crmlib.store.segments.names import display_order
from crmlib.strategy import targets
from crmlib.strategy.settings import Target


@pytest.fixture(scope="module")
def sample_orders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dt.date]:
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample

    folder = tmp_path_factory.mktemp("backtest")
    sample = write_sample(folder / "orders.csv", n_customers=800)
    result = ingest_file(sample, preset="generic", out_dir=folder / "processed")
    return result.out_dir / "orders.parquet", result.as_of


def expected_values(seg, scheme: str, months: int = 12) -> pd.DataFrame:
    """The first definition: classify_on a year before, revenue since by customer, pandas sums."""
    column = SCHEME_COLUMNS[scheme]
    start = months_before(seg.as_of, months)
    orders = pd.read_parquet(seg.orders_path)
    since = orders[(orders["ordered_at"] >= pd.Timestamp(start)) & (orders["ordered_at"] < pd.Timestamp(seg.as_of))]
    spent = since.groupby("customer_id")["amount"].sum()
    now = seg.customers[["customer_id", column]].copy()
    then = classify_on(seg, start)[["customer_id", column]].copy()
    out = pd.DataFrame(index=display_order(seg, scheme))
    for frame, count, total in ((now, "customers", "revenue"), (then, "then_customers", "next_revenue")):
        frame["spent"] = frame["customer_id"].map(spent).fillna(0.0)
        grouped = frame.groupby(frame[column].astype(str))["spent"]
        out[count], out[total] = grouped.size(), grouped.sum()
    out[["customers", "then_customers"]] = out[["customers", "then_customers"]].fillna(0).astype("int64")
    if len(then):
        out["value"] = out["next_revenue"] / out["then_customers"].where(out["then_customers"] > 0)
        out["basis"] = "backtest"
    else:
        out["value"] = out["revenue"] / out["customers"].where(out["customers"] > 0)
        out["basis"] = "trailing"
    out["revenue"] = out["revenue"].fillna(0.0)
    return out


def assert_same(seg, scheme: str) -> pd.DataFrame:
    """class_values equals the first definition: counts exactly, sums to float rounding."""
    got = targets.class_values(seg, scheme).set_index("class")
    want = expected_values(seg, scheme)
    assert list(got.index) == list(want.index)
    assert got["customers"].tolist() == want["customers"].tolist(), scheme
    assert got["then_customers"].tolist() == want["then_customers"].tolist(), scheme
    assert got["basis"].tolist() == want["basis"].tolist(), scheme
    np.testing.assert_allclose(got["revenue"], want["revenue"], rtol=1e-9)
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-9)  # NaN where want is NaN
    if want["basis"].iloc[0] == "backtest":
        np.testing.assert_allclose(got["next_revenue"], want["next_revenue"], rtol=1e-9)
    return want


def assert_targets(seg, values: dict[str, pd.DataFrame]) -> None:
    """target_values' sizes and money are those of the first definition's class values."""
    chosen = [Target(segment=f"{scheme}:{key}", move_share=0.5)
              for scheme in ("ladder", "cpm", "rfm") for key in targets.NEXT_CLASS[scheme]]
    table = targets.target_values(seg, chosen, min_customers=1)
    for row in table.itertuples():
        want = values[row.scheme]
        value_n = want.loc[row.key, "then_customers" if row.basis == "backtest" else "customers"]
        assert (row.customers, row.value_n) == (want.loc[row.key, "customers"], value_n)
        if value_n:
            value = want.loc[row.key, "value"]
            assert row.value == pytest.approx(0.0 if pd.isna(value) else value, rel=1e-9)
            assert row.value_at_stake == pytest.approx(row.value * row.customers, rel=1e-9)
        if row.status == "ok":
            gain = 0.5 * row.customers * (want.loc[row.next_key, "value"] - row.value)
            assert row.gain == pytest.approx(gain, rel=1e-9)


def test_backtest_equals_the_first_definition(sample_orders) -> None:
    orders_path, as_of = sample_orders
    seg = segment_customers(orders_path, as_of, {}, reuse=False)
    values = {scheme: assert_same(seg, scheme) for scheme in SCHEME_COLUMNS}
    assert values["ladder"]["basis"].eq("backtest").all()
    assert values["ladder"]["then_customers"].sum() > 100  # the year before is well populated
    assert_targets(seg, values)


def test_trailing_equals_the_first_definition(sample_orders) -> None:
    orders_path, _ = sample_orders
    first = pd.read_parquet(orders_path, columns=["ordered_at"])["ordered_at"].min()
    seg = segment_customers(orders_path, (first + pd.DateOffset(months=6)).date(), {}, reuse=False)
    values = {scheme: assert_same(seg, scheme) for scheme in SCHEME_COLUMNS}
    assert values["ladder"]["basis"].eq("trailing").all() and values["ladder"]["customers"].sum() > 0
    # with no year before, next_revenue is 0 for a class with customers now and missing otherwise
    for scheme in SCHEME_COLUMNS:
        got = targets.class_values(seg, scheme)
        assert got["next_revenue"].isna().tolist() == got["customers"].eq(0).tolist()
        assert got["next_revenue"].dropna().eq(0.0).all()
    assert_targets(seg, values)



def test_a_year_back_inside_the_first_look_back_is_not_a_backtest(sample_orders, tmp_path: Path) -> None:
    """The data starts 9 days before the day a year back (as Online Retail's does): every customer
    then has at most 9 days of history, long-standing accounts look new, and what those classes
    spent since is no value of today's classes. The value per customer is each class's own revenue
    of the last twelve months per customer, as when the data does not reach a year back, and the
    basis says why ('censored')."""
    orders_path, as_of = sample_orders
    start = months_before(as_of, 12)
    table = pq.read_table(orders_path)
    ordered = table.column("ordered_at").to_pandas()
    keep = (ordered >= pd.Timestamp(start - dt.timedelta(days=9))).to_numpy()
    pq.write_table(table.filter(keep), tmp_path / "orders.parquet")
    seg = segment_customers(tmp_path / "orders.parquet", as_of, {}, reuse=False)
    for scheme in SCHEME_COLUMNS:
        got = targets.class_values(seg, scheme).set_index("class")
        assert got["basis"].eq("censored").all(), scheme
        assert got["then_customers"].eq(0).all()
        now = got["customers"] > 0
        np.testing.assert_allclose(got.loc[now, "value"], got.loc[now, "revenue"] / got.loc[now, "customers"], rtol=1e-12)
    # the trailing values: revenue since the day a year back per customer now, from the orders by hand
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    since = (orders["ordered_at"] >= pd.Timestamp(start)) & (orders["ordered_at"] < pd.Timestamp(as_of))
    spent = orders[since].groupby("customer_id")["amount"].sum()
    ladder = seg.customers[["customer_id", "ladder"]].copy()
    ladder["spent"] = ladder["customer_id"].map(spent).fillna(0.0)
    by_hand = ladder.groupby(ladder["ladder"].astype(str))["spent"].mean()
    got = targets.class_values(seg, "ladder").set_index("class")["value"]
    for key, value in by_hand.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    # the table's header says whose twelve months the value is
    from crmlib.strategy import report

    table = report.targets_table(targets.target_values(seg, targets.default_targets(seg)), seg, "en", "JPY")
    assert "Value per customer (its last 12 months)" in table.columns


def test_a_class_empty_now_but_not_a_year_before(sample_orders, tmp_path: Path) -> None:
    orders_path, as_of = sample_orders
    table = pq.read_table(orders_path)
    orders = table.select(["customer_id", "ordered_at"]).to_pandas()
    first = orders.groupby("customer_id")["ordered_at"].min()
    recent_first = set(first[first >= pd.Timestamp(as_of - dt.timedelta(days=90))].index)
    keep = ~orders["customer_id"].isin(recent_first).to_numpy()
    pq.write_table(table.filter(keep), tmp_path / "orders.parquet")
    seg = segment_customers(tmp_path / "orders.parquet", as_of, {}, reuse=False)
    values = {scheme: assert_same(seg, scheme) for scheme in SCHEME_COLUMNS}
    stage1 = values["ladder"].loc["stage1"]
    assert stage1["customers"] == 0 and stage1["then_customers"] > 0 and stage1["value"] > 0
    assert_targets(seg, values)


def test_small_chunks_give_the_same_figures(sample_orders, monkeypatch: pytest.MonkeyPatch) -> None:
    # customers counted, classified and matched a few at a time (start_codes and the sums)
    from crmlib.store.segments import migration

    monkeypatch.setattr(migration, "CHUNK_ROWS", 37)
    monkeypatch.setattr(targets, "CHUNK_ROWS", 53)
    orders_path, as_of = sample_orders
    seg = segment_customers(orders_path, as_of, {}, reuse=False)
    assert len(seg.customers) > 10 * 53
    for scheme in SCHEME_COLUMNS:
        assert_same(seg, scheme)


def test_customers_in_another_order_are_matched_by_id(sample_orders) -> None:
    # the revenue rows come sorted by id, as customer_base sorts the customers; customers in
    # another order are matched by id instead, with the same sums
    orders_path, as_of = sample_orders
    seg = segment_customers(orders_path, as_of, {}, reuse=False)
    shuffled = dataclasses.replace(seg, customers=seg.customers.sample(frac=1.0, random_state=7))
    for scheme in SCHEME_COLUMNS:
        got, want = targets.class_values(shuffled, scheme), targets.class_values(seg, scheme)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_the_backtest_builds_no_second_classification(sample_orders, monkeypatch: pytest.MonkeyPatch) -> None:
    # classify_on (the first definition) builds a second frame of every customer with all its
    # scores and classes; the backtest reads the class codes a year before (start_codes) instead
    orders_path, as_of = sample_orders
    seg = segment_customers(orders_path, as_of, {}, reuse=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a second classification frame was built")

    monkeypatch.setattr(classify, "classify_customers", refuse)
    data = targets.backtest(seg)
    # what it keeps is a few sums per class, not a frame of customers
    assert {len(frame) for frame in data.sums.values()} <= {len(seg.rules), 5, 10}
    assert data.then_total > 0
