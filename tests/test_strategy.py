"""The strategy chapter: hand-worked cases for every figure, and the sample shop's trial effect recovered.

Every expected number below is worked out by hand in the comments or computed independently
with pandas from the same orders, never copied from the code's output.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmlib.diagnosis import open_purchases
from crmlib.store.purchases import Span
from crmlib.errors import ConfigError, DataError
from crmlib.segments import segment_customers
from crmlib.strategy import goals, inputs, nps, targets, verification
from crmlib.strategy.journey import journey_data
from crmlib.strategy.settings import Experiment, Goal, Journey, Measure, StrategySettings
from crmlib.strategy.service import service_plan
from crmlib.strategy.tree import kpi_values

from conftest import ORDERS_SCHEMA, _table

D = dt.date


# ---- the KPI tree (tiny case of conftest: O1 c1 01-10 1000, O2 c2 01-20 2500, O3 c1 02-05 1500,
# O4 c3 04-01 3000, O5 c1 04-30 500) ----------------------------------------------------------

def test_tree_of_the_last_two_months(tiny_processed_dir: Path) -> None:
    # March-April 2024: c3 new (O4 3000), c1 existing (O5 500)
    with open_purchases(tiny_processed_dir / "orders.parquet", D(2024, 5, 1)) as p:
        v = kpi_values(p, Span(D(2024, 3, 1), D(2024, 5, 1)), f2_window=90)
    assert (v["new_customers"], v["new_orders"], v["new_revenue"]) == (1, 1, 3000.0)
    assert (v["existing_customers"], v["existing_orders"], v["existing_revenue"]) == (1, 1, 500.0)
    assert v["revenue"] == pytest.approx(1 * 1 * 3000.0 + 1 * 1 * 500.0)
    assert v["f2_eligible"] == 0 and v["f2_rate"] is None  # 2024-04-01 + 90 days is after May 1


def test_tree_f2_rate_counts_only_complete_windows(tiny_processed_dir: Path) -> None:
    # January-April: all three are new; with a 30-day window c1 (01-10 -> 02-05, 26 days) and
    # c2 (01-20, never again) are eligible, c3 (04-01 + 30 = 05-01) is not: F2 = 1 / 2
    with open_purchases(tiny_processed_dir / "orders.parquet", D(2024, 5, 1)) as p:
        v = kpi_values(p, Span(D(2024, 1, 1), D(2024, 5, 1)), f2_window=30)
    assert (v["new_customers"], v["new_orders"], v["new_revenue"], v["existing_customers"]) == (3, 5, 8500.0, 0)
    assert (v["f2_eligible"], v["f2_converted"], v["f2_rate"]) == (2, 1, 0.5)
    assert v["new_frequency"] == pytest.approx(5 / 3) and v["new_aov"] == pytest.approx(1700.0)


# ---- goals: pure arithmetic -------------------------------------------------------------------

def test_pace_per_year_and_assessment() -> None:
    assert goals.per_year("revenue", 0.21, 24) == pytest.approx(0.10)  # 1.21 ** 0.5 - 1
    assert goals.per_year("f2_rate", 0.05, 6) == pytest.approx(0.10)  # points scale linearly
    assert goals.feasibility(0.10, 0.15) == "within"
    assert goals.feasibility(0.20, 0.15) == "stretch"  # 0.20 <= 1.5 x 0.15
    assert goals.feasibility(0.30, 0.15) == "beyond"
    assert goals.feasibility(-0.01, 0.15) == "met"
    assert goals.feasibility(0.10, None) == "unknown"
    assert goals.feasibility(0.10, -0.05) == "beyond"  # the shop never grew
    assert goals.goal_target(Goal(metric="revenue", change=0.1), 100.0) == pytest.approx(110.0)
    assert goals.goal_target(Goal(metric="revenue", increase=5), 100.0) == pytest.approx(105.0)
    assert goals.change("repeat_rate", 0.30, 0.25) == pytest.approx(0.05)


def test_a_goal_needs_exactly_one_form() -> None:
    with pytest.raises(ValueError, match="exactly one of target, change or increase"):
        Goal(metric="revenue", target=10, change=0.1)
    with pytest.raises(ValueError, match="share between 0 and 1"):
        Goal(metric="f2_rate", target=30)


@pytest.fixture(scope="module")
def three_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One order a month by a new customer each: 100 a month in 2021 and 2022, 150 in 2023."""
    rows = []
    for year, amount in ((2021, 100.0), (2022, 100.0), (2023, 150.0)):
        for month in range(1, 13):
            rows.append((f"O{year}{month:02d}", f"c{year}{month:02d}", dt.datetime(year, month, 1, 12), amount,
                         1.0, 1, "web", "completed", "x", None, None))
    path = tmp_path_factory.mktemp("three_years") / "orders.parquet"
    pq.write_table(_table(rows, ORDERS_SCHEMA), path)
    return path


