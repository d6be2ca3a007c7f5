"""What the data can show: the data-coverage model every chapter and every summary rule reads.

Computed once per report from orders.parquet (before as_of) and recorded by the data check
under ``coverage`` in metrics.json. Definitions (purchases as in purchases.py: with
merge_same_day a customer's orders on one calendar day are one purchase):

- history: the days from the first order's day (data_start) to as_of.
- the purchase cycle: every gap in days between a customer's consecutive purchases, pooled.
- look-back (left censoring): the 90th percentile of the gaps, clamped to
  [LOOKBACK_MIN, LOOKBACK_MAX] days (LOOKBACK_DEFAULT with fewer than MIN_GAPS gaps). A customer
  first seen before data_start + look-back is *left-censored*: nine in ten returning buyers
  come back within that many days, so a long-standing account is very likely to show up in it,
  and its first purchase in the data is not its first purchase. New vs existing, F2, cohorts and
  acquisition comparisons use only customers first seen on or after ``observed_from``.
- lapse (離脱): the 90th percentile of the gaps, clamped to [LAPSE_MIN, LAPSE_MAX] days
  (LAPSE_DEFAULT with fewer than MIN_GAPS gaps): nine in ten returns come sooner, so a customer
  silent for longer has probably left. A client's YAML value (diagnosis.lapse_days, read only by
  yaml_lapse_days) wins. It is the shop's one lapse window: the leaky bucket, CPM's active days and
  the ladder's lapse (crmlib.store.segments, unless the segments: section sets them) and the
  strategy chapter all use it.
- a customer's observable tenure: days from their first purchase in the data to as_of.
- revenue without a customer: lines with no customer id, e-mail or phone (guest checkouts,
  counter sales, ...), which the ingest excludes (ledger reason ``no_customer``) and every
  customer analysis leaves out, plus any order left without one; its share is of the revenue
  kept plus that revenue. The ledger covers the whole file, not only the orders before as_of.
- min_customers: the floor under which a rate is shown as "too few customers (n)" and never
  feeds a finding (diagnosis.min_customers).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import yaml_lapse_days  # the one reader of diagnosis.lapse_days (no pandas: the fingerprint reads it)
from ..ledger import Ledger
from ..numbers import ratio
from ..orders import connect, orders_sql
from .asof import resolve_as_of
from .kept import keep, kept_path

LOOKBACK_PERCENTILE, LOOKBACK_MIN, LOOKBACK_MAX, LOOKBACK_DEFAULT = 0.9, 30, 365, 90
LAPSE_PERCENTILE, LAPSE_MIN, LAPSE_MAX, LAPSE_DEFAULT = 0.9, 92, 730, 365
MIN_GAPS = 30  # fewer gaps than this: the cycle is not measured, the defaults apply
MIN_CUSTOMERS = 30  # default floor of a rate's sample (diagnosis.min_customers)

GAPS_SQL = """
WITH days AS (
    SELECT customer_id, {day} AS day
    FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
    {group}
), gaps AS (
    SELECT date_diff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS gap
    FROM days
)
SELECT count(gap) AS n, quantile_cont(gap, 0.5) AS p50, quantile_cont(gap, {lookback}) AS p_lookback,
       quantile_cont(gap, {lapse}) AS p_lapse
FROM gaps WHERE gap IS NOT NULL
"""

TOTALS_SQL = """
SELECT CAST(min(ordered_at) AS DATE) AS data_start, CAST(max(ordered_at) AS DATE) AS data_end,
       count(*) AS orders, coalesce(sum(amount), 0.0) AS revenue,
       count(*) FILTER (WHERE customer_id IS NULL) AS no_customer_orders,
       coalesce(sum(amount) FILTER (WHERE customer_id IS NULL), 0.0) AS no_customer_revenue
