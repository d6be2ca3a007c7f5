"""Issue 16 on the UCI Online Retail data: the coverage model (left censoring, the data-derived
lapse, revenue without a customer) and the figures that rest on it, checked against figures
derived here with plain pandas (never against the code's own output).

The data starts on 2010-12-01 and as_of is 2011-12-10. The rules recomputed here
(crmlib.store.coverage): the gaps in days between a customer's consecutive purchase days, pooled;
look-back = their 90th percentile (linear interpolation) rounded and kept within 30..365 days;
lapse = the same percentile kept within 92..730 days; a customer first seen before data_start +
look-back is left-censored.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasets import ONLINE_RETAIL, need

from crmlib import diagnosis as dg
from crmlib.ingest import ingest_file
from crmlib.ledger import Ledger
from crmlib.report.settings import ReportSettings
from crmlib.report.summary import executive_summary
from crmlib.store.coverage import measure_coverage

pytestmark = need(ONLINE_RETAIL)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("online_retail_coverage")
    ingest_file(ONLINE_RETAIL, preset="online-retail", out_dir=out)
    return out


@pytest.fixture(scope="module")
def days(processed) -> pd.DataFrame:
    """One row per customer and purchase day, in date order, with previous/next day and first day."""
    orders = pd.read_parquet(processed / "orders.parquet")
    orders = orders[orders["customer_id"].notna()].copy()
    orders["day"] = orders["ordered_at"].dt.normalize()
    frame = (orders.groupby(["customer_id", "day"], as_index=False).agg(revenue=("amount", "sum"))
             .sort_values(["customer_id", "day"], ignore_index=True))
    by = frame.groupby("customer_id")["day"]
    frame["prev"], frame["next"] = by.shift(1), by.shift(-1)
    frame["first"] = by.transform("min")
    return frame


@pytest.fixture(scope="module")
def expected(days) -> dict:
    """The coverage rules recomputed in pandas."""
    gaps = (days["day"] - days["prev"]).dt.days.dropna()
    p90 = float(np.quantile(gaps, 0.9))
    start = days["day"].min()
    lookback = int(min(max(round(p90), 30), 365))
    lapse = int(min(max(round(p90), 92), 730))
    return {"start": start, "as_of": days["day"].max() + DAY, "lookback": lookback, "lapse": lapse,
            "observed_from": start + pd.Timedelta(days=lookback)}


@pytest.fixture(scope="module")
def coverage(processed):
    return measure_coverage(processed / "orders.parquet")


@pytest.fixture(scope="module")
def purchases(processed, coverage):
    with dg.open_purchases(processed / "orders.parquet", "") as opened:
        opened.observed_from = coverage.observed_from
        yield opened


def _firsts(days: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: first and second purchase day."""
    firsts = days[days["prev"].isna()][["customer_id", "day", "next"]]
    return firsts.rename(columns={"day": "first", "next": "second"})


def test_coverage_model(coverage, days, expected):
    assert coverage.data_start == expected["start"].date() == dt.date(2010, 12, 1)
    assert coverage.as_of == expected["as_of"].date() == dt.date(2011, 12, 10)
    assert coverage.history_days == 374
    assert coverage.lookback_days == expected["lookback"]
    assert coverage.observed_from == expected["observed_from"].date()
    assert coverage.lapse_days == expected["lapse"] and coverage.lapse_source == "data"
    firsts = _firsts(days)
    censored = int((firsts["first"] < expected["observed_from"]).sum())
    assert (coverage.customers, coverage.censored_customers) == (len(firsts), censored)
    assert 0 < censored < len(firsts)



def test_each_customers_observable_tenure(processed, coverage, days, expected):
    from crmlib.store.coverage import customer_coverage
    frame = customer_coverage(processed / "orders.parquet", coverage).set_index("customer_id")
    firsts = _firsts(days).set_index("customer_id")["first"]
    assert len(frame) == len(firsts)
    tenure = (expected["as_of"] - firsts).dt.days
    assert (frame["observable_tenure_days"].reindex(firsts.index) == tenure).all()
    assert (frame["left_censored"].reindex(firsts.index) == (firsts < expected["observed_from"])).all()


def test_yaml_lapse_wins(processed):
    forced = measure_coverage(processed / "orders.parquet", lapse_days=200)
    assert (forced.lapse_days, forced.lapse_source) == (200, "settings")
    # measured once per report and kept beside the orders; the YAML value does not stick to the copy
    assert len(list((processed / "store").glob("coverage-*.json"))) == 1
    again = measure_coverage(processed / "orders.parquet")
    assert again.lapse_source == "data" and again == measure_coverage(processed / "orders.parquet", "2011-12-10")


