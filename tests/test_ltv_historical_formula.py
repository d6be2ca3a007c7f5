"""Historical and formula LTV on hand-made orders with worked answers.

Historical (tiny case of conftest.py, as_of 2024-05-01, last complete month April):
  Jan cohort c1 (1000 Jan, 1500 Feb, 500 Apr), c2 (2500 Jan); Apr cohort c3 (3000 Apr).
  Jan cohort: month 0 (1000+2500)/2 = 1750, month 1 2500, month 2 2500, month 3 2750.
  All customers: month 0 (1000+2500+3000)/3; from month 1 on only c1 and c2 are observable:
  + 1500/2 in month 1, + 500/2 in month 3.

Formula (two years, as_of 2024-01-01):
  u2 2022-01-01 1000 | u1 2022-03-01 1000, 2023-03-01 2000, 2023-06-01 3000
  u3 2022-07-01 4000, 2023-09-01 1000 | u4 2023-02-01 2000
  last 12 months: 4 orders, 3 customers, 8000 -> AOV 2000, frequency 4/3 a year;
  retention: 2 of the 3 customers of 2022 bought in 2023 -> 2/3, 3 years; LTV 2000 x 4/3 x 3 = 8000.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlib.ltv import historical, tables, text
from crmlib.ltv.formula import formula_inputs, formula_ltv, lever_table, payback, retention_years
from crmlib.store.ltv.settings import LTVSettings

from conftest import ORDERS_SCHEMA, _table

D = dt.datetime


def test_cohort_curves_by_hand(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    curve = historical.cumulative_ltv(orders, "2024-05-01", by="cohort", period="month")
    jan = curve[curve["group"] == pd.Timestamp("2024-01-01")]
    assert jan["revenue_per_customer"].tolist() == [1750.0, 2500.0, 2500.0, 2750.0]
    assert jan["customers"].tolist() == [2, 2, 2, 2]
    apr = curve[curve["group"] == pd.Timestamp("2024-04-01")]
    assert apr["revenue_per_customer"].tolist() == [3000.0]
    everyone = historical.cumulative_ltv(orders, "2024-05-01", by="all")
    assert everyone["revenue_per_customer"].tolist() == pytest.approx(
        [6500 / 3, 6500 / 3 + 750, 6500 / 3 + 750, 6500 / 3 + 1000])
    assert everyone["customers"].tolist() == [3, 2, 2, 2]
    # the curve stops where fewer than half (or fewer than min_customers) are observable
    assert historical.cumulative_ltv(orders, "2024-05-01", by="all", min_share=0.7)["months_since"].tolist() == [0]
    assert historical.cumulative_ltv(orders, "2024-05-01", by="all", min_customers=3)["months_since"].tolist() == [0]
    # April is not over on 2024-04-30: only January..March count
    march = historical.cumulative_ltv(orders, "2024-04-30", by="cohort")
    assert march["revenue_per_customer"].tolist() == [1750.0, 2500.0, 2500.0]


def test_groups_and_periods(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    assert historical.first_purchase_grouping(orders, "2024-05-01") == "first_channel"
    web = historical.cumulative_ltv(orders, "2024-05-01", by="first_channel")
    assert web[web["group"] == "web"]["revenue_per_customer"].tolist() == [1750.0, 2500.0, 2500.0, 2750.0]
    quarter = historical.cumulative_ltv(orders, "2024-05-01", by="cohort", period="quarter")
    assert quarter["group"].drop_duplicates().tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")]
    assert historical.choose_period(orders, "2024-05-01") == "month"
    assert historical.last_complete_month("2024-05-01") == dt.date(2024, 4, 1)
    assert historical.last_complete_month("2024-05-15") == dt.date(2024, 4, 1)


def test_comparisons_by_first_purchase_take_only_observable_customers(tiny_processed_dir):
    # issue 16: first seen from 2024-02-01 only (the coverage model's observed_from): c1 and c2,
    # first seen in January, may be accounts from before the data; they are neither a January
    # cohort nor "web" customers by first purchase. Left: c3 (April, app, 3000).
    orders = tiny_processed_dir / "orders.parquet"
    since = dt.date(2024, 2, 1)
    cohorts = historical.cumulative_ltv(orders, "2024-05-01", by="cohort", period="month", observed_from=since)
    assert cohorts["group"].tolist() == [pd.Timestamp("2024-04-01")]
    assert cohorts["revenue_per_customer"].tolist() == [3000.0] and cohorts["group_customers"].tolist() == [1]
    channels = historical.cumulative_ltv(orders, "2024-05-01", by="first_channel", observed_from=since)
    assert channels["group"].tolist() == ["app"] and channels["revenue_per_customer"].tolist() == [3000.0]
    # the same call without it still sees all three (the "all" curve of the formula LTV)
    assert set(historical.cumulative_ltv(orders, "2024-05-01", by="first_channel")["group"]) == {"web", "app"}
    # the chapter says whom the comparison rests on, with n
    note = text.observable_note(since, 1, 2, "en")
    assert "the 1 first seen from 2024-02-01" in note and "The 2 customers first seen earlier" in note
    assert "2024年2月1日以降に初めて購入した1人" in text.observable_note(since, 1, 2, "ja")
    assert text.observable_note(since, 3, 0, "en") == ""  # nobody left out: nothing to say
    assert "does not yet show any customer's first purchase" in text.observable_note(since, 0, 3, "en")


def test_cohort_curves_leave_out_a_period_begun_before_observed_from(tmp_path):
    # a (first seen 2024-02-10) is observable from 2024-02-01, but the quarter Jan–Mar began before
    # it: its curve would carry the whole quarter's name for February and March customers only
    path = tmp_path / "orders.parquet"
    rows = [(o, c, when, amount, 1, 1, "web", None, None, None, None) for o, c, when, amount in (
        ("o1", "a", D(2024, 2, 10, 10), 1000.0), ("o2", "b", D(2024, 4, 5, 10), 2000.0),
        ("o3", "a", D(2024, 5, 5, 10), 500.0))]
    pq.write_table(_table(rows, ORDERS_SCHEMA), path)
    since = dt.date(2024, 2, 1)
    quarters = historical.cumulative_ltv(path, "2024-08-01", by="cohort", period="quarter", observed_from=since)
    assert quarters["group"].unique().tolist() == [pd.Timestamp("2024-04-01")]
    assert quarters["revenue_per_customer"].iloc[0] == 2000.0
    # by month, February begins after observed_from and stays (a's own first purchase is seen)
    months = historical.cumulative_ltv(path, "2024-08-01", by="cohort", period="month", observed_from=since)
    assert months["group"].unique().tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-01")]
    # the first-channel curve keeps every observable customer
    assert historical.cumulative_ltv(path, "2024-08-01", by="first_channel", observed_from=since)[
        "group_customers"].iloc[0] == 2


def test_annual_ltv_by_hand(tiny_processed_dir):
    orders = tiny_processed_dir / "orders.parquet"
    annual = historical.annual_ltv(orders, "2024-05-01", period="month")
    assert annual["customers"].tolist() == [2, 1, 3]
    assert annual["revenue"].tolist() == [5500.0, 3000.0, 8500.0]
    assert annual["annual_ltv"].tolist() == pytest.approx([2750.0, 3000.0, 8500 / 3])
    assert pd.isna(annual["cohort"].iloc[-1])
    start, end, complete = historical.annual_window(orders, "2024-05-01")
    assert (start, end, complete) == (dt.date(2023, 5, 1), dt.date(2024, 5, 1), False)
    # only the last 12 months count: on 2025-02-01 the window starts 2024-02-01, so January's
    # orders drop out: c1 (1500 + 500) and c3 (3000) -> 5000 / 2
    later = historical.annual_ltv(orders, "2025-02-01")
    assert (later["customers"].iloc[-1], later["revenue"].iloc[-1]) == (2, 5000.0)
    assert later["annual_ltv"].iloc[-1] == 2500.0


ROWS = [
    ("o1", "u2", D(2022, 1, 1), 1000.0), ("o2", "u1", D(2022, 3, 1), 1000.0), ("o3", "u1", D(2023, 3, 1), 2000.0),
    ("o4", "u1", D(2023, 6, 1), 3000.0), ("o5", "u3", D(2022, 7, 1), 4000.0), ("o6", "u3", D(2023, 9, 1), 1000.0),
    ("o7", "u4", D(2023, 2, 1), 2000.0),
]


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    path = tmp_path_factory.mktemp("ltv_formula") / "orders.parquet"
    rows = [(o, c, when, amount, 1, 1, "web", None, None, None, None) for o, c, when, amount in ROWS]
    pq.write_table(_table(rows, ORDERS_SCHEMA), path)
    return path


def test_formula_inputs_by_hand(two_years):
    inputs = formula_inputs(two_years, "2024-01-01")
    assert (inputs.orders, inputs.customers, inputs.new_customers, inputs.revenue) == (4, 3, 1, 8000.0)
    assert inputs.aov == 2000.0
    assert inputs.frequency == pytest.approx(4 / 3)
    assert (inputs.retention_base, inputs.retention_kept, inputs.retention_period_days) == (3, 2, 365)
    assert inputs.retention_rate == pytest.approx(2 / 3)
    assert retention_years(2 / 3, 10) == pytest.approx(3.0)
    assert retention_years(0.95, 10) == 10  # capped
    # a shorter history: whole period, annualised (tiny case: 112 days, halves of 56 days)
    assert formula_inputs(two_years, "2022-07-02").window_days == 182


def test_formula_ltv_costs_by_hand(two_years):
    inputs = formula_inputs(two_years, "2024-01-01")
    settings = LTVSettings(cpa=3000, retention_cost_per_customer_year=500, gross_margin=0.5)
    curve = historical.cumulative_ltv(two_years, "2024-01-01", by="all")
    result = formula_ltv(inputs, settings, curve)
    assert result.retention_years == pytest.approx(3.0)
    assert result.ltv == pytest.approx(8000.0)
    assert result.ltv_gross_profit == pytest.approx(4000.0)
    assert result.lifetime_cost == pytest.approx(3000 + 500 * 3)
    assert result.ratio == pytest.approx(4000 / 4500)
    assert result.cpo_ceiling == pytest.approx(4000 - 1500)
    assert result.payback_estimated  # the observed curve never covers 3000 of gross profit
    cheap = formula_ltv(inputs, LTVSettings(cpa=800, retention_cost_per_customer_year=500, gross_margin=0.5), curve)
    # month 0: 2000 revenue per customer x 0.5 - 500 / 12 = 958.3 >= 800
    assert (cheap.payback_months, cheap.payback_estimated) == (1.0, False)
    dear = formula_ltv(inputs, LTVSettings(cpa=800, retention_cost_per_customer_year=5000, gross_margin=0.5), None)
    assert dear.payback_months is None
    no_cpa = formula_ltv(inputs, LTVSettings(), curve)
    assert no_cpa.ratio is None and no_cpa.lifetime_cost is None and no_cpa.ltv == pytest.approx(8000.0)


def test_payback_extrapolates_at_the_formula_rate():
    curve = pd.DataFrame({"months_since": [0, 1, 2], "revenue_per_customer": [100.0, 150.0, 200.0]})
    # net at month 2 (3 months): 200 x 1.0 - 0 = 200; 1000 - 200 = 800 more at 1200/12 = 100 a month
    assert payback(1000.0, 1200.0, 0.0, 1.0, curve) == (pytest.approx(11.0), True)
    assert payback(150.0, 1200.0, 0.0, 1.0, curve) == (2.0, False)


def test_levers_by_hand(two_years):
    inputs = formula_inputs(two_years, "2024-01-01")
    settings = LTVSettings(cpa=3000, retention_cost_per_customer_year=500, gross_margin=0.5)
    levers = lever_table(inputs, settings).set_index(["lever", "step"])
    assert levers.loc[("aov", 0.10), "ltv"] == pytest.approx(8800.0)
    assert levers.loc[("frequency", 0.05), "ltv_change"] == pytest.approx(0.05)
    # every lever on the same relative step (issue #16): retention 2/3 x 1.05 = 0.70, not 2/3 + 5 points
    assert set(levers["kind"]) == {"relative"}
    years = 1 / (1 - 0.70)
    assert levers.loc[("retention", 0.05), "ltv"] == pytest.approx(2000 * 4 / 3 * years)  # 8,888.89
    assert levers.loc[("retention", 0.05), "ltv_change"] == pytest.approx((1 / 3) / 0.30 - 1)  # +11.1%
    assert levers.loc[("aov", 0.05), "annual_revenue_effect"] == pytest.approx(400.0)
    # 0.70 - 2/3 = 1/30 of 3 customers (0.1) stay a year: 0.1 x 2000 x 4/3 revenue, less 0.1 x 500 retention cost
    assert levers.loc[("retention", 0.05), "annual_revenue_effect"] == pytest.approx(800 / 3)
    assert levers.loc[("retention", 0.05), "annual_profit_effect"] == pytest.approx(800 / 3 * 0.5 - 50.0)
    assert levers.loc[("cpa", -0.10), "annual_profit_effect"] == pytest.approx(300.0)  # 1 new customer a year
    assert levers.loc[("cpa", -0.10), "ratio"] == pytest.approx(4000 / (2700 + 1500))
    assert levers.loc[("retention_cost", -0.10), "annual_profit_effect"] == pytest.approx(150.0)
    # the page says the steps are equal and relative (en and ja)
    assert "same relative step" in text.levers_takeaway(levers.reset_index(), "en")
    assert "5ポイント増ではなく現状の1.05倍" in text.levers_takeaway(levers.reset_index(), "ja")
    no_costs = lever_table(inputs, LTVSettings())
    assert set(no_costs["lever"]) == {"aov", "frequency", "retention"}


def test_without_a_gross_margin_money_is_revenue_and_no_cpo_ceiling(two_years):
    """Issue #16 item 5: no ltv.gross_margin, no profit figure, no CPO ceiling, no payback."""
    inputs = formula_inputs(two_years, "2024-01-01")
    curve = historical.cumulative_ltv(two_years, "2024-01-01", by="all")
    result = formula_ltv(inputs, LTVSettings(cpa=3000, retention_cost_per_customer_year=500), curve)
    assert result.ltv == pytest.approx(8000.0)
    assert result.ltv_gross_profit is None and result.cpo_ceiling is None and result.payback_months is None
    assert not result.has_margin
    assert result.ratio == pytest.approx(8000 / 4500)  # stated as revenue LTV / cost
    en = text.formula_takeaway(result, "en", "GBP")
    assert "Revenue is not profit" in en and "CPO ceiling" in en and "pay back what they cost" not in en
    ja = text.formula_takeaway(result, "ja", "JPY")
    assert "売上は利益ではありません" in ja and "コストを回収できています" not in ja
    shown_table = tables.formula_table(inputs, result, "en", "GBP")
    table = shown_table.set_index(shown_table.columns[0])
    assert table.loc["CPO ceiling"].iloc[0] == "—"
    levers = lever_table(inputs, LTVSettings(cpa=3000, retention_cost_per_customer_year=500), result)
    assert pd.isna(levers.set_index(["lever", "step"]).loc[("aov", 0.05), "annual_profit_effect"])
    shown = tables.lever_table(levers, result, "en", "GBP")
    assert "Effect on a year's gross profit" not in shown.columns
    # with a margin the gross-profit figures are there (hand: 8000 x 0.4 = 3200; 3200 - 500 x 3 = 1700)
    with_margin = formula_ltv(inputs, LTVSettings(cpa=3000, retention_cost_per_customer_year=500, gross_margin=0.4))
    assert with_margin.ltv_gross_profit == pytest.approx(3200.0) and with_margin.cpo_ceiling == pytest.approx(1700.0)