def test_goal_plan_against_the_history(three_years: Path) -> None:
    # baseline = 2023 revenue 12 x 150 = 1800; the one year-on-year change with a year of data
    # before both periods is 2023 vs 2022: 1800 / 1200 - 1 = +50%. Deadline a year after as_of.
    goal_list = [Goal(metric="revenue", target=2520, deadline=D(2025, 1, 1)),  # +40%: within
                 Goal(metric="revenue", target=3000, deadline=D(2025, 1, 1)),  # +66.7%: <= 75%, stretch
                 Goal(metric="revenue", target=3600, deadline=D(2025, 1, 1)),  # +100%: beyond
                 Goal(metric="orders", target=12, deadline=D(2025, 1, 1))]     # already there
    with open_purchases(three_years, D(2024, 1, 1)) as p:
        history = goals.metric_history(p, 12)
        plan = goals.goal_plan(p, goal_list, 12, history=history)
    assert history["end"].iloc[0] == D(2024, 1, 1) and history["end"].iloc[-1] == D(2023, 1, 1)
    assert len(history) == 13  # 2023-01-01 .. 2024-01-01; earlier ends lack a year before them
    assert plan["baseline"].tolist()[:3] == [1800.0] * 3
    assert plan["largest_yoy"].iloc[0] == pytest.approx(0.5)
    months = 366 / (365.25 / 12)  # 2024 is a leap year
    assert plan["required_per_year"].iloc[0] == pytest.approx(1.4 ** (12 / months) - 1)
    assert plan["feasibility"].tolist() == ["within", "stretch", "beyond", "met"]
    assert plan["gap"].iloc[0] == pytest.approx(720.0)


def test_goal_history_is_the_latest_period_without_goals(three_years: Path) -> None:
    # without goals only the baseline is shown: the latest period (2023 revenue 12 x 150 = 1800),
    # not the 13 month-ends the goals' feasibility reads; with goals the whole history
    with open_purchases(three_years, D(2024, 1, 1)) as p:
        alone = goals.goal_history(p, [], 12)
        full = goals.goal_history(p, [Goal(metric="revenue", change=0.1)], 12)
        current = goals.current_values(p, 12, 90, alone)
    assert len(alone) == 1 and alone["end"].iloc[0] == D(2024, 1, 1) and alone["revenue"].iloc[0] == 1800.0
    assert len(full) == 13
    assert current == full.iloc[0].to_dict()


def test_revenue_levers_close_the_gap(three_years: Path) -> None:
    # 2023: 12 orders of 150 by 12 new customers; gap 700
    with open_purchases(three_years, D(2024, 1, 1)) as p:
        values = kpi_values(p, Span(D(2023, 1, 1), D(2024, 1, 1)), 90)
    levers = goals.revenue_levers(values, 700.0).set_index("lever")
    assert levers.loc["orders", "delta"] == pytest.approx(700 / 150)
    assert levers.loc["aov", "needed"] == pytest.approx(150 * (1 + 700 / 1800))
    assert levers.loc["new_customers", "delta"] == pytest.approx(700 / 150)
    assert levers.loc["f2_points", "delta"] == pytest.approx(700 / 150 / 12)
    assert "existing_frequency" not in levers.index  # no existing customers in 2023



