"""The products chapter (issue #21): every table on a hand-worked case, the intervals against
published values or scipy, the key-account list and its export, and masked product names.

The hand case (as_of 2024-12-31, F2 window 30 days, value window 60 days; X and Y are tea, Z a
sweet; every figure below is worked out by hand in the comments):
  a: 2024-01-01 order A1 {X 1000, Y 2000, discount -300}, 01-11 A2 {X 1000}, 01-21 A3 {Z 500}
  b: 2024-01-01 B1 {X 1000}, 03-01 B2 {Y 2000}
  c: 2024-02-01 C1 {Y 2000}, 02-15 C2 {Y 2000} at 10:00 and C3 {Z 500} at 15:00 (one purchase)
  d: 2024-12-20 D1 {X 1000} (its 30-day window has not closed)
Purchases (same day merged): a1 {X,Y} a2 {X} a3 {Z}; b1 {X} b2 {Y}; c1 {Y} c2 {Y,Z}; d1 {X}.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import _table
from scipy.stats import binomtest

from crmlib.products import (
    basket_pairs,
    best_customer_products,
    cooccur,
    entry_products,
    key_accounts,
    open_lines,
    replenishment,
    seasonal_index,
    transitions,
    write_key_account_exports,
)
from crmlib.products.settings import ProductSettings
from crmlib.intervals import difference_interval, wilson

LINES_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", pa.timestamp("us")),
    ("sku", pa.string()), ("product", pa.string()), ("category", pa.string()), ("quantity", pa.float64()),
    ("unit_price", pa.float64()), ("amount", pa.float64()), ("line_type", pa.string()),
])
T = dt.datetime
AS_OF = dt.date(2024, 12, 31)


def _line(order, cid, at, product, amount, line_type="product"):
    category = {"X": "tea", "Y": "tea", "Z": "sweets"}.get(product)
    return (order, cid, at, product, product, category, 1.0, amount, amount, line_type)


HAND = [
    _line("A1", "a", T(2024, 1, 1, 9), "X", 1000.0), _line("A1", "a", T(2024, 1, 1, 9), "Y", 2000.0),
    _line("A1", "a", T(2024, 1, 1, 9), None, -300.0, "discount"),
    _line("A2", "a", T(2024, 1, 11, 9), "X", 1000.0), _line("A3", "a", T(2024, 1, 21, 9), "Z", 500.0),
    _line("B1", "b", T(2024, 1, 1, 12), "X", 1000.0), _line("B2", "b", T(2024, 3, 1, 12), "Y", 2000.0),
    _line("C1", "c", T(2024, 2, 1, 8), "Y", 2000.0), _line("C2", "c", T(2024, 2, 15, 10), "Y", 2000.0),
    _line("C3", "c", T(2024, 2, 15, 15), "Z", 500.0),
    _line("D1", "d", T(2024, 12, 20, 8), "X", 1000.0),
    _line("E9", "a", T(2024, 12, 31, 0), "X", 99999.0),  # on the as-of day: left out of everything
]
SETTINGS = ProductSettings(f2_window_days=30, value_days=60, min_customers=1, min_pairs=1, min_rebuys=1)


def _write(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(_table(rows, LINES_SCHEMA), folder / "order_lines.parquet")
    return folder


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    with open_lines(_write(tmp_path_factory.mktemp("hand"), HAND), AS_OF) as lines:
        yield lines


@pytest.fixture(params=["sql", "sparse", "sparse-too-big"])
def pair_path(request, monkeypatch):
    """transitions and basket_pairs every way: DuckDB's self-join (the default for a shop of a few
    products, as here), the sparse matrix product (crmlib.products.cooccur, for many products), and
    the SQL again when the product's join is too big for memory."""
    monkeypatch.setattr(cooccur, "MIN_ITEMS", 10**9 if request.param == "sql" else 1)
    if request.param == "sparse-too-big":
        monkeypatch.setattr(cooccur, "MAX_JOIN_ROWS", 0)
    return request.param


def _rows(frame, key="item"):
    return {row[key]: row for _, row in frame.iterrows()}


def test_wilson_matches_scipy_and_newcombe_matches_the_published_example():
    for k, n in [(1, 2), (0, 5), (37, 120), (240, 240)]:
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
        low, high = wilson([k], [n])
        assert low[0] == pytest.approx(ci.low, abs=1e-9) and high[0] == pytest.approx(ci.high, abs=1e-9)
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    low, high = difference_interval([56], [70], [48], [80])
    assert (round(low[0], 4), round(high[0], 4)) == (0.0524, 0.3339)


