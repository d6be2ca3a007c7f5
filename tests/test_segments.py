"""Segments chapter on hand-made customers: every rule set with classes worked out by hand.

Customers are given as per-customer facts (the frame crmlib.store.customers.customer_base
returns) unless a test is about the DuckDB aggregation or the files written from orders.parquet.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from crmlib.errors import ConfigError, DataError
from crmlib.orders import customer_summary
from crmlib.segments import (
    SegmentSettings, classify_customers, customer_base, default_rfm_rules, load_settings, migration_matrix,
    migration_moves, rfm_bounds, rfm_scores, rfm_segments, segment_customers, segment_cuts, segment_migration,
    write_segment_exports,
)
from crmlib.segments import report as seg_report
from crmlib.store.segments.classify import Segmentation
from crmlib.store.segments.cpm import CPM_DTYPE, cpm_cells, cpm_spend_line, round_significant
from crmlib.store.segments.decile import decile_summary
from crmlib.store.segments.ladder import ladder_spend_floor, ladder_stages
from crmlib.segments.profiles import segment_profiles
from crmlib.store.segments.migration import NEW, ClassOrder, class_order, move_kinds
from crmlib.store.segments.rfm import rf_grid, rule_definition, segment_lookup
from crmlib.store.segments.scoring import (
    score_higher_better, score_lower_better, tile_bounds, tile_bounds_lower_better, top_share_floor,
)
from crmlib.store.segments.settings import RfmSegmentRule, check_partition, combo_label, parse_scores

SCORES = range(1, 6)


def base_frame(rows: list[tuple]) -> pd.DataFrame:
    """Per-customer facts from (customer_id, recency_days, purchases, revenue, tenure_days) rows;
    orders = purchases, first/last order consistent with as_of 2024-12-31."""
    frame = pd.DataFrame(rows, columns=["customer_id", "recency_days", "purchases", "revenue", "tenure_days"])
    as_of = pd.Timestamp("2024-12-31")
    frame["last_order"] = as_of - pd.to_timedelta(frame["recency_days"], unit="D")
    frame["first_order"] = frame["last_order"] - pd.to_timedelta(frame["tenure_days"], unit="D")
    frame["orders"] = frame["purchases"]
    frame["revenue"] = frame["revenue"].astype("float64")
    return frame[["customer_id", "first_order", "last_order", "orders", "purchases", "revenue",
                  "recency_days", "tenure_days"]]


def classify(rows: list[tuple], settings: dict) -> pd.DataFrame:
    """Classify hand-made customers with settings (yardstick from these customers)."""
    config = load_settings(settings)
    base = base_frame(rows)
    return classify_customers(base, config, segment_cuts(base, config)).set_index("customer_id")


# --- the tie rule -------------------------------------------------------------------------------


def test_quintiles_share_scores_on_ties_by_hand():
    values = np.array([10, 20, 20, 30, 40, 50, 50, 50, 60, 70], dtype=float)
    # score = 1 + floor(5 * strictly lower / 10): below = 0,1,1,3,4,5,5,5,8,9
    assert list(tile_bounds(values, 5)) == [20, 30, 50, 50]
    assert list(score_higher_better(values, tile_bounds(values, 5))) == [1, 1, 1, 2, 3, 3, 3, 3, 5, 5]


def test_recency_quintiles_by_hand():
    days = np.array([1, 1, 2, 5, 9, 30, 30, 100, 200, 400])
    # R = 1 + floor(5 * strictly more days / 10): more = 8,8,7,6,5,3,3,2,1,0
    bounds = tile_bounds_lower_better(days, 5)
    assert list(bounds) == [1, 8, 29, 199]  # R5 <= 1 day, R4 <= 8, R3 <= 29, R2 <= 199, R1 above
    assert list(score_lower_better(days, bounds)) == [5, 5, 4, 4, 3, 2, 2, 2, 1, 1]


def test_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(7)
    values = rng.integers(0, 20, 500).astype(float)
    perm = rng.permutation(len(values))
    a = score_higher_better(values, tile_bounds(values, 5))
    b = score_higher_better(values[perm], tile_bounds(values[perm], 5))
    assert (a[perm] == b).all()


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.sampled_from([4, 5, 10]))
def test_tie_rule_matches_pandas_min_rank(values, tiles):
    s = pd.Series(values)
    expected = 1 + (tiles * (s.rank(method="min") - 1) // len(s)).astype(int)
    got = score_higher_better(s.to_numpy(float), tile_bounds(s.to_numpy(float), tiles))
    assert list(got) == list(expected)
    days = s + 1
    expected_r = 1 + (tiles * (days.rank(method="min", ascending=False) - 1) // len(s)).astype(int)
    got_r = score_lower_better(days.to_numpy(), tile_bounds_lower_better(days.to_numpy(), tiles))
    assert list(got_r) == list(expected_r)


def test_top_share_floor_by_hand():
    values = np.arange(1, 11, dtype=float) * 1000  # 1,000 .. 10,000
    assert (values >= top_share_floor(values, 0.10)).sum() == 1  # 9 of 10 strictly below 10,000
    assert (values >= top_share_floor(values, 0.25)).sum() == 2  # needs 8 (= ceil 7.5) below
    tied = np.array([5.0] * 10)
    assert (tied >= top_share_floor(tied, 0.10)).sum() == 0  # nobody has anyone strictly below


# --- settings and the 125 combinations ----------------------------------------------------------


def test_default_rules_cover_all_125_combinations_exactly_once():
    rules = default_rfm_rules()
    assert [r.key for r in rules] == ["champions", "loyal", "potential_loyalist", "new", "promising",
                                      "need_attention", "about_to_sleep", "cant_lose", "at_risk",
                                      "hibernating", "lost"]
    for combo in itertools.product(SCORES, SCORES, SCORES):
        owners = [r.key for r in rules if combo in r.combinations()]
        assert len(owners) == 1, (combo, owners)
    table = segment_lookup(rules)
    scores = pd.DataFrame(list(itertools.product(SCORES, SCORES, SCORES)), columns=["r", "f", "m"])
    segments = rfm_segments(scores, rules)
    assert segments.notna().all() and len(segments) == 125 and (table >= 0).all()
    assert segments[(scores.r == 5) & (scores.f == 5) & (scores.m == 5)].item() == "champions"  # never "loyal"
    assert segments.value_counts().sum() == 125


def _rules(*boxes: tuple[str, dict]) -> list[dict]:
    return [{"key": key, "cells": [cells], "name": {"ja": key, "en": key}} for key, cells in boxes]


def test_rule_set_with_a_gap_is_refused_naming_the_combinations():
    rules = _rules(("high", {"r": "4-5"}), ("mid", {"r": 3}), ("low", {"r": 2}))  # R1 missing
    with pytest.raises(ConfigError) as info:
        load_settings({"rfm": {"rules": rules}})
    text = str(info.value)
    assert "25 score combination(s) belong to no segment" in text
    assert "R1F1M1" in text and "R1F5M5" in text and "R2F1M1" not in text


def test_rule_set_with_an_overlap_is_refused_naming_the_combinations():
    rules = _rules(("high", {"r": "4-5"}), ("mid", {"r": "1-3"}), ("vip", {"r": 5, "f": 5, "m": 5}))
    with pytest.raises(ConfigError, match=r"1 score combination\(s\) belong to more than one segment: "
                                          r"R5F5M5 \(high, vip\)"):
        load_settings({"rfm": {"rules": rules}})


def test_client_rule_set_replaces_the_default():
    rules = _rules(("recent", {"r": "4-5"}), ("older", {"r": "2-3"}), ("gone", {"r": 1}))
    rules[2]["lapsed"] = True
    config = load_settings({"rfm": {"rules": rules}})
    assert [r.key for r in config.rfm.segment_rules()] == ["recent", "older", "gone"]
    assert rule_definition(config.rfm.segment_rules()[0]) == "R4-5"
    assert class_order("rfm", config.rfm.segment_rules()).lapsed == frozenset({"gone"})


def test_settings_errors_are_readable():
    with pytest.raises(ConfigError, match="segments.rfm.metod: unknown key"):
        load_settings({"rfm": {"metod": "fixed"}})
    with pytest.raises(ConfigError, match="thresholds are only used with method: fixed"):
        load_settings({"rfm": {"thresholds": {"recency_days": [1, 2, 3, 4]}}})
    with pytest.raises(ConfigError, match="strictly ascending"):
        load_settings({"rfm": {"method": "fixed", "thresholds": {"frequency": [1, 1, 2, 3]}}})
    with pytest.raises(ConfigError, match="need a name"):
        load_settings({"rfm": {"rules": [{"key": "everyone", "cells": [{}]}]}})
    with pytest.raises(ConfigError, match="either spend"):
        load_settings({"cpm": {"spend": 70000, "spend_aov_multiple": 5}})
    with pytest.raises(ConfigError, match="stage2_purchases < stage3_purchases"):
        load_settings({"ladder": {"stage3_purchases": 6}})
    assert parse_scores("4-5", "r") == (4, 5) and parse_scores([3, 1], "f") == (1, 3) and parse_scores(2, "m") == (2,)
    for bad in ("5-4", "0-2", 6, [], True):
        with pytest.raises(ValueError):
            parse_scores(bad, "r")
    assert combo_label((5, 4, 3)) == "R5F4M3"
    with pytest.raises(ValueError, match="R3F1M1"):
        check_partition([RfmSegmentRule(key="a", cells=[{"r": "4-5"}]), RfmSegmentRule(key="b", cells=[{"r": "1-2"}])])
    assert SegmentSettings().rfm.method == "quantile"


# --- RFM ------------------------------------------------------------------------------------------

# DOMAIN's repeat-consumable thresholds: R5 <= 30 days ... R1 >= 366; F: 1 | 2 | 3 | 4-5 | 6+;
# M1 <= 5,000 yen ... M5 >= 20,001 yen. (id, recency, purchases, revenue, tenure) -> expected.
FIXED = {"rfm": {"method": "fixed"}}
FIXED_CASES = [
    (("A", 30, 1, 5000, 0), (5, 1, 1), "new"),
    (("B", 31, 2, 5001, 40), (4, 2, 2), "potential_loyalist"),
    (("C", 366, 6, 20001, 300), (1, 5, 5), "cant_lose"),
    (("D", 365, 4, 20000, 200), (2, 4, 4), "at_risk"),
    (("E", 90, 5, 15000, 150), (4, 4, 3), "loyal"),
    (("F", 180, 3, 10000, 100), (3, 3, 2), "need_attention"),
    (("G", 1, 10, 100000, 700), (5, 5, 5), "champions"),
    (("H", 200, 1, 3000, 0), (2, 1, 1), "hibernating"),
    (("I", 400, 2, 9000, 30), (1, 2, 2), "lost"),
    (("J", 100, 1, 3000, 0), (3, 1, 1), "about_to_sleep"),
    (("K", 60, 1, 30000, 0), (4, 1, 5), "promising"),
]


def test_rfm_fixed_thresholds_by_hand():
    c = classify([row for row, _, _ in FIXED_CASES], FIXED)
    for (cid, *_), scores, segment in FIXED_CASES:
        assert tuple(c.loc[cid, ["r", "f", "m"]]) == scores, cid
        assert c.loc[cid, "rfm"] == scores[0] * 100 + scores[1] * 10 + scores[2]
        assert c.loc[cid, "rfm_segment"] == segment, cid
    assert c["rfm_segment"].value_counts().sum() == len(FIXED_CASES)
    assert set(c["rfm_segment"]) == {r.key for r in default_rfm_rules()}  # all 11 reached


def test_rfm_quantile_scores_by_hand():
    # recency 10..100, purchases [1]*6 + [2, 2, 3, 8], revenue 1000..10000 (all distinct)
    rows = [(f"c{i}", 10 * (i + 1), p, 1000.0 * (i + 1), 0 if p == 1 else 50)
            for i, p in enumerate([1, 1, 1, 1, 1, 1, 2, 2, 3, 8])]
    config = load_settings({})
    base = base_frame(rows)
    bounds = rfm_bounds(base, config.rfm)
    scores = rfm_scores(base, bounds)
    # R: more days strictly = 9 - i -> 1 + floor((9 - i) / 2)
    assert list(scores["r"]) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # F: one-time buyers F1; repeat buyers [2, 2, 3, 8] in quarters: 2 + below (0, 0, 2, 3)
    assert list(scores["f"]) == [1, 1, 1, 1, 1, 1, 2, 2, 4, 5]
    assert bounds.frequency == (1.0, 2.0, 2.0, 3.0)
    # M: strictly lower = i -> 1 + floor(i / 2)
    assert list(scores["m"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    grid = rf_grid(scores)
    assert grid.loc[5, 1] == 2 and grid.loc[1, 5] == 1 and grid.to_numpy().sum() == 10


def test_rfm_mean_monetary_uses_mean_order_value():
    rows = [("a", 5, 4, 8000.0, 60), ("b", 5, 1, 3000.0, 0)]
    base = base_frame(rows)
    config = load_settings({"rfm": {"method": "fixed", "monetary": "mean",
                                    "thresholds": {"monetary": [1000, 1500, 2500, 4000]}}})
    scores = rfm_scores(base, rfm_bounds(base, config.rfm))
    assert list(scores["m"]) == [3, 4]  # 8,000 / 4 = 2,000 (1,500 < x <= 2,500); 3,000 / 1 (2,500 < x <= 4,000)


# --- CPM ----------------------------------------------------------------------------------------

CPM_CASES = [  # (id, recency, purchases, revenue, tenure) -> cell; line 70,000, active < 240 days
    (("first", 10, 1, 5000, 0), "first"),
    (("first_239", 239, 1, 5000, 0), "first"),
    (("first_240", 240, 1, 5000, 0), "first_lapsed"),
    (("early", 5, 2, 90000, 89), "early"),
    (("steady_edge", 5, 3, 69999, 90), "steady"),
    (("trend", 5, 4, 70000, 209), "trend"),
    (("top", 5, 6, 70000, 210), "top"),
    (("early_gone", 300, 2, 8000, 30), "early_lapsed"),
    (("steady_gone", 250, 5, 30000, 400), "steady_lapsed"),
    (("trend_gone", 241, 3, 80000, 100), "trend_lapsed"),
    (("top_gone", 300, 9, 100000, 500), "top_lapsed"),
]


def test_cpm_cells_by_hand():
    c = classify([row for row, _ in CPM_CASES], {"cpm": {"spend": 70000}})
    for (cid, *_), cell in CPM_CASES:
        assert c.loc[cid, "cpm_cell"] == cell, cid
    assert c["cpm_cell"].value_counts().sum() == len(CPM_CASES)
    assert set(c["cpm_cell"]) == set(c["cpm_cell"].cat.categories)  # all ten cells reached


def test_cpm_spend_line_scales_with_aov():
    base = base_frame([("a", 5, 4, 60000, 100), ("b", 5, 6, 40000, 300)])  # 100,000 / 10 orders
    line = cpm_spend_line(base, load_settings({}).cpm)
    assert (line.amount, line.source, line.aov, line.multiple) == (70000.0, "aov", 10000.0, 7.0)
    assert cpm_spend_line(base, load_settings({"cpm": {"spend_aov_multiple": 5}}).cpm).amount == 50000.0
    assert cpm_spend_line(base, load_settings({"cpm": {"spend": 123456}}).cpm).source == "settings"
    assert round_significant(7011.632150174429 * 7) == 49000.0  # the demo shop
    assert round_significant(474.79772 * 7) == 3300.0  # Online Retail, GBP
    assert round_significant(64500) == 65000.0 and round_significant(0.0) == 0.0
    cells = cpm_cells(base, load_settings({}).cpm, 70000.0)
    assert list(cells) == ["steady", "steady"]  # tenure >= 90, spend below the line


# --- loyalty ladder -------------------------------------------------------------------------------

LADDER_CASES = [  # (id, recency, purchases, revenue, tenure) -> (stage, lapsed, class)
    (("one_89", 89, 1, 3000, 0), (1, False, "stage1")),
    (("one_90", 90, 1, 3000, 0), (1, True, "lapsed")),  # past the follow-up window
    (("one_big", 10, 1, 900000, 0), (1, False, "stage1")),  # one large order is not loyalty
    (("two", 239, 2, 6000, 50), (2, False, "stage2")),
    (("two_gone", 240, 2, 6000, 50), (2, True, "lapsed")),
    (("three", 30, 3, 9000, 90), (3, False, "stage3")),
    (("four", 30, 4, 12000, 120), (3, False, "stage3")),
    (("five", 30, 5, 15000, 150), (4, False, "stage4")),
    (("two_big", 30, 2, 50000, 60), (4, False, "stage4")),  # top spend with 2 purchases
    (("five_gone", 400, 5, 15000, 150), (4, True, "lapsed")),
]


def test_ladder_stages_with_a_fixed_spend_by_hand():
    c = classify([row for row, _ in LADDER_CASES], {"ladder": {"stage4_spend": 50000}})
    for (cid, *_), (stage, lapsed, cls) in LADDER_CASES:
        assert (c.loc[cid, "ladder_stage"], bool(c.loc[cid, "ladder_lapsed"]), c.loc[cid, "ladder"]) == \
            (stage, lapsed, cls), cid
    assert c["ladder"].value_counts().sum() == len(LADDER_CASES)


def test_ladder_top_spend_share_by_hand():
    # 10 customers with 2 purchases and spend 1,000 .. 10,000: only the top one (9 strictly below)
    base = base_frame([(f"c{i}", 10, 2, 1000.0 * i, 30) for i in range(1, 11)])
    settings = load_settings({}).ladder
    floor = ladder_spend_floor(base, settings)
    stages = ladder_stages(base, settings, floor)
    assert list(stages["ladder_stage"]) == [2] * 9 + [4]
    off = load_settings({"ladder": {"stage4_top_spend_share": None}}).ladder
    assert ladder_spend_floor(base, off) is None
    assert list(ladder_stages(base, off, None)["ladder_stage"]) == [2] * 10


# --- deciles --------------------------------------------------------------------------------------


def test_spend_deciles_by_hand():
    rows = [(f"c{i:02d}", 10, 1 if i % 2 else 2, float(i * 100), 0) for i in range(1, 21)]
    c = classify(rows, {})
    # 20 distinct spends: decile = 10 - floor(10 * below / 20) -> pairs of customers per decile
    assert list(c["spend_decile"]) == [10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    summary = decile_summary(c.reset_index())
    assert summary["customers"].tolist() == [2] * 10
    top = summary.iloc[0]
    assert top["revenue"] == 3900.0 and top["min_spend"] == 1900.0 and top["one_time_share"] == 0.5
    assert abs(summary["revenue_share"].sum() - 1) < 1e-12 and summary["cumulative_share"].iloc[-1] == pytest.approx(1)


# --- migration ------------------------------------------------------------------------------------


def test_move_kinds_by_hand():
    order = ClassOrder(("a", "b", "c", "z"), frozenset({"z"}))  # best first, z is lapsed
    dtype = pd.CategoricalDtype(list(order.keys), ordered=True)
    start = pd.Series([None, "a", "b", "a", "b", "z", "z"], dtype=dtype)
    end = pd.Series(["c", "a", "a", "b", "z", "c", "z"], dtype=dtype)
    kinds = move_kinds(start, end, order)
    assert list(kinds) == ["new", "stayed", "up", "down", "lapsed", "returned", "stayed"]
    moves = migration_moves(start, end, order)
    assert moves.to_dict() == {"new": 1, "up": 1, "stayed": 2, "down": 1, "lapsed": 1, "returned": 1}
    matrix = migration_matrix(start, end)
    assert list(matrix.index) == [NEW, "a", "b", "c", "z"] and list(matrix.columns) == ["a", "b", "c", "z"]
    assert matrix.loc[NEW, "c"] == 1 and matrix.loc["a", "a"] == 1 and matrix.loc["z", "c"] == 1
    assert matrix.to_numpy().sum() == len(end)


def write_orders(folder, rows: list[tuple[str, str, float]]) -> None:
    """orders.parquet from (customer_id, 'YYYY-MM-DD HH:MM', amount) rows (contract column types)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])
    frame.insert(0, "order_id", [f"O{i}" for i in range(len(frame))])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"]).astype("datetime64[us]")
    frame["quantity"] = 1.0
    frame["n_lines"] = 1
    for column in ("channel", "status", "source", "region", "category"):
        frame[column] = pd.Series([None] * len(frame), dtype="str")
    frame["channel"] = ["web", "app"] * (len(frame) // 2) + ["web"] * (len(frame) % 2)
    frame["category"] = "お茶"
    frame.to_parquet(folder / "orders.parquet", index=False)


def test_profile_sums_of_int32_counts_stay_exact_past_two_to_the_31():
    # customer_base's counts are int32: two customers of 2,000,000,000 orders each add up to
    # 4,000,000,000, past int32's 2,147,483,647 (in int32 the sum would wrap to -294,967,296)
    big = np.array([2_000_000_000, 2_000_000_000], dtype=np.int32)
    customers = pd.DataFrame({"cpm_cell": pd.Categorical(["top", "top"], dtype=CPM_DTYPE), "revenue": [1.0, 2.0],
                              "orders": big, "purchases": big, "recency_days": np.array([1, 3], dtype=np.int32)})
    profile = segment_profiles(customers, "cpm_cell").set_index("segment")
    assert profile.loc["top", "orders"] == 4_000_000_000 and profile.loc["top", "purchases"] == 4_000_000_000
    assert profile.loc["top", "median_recency_days"] == 2.0
    assert int(customers["orders"].sum()) == 4_000_000_000


AS_OF = dt.date(2025, 1, 1)  # earlier date: 2024-10-03 (90 days before)


def day(days_before: int, hour: int = 12) -> str:
    return (pd.Timestamp(AS_OF) - pd.Timedelta(days=days_before)).strftime(f"%Y-%m-%d {hour:02d}:00")


MIGRATION_ORDERS = [
    ("new", day(30), 5000.0),  # first purchase after the earlier date -> new
    ("gone", day(300), 5000.0),  # first (210 days at the start) -> first_lapsed (300 days)
    ("back", day(400), 5000.0), ("back", day(20), 5000.0),  # first_lapsed -> steady: returned
    ("same", day(200), 5000.0), ("same", day(150), 5000.0),  # early at both dates: stayed
    ("grow", day(150), 5000.0), ("grow", day(60), 5000.0),  # first -> steady (tenure 90): up
    ("grow", day(60, 18), 1000.0),  # same day: still 2 purchases with merge_same_day
]


@pytest.fixture(scope="module")
def migration_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segments") / "migration"
    write_orders(folder, MIGRATION_ORDERS)
    return folder


def test_migration_end_to_end_by_hand(migration_dir):
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {"cpm": {"spend": 70000}})
    c = seg.customers.set_index("customer_id")
    assert c.loc["grow", "orders"] == 3 and c.loc["grow", "purchases"] == 2
    assert c["cpm_cell"].to_dict() == {"back": "steady", "gone": "first_lapsed", "grow": "steady",
                                       "new": "first", "same": "early"}
    mig = segment_migration(seg)
    assert mig.start_date == dt.date(2024, 10, 3) and mig.start_customers == 4
    start, end = mig.classes["cpm"]
    kinds = move_kinds(start, end, mig.orders["cpm"])
    assert dict(zip(seg.customers["customer_id"], kinds)) == {
        "back": "returned", "gone": "lapsed", "grow": "up", "new": "new", "same": "stayed"}
    for scheme in ("rfm", "cpm", "ladder"):
        assert mig.moves(scheme).sum() == len(seg.customers)
        assert mig.matrix(scheme).to_numpy().sum() == len(seg.customers)
    ladder = dict(zip(seg.customers["customer_id"], mig.classes["ladder"][0].astype(object)))
    assert pd.isna(ladder["new"]) and ladder["gone"] == "lapsed" and ladder["grow"] == "stage1"


