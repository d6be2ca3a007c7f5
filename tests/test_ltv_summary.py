"""rfm_summary on hand-made orders: same-day merge, calibration/holdout split, time units.

Orders (as_of 2024-04-01, calibration_end 2024-03-01, weeks):
  A: 2024-01-01 10:00 100 + 15:00 50 (one purchase day, 150), 01-15 200, 02-12 300 | holdout 03-05 80
  B: 2024-01-08 500
  C: 2024-02-26 70 + 30 (one day) | holdout 03-10 40, 03-11 60
  D: 2024-03-02 90 (first purchase in the holdout: not a calibration customer)
Last calibration day 2024-02-29 (leap year): T(A) = 59 days, T(B) = 52, T(C) = 3.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
import pytest

from crmlib.store.ltv.summary import calibration_end_for, resolve_as_of, rfm_summaries, rfm_summary

from conftest import ORDERS_SCHEMA, _table

T = dt.datetime
ROWS = [
    ("a1", "A", T(2024, 1, 1, 10), 100.0, 1, 1, "web", None, None, None, "tea"),
    ("a2", "A", T(2024, 1, 1, 15), 50.0, 1, 1, "app", None, None, None, "sweets"),
    ("a3", "A", T(2024, 1, 15), 200.0, 1, 1, "web", None, None, None, "tea"),
    ("a4", "A", T(2024, 2, 12), 300.0, 1, 1, "web", None, None, None, "tea"),
    ("a5", "A", T(2024, 3, 5), 80.0, 1, 1, "web", None, None, None, "tea"),
    ("b1", "B", T(2024, 1, 8), 500.0, 1, 1, "store", None, None, None, "tea"),
    ("c1", "C", T(2024, 2, 26, 9), 70.0, 1, 1, "app", None, None, None, "sweets"),
    ("c2", "C", T(2024, 2, 26, 20), 30.0, 1, 1, "web", None, None, None, "tea"),
    ("c3", "C", T(2024, 3, 10), 40.0, 1, 1, "app", None, None, None, "tea"),
    ("c4", "C", T(2024, 3, 11), 60.0, 1, 1, "app", None, None, None, "tea"),
    ("d1", "D", T(2024, 3, 2), 90.0, 1, 1, "web", None, None, None, "tea"),
]


@pytest.fixture(scope="module")
def orders(tmp_path_factory):
    path = tmp_path_factory.mktemp("ltv_summary") / "orders.parquet"
    pq.write_table(_table(ROWS, ORDERS_SCHEMA), path)
    return path


def test_calibration_and_holdout(orders):
    s = rfm_summary(orders, "2024-04-01", calibration_end="2024-03-01").set_index("customer_id")
    assert list(s.index) == ["A", "B", "C"]  # D's first purchase is in the holdout
    assert s["x"].tolist() == [2, 0, 0]  # A: Jan 15 and Feb 12; C's two orders are one day
    assert s["t_x"].tolist() == pytest.approx([42 / 7, 0.0, 0.0])
    assert s["T"].tolist() == pytest.approx([59 / 7, 52 / 7, 3 / 7])
    assert s.loc["A", "monetary_value"] == 250.0  # mean of the repeat days; the first is left out
    assert np.isnan(s.loc["B", "monetary_value"])
    assert s["first_amount"].tolist() == [150.0, 500.0, 100.0]
    assert s["revenue"].tolist() == [650.0, 500.0, 100.0]
    assert s["x_holdout"].tolist() == [1, 0, 2]
    assert s["holdout_revenue"].tolist() == [80.0, 0.0, 100.0]
    assert s["holdout_length"].tolist() == pytest.approx([31 / 7] * 3)
    assert s["first_channel"].tolist() == ["web", "store", "app"]  # of the first order of the first day
    assert s.loc["A", "cohort_month"] == dt.datetime(2024, 1, 1)


def test_whole_history_in_days(orders):
    s = rfm_summary(orders, "2024-04-01", time_unit_days=1).set_index("customer_id")
    assert list(s.index) == ["A", "B", "C", "D"]
    assert s["x"].tolist() == [3, 0, 2, 0]
    assert s["t_x"].tolist() == [64.0, 0.0, 14.0, 0.0]  # A: Jan 1 -> Mar 5; C: Feb 26 -> Mar 11
    assert s["T"].tolist() == [90.0, 83.0, 34.0, 29.0]  # to Mar 31
    assert s.loc["C", "monetary_value"] == 50.0
    assert s["x_holdout"].sum() == 0 and s["holdout_length"].eq(0).all()


def test_both_periods_from_one_call(orders):
    """rfm_summaries gives the calibration period and the whole history in one query (hand values)."""
    cal, whole = rfm_summaries(orders, "2024-04-01", "2024-03-01", time_unit_days=1)
    cal, whole = cal.set_index("customer_id"), whole.set_index("customer_id")
    assert list(cal.index) == ["A", "B", "C"] and list(whole.index) == ["A", "B", "C", "D"]
    assert cal["x"].tolist() == [2, 0, 0] and whole["x"].tolist() == [3, 0, 2, 0]
    assert cal["t_x"].tolist() == [42.0, 0.0, 0.0] and whole["t_x"].tolist() == [64.0, 0.0, 14.0, 0.0]
    assert cal["T"].tolist() == [59.0, 52.0, 3.0] and whole["T"].tolist() == [90.0, 83.0, 34.0, 29.0]
    assert cal.loc["A", "monetary_value"] == 250.0 and whole.loc["A", "monetary_value"] == 580 / 3
    assert np.isnan(cal.loc["C", "monetary_value"]) and whole.loc["C", "monetary_value"] == 50.0
    assert cal["revenue"].tolist() == [650.0, 500.0, 100.0]
    assert whole["revenue"].tolist() == [730.0, 500.0, 200.0, 90.0]
    assert whole["first_amount"].tolist() == [150.0, 500.0, 100.0, 90.0]
    assert cal["x_holdout"].tolist() == [1, 0, 2] and cal["holdout_revenue"].tolist() == [80.0, 0.0, 100.0]
    assert cal["holdout_length"].tolist() == [31.0] * 3
    assert whole["x_holdout"].eq(0).all() and whole["holdout_revenue"].eq(0).all()
    assert whole["holdout_length"].eq(0).all()
    assert list(cal.columns) == list(whole.columns)
    assert (cal.dtypes == whole.dtypes).all() and cal["x"].dtype == "int64" and cal["T"].dtype == "float64"


def test_as_of_cuts_orders(orders):
    s = rfm_summary(orders, "2024-02-13")
    assert s["customer_id"].tolist() == ["A", "B"]
    assert s["x"].tolist() == [2, 0]


def test_dates_and_errors(orders):
    assert resolve_as_of(orders, "") == dt.date(2024, 3, 12)  # the day after the last order
    assert resolve_as_of(orders, "2024-04-01") == dt.date(2024, 4, 1)
    # holdout = last quarter of first order .. as_of (91 days -> 23)
    assert calibration_end_for(orders, "2024-04-01", 0.25) == dt.date(2024, 3, 9)
    with pytest.raises(ValueError, match="after as_of"):
        rfm_summary(orders, "2024-03-01", calibration_end="2024-03-05")


class _Linear:
    """A purchase model whose expected repeat purchases after a first purchase are t (for tracking)."""

    def expected_purchases_new(self, t):
        return np.asarray(t, dtype="float64")

    def expected_purchases(self, t, x, t_x, T):  # pragma: no cover - not used by tracking
        raise NotImplementedError


def test_tracking_by_hand(orders):
    """Cumulative repeat purchase days of A, B, C (first purchase before Mar 1) per week from Jan 1:
    repeats on day offsets 14, 42, 64, 69, 70; first purchases on offsets 0, 7, 56. The query
    (tracking_counts, run beside the fits in the chapter) and the curves give the same frame as tracking."""
    from crmlib.store.ltv.validation import tracking, tracking_counts, tracking_from_counts

    models = {"linear": _Linear()}
    frame = tracking(orders, "2024-04-01", "2024-03-01", models, time_unit_days=7)
    assert frame["actual"].tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 4, 5, 5, 5]  # ends 7, 14, ..., 84, 91
    assert frame["t"].iloc[-1] == 13.0 and frame["holdout"].tolist() == [False] * 8 + [True] * 5
    # at the end of day 14: ages (14 - 1 - first day) / 7 = 13/7, 6/7 and none yet for C
    assert frame["linear"].iloc[1] == pytest.approx(19 / 7)
    split = tracking_from_counts(tracking_counts(orders, "2024-04-01", "2024-03-01"), "2024-04-01", "2024-03-01",
                                 models, 7)
    assert split.equals(frame)


def test_purchase_days_come_with_the_summaries(orders):
    """rfm_summaries_and_days: the summaries of rfm_summaries and, from the same query, the purchase
    days per day of A, B and C (D's first purchase, Mar 2, is after the calibration end): first
    purchases Jan 1 (A; its two orders are one day), Jan 8 (B), Feb 26 (C); repeats Jan 15, Feb 12,
    Mar 5 (A), Mar 10, Mar 11 (C). Only the asked first-order attribute is filled."""
    from crmlib.store.ltv.summary import rfm_summaries_and_days

    cal, whole, counts = rfm_summaries_and_days(orders, "2024-04-01", "2024-03-01", 1, firsts=("channel",))
    cal0, whole0 = rfm_summaries(orders, "2024-04-01", "2024-03-01", 1)
    assert cal.drop(columns="first_category").equals(cal0.drop(columns="first_category"))
    assert whole.drop(columns="first_category").equals(whole0.drop(columns="first_category"))
    assert whole["first_category"].isna().all() and whole["first_channel"].tolist() == ["web", "store", "app", "web"]
    days = [d.strftime("%m-%d") for d in counts["day"]]
    assert list(zip(days, counts["is_first"], counts["n"])) == [
        ("01-01", True, 1), ("01-08", True, 1), ("01-15", False, 1), ("02-12", False, 1), ("02-26", True, 1),
        ("03-05", False, 1), ("03-10", False, 1), ("03-11", False, 1)]
