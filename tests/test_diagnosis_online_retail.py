"""Diagnosis on the UCI Online Retail data, checked against figures derived here with plain pandas
from the ingested orders.parquet (never against the diagnosis code's own output).

Settings fit the data (2010-12-01 .. 2011-12-09, so as_of = 2011-12-10): 6-month periods (both
inside the data), quarters with a 180-day lapse, F2 windows of 30, 90 and 180 days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crmlib import diagnosis as dg
from crmlib.ingest import ingest_file

from datasets import ONLINE_RETAIL, need

pytestmark = need(ONLINE_RETAIL)

MONTHS, LAPSE = 6, 180
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("online_retail")
    ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out)
    return out


@pytest.fixture(scope="module")
def orders(processed) -> pd.DataFrame:
    """The orders with a customer id, a calendar day column and the default as_of."""
    frame = pd.read_parquet(processed / "orders.parquet")
    frame = frame[frame["customer_id"].notna()].copy()
    frame["day"] = frame["ordered_at"].dt.normalize()
    return frame


@pytest.fixture(scope="module")
def as_of(orders) -> pd.Timestamp:
    return orders["day"].max() + DAY


@pytest.fixture(scope="module")
def days(orders) -> pd.DataFrame:
    """One row per customer and purchase day (same-day orders merged), in date order."""
    frame = (orders.groupby(["customer_id", "day"], as_index=False)
             .agg(orders=("order_id", "size"), revenue=("amount", "sum"))
             .sort_values(["customer_id", "day"], ignore_index=True))
    by = frame.groupby("customer_id")["day"]
    frame["prev"], frame["next"] = by.shift(1), by.shift(-1)
    frame["first"] = by.transform("min")
    return frame


@pytest.fixture(scope="module")
def purchases(processed):
    with dg.open_purchases(processed / "orders.parquet", "") as opened:
        yield opened


def span(as_of: pd.Timestamp, back: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the 6-month period ending `back` periods before as_of."""
    end = as_of - pd.DateOffset(months=MONTHS * back)
    return end - pd.DateOffset(months=MONTHS), end


def test_as_of_and_counts(purchases, orders, as_of):
    assert purchases.as_of == as_of.date() == dt.date(2011, 12, 10)
    assert purchases.scalar("SELECT sum(orders) FROM purchases") == len(orders)
    assert purchases.scalar("SELECT count(*) FROM purchases") == len(orders.drop_duplicates(["customer_id", "day"]))
    assert purchases.dimensions == ("region",)  # no channel, category or source in this export


@pytest.mark.parametrize("back", [0, 1])
def test_headline_kpis(purchases, orders, days, as_of, back):
    start, end = span(as_of, back)
    kpis = dg.headline_kpis(purchases, months=MONTHS).iloc[back]
    inside = orders[(orders["day"] >= start) & (orders["day"] < end)]
    first = orders.groupby("customer_id")["day"].min()
    new = set(first[(first >= start) & (first < end)].index)
    assert kpis["orders"] == len(inside)
    assert kpis["revenue"] == pytest.approx(inside["amount"].sum())
    assert kpis["customers"] == inside["customer_id"].nunique()
    assert kpis["new_customers"] == len(new)
    assert kpis["new_revenue"] == pytest.approx(inside.loc[inside["customer_id"].isin(new), "amount"].sum())
    repeat = (inside.groupby("customer_id")["day"].nunique() >= 2).sum()
    assert kpis["repeat_rate"] == pytest.approx(repeat / inside["customer_id"].nunique())
    assert kpis["aov"] == pytest.approx(inside["amount"].sum() / len(inside))
    assert bool(kpis["covered"])


def test_twelve_month_comparison_is_not_covered(purchases):
    # the 12 months before 2010-12-10 are not in the data (it starts on 2010-12-01)
    kpis = dg.headline_kpis(purchases, months=12)
    assert bool(kpis.iloc[0]["covered"]) and not bool(kpis.iloc[1]["covered"])
    assert not dg.retention_value(purchases, months=12)["covered"]