def test_migration_reuses_the_as_of_yardstick(migration_dir):
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {})
    start_base = customer_base(migration_dir / "orders.parquet", dt.date(2024, 10, 3))
    expected = classify_customers(start_base, seg.settings, seg.cuts)  # as-of cuts, not the start's own
    got = segment_migration(seg).classes["rfm"][0]
    by_id = dict(zip(expected["customer_id"], expected["rfm_segment"].astype(object)))
    assert [by_id.get(cid) for cid in seg.customers["customer_id"]] == \
        [None if pd.isna(v) else v for v in got.astype(object)]



def test_customer_base_of_only_the_customers_who_ordered_since(migration_dir):
    # on 2024-10-03 (90 days before AS_OF) only 'back' and 'grow' had bought before and buy again
    # later ('new' had not bought yet, 'gone' and 'same' did not buy again): their facts then, by hand
    base = customer_base(migration_dir / "orders.parquet", dt.date(2024, 10, 3), ordered_until=AS_OF)
    assert base["customer_id"].tolist() == ["back", "grow"]
    assert base["recency_days"].tolist() == [400 - 90, 150 - 90]
    assert base["orders"].tolist() == [1, 1] and base["revenue"].tolist() == [5000.0, 5000.0]
    assert base["tenure_days"].tolist() == [0, 0]