def test_entry_products_by_hand(hand):
    # eligible (first day + 30 < as_of): a, b, c; d is not. Shop F2: a (10 days) and c (14 days) of 3 = 2/3.
    # X first: a, b, d -> eligible a, b; converted a -> 1/2, lift 0.5 / (2/3) = 0.75.
    # Y first: a, c -> 2/2 = 1, lift 1.5. Values in 60 days (net of the discount): a 2700 + 1000 + 500 = 4200,
    # b 1000 (B2 on day 60 is outside), c 2000 + 2000 + 500 = 4500; shop 9700 / 3.
    # X: (4200 + 1000) / 2 = 2600; Y: (4200 + 4500) / 2 = 4350.
    frame = entry_products(hand, SETTINGS)
    assert frame["item"].tolist() == ["Y", "X"]  # by lift
    assert frame.attrs["shop_rate"] == pytest.approx(2 / 3)
    x, y = _rows(frame)["X"], _rows(frame)["Y"]
    assert (x["customers"], x["eligible"], x["converted"]) == (3, 2, 1)
    assert (y["customers"], y["eligible"], y["converted"]) == (2, 2, 2)
    assert x["lift"] == pytest.approx(0.75) and y["lift"] == pytest.approx(1.5)
    assert x["value"] == pytest.approx(2600) and y["value"] == pytest.approx(4350)
    assert x["value_index"] == pytest.approx(2600 / (9700 / 3))
    ci = binomtest(1, 2).proportion_ci(0.95, method="wilson")
    assert (x["low"], x["high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_entry_floor_ranks_only_products_with_enough_customers(hand):
    # with a floor of 3 eligible customers neither product is ranked (2 each)
    frame = entry_products(hand, SETTINGS.model_copy(update={"min_customers": 3}))
    assert not frame["ranked"].any()


def test_entry_categories_and_the_second_to_third_step(hand):
    # categories: tea first for a, b, c, d -> eligible 3, converted 2 (= the shop)
    cats = _rows(entry_products(hand, SETTINGS, "category"))
    assert (cats["tea"]["eligible"], cats["tea"]["converted"]) == (3, 2) and cats["tea"]["lift"] == pytest.approx(1)
    # 2nd -> 3rd within 30 days: second purchases a2 {X}, b2 {Y}, c2 {Y, Z}; only a buys a 3rd (10 days).
    # Shop 1/3; X 1/1 (lift 3), Y 0/2, Z 0/1.
    step = entry_products(hand, SETTINGS, stage=2)
    rows = _rows(step)
    assert step.attrs["shop_rate"] == pytest.approx(1 / 3)
    assert step["item"].iloc[0] == "X" and rows["X"]["lift"] == pytest.approx(3)
    assert (rows["Y"]["eligible"], rows["Y"]["converted"]) == (2, 0) and (rows["Z"]["eligible"], rows["Z"]["converted"]) == (1, 0)


def test_transitions_by_hand(hand, pair_path):
    # consecutive purchase pairs: a1->a2, a2->a3, b1->b2, c1->c2 = 4.
    # moves: X->X, Y->X (a1->a2), X->Z (a2->a3), X->Y (b), Y->Y, Y->Z (c).
    # earlier purchase holds X: a1, a2, b1 = 3; Y: a1, c1 = 2. Later holds X: a2 = 1; Y: b2, c2 = 2; Z: a3, c2 = 2.
    # lift = (pairs / from) / (to / 4): Y->X 2, X->X 4/3, Y->Y 1, Y->Z 1, X->Y 2/3, X->Z 2/3.
    frame = transitions(hand, SETTINGS)
    got = [(a, b, round(lift, 6)) for a, b, lift in zip(frame["from_item"], frame["to_item"], frame["lift"])]
    assert got == [("Y", "X", 2.0), ("X", "X", round(4 / 3, 6)), ("Y", "Y", 1.0), ("Y", "Z", 1.0),
                   ("X", "Y", round(2 / 3, 6)), ("X", "Z", round(2 / 3, 6))]
    first = frame.iloc[0]
    assert (first["pairs"], first["from_pairs"], first["to_pairs"], first["total"]) == (1, 2, 1, 4)
    assert first["support"] == pytest.approx(0.25) and first["confidence"] == pytest.approx(0.5)
    assert frame.set_index(["from_item", "to_item"])["same"].to_dict()[("X", "X")]
    # the floor: only pairs seen twice or more (none here)
    assert transitions(hand, SETTINGS.model_copy(update={"min_pairs": 2})).empty


def test_category_transitions_by_hand(hand, pair_path):
    # tea->tea 3 (a1->a2, b1->b2, c1->c2), tea->sweets 2 (a2->a3, c1->c2); from tea 4; to tea 3, to sweets 2:
    # confidence 3/4 and 2/4, lift (3/4)/(3/4) = 1 and (2/4)/(2/4) = 1.
    rows = transitions(hand, SETTINGS, "category").set_index("to_item")
    assert rows.loc["tea", "confidence"] == pytest.approx(0.75) and rows.loc["sweets", "confidence"] == pytest.approx(0.5)
    assert rows["lift"].tolist() == [pytest.approx(1.0)] * 2
    # 3 of 5 moves stay in the category; the one across has lift 1, no more than chance: not called "strongest"
    from crmlib.i18n import t
    from crmlib.products import report as pr

    text = pr.category_transitions_takeaway(transitions(hand, SETTINGS, "category"), SETTINGS, "en")
    assert text == t("products.transitions.category_takeaway_same", "en", same="60.0%")


def test_basket_pairs_by_hand(hand, pair_path):
    # orders with products: A1 {X,Y} A2 {X} A3 {Z} B1 {X} B2 {Y} C1 {Y} C2 {Y} C3 {Z} D1 {X} = 9 (C2 and C3 are
    # separate orders although one purchase). X in 4, Y in 4, together 1: lift 1 x 9 / (4 x 4) = 0.5625.
    frame = basket_pairs(hand, SETTINGS)
    assert frame[["a", "b", "together", "a_orders", "b_orders", "orders"]].values.tolist() == [["X", "Y", 1, 4, 4, 9]]
    assert frame["lift"].iloc[0] == pytest.approx(0.5625) and frame["confidence_ab"].iloc[0] == pytest.approx(0.25)
    # orders with more than one distinct product are left out: no pair
    assert basket_pairs(hand, SETTINGS.model_copy(update={"basket_max_products": 2})).shape[0] == 1
    assert basket_pairs(hand, SETTINGS.model_copy(update={"basket_max_products": 2, "min_pairs": 2})).empty


def test_replenishment_by_hand(hand):
    # same product again: a's X after 10 days, c's Y after 14. Shop gaps: a 10, 10; b 60; c 14 -> median 12.
    frame = replenishment(hand, SETTINGS)
    rows = _rows(frame, "product")
    assert set(rows) == {"X", "Y"}
    assert rows["X"]["median_days"] == 10 and rows["Y"]["median_days"] == 14
    assert frame.attrs["shop_median_gap"] == 12
    assert rows["X"]["vs_shop"] == pytest.approx(10 / 12)


def test_best_customer_products_by_hand(hand):
    # best: a, c; others: b, d. Bought X: a, b, d -> 1/2 vs 2/2; Y: a, b, c -> 2/2 vs 1/2; Z: a, c -> 2/2 vs 0/2
    best = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "best": [True, False, True, False]})
    frame = best_customer_products(hand, best, SETTINGS)
    assert frame["product"].tolist() == ["Z", "Y", "X"]
    assert frame["difference"].tolist() == [pytest.approx(1.0), pytest.approx(0.5), pytest.approx(-0.5)]
    low, _high = difference_interval([2], [2], [0], [2])
    assert frame["low"].iloc[0] == pytest.approx(low[0]) and frame["best_n"].iloc[0] == 2


