"""Cart presets against headers copied from each cart's published definition (tests/cart_headers.py
cites them), cart detection, important fields, strict mappings and the repeated-total refusal.

Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
import yaml
from cart_headers import (
    ECCUBE_41,
    ECCUBE_41_EN,
    ECCUBE_400,
    ECCUBE_404,
    ONLINE_RETAIL,
    SHOPIFY_2024,
)
from datasets import CDNOW_MASTER, need
from datasets import ONLINE_RETAIL as ONLINE_RETAIL_FILE

from crmlib.cli import main
from crmlib.datacheck import missing_field_notes
from crmlib.detect import detect_preset, read_header
from crmlib.errors import DataError, MappingError
from crmlib.ingest import ingest_file


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def csv_line(header: list[str], values: dict[str, str], second: dict[str, str] | None = None) -> str:
    """A line in the header's order: values by column name; `second` for a name's 2nd occurrence."""
    seen: set[str] = set()
    cells = []
    for col in header:
        cells.append((second or {}).get(col, "") if col in seen else values.get(col, ""))
        seen.add(col)
    return ",".join(cells)


# ---------------------------------------------------------------- EC-CUBE 4 受注CSV

# The same columns and values in an English install of EC-CUBE (import_csv/en: dtb_csv.csv,
# mtb_order_status.csv, mtb_order_item_type.csv)
ECCUBE_EN = {"注文ID": "Order ID", "注文番号": "Order No.", "会員ID": "Customer ID", "メールアドレス": "Email",
             "TEL": "Phone", "都道府県(名称)": "Prefecture (Name)", "小計": "Subtotal", "値引き": "Discount",
             "送料": "Shipping Charge", "税金": "Tax", "合計": "Total", "支払合計": "Amount Due",
             "対応状況(名称)": "Order Status (Name)", "受注日": "Order Date", "商品コード": "Product Code",
             "商品名": "Product Name", "価格": "Price", "個数": "Qty", "明細区分(名称)": "Item Type (Name)"}
ECCUBE_EN_VALUES = {"発送済み": "Shipped", "注文取消し": "Canceled", "商品": "Products", "送料": "Shipping Charge",
                    "割引": "Discount", "手数料": "Payment Charge"}


def eccube_file(tmp_path, header: list[str], discount: bool = True, english: bool = False):
    """Three orders in EC-CUBE's own values (mtb_order_status, mtb_order_item_type), cp932."""
    base = {"注文ID": "1", "注文番号": "1", "会員ID": "7", "メールアドレス": "hanako@example.jp",
            "TEL": "0311112222", "都道府県(名称)": "東京都", "小計": "7600", "値引き": "0", "送料": "800",
            "税金": "760", "合計": "8400", "支払合計": "8400", "対応状況(名称)": "発送済み",
            "受注日": "2024-04-01 10:00:00", "明細区分(名称)": "商品"}
    lines = [
        # order 1: 2 x 化粧水 at 3000 and 1 x 石鹸 at 1600 (7600), shipping 800, fee 0
        {**base, "商品コード": "A-1", "商品名": "化粧水", "価格": "3000", "個数": "2"},
        {**base, "商品コード": "S-1", "商品名": "石鹸", "価格": "1600", "個数": "1"},
        {**base, "商品名": "送料", "価格": "800", "個数": "1", "明細区分(名称)": "送料"},
        # order 2: cancelled (注文取消し), 1 x 化粧水
        {**base, "注文ID": "2", "注文番号": "2", "小計": "3000", "合計": "3300", "支払合計": "3300",
         "対応状況(名称)": "注文取消し", "受注日": "2024-04-02 11:00:00", "商品コード": "A-1",
         "商品名": "化粧水", "価格": "3000", "個数": "1"},
        # order 3: a guest, 1 x 美容液 at 5000 with a 割引 line of -500 and a 手数料 line of 330
        {**base, "注文ID": "3", "注文番号": "3", "会員ID": "", "メールアドレス": "guest@example.jp",
         "受注日": "2024-04-03 12:00:00", "商品コード": "B-1", "商品名": "美容液", "価格": "5000", "個数": "1"},
        {**base, "注文ID": "3", "注文番号": "3", "会員ID": "", "メールアドレス": "guest@example.jp",
         "受注日": "2024-04-03 12:00:00", "商品名": "値引き", "価格": "-500", "個数": "1",
         "明細区分(名称)": "割引"},
        {**base, "注文ID": "3", "注文番号": "3", "会員ID": "", "メールアドレス": "guest@example.jp",
         "受注日": "2024-04-03 12:00:00", "商品名": "代引手数料", "価格": "330", "個数": "1",
         "明細区分(名称)": "手数料"},
    ]
    if not discount:
        lines = [v for v in lines if v["商品名"] != "値引き"]
    if english:
        lines = [{ECCUBE_EN[k]: ECCUBE_EN_VALUES.get(v, v) if k in ("対応状況(名称)", "明細区分(名称)") else v
                  for k, v in line.items()} for line in lines]
    path = tmp_path / "受注.csv"
    second = {"Shipping Charge": "800", "Tax": "10"} if english else {"送料": "800"}
    text = "\r\n".join([",".join(header), *(csv_line(header, v, second) for v in lines)]) + "\r\n"
    path.write_bytes(text.encode("cp932"))
    return path


