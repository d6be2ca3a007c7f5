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
    # 1998-06-30, so no first purchase is within 90 days of as_of or of a year before
    table = targets.target_values(seg, targets.default_targets(seg))
    stage1 = table.set_index("key").loc["stage1"]
    assert stage1["customers"] == 0 and stage1["basis"] == "backtest"
    assert report.targets_note(table, True, "ja")