def test_revenue_without_a_customer(processed, coverage):
    # the ingest keeps lines without a customer id out of orders.parquet and books them in the
    # ledger under no_customer; their share is of the revenue kept plus theirs
    ledger = Ledger.load(processed / "ledger.json")
    no_customer = sum(float(e.amount) for e in ledger.excluded if e.reason == "no_customer")
    kept = float(ledger.kept_amount)
    assert coverage.no_customer_revenue == pytest.approx(no_customer)
    assert coverage.no_customer_share == pytest.approx(no_customer / (kept + no_customer))
    # and independently from the raw file: product lines (not cancelled, positive quantity and
    # price, not a postage/fee code, duplicates dropped) without a CustomerID
    raw = pd.read_csv(ONLINE_RETAIL, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "float64"})
    raw = raw.drop_duplicates()
    fees = {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}
    keep = (~raw["InvoiceNo"].str.startswith("C") & (raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)
            & ~raw["StockCode"].isin(fees))
    amount = (raw["Quantity"] * raw["UnitPrice"])[keep & raw["CustomerID"].isna()].sum()
    assert coverage.no_customer_revenue == pytest.approx(amount, rel=1e-3)
    # issue 16: 14.7% of the revenue before credit notes were netted; 15.4% of the net revenue
    assert 0.14 < coverage.no_customer_share < 0.16


def test_f2_only_over_observable_first_purchases(purchases, days, expected):
    f2 = dg.f2_conversion(purchases, [30, 90, 180, 365]).set_index("window_days")
    firsts = _firsts(days)
    for window in (30, 90, 180, 365):
        eligible = firsts[(firsts["first"] >= expected["observed_from"])
                          & (firsts["first"] + pd.Timedelta(days=window) < expected["as_of"])]
        converted = eligible[(eligible["second"] - eligible["first"]).dt.days <= window]
        assert (f2.loc[window, "eligible"], f2.loc[window, "converted"]) == (len(eligible), len(converted)), window
    # nobody first seen after the look-back has a full year yet: no 365-day F2 at all
    assert f2.loc[365, "eligible"] == 0


def test_early_share_is_one_ratio_on_one_base(processed, days, expected):
    # among customers converted within 365 days (their 365 days observed), the share converted
    # within 30; on all customers (no censoring) as in the issue: the base is the 365-day converts
    with dg.open_purchases(processed / "orders.parquet", "") as raw:
        early = dg.early_share(raw, 30, 365)
        f2 = dg.f2_conversion(raw, [30, 365])
    firsts = _firsts(days)
    base = firsts[firsts["first"] + pd.Timedelta(days=365) < expected["as_of"]]
    gap = (base["second"] - base["first"]).dt.days
    converted, within = int((gap <= 365).sum()), int((gap <= 30).sum())
    assert (early["converted"], early["early"]) == (converted, within)
    assert early["share"] == pytest.approx(within / converted)
    # the sentence quotes that share, not the ratio of two rates on different bases
    text = dg.f2_takeaway(f2, "en", early)
    assert f"{100 * within / converted:.1f}%" in text
    wrong = f2.set_index("window_days")["rate"]
    assert f"{100 * wrong[30] / wrong[365]:.1f}%" not in text


def test_lost_customers_with_the_data_derived_lapse(purchases, coverage, days, expected):
    lapse = pd.Timedelta(days=expected["lapse"])
    bucket = dg.leaky_bucket(purchases, period="quarter", lapse_days=coverage.lapse_days, periods=4)
    row = bucket[~bucket["partial"]].iloc[-1]
    start, end = row["period"], row["period_end"]
    lapses = days[(days["next"].isna() | (days["next"] - days["day"] > lapse)) & (days["day"] + lapse < expected["as_of"])]
    lost = lapses[(lapses["day"] + lapse >= start) & (lapses["day"] + lapse < end)]
    assert row["lost"] == len(lost) > 0
    # the old fixed 365-day window sees nobody lapse in the last full quarter of 374 days of data
    old = dg.leaky_bucket(purchases, period="quarter", lapse_days=365, periods=4)
    assert old[~old["partial"]].iloc[-1]["lost"] == 0