@pytest.mark.parametrize("header,version,english", [
    (ECCUBE_41, "4.1-4.3", False), (ECCUBE_404, "4.0.4-4.0.6", False), (ECCUBE_400, "4.0.0-4.0.3", False),
    (ECCUBE_41_EN, "4.1-4.3 English install", True)])
def test_eccube_preset_reads_the_published_header_of_each_version(tmp_path, header, version, english):
    path = eccube_file(tmp_path, header, english=english)
    led = ingest_file(path, preset="eccube").ledger
    assert led.source["encoding"] == "cp932"  # SJIS-win (eccube_csv_export_encoding), in either language
    cols = led.source["columns"]
    names = ("Order Status (Name)", "Item Type (Name)", "Phone") if english else ("対応状況(名称)", "明細区分(名称)", "TEL")
    assert (cols["status"], cols["line_type"], cols["phone"]) == names
    # input: 6000 + 1600 + 800 + 3000 + 5000 - 500 + 330 = 16230
    assert led.input_rows == 7 and led.input_amount == Decimal(16230)
    # kept: order 1's products 7600, order 3's 美容液 5000 and its 割引 -500 = 12100
    assert led.kept_rows == 4 and led.kept_amount == Decimal(12100)
    assert {e.reason: (e.rows, e.amount) for e in led.excluded} == {
        "cancelled": (1, Decimal(3000)), "non_product": (2, Decimal(800 + 330))}
    assert led.reconciles() and led.missing_fields == []
    found = detect_preset(read_header(path))
    assert found.preset == "eccube" and version in found.reason
    assert f"{len(header)} of the file's {len(header)} columns" in found.reason


def test_generic_preset_refuses_the_order_subtotal_repeated_on_every_line(tmp_path, capsys):
    """The generic preset maps 小計 as the amount: on EC-CUBE's file it is the order's subtotal on
    every line (7600 three times for order 1), which would count order 1 at 22800."""
    path = eccube_file(tmp_path, ECCUBE_41)
    with pytest.raises(DataError, match="column '小計' looks like an order total repeated"):
        ingest_file(path, preset="generic")
    code, text = run_cli(capsys, "validate", str(path), "--preset", "generic")
    assert code == 2 and "'小計'" in text and "What to do:" in text and "Traceback" not in text


def test_a_true_line_amount_is_not_refused(tmp_path):
    """Same amount on all lines of an order only where unit price x quantity agree: kept."""
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,sku,unit_price,quantity,amount\n"
                    "A,C1,2024-01-01,S1,1000,1,1000\nA,C1,2024-01-01,S2,1000,1,1000\n"
                    "B,C1,2024-02-01,S1,1000,2,2000\nB,C1,2024-02-01,S2,500,1,500\n"
                    "C,C2,2024-03-01,S1,1000,1,1000\nC,C2,2024-03-01,S3,700,1,700\n", encoding="utf-8")
    assert ingest_file(path).ledger.kept_amount == Decimal(6200)


# ---------------------------------------------------------------- Shopify "Export orders"