def test_migration_classifies_the_start_date_in_chunks(migration_dir, monkeypatch):
    # chunks of 2 customers: the unchanged customers ('gone', 'same') fall in different chunks
    monkeypatch.setattr("crmlib.store.segments.migration.CHUNK_ROWS", 2)
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {"cpm": {"spend": 70000}})
    mig = segment_migration(seg)
    assert mig.start_customers == 4
    start = dict(zip(seg.customers["customer_id"], mig.classes["cpm"][0].astype(object)))
    # by hand on 2024-10-03: back first (310 days) -> first_lapsed; gone first (210) -> first;
    # grow first (60) -> first; same early (2 purchases 50 days apart, 60 days ago) -> early
    assert pd.isna(start.pop("new"))
    assert start == {"back": "first_lapsed", "gone": "first", "grow": "first", "same": "early"}


# --- DuckDB facts, profiles, report text ------------------------------------------------------------


def test_customer_base_matches_customer_summary(tiny_processed_dir):
    path = tiny_processed_dir / "orders.parquet"
    base = customer_base(path, "2024-05-01").set_index("customer_id")
    summary = customer_summary(path, "2024-05-01").set_index("customer_id")
    for column in ("orders", "revenue", "recency_days", "tenure_days", "first_order", "last_order"):
        assert (base[column] == summary[column]).all(), column
    assert (base["purchases"] == base["orders"]).all()  # no two orders of one customer on one day