def test_revenue_levers_need_new_and_existing_told_apart(three_years: Path) -> None:
    """A period that starts inside the data's first look-back (observed_from after its start) has
    no new-customer, F2 or existing-frequency lever: its "new" customers may be old accounts. The
    sentence then gives the orders alone, never "0 new customers" or "— points"."""
    from crmlib.strategy import report

    with open_purchases(three_years, D(2024, 1, 1)) as p:
        p.observed_from = D(2023, 6, 1)  # 2023 starts before it
        values = kpi_values(p, Span(D(2023, 1, 1), D(2024, 1, 1)), 90)
    assert values["split_observable"] is False
    levers = goals.revenue_levers(values, 700.0)
    assert levers["lever"].tolist() == ["orders", "aov"]
    assert levers.set_index("lever").loc["orders", "delta"] == pytest.approx(700 / 150)
    text = report.levers_takeaway(levers, values, 700.0, "ja", "JPY")
    assert text == "700円のギャップを埋めるには、現状の客単価150円で注文を5件上積みする必要があります。"


# ---- journey and service ----------------------------------------------------------------------

def test_journey_rows_of_the_tiny_case(tiny_processed_dir: Path) -> None:
    as_of = D(2024, 5, 1)
    seg = segment_customers(tiny_processed_dir / "orders.parquet", as_of, {})
    journey = Journey(conversion_window_days=30)
    with open_purchases(tiny_processed_dir / "orders.parquet", as_of) as p:
        data = journey_data(p, seg, journey, tiny_processed_dir / "order_lines.parquet").set_index("stage")
    # first purchases with 30 days seen: c1 (back after 26 days), c2 (never) -> 1 / 2
    assert (data.loc["first_purchase", "eligible"], data.loc["first_purchase", "converted"]) == (2, 1)
    # c1's second purchase (02-05) is followed by the third only after 85 days -> 0 / 1
    assert (data.loc["second_purchase", "eligible"], data.loc["second_purchase", "converted"]) == (1, 0)
    # first orders: 煎茶 in O1, O2 and O4; 玉露 (O4) and 羊羹 (O2) once, tie broken by name
    assert data.loc["first_purchase", "products"] == ["煎茶", "玉露", "羊羹"]
    assert data.loc["first_purchase", "next_median"] == pytest.approx(26.0)
    plan = service_plan([Measure(stage="first_purchase", measure="thanks"),
                         Measure(stage="second_purchase", measure="remind", timing_days=20, cost=10)],
                        data.reset_index(), lapse_days=240)
    assert plan["timing_days"].tolist() == [0, 20] and plan["timing_source"].tolist() == ["data", "yaml"]
    # cost of one round: 10 per contact x customers at the second-purchase stage now
    assert plan["cost_now"].iloc[1] == 10 * data.loc["second_purchase", "customers"]


# ---- targets: the backtest value computed independently -----------------------------------------

def test_class_values_match_an_independent_backtest(tmp_path: Path) -> None:
    from crmlib.ingest import ingest_file
    from crmlib.sample import write_sample
    from crmlib.store.segments.classify import classify_on

    sample = write_sample(tmp_path / "orders.csv", n_customers=3000)
    result = ingest_file(sample, preset="generic", out_dir=tmp_path / "processed")
    orders_path = result.out_dir / "orders.parquet"
    seg = segment_customers(orders_path, result.as_of, {})
    got = targets.class_values(seg, "ladder").set_index("class")
    start = (pd.Timestamp(result.as_of) - pd.DateOffset(months=12)).date()
    orders = pd.read_parquet(orders_path)
    spent = orders[orders["ordered_at"] >= pd.Timestamp(start)].groupby("customer_id")["amount"].sum()
    then = classify_on(seg, start)
    then["spent"] = then["customer_id"].map(spent).fillna(0.0)
    expected = then.groupby(then["ladder"].astype(str))["spent"].mean()
    for key, value in expected.items():
        assert got.loc[key, "value"] == pytest.approx(value), key
    assert got["basis"].eq("backtest").all()
    values = targets.target_values(seg, [StrategySettings.model_validate(
        {"targets": [{"segment": "ladder:stage1", "move_share": 0.2}]}).targets[0]])
    row = values.iloc[0]
    assert row["next_key"] == "stage2"
    assert row["gain"] == pytest.approx(0.2 * row["customers"] * (expected["stage2"] - expected["stage1"]))
    with pytest.raises(ValueError, match="not a ladder class"):
        targets.target_values(seg, [StrategySettings.model_validate({"targets": [{"segment": "ladder:gold"}]}).targets[0]])


