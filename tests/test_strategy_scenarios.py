"""The scenario model (crmlib.strategy.scenarios): retention in the KPI tree, next period's
revenue and gross profit worked out by hand on a tiny tree, the scenario table's assumptions and
its plain words without a gross margin or acquisition cost, and the workshop simulator starting
at the expected scenario. Every expected number is worked out in the comments."""

from __future__ import annotations

import re

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlib.diagnosis import open_purchases
from crmlib.report.nbtools import table_html
from crmlib.report.notes import split_notes
from crmlib.store.purchases import Span
from crmlib.strategy import scenario_report as sr
from crmlib.strategy import scenarios as sc
from crmlib.strategy.settings import DEFAULT_CHANGES, Scenarios, load_settings
from crmlib.strategy.tree import kpi_values, prior_span

from conftest import ORDERS_SCHEMA, _table

D = dt.date
T = dt.datetime


# ---- retention, the driver the KPI tree gained ------------------------------------------------

def _orders(rows: list[tuple[str, str, dt.datetime, float]]) -> list[tuple]:
    return [(oid, cid, when, amount, 1.0, 1, "web", "completed", "t", None, None) for oid, cid, when, amount in rows]


def test_retention_splits_existing_customers_into_retained_and_reactivated(tmp_path: Path) -> None:
    # period 2024, prior period 2023, data from 2022-06-01 (the prior period is covered)
    # a: 2023-03, 2024-02 -> retained; b: 2023-05 only -> lost; c: 2022-06, 2024-03 -> reactivated
    # d: 2024-04, 2024-06 -> new; e: 2023-07, 2023-08, 2024-09 -> retained
    # prior customers {a, b, e} = 3, retained {a, e} = 2: retention 2/3; existing {a, c, e} = 3
    orders = _orders([("1", "a", T(2023, 3, 1), 100.0), ("2", "a", T(2024, 2, 1), 100.0),
                      ("3", "b", T(2023, 5, 1), 100.0), ("4", "c", T(2022, 6, 1), 100.0),
                      ("5", "c", T(2024, 3, 1), 100.0), ("6", "d", T(2024, 4, 1), 100.0),
                      ("7", "d", T(2024, 6, 1), 100.0), ("8", "e", T(2023, 7, 1), 100.0),
                      ("9", "e", T(2023, 8, 1), 100.0), ("10", "e", T(2024, 9, 1), 100.0)])
    path = tmp_path / "orders.parquet"
    pq.write_table(_table(orders, ORDERS_SCHEMA), path)
    span = Span(D(2024, 1, 1), D(2025, 1, 1))
    assert prior_span(span) == Span(D(2023, 1, 1), D(2024, 1, 1))
    with open_purchases(path, D(2025, 1, 1)) as p:
        v = kpi_values(p, span)
        short = kpi_values(p, Span(D(2023, 1, 1), D(2024, 1, 1)))  # prior period 2022: data starts in June
    assert (v["customers"], v["new_customers"], v["existing_customers"]) == (4, 1, 3)
    assert (v["prior_customers"], v["retained_customers"], v["reactivated_customers"]) == (3, 2, 1)
    assert v["retention"] == pytest.approx(2 / 3)
    assert short["retention"] is None and short["reactivated_customers"] is None


def test_data_shorter_than_the_baseline_gives_no_scenario(tiny_processed_dir: Path) -> None:
    # the tiny shop's orders span January-April 2024: the 12 months before 2024-05-01 start
    # before the data, so the baseline is partial and the chapter shows a note, not a table
    from crmlib.strategy.goals import current_values, metric_history

    with open_purchases(tiny_processed_dir / "orders.parquet", D(2024, 5, 1)) as p:
        current = current_values(p, 12, 90, metric_history(p, 12, 90))
    assert current["retention"] is None
    assert not sc.Baseline.from_values(current, 12).covered


# ---- the model on a tiny tree, by hand --------------------------------------------------------

