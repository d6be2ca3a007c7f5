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
    """The ledger worked out independently: pandas, Python Decimal, rules applied in order, and
    the return model of the README done with pandas merges: a C-invoice line (negative quantity)
    of a known customer is netted against that customer's latest purchase of the same StockCode
    at or before it with at least as many units, else against the customer's latest invoice at or
    before it, else reported (credit_note_unmatched); an invoice netted to <= 0 is `reversed`."""
    raw = pd.read_csv(ONLINE_RETAIL, dtype=str, keep_default_na=False)
    qty = raw["Quantity"].map(Decimal)
    price = raw["UnitPrice"].map(Decimal)
    amount = (qty * price).map(lambda d: d.quantize(Decimal("0.0001")))
    reason = pd.Series("", index=raw.index, dtype=object)

    def assign(mask: pd.Series, name: str) -> None:
        reason[(reason == "") & mask] = name

    assign(raw.duplicated(keep="first"), "duplicate_line")
    assign(raw["StockCode"].str.upper().isin(NON_PRODUCT), "non_product")
    assign((amount < 0) & (raw["CustomerID"] != ""), "credit")
    assign((qty < 0) | (amount < 0), "negative_amount")
    assign(amount == 0, "zero_amount")
    assign(raw["CustomerID"] == "", "no_customer")

    frame = pd.DataFrame({"row": raw.index, "invoice": raw["InvoiceNo"], "customer": raw["CustomerID"],
                          "sku": raw["StockCode"], "at": pd.to_datetime(raw["InvoiceDate"]),
                          "qty": raw["Quantity"].astype(int), "amount": amount, "reason": reason})
    sales, credits = frame[frame["reason"] == ""], frame[frame["reason"] == "credit"]
    pairs = credits.merge(sales, on=["customer", "sku"], suffixes=("", "_sale"))
    pairs = pairs[(pairs["at_sale"] <= pairs["at"]) & (pairs["qty_sale"] >= -pairs["qty"])]
    by_item = pairs.sort_values(["at_sale", "row_sale"]).groupby("row")["invoice_sale"].last()
    invoices = sales.groupby("invoice").agg(customer=("customer", "first"), at=("at", "min")).reset_index()
    open_credits = credits[~credits["row"].isin(by_item.index)]
    pairs = open_credits.merge(invoices, on="customer", suffixes=("", "_inv"))
    pairs = pairs[pairs["at_inv"] <= pairs["at"]]
    by_customer = pairs.sort_values(["at_inv", "invoice_inv"]).groupby("row")["invoice_inv"].last()
    target = pd.concat([by_item, by_customer])
    kind = pd.Series({**{r: "returned_item" for r in by_item.index}, **{r: "returned_customer" for r in by_customer.index}})
    invoice = frame["invoice"].copy()
    invoice[target.index] = target
    reason[credits["row"]] = "credit_note_unmatched"
    reason[target.index] = ""
    net = frame.assign(invoice=invoice, reason=reason)[reason == ""].groupby("invoice")["amount"].sum()
    reversed_invoices = set(net[net <= 0].index)
    reason[(reason == "") & invoice.isin(reversed_invoices)] = "reversed"
    kept = reason == ""
    netted = {k: (int((kept & (kind.reindex(raw.index) == k)).sum()),
                  sum(amount[kept & (kind.reindex(raw.index) == k)], Decimal(0)))
              for k in ("returned_item", "returned_customer")}
    return {
        "raw": raw, "amount": amount, "reason": reason, "invoice": invoice, "netted": netted,
        "rows": reason[~kept].value_counts().to_dict(),
        "amounts": {r: sum(amount[reason == r], Decimal(0)) for r in reason[~kept].unique()},
        "kept_rows": int(kept.sum()),
        "kept_amount": sum(amount[kept], Decimal(0)),
        "orders": invoice[kept].nunique(),
        "customers": raw.loc[kept, "CustomerID"].nunique(),
        "spend": pd.Series(amount[kept].map(float).to_numpy(), index=raw.loc[kept, "CustomerID"].str.removesuffix(".0")).groupby(level=0).sum(),
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
    assert {e.reason: (e.rows, e.amount) for e in led.netted} == retail_expected["netted"]


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


@need(ONLINE_RETAIL)
def test_online_retail_credit_notes_are_netted(retail_result, retail_expected):
    """The C-invoices reverse earlier sales (issue #17): the kept revenue is net, between £8.20M and
    £8.30M (the gross £8.74M minus the credit notes); 12346's £77,183.60 order was credited in full
    the same day, 16446's £168,469.60 order of 2011-12-09 too: neither is a big spender."""
    led = retail_result.ledger
    assert Decimal(8_200_000) < retail_expected["kept_amount"] < Decimal(8_300_000)
    assert Decimal(8_200_000) < led.kept_amount < Decimal(8_300_000)
    orders = pd.read_parquet(retail_result.orders_path)
    spend = orders.groupby("customer_id")["amount"].sum()
    pd.testing.assert_series_equal(spend.sort_index(), retail_expected["spend"].sort_index(),
                                   check_names=False, check_index_type=False, rtol=1e-9)
    assert spend.get("12346", 0.0) == pytest.approx(0.0, abs=0.01)
    assert spend.get("16446", 0.0) < 10  # its two small 2011-05 lines (£2.90 with the reversal netted)
    assert (spend > 0).all()  # no customer nets below zero
    lines = pd.read_parquet(retail_result.lines_path)
    returns = lines[lines["line_type"] == "return"]
    assert len(returns) == sum(n for n, _ in retail_expected["netted"].values())
    assert (returns["amount"] < 0).all()
    # every credit note of the unmatched kind is reported with its own reason, not netted
    unmatched = retail_expected["reason"] == "credit_note_unmatched"
    assert {e.reason: e.rows for e in led.excluded}["credit_note_unmatched"] == int(unmatched.sum())
    assert led.returns["reversed_orders"] == len({i for i, r in zip(retail_expected["invoice"], retail_expected["reason"])
                                                  if r == "reversed" and not i.startswith("C")})


@need(ONLINE_RETAIL)
def test_online_retail_16446_is_not_a_top_customer(retail_result):
    from crmlib.segments import segment_customers

    seg = segment_customers(retail_result.orders_path, retail_result.as_of, {})
    customers = seg.customers.set_index("customer_id")
    # the top decile worked out here: at least 90% of the customers spent strictly less
    spent = customers["revenue"]
    assert (spent < spent["16446"]).mean() < 0.9
    assert customers.loc["16446", "spend_decile"] != 1
    assert customers.loc["16446", "ladder"] != "stage4"
    assert "12346" not in customers.index  # its only order was reversed: no purchase at all


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
