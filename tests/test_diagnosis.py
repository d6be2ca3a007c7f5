"""Diagnosis computations on tiny hand-made orders; every expected number is worked out by hand.

The shop (as_of 2025-01-01, so the 12-month analysis period is calendar 2024 and the comparison
period calendar 2023; orders on or after as_of and orders without a customer id are ignored):

  A  2023-03-10 100 web | 2024-02-15 09:00 200 app + 2024-02-15 18:00 50 web (same day) | 2024-06-01 300
  B  2023-11-20 400 web                                   (one purchase; lapses 2024-11-19)
  C  2024-01-05 1000 app | 2024-01-20 500                  (new in 2024, second purchase after 15 days)
  D  2022-01-10 80 web | 2024-05-01 120                    (back after 842 days: reactivated)
  E  2024-12-30 60 app                                     (new, too late for any F2 window)
  F  2023-06-01 90 store | 2023-07-01 90 | 2024-11-15 30   (lapses 2024-06-30, back 2024-11-15)
  G  2024-08-08 5000 web                                   (one-off big buyer)
  ignored: A 2025-01-01 999 (on as_of), no-id 2024-03-03 777

Purchases (same-day orders merged): A 3, B 1, C 2, D 2, E 1, F 3, G 1.
Days between purchases: A 342 (2023-03-10 -> 2024-02-15, leap year), 107; C 15; D 842; F 30, 503.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from crmlib import diagnosis as dg
from crmlib.diagnosis.bucket import period_label

SCHEMA = pa.schema([
    ("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", pa.timestamp("us")),
    ("amount", pa.float64()), ("quantity", pa.float64()), ("n_lines", pa.int64()), ("channel", pa.string()),
    ("status", pa.string()), ("source", pa.string()), ("region", pa.string()), ("category", pa.string()),
])

T = dt.datetime
ORDERS = [
    # order_id, customer, ordered_at, amount, channel
    ("a1", "A", T(2023, 3, 10, 12), 100.0, "web"),
    ("a2", "A", T(2024, 2, 15, 9), 200.0, "app"),
    ("a3", "A", T(2024, 2, 15, 18), 50.0, "web"),
    ("a4", "A", T(2024, 6, 1, 10), 300.0, "web"),
    ("a5", "A", T(2025, 1, 1, 0, 0), 999.0, "web"),  # on as_of: cut
    ("b1", "B", T(2023, 11, 20, 8), 400.0, "web"),
    ("c1", "C", T(2024, 1, 5, 9), 1000.0, "app"),
    ("c2", "C", T(2024, 1, 20, 9), 500.0, "app"),
    ("d1", "D", T(2022, 1, 10, 9), 80.0, "web"),
    ("d2", "D", T(2024, 5, 1, 9), 120.0, "web"),
    ("e1", "E", T(2024, 12, 30, 23, 59), 60.0, "app"),
    ("f1", "F", T(2023, 6, 1, 9), 90.0, "store"),
    ("f2", "F", T(2023, 7, 1, 9), 90.0, "store"),
    ("f3", "F", T(2024, 11, 15, 9), 30.0, "web"),
    ("g1", "G", T(2024, 8, 8, 9), 5000.0, "web"),
    ("x1", None, T(2024, 3, 3, 9), 777.0, "web"),  # no customer id: ignored
]
AS_OF = dt.date(2025, 1, 1)


def write_orders(folder: Path, rows: list[tuple]) -> Path:
    """orders.parquet with the contract's columns from (order_id, customer, ordered_at, amount, channel) rows."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    columns = {
        "order_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows], "ordered_at": [r[2] for r in rows],
        "amount": [r[3] for r in rows], "quantity": [1.0] * n, "n_lines": [1] * n,
        "channel": [r[4] for r in rows], "status": ["completed"] * n, "source": [None] * n,
        "region": [None] * n, "category": [None] * n,
    }
    table = pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in SCHEMA}, schema=SCHEMA)
    pq.write_table(table, folder / "orders.parquet")
    return folder / "orders.parquet"


@pytest.fixture(scope="module")
def orders_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_orders(tmp_path_factory.mktemp("diagnosis") / "shop", ORDERS)


@pytest.fixture(scope="module")
def shop(orders_path):
    with dg.open_purchases(orders_path, "2025-01-01") as purchases:
        yield purchases


@pytest.fixture(scope="module")
def shop_orders(orders_path):
    """The same shop with every order counted as a purchase (merge_same_day=False)."""
    with dg.open_purchases(orders_path, AS_OF, merge_same_day=False) as purchases:
        yield purchases


# --- settings -----------------------------------------------------------------------------------