def test_monthly_trends(purchases, orders, as_of):
    trends = dg.monthly_trends(purchases, months=24).set_index("month")
    month = orders["day"].dt.to_period("M").dt.to_timestamp()
    first = orders.groupby("customer_id")["day"].transform("min").dt.to_period("M").dt.to_timestamp()
    expected = orders.assign(month=month, is_new=first == month).groupby("month").agg(
        revenue=("amount", "sum"), orders=("order_id", "size"), customers=("customer_id", "nunique"))
    new = orders[first == month].groupby(month[first == month]).agg(
        new_customers=("customer_id", "nunique"), new_revenue=("amount", "sum"))
    assert list(trends.index) == list(expected.index)  # Dec 2010 .. Dec 2011, no gaps
    assert (trends["orders"] == expected["orders"]).all()
    assert (trends["customers"] == expected["customers"]).all()
    np.testing.assert_allclose(trends["revenue"], expected["revenue"])
    assert (trends["new_customers"] == new["new_customers"].reindex(trends.index, fill_value=0)).all()
    np.testing.assert_allclose(trends["new_revenue"], new["new_revenue"].reindex(trends.index, fill_value=0))
    assert list(trends["partial"]) == [False] * 12 + [True]  # December 2011 ends on the 9th


def test_leaky_bucket(purchases, days, as_of):
    bucket = dg.leaky_bucket(purchases, period="quarter", lapse_days=LAPSE, periods=5).set_index("period")
    lapse = pd.Timedelta(days=LAPSE)
    lapses = days[(days["next"].isna() | (days["next"] - days["day"] > lapse)) & (days["day"] + lapse < as_of)]
    for start, row in bucket.iterrows():
        end = start + pd.DateOffset(months=3)
        # active on a day = a purchase less than LAPSE days before it, counted directly
        def active(day):  # end of `day`
            recent = days[(days["day"] <= day) & (days["day"] > day - lapse)]
            return recent["customer_id"].nunique()

        assert row["active_start"] == active(start - DAY), start
        if not row["partial"]:
            assert row["active_end"] == active(end - DAY), start
        inside = days[(days["day"] >= start) & (days["day"] < end)]
        entry = inside.drop_duplicates("customer_id")  # each customer's first purchase in the quarter
        new = entry[entry["first"] >= start]
        back = entry[(entry["first"] < start) & (entry["day"] - entry["prev"] > lapse)]
        kept = entry[(entry["first"] < start) & (entry["day"] - entry["prev"] <= lapse)]
        assert (row["new"], row["reactivated"], row["retained"]) == (len(new), len(back), len(kept)), start
        revenue = inside.groupby("customer_id")["revenue"].sum()
        assert row["new_revenue"] == pytest.approx(revenue[new["customer_id"]].sum())
        assert row["reactivated_revenue"] == pytest.approx(revenue[back["customer_id"]].sum())
        assert row["retained_revenue"] == pytest.approx(revenue[kept["customer_id"]].sum())
        lost = lapses[(lapses["day"] + lapse >= start) & (lapses["day"] + lapse < end)]
        assert row["lost"] == len(lost), start
        last_year = lost[["customer_id", "day"]].merge(days[["customer_id", "day", "revenue"]], on="customer_id",
                                                       suffixes=("", "_p"))
        last_year = last_year[(last_year["day_p"] <= last_year["day"])
                              & (last_year["day_p"] > last_year["day"] - pd.Timedelta(days=365))]
        assert row["lost_revenue"] == pytest.approx(last_year["revenue"].sum())


def test_cohort_retention(purchases, orders, as_of):
    tables = dg.cohort_tables(purchases, cohorts=12, months=12)
    cohort = orders.groupby("customer_id")["day"].transform("min").dt.to_period("M")
    k = (orders["day"].dt.to_period("M") - cohort).apply(lambda offset: offset.n)
    active = orders.assign(cohort=cohort.dt.to_timestamp(), k=k).groupby(["cohort", "k"])["customer_id"].nunique()
    sizes = active.xs(0, level="k")
    revenue = orders.assign(cohort=cohort.dt.to_timestamp(), k=k).groupby(["cohort", "k"])["amount"].sum()
    assert list(tables.sizes.index.strftime("%Y-%m")) == [f"{y}-{m:02d}" for y, m in
                                                         [(2010, 12)] + [(2011, i) for i in range(1, 12)]]
    for c in tables.sizes.index:
        assert tables.sizes[c] == sizes[c]
        for m in range(13):
            observed = c + pd.DateOffset(months=m + 1) <= as_of
            cell = tables.retention.loc[c, m]
            if not observed:
                assert np.isnan(cell)
                continue
            assert cell == pytest.approx(active.get((c, m), 0) / sizes[c])
            cumulative = sum(revenue.get((c, j), 0.0) for j in range(m + 1)) / sizes[c]
            assert tables.revenue_per_customer.loc[c, m] == pytest.approx(cumulative)