# 100 new customers x 1.2 orders x 5,000 = 600,000; 200 existing x 2.5 x 4,000 = 2,000,000
# (200 = 300 prior customers x 0.6 retention + 20 reactivated); revenue 2,600,000;
# margin 40%: gross profit 1,040,000; CPA 3,000: acquisition 300,000; after it 740,000
BASE = sc.Baseline(months=12, new_customers=100, new_frequency=1.2, new_aov=5000.0, f2_rate=0.25, customers=300,
                   retention=0.6, reactivated=20, existing_customers=200, existing_frequency=2.5,
                   existing_aov=4000.0, revenue=2_600_000.0, gross_margin=0.4, cpa=3000.0)
CHANGES = {"new_customers": 0.10, "f2_rate": 0.05, "retention": -0.10, "aov": 0.10, "frequency": -0.20,
           "gross_margin": -0.05, "cpa": 0.20}


def test_baseline_figures_are_the_tree_today() -> None:
    b = sc.baseline_figures(BASE)
    assert b["revenue"] == pytest.approx(2_600_000)
    assert (b["gross_profit"], b["acquisition_cost"], b["profit_after_acquisition"]) == \
        pytest.approx((1_040_000, 300_000, 740_000))


def test_next_period_worked_by_hand() -> None:
    # new: 110 customers x (1.2 + 0.05) orders x 5,500 = 756,250
    # existing: this period's 300 customers x 50% + 20 reactivated = 170, x 2.0 orders x 4,400 = 1,496,000
    # revenue 2,252,250; orders 137.5 + 340 = 477.5; customers 280
    # margin 35%: gross profit 788,287.5; CPA 3,600 x 110 = 396,000; after it 392,287.5
    p = sc.project(BASE, CHANGES)
    assert (p["new_customers"], p["new_frequency"], p["new_revenue"]) == pytest.approx((110, 1.25, 756_250))
    assert (p["retention"], p["existing_customers"], p["existing_frequency"], p["existing_revenue"]) == \
        pytest.approx((0.5, 170, 2.0, 1_496_000))
    assert (p["revenue"], p["orders"], p["customers"]) == pytest.approx((2_252_250, 477.5, 280))
    assert p["aov"] == pytest.approx(2_252_250 / 477.5) and p["f2_rate"] == pytest.approx(0.30)
    assert (p["gross_margin"], p["gross_profit"]) == pytest.approx((0.35, 788_287.5))
    assert (p["cpa"], p["acquisition_cost"], p["profit_after_acquisition"]) == pytest.approx((3600, 396_000, 392_287.5))
    frame = sc.scenario_frame(BASE, {"expected": CHANGES})
    assert frame.loc["expected", "revenue_change"] == pytest.approx(2_252_250 / 2_600_000 - 1)  # -13.375%
    assert frame.loc["expected", "gross_profit_change"] == pytest.approx(788_287.5 / 1_040_000 - 1)


def test_rates_stay_within_zero_and_one_and_no_change_keeps_this_periods_rates() -> None:
    # F2 25% - 40 points -> 0%: only 25 points come off the new customers' 1.2 orders (0.95)
    p = sc.project(BASE, {"f2_rate": -0.40, "retention": 0.60})
    assert (p["f2_rate"], p["new_frequency"]) == pytest.approx((0.0, 0.95))
    assert (p["retention"], p["existing_customers"]) == pytest.approx((1.0, 320))  # 300 x 100% + 20
    # nothing changed: new revenue as today; existing 300 x 60% + 20 = 200 as today
    assert sc.project(BASE, {})["revenue"] == pytest.approx(2_600_000)


def test_without_a_measured_retention_existing_customers_are_held() -> None:
    base = sc.Baseline(**{**BASE.__dict__, "retention": None, "reactivated": None})
    p = sc.project(base, {"retention": 0.2})
    assert p["existing_customers"] == 200 and p["retention"] is None
    table = _table_for(base, "en")
    assert "Not measurable (needs two periods of data)" in table.iloc[2].tolist()
    assert any("retention cannot be measured" in n for n in sr.scenario_notes(base, {}, "en"))