def test_profiles_and_top_values(tiny_processed_dir):
    seg = segment_customers(tiny_processed_dir / "orders.parquet", "2024-05-01", {"cpm": {"spend": 70000}})
    profile, tops = seg_report.profile(seg, "cpm")
    assert profile["customers"].sum() == 3 and profile["revenue"].sum() == 8500.0
    row = profile.set_index("segment").loc["steady"]  # c1: 3 orders Jan 10 .. Apr 30 (111 days)
    assert (row["customers"], row["orders"], row["aov"]) == (1, 3, 1000.0)
    c1 = tops[(tops["segment"] == "steady") & (tops["dimension"] == "category")]
    assert c1[["value", "share"]].values.tolist() == [["お茶", 1.0]]
    channels = tops[(tops["segment"] == "steady") & (tops["dimension"] == "channel")]
    assert channels[["value", "revenue"]].values.tolist() == [["web", 1500.0]]  # O3 has no channel
    assert channels["share"].item() == pytest.approx(0.5)



def test_top_values_of_several_class_columns_from_one_query_by_hand(tiny_processed_dir):
    """Two class columns at once (the chapter's three schemes share one read of the orders).
    Tiny orders: c1 O1 1000 web/お茶, O3 1500 no channel/お茶, O5 500 web/お茶; c2 O2 2500 web/菓子;
    c3 O4 3000 app/no category."""
    from crmlib.segments.profiles import top_values_by

    customers = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3"], "revenue": [3000.0, 2500.0, 3000.0],
        "a": pd.Categorical(["x", "x", "y"], categories=["x", "y"]),
        "b": pd.Categorical(["p", "q", "q"], categories=["p", "q"]),
    })
    tops = top_values_by(tiny_processed_dir / "orders.parquet", dt.date(2024, 5, 1), customers, ("a", "b"))

    def rows(column, segment, dimension):
        frame = tops[column]
        part = frame[(frame["segment"] == segment) & (frame["dimension"] == dimension)]
        return [(r.rank, r.value, r.revenue, pytest.approx(r.share)) for r in part.itertuples()]

    # a = x (c1, c2: 5500): お茶 3000, 菓子 2500; web 1000 + 500 + 2500 (O3 has no channel)
    assert rows("a", "x", "category") == [(1, "お茶", 3000.0, 3000 / 5500), (2, "菓子", 2500.0, 2500 / 5500)]
    assert rows("a", "x", "channel") == [(1, "web", 4000.0, 4000 / 5500)]
    assert rows("a", "y", "category") == []  # c3's only order has no category
    assert rows("a", "y", "channel") == [(1, "app", 3000.0, 1.0)]
    # b = p (c1: 3000), q (c2, c3: 5500)
    assert rows("b", "p", "category") == [(1, "お茶", 3000.0, 1.0)]
    assert rows("b", "p", "channel") == [(1, "web", 1500.0, 0.5)]
    assert rows("b", "q", "category") == [(1, "菓子", 2500.0, 2500 / 5500)]
    assert rows("b", "q", "channel") == [(1, "app", 3000.0, 3000 / 5500), (2, "web", 2500.0, 2500 / 5500)]

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_table_and_sentence_renders(migration_dir, lang):
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {})
    mig = segment_migration(seg)
    r = seg_report
    tables = [r.rfm_definition_table(seg, lang, "JPY"), r.profile_table(seg, "rfm", lang, "JPY"),
              r.action_table(seg, lang), r.profile_table(seg, "cpm", lang, "JPY"),
              r.profile_table(seg, "ladder", lang, "JPY"), r.decile_table(seg, lang, "JPY"), r.moves_table(mig, lang)]
    assert all(len(table) for table in tables)
    texts = [r.lead(seg, lang), r.rfm_definition_takeaway(seg, lang), r.rfm_grid_takeaway(seg, lang),
             r.rfm_profile_takeaway(seg, lang), r.action_takeaway(seg, lang), r.cpm_takeaway(seg, lang, "JPY"),
             r.cpm_profile_takeaway(seg, lang), r.ladder_takeaway(seg, lang), r.ladder_profile_takeaway(seg, lang),
             r.decile_takeaway(seg, lang), r.moves_takeaway(mig, lang),
             *(r.migration_takeaway(mig, seg, s, lang) for s in ("rfm", "cpm", "ladder"))]
    assert all(text and "{" not in text for text in texts)
    for figure in (r.rfm_grid_figure(seg, lang), r.cpm_figure(seg, lang), r.ladder_figure(seg, lang),
                   r.migration_figure(mig, seg, "rfm", lang)):
        assert figure.axes


