"""The return model (README, "Returns and refunds") on hand-made files; every number worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmlib.errors import CrmError
from crmlib.ingest import ingest_file
from crmlib.ledger import Ledger

CREDITS = """\
order_id,customer_id,ordered_at,sku,quantity,unit_price
S1,C1,2024-01-10 10:00:00,A,3,1000
S2,C1,2024-02-10 10:00:00,A,1,1000
R1,C1,2024-03-01 10:00:00,A,-2,1000
S3,C2,2024-01-05 10:00:00,B,2,1000
R2,C2,2024-02-01 10:00:00,A,-1,800
S4,C3,2024-01-06 10:00:00,D,1,4000
R3,C3,2024-01-06 12:00:00,D,-1,4000
R4,C4,2024-01-02 10:00:00,E,-1,700
S5,C4,2024-01-20 10:00:00,E,1,700
R5,,2024-01-03 10:00:00,E,-1,700
"""
# By hand:
# R1 (-2 x 1000): C1's latest purchase of A before it is S2, but of 1 unit; the latest with 2 or more
#   is S1 -> netted against S1 (returned_item): S1 = 3000 - 2000 = 1000.
# R2 (-800 of A): C2 never bought A -> netted against C2's latest order before it, S3
#   (returned_customer): S3 = 2000 - 800 = 1200.
# R3 reverses S4 in full the same day: S4 nets to 0 -> both lines `reversed` (amount 0), C3 no customer.
# R4: C4's only purchase (S5) comes after it -> credit_note_unmatched (-700), S5 kept (700).
# R5: no customer -> negative_amount (-700), as before.
# Kept: S1, R1, S2, S3, R2, S5 = 6 rows, 3000 - 2000 + 1000 + 2000 - 800 + 700 = 3900.
# Input: 3000 + 1000 - 2000 + 2000 - 800 + 4000 - 4000 - 700 + 700 - 700 = 2500 = 3900 + 0 - 700 - 700.


def test_credit_notes_are_netted_against_the_purchase_they_reverse(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text(CREDITS, encoding="utf-8")
    result = ingest_file(path, rules={"max_invalid_share": 0.5}, out_dir=tmp_path / "out")
    led = result.ledger
    assert led.input_rows == 10 and led.input_amount == Decimal(2500)
    assert led.kept_rows == 6 and led.kept_amount == Decimal(3900)
    assert {e.reason: (e.rows, e.amount) for e in led.excluded} == {
        "reversed": (2, Decimal(0)), "credit_note_unmatched": (1, Decimal(-700)),
        "negative_amount": (1, Decimal(-700))}
    assert {e.reason: (e.rows, e.amount) for e in led.netted} == {
        "returned_item": (1, Decimal(-2000)), "returned_customer": (1, Decimal(-800))}
    assert led.reconciles()
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders["amount"].to_dict() == {"S1": 1000, "S2": 1000, "S3": 1200, "S5": 700}
    assert orders.loc["S1", "quantity"] == 1  # 3 sold, 2 returned
    assert led.orders == 4 and led.customers == 3  # C3's only order was reversed: no purchase
    lines = pd.read_parquet(result.lines_path)
    returns = lines[lines["line_type"] == "return"].set_index("order_id")
    assert returns["amount"].to_dict() == {"S1": -2000, "S3": -800}
    assert led.returns["reversed_orders"] == 1 and led.returns["credit_notes_unmatched"] == 1
    assert any("credit note" in p and "not netted" in p for p in led.problems)
    # ledger.json keeps the netted lines; the table shows them under the kept line
    saved = Ledger.load(tmp_path / "out" / "ledger.json")
    assert saved.netted == led.netted and saved.reconciles()
    frame = saved.to_frame("ja")
    assert frame["reason"].tolist()[:4] == ["input", "kept", "returned_item", "returned_customer"]
    assert frame.loc[frame["reason"] == "returned_item", "label"].item() == "うち返品（同じ商品の購入と相殺）"


def test_net_returns_off_keeps_the_old_exclusion(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_text(CREDITS, encoding="utf-8")
    led = ingest_file(path, rules={"max_invalid_share": 0.5, "net_returns": False}).ledger
    # the five negative lines excluded as before: -2000 - 800 - 4000 - 700 - 700
    assert {e.reason: (e.rows, e.amount) for e in led.excluded} == {"negative_amount": (5, Decimal(-8200))}
    assert led.kept_amount == Decimal(3000 + 1000 + 2000 + 4000 + 700) and not led.netted


SHOPIFY = """\
Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Lineitem discount,Cancelled at,Refunded Amount,Vendor,Source,Shipping Province Name
#2001,a@example.com,paid,2024-03-01 10:00:00 +0900,2,Tea,1000,T-1,0,,0.00,Leaf Co,web,Tokyo
#2001,,,2024-03-01 10:00:00 +0900,1,Cup,500,C-1,0,,,Leaf Co,,
#2002,b@example.com,refunded,2024-03-02 10:00:00 +0900,1,Pot,3000,P-1,0,,3000.00,Leaf Co,web,Osaka
#2003,c@example.com,partially_refunded,2024-03-03 10:00:00 +0900,1,Tea,1500,T-1,0,,1000.00,Leaf Co,web,Tokyo
#2003,,,2024-03-03 10:00:00 +0900,1,Mug,500,M-1,0,,,Leaf Co,,
#2004,a@example.com,paid,2024-03-04 10:00:00 +0900,1,"Gift Card - ¥5,000",5000,,0,,0.00,Leaf Co,web,Tokyo
#2004,,,2024-03-04 10:00:00 +0900,1,Tea,1000,T-1,0,,,Leaf Co,,
#2005,d@example.com,partially_refunded,2024-03-05 10:00:00 +0900,1,Kettle,2000,K-1,0,,2600.00,Leaf Co,web,Tokyo
"""
# By hand:
# #2001 paid: 2 x 1000 + 500 = 2500 kept.
# #2002 refunded (Financial Status): the whole order is `returned` (1 row, 3000).
# #2003 partially_refunded, Refunded Amount 1000 (order-level, first line only): kept, net 2000 - 1000;
#   the refund spread by amount: Tea 1500 - 750 = 750, Mug 500 - 250 = 250; ledger `refunded` (0 rows, 1000).
# #2004: the gift card line is `gift_card` (1 row, 5000); the Tea line is kept (1000).
# #2005: 2600 refunded of a 2000 order (the rest was shipping): capped at 2000, the order nets to 0:
#   `reversed` (1 row, 2000).
# Input 2500 + 3000 + 2000 + 6000 + 2000 = 15500 = kept 2500 + 1000 + 1000 = 4500
#   + returned 3000 + gift_card 5000 + reversed 2000 + refunded 1000.


def test_shopify_refund_partial_refund_and_gift_card(tmp_path: Path):
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOPIFY, encoding="utf-8")
    result = ingest_file(path, preset="shopify", out_dir=tmp_path / "out")
    led = result.ledger
    assert led.input_rows == 8 and led.input_amount == Decimal(15500)
    assert led.kept_rows == 5 and led.kept_amount == Decimal(4500)
    assert {e.reason: (e.rows, e.amount) for e in led.excluded} == {
        "returned": (1, Decimal(3000)), "gift_card": (1, Decimal(5000)),
        "reversed": (1, Decimal(2000)), "refunded": (0, Decimal(1000))}
    assert led.reconciles()
    orders = pd.read_parquet(result.orders_path).set_index("order_id")
    assert orders["amount"].to_dict() == {"#2001": 2500, "#2003": 1000, "#2004": 1000}
    lines = pd.read_parquet(result.lines_path)
    assert sorted(lines.loc[lines["order_id"] == "#2003", "amount"]) == [250, 750]
    assert led.customers == 2 and led.orders == 3
    assert led.returns["refunded_amount"] == "1000.0000" and led.returns["reversed_orders"] == 1


# ---------------------------------------------------------------- invariants on random files

LINE = st.tuples(
    st.sampled_from(["O1", "O2", "O3", "O4", "O5", "R1", "R2"]),  # order ids (R: usual credit-note ids)
    st.sampled_from(["C1", "C2", "C3", ""]),                     # customers, one unknown
    st.integers(1, 20),                                           # day of January
    st.sampled_from(["A", "B", ""]),                              # sku
    st.integers(-4, 4).filter(lambda q: q != 0),                  # quantity: negative = credit note
    st.sampled_from([100, 250, 999]),                             # unit price
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE, min_size=1, max_size=14))
def test_netting_keeps_the_ledger_exact_and_no_order_negative(tmp_path_factory, lines):
    """Whatever the mix of sales and credit notes: rows and amounts reconcile exactly; the lines
    written add up to the kept amount; every order written is worth more than 0; a netted credit
    note sits in an order of the same customer placed at or before it."""
    folder = tmp_path_factory.mktemp("net")
    text = "order_id,customer_id,ordered_at,sku,quantity,unit_price\n" + "".join(
        f"{o}{c},{c},2024-01-{d:02d} 10:00:00,{s},{q},{p}\n" for o, c, d, s, q, p in lines)  # one buyer an order
    (folder / "orders.csv").write_text(text, encoding="utf-8")
    try:
        result = ingest_file(folder / "orders.csv", rules={"max_invalid_share": 1.0}, out_dir=folder / "out")
    except CrmError as exc:  # only the clear refusals: no kept row, more credit notes than sales
        assert "no usable order rows" in str(exc) or "more credit notes than sales" in str(exc), exc
        return
    led = result.ledger
    assert led.reconciles()
    assert led.input_amount == sum(Decimal(q * p) for _, _, _, _, q, p in lines)
    written = pd.read_parquet(result.lines_path)
    orders = pd.read_parquet(result.orders_path)
    assert len(written) == led.kept_rows
    assert Decimal(str(round(written["amount"].sum(), 4))) == led.kept_amount
    assert (orders["amount"] > 0).all()
    returns = written[written["line_type"] == "return"].merge(
        orders[["order_id", "customer_id", "ordered_at"]], on="order_id", suffixes=("", "_order"))
    assert (returns["customer_id"] == returns["customer_id_order"]).all()
    assert (returns["ordered_at"] >= returns["ordered_at_order"]).all()
    assert (returns["amount"] < 0).all()
    assert sum(n for n, _ in ((e.rows, e.amount) for e in led.netted)) == len(returns)