def test_no_summary_finding_rests_on_left_censored_customers(processed, purchases, coverage, days, expected):
    kpis = dg.headline_kpis(purchases, months=12)
    f2 = dg.f2_conversion(purchases, [30, 90, 365])
    bucket = dg.leaky_bucket(purchases, "quarter", coverage.lapse_days, 8)
    metrics = {"coverage": coverage.as_metrics(), "diagnosis": dg.headline_metrics(kpis, f2, bucket, extra={
        "f2_headline": dg.f2_headline(f2, 30), "min_customers": 30, "observed_from": coverage.observed_from})}
    # the last 12 months start on 2010-12-10, inside the look-back: new vs existing is not observable
    assert not kpis.iloc[0]["split_observable"]
    found = {f.rule: f for f in executive_summary(metrics, ReportSettings(max_findings=12), lang="en",
                                                  currency="GBP", chapters=["00_data_check", "01_diagnosis"])}
    assert "repeat_revenue" not in found
    # F2 is quoted on the 90-day window over customers first seen from observed_from only
    firsts = _firsts(days)
    eligible = firsts[(firsts["first"] >= expected["observed_from"])
                      & (firsts["first"] + pd.Timedelta(days=90) < expected["as_of"])]
    converted = eligible[(eligible["second"] - eligible["first"]).dt.days <= 90]
    f2_found = found["f2_conversion"]
    assert f2_found.values["days"] == 90
    assert (f2_found.values["eligible"], f2_found.values["converted"]) == (len(eligible), len(converted))
    assert f2_found.headline == f"{100 * len(converted) / len(eligible):.1f}%"
    # the share of revenue without a customer, from the ledger (kept revenue is net of credit notes)
    ledger = Ledger.load(processed / "ledger.json")
    no_customer = sum(float(e.amount) for e in ledger.excluded if e.reason == "no_customer")
    share = no_customer / (float(ledger.kept_amount) + no_customer)
    assert "no_customer_revenue" in found and f"{100 * share:.1f}%" in found["no_customer_revenue"].text


def test_cpm_and_ladder_use_the_data_lapse(processed, days, expected):
    from crmlib.store.segments.classify import segment_customers
    seg = segment_customers(processed / "orders.parquet", "2011-12-10", {})
    assert seg.settings.cpm.active_days == expected["lapse"] == seg.settings.ladder.lapse_days
    # lapsed in CPM = no purchase for at least the lapse window (recency >= active_days)
    last = days.groupby("customer_id")["day"].max()
    recency = (expected["as_of"] - last).dt.days
    lapsed = seg.customers["cpm_cell"].astype(str).str.endswith("_lapsed")
    assert int(lapsed.sum()) == int((recency >= expected["lapse"]).sum()) > 0
    # a client's value wins
    fixed = segment_customers(processed / "orders.parquet", "2011-12-10", {"cpm": {"active_days": 240}})
    assert fixed.settings.cpm.active_days == 240 and fixed.settings.ladder.lapse_days == expected["lapse"]


def test_the_journey_map_and_the_diagnosis_give_one_f2(processed, coverage, days, expected):
    # #16 item 7: the journey's first step counted every first purchase in the data (45.0% on Online
    # Retail) while the diagnosis counted observable ones (38.3%); both now count customers first
    # seen from observed_from, eligible when 90 days have passed, converted within 90 days
    from crmlib import strategy as st
    from crmlib.store.segments.classify import segment_customers

    firsts = _firsts(days)
    firsts = firsts[firsts["first"] >= expected["observed_from"]]
    eligible = firsts[firsts["first"] + pd.Timedelta(days=90) < expected["as_of"]]
    converted = int(((eligible["second"] - eligible["first"]).dt.days <= 90).sum())
    orders = processed / "orders.parquet"
    seg = segment_customers(orders, coverage.as_of, {})
    with dg.open_purchases(orders, coverage.as_of) as purchases:
        journey = st.journey_data(purchases, seg, st.load_settings({}).journey,
                                  observed_from=coverage.observed_from).set_index("stage")
    assert (journey.loc["first_purchase", "eligible"], journey.loc["first_purchase", "converted"]) == \
        (len(eligible), converted) == (1383, 530)