def test_summary_gives_a_cpo_ceiling_only_from_gross_profit():
    import crmlib.ltv.findings  # noqa: F401  (registers the rules)
    from crmlib.findings import FINDING_RULES, Metrics

    rule = FINDING_RULES["annual_ltv"]
    formula = {"ltv": 8000.0, "retention_years": 3.0, "gross_margin": None, "cpo_ceiling": None}
    revenue = rule.assess(Metrics({"ltv": {"annual_ltv": 2000.0, "formula": formula}}), None)
    assert revenue.variant == "no_margin" and "cpo" not in revenue.values
    profit = rule.assess(Metrics({"ltv": {"annual_ltv": 2000.0, "formula": {
        **formula, "gross_margin": 0.4, "cpo_ceiling": 1700.0}}}), None)
    assert profit.variant == "" and profit.values["cpo"] == 1700.0


def test_annual_ltv_compares_only_cohorts_acquired_after_the_data_starts():
    # Online Retail's shape: the oldest "cohort" holds the accounts older than the data and has
    # the highest annual LTV; it is marked in the table and never called the best acquisition period
    annual = pd.DataFrame({
        "cohort": [pd.Timestamp("2010-10-01"), pd.Timestamp("2011-01-01"), pd.Timestamp("2011-04-01"), pd.NaT],
        "customers": [900, 400, 300, 1600], "orders": [5000, 900, 600, 6500],
        "revenue": [4_500_000.0, 360_000.0, 330_000.0, 5_190_000.0],
    })
    annual["annual_ltv"] = annual["revenue"] / annual["customers"]  # 5,000, 900, 1,100, 3,244
    words = text.annual_takeaway(annual, "quarter", dt.date(2010, 12, 10), dt.date(2011, 12, 10), True, "en", "GBP",
                                 observed_from=dt.date(2010, 12, 29))
    assert "Apr–Jun 2011" in words and "£1,100" in words  # the best observable period
    assert "Oct–Dec 2010" not in words and "£5,000" not in words
    assert "2010-12-29" in words and "left out of the comparison" in words
    labels = tables.annual_table(annual, "quarter", "en", "GBP", observed_from=dt.date(2010, 12, 29)).iloc[:, 0].tolist()
    assert labels[:3] == ["Oct–Dec 2010※", "Jan–Mar 2011", "Apr–Jun 2011"]
    # without a coverage model nothing is marked or left out (as before)
    assert "Oct–Dec 2010" in text.annual_takeaway(annual, "quarter", dt.date(2010, 12, 10), dt.date(2011, 12, 10),
                                                  True, "en", "GBP")
