"""The index page of a batch run and the cross-client comparison built from each metrics.json.

One offline HTML page (links to every client's report, relative to the page, so the folder can
be zipped and moved) and the same comparison as CSV (UTF-8 with BOM, for Excel).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__, registry
from ..history import past_reports
from ..i18n import t
from ..metrics import metric_at, read_metrics
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from .html import CSS_PATH, TEMPLATES_DIR, external_urls

# The comparison table's columns: (message key, metrics path, format): the report's currency,
# then each chapter's own (crmlib.registry). A path missing from a report (a chapter not
# rendered, an older report) shows as a dash.
COLUMNS: list[tuple[str, str, str]] = [
    ("m_currency", "report.currency", "text"),
    *((c.label, c.path, c.kind) for c in registry.overview_columns()),
]


@dataclass
class ClientEntry:
    """One client on the index page: its batch status and the report to link (if any)."""

    client: str
    status: str  # ok, skipped, failed
    seconds: float | None
    report: Path | None  # the report folder; for a failed client, its previous report if any
    error: str | None = None


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every scalar of a metrics dict under its dotted path; lists of scalars joined with ';'."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{path}."))
        elif isinstance(value, list):
            if all(not isinstance(v, (dict, list)) for v in value):
                flat[path] = ";".join("" if v is None else str(v) for v in value)
        else:
            flat[path] = value
    return flat


def _format(value: Any, kind: str, currency: str) -> str:
    if value is None:
        return "-"
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "int":
        return fmt_int(value)
    if kind == "num":
        return fmt_num(value, 2)
    if kind == "pct":
        return fmt_pct(value, 1)
    return str(value)


def _metrics_of(entry: ClientEntry) -> dict[str, Any] | None:
    if entry.report is None or not (entry.report / "metrics.json").is_file():
        return None
    try:
        return read_metrics(entry.report / "metrics.json")
    except (OSError, ValueError):
        return None


def write_comparison_csv(entries: list[ClientEntry], path: Path) -> Path:
    """One row per client with a report: status, report folder and every scalar metric."""
    rows = []
    for entry in entries:
        metrics = _metrics_of(entry)
        if metrics is not None:
            rows.append({"client": entry.client, "status": entry.status, "report": str(entry.report),
                         **flatten_metrics(metrics)})
    keys = sorted({key for row in rows for key in row} - {"client", "status", "report"})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, ["client", "status", "report", *keys], restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


TREND = (("trend_revenue", "revenue", "money"), ("trend_customers", "customers", "int"),
         ("trend_new_customers", "new_customers", "int"))


def trend_rows(entries: list[ClientEntry]) -> list[dict[str, Any]]:
    """Each client's complete reports in as-of order (crmlib.history): the 12-month revenue,
    customers and new customers of each as-of date, with the change against the one before."""
    from ..wording import pct_change

    rows = []
    for entry in entries:
        if entry.report is None:
            continue
        previous = None
        for past in past_reports(entry.report.parent):
            kpis = metric_at(past.metrics, "diagnosis.kpis.current") or {}
            currency = metric_at(past.metrics, "report.currency") or "JPY"
            cells = []
            for _, key, kind in TREND:
                value = kpis.get(key)
                before = None if previous is None else previous.get(key)
                cells.append({"value": _format(value, kind, currency),
                              "change": (pct_change(value, before) or "-") if previous is not None else "-"})
            rows.append({"client": entry.client, "as_of": past.as_of.isoformat(), "cells": cells,
                         "folder": past.folder})
            previous = kpis
    return rows


def index_page(entries: list[ClientEntry], out: Path, *, lang: str, csv_name: str,
               made: dt.datetime | None = None) -> str:
    """The batch index page: a status row per client and the comparison table."""
    made = made or dt.datetime.now()
    counts = {status: sum(1 for e in entries if e.status == status) for status in ("ok", "skipped", "failed")}

    def href(folder: Path | None) -> str | None:
        return os.path.relpath(folder / "index.html", out.parent) if folder else None

    status_rows = []
    for e in entries:
        status_rows.append({
            "client": e.client, "status": e.status, "status_text": t(f"batch.status_{e.status}", lang),
            "as_of": (e.report.name if e.report else "-"),
            "time": t("batch.seconds", lang, seconds=f"{e.seconds:.1f}") if e.seconds is not None else "-",
            "href": href(e.report),
            "link_text": t("batch.previous_report" if e.status == "failed" else "batch.open_report", lang),
            "note": e.error or "",
        })
    compare_rows = []
    for e in entries:
        metrics = _metrics_of(e)
        if metrics is None:
            continue
        currency = metric_at(metrics, "report.currency") or "JPY"
        compare_rows.append({
            "client": e.client, "href": href(e.report), "as_of": metric_at(metrics, "report.as_of") or "-",
            "cells": [_format(metric_at(metrics, path), kind, currency) for _, path, kind in COLUMNS],
        })
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    page = env.get_template("batch_index.html.j2").render(
        lang=lang, version=__version__, css=CSS_PATH.read_text(encoding="utf-8"),
        title=t("batch.title", lang),
        meta=t("batch.meta", lang, date=made.strftime("%Y-%m-%d %H:%M"), clients=len(entries), **counts),
        m={key: t(f"batch.{key}", lang) for key in (
            "reports", "comparison", "comparison_note", "comparison_csv", "col_client", "col_status",
            "col_as_of", "col_time", "col_report", "col_note", "no_report", "trend", "trend_note", "trend_none")},
        headers=[t(f"batch.{key}", lang) for key, _, _ in COLUMNS],
        status_rows=status_rows, compare_rows=compare_rows, csv_name=csv_name,
        trend_rows=[{**row, "href": href(row["folder"])} for row in trend_rows(entries)],
        trend_headers=[t(f"batch.{key}", lang) for key, _, _ in TREND], trend_change=t("batch.trend_change", lang),
        footer=t("batch.generated_by", lang, version=__version__),
    )
    external = external_urls(page)
    if external:  # a client name cannot be a URL (SAFE_NAME), so this is a template bug
        raise RuntimeError(f"batch index would load {external[0]} from the network")
    return page


def write_index(entries: list[ClientEntry], out: Path, *, lang: str = "ja") -> tuple[Path, Path]:
    """Write the index page at out and the comparison CSV beside it; returns both paths."""
    out = Path(out).resolve()
    csv_path = out.with_name(f"{out.stem}-comparison.csv")
    write_comparison_csv(entries, csv_path)
    page = index_page(entries, out, lang=lang, csv_name=csv_path.name)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out, csv_path


__all__ = ["COLUMNS", "ClientEntry", "flatten_metrics", "index_page", "metric_at", "trend_rows",
           "write_comparison_csv", "write_index"]