# key accounts (as_of 2024-12-31, value = revenue from 2024-01-01 on; cycle = median gap):
#  f: 06-01, 06-11, 06-21 at 5000: cycle 10, 193 days since -> 19.3 cycles, slipping, expected 07-01, 15000 at risk
#  h (id '=h1'): 11-21, 11-26, 12-01 at 1000: cycle 5, 30 days since -> overdue 25 days, 3000 at risk
#  e: 09-01, 10-01, 10-31, 11-30: cycle 30, 31 days since < 1.5 x 30: not yet
#  g: 2023-01-01, 01-11, 01-21: 710 days since > 365: lapsed, not slipping
#  k: two purchases only (below min_purchases 3)
KEY = [
    *[_line(f"F{i}", "f", T(2024, 6, d, 10), "X", 5000.0) for i, d in enumerate((1, 11, 21))],
    *[_line(f"H{i}", "=h1", T(2024, m, d, 10), "X", 1000.0) for i, (m, d) in enumerate(((11, 21), (11, 26), (12, 1)))],
    *[_line(f"E{i}", "e", T(2024, m, d, 10), "Y", 800.0) for i, (m, d) in enumerate(((9, 1), (10, 1), (10, 31), (11, 30)))],
    *[_line(f"G{i}", "g", T(2023, 1, d, 10), "Y", 9000.0) for i, d in enumerate((1, 11, 21))],
    *[_line(f"K{i}", "k", T(2024, 3, d, 10), "Y", 9000.0) for i, d in enumerate((1, 2))],
]


def test_key_accounts_by_hand(tmp_path):
    with open_lines(_write(tmp_path / "key", KEY), AS_OF) as lines:
        frame = key_accounts(lines, ProductSettings())
    assert frame["customer_id"].tolist() == ["f", "=h1"]
    f, h = frame.iloc[0], frame.iloc[1]
    assert (f["median_gap"], f["days_since"], f["overdue_days"], f["value_at_risk"]) == (10, 193, 183, 15000)
    assert pd.Timestamp(f["expected_day"]).date() == dt.date(2024, 7, 1)
    assert f["overdue_ratio"] == pytest.approx(19.3)
    assert (h["median_gap"], h["days_since"], h["overdue_days"], h["value_at_risk"]) == (5, 30, 25, 3000)



def test_key_accounts_leave_out_customers_past_the_shops_lapse_window(tmp_path):
    """f is 193 days silent: slipping under a 365-day lapse, lapsed under the shop's 189 days (the
    window the diagnosis, CPM and the ladder use), so the early-warning list must not hold f."""
    from crmlib.products import report as pr
    from crmlib.products.model import lapse_window

    folder = _write(tmp_path / "key", KEY)
    with open_lines(folder, AS_OF) as lines:
        shop = key_accounts(lines, ProductSettings(), lapse_days=189)
        wider = key_accounts(lines, ProductSettings(), lapse_days=193)  # 193 days since is not beyond 193
    assert shop["customer_id"].tolist() == ["=h1"] and shop.attrs["lapse_days"] == 189
    assert wider["customer_id"].tolist() == ["f", "=h1"]
    # the window: key_accounts.lapse_days in the YAML, else diagnosis.lapse_days (the segments
    # context), else the data check's measurement (test below)
    assert lapse_window(folder, AS_OF, ProductSettings(context={"segments": {"lapse_days": 189}})) == 189
    assert lapse_window(folder, AS_OF, ProductSettings(key_accounts={"lapse_days": 120},
                                                       context={"segments": {"lapse_days": 189}})) == 120
    assert "lapsed (more than 189 days since the last purchase)" in pr.key_takeaway(shop, ProductSettings(), "en", "JPY")
    written = write_key_account_exports(folder, AS_OF, {"context": {"segments": {"lapse_days": 189}}},
                                        tmp_path / "exports")
    listed = pd.read_csv(written[0], dtype={"customer_id": str}, encoding="utf-8-sig")
    assert listed["customer_id"].tolist() == ["'=h1"]


def test_key_accounts_lapse_window_is_the_data_checks_without_a_yaml_value(simulated_orders):
    from crmlib.products.model import lapse_window
    from crmlib.store.coverage import LAPSE_DEFAULT, measure_coverage

    orders, as_of = simulated_orders
    measured = measure_coverage(orders, as_of).lapse_days
    assert measured != LAPSE_DEFAULT  # measured from the shop's purchase gaps, not the fallback
    assert lapse_window(orders.parent, as_of, ProductSettings()) == measured


