"""Headline figures passed out of notebooks: each chapter merges its values into a JSON file.

The pipeline gives every chapter its own file and merges them into the report's metrics.json,
so parallel chapters never write the same file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any, where: str = "value") -> Any:
    """A JSON-ready copy: numpy/Decimal -> int/float, dates -> ISO text, NaN -> None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, Decimal)):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if isinstance(value, (dt.date, dt.datetime)):  # pandas.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        items = sorted(value) if isinstance(value, set) else list(value)
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(items)]
    raise TypeError(f"{where}: cannot store {type(value).__name__} in metrics; pass a number, text or date")


def read_metrics(path: Path | str) -> dict[str, Any]:
    """The metrics stored at path ({} when the file does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def write_json_atomic(path: Path | str, data: Any) -> None:
    """Write JSON to a uniquely named file beside path, then rename it over path (readers never
    see half a file; created with open(), so the usual umask permissions apply)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def record_metrics(path: Path | str | None, section: str, values: dict[str, Any]) -> None:
    """Merge values under `section` into the metrics JSON at path; '' or None records nothing."""
    if path is None or str(path) == "":
        return
    converted = plain(values, section)
    data = read_metrics(path)
    data.setdefault(section, {}).update(converted)
    write_json_atomic(path, data)


def merge_metrics(paths: list[Path], into: Path) -> dict[str, Any]:
    """Merge several metrics files (in order, later values win) into one file; returns the data."""
    merged: dict[str, Any] = read_metrics(into)
    for path in paths:
        for section, values in read_metrics(path).items():
            merged.setdefault(section, {}).update(values)
    write_json_atomic(into, merged)
    return merged
