"""Data check numbers on the hand-made tiny case (see conftest.py for the worked answers)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from crmlib import datacheck
from crmlib.ledger import Ledger


def test_basic_counts(tiny_processed_dir):
    counts = datacheck.basic_counts(tiny_processed_dir / "orders.parquet")
    assert counts["orders"] == 5
    assert counts["customers"] == 3
    assert counts["revenue"] == 8500.0
    assert counts["aov"] == 1700.0
    assert abs(counts["orders_per_customer"] - 5 / 3) < 1e-12
    assert counts["first_order"] == dt.datetime(2024, 1, 10, 10, 0)
    assert counts["last_order"] == dt.datetime(2024, 4, 30, 23, 59)
    assert datacheck.period_days(counts) == 112  # 22 (Jan 10-31) + 29 + 31 + 30


def test_coverage_by_month_includes_the_empty_month(tiny_processed_dir):
    frame = datacheck.coverage_by_month(tiny_processed_dir / "orders.parquet")
    assert list(frame.columns) == ["month", "orders", "customers", "revenue"]
    assert list(frame["month"]) == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]))
    assert list(frame["orders"]) == [2, 1, 0, 2]
    assert list(frame["customers"]) == [2, 1, 0, 2]  # April: c3 and c1
    assert list(frame["revenue"]) == [3500.0, 1500.0, 0.0, 3500.0]
    assert pd.api.types.is_datetime64_any_dtype(frame["month"])
    assert datacheck.coverage_gaps(frame) == [pd.Timestamp("2024-03-01")]


def test_coverage_takeaway_names_gap_months(tiny_processed_dir):
    frame = datacheck.coverage_by_month(tiny_processed_dir / "orders.parquet")
    ja = datacheck.coverage_takeaway(frame, "ja")
    assert "2024年1月から2024年4月までの4か月" in ja and "2024年3月の1か月" in ja
    en = datacheck.coverage_takeaway(frame, "en")
    assert en.startswith("1 of the 4 months from Jan 2024 to Apr 2024") and "(Mar 2024)" in en
    no_gap = frame[frame["orders"] > 0].iloc[:2]
    assert datacheck.coverage_gaps(no_gap) == []
    assert "no gaps" in datacheck.coverage_takeaway(no_gap, "en")


def test_ledger_table_and_takeaway(tiny_processed_dir):
    ledger = Ledger.load(tiny_processed_dir / "ledger.json")
    table = datacheck.ledger_table(ledger, "ja", "JPY")
    assert list(table.columns) == ["項目", "行数", "金額"]
    assert table.iloc[:, 0].tolist() == ["元データ（全行）", "分析対象", "キャンセル注文", "送料・手数料・税などの商品以外の行"]
    assert table.iloc[:, 1].tolist() == ["10", "7", "2", "1"]
    assert table.iloc[:, 2].tolist() == ["¥9,700", "¥8,500", "¥1,000", "¥200"]
    en = datacheck.ledger_takeaway(ledger, "en", "JPY")
    assert en.startswith("Of 10 input rows (¥9,700), 7 rows (¥8,500) are analysed and 3 rows (¥1,200)")
    assert "(number of reasons: 2)" in en and "reconcile exactly" in en
    broken = dataclasses.replace(ledger, kept_rows=6)
    assert "row difference 1" in datacheck.ledger_takeaway(broken, "en", "JPY")
    assert "行数の差 1" in datacheck.ledger_takeaway(broken, "ja", "JPY")


def test_counts_table_and_takeaway(tiny_processed_dir):
    counts = datacheck.basic_counts(tiny_processed_dir / "orders.parquet")
    table = datacheck.counts_table(counts, "ja", "JPY")
    assert dict(zip(table["指標"], table["値"])) == {
        "注文数": "5",
        "顧客数": "3",
        "売上": "¥8,500",
        "客単価": "¥1,700",
        "1人あたり購入回数": "1.67回",  # a count per customer with its unit
        "集計期間": "2024年1月10日〜2024年4月30日（112日間）",
    }
    en = datacheck.counts_takeaway(counts, "en", "USD")
    assert en.startswith("Over 112 days (2024-01-10 to 2024-04-30), 3 customers placed 5 orders worth $8,500")  # prose: whole dollars
    assert "$1,700" in en and "1.67 orders per customer" in en


def test_headline_metrics(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    ledger = Ledger.load(tiny_processed_dir / "ledger.json")
    values = datacheck.headline_metrics(
        datacheck.basic_counts(orders), datacheck.coverage_by_month(orders), ledger
    )
    assert values["gap_months"] == ["2024-03"]
    assert values["months"] == 4
    assert values["ledger_reconciles"] is True
    assert (values["input_rows"], values["kept_rows"], values["excluded_rows"]) == (10, 7, 3)


def test_as_of_cut_excludes_orders_from_that_day_on(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    counts = datacheck.basic_counts(orders, "2024-04-30")  # O5 (Apr 30 23:59) is on the as-of day
    assert (counts["orders"], counts["customers"], counts["revenue"]) == (4, 3, 8000.0)
    assert counts["last_order"] == dt.datetime(2024, 4, 1, 0, 0)
    assert datacheck.basic_counts(orders, "") == datacheck.basic_counts(orders)  # '' = no cut
    frame = datacheck.coverage_by_month(orders, dt.date(2024, 4, 30))
    assert list(frame["orders"]) == [2, 1, 0, 1]


def test_coverage_runs_to_the_month_before_as_of(tiny_processed_dir):
    # data ending in April but analysed as of July 1st: May and June show up as gaps
    frame = datacheck.coverage_by_month(tiny_processed_dir / "orders.parquet", "2024-07-01")
    assert list(frame["month"].dt.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert list(frame["orders"]) == [2, 1, 0, 2, 0, 0]
    gaps = datacheck.coverage_gaps(frame)
    assert [g.strftime("%Y-%m") for g in gaps] == ["2024-03", "2024-05", "2024-06"]
    assert "2024年3月、2024年5月、2024年6月の3か月" in datacheck.coverage_takeaway(frame, "ja")


def test_identity_takeaway_counts_merged_guest_lines_and_guests(tiny_processed_dir):
    ledger = Ledger.load(tiny_processed_dir / "ledger.json")
    ids = {"guest_rows_merged_into_member_by_email": 1200, "guest_rows_merged_into_member_by_phone": 34,
           "guest_ids_from_email": 5, "guest_ids_from_phone": 2}
    with_guests = dataclasses.replace(ledger, identity={**(ledger.identity or {}), **ids})
    en = datacheck.identity_takeaway(with_guests, "en")
    assert en.startswith("Identity: 1,234 guest lines") and "e-mail (1,200) or phone (34)" in en
    assert "count as 7 customers" in en
    ja = datacheck.identity_takeaway(with_guests, "ja")
    assert "1,234行" in ja and "メールアドレス（1,200行）" in ja and "電話番号（34行）" in ja and "7人" in ja
    none = {k: 0 for k in ids}
    assert datacheck.identity_takeaway(dataclasses.replace(ledger, identity=none), "ja") == ""


def test_returns_block_of_the_data_check(tmp_path):
    """The credit-note case of test_returns.py: R1 (2,000) and R2 (800) netted, S4 (4,000) reversed by
    R3, R4 (700) without an earlier purchase. Returned 2,000 + 800 + 4,000 = 6,800 of gross sales
    3,900 (net) + 6,800 = 10,700: 63.6%."""
    from test_returns import CREDITS

    from crmlib.ingest import ingest_file

    path = tmp_path / "orders.csv"
    path.write_text(CREDITS, encoding="utf-8")
    result = ingest_file(path, rules={"max_invalid_share": 0.5}, out_dir=tmp_path / "out")
    ledger = Ledger.load(tmp_path / "out" / "ledger.json")
    figures = datacheck.returns_figures(ledger)
    assert figures["returned_amount"] == 6800 and abs(figures["return_rate"] - 6800 / 10700) < 1e-12
    en = datacheck.returns_takeaway(ledger, "en", "JPY")
    assert en.startswith("Returns and refunds worth ¥6,800 (63.6% of gross merchandise sales)")
    assert "credit notes netted: 2; orders fully reversed, not counted as purchases: 1;" in en
    ja = datacheck.returns_takeaway(ledger, "ja", "JPY")
    assert "返品・返金6,800円（商品売上総額の63.6%）" in ja  # below 10万円 prose keeps the exact yen
    assert "before the export starts: 1 (¥700)." in datacheck.returns_unmatched_note(ledger, "en", "JPY")
    # returned by product: D 4,000 (S4, reversed), A 2,000 + 800 (R1, R2 netted)
    top = datacheck.top_returned_products(ledger, "en", "JPY")
    assert top.values.tolist() == [["D", "1", "¥4,000"], ["A", "2", "¥2,800"]]
    assert datacheck.headline_metrics(datacheck.basic_counts(result.orders_path), datacheck.coverage_by_month(
        result.orders_path), ledger)["returns"]["unmatched"] == 1


def test_returns_and_placeholder_sentences_when_there_are_none(tiny_processed_dir):
    ledger = Ledger.load(tiny_processed_dir / "ledger.json")
    assert datacheck.returns_takeaway(ledger, "en", "JPY").startswith("No returns")
    assert datacheck.returns_unmatched_note(ledger, "ja", "JPY") == ""
    assert datacheck.placeholder_takeaway(ledger, "ja") == ""
    ids = {"rows_with_placeholder_contact": 12, "contacts_shared_by_too_many_members": 3}
    marked = dataclasses.replace(ledger, identity={**(ledger.identity or {}), **ids})
    assert "12 lines carry a placeholder" in datacheck.placeholder_takeaway(marked, "en")
    assert "3 e-mails or phones are shared by more than 5 members" in datacheck.placeholder_takeaway(marked, "en")
    assert "12行" in datacheck.placeholder_takeaway(marked, "ja")