def test_settings_defaults_and_validation():
    cfg = dg.DiagnosisSettings()
    assert (cfg.period_months, cfg.lapse_days, cfg.bucket_period, cfg.f2_windows) == (12, None, "quarter", [30, 90, 365])  # None: lapse from the data (crmlib.store.coverage)
    assert dg.DiagnosisSettings(f2_windows=[365, 30, 30]).f2_windows == [30, 365]
    with pytest.raises(ValidationError, match="lapse_days"):
        dg.DiagnosisSettings(lapse_days=60)  # shorter than a quarter
    assert dg.DiagnosisSettings(lapse_days=60, bucket_period="month").lapse_days == 60
    with pytest.raises(ValidationError, match="extra"):
        dg.DiagnosisSettings(lapse_day=180)  # typo
    with pytest.raises(ValidationError):
        dg.DiagnosisSettings(f2_splits=["colour"])


# --- purchases ----------------------------------------------------------------------------------


def test_purchases_cut_at_as_of_and_merge_same_day(shop, shop_orders):
    assert shop.as_of == AS_OF
    assert (shop.data_start, shop.data_end) == (dt.date(2022, 1, 10), dt.date(2024, 12, 30))
    # 15 orders with an id before as_of; A's two orders of 2024-02-15 are one purchase
    assert shop.scalar("SELECT sum(orders) FROM purchases") == 14
    assert shop.scalar("SELECT count(*) FROM purchases") == 13
    assert shop_orders.scalar("SELECT count(*) FROM purchases") == 14
    assert shop.dimensions == ("channel",)  # source, region, category are empty


def test_default_as_of_is_the_day_after_the_last_order(orders_path):
    assert dg.resolve_as_of(orders_path, "") == dt.date(2025, 1, 2)
    assert dg.resolve_as_of(orders_path, dt.datetime(2024, 7, 1, 15)) == dt.date(2024, 7, 1)


def test_analysis_periods():
    current, previous = dg.analysis_periods(AS_OF, 12)
    assert (current.start, current.end, previous.start, previous.end) == (
        dt.date(2024, 1, 1), AS_OF, dt.date(2023, 1, 1), dt.date(2024, 1, 1))
    current, previous = dg.analysis_periods(dt.date(2024, 3, 31), 1, "year_before")
    assert (current.start, previous.start, previous.end) == (dt.date(2024, 2, 29), dt.date(2023, 2, 28),
                                                             dt.date(2023, 3, 31))


# --- headline KPIs ------------------------------------------------------------------------------


def test_headline_kpis(shop):
    kpis = dg.headline_kpis(shop, months=12)
    cur, prev = kpis.iloc[0], kpis.iloc[1]
    # 2024: A 200+50+300, C 1000+500, D 120, E 60, F 30, G 5000 = 7260 over 9 orders, 6 customers
    assert (cur["revenue"], cur["orders"], cur["customers"]) == (7260.0, 9, 6)
    # new = first order ever in 2024: C, E, G (1500 + 60 + 5000)
    assert (cur["new_customers"], cur["existing_customers"], cur["new_revenue"], cur["existing_revenue"]) == (
        3, 3, 6560.0, 700.0)
    assert cur["existing_revenue_share"] == pytest.approx(700 / 7260)
    assert cur["aov"] == pytest.approx(7260 / 9)
    assert cur["orders_per_customer"] == pytest.approx(9 / 6)
    # 2+ purchases in 2024: A (Feb 15 merged, Jun 1) and C -> 2 of 6
    assert (cur["repeat_customers"], cur["repeat_rate"]) == (2, pytest.approx(2 / 6))
    # 2023: A 100, B 400, F 90 + 90: all three new (D bought in 2022 but not in 2023); F repeats
    assert (prev["revenue"], prev["orders"], prev["customers"], prev["new_customers"]) == (680.0, 4, 3, 3)
    assert prev["existing_revenue_share"] == 0.0
    assert prev["repeat_rate"] == pytest.approx(1 / 3)
    assert bool(cur["covered"]) and bool(prev["covered"])  # data from 2022-01-10


def test_kpis_of_short_periods(shop):
    # Q4 2024 against Q4 2023: F 30 + E 60 (E new) against B 400 (new)
    kpis = dg.headline_kpis(shop, months=3, compare_to="year_before")
    cur, prev = kpis.iloc[0], kpis.iloc[1]
    assert (cur["revenue"], cur["customers"], cur["new_customers"], cur["new_revenue"]) == (90.0, 2, 1, 60.0)
    assert (prev["start"], prev["revenue"], prev["new_customers"]) == (dt.date(2023, 10, 1), 400.0, 1)
    # against the quarter just before: G's 5000 in Q3 2024
    prev = dg.headline_kpis(shop, months=3).iloc[1]
    assert (prev["start"], prev["revenue"], prev["customers"]) == (dt.date(2024, 7, 1), 5000.0, 1)