def test_definition_table_prints_the_fixed_thresholds():
    base = base_frame([row for row, _, _ in FIXED_CASES])
    config = load_settings(FIXED)
    customers = classify_customers(base, config, segment_cuts(base, config))
    seg = Segmentation(dt.date(2024, 12, 31), None, config, config.rfm.segment_rules(),
                       segment_cuts(base, config), customers)
    table = seg_report.rfm_definition_table(seg, "ja", "JPY")
    assert table.iloc[0, 2:].tolist() == ["30日以内", "31〜90日", "91〜180日", "181〜365日", "366日以上"]
    assert table.iloc[1, 2:].tolist() == ["6回以上", "4〜5回", "3回", "2回", "1回"]
    assert table.iloc[2, 2:].tolist() == ["¥20,000超", "¥15,000超〜¥20,000以下", "¥10,000超〜¥15,000以下",
                                          "¥5,000超〜¥10,000以下", "¥5,000以下"]


def test_no_customers_is_a_clear_error(migration_dir):
    with pytest.raises(DataError, match="no customers"):
        segment_customers(migration_dir / "orders.parquet", "2020-01-01", {})


def test_migration_before_any_order_counts_everyone_new(migration_dir):
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {})
    mig = segment_migration(seg, days_before=1000)
    assert mig.start_customers == 0 and mig.moves("cpm")["new"] == len(seg.customers)
    assert "全員が期間中の新規顧客" in seg_report.moves_takeaway(mig, "ja")