# ---- effect verification ----------------------------------------------------------------------

def _orders_file(path: Path, rows: list[tuple[str, str, dt.datetime, float]]) -> Path:
    full = [(o, c, ts, amount, 1.0, 1, "web", "completed", "x", None, None) for o, c, ts, amount in rows]
    pq.write_table(_table(full, ORDERS_SCHEMA), path)
    return path


def test_treated_vs_control_by_hand(tmp_path: Path) -> None:
    sent = dt.datetime(2024, 3, 1)
    orders = _orders_file(tmp_path / "orders.parquet", [
        ("A1", "t1", sent - dt.timedelta(days=5), 200.0),   # t1 bought before ...
        ("A2", "t1", sent + dt.timedelta(days=10), 100.0),  # ... and 10 days after: bought
        ("B1", "t2", sent - dt.timedelta(days=40), 50.0),   # t2 only before
        ("C1", "k1", sent - dt.timedelta(days=3), 80.0),    # control k1 only before
        ("C2", "k2", sent + dt.timedelta(days=70), 90.0),   # control k2 after the 60-day window
        ("D1", "late", dt.datetime(2024, 6, 1), 10.0),
    ])
    groups = pd.DataFrame({"customer_id": ["t1", "t2", "k1", "k2", "ghost", "late"],
                           "group": ["treated", "treated", "control", "control", "control", "treated"],
                           "sent_at": [D(2024, 3, 1)] * 5 + [D(2024, 5, 20)]})
    experiment = Experiment(name="mail", file=Path("unused.csv"), window_days=60)
    outcomes = verification.experiment_outcomes(orders, D(2024, 6, 2), groups, 60)
    effect = verification.compare_groups(outcomes, experiment).set_index("outcome")
    # 'late' (05-20 + 60 days is after as_of) is left out; 'ghost' is in the control as a non-buyer
    assert effect.attrs["incomplete"] == 1 and effect.attrs["unknown"] == 1
    bought = effect.loc["bought"]
    assert (bought["n_treated"], bought["n_control"]) == (2, 3)
    assert bought["treated"] == pytest.approx(0.5) and bought["control"] == pytest.approx(0.0)
    se = math.sqrt(0.5 * 0.5 / 2)  # control share 0 adds nothing
    assert (bought["low"], bought["high"]) == pytest.approx((0.5 - 1.959964 * se, 0.5 + 1.959964 * se))
    # revenue after: treated [100, 0], control [0, 0, 0]
    assert effect.loc["revenue", "difference"] == pytest.approx(50.0)
    # after - before (bought): treated [1-1, 0-1] = [0, -1], control [0-1, 0-0, 0-0] = [-1, 0, 0]
    did = effect.loc["bought_did"]
    assert did["difference"] == pytest.approx(-0.5 - (-1 / 3))
    se_did = math.sqrt(pd.Series([0, -1]).var() / 2 + pd.Series([-1, 0, 0]).var() / 3)
    assert did["high"] - did["difference"] == pytest.approx(1.959964 * se_did, rel=1e-5)