def test_the_leaky_bucket_finding_weighs_customers_not_a_year_against_a_quarter(purchases, coverage, days, expected):
    """Online Retail's last full quarter (July to September 2011): 961 customers lapsed, 653 came
    in new and 448 came back, so the active base grew (2,214 -> 2,354). The old finding weighed the
    lapsed customers' year of spend (£635.5K) against the new ones' quarter (£343.8K) and called it
    an alert: "lapses cancel out acquisition". Now it states both and alerts only when the base shrinks."""
    kpis = dg.headline_kpis(purchases, months=12)
    f2 = dg.f2_conversion(purchases, [30, 90, 365])
    bucket = dg.leaky_bucket(purchases, "quarter", coverage.lapse_days, 8)
    metrics = {"coverage": coverage.as_metrics(), "diagnosis": dg.headline_metrics(kpis, f2, bucket, extra={
        "f2_headline": dg.f2_headline(f2, 30), "min_customers": 30, "observed_from": coverage.observed_from})}
    # as the summary reads them, from metrics.json: plain numbers, dates as text
    metrics = json.loads(json.dumps(metrics, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    flows = metrics["diagnosis"]["leaky_bucket"]
    # the quarter's flows by hand from the purchase days (crmlib.diagnosis.bucket's definitions)
    start, end = pd.Timestamp("2011-07-01"), pd.Timestamp("2011-10-01")
    lapse = pd.Timedelta(days=expected["lapse"])
    first_in = days[(days["day"] >= start) & (days["day"] < end) & (days["prev"].isna() | (days["prev"] < start))]
    new = int(first_in["prev"].isna().sum())
    back = int((first_in["day"] - first_in["prev"] > lapse).sum())
    lapsing = days[(days["next"].isna() | (days["next"] - days["day"] > lapse)) & (days["day"] + lapse < expected["as_of"])]
    lost = int(((lapsing["day"] + lapse >= start) & (lapsing["day"] + lapse < end)).sum())
    before = days[(days["day"] < start) & (days["next"].isna() | (days["next"] >= start))]
    active = int((start - before["day"] < lapse).sum())
    assert (flows["lost"], flows["new"], flows["reactivated"], flows["active_start"]) == (lost, new, back, active)
    assert (flows["lost"], flows["new"], flows["reactivated"]) == (961, 653, 448)
    assert flows["active_end"] == flows["active_start"] + 653 + 448 - 961 > flows["active_start"]
    assert flows["lost_revenue"] > flows["new_revenue"]  # what the old rule weighed
    found = {f.rule: f for f in executive_summary(metrics, ReportSettings(max_findings=12), lang="en",
                                                  currency="GBP", chapters=["00_data_check", "01_diagnosis"])}
    bucket_finding = found["leaky_bucket"]
    assert bucket_finding.alert is False and "cancel out" not in bucket_finding.text
    assert bucket_finding.text.startswith("In the last full quarter (2011-07-01 to 2011-09-30), 961 customers lapsed")
    assert "(active customers 2,214 to 2,354)" in bucket_finding.text


def test_the_strategy_neither_splits_nor_projects_a_period_inside_the_look_back(purchases, days, expected):
    """The strategy's last 12 months start on 2010-12-10, nine days into the data: its F2 counts only
    first purchases on or after observed_from (by hand below; it counted wholesale accounts of many
    years, 42.0% against the diagnosis' 38.3%), its tables show no new/existing split (3,753 "new"
    against 497 existing) and no scenario is built on it."""
    from crmlib import strategy as st
    from crmlib.strategy import report, scenario_report
    from crmlib.strategy import scenarios as sc

    as_of = expected["as_of"].date()
    current = st.kpi_values(purchases, st.baseline_span(as_of, 12), 90)
    assert current["split_observable"] is False
    firsts = _firsts(days)
    start = pd.Timestamp(st.baseline_span(as_of, 12).start)
    eligible = firsts[(firsts["first"] >= max(start, expected["observed_from"]))
                      & (firsts["first"] + pd.Timedelta(days=90) < expected["as_of"])]
    converted = eligible[(eligible["second"] - eligible["first"]).dt.days <= 90]
    assert (current["f2_eligible"], current["f2_converted"]) == (len(eligible), len(converted))
    table = report.baseline_table(current, "en", "GBP", 12).set_index(report.t("strategy.goals.col_metric", "en"))
    now = table.columns[0]
    assert table.loc["New customers", now] == "—" and table.loc["Existing customers", now] == "—"
    assert table.loc["Revenue", now] != "—"
    assert "not told apart" in report.split_note(current, lang="en")
    base = sc.Baseline.from_values(current, 12)
    assert "no scenario is computed" in scenario_report.unavailable(base, "en")
    assert "新規と既存を区別できない" in scenario_report.unavailable(base, "ja")


def test_the_strategy_notebook_reads_the_coverage(processed, days, expected):
    """The wiring: the strategy notebook's own cells, up to its goals, on Online Retail. Its
    purchases knew no observed_from before, so the chapter split and counted F2 as if the data
    began with the shop."""
    scope = _run_cells("04_strategy.ipynb", processed, until="current")
    current = scope["current"]
    assert scope["purchases"].observed_from == expected["observed_from"].date()
    assert current["split_observable"] is False
    firsts = _firsts(days)
    start = pd.Timestamp(current["start"])
    eligible = firsts[(firsts["first"] >= max(start, expected["observed_from"]))
                      & (firsts["first"] + pd.Timedelta(days=90) < expected["as_of"])]
    assert current["f2_eligible"] == len(eligible)



def _run_cells(name: str, processed: Path, until: str) -> dict:
    """A notebook's code cells on the processed data, in this process, until `until` is defined."""
    import contextlib
    import io

    import nbformat

    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / name, as_version=4)
    scope: dict = {}
    for cell in (c for c in notebook.cells if c.cell_type == "code"):
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source += f"\nprocessed_dir = {str(processed)!r}\nlang = 'en'\ncurrency = 'GBP'"
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<{name}>", "exec"), scope)
        if until in scope:
            return scope
    raise AssertionError(f"{name} never defines {until}")


def test_the_workshop_simulator_reads_the_coverage_as_the_chapter_does(processed, expected):
    """The simulator says it works as the strategy chapter: on Online Retail's last 12 months it
    must not simulate next year from a new/existing split the data cannot make."""
    from crmlib.strategy import scenario_report

    scope = _run_cells("workshop_simulator.ipynb", processed, until="base")
    assert scope["current"]["split_observable"] is False
    assert "no scenario is computed" in scenario_report.unavailable(scope["base"], "en")


def test_a_baseline_before_the_data_shows_no_figures(processed, expected):
    """4.6 set Online Retail's last year against a baseline year that starts before the data:
    £301,106.87 from its last 9 days beside £7,979,840.08 read as a 26-fold rise."""
    from crmlib.strategy import report

    scope = _run_cells("04_strategy.ipynb", processed, until="baseline")
    baseline, current = scope["baseline"], scope["current"]
    assert pd.Timestamp(baseline["start"]) < expected["start"] <= pd.Timestamp(baseline["end"])
    assert baseline["covered"] is False
    table = report.kpi_tree_table(baseline, current, {}, "en", "GBP").set_index("KPI")
    assert set(table.iloc[:, 0]) == {"—"}  # no partial baseline figure, no change
    assert set(table["Change"]) == {"—"}
    assert table.iloc[0, 1].startswith("£")  # the actual year stays
    assert "not shown" in report.kpi_takeaway(baseline, current, "en", "GBP")


def test_days_to_the_second_purchase_count_only_observable_first_purchases(purchases, days, expected):
    """1.10 counted the data's first-to-second gap of every customer, also of accounts first seen
    in the data's first purchase cycle, whose "second purchase" may be their tenth (57 days there,
    where the journey map, on observable customers, had 49)."""
    firsts = _firsts(days)
    observable = firsts[(firsts["first"] >= expected["observed_from"]) & firsts["second"].notna()]
    gaps = (observable["second"] - observable["first"]).dt.days
    intervals = dg.purchase_intervals(purchases, steps=4).set_index("step")
    assert intervals.loc[1, "gaps"] == len(gaps)
    for q, column in ((0.25, "p25"), (0.5, "p50"), (0.75, "p75")):
        assert intervals.loc[1, column] == pytest.approx(gaps.quantile(q))
    histogram = dg.gap_histogram(purchases, 1, 365, 7)
    assert histogram["gaps"].sum() == len(gaps)
    text = dg.intervals_takeaway(intervals.reset_index(), histogram, "en")
    assert f"These are the {len(gaps):,} second purchases of customers first seen on or after 2011-03-22" in text
    assert gaps.max() < 364 and "come back only after" not in text  # no "0.0% come back after 364 days"
    assert expected["observed_from"] == pd.Timestamp("2011-03-22")
    none = intervals.reset_index().assign(gaps=lambda f: f["gaps"] * 0)  # no observable second purchase
    none.attrs = dict(intervals.attrs)
    assert "first seen on or after 2011-03-22 yet" in dg.intervals_takeaway(none, histogram, "en")
