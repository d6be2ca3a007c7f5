"""A client's earlier reports: its as-of folders under reports/<client>/ whose metrics.json is complete.

The tracking section of a report ("since the last report") compares with one of them, the batch
index shows the trend across them, and the up-to-date check (crmlib.fingerprint) re-renders a
report when the earlier report it would compare with has changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .metrics import metric_at, read_metrics

# What a report must hold to be compared with: the headline KPIs of its period.
REQUIRED = ("diagnosis.kpis.current",)


@dataclass(frozen=True)
class PastReport:
    """One complete report of the client: its as-of date, folder and metrics."""

    as_of: dt.date
    folder: Path
    metrics: dict[str, Any]


def complete_metrics(folder: Path) -> dict[str, Any] | None:
    """The folder's metrics.json when the report is complete (no failed chapter, the headline KPIs
    recorded, the as-of date its folder is named for), else None."""
    try:
        metrics = read_metrics(folder / "metrics.json")
    except (OSError, ValueError):
        return None
    report = metrics.get("report") if isinstance(metrics, dict) else None
    if not isinstance(report, dict) or report.get("failed") or str(report.get("as_of")) != folder.name:
        return None
    if any(metric_at(metrics, path) is None for path in REQUIRED):
        return None
    return metrics


def past_reports(client_dir: Path | str) -> list[PastReport]:
    """Every complete report of the client, oldest first (hidden folders of runs in progress skipped)."""
    folder = Path(client_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            day = dt.date.fromisoformat(path.name)
        except ValueError:
            continue
        metrics = complete_metrics(path)
        if metrics is not None:
            found.append(PastReport(day, path, metrics))
    return found


def earlier_report(client_dir: Path | str, as_of: dt.date) -> PastReport | None:
    """The report to compare a report at as_of with: the latest complete one before as_of."""
    earlier = [r for r in past_reports(client_dir) if r.as_of < as_of]
    return earlier[-1] if earlier else None


__all__ = ["PastReport", "complete_metrics", "earlier_report", "past_reports"]