def test_headline_metrics_add_up(migration_dir):
    seg = segment_customers(migration_dir / "orders.parquet", AS_OF, {})
    metrics = seg_report.headline_metrics(seg, segment_migration(seg))
    for scheme in ("rfm", "cpm", "ladder"):
        assert sum(v["customers"] for v in metrics[scheme].values()) == metrics["customers"] == 5
        assert sum(v["revenue_share"] for v in metrics[scheme].values()) == pytest.approx(1)
        assert sum(metrics["migration"][scheme].values()) == 5


# --- exports ------------------------------------------------------------------------------------


@pytest.fixture()
def export_dir(tmp_path, migration_dir):
    folder = tmp_path / "processed"
    folder.mkdir()
    (folder / "orders.parquet").write_bytes((migration_dir / "orders.parquet").read_bytes())
    pd.DataFrame({"customer_id": ["back", "grow", "same"],
                  "email": ["back@example.jp", "grow@example.jp", None],
                  "phone": [None, None, "0900000000"]}).to_parquet(folder / "contacts.parquet", index=False)
    return folder


def test_exports_one_csv_per_segment_and_a_workbook(export_dir, tmp_path):
    import openpyxl

    out = tmp_path / "exports"
    paths = write_segment_exports(export_dir, AS_OF, {}, out)
    names = [p.name for p in paths]
    assert names[0] == "rfm_01_champions.csv" and names[10] == "rfm_11_lost.csv" and names[-1] == "segments.xlsx"
    csvs = [p for p in paths if p.suffix == ".csv"]
    assert len(csvs) == 11
    assert all(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in csvs)  # BOM for Excel
    frames = [pd.read_csv(p, encoding="utf-8-sig", dtype={"customer_id": str, "rfm": str}) for p in csvs]
    listed = pd.concat(frames)
    assert sorted(listed["customer_id"]) == ["back", "gone", "grow", "new", "same"]  # each exactly once
    assert "email" not in listed.columns  # default: no contact data
    assert {"rfm_segment", "r", "f", "m", "cpm_cell", "ladder", "spend_decile"} <= set(listed.columns)
    book = openpyxl.load_workbook(out / "segments.xlsx", read_only=True)
    assert book.sheetnames[0] == "01 優良顧客" and len(book.sheetnames) == 11
    for sheet, frame in zip(book.sheetnames, frames):
        rows = list(book[sheet].iter_rows(values_only=True))
        assert list(rows[0]) == list(frame.columns)
        assert [r[0] for r in rows[1:]] == list(frame["customer_id"])