def test_shopify_preset_reads_the_full_export_header(tmp_path):
    first = {"Name": "#1001", "Email": "ann@example.com", "Financial Status": "paid",
             "Created at": "2024-05-01 09:58:12 +0900", "Lineitem quantity": "2",
             "Lineitem name": "Crew Tee", "Lineitem price": "1500", "Lineitem sku": "TEE",
             "Lineitem discount": "0", "Vendor": "Acme", "Source": "web", "Subtotal": "4000",
             "Total": "4500", "Shipping": "500", "Shipping Province Name": "Tokyo"}
    second = {"Name": "#1001", "Lineitem quantity": "1", "Lineitem name": "Mug", "Lineitem price": "1000",
              "Lineitem sku": "MUG", "Lineitem discount": "0", "Vendor": "Acme"}
    voided = {**first, "Name": "#1002", "Financial Status": "voided", "Lineitem quantity": "1"}
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join([",".join(SHOPIFY_2024), *(csv_line(SHOPIFY_2024, v) for v in
                                                         (first, second, voided))]) + "\n", encoding="utf-8")
    led = ingest_file(path, preset="shopify").ledger
    assert "category" not in led.source["columns"]  # Vendor is the brand, not a category
    # kept: #1001 = 2 x 1500 + 1000 = 4000 (its Subtotal); #1002 voided: 1500
    assert led.kept_amount == Decimal(4000) and led.kept_rows == 2
    assert {e.reason: (e.rows, e.amount) for e in led.excluded} == {"cancelled": (1, Decimal(1500))}
    assert led.missing_fields == []
    found = detect_preset(read_header(path))
    assert found.preset == "shopify" and "79 of the file's 79 columns" in found.reason


# ---------------------------------------------------------------- detection

def test_detection_picks_the_right_preset_for_every_fixture(tmp_path):
    from test_ingest_rules import ECCUBE_HEADER, GENERIC, SHOPIFY

    fixtures = {
        "eccube": ECCUBE_HEADER + "\n",
        "shopify": SHOPIFY,  # an older export with a subset of the columns
        "generic": GENERIC,
        "online-retail": ",".join(ONLINE_RETAIL) + "\n",
    }
    for expected, text in fixtures.items():
        path = tmp_path / f"{expected}.csv"
        path.write_bytes(text.encode("cp932" if expected == "eccube" else "utf-8"))
        assert detect_preset(read_header(path)).preset == expected, expected


@need(ONLINE_RETAIL_FILE)
@need(CDNOW_MASTER)
def test_detection_on_the_real_data_sets():
    assert detect_preset(read_header(ONLINE_RETAIL_FILE)).preset == "online-retail"
    assert detect_preset(read_header(CDNOW_MASTER)).preset == "cdnow"


def test_validate_without_preset_says_which_cart_and_why(tmp_path, capsys):
    path = eccube_file(tmp_path, ECCUBE_41)
    code, text = run_cli(capsys, "validate", str(path))
    assert code == 0, text
    assert "Preset: eccube (detected: 70 of the file's 70 columns are in the published header of eccube 4.1-4.3" in text
    assert "preset eccube" in text and "The data is usable." in text


def test_init_with_data_writes_the_detected_preset(tmp_path, capsys, monkeypatch):
    path = eccube_file(tmp_path, ECCUBE_41)
    monkeypatch.chdir(tmp_path)
    code, text = run_cli(capsys, "init", "shop", "--data", str(path))
    assert code == 0, text
    written = yaml.safe_load((tmp_path / "shop.yaml").read_text(encoding="utf-8"))
    assert written["preset"] == "eccube" and written["data"] == "受注.csv"


# ---------------------------------------------------------------- strict mappings

def test_a_mapping_to_a_missing_column_exits_2_with_the_closest_names(tmp_path, capsys):
    data = tmp_path / "orders.csv"
    data.write_text("order_id,member_no,ordered_at,unit_price,quantity\nA,M1,2024-01-01,100,2\n",
                    encoding="utf-8")
    for mapping, column, close in (({"amount": "no_such_col"}, "no_such_col", None),
                                   ({"customer_id": "member_id"}, "member_id", "member_no")):
        with pytest.raises(MappingError, match=f"'{column}'"):
            ingest_file(data, mapping=mapping)
        config = tmp_path / "client.yaml"
        config.write_text(yaml.safe_dump({"name": "c", "data": "orders.csv", "mapping": mapping}),
                          encoding="utf-8")
        code, text = run_cli(capsys, "validate", "--config", str(config))
        assert code == 2 and column in text and "What to do:" in text, text
        if close:
            assert f"closest columns: '{close}'" in text, text


# ---------------------------------------------------------------- important fields