def test_goals_the_model_projects_are_compared() -> None:
    plan = pd.DataFrame([
        {"metric": "revenue", "label": None, "deadline": D(2026, 3, 31), "target": 2_500_000.0},
        {"metric": "repeat_rate", "label": None, "deadline": D(2026, 3, 31), "target": 0.4},  # not projected
        {"metric": "existing_customers", "label": "keep 180", "deadline": D(2026, 3, 31), "target": 180.0},
    ])
    frame = sc.scenario_frame(BASE, {"expected": CHANGES})
    gaps = sc.against_goals(frame, plan)
    assert gaps["metric"].tolist() == ["revenue", "existing_customers"]
    assert gaps.loc[0, "baseline"] == pytest.approx(100_000) and gaps.loc[0, "expected"] == pytest.approx(-247_750)
    assert gaps.loc[1, "expected"] == pytest.approx(-10)  # 170 - 180
    table = sr.scenario_table(frame, BASE, {"expected": CHANGES}, {}, gaps, "en", "JPY")
    row = table[table.iloc[:, 0].str.startswith("Goal: Revenue")].iloc[0].tolist()
    assert row[1:] == ["Reached (by ¥100,000)", "Short by ¥247,750"]


# ---- settings and the table's assumptions ------------------------------------------------------

def test_scenarios_take_the_yaml_and_mark_the_defaults() -> None:
    config = load_settings({"scenarios": {"expected": {"new_customers": 0.05, "f2_rate": 0.02}}})
    changes, defaults = sc.scenario_changes(config.scenarios)
    assert changes["expected"]["new_customers"] == 0.05 and changes["expected"]["f2_rate"] == 0.02
    assert changes["expected"]["aov"] == DEFAULT_CHANGES["expected"]["aov"] == 0.0
    assert changes["ambitious"] == DEFAULT_CHANGES["ambitious"]
    assert "new_customers" not in defaults["expected"] and "aov" in defaults["expected"]
    frame = sc.scenario_frame(BASE, changes)
    table = sr.scenario_table(frame, BASE, changes, defaults, frame.iloc[0:0], "ja", "JPY")
    # new customers: 100 x 1.05 = 105 (from the YAML, unmarked); the conservative default -10% is marked
    assert table.iloc[0, 1:].tolist() == ["100", "90 (-10.0%※)", "105 (+5.0%)", "110 (+10.0%※)"]
    assert table.iloc[3, 1:].tolist() == ["¥4,194", "-2.0%※", "+0.0%※", "+3.0%※"]  # AOV 2.6M / 620 orders (120 + 500)


def test_an_unknown_driver_is_refused() -> None:
    with pytest.raises(Exception, match="churn"):
        load_settings({"scenarios": {"expected": {"churn": 0.1}}})
    assert Scenarios().expected.new_customers is None


# ---- without gross margin or acquisition cost: plain words, the setting in the consultant notes --

def _table_for(base: sc.Baseline, lang: str) -> pd.DataFrame:
    changes, defaults = sc.scenario_changes(Scenarios())
    frame = sc.scenario_frame(base, changes)
    return sr.scenario_table(frame, base, changes, defaults, frame.iloc[0:0], lang, "JPY")