def test_exports_lists_sorted_by_spend_with_crlf_and_whole_yen(export_dir, tmp_path):
    """Each list: biggest spender first, ties by id; CRLF line ends; yen amounts without decimals."""
    paths = write_segment_exports(export_dir, AS_OF, {"exports": {"schemes": ["ladder"]}}, tmp_path / "e")
    raw = b"".join(p.read_bytes() for p in paths if p.suffix == ".csv")
    assert raw.count(b"\r\n") == raw.count(b"\n") == 5 + 5  # 5 headers (four ladder stages and lapsed), 5 customers
    seg = segment_customers(export_dir / "orders.parquet", AS_OF, {})
    spend = dict(zip(seg.customers["customer_id"], seg.customers["revenue"]))
    for path in (p for p in paths if p.suffix == ".csv"):
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype={"customer_id": str})
        expected = sorted(frame["customer_id"], key=lambda c: (-spend[c], c))
        assert list(frame["customer_id"]) == expected
        assert frame["revenue"].tolist() == [int(spend[c]) for c in expected]


def test_exports_skip_the_workbook_above_its_limit(export_dir, tmp_path):
    """Five customers, a limit of four: every customer is in the CSVs, no workbook, and the chapter says so."""
    settings = {"exports": {"xlsx_max_customers": 4}}
    paths = write_segment_exports(export_dir, AS_OF, settings, tmp_path / "exports")
    assert [p.suffix for p in paths] == [".csv"] * 11 and not (tmp_path / "exports" / "segments.xlsx").exists()
    listed = pd.concat(pd.read_csv(p, encoding="utf-8-sig", dtype={"customer_id": str}) for p in paths)
    assert sorted(listed["customer_id"]) == ["back", "gone", "grow", "new", "same"]
    seg = segment_customers(export_dir / "orders.parquet", AS_OF, settings)
    assert "no Excel workbook" in seg_report.action_takeaway(seg, "en") and "4 customers" in \
        seg_report.action_takeaway(seg, "en")
    assert "Excelブックは作成していません" in seg_report.action_takeaway(seg, "ja")
    with_book = write_segment_exports(export_dir, AS_OF, {"exports": {"xlsx_max_customers": 5}}, tmp_path / "b")
    assert with_book[-1].name == "segments.xlsx"