def test_missing_status_and_line_type_are_said_in_validate_and_the_data_check(tmp_path, capsys):
    header = [c for c in ECCUBE_41 if c not in ("対応状況(ID)", "対応状況(名称)", "明細区分(ID)", "明細区分(名称)")]
    path = eccube_file(tmp_path, header, discount=False)
    led = ingest_file(path, preset="eccube").ledger
    assert led.missing_fields == ["status", "line_type"]
    # without them the cancelled order (3000), 送料 (800) and 手数料 (330) are all kept:
    # 6000 + 1600 + 800 + 3000 + 5000 + 330 = 16730
    assert led.kept_amount == Decimal(16730) and led.excluded == []
    en = missing_field_notes(led, "en")
    assert "cancellations cannot be excluded" in en[0]
    assert "shipping and fee lines may be counted as revenue" in en[1]
    ja = missing_field_notes(led, "ja")
    assert "キャンセル" in ja[0] and "送料" in ja[1]
    code, text = run_cli(capsys, "validate", str(path), "--preset", "eccube")
    assert code == 0 and text.count("WARNING:") == 2 and "with the warnings above" in text


def test_a_client_yaml_without_preset_is_read_with_the_detected_cart(tmp_path):
    from crmlib.config import parse_config
    from crmlib.ingest import ingest_client

    path = eccube_file(tmp_path, ECCUBE_41)
    led = ingest_client(parse_config({"name": "shop", "data": str(path)}), tmp_path / "processed").ledger
    assert led.source["preset"] == "eccube" and led.kept_amount == Decimal(12100)  # as above


def test_two_carts_that_fit_equally_are_listed_not_guessed(monkeypatch):
    from crmlib import detect
    from crmlib.mapping import Preset

    fake = {name: Preset(name=name, description="", columns={}, rules={}, headers={"v1": header})
            for name, header in (("cart-a", ["order", "date", "total", "a_only"]),
                                 ("cart-b", ["order", "date", "total", "b_only"]))}
    monkeypatch.setattr(detect, "preset_names", lambda: sorted(fake))
    monkeypatch.setattr(detect, "load_preset", fake.__getitem__)
    # the file has the three shared columns: 3 of 3 for both carts
    with pytest.raises(MappingError, match="fits more than one cart: cart-a .*3 of 3.*cart-b"):
        detect.detect_preset(["order", "date", "total"])
    assert detect.detect_preset(["order", "date", "total", "a_only"]).preset == "cart-a"  # 4 of 4 vs 3 of 4


ONE_PRICE = """order_id,customer_id,ordered_at,sku,{amount}
A,C1,2024-01-01,S1,1000
A,C1,2024-01-01,S2,1000
B,C2,2024-02-01,S1,1000
B,C2,2024-02-01,S3,1000
"""


def test_without_a_unit_price_only_a_column_named_as_a_total_is_refused(tmp_path):
    """Same amount on every line of two different products in both orders (2 of 2): a shop that
    sells everything at 1000 looks like that too, so a column named `amount` is kept with a note,
    while `order_total` is refused."""
    path = tmp_path / "orders.csv"
    path.write_text(ONE_PRICE.format(amount="amount"), encoding="utf-8")
    led = ingest_file(path).ledger
    assert led.kept_amount == Decimal(4000)
    assert any("in 2 of 2 orders with several lines" in p and "'amount'" in p for p in led.problems)
    path.write_text(ONE_PRICE.format(amount="order_total"), encoding="utf-8")
    with pytest.raises(DataError, match="column 'order_total' looks like an order total"):
        ingest_file(path, mapping={"amount": "order_total"})


def test_a_cart_column_the_preset_requires_is_named_when_switched_off(tmp_path, capsys):
    """EC-CUBE lets a shop switch columns off; without 個数 every line would count one unit."""
    path = eccube_file(tmp_path, [c for c in ECCUBE_41 if c != "個数"])
    with pytest.raises(MappingError, match="(?s)required column.*- quantity: looked for '個数'"):
        ingest_file(path, preset="eccube")
    code, text = run_cli(capsys, "validate", str(path))  # still detected as EC-CUBE: 69 of 69
    assert code == 2 and "preset 'eccube'" in text and "quantity" in text


