"""E-mail and phone shapes in printed text columns are masked at the ingest (issue #19 item 7).

The rule (crmlib/contact_shapes.py): read after NFKC; an e-mail is local@domain.tld; a Japanese
phone is 10-11 digits starting with 0 in separated groups (or a mobile 0[5789]0 + 8 digits on
its own); an international one is + and 8-15 digits. SKUs, member ids, JAN codes, dates and
amounts are not phones. Expected values below are written by hand from that rule.
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib.contact_shapes import CANDIDATE_SQL_PATTERN, mask_contacts
from crmlib.datacheck import masked_takeaway
from crmlib.ingest import ingest_file
from crmlib.ledger import Ledger


@pytest.mark.parametrize("raw, shown", [
    ("sato.jiro@example.jp", "<e-mail>"),
    ("\uff33\uff41\uff54\uff4f\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff4a\uff50", "<e-mail>"),  # full-width
    ("\uff10\uff18\uff10\uff0d\uff12\uff12\uff12\uff12\uff0d\uff13\uff13\uff13\uff13", "<phone>"),  # ０８０－２２２２－３３３３
    ("ref:佐藤次郎 +81-80-2222-3333", "ref:佐藤次郎 <phone>"),
    ("03-1234-5678", "<phone>"),
    ("(03)1234-5678", "<phone>"),
    ("0120 123 456", "<phone>"),
    ("090.1234.5678", "<phone>"),
    ("０９０ー１２３４ー５６７８", "<phone>"),  # long vowel mark as the dash
    ("09012345678", "<phone>"),           # a mobile number without separators
    ("+819012345678", "<phone>"),
    ("電話03-1234-5678まで", "電話<phone>まで"),
    ("080-3141-5926 080-1111-2222", "<phone> <phone>"),
    # not contact details: ids, codes, dates, amounts, handles
    ("12345678", "12345678"),             # a numeric SKU or member id
    ("0123456789", "0123456789"),         # 10 digits with a leading 0 but no separators and no mobile prefix
    ("C09012345678", "C09012345678"),     # glued to a letter: an id
    ("4901234567890", "4901234567890"),   # a JAN code
    ("2024-05-01 10:00:00", "2024-05-01 10:00:00"),
    ("01-05-2024", "01-05-2024"),
    ("1,234,567", "1,234,567"),
    ("@shop_official", "@shop_official"),
    ("アミノ酸シャンプー 500mL", "アミノ酸シャンプー 500mL"),
    ("ＡＰＰ", "ＡＰＰ"),                   # nothing masked: not even normalised
])
def test_mask_contacts(raw, shown):
    assert mask_contacts(raw) == shown


def test_the_duckdb_first_look_finds_every_masked_value():
    """The RE2 pre-filter must let through every value the exact rule masks (it only saves work)."""
    import duckdb

    from crmlib.sql import sql_literal

    values = ["sato.jiro@example.jp", "０８０－２２２２－３３３３", "ref:佐藤次郎 +81-80-2222-3333", "(03)1234-5678",
              "0120 123 456", "09012345678", "Ｓａｔｏ＠ｅｘａｍｐｌｅ．ｊｐ", "０９０ー１２３４ー５６７８"]
    assert all(mask_contacts(v) != v for v in values)
    flags = duckdb.connect().execute(
        f"SELECT list(regexp_matches(x, {sql_literal(CANDIDATE_SQL_PATTERN)})) FROM unnest(?) t(x)", [values]).fetchone()[0]
    assert flags == [True] * len(values)


PLANTED = """order_id,customer_id,ordered_at,amount,channel,category,source,sku,product,region,status
O1,C1,2024-01-01,1000,sato.jiro@example.jp,０８０－２２２２－３３３３,ref:佐藤次郎 +81-80-2222-3333,12345678,煎茶,東京都,completed
O2,C2,2024-01-02,2000,web,お茶,search,0123456789,抹茶 03-1234-5678,大阪府,completed
O3,C1,2024-02-01,1500,web,お茶,search,4901234567890,煎茶,東京都,completed
O4,C3,2024-02-03,500,sato.jiro@example.jp,お茶,search,12345678,煎茶,TEL 09012345678,completed
O5,C3,2024-02-04,700,web,お茶,search,12345678,煎茶,東京都,cancelled
O6,C4,2024-02-05,300,sato.jiro@example.jp,お茶,search,12345678,煎茶,東京都,cancelled
"""


@pytest.fixture()
def planted(tmp_path):
    path = tmp_path / "sato.jiro@example.jp.csv"  # a file named after a person
    path.write_text(PLANTED, encoding="utf-8")
    result = ingest_file(path, out_dir=tmp_path / "processed")
    return result, tmp_path / "processed"


def test_ingest_writes_masked_values_and_counts_them(planted):
    result, out = planted
    orders = pd.read_parquet(out / "orders.parquet").set_index("order_id")
    lines = pd.read_parquet(out / "order_lines.parquet").set_index("order_id")
    assert orders.loc["O1", ["channel", "category", "source"]].tolist() == ["<e-mail>", "<phone>", "ref:佐藤次郎 <phone>"]
    assert orders.loc["O4", ["channel", "region"]].tolist() == ["<e-mail>", "TEL <phone>"]
    assert orders.loc["O2", "channel"] == "web" and orders.loc["O3", "category"] == "お茶"
    assert lines.loc["O2", "product"] == "抹茶 <phone>" and lines.loc["O1", "category"] == "<phone>"
    # ids and codes untouched
    assert sorted(lines["sku"].unique()) == ["0123456789", "12345678", "4901234567890"]
    # kept lines per column (O5, O6 are cancelled, so O6's channel is not counted); file name once
    assert result.ledger.masked == {"product": 1, "category": 1, "channel": 2, "source": 1, "region": 1,
                                    "file_name": 1}
    assert result.ledger.source["file"] == "<e-mail>.csv"
    assert result.ledger.reconciles() and result.ledger.kept_rows == 4
    saved = Ledger.load(out / "ledger.json")
    assert saved.masked == result.ledger.masked
    text = (out / "ledger.json").read_text(encoding="utf-8")
    assert "sato" not in text and "2222" not in text


def test_no_raw_value_left_in_any_output_file(planted):
    _, out = planted
    for path in out.iterdir():
        data = path.read_bytes()
        for raw in ("sato.jiro", "2222-3333", "1234-5678", "09012345678", "０８０".encode().decode()):
            assert raw.encode() not in data, (path.name, raw)


def test_data_check_says_what_was_masked(planted):
    result, _ = planted
    assert masked_takeaway(result.ledger, "ja") == (
        "連絡先の伏せ字：レポートに表示する項目に、メールアドレスや電話番号の形をした値がありました"
        "（商品名1行、カテゴリ1行、チャネル2行、流入元1行、地域1行、データファイル名）。すべての章で伏せ字にして"
        "表示しています。次回以降のエクスポートでは、これらの列に連絡先が入らないようクライアントに確認してください。")
    english = masked_takeaway(result.ledger, "en")
    assert "channel (2 of the kept lines)" in english and "the data file's name" in english


def test_nothing_to_mask_changes_nothing(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount,channel\nO1,C1,2024-01-01,100,web\n", encoding="utf-8")
    result = ingest_file(path, out_dir=tmp_path / "p")
    assert result.ledger.masked == {} and masked_takeaway(result.ledger, "en") == ""
    assert result.ledger.source["file"] == "orders.csv"


# ---- properties of the phone rule (hypothesis)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_a_run_of_digits_is_a_phone_only_as_a_mobile_number(digits):
    """SKUs and member ids are digit runs: masked only when exactly 0[5789]0 + 8 digits."""
    mobile = len(digits) == 11 and digits[0] == "0" and digits[1] in "5789" and digits[2] == "0"
    assert mask_contacts(digits) == ("<phone>" if mobile else digits)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(3, 4), st.data())
def test_separated_groups_starting_with_0_are_phones_by_digit_count(area, middle, last, data):
    """0 + groups with hyphens: a phone exactly when it has 10 or 11 digits."""
    groups = ["0" + data.draw(st.text("0123456789", min_size=area, max_size=area)),
              data.draw(st.text("0123456789", min_size=middle, max_size=middle)),
              data.draw(st.text("0123456789", min_size=last, max_size=last))]
    value = "-".join(groups)
    digits = 1 + area + middle + last
    assert (mask_contacts(value) == "<phone>") == (10 <= digits <= 11), value