def test_previous_period_before_the_data_is_not_compared(orders_path):
    with dg.open_purchases(orders_path, "2023-01-01") as early:
        kpis = dg.headline_kpis(early, months=12)
        assert not kpis.iloc[1]["covered"]  # 2021 is before the first order (2022-01-10)
        assert kpis.iloc[0]["revenue"] == 80.0
        table = dg.kpi_table(kpis, "en", "JPY")
        assert set(table.iloc[:, 2]) == {"—"} and set(table.iloc[:, 3]) == {"—"}
        assert "no comparison" in dg.kpi_takeaway(kpis, "en", "JPY")
        assert "比較は行っていません" in dg.kpi_takeaway(kpis, "ja", "JPY")


def test_kpi_takeaway_and_table(shop):
    kpis = dg.headline_kpis(shop, months=12)
    en = dg.kpi_takeaway(kpis, "en", "JPY")
    # revenue 7260 against 680: +967.6%; existing share 9.6% against 0.0%
    assert en.startswith("In the last 12 months (2024-01-01 to 2024-12-31) revenue was ¥7,260, up 967.6%")
    assert "from 6 customers (3 of them new); existing customers brought 9.6% of it, up 9.6 points from 0.0%." in en
    ja = dg.kpi_takeaway(kpis, "ja", "JPY")
    assert "前年同期比967.6%増" in ja and "前年同期の0.0%から9.6ポイント上昇しました。" in ja
    table = dg.kpi_table(kpis, "ja", "JPY")
    row = table[table["指標"] == "客単価"].iloc[0].tolist()
    assert row == ["客単価", "¥807", "¥170", "+374.5%"]
    share = table[table["指標"] == "既存顧客の売上構成比"].iloc[0].tolist()
    assert share[-1] == "+9.6 pt"


# --- monthly trends -----------------------------------------------------------------------------


def test_monthly_trends(shop):
    trends = dg.monthly_trends(shop, months=24).set_index("month")
    assert trends.index[0] == pd.Timestamp("2023-01-01") and trends.index[-1] == pd.Timestamp("2024-12-01")
    jan, feb, mar = (trends.loc[pd.Timestamp(m)] for m in ("2024-01-01", "2024-02-01", "2024-03-01"))
    # January 2024: C's two orders, C new
    assert (jan["customers"], jan["new_customers"], jan["orders"], jan["revenue"], jan["new_revenue"]) == (
        1, 1, 2, 1500.0, 1500.0)
    # February 2024: A's two same-day orders; A first bought in 2023
    assert (feb["customers"], feb["existing_customers"], feb["orders"], feb["revenue"], feb["aov"]) == (
        1, 1, 2, 250.0, 125.0)
    assert (mar["orders"], mar["revenue"]) == (0, 0.0) and math.isnan(mar["aov"])  # a month without orders
    assert not trends["partial"].any()
    assert trends["revenue"].sum() == 680.0 + 7260.0
    en = dg.trends_takeaway(trends.reset_index(), "en", "JPY")
    # December 2024: E 60 (new); December 2023 had no orders -> no year-on-year change
    assert en == "In Dec 2024, the latest full month, revenue was ¥60; existing customers brought 0.0% of it, and new customers numbered 1."


def test_partial_last_month(orders_path):
    with dg.open_purchases(orders_path, "2024-06-15") as mid:
        trends = dg.monthly_trends(mid, months=3)
        assert list(trends["month"].dt.strftime("%Y-%m")) == ["2024-04", "2024-05", "2024-06"]
        assert list(trends["partial"]) == [False, False, True]
        assert list(trends["revenue"]) == [0.0, 120.0, 300.0]
        assert "May 2024" in dg.trends_takeaway(trends, "en", "JPY")  # the partial June is skipped


# --- leaky bucket -------------------------------------------------------------------------------


