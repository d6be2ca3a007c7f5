"""Tracking (定点観測): which earlier report a report compares with, goal progress, measures verified
since, the floors; and the demo's two reports three months apart, whose later report's "since the
last report" section is checked against plain pandas on the demo's orders and trial file."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from crmlib.history import earlier_report
from crmlib.report.tracking import experiment_changes, goal_progress, kpi_changes, per_year, tracking_block


def _report(root: Path, as_of: str, *, failed: tuple[str, ...] = (), kpis: bool = True) -> Path:
    folder = root / as_of
    folder.mkdir(parents=True)
    metrics = {"report": {"as_of": as_of, "failed": list(failed)}}
    if kpis:
        metrics["diagnosis"] = {"kpis": {"current": {"revenue": 1.0}}}
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def test_earlier_report_is_the_latest_complete_one_before(tmp_path: Path) -> None:
    _report(tmp_path, "2024-07-01")
    _report(tmp_path, "2024-10-01")
    _report(tmp_path, "2025-01-01", failed=("04_strategy",))  # a chapter failed: not complete
    _report(tmp_path, "2025-02-01", kpis=False)  # no headline KPIs: not complete
    _report(tmp_path, "2025-04-01")  # the report itself
    _report(tmp_path, "2025-05-01")  # later: never compared with
    (tmp_path / ".2025-03-01.tmp-abc").mkdir()  # a run in progress
    assert earlier_report(tmp_path, dt.date(2025, 4, 1)).as_of == dt.date(2024, 10, 1)
    assert earlier_report(tmp_path, dt.date(2024, 7, 1)) is None
    assert earlier_report(tmp_path / "missing", dt.date(2025, 4, 1)) is None


def _goals(rows: list[dict]) -> dict:
    return {"strategy": {"goals": rows}, "diagnosis": {"kpis": {"current": {"new_customers": 500, "customers": 900}}}}


def test_goal_progress_against_the_pace_needed() -> None:
    # revenue 100 -> target 110 needing +10% a year; three months later 103 (1.03**4 - 1 = 12.6% a
    # year: on track) and for another goal 101 (1.01**4 - 1 = 4.1% a year: behind); F2 25% -> 28%
    # needing 3 points a year, three months later 26%: 4 points a year, on track
    before = _goals([{"metric": "revenue", "baseline": 100.0, "target": 110.0, "required_per_year": 0.10},
                     {"metric": "orders", "baseline": 100.0, "target": 110.0, "required_per_year": 0.10},
                     {"metric": "f2_rate", "baseline": 0.25, "target": 0.28, "required_per_year": 0.03},
                     {"metric": "existing_customers", "baseline": 90.0, "target": 100.0, "required_per_year": 0.2}])
    after = _goals([{"metric": "revenue", "baseline": 103.0}, {"metric": "orders", "baseline": 101.0},
                    {"metric": "f2_rate", "baseline": 0.26}, {"metric": "existing_customers", "baseline": 100.0}])
    rows = {r["metric"]: r for r in goal_progress(before, after, months=3.0, floor=30)}
    assert rows["revenue"]["actual_per_year"] == pytest.approx(0.12550881)
    assert rows["revenue"]["status"] == "on_track"
    assert rows["orders"]["actual_per_year"] == pytest.approx(0.04060401)
    assert rows["orders"]["status"] == "behind"
    assert rows["f2_rate"]["actual_per_year"] == pytest.approx(0.04)
    assert rows["f2_rate"]["status"] == "on_track" and rows["f2_rate"]["n_after"] == 500
    assert rows["existing_customers"]["status"] == "met"
    # a rate goal on fewer new customers than the floor is not assessed
    few = goal_progress(before, after, months=3.0, floor=501)
    assert {r["metric"]: r["status"] for r in few}["f2_rate"] == "too_few"
    assert per_year("revenue", 100.0, 121.0, 24.0) == pytest.approx(0.10)


def test_measures_verified_since_are_the_results_new_to_this_report() -> None:
    def exp(name: str, low: float, high: float, n: int) -> dict:
        return {"name": name, "low": low, "high": high, "difference": (low + high) / 2, "n_treated": n,
                "n_control": n, "window_days": 60}

    before = {"strategy": {"experiments": [exp("mail", -0.01, 0.05, 100), exp("dm", 0.02, 0.06, 200)]}}
    after = {"strategy": {"experiments": [exp("mail", 0.01, 0.05, 300), exp("dm", 0.02, 0.05, 400),
                                          exp("coupon", 0.03, 0.09, 150), exp("app", 0.03, 0.09, 10)]}}
    rows = {r["name"]: r for r in experiment_changes(before, after, floor=30)}
    assert rows["mail"]["status"] == "verified" and rows["mail"]["in_earlier"] and rows["mail"]["n_earlier"] == 200
    assert rows["coupon"]["status"] == "verified" and not rows["coupon"]["in_earlier"]
    assert rows["dm"]["status"] == "confirmed"
    assert rows["app"]["status"] == "pending"  # 10 customers per group: below the floor of 30


def test_a_rate_below_the_floor_is_not_a_number() -> None:
    kpis = {"revenue": 1000.0, "customers": 20, "orders": 25, "repeat_rate": 0.25, "aov": 40.0,
            "start": "2024-01-01", "end": "2025-01-01"}
    before = {"diagnosis": {"kpis": {"current": kpis}}}
    after = {"diagnosis": {"kpis": {"current": {**kpis, "revenue": 1100.0, "repeat_rate": 0.5}}}}
    rows = {r["metric"]: r for r in kpi_changes(before, after, floor=30)}
    assert rows["revenue"]["change"] == pytest.approx(0.10) and rows["revenue"]["shown"]
    assert not rows["repeat_rate"]["shown"]  # 20 customers < 30
    tracking = {"previous": {"as_of": "2024-10-01", "folder": "2024-10-01"}, "months": 3.0, "min_customers": 30,
                "windows": {"before": {"start": "2023-10-01", "end": "2024-10-01"},
                            "after": {"start": "2024-01-01", "end": "2025-01-01"}},
                "kpis": list(rows.values()), "migration": None, "goals": [], "experiments": []}
    block = tracking_block(tracking, lang="en", currency="JPY")
    repeat = next(r for r in block["kpi_rows"] if r[0].startswith("Repeat rate"))
    assert repeat[1:] == ["too few customers (n=20)", "too few customers (n=20)", "not comparable"]
    assert "50.0%" not in json.dumps(block)


def test_no_earlier_report_says_what_would_complete_it() -> None:
    block = tracking_block({"previous": None}, lang="ja", currency="JPY")
    assert "もう一度作成" in block["empty"] and "kpi_rows" not in block


def _kpi_report(root: Path, as_of: str, revenue: float, customers: int, new: int, **report) -> Path:
    folder = root / as_of
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("x", encoding="utf-8")
    metrics = {"report": {"as_of": as_of, "currency": "JPY", "failed": [], **report},
               "diagnosis": {"kpis": {"current": {"revenue": revenue, "customers": customers, "new_customers": new}}}}
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def test_batch_index_shows_each_clients_trend_across_as_of_dates(tmp_path: Path) -> None:
    from crmlib.report.overview import ClientEntry, write_index

    acme = tmp_path / "reports" / "acme"
    _kpi_report(acme, "2024-10-01", 1_000_000.0, 400, 300)
    _kpi_report(acme, "2025-01-01", 1_100_000.0, 380, 250)
    latest = _kpi_report(acme, "2025-04-01", 1_210_000.0, 418, 250)
    index, _ = write_index([ClientEntry("acme", "ok", 1.0, latest)], tmp_path / "reports" / "index.html", lang="en")
    page = index.read_text(encoding="utf-8")
    trend = page[page.index('id="trend"'):]
    # hand-worked: revenue +10.0% then +10.0%, customers -5.0% then +10.0%, new customers -16.7% then +0.0%
    for text in ("¥1,000,000", "¥1,100,000", "¥1,210,000", "+10.0%", "-5.0%", "-16.7%", "+0.0%",
                 'href="acme/2024-10-01/index.html"'):
        assert text in trend, text
    assert trend.index("2024-10-01") < trend.index("2025-01-01") < trend.index("2025-04-01")


def test_a_report_is_out_of_date_once_an_earlier_report_appears(tmp_path: Path) -> None:
    from crmlib.fingerprint import up_to_date_report

    fingerprint = {"data_sha256": "d1"}
    later = _kpi_report(tmp_path / "acme", "2025-04-01", 1.0, 1, 1, fingerprint=fingerprint)
    data = json.loads((later / "metrics.json").read_text(encoding="utf-8"))
    data["tracking"] = {"previous": None}
    (later / "metrics.json").write_text(json.dumps(data), encoding="utf-8")
    assert up_to_date_report(tmp_path, "acme", fingerprint) == later
    _kpi_report(tmp_path / "acme", "2025-01-01", 1.0, 1, 1)  # rendered since: the later one would compare with it
    assert up_to_date_report(tmp_path, "acme", fingerprint) is None


# ---- the demo: two reports three months apart ---------------------------------------------------

def _kpis(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    first = orders.groupby("customer_id")["ordered_at"].min()
    window = orders[(orders["ordered_at"] >= start) & (orders["ordered_at"] < end)]
    buyers = window["customer_id"].unique()
    new = int((first.loc[buyers] >= start).sum())
    return {"revenue": float(window["amount"].sum()), "customers": len(buyers), "orders": len(window),
            "new_customers": new, "existing_customers": len(buyers) - new}


def test_demo_later_report_shows_the_changes_since_the_earlier_one(demo_report: Path) -> None:
    later = dt.date.fromisoformat(demo_report.name)
    earlier = (pd.Timestamp(later) - pd.DateOffset(months=3)).date()
    assert (demo_report.parent / earlier.isoformat() / "index.html").is_file()
    tracking = json.loads((demo_report / "metrics.json").read_text(encoding="utf-8"))["tracking"]
    assert tracking["previous"]["as_of"] == earlier.isoformat()

    work = demo_report.parents[2]
    orders = pd.read_parquet(work / "data" / "processed" / "demo" / "orders.parquet",
                             columns=["customer_id", "ordered_at", "amount"])
    year = pd.DateOffset(months=12)
    old = _kpis(orders, pd.Timestamp(earlier) - year, pd.Timestamp(earlier))
    new = _kpis(orders, pd.Timestamp(later) - year, pd.Timestamp(later))
    rows = {r["metric"]: r for r in tracking["kpis"]}
    for metric in old:
        assert rows[metric]["before"] == pytest.approx(old[metric]), metric
        assert rows[metric]["after"] == pytest.approx(new[metric]), metric
    assert rows["revenue"]["change"] == pytest.approx(new["revenue"] / old["revenue"] - 1)
    # the generator's drift: new customers a month grow 22% a year, so both rise over the quarter
    assert rows["revenue"]["change"] > 0 and rows["new_customers"]["change"] > 0

    # migration: every customer of the later date once; the '_new' row is those whose first order
    # falls between the two dates; the earlier rows are the customers before the earlier date
    first = orders.groupby("customer_id")["ordered_at"].min()
    matrix = pd.DataFrame(tracking["migration"]["matrix"]).T
    assert int(matrix.to_numpy().sum()) == len(first)
    assert int(matrix.loc["_new"].sum()) == int((first >= pd.Timestamp(earlier)).sum())
    assert int(matrix.drop(index="_new").to_numpy().sum()) == int((first < pd.Timestamp(earlier)).sum())
    assert tracking["migration"]["moves"]["new"] == int((first >= pd.Timestamp(earlier)).sum())

    # the revenue goal (+10% by 2026-03-31, examples/demo.yaml) from the earlier baseline: the pace
    # it needed then against the pace seen in the three months since
    goal = next(g for g in tracking["goals"] if g["metric"] == "revenue")
    months = (later - earlier).days / (365.25 / 12)
    to_deadline = (dt.date(2026, 3, 31) - earlier).days / (365.25 / 12)
    needed = 1.10 ** (12 / to_deadline) - 1
    actual = (new["revenue"] / old["revenue"]) ** (12 / months) - 1
    assert goal["before"] == pytest.approx(old["revenue"]) and goal["target"] == pytest.approx(old["revenue"] * 1.1)
    assert goal["needed_per_year"] == pytest.approx(needed) and goal["actual_per_year"] == pytest.approx(actual)
    assert goal["status"] == ("on_track" if actual >= needed else "behind")

    # the follow-up-mail trial: members whose 60-day window had ended by each date
    trial = pd.read_csv(work / "data" / "sample" / "trial_f2_mail.csv", parse_dates=["sent_at"])
    ended = trial["sent_at"] + pd.Timedelta(days=60)
    mail = next(e for e in tracking["experiments"] if e["name"] == "F2フォローメール")
    assert mail["n"] == int((ended < pd.Timestamp(later)).sum())
    assert mail["n_earlier"] == int((ended < pd.Timestamp(earlier)).sum())
    assert mail["n"] > mail["n_earlier"] > 0 and math.isclose(mail["difference"], 0.08, abs_tol=0.04)

    page = (demo_report / "index.html").read_text(encoding="utf-8")
    assert page.index("前回レポートからの変化") < page.index('id="summary"')
    assert f"前回レポート（{earlier.year}年{earlier.month}月{earlier.day}日時点" in page
    assert f"{new['customers']:,}" in page and f"{old['customers']:,}" in page
    first_page = (demo_report.parent / earlier.isoformat() / "index.html").read_text(encoding="utf-8")
    # a first report does not open with what it cannot show: the line is among the data limits
    assert "以前のレポートがないため" in first_page and 'id="since-last-report"' not in first_page
    assert first_page.index("以前のレポートがないため") > first_page.index('id="summary"')


def test_a_report_without_its_kpis_says_so_instead_of_comparing(tmp_path: Path) -> None:
    from crmlib.report.tracking import tracking_section

    _report(tmp_path, "2025-01-01")
    current = {"report": {"as_of": "2025-04-01"}}  # the diagnosis chapter failed: no KPIs
    tracking = tracking_section(tmp_path, current, orders_path=None)
    assert tracking["previous"]["as_of"] == "2025-01-01" and tracking["incomplete"]
    block = tracking_block(tracking, lang="en", currency="JPY")
    assert "as of 2025-01-01" in block["empty"] and "kpi_rows" not in block
