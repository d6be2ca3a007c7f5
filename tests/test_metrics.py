"""record_metrics: merge per section, plain JSON values, atomic writes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crmlib.metrics import merge_metrics, record_metrics


def test_record_merges_sections_and_converts_values(tmp_path):
    # sections no chapter declares a model for (the contract is tested in test_architecture)
    path = tmp_path / "m.json"
    record_metrics(path, "scratch", {"orders": np.int64(5), "revenue": np.float64(8500.0)})
    record_metrics(path, "scratch", {"aov": Decimal("1700.5"), "first": pd.Timestamp("2024-01-10 10:00")})
    record_metrics(path, "notes", {"day": dt.date(2024, 5, 1), "nan": float("nan"), "ok": np.bool_(True),
                                 "months": ["2024-03"], "nested": {"n": np.int32(2)}})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "scratch": {"orders": 5, "revenue": 8500.0, "aov": 1700.5, "first": "2024-01-10T10:00:00"},
        "notes": {"day": "2024-05-01", "nan": None, "ok": True, "months": ["2024-03"], "nested": {"n": 2}},
    }
    assert type(data["scratch"]["orders"]) is int
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary files left


def test_empty_path_records_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record_metrics("", "data_check", {"orders": 5})
    record_metrics(None, "data_check", {"orders": 5})
    assert list(tmp_path.iterdir()) == []


def test_unsupported_value_is_an_error(tmp_path):
    with pytest.raises(TypeError, match="data_check.frame"):
        record_metrics(tmp_path / "m.json", "data_check", {"frame": object()})
    assert not (tmp_path / "m.json").exists()


def test_merge_metrics_later_files_win(tmp_path):
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "out.json"
    record_metrics(a, "s", {"x": 1, "y": 1})
    record_metrics(b, "s", {"y": 2})
    record_metrics(b, "t", {"z": 3})
    assert merge_metrics([a, b, tmp_path / "missing.json"], out) == {"s": {"x": 1, "y": 2}, "t": {"z": 3}}


def test_metrics_file_gets_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    record_metrics(tmp_path / "m.json", "s", {"x": 1})
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o666 & ~umask