def test_leaky_bucket_quarters(shop):
    bucket = dg.leaky_bucket(shop, period="quarter", lapse_days=365, periods=8).set_index("period")
    assert list(bucket.index.strftime("%Y-%m")) == ["2023-01", "2023-04", "2023-07", "2023-10",
                                                    "2024-01", "2024-04", "2024-07", "2024-10"]
    q = {p.strftime("%Y-%m"): row for p, row in bucket.iterrows()}
    # 2023 Q1: A new; D (last bought 2022-01-10) lapses on 2023-01-10; D was active from 2022 Q1
    assert (q["2023-01"]["active_start"], q["2023-01"]["new"], q["2023-01"]["lost"], q["2023-01"]["active_end"]) == (
        1, 1, 1, 1)
    assert q["2023-01"]["lost_revenue"] == 80.0 and q["2023-01"]["warmup"]  # before 2022-01-10 + 365 days
    assert (q["2023-04"]["new"], q["2023-07"]["retained"], q["2023-07"]["retained_revenue"]) == (1, 1, 90.0)
    # 2024 Q1: C new (1000 + 500), A retained (342 days since 2023-03-10, 200 + 50)
    assert (q["2024-01"]["new"], q["2024-01"]["new_revenue"], q["2024-01"]["retained"],
            q["2024-01"]["retained_revenue"]) == (1, 1500.0, 1, 250.0)
    # 2024 Q2: A retained (300), D back after 842 days (120), F lapses 2024-06-30 (90 + 90 in its last year)
    row = q["2024-04"]
    assert (row["retained"], row["retained_revenue"], row["reactivated"], row["reactivated_revenue"]) == (
        1, 300.0, 1, 120.0)
    assert (row["lost"], row["lost_revenue"], row["active_start"], row["active_end"]) == (1, 180.0, 4, 4)
    # 2024 Q3: G new; 2024 Q4: E new (60), F back after 503 days (30), B lapses on 2024-11-19 (400)
    assert (q["2024-07"]["new"], q["2024-07"]["active_end"]) == (1, 5)
    row = q["2024-10"]
    assert (row["new"], row["new_revenue"], row["reactivated"], row["reactivated_revenue"], row["retained"]) == (
        1, 60.0, 1, 30.0, 0)
    assert (row["lost"], row["lost_revenue"], row["active_start"], row["active_end"]) == (1, 400.0, 5, 6)
    assert not row["partial"] and not row["warmup"]


def test_active_customers_match_a_direct_count(shop):
    # active at the end of 2024-12-31 = last purchase less than 365 days old: A C D E F G
    # (B's 2023-11-20 is 407 days old); at the end of 2024-06-30: A B C D (F's 2023-07-01 is 365 days old)
    bucket = dg.leaky_bucket(shop, "quarter", 365, periods=8).set_index("period")
    assert bucket.loc[pd.Timestamp("2024-10-01"), "active_end"] == 6
    assert bucket.loc[pd.Timestamp("2024-04-01"), "active_end"] == 4



