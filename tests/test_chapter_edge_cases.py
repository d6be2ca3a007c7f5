"""Ordinary inputs that used to stop a chapter (issue 19, items 1-3): each renders with clear text.

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlib.segments import segment_customers
from crmlib.strategy import inputs, report, targets, verification
from crmlib.strategy.settings import Experiment

from conftest import ORDERS_SCHEMA, _table
from datasets import CDNOW_SAMPLE, need

D = dt.date
T = dt.datetime


def _orders(path: Path, rows: list[tuple[str, str, dt.datetime, float]], channel: str = "web",
            category: str = "x") -> Path:
    full = [(o, c, ts, amount, 1.0, 1, channel, "completed", "x", None, category) for o, c, ts, amount in rows]
    pq.write_table(_table(full, ORDERS_SCHEMA), path)
    return path


# ---- 1. ladder stage 1 empty now and a year before (CDNOW's shape) ------------------------------

def test_an_empty_ladder_class_has_the_schemes_basis_and_the_note_reads(tmp_path: Path) -> None:
    # every first purchase is in January 2023; as of 2024-06-01 and a year before (2023-06-01) each
    # first purchase is more than 90 days old, so no customer is at stage 1 (one purchase, recent):
    # the one-time buyers b and c are lapsed, a (3 purchases) is at stage 3 then and now.
    orders = _orders(tmp_path / "orders.parquet", [
        ("1", "a", T(2023, 1, 5), 100.0), ("2", "a", T(2023, 2, 5), 100.0), ("3", "a", T(2023, 3, 5), 100.0),
        ("4", "b", T(2023, 1, 9), 50.0), ("5", "c", T(2023, 1, 12), 70.0),
    ])
    seg = segment_customers(orders, D(2024, 6, 1), {})
    values = targets.class_values(seg, "ladder").set_index("class")
    assert values.loc["stage1", "customers"] == 0 and values.loc["stage1", "then_customers"] == 0
    assert values["basis"].eq("backtest").all()  # was NaN for stage1 (and the classes before it)
    table = targets.target_values(seg, targets.default_targets(seg))
    # the note is the backtest's (the first default target is stage 1: its basis was NaN)
    assert report.targets_note(table, True, "en").startswith("Value per customer = what the customers")
    assert report.targets_note(table, True, "ja")


@need(CDNOW_SAMPLE)
def test_cdnow_targets_note(tmp_path: Path) -> None:
    from crmlib.ingest import ingest_file

    result = ingest_file(CDNOW_SAMPLE, preset="cdnow", out_dir=tmp_path / "p")
    seg = segment_customers(result.out_dir / "orders.parquet", result.as_of, {})
    # CDNOW's customers all made their first purchase in January-March 1997; the data ends on
    # 1998-06-30, so no first purchase is within 90 days of as_of or of a year before. A year
    # before, 1997-07-01, lies inside the data's first look-back (the coverage model cannot tell
    # a first purchase from a returning customer's in it): the values are the trailing ones
    table = targets.target_values(seg, targets.default_targets(seg))
    stage1 = table.set_index("key").loc["stage1"]
    assert stage1["customers"] == 0 and stage1["basis"] == "censored"
    assert report.targets_note(table, True, "ja")



@need(CDNOW_SAMPLE)
def test_a_closed_cohort_splits_new_and_existing_exactly(tmp_path: Path) -> None:
    """CDNOW's customers all made their first purchase in January-March 1997. Its last 12 months
    (1997-07-01 on) start before observed_from, but nobody was first seen between the two: every
    customer of the period is an existing one, so the split is exact (0 new), not unknown. A span
    starting on 1997-02-01 holds first purchases before observed_from: unknown."""
    from crmlib.diagnosis import open_purchases
    from crmlib.ingest import ingest_file
    from crmlib.store.coverage import measure_coverage
    from crmlib.store.kpis import period_kpis
    from crmlib.store.purchases import Span

    result = ingest_file(CDNOW_SAMPLE, preset="cdnow", out_dir=tmp_path / "p")
    orders = pd.read_parquet(result.out_dir / "orders.parquet", columns=["customer_id", "ordered_at"])
    first = orders.groupby("customer_id")["ordered_at"].min()
    assert first.max() < pd.Timestamp("1997-04-01")  # the closed cohort
    coverage = measure_coverage(result.out_dir / "orders.parquet", result.as_of)
    assert coverage.observed_from > dt.date(1997, 7, 1)
    with open_purchases(result.out_dir / "orders.parquet", result.as_of) as purchases:
        purchases.observed_from = coverage.observed_from
        last_year = period_kpis(purchases, Span(dt.date(1997, 7, 1), result.as_of))
        assert last_year["split_observable"] is True and last_year["new_customers"] == 0
        bought = orders[(orders["ordered_at"] >= pd.Timestamp("1997-07-01"))]["customer_id"].nunique()
        assert last_year["existing_customers"] == bought
        assert purchases.splits_new(Span(dt.date(1997, 2, 1), dt.date(1998, 2, 1))) is False

# ---- 2. an experiment that cannot be compared yet; an execution log with no rows ----------------

def _effect(tmp_path: Path, groups: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    orders = _orders(tmp_path / "orders.parquet", [
        ("1", "t1", T(2024, 6, 1), 100.0), ("2", "k1", T(2024, 6, 2), 80.0), ("3", "t1", T(2024, 7, 20), 50.0),
    ])
    experiment = Experiment(name="F2 mail", file=Path("unused.csv"), window_days=60)
    return verification.compare_groups(verification.experiment_outcomes(orders, as_of, groups, 60), experiment)


def test_an_experiment_whose_window_has_not_ended_says_when_to_look(tmp_path: Path) -> None:
    # sent 2024-07-01 with a 60-day window: complete once sent_at + 60 < as_of, i.e. from
    # 2024-08-31 on; as of 2024-08-01 nobody is complete
    groups = pd.DataFrame({"customer_id": ["t1", "k1"], "group": ["treated", "control"],
                           "sent_at": [D(2024, 7, 1), D(2024, 7, 1)]})
    effect = _effect(tmp_path, groups, D(2024, 8, 1))
    assert effect.attrs["incomplete"] == 2 and effect.attrs["ready_on"] == D(2024, 8, 31)
    assert not verification.comparable(effect)
    text = report.effect_pending(effect, "en")
    assert "has not ended for any of its 2 customers" in text and "on or after 2024-08-31" in text
    assert "2024年8月31日以降" in report.effect_pending(effect, "ja")
    later = _effect(tmp_path, groups, D(2024, 8, 31))  # the date it names: both are compared
    assert verification.comparable(later) and later.attrs["incomplete"] == 0
    with pytest.raises(ValueError, match="both groups"):  # not a TypeError deep in matplotlib
        charts_effect(effect)


def charts_effect(effect: pd.DataFrame) -> None:
    from crmlib.strategy import charts

    charts.effect_chart(effect, "en")


def test_an_experiment_file_with_only_the_treated_says_what_is_missing(tmp_path: Path) -> None:
    groups = pd.DataFrame({"customer_id": ["t1"], "group": ["treated"], "sent_at": [D(2024, 5, 1)]})
    effect = _effect(tmp_path, groups, D(2024, 8, 1))  # 05-01 + 60 < 08-01: t1 is complete
    assert not verification.comparable(effect)
    text = report.effect_pending(effect, "en")
    assert "no control customer can be compared (1 treated and 0 control" in text
    assert "比較できる対照群の顧客がいません" in report.effect_pending(effect, "ja")


def test_an_execution_log_with_a_header_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("date,measure,segment,channel,volume,cost\n", encoding="utf-8")
    log = inputs.read_execution_log(path)
    summary = inputs.execution_summary(log)
    assert len(log) == 0 and len(summary) == 0
    assert report.log_takeaway(log, summary, "en", "JPY").startswith("The execution log has its header but no rows")
    assert report.log_takeaway(log, summary, "ja", "JPY").startswith("実行記録のファイルは見出し行だけで")


# ---- 3. data values with '$' are drawn as text, not mathtext ------------------------------------

DOLLAR_CHANNEL = "app (US$ price, 10% off $)"


def test_a_dollar_pair_in_a_channel_is_drawn_as_it_is() -> None:
    import matplotlib as mpl
    from matplotlib.text import Text

    from crmlib.charts import figure_png
    from crmlib.ltv import charts
    from crmlib.style import apply_style

    with mpl.rc_context():
        apply_style("en")
        assert mpl.rcParams["text.parse_math"] is False
        curve = pd.DataFrame({"group": [DOLLAR_CHANNEL, DOLLAR_CHANNEL, "$x^2$"], "months_since": [0, 1, 0],
                              "revenue_per_customer": [100.0, 150.0, 90.0]})
        fig = charts.cumulative_chart(curve, "first_channel", "month", "en", "USD")
        png = figure_png(fig)  # mathtext raised ParseException on the first label
        assert png.startswith(b"\x89PNG")
        labels = [text for text in fig.findobj(Text) if text.get_text() in (DOLLAR_CHANNEL, "$x^2$")]
        assert len(labels) == 2 and not any(text.get_parse_math() for text in labels)


def test_figure_png_draws_plain_text_even_without_apply_style() -> None:
    import matplotlib as mpl
    from matplotlib.figure import Figure

    from crmlib.charts import figure_png

    with mpl.rc_context({"text.parse_math": True}):  # matplotlib's own default
        fig = Figure()
        ax = fig.subplots()
        ax.barh([DOLLAR_CHANNEL, "web"], [1, 2])
        ax.set_title("$a$ and $b$")
        figure_png(fig)
        assert not fig.axes[0].title.get_parse_math()
        assert all(not label.get_parse_math() for label in ax.get_yticklabels())
