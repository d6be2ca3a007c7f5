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
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError


def plain(value: Any, where: str = "value") -> Any:
    """A JSON-ready copy: numpy/Decimal -> int/float, dates -> ISO text, NaN -> None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    import numpy as np  # here: reading metrics (the run's own process) needs neither
    import pandas as pd

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


def metric_at(metrics: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a metrics dict, or None when any part is missing."""
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


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
    """Merge values under `section` into the metrics JSON at path; '' or None records nothing.
    Raises MetricsContractError when the section's declared model refuses the merged values."""
    if path is None or str(path) == "":
        return
    converted = plain(values, section)
    data = read_metrics(path)
    data.setdefault(section, {}).update(converted)
    check_section(section, data[section])
    write_json_atomic(path, data)


def merge_metrics(paths: list[Path], into: Path) -> dict[str, Any]:
    """Merge several metrics files (in order, later values win) into one file; returns the data."""
    merged: dict[str, Any] = read_metrics(into)
    for path in paths:
        for section, values in read_metrics(path).items():
            merged.setdefault(section, {}).update(values)
    write_json_atomic(into, merged)
    return merged


# ---- the metrics contract: each section of metrics.json has a model -------------------------

Num = float | None  # a JSON number, or null where the figure is not defined (NaN, no sample)


class MetricsModel(BaseModel):
    """Base of a metrics.json section's model: a key the model does not declare is refused, so
    renaming or adding a figure without declaring it fails the chapter instead of silently
    starving the summary rules that read it (the rules' keys are checked against the models)."""

    model_config = ConfigDict(extra="forbid")


class Share(MetricsModel):
    """A group's size and its shares of customers and revenue (segment tables)."""

    customers: int | None = None
    customer_share: Num = None
    revenue_share: Num = None


class MetricsContractError(ValueError):
    """A chapter recorded figures its section's model does not declare (a code bug, not a data problem)."""


def section_model(section: str) -> type[BaseModel] | None:
    """The model of a metrics.json section, as the chapter registry declares it (None: undeclared)."""
    from .registry import (  # the registry names models as "module:Model"
        CHAPTERS,
        resolve,
    )

    refs = [ref for chapter in CHAPTERS for name, ref in chapter.records if name == section]
    return resolve(refs[0]) if refs else None


def check_section(section: str, values: dict[str, Any]) -> None:
    """Raise MetricsContractError when values do not fit the section's declared model."""
    model = section_model(section)
    if model is None:
        return
    try:
        model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(section)'}: {error['msg']}" for error in exc.errors()[:5])
        raise MetricsContractError(
            f"metrics section '{section}' does not fit its model {model.__module__}.{model.__name__}: {problems}. "
            "A figure was renamed, added or changed type without its model: declare it there and check the "
            "summary rules and comparison columns that read it.") from None


def path_declared(model: Any, path: str) -> bool:
    """True when the dotted path (below the section) names a field of the model: through nested
    models, dict values (any key) and list items (numeric index)."""
    return _declared(model, [part for part in path.split(".") if part] if path else [])


def _declared(kind: Any, parts: list[str]) -> bool:
    if not parts:
        return True
    if kind is Any:
        return True
    origin = get_origin(kind)
    if origin in (Union, UnionType):
        return any(_declared(arg, parts) for arg in get_args(kind) if arg is not type(None))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        field = kind.model_fields.get(parts[0])
        if field is None:
            return kind.model_config.get("extra") == "allow"
        return _declared(field.annotation, parts[1:])
    if origin is dict:
        return _declared(get_args(kind)[1], parts[1:])
    if origin is list:
        return parts[0].isdigit() and _declared(get_args(kind)[0], parts[1:])
    return False  # a leaf value has no parts below it