def test_effect_counts_name_only_who_was_left_out() -> None:
    """The comparison's sentence mentions customers left out or ids not found only when there are
    some: never "0 whose window has not ended" (「0人は除いています」)."""
    from crmlib.strategy.report import effect_counts

    effect = pd.DataFrame({"outcome": ["bought"], "n_treated": [1200], "n_control": [300]})
    effect.attrs.update(name="F2 mail", incomplete=0, unknown=0, window=60)
    assert effect_counts(effect, "ja") == "「F2 mail」：実施群1,200人と対照群300人を比較しました。"
    assert effect_counts(effect, "en") == "F2 mail: 1,200 treated and 300 control customers compared."
    effect.attrs.update(incomplete=25, unknown=3)
    ja = effect_counts(effect, "ja")
    assert "比較しました。60日間の観測期間がまだ終わっていない25人は除いています。注文データに見つからないID 3件" in ja
    assert "compared. 25 whose 60-day window has not ended yet are left out. 3 ids not found" in effect_counts(effect, "en")


def test_the_sample_trial_effect_is_recovered(tmp_path: Path) -> None:
    """The generator builds in TRIAL.effect; the verification's 95% interval must hold it."""
    from crmlib.ingest import ingest_file
    from crmlib.sample import STRATEGY_FILES, TRIAL, write_sample

    sample = write_sample(tmp_path / "orders.csv", strategy_inputs=True)
    result = ingest_file(sample, preset="generic", out_dir=tmp_path / "processed")
    experiment = Experiment(name="F2", file=tmp_path / STRATEGY_FILES["trial"], window_days=TRIAL.outcome_days)
    effect = verification.verify_experiment(result.out_dir / "orders.parquet", result.as_of, experiment)
    bought = effect.set_index("outcome").loc["bought"]
    assert bought["low"] < TRIAL.effect < bought["high"]
    assert bought["low"] > 0  # and it is clearly there
    assert bought["n_treated"] + bought["n_control"] + effect.attrs["incomplete"] == effect.attrs["listed"]


def test_experiment_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "groups.csv"
    bad.write_text("customer_id,group\nc1,treated\nc2,mailed\n", encoding="utf-8")
    with pytest.raises(DataError, match="values other than 'treated' and 'control': mailed"):
        verification.read_groups(Experiment(name="x", file=bad, measure_date=D(2024, 1, 1)))
    with pytest.raises(DataError, match="no sent_at column and no measure_date"):
        verification.read_groups(Experiment(name="x", file=bad))
    with pytest.raises(DataError, match="does not exist"):
        verification.read_groups(Experiment(name="x", file=tmp_path / "missing.csv"))


# ---- execution log and NPS --------------------------------------------------------------------