def test_funnel_and_f2(purchases, days, as_of):
    counts = days.groupby("customer_id").size()
    funnel = dg.purchase_funnel(purchases, steps=6)
    assert list(funnel["customers"]) == [int((counts >= n).sum()) for n in range(1, 7)]
    firsts = days[days["day"] == days["first"]].set_index("customer_id")
    gap = firsts["next"] - firsts["day"]
    f2 = dg.f2_conversion(purchases, [30, 90, 180]).set_index("window_days")
    for window in (30, 90, 180):
        w = pd.Timedelta(days=window)
        eligible = firsts["day"] + w < as_of
        converted = eligible & (gap <= w)
        assert (f2.loc[window, "eligible"], f2.loc[window, "converted"]) == (eligible.sum(), converted.sum())


def test_f2_by_first_country(purchases, orders, days, as_of):
    first_order = orders.sort_values(["ordered_at", "order_id"]).drop_duplicates("customer_id").set_index("customer_id")
    firsts = days[days["day"] == days["first"]].set_index("customer_id")
    eligible = firsts["day"] + pd.Timedelta(days=90) < as_of
    converted = eligible & (firsts["next"] - firsts["day"] <= pd.Timedelta(days=90))
    region = first_order["region"].reindex(firsts.index)
    expected = pd.DataFrame({"eligible": eligible, "converted": converted, "region": region}).groupby("region").sum()
    segments = dg.f2_by_segment(purchases, [90], ["region"]).set_index("value")
    for country in ("United Kingdom", "Germany", "France"):
        assert (segments.loc[country, "eligible"], segments.loc[country, "converted"]) == tuple(
            expected.loc[country, ["eligible", "converted"]])


def test_intervals(purchases, days):
    gaps = days.dropna(subset=["prev"]).assign(gap=lambda f: (f["day"] - f["prev"]).dt.days,
                                              n=lambda f: f.groupby("customer_id").cumcount() + 2)
    intervals = dg.purchase_intervals(purchases, steps=4).set_index("step")
    first = gaps[gaps["n"] == 2]["gap"]
    assert intervals.loc[1, "gaps"] == len(first)
    for q, column in ((0.25, "p25"), (0.5, "p50"), (0.75, "p75"), (0.9, "p90")):
        assert intervals.loc[1, column] == pytest.approx(first.quantile(q))
        assert intervals.loc[0, column] == pytest.approx(gaps["gap"].quantile(q))
    later = gaps[gaps["n"] >= 5]["gap"]
    assert intervals.loc[4, "p50"] == pytest.approx(later.quantile(0.5))
    histogram = dg.gap_histogram(purchases, 1, 365, 7)
    assert histogram["gaps"].sum() == len(first)
    assert histogram.loc[histogram["bin_start"] == 0, "gaps"].iloc[0] == ((first >= 0) & (first < 7)).sum()


def test_deciles(purchases, orders, days, as_of):
    start, end = span(as_of, 0)
    spend = orders[(orders["day"] >= start) & (orders["day"] < end)].groupby("customer_id")["amount"].sum()
    spend = spend.sort_values(ascending=False)
    size, extra = divmod(len(spend), 10)
    sizes = [size + 1] * extra + [size] * (10 - extra)
    bounds = np.cumsum([0, *sizes])
    expected = [spend.iloc[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])]
    deciles, pareto = dg.decile_analysis(purchases, basis="period", months=MONTHS)
    assert list(deciles["customers"]) == sizes
    np.testing.assert_allclose(deciles["revenue"], expected)
    top20 = spend.iloc[: int(np.ceil(0.2 * len(spend)))].sum() / spend.sum()
    assert dg.top_share(pareto, 20) == pytest.approx(top20)
    if spend.iloc[sizes[0] - 1] != spend.iloc[sizes[0]]:  # no tie across the top decile's edge
        once = days.groupby("customer_id").size() == 1
        assert deciles["one_off_customers"].iloc[0] == once[spend.index[: sizes[0]]].sum()


def test_retention_value(purchases, orders, as_of):
    start, end = span(as_of, 0)
    previous_start, _ = span(as_of, 1)
    previous = set(orders.loc[(orders["day"] >= previous_start) & (orders["day"] < start), "customer_id"])
    current = orders[(orders["day"] >= start) & (orders["day"] < end)]
    retained = previous & set(current["customer_id"])
    value = dg.retention_value(purchases, months=MONTHS, uplift_points=5, horizon=3)
    assert (value["previous_customers"], value["retained"]) == (len(previous), len(retained))
    per_customer = current.loc[current["customer_id"].isin(retained), "amount"].sum() / len(retained)
    assert value["revenue_per_retained"] == pytest.approx(per_customer)
    assert value["gain_next_period"] == pytest.approx(len(previous) * 0.05 * per_customer)
