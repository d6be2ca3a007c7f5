"""Ingest of the real public datasets, checked against counts computed here with plain pandas."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal

import pandas as pd
import pytest

from crmlib.ingest import ingest_file

from datasets import CDNOW_MASTER, CDNOW_SAMPLE, ONLINE_RETAIL, need

NON_PRODUCT = {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}


@pytest.fixture(scope="module")
def retail_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("retail") / "processed"
    return ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out)


@pytest.fixture(scope="module")
def retail_expected():
    """The ledger worked out independently: pandas, Python Decimal, rules applied in order."""
    raw = pd.read_csv(ONLINE_RETAIL, dtype=str, keep_default_na=False)
    qty = raw["Quantity"].map(Decimal)
    price = raw["UnitPrice"].map(Decimal)
    amount = (qty * price).map(lambda d: d.quantize(Decimal("0.0001")))
    reason = pd.Series("", index=raw.index, dtype=object)

    def assign(mask: pd.Series, name: str) -> None:
        reason[(reason == "") & mask] = name

    assign(raw.duplicated(keep="first"), "duplicate_line")
    assign(raw["InvoiceNo"].str.startswith("C"), "cancelled")
    assign(raw["StockCode"].str.upper().isin(NON_PRODUCT), "non_product")
    assign((qty < 0) | (amount < 0), "negative_amount")
    assign(amount == 0, "zero_amount")
    assign(raw["CustomerID"] == "", "no_customer")
    kept = reason == ""
    return {
        "raw": raw, "amount": amount, "reason": reason,
        "rows": reason[~kept].value_counts().to_dict(),
        "amounts": {r: sum(amount[reason == r], Decimal(0)) for r in reason[~kept].unique()},
        "kept_rows": int(kept.sum()),
        "kept_amount": sum(amount[kept], Decimal(0)),
        "orders": raw.loc[kept, "InvoiceNo"].nunique(),
        "customers": raw.loc[kept, "CustomerID"].nunique(),
    }


@need(ONLINE_RETAIL)
def test_online_retail_input_rows_match_published_count(retail_result):
    with gzip.open(ONLINE_RETAIL, "rt", encoding="utf-8", newline="") as fh:
        lines = sum(1 for _ in csv.reader(fh)) - 1
    assert lines == 541_909  # the UCI data set's published size
    assert retail_result.ledger.input_rows == 541_909


@need(ONLINE_RETAIL)
def test_online_retail_ledger_matches_independent_pandas(retail_result, retail_expected):
    led = retail_result.ledger
    got_rows = {e.reason: e.rows for e in led.excluded}
    assert got_rows == retail_expected["rows"]
    assert got_rows["duplicate_line"] == 5_268  # the dataset README's count
    assert {e.reason: e.amount for e in led.excluded} == retail_expected["amounts"]
    assert led.kept_rows == retail_expected["kept_rows"]
    assert led.kept_amount == retail_expected["kept_amount"]
    assert led.input_amount == sum(retail_expected["amount"], Decimal(0))
    assert led.reconciles()
    assert led.orders == retail_expected["orders"]
    assert led.customers == retail_expected["customers"]


@need(ONLINE_RETAIL)
def test_online_retail_canonical_orders(retail_result, retail_expected):
    orders = pd.read_parquet(retail_result.orders_path)
    lines = pd.read_parquet(retail_result.lines_path)
    assert len(orders) == retail_expected["orders"]
    assert orders["order_id"].is_unique
    assert len(lines) == retail_expected["kept_rows"]
    # float ids "17850.0" become "17850"
    assert not orders["customer_id"].str.contains(r"\.").any()
    assert "17850" in set(orders["customer_id"])
    # revenue is preserved from lines to orders (within float rounding of the Parquet doubles)
    assert orders["amount"].sum() == pytest.approx(float(retail_expected["kept_amount"]), rel=1e-12)
    one = orders.set_index("order_id").loc["536365"]
    raw = retail_expected["raw"]
    first = raw[raw["InvoiceNo"] == "536365"]
    expected = sum(Decimal(q) * Decimal(p) for q, p in zip(first["Quantity"], first["UnitPrice"]))
    assert one["amount"] == pytest.approx(float(expected))
    assert str(one["ordered_at"]) == "2010-12-01 08:26:00"
    assert retail_result.as_of.isoformat() == "2011-12-10"


@need(CDNOW_SAMPLE)
def test_cdnow_sample_loads_2357_customers():
    result = ingest_file(CDNOW_SAMPLE, preset="cdnow")
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, dtype=str)
    assert result.ledger.input_rows == len(raw) == 6_919
    assert result.ledger.customers == 2_357
    assert result.ledger.kept_rows == 6_919
    assert result.ledger.input_amount == sum(raw[4].map(Decimal), Decimal(0))
    assert result.ledger.reconciles()


@need(CDNOW_MASTER)
def test_cdnow_master_loads_23570_customers():
    result = ingest_file(CDNOW_MASTER, preset="cdnow")
    raw = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype=str)
    assert result.ledger.input_rows == len(raw) == 69_659
    assert result.ledger.customers == raw["customer_id"].nunique() == 23_570
    assert result.ledger.input_amount == sum(raw["dollar_value"].map(Decimal), Decimal(0))
    assert result.ledger.first_order.startswith("1997-01-01")
    assert result.ledger.last_order.startswith("1998-06-30")