@pytest.mark.parametrize("lang, margin_text, cpa_text, setting_sentence", [
    ("ja", "粗利率の入力が必要です", "獲得単価の入力が必要です", "粗利率は ltv.gross_margin に設定します"),
    ("en", "Needs the gross margin", "Needs the acquisition cost", "Set it in ltv.gross_margin"),
])
def test_without_margin_or_cost_the_table_says_what_input_completes_it(lang, margin_text, cpa_text,
                                                                       setting_sentence) -> None:
    base = sc.Baseline(**{**BASE.__dict__, "gross_margin": None, "cpa": None})
    table = _table_for(base, lang).set_index(_table_for(base, lang).columns[0])
    names = {key: sr.t(f"strategy.scenarios.figures.{key}", lang) for key in sr.PROFIT_ROWS}
    # the rows that need the missing inputs are left out (no figure pretends to be profit, and no
    # row of "needs the margin" in every column); the notes say once what would complete them
    assert not set(names.values()) & set(table.index)
    assert not any(sr.t(f"strategy.scenarios.drivers.{d}", lang, window=90) in " ".join(table.index)
                   for d in ("gross_margin", "cpa"))
    # revenue is still projected
    assert table.loc[sr.t("strategy.scenarios.figures.revenue", lang)].str.contains(r"\d").all()
    # the page the client reads keeps the plain words; the setting names go to the consultant notes
    notes = sr.scenario_notes(base, {}, lang)
    page = "<main>" + table_html(_table_for(base, lang)) + "".join(f"<p>{n}</p>" for n in notes) + "</main>"
    client, moved = split_notes(page, "04_strategy", lang)
    assert margin_text not in client and cpa_text not in client
    said = sr.t("strategy.scenarios.margin_missing", lang)
    assert re.split(r"(?<=[.。]) ?", said)[0] in client  # its plain-words sentence; the setting's goes to the notes
    assert "ltv.gross_margin" not in client and "ltv.cpa" not in client
    assert any(setting_sentence in note.text for note in moved)
    assert any("ltv.cpa" in note.text for note in moved)


def test_with_margin_but_no_cost_only_the_cost_rows_wait() -> None:
    base = sc.Baseline(**{**BASE.__dict__, "cpa": None})
    table = _table_for(base, "en").set_index("Item")
    assert table.loc["Gross profit", "Last 12 months (actual)"] == "¥1,040,000"  # 2.6M x 40%
    assert "Gross profit after acquisition cost" not in table.index  # waits for the CPA (the notes say so)


def test_takeaway_writes_money_as_a_consultant_does() -> None:
    # expected 2,252,250 (-13.4%), gross profit 788,287.5 (-24.2%); the goal of 2.5M is missed by
    # 247,750 in the expected scenario and reached in an "ambitious" one that changes nothing (2.6M)
    frame = sc.scenario_frame(BASE, {"expected": CHANGES, "ambitious": {}})
    plan = pd.DataFrame([{"metric": "revenue", "label": None, "deadline": D(2026, 3, 31), "target": 2_500_000.0}])
    text = sr.scenario_takeaway(frame, BASE, sc.against_goals(frame, plan), "ja", "JPY")
    assert text == ("標準シナリオでは、来期12か月の売上は225万円（直近比-13.4%）の見込みです。"
                    "粗利は79万円（直近比-24.2%）です。"
                    "売上目標250万円には標準シナリオでは25万円足りず、届くのは強気シナリオです。")


# ---- the workshop simulator starts at the expected scenario -----------------------------------

def test_simulator_sliders_start_at_the_expected_scenario() -> None:
    from crmlib.strategy.simulator import simulator

    config = load_settings({"scenarios": {"expected": {"new_customers": 0.07, "f2_rate": 0.015, "cpa": -0.05}}})
    sim = simulator(BASE, pd.DataFrame(columns=["metric", "label", "deadline", "target"]),
                    sc.expected_changes(config.scenarios), "en", "JPY")
    changes, _ = sc.scenario_changes(config.scenarios)
    assert sim.changes() == changes["expected"]
    expected = sc.scenario_frame(BASE, changes).loc["expected"]
    assert sim.figures().loc["workshop"].to_dict() == expected.to_dict()
    # what the sliders show (refresh() draws these inside an Output widget, which would hide an error)
    assert sim.table().columns.tolist() == ["Item", "Last 12 months (actual)", "Simulated"]
    assert sim.chart().axes[0].get_title() == "Next period's revenue and gross profit (vs the last 12 months)"
    sim.sliders["new_customers"].value = 0.2
    assert sim.figures().loc["workshop", "new_customers"] == pytest.approx(120)
    sim.reset()
    assert sim.changes() == changes["expected"]
    no_margin = simulator(sc.Baseline(**{**BASE.__dict__, "gross_margin": None}), pd.DataFrame(
        columns=["metric", "label", "deadline", "target"]), changes["expected"], "en", "JPY")
    assert no_margin.sliders["gross_margin"].disabled and not no_margin.sliders["cpa"].disabled