FROM ({src})
WHERE ordered_at IS NOT NULL
"""

FIRSTS_SQL = """
SELECT count(*) AS customers, count(*) FILTER (WHERE first_day < DATE '{observed_from}') AS censored
FROM (SELECT customer_id, CAST(min(ordered_at) AS DATE) AS first_day
      FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL GROUP BY customer_id)
"""


def _clamp(value: float | None, low: int, high: int, default: int) -> int:
    """A percentile as whole days within [low, high] (the default when unmeasured)."""
    if value is None or pd.isna(value):
        return default
    return int(min(max(round(float(value)), low), high))


@dataclass(frozen=True)
class Coverage:
    """What one client's data covers (definitions in the module docstring)."""

    as_of: dt.date
    data_start: dt.date
    data_end: dt.date
    history_days: int
    gaps: int  # gaps between purchases measured
    gap_median: float | None
    gap_lookback: float | None  # the look-back percentile of the gaps (None when unmeasured)
    gap_lapse: float | None  # the lapse percentile of the gaps
    lookback_days: int
    observed_from: dt.date  # first day a customer's first purchase is taken as their first ever
    lapse_days: int
    lapse_source: str  # "data", "default" (too few gaps) or "settings" (the client's YAML)
    customers: int
    censored_customers: int
    observable_customers: int
    orders: int
    revenue: float
    no_customer_orders: int
    no_customer_revenue: float
    no_customer_share: float | None
    min_customers: int = MIN_CUSTOMERS

    def censored(self, first_day: dt.date) -> bool:
        """True when a customer first seen on this day may have bought before the data starts."""
        return first_day < self.observed_from

    def observable(self, days: int) -> bool:
        """True when the history is at least this many days long."""
        return self.history_days >= days

    def as_metrics(self) -> dict[str, Any]:
        """The figures for metrics.json (dates as ISO text)."""
        out = asdict(self)
        for key in ("as_of", "data_start", "data_end", "observed_from"):
            out[key] = out[key].isoformat()
        out["censored_share"] = ratio(self.censored_customers, self.customers)
        return out


def _ledger_no_customer(orders_path: Path) -> float:
    """The revenue of the lines the ingest left out for want of a customer (0 without a ledger)."""
    path = orders_path.parent / "ledger.json"
    if not path.exists():
        return 0.0
    ledger = Ledger.load(path)
    return float(sum(float(e.amount) for e in ledger.excluded if e.reason == "no_customer"))


DATE_FIELDS = ("as_of", "data_start", "data_end", "observed_from")


def _kept_path(orders_path: Path, day: dt.date, merge_same_day: bool) -> Path | None:
    """Where the measured coverage of (orders file, day, same-day rule) is kept; None without the file."""
    return kept_path(orders_path, "coverage", ".json", day.isoformat(), merge_same_day, LOOKBACK_PERCENTILE,
                     LAPSE_PERCENTILE)


