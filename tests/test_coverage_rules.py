"""Issue 16: ratios on one base and one window (hand-made frames, expected values worked out below)."""

from __future__ import annotations

import pandas as pd

from crmlib.diagnosis import f2_headline
from crmlib.intervals import wilson_interval
from crmlib.diagnosis.funnel import f2_table
from crmlib.strategy.report import journey_takeaway


def test_journey_weakest_stage_compares_one_window():
    # arrival: 10% within 30 days; second purchase 20% and habit 30% within 90 days. The old
    # takeaway called arrival the weakest (a 30-day rate against 90-day ones); on one window
    # (90 days, used by two stages) the weakest is the second purchase.
    data = pd.DataFrame({
        "stage": ["first_purchase", "arrival", "second_purchase", "habit", "lapsed"],
        "eligible": [100, 100, 50, 40, 80], "converted": [40, 10, 10, 12, 8],
        "conversion": [0.4, 0.1, 0.2, 0.3, 0.1], "window_days": [90, 30, 90, 90, None],
        "next_median": [40.0, 12.0, 35.0, 30.0, None],
    })
    text = journey_takeaway(data, "en")
    assert "20.0%" in text and "10.0%" not in text
    # a stage on too few customers is not called the weakest: with a floor of 60 only the first
    # purchase (100, 90 days) and arrival (100, 30 days) remain; one stage each, so the longer
    # window: the first purchase's 40%
    assert "40.0%" in journey_takeaway(data, "en", min_customers=60)


def test_f2_rates_show_n_and_intervals_and_the_floor():
    f2 = pd.DataFrame({"window_days": [30, 90, 365], "eligible": [400, 50, 12], "converted": [100, 10, 6],
                       "rate": [0.25, 0.2, 0.5]})
    table = f2_table(f2, "en", min_customers=30)
    rates = list(table.iloc[:, 3])
    assert rates[0] == "25.0%"  # 400 customers: no interval
    # 10 of 50: Wilson 95% interval 11.2% to 33.0% (z = 1.96: centre (10 + 1.92) / 53.84, half-width
    # 1.96 * sqrt(10 * 40 / 50 + 0.9604) / 53.84)
    assert rates[1] == "20.0% (95% interval 11.2% to 33.0%)"
    low, high = wilson_interval(10, 50)
    assert round(low, 3) == 0.112 and round(high, 3) == 0.330
    assert rates[2] == "too few customers (12)"
    # the summary's F2 figure: the longest window with at least 30 customers
    assert f2_headline(f2, 30) == {"window_days": 90, "eligible": 50, "converted": 10, "rate": 0.2}


def test_cpm_cells_the_history_cannot_fill():
    from crmlib.store.segments import cpm
    from crmlib.store.segments.settings import CpmSettings
    settings = CpmSettings()  # active 240, early repeat 90, top tenure 210 days
    needs = cpm.cell_needs_days(settings)
    assert needs["top_lapsed"] == 210 + 240 and needs["first_lapsed"] == 240 and needs["top"] == 210
    # 374 days of Online Retail: top_lapsed (450 days) can never fill yet; the rest can
    assert cpm.unobservable_cells(settings, 374) == {"top_lapsed": 450}
    # 6 days: every lapsed cell (240 days and more) and steady/trend/top (90, 90, 210 days)
    assert set(cpm.unobservable_cells(settings, 6)) == {
        "steady", "trend", "top", "first_lapsed", "early_lapsed", "steady_lapsed", "trend_lapsed", "top_lapsed"}


# --- every finding's declared needs hold; no finding makes a priority of nobody -----------------

from hypothesis import given, settings as hyp_settings, strategies as st  # noqa: E402

from crmlib.findings import FINDING_RULES, Count, Metrics, Money  # noqa: E402
from crmlib.report.settings import ReportSettings  # noqa: E402
from crmlib.report.summary import executive_summary  # noqa: E402

counts = st.integers(0, 100_000)
shares = st.floats(0, 1)


@st.composite
def shop_metrics(draw) -> dict:
    """metrics.json of a shop from a week to five years, with 0 to 100,000 customers, with or without guests."""
    customers = draw(counts)
    eligible = draw(st.integers(0, customers))
    converted = draw(st.integers(0, eligible))
    split = draw(st.booleans())
    return {
        "coverage": {"customers": customers, "min_customers": 30, "history_days": draw(st.integers(7, 1826)),
                     "no_customer_revenue": draw(st.sampled_from([0.0, 1234.5])), "no_customer_share": draw(shares)},
        "diagnosis": {
            "min_customers": 30, "period_months": 12,
            "observed_from": draw(st.sampled_from([None, "2024-01-01"])),
            "f2_headline": {"window_days": 90, "eligible": eligible, "converted": converted,
                            "rate": converted / eligible if eligible else None},
            "kpis": {"current": {"covered": True, "split_observable": split, "customers": customers,
                                 "revenue": 1000.0, "existing_revenue_share": draw(shares)},
                     "previous": {"covered": draw(st.booleans()), "split_observable": split, "customers": customers,
                                  "revenue": 900.0, "existing_revenue_share": draw(shares)}},
            "leaky_bucket": {"lost": draw(st.integers(0, customers)), "lost_revenue": draw(st.floats(0, 1e6)),
                             "new": draw(st.integers(0, customers)), "new_revenue": draw(st.floats(0, 1e6)),
                             "active_start": draw(st.integers(0, customers)), "lapse_days": 120,
                             "period": "quarter", "warmup": draw(st.booleans())},
            "concentration": {"top10_share": draw(shares), "top20_share": draw(shares)},
        },
    }


