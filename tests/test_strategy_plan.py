"""The 90-day action plan (issue 22): business case, sample size, lists, degrade paths, finding.

Every expected number is worked out by hand in the comments (or taken from a published power
table), never copied from the code's output. All cases are tiny: no report is rendered.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import ORDERS_SCHEMA, _table, write_tiny_processed_dir

from crmlib.report.notes import names_setting
from crmlib.segments import segment_customers
from crmlib.strategy import business_case as bc
from crmlib.strategy import plan as plan_mod
from crmlib.strategy import plan_report
from crmlib.strategy.plan_exports import WORKBOOK, write_plan_exports
from crmlib.strategy.settings import Plan, PlanMeasure, load_settings

D = dt.date
Z_A, Z_B = NormalDist().inv_cdf(0.975), NormalDist().inv_cdf(0.80)  # 1.959964, 0.841621


# ---- the business case by hand ----------------------------------------------------------------

def test_roi_and_break_even_by_hand() -> None:
    # a list of 1,000 with a 10% control group: 900 contacted, 100 held out
    treated, control = bc.split(1000, 0.10)
    assert (treated, control) == (900, 100)
    # cost = 900 x 20 + 10,000 = 28,000
    cost = bc.campaign_cost(treated, 20.0, 10_000.0)
    assert cost == 28_000.0
    # 4 points more buyers at 5,000 per order: 900 x 0.04 x 5,000 = 180,000 revenue, x 0.4 = 72,000
    revenue = bc.expected_revenue(treated, 0.04, 5_000.0)
    assert revenue == pytest.approx(180_000.0)
    profit = bc.gross_profit(revenue, 0.4)
    assert profit == pytest.approx(72_000.0)
    # ROI = (72,000 - 28,000) / 28,000 = 1.5714...
    assert bc.roi(profit, cost) == pytest.approx(44_000 / 28_000)
    # break-even: 28,000 / (900 x 5,000 x 0.4) = 28,000 / 1,800,000 = 1.556 points
    be = bc.break_even_uplift(treated, 5_000.0, 0.4, cost)
    assert be == pytest.approx(28_000 / 1_800_000)
    # at the break-even uplift the gross profit pays the cost exactly: ROI 0
    assert bc.roi(bc.gross_profit(bc.expected_revenue(treated, be, 5_000.0), 0.4), cost) == pytest.approx(0.0)


def test_without_margin_or_cost_there_is_no_roi() -> None:
    assert bc.gross_profit(180_000.0, None) is None  # revenue is not profit
    assert bc.roi(None, 28_000.0) is None and bc.break_even_uplift(900, 5_000.0, None, 28_000.0) is None
    assert bc.campaign_cost(900, None, None) is None and bc.roi(72_000.0, None) is None
    assert bc.break_even_uplift(900, 5_000.0, 0.4, None) is None
    assert bc.campaign_cost(900, None, 5_000.0) == 5_000.0  # a fixed cost alone is a cost


@pytest.mark.parametrize("h, published", [(0.20, 392), (0.50, 63), (0.80, 25)])
def test_sample_size_matches_cohens_power_table(h: float, published: int) -> None:
    # Cohen, J. (1992), "A power primer", Psychological Bulletin 112(1), 155-159, Table 2, test 4
    # (difference between independent proportions, arcsine effect size h): N per group for power
    # 0.80 at two-sided alpha 0.05 is 392 (small, h = .2), 63 (medium, .5) and 25 (large, .8)
    assert round(bc.treated_needed(h, 0.5)) == published


def test_sample_size_by_hand() -> None:
    # 5% buying without the measure, 10% with it: h = 2 asin(sqrt .10) - 2 asin(sqrt .05)
    #   = 2 (0.3217506 - 0.2255134) = 0.1924744
    h = 2 * (0.3217506 - 0.2255134)
    # half and half: n per group = (z_a + z_b)^2 x 2 / h^2 = 7.848879 x 2 / 0.0370464 = 423.7,
    # the list = 2 x 423.7 = 847.5 -> 848
    per_group = (Z_A + Z_B) ** 2 * 2 / h ** 2
    assert bc.sample_size(0.05, 0.05, 0.5) == math.ceil(2 * per_group) == 848
    # 10% control (1 control per 9 treated): treated = (z_a + z_b)^2 (1 + 9) / h^2 = 2118.7,
    # the list = 2118.7 x 10 / 9 = 2354.1 -> 2355
    treated = (Z_A + Z_B) ** 2 * (1 + 9) / h ** 2
    assert bc.sample_size(0.05, 0.05, 0.10) == math.ceil(treated * 10 / 9) == 2355
    # no positive uplift, or a share past 1: no sample size
    assert bc.sample_size(0.05, 0.0, 0.1) is None and bc.sample_size(0.95, 0.10, 0.1) is None
    assert bc.sample_size(None, 0.05, 0.1) is None


@pytest.mark.parametrize("h, control_share, alpha, power", [
    (0.2, 0.5, 0.05, 0.8), (0.05, 0.1, 0.05, 0.8), (0.5, 0.2, 0.01, 0.9), (0.3, 0.5, 0.05, 0.2)])
def test_sample_sizes_have_exactly_the_power_statsmodels_computes(h, control_share, alpha, power) -> None:
    # statsmodels' NormalIndPower.power (the definition the plan follows) at the solved sizes
    # gives back the asked power; its own solve_power stops at a looser tolerance (at n = 100,000,
    # 20% control, it returns h = 0.0221466, of power 0.79994, where 0.0221484 has 0.8)
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    ratio = control_share / (1 - control_share)
    treated = bc.treated_needed(h, control_share, alpha, power)
    assert NormalIndPower().power(h, treated, alpha, ratio=ratio) == pytest.approx(power, abs=1e-12)
    solved = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio)
    assert treated == pytest.approx(solved, rel=1e-7)
    n = 100_000
    t, c = bc.split(n, control_share)
    rise = bc.detectable_uplift(0.02, n, control_share, alpha, power)
    h_rise = proportion_effectsize(0.02 + rise, 0.02)
    assert NormalIndPower().power(h_rise, t, alpha, ratio=c / t) == pytest.approx(power, abs=1e-12)
    assert bc.effect_size(0.3, 0.2) == pytest.approx(proportion_effectsize(0.3, 0.2), abs=1e-15)


def test_detectable_uplift_inverts_the_sample_size() -> None:
    # a list of exactly the size needed for +5 points from 5% detects +5 points (up to the rounding up)
    n = bc.sample_size(0.05, 0.05, 0.5)
    assert 0.0499 < bc.detectable_uplift(0.05, n, 0.5) <= 0.05
    # a list half that size can only verify a larger rise
    assert bc.detectable_uplift(0.05, n // 2, 0.5) > 0.06


# ---- the plan on the tiny shop (conftest: O1 c1 01-10 1000, O2 c2 01-20 2500, O3 c1 02-05 1500,
# O4 c3 04-01 3000, O5 c1 04-30 500; as of 2024-05-01) ----------------------------------------

@pytest.fixture()
def tiny_seg(tmp_path: Path):
    folder = write_tiny_processed_dir(tmp_path / "tiny")
    return segment_customers(folder / "orders.parquet", D(2024, 5, 1))


def test_plan_of_the_tiny_shop_by_hand(tiny_seg) -> None:
    # ladder stage 1 now (one purchase within 90 days): c3 (04-01). 90 days back (2024-02-01):
    # c1 (01-10) and c2 (01-20) were stage 1; since then c1 bought (02-05, 04-30), c2 did not:
    # baseline 1 / 2. Value: c3's revenue per order, 3,000.
    plan = Plan(control_share=0.25, measures=[
        PlanMeasure(name="F2", segment="ladder:stage1", uplift=(0.1, 0.3), cost_per_contact=100)])
    frame = plan_mod.plan_measures(tiny_seg, plan, [], 0.5, 240, min_customers=1)
    r = frame.iloc[0]
    assert (r["customers"], r["treated"], r["control"]) == (1, 1, 0)  # 1 x 0.25 rounds to 0
    assert (r["baseline"], r["baseline_n"], r["value"]) == (0.5, 2, 3000.0)
    # uplift 0.1-0.3, middle 0.2: revenue 1 x 0.2 x 3,000 = 600, gross profit 300, cost 100, ROI 2
    assert (r["uplift"], r["uplift_source"]) == (pytest.approx(0.2), "assumed")
    assert (r["revenue_low"], r["revenue"], r["revenue_high"]) == pytest.approx((300.0, 600.0, 900.0))
    assert (r["profit"], r["cost"], r["roi"]) == pytest.approx((300.0, 100.0, 2.0))
    assert r["break_even"] == pytest.approx(100 / (1 * 3000 * 0.5))
    # 50% -> 70%: h = 2 (asin sqrt .7 - asin sqrt .5) = 0.411517; at a 25% control (1 per 3 treated)
    # treated = 7.848879 (1 + 3) / h^2 = 185.4, list = 185.4 x 4/3 = 247.2 -> 248: 1 is too few
    h = 2 * (math.asin(math.sqrt(0.7)) - math.asin(math.sqrt(0.5)))
    assert r["needed"] == math.ceil((Z_A + Z_B) ** 2 * 4 / h ** 2 * 4 / 3) == 248
    assert not r["verifiable"]
    # on the page: gross profit 150 to 450 (300-900 revenue x 0.5), ROI (150-100)/100 = 50% to
    # (450-100)/100 = 350%, break-even 100 / 1,500 = +6.7 pt; the uplift labelled an assumption
    row = plan_report.plan_table(frame, tiny_seg, "en", "JPY").iloc[0]
    assert (row["Expected gross profit"], row["ROI"], row["Break-even uplift"]) == \
        ("¥150 to ¥450", "50% to 350%", "+6.7 pt")
    assert row["Expected uplift"] == "+10.0 pt to +30.0 pt (assumption)" and row["Buying without it (90 days)"] == "50.0%"
    assert "¥300 of gross profit for a cost of ¥100 (ROI 200%)" in plan_report.plan_takeaway(frame, "en", "JPY")
    # its headline figures fit the strategy section's metrics model (record_metrics checks it)
    from crmlib.metrics import check_section, plain

    recorded = plain(plan_report.plan_metrics(frame))
    check_section("strategy", {"plan": recorded})
    assert (recorded["best"]["name"], recorded["gross_profit"], recorded["roi"]) == ("F2", 300.0, 2.0)
    # the baseline rests on 2 customers: below a floor of 30 it is unknown, and so is the sample size
    floor = plan_mod.plan_measures(tiny_seg, plan, [], 0.5, 240, min_customers=30).iloc[0]
    assert floor["baseline"] is None or pd.isna(floor["baseline"])
    assert pd.isna(floor["needed"]) and floor["profit"] == pytest.approx(300.0)


def test_a_verified_trial_gives_the_uplift_and_an_unclear_one_falls_back(tiny_seg) -> None:
    def effect(low: float, diff: float, high: float) -> pd.DataFrame:
        frame = pd.DataFrame([{"outcome": "bought", "n_treated": 500, "n_control": 500, "treated": 0.3,
                               "control": 0.3 - diff, "difference": diff, "low": low, "high": high, "p": 0.01}])
        frame.attrs["name"] = "trial"
        return frame

    measure = PlanMeasure(name="F2", segment="ladder:stage1", experiment="trial", uplift=(0.01, 0.02))
    plan = Plan(measures=[measure])
    verified = plan_mod.plan_measures(tiny_seg, plan, [effect(0.02, 0.05, 0.08)], None, 240, 1).iloc[0]
    assert (verified["uplift_low"], verified["uplift"], verified["uplift_high"], verified["uplift_source"]) == \
        (0.02, 0.05, 0.08, "verified")
    unclear = plan_mod.plan_measures(tiny_seg, plan, [effect(-0.01, 0.02, 0.05)], None, 240, 1).iloc[0]
    assert (unclear["uplift"], unclear["uplift_source"], unclear["trial_status"]) == \
        (pytest.approx(0.015), "assumed", "unclear")
    missing = plan_mod.plan_measures(tiny_seg, plan, [], None, 240, 1).iloc[0]
    assert missing["trial_status"] == "missing"
    text = " ".join(plan_report.plan_notes(plan_mod.plan_measures(tiny_seg, plan, [effect(-0.01, 0.02, 0.05)],
                                                                  None, 240, 1), "en"))
    assert "The trial trial has not verified an effect" in text


def test_degrade_paths_say_which_settings_complete_the_plan(tiny_seg) -> None:
    # no margin, no cost, no uplift: no profit, ROI or break-even; the notes name the YAML keys,
    # and those sentences are the consultant's (they name a setting), never the client's
    plan = Plan(measures=[PlanMeasure(name="A", segment="ladder:stage1", uplift=(0.1, 0.3)),
                          PlanMeasure(name="B", segment="cpm:first", cost_per_contact=50)])
    frame = plan_mod.plan_measures(tiny_seg, plan, [], None, 240, 1)
    assert frame[["profit", "roi", "break_even"]].isna().all().all()
    notes = plan_report.plan_notes(frame, "en")
    no_margin, no_cost, no_uplift = notes[:3]
    assert "ltv.gross_margin" in no_margin and "revenue (not profit)" in no_margin
    assert no_cost.startswith("A: no cost") and "cost_per_contact" in no_cost
    assert no_uplift.startswith("B: no expected uplift") and "strategy.plan.measures" in no_uplift
    for text in (no_margin, no_cost, no_uplift):
        last = text.rsplit(". ", 1)[1]
        assert names_setting(last), last  # routed to the consultant notes
    # the client keeps a plain first sentence of each
    assert not names_setting(no_margin.split(". ")[0])
    # A has revenue but no cost, B a cost but no uplift: nothing is complete
    assert plan_report.plan_takeaway(frame, "en", "JPY").startswith("2 measures reach")
    assert "No measure has both" in plan_report.plan_takeaway(frame, "en", "JPY")
    # with a cost and an uplift but no margin: revenue, said to be revenue, no ROI
    plan = Plan(measures=[PlanMeasure(name="A", segment="ladder:stage1", uplift=(0.1, 0.3), cost_per_contact=100)])
    frame = plan_mod.plan_measures(tiny_seg, plan, [], None, 240, 1)
    text = plan_report.plan_takeaway(frame, "en", "JPY")
    assert "¥600 of revenue for a cost of ¥100" in text and "revenue, not profit" in text
    table = plan_report.plan_table(frame, tiny_seg, "en", "JPY")
    assert "Expected revenue (not profit)" in table.columns and table.iloc[0]["ROI"] == "—"
    # the same in Japanese: the key is named, the figures are revenue
    assert "ltv.gross_margin" in plan_report.plan_notes(frame, "ja")[0]


def test_too_few_customers_is_said_plainly() -> None:
    frame = pd.DataFrame([{**{c: None for c in plan_mod.PLAN_COLUMNS}, "name": "DM", "customers": 100,
                           "baseline": 0.05, "uplift": 0.05, "needed": 848, "needed_even": 848, "verifiable": False,
                           "detectable": 0.12, "uplift_source": "assumed", "cost": 1.0, "trial_status": "none"}])
    frame.attrs.update(horizon=90, control_share=0.5, margin=0.4)
    note = plan_report.plan_notes(frame, "en")[-1]
    # 848 / 100 = 8.48 -> 9 rounds of 90 days = 810 days: more than a year, so pool it
    assert note.startswith("DM: too few customers to verify a rise of 5.0 pt") and "848" in note
    assert "together with a similar measure" in note and "rounds" not in note and not names_setting(note)
    frame.loc[0, "customers"] = 300  # 848 / 300 -> 3 rounds of 90 days
    note = plan_report.plan_notes(frame, "en")[-1]
    assert "Run it for 3 rounds of 90 days" in note


# ---- customers due for their next purchase, and the lists ------------------------------------

def _orders(path: Path, rows: list[tuple[str, str, dt.datetime, float]]) -> Path:
    full = [(o, c, ts, amount, 1.0, 1, "web", "completed", "x", None, None) for o, c, ts, amount in rows]
    pq.write_table(_table(full, ORDERS_SCHEMA), path)
    return path


@pytest.fixture()
def due_shop(tmp_path: Path) -> Path:
    T = dt.datetime
    # "=due": 01-01, 01-11, 01-21 (gaps 10, 10: cycle 10), 15 days since on 02-05 -> due
    # "fresh": 01-01, 01-21, 02-01 (gaps 20, 11: median 15.5), 4 days since -> not yet
    # "two": only 2 purchase days -> no own cycle; "old": cycle 10 but 400 days since -> lapsed
    rows = [("o1", "=due", T(2024, 1, 1), 100.0), ("o2", "=due", T(2024, 1, 11), 100.0),
            ("o3", "=due", T(2024, 1, 21), 100.0),
            ("o4", "fresh", T(2024, 1, 1), 50.0), ("o5", "fresh", T(2024, 1, 21), 50.0),
            ("o6", "fresh", T(2024, 2, 1), 50.0),
            ("o7", "two", T(2024, 1, 1), 10.0), ("o8", "two", T(2024, 1, 20), 10.0),
            ("o9", "old", T(2022, 12, 1), 10.0), ("o10", "old", T(2022, 12, 11), 10.0),
            ("o11", "old", T(2022, 12, 21), 10.0)]
    folder = tmp_path / "due"
    folder.mkdir()
    _orders(folder / "orders.parquet", rows)
    return folder


def test_due_customers_by_hand(due_shop: Path) -> None:
    assert plan_mod.due_customers(due_shop / "orders.parquet", D(2024, 2, 5), 240).tolist() == ["=due"]
    # on 01-25 "=due" is 4 days past its last purchase, short of its 10-day cycle
    assert plan_mod.due_customers(due_shop / "orders.parquet", D(2024, 1, 25), 240).tolist() == []


def test_lists_and_workbook_are_guarded(due_shop: Path, tmp_path: Path) -> None:
    seg = segment_customers(due_shop / "orders.parquet", D(2024, 2, 5))
    settings = load_settings({"plan": {"control_share": 0.25, "measures": [
        {"name": "=HYPERLINK(\"x\")", "segment": "due:replenishment", "uplift": [0.05, 0.1], "cost_per_contact": 10,
         "owner": "CRM担当", "start": "2024-02-10"},
        {"name": "stage 1", "segment": "ladder:stage1"}]}})
    written = write_plan_exports(seg, settings, tmp_path / "exports", lang="en")
    names = [p.name for p in written]
    assert names == ["plan_01_due_replenishment.csv", "plan_02_ladder_stage1.csv", WORKBOOK]
    raw = (tmp_path / "exports" / names[0]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # BOM, CRLF like the segment lists
    listed = pd.read_csv(tmp_path / "exports" / names[0], encoding="utf-8-sig", dtype=str)
    assert listed.columns.tolist() == ["customer_id", "group", "purchases", "orders", "revenue", "last_order",
                                       "recency_days"]
    assert listed["customer_id"].tolist() == ["'=due"]  # the formula guard
    assert listed["group"].isin(["treated", "control"]).all()
    # the list is an experiment file the next report verifies (strategy.experiments with measure_date)
    from crmlib.strategy.settings import Experiment
    from crmlib.strategy.verification import read_groups

    groups = read_groups(Experiment(name="x", file=tmp_path / "exports" / names[0], measure_date=D(2024, 2, 10)))
    assert groups["customer_id"].tolist() == ["'=due"] and groups["group"].tolist() == listed["group"].tolist()
    book = openpyxl.load_workbook(tmp_path / "exports" / WORKBOOK)
    plan_sheet = book[book.sheetnames[0]]
    header = [c.value for c in plan_sheet[1]]
    first = dict(zip(header, [c.value for c in plan_sheet[2]]))
    assert first["Measure"] == "'=HYPERLINK(\"x\")"  # a measure name from YAML cannot become a formula
    assert (first["Owner"], first["Start"], first["Uplift from"]) == ("CRM担当", "2024-02-10", "assumption")
    assert not first["End"] and not first["Progress and notes"]  # to fill in
    assert first["Target list"] == "plan_01_due_replenishment.csv" and first["Customers"] == 1
    assert (first["Uplift (low)"], first["Uplift (high)"], first["Cost"]) == (0.05, 0.1, 10)  # 1 x 0.25 rounds to no control: 1 contacted x 10
    # the list's sheet follows the plan sheet; no e-mail, phone or name column anywhere
    assert len(book.sheetnames) == 3
    assert not {"email", "phone", "name"} & {str(c.value).lower() for s in book for c in s[1]}


def test_control_groups_are_reproducible_and_sized() -> None:
    ids = pd.Series([f"c{i}" for i in range(1000)])
    groups = plan_mod.assign_groups(ids, "F2", 0.1)
    assert (groups == "control").sum() == 100
    assert groups.equals(plan_mod.assign_groups(ids, "F2", 0.1))  # the same list twice, the same hold-out
    assert not groups.equals(plan_mod.assign_groups(ids, "DM", 0.1))  # another measure, another draw


def test_control_group_is_the_lowest_hashes_whatever_the_chunks(monkeypatch) -> None:
    # the definition: rank every id of the list by the hash of id + measure (stable), hold out the
    # lowest control_share; hashing a chunk at a time must not change who is held out
    ids = pd.Series([f"c{i:04d}" for i in range(1000)], dtype="str")
    keys = pd.util.hash_pandas_object(ids + "\x1f" + "F2", index=False).to_numpy()
    ranks = np.argsort(np.argsort(keys, kind="stable"), kind="stable")
    monkeypatch.setattr(plan_mod, "HASH_CHUNK", 7)
    held_out = plan_mod.control_rows(ids, "F2", 0.1)
    assert held_out.sum() == 100 and (held_out == (ranks < 100)).all()


def test_plan_vs_actual_reads_matching_log_rows() -> None:
    frame = pd.DataFrame({"name": ["F2 mail", "DM"], "treated": [900, 150], "cost": [18_000.0, None]})
    summary = pd.DataFrame({"measure": [" F2 mail ", "newsletter"], "volume": [950.0, 5000.0],
                            "cost": [19_000.0, 1000.0], "runs": [2, 10]})
    both = plan_mod.plan_vs_actual(frame, summary)
    assert both.to_dict("records") == [{"name": "F2 mail", "volume_plan": 900, "volume_actual": 950.0,
                                        "cost_plan": 18_000.0, "cost_actual": 19_000.0, "runs": 2}]
    assert plan_mod.plan_vs_actual(frame, summary.iloc[1:]).empty


# ---- settings and the summary finding ---------------------------------------------------------

def test_plan_settings_are_validated() -> None:
    with pytest.raises(Exception, match="uplift is \\[low, high\\]"):
        load_settings({"plan": {"measures": [{"name": "x", "segment": "ladder:stage1", "uplift": [0.05, 0.01]}]}})
    with pytest.raises(Exception, match="segment"):
        load_settings({"plan": {"measures": [{"name": "x", "segment": "everyone"}]}})
    with pytest.raises(Exception, match="Extra inputs"):
        load_settings({"plan": {"budget": 1}})
    assert load_settings({}).plan.horizon_days == 90 and load_settings({}).plan.control_share == 0.10


def test_an_unknown_class_names_the_classes(tiny_seg) -> None:
    from crmlib.errors import ConfigError

    with pytest.raises(ConfigError, match="ladder:stage1"):
        plan_mod.plan_measures(tiny_seg, Plan(measures=[PlanMeasure(name="x", segment="ladder:stage9")]), [],
                               None, 240, 1)


def _summary(metrics: dict, lang: str = "en"):
    from crmlib.report.settings import ReportSettings
    from crmlib.report.summary import executive_summary

    return {f.rule: f for f in executive_summary(metrics, ReportSettings(max_findings=12), lang=lang, currency="JPY")}


def test_the_plan_finding_needs_profit_and_customers() -> None:
    best = {"name": "F2 mail", "customers": 1613, "gross_profit": 352_824.0, "cost": 59_040.0, "roi": 4.976,
            "uplift_source": "verified", "revenue": 882_060.0}
    metrics = {"coverage": {"min_customers": 30}, "strategy": {"plan": {"best": best}}}
    found = _summary(metrics)["strategy_plan"]
    assert "F2 mail" in found.text and "¥352.8K" in found.text and "ROI 497.6%" in found.text  # 4.976 = 497.6%
    assert "verified" in found.text and found.headline == "¥352.8K"
    assert "試験" in _summary(metrics, "ja")["strategy_plan"].text
    for change in ({"gross_profit": None}, {"roi": -0.2}, {"customers": 12}, {"customers": 0}):
        metrics["strategy"]["plan"]["best"] = {**best, **change}
        assert "strategy_plan" not in _summary(metrics), change


def test_list_membership_marks_exactly_the_listed_ids() -> None:
    # is_in (one Arrow pass) marks the customers on a list as pandas' isin does: ids as text,
    # "01" is not "1", every repeat of a listed id is marked, from a Series or a set
    customers = pd.Series(["a", "01", "b", "a", "1"], dtype="str")
    assert plan_mod.is_in(customers, {"a", "1", "zz"}).tolist() == [True, False, False, True, True]
    assert plan_mod.is_in(customers, pd.Series(["01"], dtype="str")).tolist() == [False, True, False, False, False]
    assert plan_mod.is_in(customers, set()).tolist() == [False] * 5


# ---- the lists at scale: the same lists and baselines as the frame-by-frame definitions ---------------

PLAN_SEGMENTS = ["ladder:stage1", "ladder:lapsed", "cpm:top_lapsed", "cpm:first", "rfm:at_risk", "rfm:champions",
                 "due:replenishment"]


def test_baselines_and_lists_equal_the_frame_definitions(simulated_orders, tmp_path: Path) -> None:
    # the list source works on masks over the as-of customers (start codes, last orders); the
    # definition it replaced classified every customer again on the earlier day and read who
    # bought since from the orders: both are written out here with pandas and must agree exactly
    from crmlib.safe_cells import neutralise_frame
    from crmlib.store.segments.classify import classify_on
    from crmlib.store.segments.migration import SCHEME_COLUMNS

    path, as_of = simulated_orders
    seg = segment_customers(path, as_of)
    source = plan_mod.ListSource(seg, 90, seg.settings.ladder.lapse_days)
    then = classify_on(seg, source.then_day)
    orders = pd.read_parquet(path, columns=["customer_id", "ordered_at"])
    orders = orders[(orders["ordered_at"] < pd.Timestamp(as_of)) & orders["customer_id"].notna()]
    buyers = set(orders.loc[orders["ordered_at"] >= pd.Timestamp(source.then_day), "customer_id"])
    c = seg.customers
    for segment in PLAN_SEGMENTS:
        if segment == plan_mod.DUE:
            now = set(plan_mod.due_customers(path, as_of, source.lapse_days))
            earlier = list(plan_mod.due_customers(path, source.then_day, source.lapse_days))
        else:
            scheme, key = segment.split(":")
            column = SCHEME_COLUMNS[scheme]
            now = set(c.loc[c[column].astype(str) == key, "customer_id"])
            earlier = then.loc[then[column].astype(str) == key, "customer_id"].tolist()
        assert len(earlier) >= 5, segment  # the sample populates every list a year back
        assert set(source.members(segment)) == now, segment
        share = sum(i in buyers for i in earlier) / len(earlier)
        assert source.baseline(segment, 1) == (pytest.approx(share, abs=1e-12), len(earlier)), segment
        rows = c[c["customer_id"].isin(now)]
        assert source.value(source.rows(segment)) == pytest.approx(rows["revenue"].sum() / rows["orders"].sum())

    # the CSVs DuckDB writes are byte for byte those pandas wrote from the list frames
    measures = [{"name": f"m{i}", "segment": s} for i, s in enumerate(PLAN_SEGMENTS)]
    settings = load_settings({"plan": {"control_share": 0.2, "measures": measures}})
    written = write_plan_exports(seg, settings, tmp_path, lang="en")
    for measure, written_path in zip(settings.plan.measures, written):
        rows = c[c["customer_id"].isin(set(source.members(measure.segment)))]
        frame = pd.DataFrame({
            "customer_id": rows["customer_id"].astype("str"),
            "purchases": rows["purchases"].astype("int64"), "orders": rows["orders"].astype("int64"),
            "revenue": rows["revenue"].astype("float64").round(2),
            "last_order": pd.to_datetime(rows["last_order"]).dt.strftime("%Y-%m-%d"),
            "recency_days": rows["recency_days"].astype("int64"),
        })
        frame.insert(1, "group", plan_mod.assign_groups(frame["customer_id"], measure.name, 0.2))
        frame = frame.sort_values(["revenue", "customer_id"], ascending=[False, True], kind="stable")
        expected = neutralise_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
        assert written_path.read_bytes() == expected, measure.segment
        assert len(frame) > 0