@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_bucket_charts_legend_does_not_run_into_its_title(shop, lang):
    """Beside the left-aligned title, the legend ran into the English one ("Customers gained and
    lost per period" under "New, Returning, Lost, Net change" on Online Retail's page)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from crmlib.diagnosis import charts
    from crmlib.style import apply_style

    apply_style(lang)
    fig = charts.bucket_chart(dg.leaky_bucket(shop, period="quarter", lapse_days=90), lang)
    renderer = FigureCanvasAgg(fig).get_renderer()
    flows = fig.axes[0]
    title, legend = flows.title.get_window_extent(renderer), flows.get_legend().get_window_extent(renderer)
    assert not title.overlaps(legend)
    assert not legend.overlaps(flows.get_window_extent(renderer))  # nor into the bars


def test_leaky_bucket_takeaway_and_metrics(shop):
    bucket = dg.leaky_bucket(shop, "quarter", 365, periods=4)
    en = dg.bucket_takeaway(bucket, "en", "JPY")
    assert en.startswith("In Oct–Dec 2024, 1 new and 1 returning customers came in and 0 active customers bought again, "
                         "while 1 were lost: active customers went from 5 to 6 (up 20.0%)")
    assert "had spent ¥400 in the year up to their last purchase" in en
    assert dg.bucket_takeaway(bucket, "ja", "JPY").startswith("2024年10〜12月は新規1人と復帰1人が加わり")
    metrics = dg.bucket_metrics(bucket)
    assert metrics["period_start"] == dt.date(2024, 10, 1)
    assert {k: metrics[k] for k in ("new", "retained", "reactivated", "lost")} == {
        "new": 1, "retained": 0, "reactivated": 1, "lost": 1}
    assert period_label(pd.Timestamp("2024-04-01"), "month", "ja") == "2024年4月"


def test_leaky_bucket_months_and_partial_period(orders_path):
    with dg.open_purchases(orders_path, "2024-11-20") as cut:
        bucket = dg.leaky_bucket(cut, period="month", lapse_days=365, periods=3).set_index("period")
        # November 2024 is cut short; B lapses on 2024-11-19 (before as_of), F comes back on 2024-11-15
        nov = bucket.loc[pd.Timestamp("2024-11-01")]
        assert nov["partial"] and (nov["lost"], nov["reactivated"]) == (1, 1)
        assert dg.bucket_metrics(bucket.reset_index())["period_start"] == dt.date(2024, 10, 1)


# --- cohorts ------------------------------------------------------------------------------------


def test_cohort_tables(shop):
    tables = dg.cohort_tables(shop, cohorts=24, months=12)
    assert tables.sizes.index[0] == pd.Timestamp("2023-01-01") and tables.sizes.index[-1] == pd.Timestamp("2024-12-01")
    sizes = tables.sizes[tables.sizes > 0]
    assert {k.strftime("%Y-%m"): v for k, v in sizes.items()} == {
        "2023-03": 1, "2023-06": 1, "2023-11": 1, "2024-01": 1, "2024-08": 1, "2024-12": 1}
    f = pd.Timestamp("2023-06-01")  # F: months 0 and 1 (2023-07); its 2024-11 return is month 17
    assert tables.retention.loc[f, 0] == 1.0 and tables.retention.loc[f, 1] == 1.0
    assert tables.retention.loc[f, 2:12].sum() == 0.0
    assert tables.revenue_per_customer.loc[f, 1] == 180.0 and tables.revenue_per_customer.loc[f, 12] == 180.0
    a = pd.Timestamp("2023-03-01")  # A: month 11 = 2024-02 (two orders, 250)
    assert tables.retention.loc[a, 11] == 1.0
    assert tables.orders_per_customer.loc[a, 10] == 1.0 and tables.orders_per_customer.loc[a, 11] == 3.0
    assert tables.revenue_per_customer.loc[a, 11] == 350.0
    c = pd.Timestamp("2024-01-01")  # C: two orders in month 0; month 11 = 2024-12 observed, 12 not yet
    assert tables.orders_per_customer.loc[c, 0] == 2.0 and tables.revenue_per_customer.loc[c, 0] == 1500.0
    assert tables.retention.loc[c, 11] == 0.0 and math.isnan(tables.retention.loc[c, 12])
    e = pd.Timestamp("2024-12-01")
    assert tables.retention.loc[e, 0] == 1.0 and math.isnan(tables.retention.loc[e, 1])
    # month-1 retention over cohorts observed at month 1 with customers: A 0, F 1, B 0, C 0, G 0 -> 1/5
    assert dg.cohort_metrics(tables)["retention_month_1"] == pytest.approx(1 / 5)



@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("cohorts, months", [(6, 4), (12, 12), (12, 60)])
def test_cohort_heatmap_draws_what_seaborn_draws(shop, monkeypatch, lang, cohorts, months):
    """The heatmap is drawn without seaborn (which loads scipy.stats: 0.8 CPU-s of the diagnosis
    kernel) and gives seaborn.heatmap's PNG byte for byte: colours, masked cells, the text colour
    on dark cells, the colour bar, labels (61 month columns are thinned as seaborn thins them)."""
    import importlib

    import seaborn as sns

    from crmlib.charts import figure_png
    from crmlib.style import apply_style

    charts = importlib.import_module("crmlib.diagnosis.charts")

    def seaborns(ax, data, annot, mask, yticklabels, *, cmap, vmin, vmax, cbar_kws):
        sns.heatmap(data, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, annot=annot, fmt="", annot_kws={"fontsize": 6.5},
                    cbar_kws=cbar_kws, linewidths=0.4, linecolor="white", yticklabels=yticklabels, mask=mask)

    apply_style(lang)
    tables = dg.cohort_tables(shop, cohorts=cohorts, months=months)
    for kind in ("retention", "orders_per_customer", "revenue_per_customer"):
        ours = figure_png(charts.cohort_heatmap(tables, kind, lang, "JPY"))
        with monkeypatch.context() as patch:
            patch.setattr(charts, "heatmap", seaborns)
            assert figure_png(charts.cohort_heatmap(tables, kind, lang, "JPY")) == ours, kind
    fig = charts.cohort_heatmap(tables, "retention", lang, "JPY")
    assert len(fig.axes[0].get_xticklabels()) == (31 if months == 60 else months + 1)

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_quartile_labels_of_the_gap_histogram_sit_above_the_bars(shop, lang):
    """The 25% / median / 75% labels hang from the top of the histogram; no bar reaches into them
    (the demo's median label was drawn over its tallest bar)."""
    import importlib

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Rectangle

    from crmlib.style import apply_style

    charts = importlib.import_module("crmlib.diagnosis.charts")
    apply_style(lang)
    intervals, histogram = dg.purchase_intervals(shop), dg.gap_histogram(shop)
    fig = charts.interval_chart(histogram, intervals, lang)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    left = fig.axes[0]
    labels = [text.get_window_extent(renderer) for text in left.texts]
    bars = [patch.get_window_extent(renderer) for patch in left.patches if isinstance(patch, Rectangle)]
    assert len(labels) == 3 and bars
    assert not [(label, bar) for label in labels for bar in bars if label.overlaps(bar)]


# --- funnel and F2 ------------------------------------------------------------------------------


def test_purchase_funnel(shop, shop_orders):
    funnel = dg.purchase_funnel(shop, steps=4)
    # purchases per customer: A 3, B 1, C 2, D 2, E 1, F 3, G 1
    assert list(funnel["customers"]) == [7, 4, 2, 0]
    assert list(funnel["conversion"].iloc[:3]) == pytest.approx([4 / 7, 2 / 4, 0.0])
    assert funnel["drop_off"].iloc[0] == pytest.approx(3 / 7)
    # counting every order, A has 4 purchases
    assert list(dg.purchase_funnel(shop_orders, steps=4)["customers"]) == [7, 4, 2, 1]
    en = dg.funnel_takeaway(funnel, "en")
    assert en.startswith("42.9% of the 7 customers have not made a second purchase (57.1% have bought twice "
                         "so far, with no time limit: not the windowed F2 conversion of section 1.8); "
                         "of those who did, 50.0% went on to a third")


def test_f2_conversion(shop):
    f2 = dg.f2_conversion(shop, windows=[30, 90, 365]).set_index("window_days")
    # eligible: first purchase more than W days before 2025-01-01 (E on 2024-12-30 never; for 365
    # days also not C, 2024-01-05, nor G); converted: C after 15 days, F after 30, A after 342
    assert (f2.loc[30, "eligible"], f2.loc[30, "converted"]) == (6, 2)
    assert (f2.loc[90, "eligible"], f2.loc[90, "converted"]) == (6, 2)
    assert (f2.loc[365, "eligible"], f2.loc[365, "converted"], f2.loc[365, "rate"]) == (4, 2, 0.5)
    en = dg.f2_takeaway(f2.reset_index(), "en")
    assert en.startswith("33.3% of new customers buy a second time within 30 days of their first purchase and 50.0% "
                         "within 365 days (F2 conversion; 4 customers observed for 365 days)")


def test_f2_window_edge(tmp_path):
    # first purchase exactly W days before as_of is not eligible (day W is not fully observed)
    rows = [("o1", "K", T(2024, 12, 2, 9), 10.0, "web"), ("o2", "K", T(2024, 12, 31, 9), 10.0, "web"),
            ("o3", "L", T(2024, 12, 1, 9), 10.0, "web"), ("o4", "L", T(2024, 12, 31, 9), 10.0, "web")]
    with dg.open_purchases(write_orders(tmp_path, rows), AS_OF) as p:
        f2 = dg.f2_conversion(p, [30]).iloc[0]
        # K: 2024-12-02 + 30 = 2025-01-01 = as_of -> not eligible; L: 2024-12-01, 2nd after 30 days -> converted
        assert (f2["eligible"], f2["converted"]) == (1, 1)


def test_f2_by_first_channel(shop):
    segments = dg.f2_by_segment(shop, windows=[30, 365], dimensions=["channel", "source"])
    assert set(segments["dimension"]) == {"channel"}  # source is empty in this shop
    rows = {(r["value"], r["window_days"]): (r["eligible"], r["converted"]) for r in segments.to_dict("records")}
    # first channels: A web, B web, C app, D web, E app, F store, G web
    assert rows[("web", 30)] == (4, 0) and rows[("app", 30)] == (1, 1) and rows[("store", 30)] == (1, 1)
    assert rows[("web", 365)] == (3, 1) and rows[("app", 365)] == (0, 0) and rows[("store", 365)] == (1, 1)
    table = dg.segment_table(segments, "en", min_customers=1)
    assert list(table.columns) == ["Attribute", "Value", "First-time customers", "Within 30 days", "Within 365 days"]
    web = table[table["Value"] == "Web"].iloc[0].tolist()  # channel codes shown by their display names
    assert web == ["first channel", "Web", "4", "0.0%", "33.3%"]
    assert table[table["Value"] == "App"].iloc[0].tolist()[-1] == "—"  # nobody observed for 365 days
    assert dg.segment_takeaway(segments, "en", 30, min_customers=1) == (
        "F2 conversion within 30 days differs most by first channel: 100.0% for App against 0.0% for Web.")


def test_first_order_attributes_come_from_the_earliest_order(tmp_path):
    rows = [("o2", "K", T(2024, 5, 1, 15), 10.0, "store"), ("o1", "K", T(2024, 5, 1, 9), 10.0, "app"),
            ("o3", "K", T(2024, 6, 1, 9), 10.0, "web")]
    with dg.open_purchases(write_orders(tmp_path, rows), AS_OF) as p:
        segments = dg.f2_by_segment(p, [30], ["channel"])
        assert segments.empty  # one value only: nothing to compare
        value = p.scalar("SELECT d.value FROM firsts f JOIN dim_channel d ON f.code_channel = d.code")
        assert value == "app"


# --- days between purchases ---------------------------------------------------------------------


def test_purchase_intervals(shop, shop_orders):
    intervals = dg.purchase_intervals(shop, steps=2).set_index("step")
    # 1 -> 2: C 15, F 30, A 342, D 842; linear percentiles of [15, 30, 342, 842]
    first = intervals.loc[1]
    assert first["gaps"] == 4
    assert (first["p25"], first["p50"], first["p75"]) == (26.25, 186.0, 467.0)
    assert first["mean"] == pytest.approx((15 + 30 + 342 + 842) / 4)
    # 2 -> 3 and later: A 107, F 503; all steps: median of [15, 30, 107, 342, 503, 842]
    assert (intervals.loc[2, "gaps"], intervals.loc[2, "p50"]) == (2, 305.0)
    assert (intervals.loc[0, "gaps"], intervals.loc[0, "p50"]) == (6, 224.5)
    # counting every order, A's same-day second order adds a 0-day gap: later steps A 0, 107; F 503
    later = dg.purchase_intervals(shop_orders, steps=2).set_index("step").loc[2]
    assert (later["gaps"], later["p25"], later["p50"]) == (3, 53.5, 107.0)
    histogram = dg.gap_histogram(shop, step=1, max_days=365, bin_days=7)
    assert histogram["bin_start"].iloc[-1] == 364 and pd.isna(histogram["bin_end"].iloc[-1])
    counts = dict(zip(histogram["bin_start"], histogram["gaps"]))
    assert (counts[14], counts[28], counts[336], counts[364]) == (1, 1, 1, 1) and histogram["gaps"].sum() == 4
    en = dg.intervals_takeaway(intervals.reset_index(), histogram, "en")
    assert en.startswith("Second purchases come a median 186 days after the first, a quarter within 26 days")
    assert "(25.0% come back only after 364 days or more)" in en


# --- deciles ------------------------------------------------------------------------------------


def test_deciles_and_pareto(shop):
    deciles, pareto = dg.decile_analysis(shop, basis="period", months=12)
    # 2024 spend: G 5000, C 1500, A 550, D 120, E 60, F 30 -> six groups of one customer
    assert list(deciles["revenue"]) == [5000.0, 1500.0, 550.0, 120.0, 60.0, 30.0]
    assert list(deciles["customers"]) == [1] * 6
    # G bought once ever: a one-off big buyer in the top decile; E is one-off too (decile 5)
    assert list(deciles["one_off_customers"]) == [1, 0, 0, 0, 1, 0]
    assert deciles["share"].iloc[0] == pytest.approx(5000 / 7260)
    assert deciles["one_off_share"].iloc[0] == 1.0
    # top 20% of 6 customers = the top ceil(1.2) = 2 customers
    assert dg.top_share(pareto, 20) == pytest.approx(6500 / 7260)
    assert dg.top_share(pareto, 50) == pytest.approx(7050 / 7260)
    assert pareto["revenue_share"].iloc[-1] == pytest.approx(1.0)
    en = dg.decile_takeaway(deciles, pareto, "en")
    assert en.startswith("The top 10% of customers bring 68.9% of revenue and the top 20% bring 89.5%; "
                         "but 1 of the 1 top-decile customers bought only once")
    lifetime, _ = dg.decile_analysis(shop, basis="lifetime")
    assert lifetime["revenue"].sum() == 680.0 + 7260.0 + 80.0  # D's 2022 order too
    assert lifetime["revenue"].iloc[0] == 5000.0


def test_deciles_of_twenty_customers(tmp_path):
    # 23 customers spending 1..23: NTILE(10) gives groups of 3, 3, 3, 2, ...
    rows = [(f"o{i}", f"K{i:02d}", T(2024, 6, 1, 9), float(i), "web") for i in range(1, 24)]
    with dg.open_purchases(write_orders(tmp_path, rows), AS_OF) as p:
        deciles, pareto = dg.decile_analysis(p)
        assert list(deciles["customers"]) == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
        assert deciles["revenue"].iloc[0] == 23 + 22 + 21 and deciles["min_revenue"].iloc[0] == 21
        assert dg.top_share(pareto, 10) == pytest.approx((23 + 22 + 21) / 276)  # ceil(2.3) = 3 customers


# --- the 5:25 check -----------------------------------------------------------------------------


def test_retention_value(shop):
    value = dg.retention_value(shop, months=12, uplift_points=5, horizon=3)
    # 2023 customers A, B, F; A and F bought again in 2024 (550 + 30)
    assert (value["previous_customers"], value["retained"]) == (3, 2)
    assert value["retention_rate"] == pytest.approx(2 / 3)
    assert value["revenue_per_retained"] == 290.0
    assert value["extra_customers"] == pytest.approx(0.15)
    assert value["gain_next_period"] == pytest.approx(0.15 * 290)
    assert value["gain_share"] == pytest.approx(43.5 / 7260)
    r, u = 2 / 3, 2 / 3 + 0.05
    assert value["gain_horizon"] == pytest.approx(3 * 290 * ((u - r) + (u**2 - r**2) + (u**3 - r**3)))
    assert value["covered"]
    en = dg.value_takeaway(value, "en", "JPY")
    assert en.startswith("Of the 3 customers of the previous 12 months, 66.7% bought again; raising that by "
                         "5.0 points to 71.7% would add about ¥44 in the next 12 months (0.6% of")
    assert "5%" in dg.value_assumptions(value, "ja", "JPY") and "(¥290)" in dg.value_assumptions(value, "en", "JPY")
    table = dg.value_table(value, "ja", "JPY")
    assert table.iloc[1].tolist() == ["うち直近12か月にも購入した割合（継続率）", "66.7%"]


def test_retention_value_needs_two_periods(orders_path):
    with dg.open_purchases(orders_path, "2023-07-01") as early:
        value = dg.retention_value(early, months=12)
        assert not value["covered"]
        assert "period_months" in dg.value_takeaway(value, "en", "JPY")


def test_retention_uplift_is_capped_at_all_customers(shop):
    value = dg.retention_value(shop, months=12, uplift_points=50)
    assert value["extra_customers"] == pytest.approx(3 * (1 - 2 / 3))  # 66.7% + 50 points -> 100%


# --- notes and metrics --------------------------------------------------------------------------


def test_history_note_and_metrics(shop):
    # data from 2022-01-10: two years before the 2024 period -> no note
    assert dg.history_note(shop, "en", months=12, lapse_days=365) is None
    note = dg.history_note(shop, "ja", months=24, lapse_days=365)  # period from 2023-01-01
    assert note.startswith("データは2022年1月10日から始まっています。")
    kpis = dg.headline_kpis(shop)
    f2 = dg.f2_conversion(shop)
    bucket = dg.leaky_bucket(shop)
    metrics = dg.headline_metrics(kpis, f2, bucket, dg.retention_value(shop))
    assert metrics["kpis"]["current"]["revenue"] == 7260.0 and metrics["kpis"]["previous"]["revenue"] == 680.0
    assert metrics["f2_conversion"]["365"] == {"eligible": 4, "converted": 2, "rate": 0.5}
    assert metrics["leaky_bucket"]["lost"] == 1 and metrics["retention_value"]["retained"] == 2


# --- tiny and empty data ------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2024-06-01", "2024-06-02", "2026-01-01"])
def test_every_section_copes_with_a_single_order(tmp_path, as_of):
    from crmlib.diagnosis import charts
    from crmlib.style import apply_style

    path = write_orders(tmp_path, [("o1", "K", T(2024, 6, 1, 9), 10.0, "web")])
    apply_style("en")
    with dg.open_purchases(path, as_of) as p:
        kpis = dg.headline_kpis(p)
        trends = dg.monthly_trends(p)
        bucket = dg.leaky_bucket(p)
        cohorts = dg.cohort_tables(p)
        funnel = dg.purchase_funnel(p)
        f2 = dg.f2_conversion(p)
        segments = dg.f2_by_segment(p)
        intervals = dg.purchase_intervals(p)
        histogram = dg.gap_histogram(p)
        deciles, pareto = dg.decile_analysis(p)
        value = dg.retention_value(p)
        for lang in ("ja", "en"):
            texts = [dg.kpi_takeaway(kpis, lang, "JPY"), dg.trends_takeaway(trends, lang, "JPY"),
                     dg.bucket_takeaway(bucket, lang, "JPY"), dg.retention_takeaway(cohorts, lang),
                     dg.orders_takeaway(cohorts, lang), dg.revenue_takeaway(cohorts, lang, "JPY"),
                     dg.funnel_takeaway(funnel, lang), dg.f2_takeaway(f2, lang),
                     dg.segment_takeaway(segments, lang, 90), dg.intervals_takeaway(intervals, histogram, lang),
                     dg.decile_takeaway(deciles, pareto, lang), dg.concentration_takeaway(deciles, pareto, lang),
                     dg.value_takeaway(value, lang, "JPY")]
            assert all(isinstance(text, str) and text for text in texts)
            dg.kpi_table(kpis, lang, "JPY"), dg.f2_table(f2, lang), dg.decile_table(deciles, lang, "JPY")
            dg.segment_table(segments, lang), dg.value_table(value, lang, "JPY")
        for fig in (charts.trends_chart(trends, "en", "JPY"), charts.bucket_chart(bucket, "en"),
                    charts.cohort_heatmap(cohorts, "retention", "en", "JPY"), charts.funnel_chart(funnel, "en"),
                    charts.interval_chart(histogram, intervals, "en"), charts.decile_chart(deciles, pareto, "en")):
            assert fig.axes
        dg.headline_metrics(kpis, f2, bucket, value)