def test_key_account_exports_list_every_customer_with_the_formula_guard(tmp_path):
    folder = _write(tmp_path / "key", KEY)
    written = write_key_account_exports(folder, AS_OF, {"key_accounts": {"lapse_days": 365}}, tmp_path / "exports")
    assert [p.name for p in written] == ["key_accounts.csv", "key_accounts.xlsx"]
    raw = written[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    csv = pd.read_csv(written[0], dtype={"customer_id": str}, encoding="utf-8-sig")
    assert csv["customer_id"].tolist() == ["f", "'=h1"]  # the id that starts a formula is quoted
    assert csv["expected_day"].tolist() == ["2024-07-01", "2024-12-06"]
    assert "email" not in csv.columns and "phone" not in csv.columns
    book = openpyxl.load_workbook(written[1], read_only=True)
    cells = [row for row in book.active.iter_rows(values_only=True)]
    assert cells[2][0] == "'=h1" and cells[1][-1] == 15000
    # off in the YAML: nothing written
    assert write_key_account_exports(folder, AS_OF, {"exports": {"enabled": False}}, tmp_path / "none") == []


def test_seasonal_index_by_hand(tmp_path):
    # tea: 100 a month (on the 1st), 400 in December, 2023-01 .. 2024-12 (24 full months): mean month 125,
    # December 400 / 125 = 3.2, every other month 100 / 125 = 0.8
    rows = [_line(f"S{y}{m}", "s", T(y, m, 1), "X", 400.0 if m == 12 else 100.0) for y in (2023, 2024) for m in range(1, 13)]
    with open_lines(_write(tmp_path / "season", rows), dt.date(2025, 1, 1)) as lines:
        frame = seasonal_index(lines, SETTINGS)
        assert frame["category"].tolist() == ["tea"] and frame["peak"].tolist() == [12]
        assert frame["12"].iloc[0] == pytest.approx(3.2) and frame["6"].iloc[0] == pytest.approx(0.8)
    # a shop that grows by 10 a month and has no season: the centred 2x12 moving average of a straight
    # line is the line itself, so every month's index is 1 (a plain mean per month would call December a peak)
    growth = [_line(f"G{i}", "s", T(2023 + i // 12, i % 12 + 1, 1), "X", 100.0 + 10 * i) for i in range(24)]
    with open_lines(_write(tmp_path / "growth", growth), dt.date(2025, 1, 1)) as lines:
        frame = seasonal_index(lines, SETTINGS)
        assert [frame[str(m)].iloc[0] for m in range(1, 13)] == [pytest.approx(1.0)] * 12
    # sweets sold once, in the first month: no month has a trend for it, so it has no season (the
    # calendar failed on it with pandas' "all NA" idxmax; found by tests/test_summary_properties.py
    # on a generated five-year shop of 10 customers)
    once = [*rows, _line("Z1", "z", T(2023, 1, 5), "Z", 500.0)]
    with open_lines(_write(tmp_path / "once", once), dt.date(2025, 1, 1)) as lines:
        frame = seasonal_index(lines, SETTINGS)
        assert frame["category"].tolist() == ["tea"] and frame["peak"].tolist() == [12]
    # 23 full months (the as-of day cuts December 2024 short): no calendar
    with open_lines(_write(tmp_path / "short", rows), dt.date(2024, 12, 20)) as lines:
        assert seasonal_index(lines, SETTINGS).empty


def test_products_with_contact_details_in_their_names_show_masked(tmp_path):
    # a product name holding an e-mail address is masked by the ingest; the chapter shows the masked name
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample

    path = tmp_path / "orders.csv"
    write_sample(path, n_customers=400, seed=5)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    popular = frame.loc[(frame["product"] != "") & (frame["sku"] != "SHIPPING"), "product"].value_counts().index[0]
    frame.loc[frame["product"] == popular, "product"] = "ギフト 担当 sato.jiro@example.jp"
    frame.to_csv(path, index=False)
    result = ingest_file(path, preset="generic", out_dir=tmp_path / "processed")
    with open_lines(result.out_dir, result.as_of) as lines:
        entry = entry_products(lines, ProductSettings(min_customers=1))
        moves = transitions(lines, ProductSettings(min_pairs=1))
    shown = set(entry["item"]) | set(moves["from_item"]) | set(moves["to_item"])
    assert "ギフト 担当 <e-mail>" in shown
    assert not [v for v in shown if isinstance(v, str) and "sato.jiro" in v]


def test_entry_takeaway_does_not_claim_a_winner_whose_interval_holds_the_shop_rate(hand):
    # Y converts 2/2 but its Wilson interval (0.34 to 1) includes the shop's 2/3: the cautious sentence
    from crmlib.i18n import t
    from crmlib.products import report as pr

    entry = entry_products(hand, SETTINGS)
    for lang in ("ja", "en"):
        text = pr.entry_takeaway(entry, SETTINGS, lang)
        assert text == t("products.entry.takeaway_weak", lang, item="Y", rate="100.0%", low="34.2%", high="100.0%",
                         n="2", shop="66.7%", days="30", lift="1.50")


def test_summary_finding_counts_the_slipping_customers_and_is_skipped_without_any():
    import crmlib.products.findings  # noqa: F401 (registers the rules)
    from crmlib.findings import FINDING_RULES, Metrics
    from crmlib.i18n import t
    from crmlib.report.settings import ReportSettings
    from crmlib.report.summary import executive_summary

    rule = FINDING_RULES["products_slipping"]
    found = rule.assess(Metrics({"products": {"key_accounts": {"customers": 12, "value_at_risk": 345678.0,
                                                                  "value_days": 365}}}), ReportSettings())
    assert found.alert and float(found.values["customers"]) == 12 and float(found.values["value"]) == 345678.0
    assert rule.assess(Metrics({"products": {"key_accounts": {"customers": 0, "value_at_risk": 0.0}}}),
                         ReportSettings()) is None
    shown = executive_summary({"products": {"key_accounts": {"customers": 12, "value_at_risk": 345678.0,
                                                             "value_days": 365}}},
                              ReportSettings(), lang="ja", currency="JPY")
    slipping = next(f for f in shown if f.rule == "products_slipping")
    # 345,678 in prose: 34.6万 -> 35万円
    assert slipping.text == t("products.summary.slipping", "ja", customers="12", value="35万円", days="365")
    assert slipping.href == "05_products.html#key-accounts"


# ---- the sample shop's product effects (crmlib.sample.PRODUCT_EFFECTS), recovered from the data ----

@pytest.fixture(scope="module")
def effects_shop(tmp_path_factory):
    """The demo-sized sample shop with PRODUCT_EFFECTS built in, ingested."""
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample

    folder = tmp_path_factory.mktemp("effects")
    write_sample(folder / "orders.csv", product_effects=True)
    return ingest_file(folder / "orders.csv", preset="generic", out_dir=folder / "processed")


def _name(sku):
    from crmlib.sample import _PRODUCTS

    return next(p[1] for p in _PRODUCTS if p[0] == sku)


def test_the_entry_product_raises_f2_by_the_set_points(effects_shop):
    # F2 (window as set) of customers whose first purchase holds the entry product, against customers
    # whose first purchase holds another product of its category (the same draw without the effect):
    # Newcombe's 95% interval of the difference holds the set +12 points, and the product ranks first
    from crmlib.sample import PRODUCT_EFFECTS as E

    entry, window = _name(E.entry_sku), E.entry_window_days
    settings = ProductSettings(f2_window_days=window)
    with open_lines(effects_shop.out_dir, effects_shop.as_of) as lines:
        assert entry_products(lines, settings)["item"].iloc[0] == entry
        groups = lines.query(f"""
            WITH f AS (SELECT k, first_day + {window} < {lines.as_of_sql} AS eligible,
                              date_diff('day', first_day, second_day) <= {window} AS converted FROM firsts),
            g AS (SELECT pl.k, bool_or(d.product = '{entry}') AS entry,
                         bool_or(d.c = (SELECT c FROM dim_product WHERE product = '{entry}')) AS same_category
                  FROM pl JOIN dim_product d USING (p) WHERE pl.n = 1 GROUP BY pl.k)
            SELECT entry, count(*) FILTER (WHERE eligible) AS n, count(*) FILTER (WHERE eligible AND converted) AS x
            FROM f JOIN g USING (k) WHERE same_category GROUP BY entry""").set_index("entry")
    a, b = groups.loc[True], groups.loc[False]
    low, high = difference_interval([a["x"]], [a["n"]], [b["x"]], [b["n"]])
    assert low[0] > 0 and low[0] <= E.entry_f2_points <= high[0], (a, b, low, high)


def test_the_replenishment_product_is_rebought_on_its_cycle(effects_shop):
    # the days between a customer's purchases of the product (read straight from the lines): the
    # distribution-free 95% interval of their median (binomial order statistics) holds the set 60 days,
    # and the chapter's re-buy table shows that median
    from scipy.stats import binom

    from crmlib.sample import PRODUCT_EFFECTS as E

    path = effects_shop.out_dir / "order_lines.parquet"
    import duckdb

    gaps = duckdb.sql(f"""
        WITH d AS (SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) AS day FROM read_parquet('{path}')
                   WHERE sku = '{E.cycle_sku}' AND line_type = 'product')
        SELECT date_diff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS g FROM d
        QUALIFY g IS NOT NULL ORDER BY g""").df()["g"].to_numpy()
    n = len(gaps)
    lo, hi = int(binom.ppf(0.025, n, 0.5)), int(binom.isf(0.025, n, 0.5))
    assert n > 100 and gaps[lo - 1] <= E.cycle_days <= gaps[hi]
    with open_lines(effects_shop.out_dir, effects_shop.as_of) as lines:
        table = replenishment(lines, ProductSettings()).set_index("product")
    assert table.loc[_name(E.cycle_sku), "median_days"] == pytest.approx(float(np.median(gaps)))


def test_the_pair_is_bought_together_by_the_set_points(effects_shop):
    # orders holding the first product hold the second 25 points more often than orders holding a
    # product of the same category drawn the same way (green tea): Newcombe's interval holds +25
    # points, and the pair tops the basket table by lift
    import duckdb

    from crmlib.sample import PRODUCT_EFFECTS as E

    a, b = E.pair_skus
    path = effects_shop.out_dir / "order_lines.parquet"
    row = duckdb.sql(f"""
        WITH o AS (SELECT order_id, bool_or(sku = '{a}') AS a, bool_or(sku = 'FD001') AS t, bool_or(sku = '{b}') AS b
                   FROM read_parquet('{path}') WHERE line_type = 'product' GROUP BY order_id)
        SELECT count(*) FILTER (WHERE a) AS na, count(*) FILTER (WHERE a AND b) AS ab,
               count(*) FILTER (WHERE t AND NOT a) AS nt, count(*) FILTER (WHERE t AND NOT a AND b) AS tb FROM o""").fetchall()[0]
    low, high = difference_interval([row[1]], [row[0]], [row[3]], [row[2]])
    assert low[0] <= E.pair_points <= high[0], (row, low, high)
    with open_lines(effects_shop.out_dir, effects_shop.as_of) as lines:
        top = basket_pairs(lines, ProductSettings()).iloc[0]
    assert {top["a"], top["b"]} == {_name(a), _name(b)}


def test_category_sections_say_so_when_the_data_has_no_categories(tmp_path):
    # Online Retail has no category column: every line's category is missing, so there is one
    # (unrecorded) category and nothing to compare
    from crmlib.i18n import t
    from crmlib.products import report as pr

    rows = [(*row[:5], None, *row[6:]) for row in HAND]
    with open_lines(_write(tmp_path / "nocat", rows), AS_OF) as lines:
        cats = entry_products(lines, SETTINGS, "category")
        moves = transitions(lines, SETTINGS, "category")
    assert cats["item"].tolist() == [None] and not pr.has_categories(cats)
    assert pr.category_takeaway(cats, SETTINGS, "ja") == t("products.label.no_categories", "ja")
    assert pr.category_transitions_takeaway(moves, SETTINGS, "en") == t("products.label.no_categories", "en")


def test_entry_products_leave_out_customers_first_seen_before_the_observable_start(tmp_path):
    # the coverage model's observed_from 2024-01-15: a and b (first seen 01-01) may have bought
    # before the data; c (Y, back in 14 days) is the only eligible first purchase left (d's window is open)
    with open_lines(_write(tmp_path / "censored", HAND), AS_OF, observed_from=dt.date(2024, 1, 15)) as lines:
        frame = entry_products(lines, SETTINGS)
    rows = _rows(frame)
    assert set(rows) == {"Y", "X"} and (rows["Y"]["eligible"], rows["Y"]["converted"]) == (1, 1)
    assert (rows["X"]["customers"], rows["X"]["eligible"]) == (1, 0)
    assert frame.attrs["shop_eligible"] == 1 and frame.attrs["shop_rate"] == 1.0


def test_value_window_shortens_to_what_the_history_can_show_and_says_so(hand):
    # value_days 400 on 365 days of history (2024-01-01 .. as_of 2024-12-31): no customer's 400 days
    # have closed. 180 days have for a, b, c (c: 02-01 + 180 = 07-30), not d -> 3 customers.
    # Revenue in 180 days: a 2700 + 1000 + 500 = 4200; b 1000 + 2000 (B2 on day 60) = 3000; c 4500.
    # X first (a, b; d open): 3600; Y first (a, c): 4350; shop 11700 / 3 = 3900.
    from crmlib.i18n import t
    from crmlib.products import report as pr

    frame = entry_products(hand, SETTINGS.model_copy(update={"value_days": 400}))
    window = frame.attrs["value_window"]
    assert (window.days, window.requested, window.customers, window.observable_days) == (180, 400, 3, 365)
    rows = _rows(frame)
    assert (rows["X"]["valued"], rows["X"]["value"]) == (2, pytest.approx(3600))
    assert rows["Y"]["value"] == pytest.approx(4350) and frame.attrs["shop_value"] == pytest.approx(3900)
    table = pr.entry_table(frame, SETTINGS, "en", "JPY")
    assert t("products.col.value", "en", days=180) in table.columns
    note = pr.value_note(frame, SETTINGS, "en")
    reason = t("products.entry.value_reason_history", "en", have="365", missing="35")
    assert note == t("products.entry.value_shortened", "en", requested="400", reason=reason, days="180", n="3")
    # the window asked for, when observable: no note (SETTINGS: 60 days, a, b, c closed)
    assert pr.value_note(entry_products(hand, SETTINGS), SETTINGS, "ja") is None


def test_value_left_out_with_its_reason_when_no_window_has_enough_customers(hand):
    # value_days 300 fits in the 365 days, but only a, b, c (3) are first seen 300, 180 or 90 days
    # before as_of: below a floor of 4 no window is shown, and the reason is the customers, not the history
    from crmlib.i18n import t
    from crmlib.products import report as pr

    settings = SETTINGS.model_copy(update={"value_days": 300, "min_customers": 4})
    frame = entry_products(hand, settings)
    assert frame.attrs["value_window"].days is None and frame["value"].isna().all()
    assert not any("value" in c.lower() or "Revenue" in c for c in pr.entry_table(frame, settings, "en", "JPY").columns)
    reason = t("products.entry.value_reason_few", "ja", floor="4", requested="300")
    assert pr.value_note(frame, settings, "ja") == t("products.entry.value_unobservable", "ja", requested="300",
                                                     reason=reason, shortest="90")


def test_key_accounts_use_the_model_only_where_it_passed_its_checks(tmp_path):
    # BG/NBD r = 1, alpha = 7 (weeks), a = 1, b = 1, time unit 7 days; P(alive) for x > 0 is
    # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)), in days alpha = 49:
    #  f: x 2, t_x 20 days (06-01 .. 06-21), T 212 days (06-01 .. 12-30): 1 / (1 + 0.5 * (261 / 69) ** 3) = 0.0356
    #  h: x 2, t_x 10 days (11-21 .. 12-01), T 39 days (11-21 .. 12-30): 1 / (1 + 0.5 * (88 / 59) ** 3) = 0.376
    # value at risk x P(alive): f 15000 x 0.0356 = 534 < h 3000 x 0.376 = 1128, so h comes first
    from crmlib.i18n import t
    from crmlib.products import report as pr
    from crmlib.store.ltv.verdict import ModelVerdict

    passed = ModelVerdict("ok", 7, (), {"r": 1.0, "alpha": 7.0, "a": 1.0, "b": 1.0})
    failed = ModelVerdict("failed: holdout", 7, ("holdout",), dict(passed.params))
    with open_lines(_write(tmp_path / "key", KEY), AS_OF) as lines:
        with_model = key_accounts(lines, ProductSettings(), passed)
        without = key_accounts(lines, ProductSettings(), failed)
    f_alive = 1 / (1 + 0.5 * (261 / 69) ** 3)
    h_alive = 1 / (1 + 0.5 * (88 / 59) ** 3)
    assert with_model["customer_id"].tolist() == ["=h1", "f"]
    assert with_model["p_alive"].tolist() == [pytest.approx(h_alive), pytest.approx(f_alive)]
    assert round(f_alive, 4) == 0.0356 and round(h_alive, 3) == 0.376
    table = pr.key_table(with_model, ProductSettings(), "en", "JPY")
    assert table[t("products.col.p_alive", "en")].tolist() == ["38%", "4%"]
    assert pr.key_model_note(with_model, "ja") == t("products.key.model_ok", "ja")
    # the model failed its checks: the cycle rule alone (value at risk order), no P(alive), one line saying so
    assert without["customer_id"].tolist() == ["f", "=h1"] and without["p_alive"].isna().all()
    assert t("products.col.p_alive", "en") not in pr.key_table(without, ProductSettings(), "en", "JPY").columns
    assert pr.key_model_note(without, "en") == t("products.key.model_failed", "en")
    too_little = ModelVerdict("too_little_data", 7)
    assert not too_little.ok
    with open_lines(_write(tmp_path / "key2", KEY), AS_OF) as lines:
        assert pr.key_model_note(key_accounts(lines, ProductSettings(), too_little), "en") == \
            t("products.key.model_too_little", "en")


def test_the_report_hands_the_chapter_the_ltv_section_for_the_model_verdict(tmp_path):
    # the key accounts read the LTV model's verdict with the client's ltv: settings; a notebook run
    # on its own (no context) uses no model
    from types import SimpleNamespace

    from pydantic import ValidationError

    from crmlib.products.model import key_model
    from crmlib.products.settings import report_settings

    built = report_settings(SimpleNamespace(products={"top_n": 5}, segments={}, ltv={"holdout_share": 0.3}))
    assert built == {"top_n": 5, "context": {"segments": {}, "ltv": {"holdout_share": 0.3}}}
    assert ProductSettings.model_validate(built).context["ltv"] == {"holdout_share": 0.3}
    with pytest.raises(ValidationError):
        ProductSettings.model_validate({"context": {"ltv": {"holdout": 0.3}}})  # not an ltv: key
    assert key_model(tmp_path, AS_OF, ProductSettings()) is None


def test_a_return_counts_on_the_day_of_the_order_it_was_netted_against_not_as_a_purchase(tmp_path):
    # the ingest's returns model nets a credit note into an earlier order (same order_id) but keeps
    # the credit note's time (Online Retail's C-invoices). r: order R1 on 01-01 {X 1000, Y 500},
    # a return of Y in R1 dated 01-20 (-500); no other order. One purchase (01-01, revenue 500),
    # so no F2 conversion, no transition and no second purchase; s buys X on 01-01 and 01-10 (F2 in 9 days).
    rows = [_line("R1", "r", T(2024, 1, 1, 9), "X", 1000.0), _line("R1", "r", T(2024, 1, 1, 9), "Y", 500.0),
            _line("R1", "r", T(2024, 1, 20, 9), "Y", -500.0, "return"),
            _line("S1", "s", T(2024, 1, 1, 9), "X", 1000.0), _line("S2", "s", T(2024, 1, 10, 9), "X", 1000.0)]
    with open_lines(_write(tmp_path / "returns", rows), AS_OF) as lines:
        purchases = lines.query("SELECT c.customer_id, p.day, p.revenue FROM pu p JOIN dim_customer c USING (k) "
                                "ORDER BY 1, 2")
        frame = entry_products(lines, SETTINGS)
        moves = transitions(lines, SETTINGS)
    assert purchases.values.tolist() == [["r", pd.Timestamp("2024-01-01"), 1000.0],
                                         ["s", pd.Timestamp("2024-01-01"), 1000.0],
                                         ["s", pd.Timestamp("2024-01-10"), 1000.0]]
    assert frame.attrs["shop_rate"] == 0.5  # s converted, r did not
    x = _rows(frame)["X"]
    assert (x["eligible"], x["converted"]) == (2, 1)
    assert moves[["from_item", "to_item", "pairs"]].values.tolist() == [["X", "X", 1]]


def test_the_sparse_pair_count_refuses_a_join_of_over_two_billion_rows():
    """3,000 baskets of the same 1,000 items on both sides join into 3e9 (left, right) rows: far
    over the 30M bound, so the SQL must take over (None). Counted in int32 the sum wrapped to
    -1,294,967,296 and the product ran."""
    import numpy as np

    from crmlib.products.cooccur import pair_counts

    slots = np.repeat(np.arange(3_000, dtype=np.int64), 1_000)
    items = np.tile(np.arange(1_000, dtype=np.int64), 3_000)
    assert pair_counts((slots, items), (slots, items), 3_000, 1_000, floor=1) is None


@pytest.mark.parametrize("seed", [1, 2])
def test_the_key_accounts_median_gap_is_duckdbs_median(seed):
    """KEY_SQL takes each customer's median gap from the middle one or two sorted gaps (a window
    DuckDB spills; median() per customer ran a 100M-order products chapter out of memory): on
    random purchase days with odd and even gap counts and ties, every row equals the query with
    median()."""
    import duckdb

    from crmlib.products.analysis import KEY_SQL

    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 10})")
    con.execute("""
        CREATE TABLE days AS SELECT DISTINCT (random() * 300)::INT AS k,
               DATE '2024-01-01' + (random() * 400)::INT AS day FROM range(6000)""")
    con.execute("""
        CREATE TABLE pu AS SELECT k, day, lag(day) OVER (PARTITION BY k ORDER BY day) AS prev_day,
               (random() * 100)::DOUBLE + 1 AS revenue FROM days""")
    con.execute("CREATE TABLE dim_customer AS SELECT DISTINCT k, 'C' || k AS customer_id FROM pu")
    args = dict(min_purchases=2, as_of="DATE '2025-03-01'", value_days=365, factor=0.5, lapse_days=400)
    reference = KEY_SQL.split("), v AS (")[1]
    median_sql = ("WITH g AS (SELECT k, count(*) AS purchases, min(day) AS first_day, max(day) AS last_day, "
                  "median(date_diff('day', prev_day, day)) AS median_gap FROM pu GROUP BY k "
                  "HAVING count(*) >= {min_purchases}), v AS (" + reference)
    expected = con.execute(median_sql.format(**args)).fetchall()
    assert len(expected) > 20
    assert con.execute(KEY_SQL.format(**args)).fetchall() == expected


def test_the_entry_product_finding_names_its_window_and_lower_bound():
    """The summary's entry-product line rests on a sample (Online Retail: n = 31): it gives the F2
    window and the interval's lower bound, which is above the shop's F2 for the line to appear."""
    from crmlib.report.settings import ReportSettings
    from crmlib.report.summary import executive_summary

    metrics = {"products": {"entry": {"window_days": 90, "shop_rate": 0.383, "shop_eligible": 1383,
                                      "top": [{"item": "CHALKBOARD", "n": 31, "rate": 0.677, "low": 0.50, "lift": 1.77}]}}}
    found = {f.rule: f for f in executive_summary(metrics, ReportSettings(), lang="en", currency="GBP",
                                                  chapters=["05_products"])}
    assert "(F2 within 90 days 67.7%, n = 31, lower bound 50.0%)" in found["products_entry"].text
    ja = {f.rule: f for f in executive_summary(metrics, ReportSettings(), lang="ja", currency="GBP",
                                               chapters=["05_products"])}
    assert "（90日以内のF2転換率67.7%、n=31、下限50.0%）" in ja["products_entry"].text
    metrics["products"]["entry"]["top"][0]["low"] = 0.30  # the interval reaches the shop's F2: no line
    assert "products_entry" not in {f.rule for f in executive_summary(metrics, ReportSettings(), lang="en",
                                                                     currency="GBP", chapters=["05_products"])}


def test_the_transition_table_shows_the_move_its_takeaway_names():
    """The demo's 5.3 showed 15 re-buys of one product (the largest lifts) while its takeaway named
    本革ミニ財布 -> 帆布トートバッグ, which the table did not show: re-buys now take at most half the rows."""
    from crmlib.products import report as pr

    lifts = [27.0, 21.3, 21.0, 20.2, 18.1, 16.3, 15.9, 8.14, 3.0]
    moves = pd.DataFrame({"from_item": list("abcdefgWX"), "to_item": list("abcdefgTY"), "lift": lifts,
                          "same": [True] * 7 + [False, False], "pairs": [20] * 9, "support": [0.01] * 9,
                          "confidence": [0.1] * 9})
    settings = SETTINGS.model_copy(update={"top_n": 6, "min_pairs": 20})
    table = pr.transitions_table(moves, settings, "en")
    assert len(table) == 6 and "T" in set(table.iloc[:, 1])  # the named move is a row
    assert list(table.iloc[:, 0]) == ["a", "b", "c", "d", "W", "X"]  # 4 re-buys (lift order), then the 2 moves
    text = pr.transitions_takeaway(moves, settings, "en")
    assert text.startswith("After W, the next purchase holds T 8.14 times") and "77.8% of the pairs seen 20 times" in text


def test_lines_without_product_names_get_no_product_tables(tmp_path, hand):
    """CDNOW's lines carry only an amount: every product table read "?" ("?の次の購入では、?が…1.00
    倍"). The notebook shows the chapter's product sections only when the lines name two products."""
    from pathlib import Path

    import nbformat

    from crmlib.i18n import t

    assert hand.named_products() == 3  # X, Y, Z
    nameless = [(*row[:3], None, None, None, *row[6:]) for row in HAND]
    with open_lines(_write(tmp_path / "nameless", nameless), AS_OF) as lines:
        assert lines.named_products() == 0
        assert transitions(lines, SETTINGS, "product")["from_item"].tolist() == ["?"]  # what was shown
    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "05_products.ipynb", as_version=4)
    guarded = [c.source for c in notebook.cells if c.cell_type == "code" and "products.label.no_products" in c.source]
    sections = ("entry_products(lines, config, \"product\")", "transitions(lines, config, \"product\")",
                "stage=2", "basket_pairs(", "replenishment(", "best_customer_products(")
    assert all(any(name in source and "if named:" in source for source in guarded) for name in sections)
    assert t("products.label.no_products", "ja").startswith("データに記録されている商品")