@hyp_settings(max_examples=150, deadline=None)
@given(shop_metrics())
def test_every_finding_rests_on_what_it_declares(metrics):
    found = executive_summary(metrics, ReportSettings(max_findings=12), lang="en", currency="JPY",
                              chapters=["00_data_check", "01_diagnosis"])
    view = Metrics(metrics)
    for finding in found:
        rule = FINDING_RULES[finding.rule]
        assert rule.supported(view), finding.rule
        assert view.has(*rule.needs), finding.rule
        for value in (finding.values.get(name) for name in (*rule.nonzero, rule.headline)):
            assert not (isinstance(value, (Count, Money)) and float(value) <= 0), finding.rule
    # below the floor nothing about customers is said at all (revenue itself may still be compared)
    if metrics["coverage"]["customers"] < 30:
        assert {f.rule for f in found} <= {"no_customer_revenue", "revenue_trend"}


def test_a_warmup_bucket_period_does_not_count_lost_customers_as_zero():
    from crmlib.diagnosis import bucket_takeaway
    # the data starts 2024-02-01 and the lapse is 120 days: a lapse in Apr-Jun 2024 needs a last
    # purchase from Dec 2023 on, before the data; the period is a warm-up and lost is unknown, not 0
    bucket = pd.DataFrame({
        "period": [pd.Timestamp("2024-04-01")], "period_end": [pd.Timestamp("2024-07-01")], "partial": [False],
        "warmup": [True], "active_start": [10], "new": [5], "retained": [3], "reactivated": [0], "lost": [0],
        "active_end": [15], "new_revenue": [100.0], "retained_revenue": [50.0], "reactivated_revenue": [0.0],
        "lost_revenue": [0.0]})
    bucket.attrs.update(period="quarter", lapse_days=120)
    text = bucket_takeaway(bucket, "en", "JPY")
    assert "not observable yet" in text and "120 days" in text and "0 were lost" not in text
    assert "離脱客はまだ観測できません" in bucket_takeaway(bucket, "ja", "JPY")


def test_a_failed_model_is_a_data_limit():
    from crmlib.report.limits import data_limits
    lines = data_limits({"ltv": {"predictive_status": "failed: holdout, season"}}, "en", "GBP")
    assert len(lines) == 1 and "failed their validity checks" in lines[0] and "holdout" not in lines[0]
    assert data_limits({"ltv": {"predictive_status": "ok"}}, "en", "GBP") == []


def test_history_note_when_no_first_purchase_is_observable(tmp_path):
    import datetime as dt

    from crmlib.diagnosis import history_note
    from crmlib.store.purchases import Purchases
    # 6 days of data; the look-back (90 days) ends after the as-of date
    shop = Purchases(con=None, as_of=dt.date(2024, 5, 7), data_start=dt.date(2024, 5, 1),
                     data_end=dt.date(2024, 5, 6), merge_same_day=True, observed_from=dt.date(2024, 7, 30))
    text = history_note(shop, "en", 12, 365)
    assert "only 6 days" in text and "2024-07-30" not in text
    assert "6日分しかなく" in history_note(shop, "ja", 12, 365)


def test_monthly_trend_splits_only_observable_months(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from crmlib import diagnosis as dg
    from crmlib.diagnosis.charts import trends_chart
    # customers A (Jan 5, Mar 3) and B (Feb 10); observed from Feb 1: January is not split
    orders = pa.table({
        "order_id": ["1", "2", "3"], "customer_id": ["A", "B", "A"],
        "ordered_at": pa.array([dt.datetime(2024, 1, 5), dt.datetime(2024, 2, 10), dt.datetime(2024, 3, 3)],
                               pa.timestamp("us")),
        "amount": [100.0, 200.0, 300.0]})
    pq.write_table(orders, tmp_path / "orders.parquet")
    with dg.open_purchases(tmp_path / "orders.parquet", "2024-04-01") as shop:
        shop.observed_from = dt.date(2024, 2, 1)
        trends = dg.monthly_trends(shop, 24)
        assert list(trends["split_observable"]) == [False, True, True]
        trends_chart(trends, "en", "JPY")  # draws the unsplit month as one grey bar
        shop.observed_from = dt.date(2024, 3, 15)  # the latest full month (March) is not split either
        text = dg.trends_takeaway(dg.monthly_trends(shop, 24), "en", "JPY")
        assert "too close to the data's start" in text and "were new" not in text