def test_the_sample_shop_written_as_an_eccube_file_keeps_what_pandas_keeps(tmp_path):
    """The bundled sample shop's lines written as an EC-CUBE 4.1 受注CSV (cp932, the published
    header, the order's 小計 on every line, EC-CUBE's own status and line-type names); the kept
    lines and revenue are worked out with pandas from the sample: completed orders, product lines."""
    from crmlib.sample import generate_lines

    df = generate_lines(2_000).to_pandas()
    shipping = df["sku"].eq("SHIPPING")
    ext = df["unit_price"].astype(float) * df["quantity"].astype(float)
    status = {"completed": "発送済み", "cancelled": "注文取消し", "pending": "決済処理中", "returned": "返品"}
    assert set(df["status"]) <= set(status)
    values = {"注文番号": df["order_id"], "会員ID": df["customer_id"].fillna(""),
              "メールアドレス": df["email"].fillna(""), "TEL": df["phone"].fillna(""),
              "小計": ext.where(~shipping, 0).groupby(df["order_id"]).transform("sum").astype(int).astype(str),
              "受注日": df["ordered_at"].astype(str), "対応状況(名称)": df["status"].map(status),
              "商品コード": df["sku"].fillna(""), "商品名": df["product"].fillna(""),
              "価格": df["unit_price"].astype(int).astype(str), "個数": df["quantity"].astype(int).astype(str),
              "明細区分(名称)": shipping.map({True: "送料", False: "商品"})}
    frame = pd.DataFrame({i: values.get(c, "") for i, c in enumerate(ECCUBE_41)})
    path = tmp_path / "受注.csv"
    frame.to_csv(path, header=ECCUBE_41, index=False, encoding="cp932", lineterminator="\r\n")

    kept = df["status"].eq("completed") & ~shipping
    assert detect_preset(read_header(path)).preset == "eccube"
    led = ingest_file(path, preset="eccube").ledger
    assert led.kept_rows == int(kept.sum())
    assert led.kept_amount == Decimal(str(round(ext[kept].sum())))
    assert led.orders == df.loc[kept, "order_id"].nunique()
    with pytest.raises(DataError, match="'小計'"):
        ingest_file(path, preset="generic")


def test_canonical_names_are_generic_even_where_an_english_cart_header_shares_them():
    from crmlib import detect

    # EC-CUBE's English install writes Order ID, Customer ID and Email too (3 of these 5 columns);
    # the generic preset reads all 5 by their canonical names
    found = detect.detect_preset(["order_id", "customer_id", "email", "ordered_at", "amount"])
    assert found.preset == "generic" and "5 of 5" in found.reason
    assert detect.detect_preset(["注文番号", "会員ID", "受注日", "金額"]).preset == "generic"


DISTINCT_DEFINITION = """
SELECT count(*) FILTER (WHERE n_ext > 1), count(*) FILTER (WHERE n_ext > 1 AND n_amount = 1),
       count(*) FILTER (WHERE n_items > 1), count(*) FILTER (WHERE n_items > 1 AND n_amount = 1),
       count(*), count(*) FILTER (WHERE n_amount = 1)
FROM (SELECT order_id, count(DISTINCT amount) AS n_amount,
             count(DISTINCT unit_price * coalesce(quantity, 1)) AS n_ext,
             count(DISTINCT coalesce(sku, product)) AS n_items
      FROM classified WHERE amount IS NOT NULL AND reason IS DISTINCT FROM 'duplicate_line'
      GROUP BY order_id HAVING count(*) > 1)
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_per_order_counts_equal_the_count_distinct_definition(seed):
    """The repeated-total check counts orders by min = max / min <> max (aggregates DuckDB spills;
    three count(DISTINCT) per order ran a 100M-order ingest out of memory): on random orders with
    NULL prices, quantities, SKUs and names, equal amounts and duplicate lines, its six counts are
    those of the count(DISTINCT) definition."""
    import duckdb

    from crmlib.repeated_total import PER_ORDER_SQL

    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 10})")
    con.execute("""
        CREATE TABLE classified AS SELECT
            (random() * 400)::INT AS order_id,
            CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 4)::INT * 500.0 END AS amount,
            CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 3)::INT * 100.0 END AS unit_price,
            CASE WHEN random() < 0.3 THEN NULL ELSE (random() * 2)::INT + 1 END AS quantity,
            CASE WHEN random() < 0.3 THEN NULL ELSE 'S' || (random() * 3)::INT END AS sku,
            CASE WHEN random() < 0.5 THEN NULL ELSE 'P' || (random() * 3)::INT END AS product,
            CASE WHEN random() < 0.1 THEN 'duplicate_line' WHEN random() < 0.1 THEN 'cancelled' END AS reason
        FROM range(2000)""")
    expected = con.execute(DISTINCT_DEFINITION).fetchone()
    assert expected[0] > 0 and expected[1] > 0 and expected[5] > 0  # every count is exercised
    assert con.execute(PER_ORDER_SQL).fetchone() == expected
