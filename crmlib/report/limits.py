"""The "data limits" block of the index page: what this data cannot show, and why.

Read from metrics.json only (the coverage model the data check records, and the chapters' own
coverage flags), so it knows no chapter: a line appears when its keys say the limit applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..findings import Metrics
from ..i18n import t
from ..style import fmt_date, fmt_int, fmt_money, fmt_pct


def _date(value: Any, lang: str) -> str:
    """An ISO date from metrics.json, formatted for the report."""
    return fmt_date(dt.date.fromisoformat(str(value)[:10]), lang)


def data_limits(metrics: Mapping[str, Any], lang: str, currency: str) -> list[str]:
    """The sentences of the data-limits block (empty when nothing limits the report)."""
    m = Metrics(metrics)
    out: list[str] = []
    share, amount = m.get("coverage.no_customer_share"), m.get("coverage.no_customer_revenue")
    if amount:
        out.append(t("summary.limit_no_customer", lang, share=fmt_pct(share or 0.0),
                     amount=fmt_money(amount, currency, lang, prose=True)))
    censored = m.get("coverage.censored_customers")
    if censored and not m.get("coverage.observable_customers"):
        out.append(t("summary.limit_censored_all", lang, days=fmt_int(m.get("coverage.history_days") or 0),
                     lookback=fmt_int(m.get("coverage.lookback_days") or 0)))
    elif censored:
        out.append(t("summary.limit_censored", lang, start=_date(m.get("coverage.data_start"), lang),
                     observed_from=_date(m.get("coverage.observed_from"), lang), censored=fmt_int(censored),
                     observable=fmt_int(m.get("coverage.observable_customers") or 0)))
    if m.get("diagnosis.kpis.current.split_observable") is False:
        out.append(t("summary.limit_split", lang, months=fmt_int(m.get("diagnosis.period_months") or 12)))
    if m.get("diagnosis.retention_value.covered") is False:
        out.append(t("summary.limit_retention_value", lang, days=fmt_int(m.get("coverage.history_days") or 0),
                     months=fmt_int(m.get("diagnosis.period_months") or 12)))
    customers, floor = m.get("coverage.customers"), m.get("coverage.min_customers")
    if customers is not None and floor is not None and customers < floor:
        out.append(t("summary.limit_few_customers", lang, customers=fmt_int(customers), floor=fmt_int(floor)))
    status = m.get("ltv.predictive_status")
    if isinstance(status, str) and status.startswith("failed"):
        out.append(t("summary.limit_model", lang))
    return out


__all__ = ["data_limits"]