def test_exports_carry_emails_only_when_allowed(export_dir, tmp_path):
    settings = {"exports": {"include_email": True, "schemes": ["rfm", "cpm"]}}
    paths = write_segment_exports(export_dir, AS_OF, settings, tmp_path / "exports", lang="en")
    listed = pd.concat(pd.read_csv(p, encoding="utf-8-sig", keep_default_na=False) for p in paths
                       if p.name.startswith("rfm_"))
    emails = dict(zip(listed["customer_id"], listed["email"]))
    assert emails == {"back": "back@example.jp", "grow": "grow@example.jp", "same": "", "gone": "", "new": ""}
    assert len([p for p in paths if p.name.startswith("cpm_")]) == 10
    import openpyxl

    assert openpyxl.load_workbook(paths[-1], read_only=True).sheetnames[:2] == ["RFM 01 Champions", "RFM 02 Loyal"]
    assert write_segment_exports(export_dir, AS_OF, {"exports": {"enabled": False}}, tmp_path / "none") == []
    (export_dir / "contacts.parquet").unlink()
    with pytest.raises(DataError, match="contacts"):
        write_segment_exports(export_dir, AS_OF, settings, tmp_path / "again")


# --- issue 16: ties never leave an RFM score empty ----------------------------------------------

def test_rfm_frequency_ties_leave_no_score_empty():
    from crmlib.store.segments.rfm import frequency_bounds
    purchases = np.array([1] * 10 + [2] * 6 + [3] * 2 + [4] + [6], dtype=float)
    # the tie rule on the 10 repeat buyers [2]*6+[3]*2+[4]+[6]: c_s = ceil(10 s / 4) = 3, 5, 8
    # -> 3rd, 5th and 8th smallest = 2, 2, 3: bounds (1, 2, 2, 3) and F3 = (2, 2] is empty.
    # Spread along the distinct repeat values 2 < 3 < 4 < 6: bounds 2, 3, 4
    assert frequency_bounds(purchases) == (1.0, 2.0, 3.0, 4.0)
    f = score_higher_better(purchases, np.array(frequency_bounds(purchases)))
    assert list(f) == [1] * 10 + [2] * 6 + [3] * 2 + [4] + [5]
    assert set(f) == {1, 2, 3, 4, 5}


def test_spread_bounds_recency_and_money_by_hand():
    from crmlib.store.segments.scoring import spread_bounds
    days = np.array([3] * 7 + [10, 20, 40], dtype=np.int64)
    # tie rule: R = 1 + floor(5 * strictly more days / 10): more = 3 (the seven 3s), 2, 1, 0
    # -> R2 for the 3s, then R2, R1, R1: R3..R5 empty
    tied = tile_bounds_lower_better(days, 5)
    assert set(score_lower_better(days, tied)) == {1, 2}
    spread = spread_bounds(days, tied)
    # 4 distinct values for 5 scores: nothing to spread, the tie rule stays
    assert list(spread) == list(tied)
    days = np.array([3] * 6 + [5, 10, 20, 40], dtype=np.int64)  # 5 distinct values
    r = score_lower_better(days, spread_bounds(days, tile_bounds_lower_better(days, 5)))
    assert list(r) == [5] * 6 + [4, 3, 2, 1]
    money = np.array([100.0] * 8 + [200.0, 300.0, 400.0, 500.0])
    m = score_higher_better(money, spread_bounds(money, tile_bounds(money, 5)))
    assert list(m) == [1] * 8 + [2, 3, 4, 5]