def test_execution_log_summary_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("date,measure,segment,channel,volume,cost\n"
                    "2024-04-01,mail,new,email,\"1,000\",20000\n"
                    "2024/04/08,mail,new,email,500,10000\n"
                    "2024-04-10,dm,lapsed,post,100,9000\n", encoding="cp932")
    log = inputs.read_execution_log(path)
    summary = inputs.execution_summary(log).set_index("measure")
    assert summary.loc["mail", "runs"] == 2 and summary.loc["mail", "volume"] == 1500
    assert summary.loc["mail", "cost_per_contact"] == pytest.approx(30000 / 1500)
    assert summary.index[0] == "mail"  # largest cost first
    path.write_text("date,measure,segment,channel,volume,cost\n2024-13-01,mail,new,email,1,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"column 'date' has 1 value\(s\) that are not dates .*lines 2"):
        inputs.read_execution_log(path)
    path.write_text("date,measure,volume\n2024-01-01,mail,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column segment, channel, cost"):
        inputs.read_execution_log(path)


def test_nps_by_hand() -> None:
    # 2 promoters, 2 passives, 2 detractors of 6: NPS 0; se = sqrt((1/3 + 1/3 - 0) / 6) = 1/3
    result = nps.nps_score(pd.Series([10, 9, 8, 7, 6, 0]))
    assert result["nps"] == pytest.approx(0.0)
    assert result["high"] == pytest.approx(100 * 1.959964 / 3, rel=1e-5)
    # 3 promoters, 1 detractor of 4: NPS 50; se = sqrt((0.75 + 0.25 - 0.25) / 4)
    result = nps.nps_score(pd.Series([10, 10, 10, 0]))
    assert result["nps"] == pytest.approx(50.0)
    assert result["low"] == pytest.approx(50 - 100 * 1.959964 * math.sqrt(0.75 / 4), rel=1e-5)


def test_survey_scores_must_be_0_to_10(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("customer_id,score,comment\nc1,9,良い\nc2,11,\nc3,x,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"'score' has 2 value\(s\) that are not whole numbers from 0 to 10 .*lines 3, 4"):
        nps.read_survey(path)


# ---- configuration ----------------------------------------------------------------------------

def test_strategy_section_is_validated_on_load(tmp_path: Path) -> None:
    from crmlib.config import parse_config

    base = {"name": "x", "data": "orders.csv"}
    with pytest.raises(ConfigError, match=r"unknown key 'strategy.goals.0.deadlin'.*Did you mean 'deadline'"):
        parse_config({**base, "strategy": {"goals": [{"metric": "revenue", "change": 0.1, "deadlin": "2026-01-01"}]}})
    with pytest.raises(ConfigError, match=r"strategy.targets.0.segment"):
        parse_config({**base, "strategy": {"targets": [{"segment": "gold customers"}]}})


def test_missing_strategy_file_names_the_key(tmp_path: Path) -> None:
    from crmlib.config import parse_config
    from crmlib.strategy.settings import report_settings

    config = parse_config({"name": "x", "data": "orders.csv", "strategy": {"nps": {"file": "survey.csv"}}},
                          tmp_path / "client.yaml")
    with pytest.raises(ConfigError, match=r"strategy.nps.file: no such file .*survey.csv"):
        report_settings(config)
    (tmp_path / "survey.csv").write_text("customer_id,score\n", encoding="utf-8")
    settings = report_settings(config)
    assert settings["nps"]["file"] == str((tmp_path / "survey.csv").resolve())
    assert set(settings["context"]) == {"segments", "diagnosis", "ltv"}  # ltv: the plan's and the scenarios' margin (and CPA)


def test_sample_survey_and_log_are_consistent_with_the_trial(tmp_path: Path) -> None:
    from crmlib.sample import TRIAL, generate_sample

    sample = generate_sample(3000)
    trial = sample.trial.to_pandas()
    log = sample.execution_log.to_pandas()
    mails = log[log["measure"].str.startswith("F2")]
    # every treated member gets one mail, logged in the week of sent_at at TRIAL.mail_cost each
    assert mails["volume"].sum() == (trial["group"] == "treated").sum()
    assert (mails["cost"] == mails["volume"] * TRIAL.mail_cost).all()
    scores = sample.survey.to_pandas()["score"]
    assert scores.between(0, 10).all() and len(scores) > 100
    assert pa.types.is_date32(sample.trial.schema.field("sent_at").type)


def test_win_back_row_by_hand(tmp_path: Path) -> None:
    # as_of 2024-01-01, so the win-back year starts 2023-01-01; the ladder lapses after 240 days
    T = dt.datetime
    orders = _orders_file(tmp_path / "orders.parquet", [
        ("A1", "a", T(2022, 1, 10), 100.0), ("A2", "a", T(2023, 3, 1), 100.0),  # lapsed, back (415 days)
        ("B1", "b", T(2022, 2, 1), 100.0),                                     # lapsed, never back
        ("C1", "c", T(2022, 12, 1), 100.0), ("C2", "c", T(2023, 2, 1), 100.0),  # not lapsed on 2023-01-01
        ("D1", "d", T(2023, 5, 1), 100.0),                                     # first bought in the year
    ])
    as_of = D(2024, 1, 1)
    seg = segment_customers(orders, as_of, {})
    with open_purchases(orders, as_of) as p:
        row = journey_data(p, seg, Journey(stages=["lapsed"])).iloc[0]
    assert (row["eligible"], row["converted"], row["conversion"]) == (2, 1, 0.5)
    assert row["next_median"] == pytest.approx(415.0)  # the only gap of 240+ days
    # on as_of every customer is lapsed: one-time buyers after 90 days, repeaters after 240
    assert row["customers"] == 4