def _read_kept(path: Path | None) -> Coverage | None:
    """The kept measurement, or None when there is none or it cannot be read (it is then measured)."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name in DATE_FIELDS:
            data[name] = dt.date.fromisoformat(data[name])
        return Coverage(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _keep(path: Path | None, coverage: Coverage) -> None:
    """Write the measurement atomically beside the orders (a read-only folder keeps nothing)."""
    data = asdict(coverage)
    for name in DATE_FIELDS:
        data[name] = data[name].isoformat()
    keep(path, lambda partial: partial.write_text(json.dumps(data), encoding="utf-8"))


def measure_coverage(orders_path: Path | str, as_of: dt.date | str | None = None, *, merge_same_day: bool = True,
                     lapse_days: int | None = None, min_customers: int = MIN_CUSTOMERS) -> Coverage:
    """The coverage of the orders before as_of; lapse_days (the client's YAML) overrides the data's.

    Measured once per (orders file, as_of, same-day rule) and kept in <processed>/store/, so the
    data check, the diagnosis and the segments read one measurement; the YAML's lapse_days and
    min_customers are applied on top."""
    orders_path = Path(orders_path)
    day = resolve_as_of(orders_path, as_of)
    kept = _kept_path(orders_path, day, merge_same_day)
    measured = _read_kept(kept)
    if measured is None:
        measured = _measure(orders_path, day, merge_same_day)
        _keep(kept, measured)
    if lapse_days is not None:
        measured = replace(measured, lapse_days=int(lapse_days), lapse_source="settings")
    return replace(measured, min_customers=int(min_customers))


def _measure(orders_path: Path, day: dt.date, merge_same_day: bool) -> Coverage:
    """One DuckDB pass over the orders: totals, the gaps' percentiles, the left-censored customers."""
    src = orders_sql(orders_path, day)
    con = connect()
    try:
        totals = con.execute(TOTALS_SQL.format(src=src)).df().iloc[0]
        grouping = ("CAST(ordered_at AS DATE)", "GROUP BY customer_id, day") if merge_same_day else \
            ("ordered_at", "")
        gaps = con.execute(GAPS_SQL.format(src=src, day=grouping[0], group=grouping[1],
                                           lookback=LOOKBACK_PERCENTILE, lapse=LAPSE_PERCENTILE)).df().iloc[0]
        n_gaps = int(gaps["n"])
        measured = n_gaps >= MIN_GAPS
        lookback = _clamp(gaps["p_lookback"] if measured else None, LOOKBACK_MIN, LOOKBACK_MAX, LOOKBACK_DEFAULT)
        start = pd.Timestamp(totals["data_start"]).date() if pd.notna(totals["data_start"]) else day
        end = pd.Timestamp(totals["data_end"]).date() if pd.notna(totals["data_end"]) else day
        observed_from = start + dt.timedelta(days=lookback)
        firsts = con.execute(FIRSTS_SQL.format(src=src, observed_from=observed_from.isoformat())).fetchone()
    finally:
        con.close()
    lapse = _clamp(gaps["p_lapse"] if measured else None, LAPSE_MIN, LAPSE_MAX, LAPSE_DEFAULT)
    source = "data" if measured else "default"
    customers, censored = int(firsts[0]), int(firsts[1])
    number = lambda v: None if pd.isna(v) else float(v)
    revenue = float(totals["revenue"])
    no_customer = float(totals["no_customer_revenue"]) + _ledger_no_customer(orders_path)
    return Coverage(
        as_of=day, data_start=start, data_end=end, history_days=(day - start).days, gaps=n_gaps,
        gap_median=number(gaps["p50"]), gap_lookback=number(gaps["p_lookback"]), gap_lapse=number(gaps["p_lapse"]),
        lookback_days=lookback, observed_from=observed_from, lapse_days=lapse, lapse_source=source,
        customers=customers, censored_customers=censored, observable_customers=customers - censored,
        orders=int(totals["orders"]), revenue=revenue, no_customer_orders=int(totals["no_customer_orders"]),
        no_customer_revenue=no_customer, no_customer_share=ratio(no_customer, revenue - float(totals["no_customer_revenue"]) + no_customer),
    )


CUSTOMERS_SQL = """
SELECT customer_id, CAST(min(ordered_at) AS DATE) AS first_day
FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL GROUP BY customer_id ORDER BY customer_id
"""


def customer_coverage(orders_path: Path | str, coverage: Coverage) -> pd.DataFrame:
    """One row per customer: first_day in the data, observable_tenure_days (to as_of), left_censored."""
    con = connect()
    try:
        frame = con.execute(CUSTOMERS_SQL.format(src=orders_sql(orders_path, coverage.as_of))).df()
    finally:
        con.close()
    first = pd.to_datetime(frame["first_day"])
    frame["observable_tenure_days"] = (pd.Timestamp(coverage.as_of) - first).dt.days.astype("int64")
    frame["left_censored"] = first < pd.Timestamp(coverage.observed_from)
    return frame


__all__ = ["Coverage", "customer_coverage", "measure_coverage", "yaml_lapse_days"]
