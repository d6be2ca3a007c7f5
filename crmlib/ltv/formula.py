"""Formula LTV = AOV x purchase frequency x retention period, with costs, payback and levers.

Each input is measured on the data before as_of (the "window" is the last 12 months, or the
whole history when it is shorter):

- AOV (客単価) = revenue / orders in the window;
- frequency (年間購入頻度) = orders / customers who bought in the window, scaled to a year
  (x 365.25 / window days when the history is shorter than a year);
- annual retention (継続率) = share of the customers of one period who buy again in the next
  period of the same length (two 12-month periods; with less than 24 months of data, the two
  halves of the history, the rate raised to the power 365.25 / half-length in days);
- retention period (継続年数) = 1 / (1 - annual retention), the expected number of years a
  customer keeps buying when each year the same share stays, capped at max_retention_years.

LTV (revenue) = AOV x frequency x retention period; gross-profit LTV = LTV x gross margin.
Costs: lifetime cost = CPA + retention cost per year x retention period; the ratio
gross-profit LTV / lifetime cost above 1 means a customer pays back what it costs. The CPO
ceiling is the acquisition cost at which the ratio is exactly 1 (gross-profit LTV minus the
lifetime retention cost). Payback is read from the observed cumulative curve (months until
cumulative gross profit per customer, less retention cost, covers the CPA), and extrapolated
at the formula's monthly rate when the data ends before that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..orders import orders_sql, query
from ..store.ltv.settings import LTVSettings
from ..store.ltv.summary import order_span, to_date

WINDOW_SQL = """
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers, coalesce(sum(amount), 0) AS revenue
FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at >= {start}
"""

NEW_CUSTOMERS_SQL = """
SELECT count(*) FROM (
    SELECT customer_id FROM ({src}) WHERE customer_id IS NOT NULL
    GROUP BY customer_id HAVING min(ordered_at) >= {start}
)
"""

RETENTION_SQL = """
WITH base AS (
    SELECT DISTINCT customer_id FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at >= {p0} AND ordered_at < {p1}
),
later AS (
    SELECT DISTINCT customer_id FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at >= {p1}
)
SELECT (SELECT count(*) FROM base) AS base, count(*) AS kept FROM base JOIN later USING (customer_id)
"""


def _ts(day: dt.date) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


DAYS_PER_YEAR = 365.25


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` years earlier (29 February -> 28 February)."""
    return (pd.Timestamp(day) - pd.DateOffset(years=years)).date()


@dataclass(frozen=True)
class FormulaInputs:
    """The measured inputs of the formula (see the module docstring for each definition)."""

    window_days: int  # the measuring window: 12 calendar months, or the whole (shorter) history
    orders: int
    customers: int
    new_customers: int  # customers whose first order is in the window
    revenue: float
    aov: float
    frequency: float  # orders per customer per year
    retention_period_days: int  # length of each of the two periods compared
    retention_base: int  # customers of the first period
    retention_kept: int  # ... of whom bought again in the second
    retention_rate: float  # annual
    annual_revenue: float  # revenue per year (the window's revenue, scaled to a year)

    @property
    def year_scale(self) -> float:
        """Factor from the window to one year (1 for a 12-month window)."""
        return DAYS_PER_YEAR / self.window_days if self.window_days < 365 else 1.0


def history_days(orders_path: Path | str, as_of: dt.date | str) -> int:
    """Days of order history before as_of (first order day to as_of)."""
    span = order_span(orders_path, as_of)
    return 0 if span is None else (to_date(as_of) - span[0]).days


def formula_inputs(orders_path: Path | str, as_of: dt.date | str) -> FormulaInputs:
    """Measure AOV, annual frequency and annual retention on the orders before as_of."""
    as_of = to_date(as_of)
    src = orders_sql(orders_path, as_of)
    days = history_days(orders_path, as_of)
    start = _years_before(as_of, 1)
    if (as_of - start).days > days:  # less than a year of history: the whole history
        start = as_of - dt.timedelta(days=days)
    window = (as_of - start).days
    orders, customers, revenue = query(WINDOW_SQL.format(src=src, start=_ts(start))).iloc[0].tolist()
    new = int(query(NEW_CUSTOMERS_SQL.format(src=src, start=_ts(start))).iloc[0, 0])
    orders, customers, revenue = int(orders), int(customers), float(revenue)
    scale = (DAYS_PER_YEAR / window if window < 365 else 1.0) if window > 0 else math.nan
    aov = revenue / orders if orders else math.nan
    frequency = orders / customers * scale if customers else math.nan
    # two consecutive 12-month periods, or two halves of a shorter history
    p0 = _years_before(as_of, 2)
    if p0 >= as_of - dt.timedelta(days=days):
        p1 = _years_before(as_of, 1)
    else:
        half = days // 2
        p1, p0 = as_of - dt.timedelta(days=half), as_of - dt.timedelta(days=2 * half)
    period = (as_of - p1).days
    base = kept = 0
    rate = math.nan
    if period >= 28:
        base, kept = (int(v) for v in query(
            RETENTION_SQL.format(src=src, p0=_ts(p0), p1=_ts(p1))).iloc[0].tolist())
        if base:
            rate = (kept / base) ** (DAYS_PER_YEAR / period) if period < 365 else kept / base
    return FormulaInputs(
        window_days=window, orders=orders, customers=customers, new_customers=new, revenue=revenue,
        aov=aov, frequency=frequency, retention_period_days=period, retention_base=base,
        retention_kept=kept, retention_rate=rate, annual_revenue=revenue * scale,
    )


@dataclass(frozen=True)
class FormulaLTV:
    """Formula LTV and the cost view derived from it."""

    aov: float
    frequency: float
    retention_rate: float
    retention_years: float
    ltv: float  # revenue
    gross_margin: float | None  # None: not set, every money figure is revenue
    ltv_gross_profit: float | None  # None without a gross margin
    cpa: float | None
    retention_cost_year: float
    lifetime_cost: float | None  # CPA + retention cost over the retention period
    ratio: float | None  # LTV (gross profit; revenue without a margin) / lifetime cost
    cpo_ceiling: float | None  # break-even acquisition cost; None without a gross margin (revenue is not affordable)
    payback_months: float | None
    payback_estimated: bool  # True when extrapolated beyond the observed curve

    @property
    def has_margin(self) -> bool:
        """A gross margin was set (ltv.gross_margin): profit figures and the CPO ceiling exist."""
        return self.gross_margin is not None


def retention_years(rate: float, cap: float) -> float:
    """Expected years of buying, 1 / (1 - annual retention), capped (NaN when the rate is unknown)."""
    if not math.isfinite(rate):
        return math.nan
    return cap if rate >= 1 - 1 / cap else 1.0 / (1.0 - rate)


def formula_ltv(
    inputs: FormulaInputs,
    settings: LTVSettings,
    curve: pd.DataFrame | None = None,
    *,
    aov: float | None = None,
    frequency: float | None = None,
    retention_rate: float | None = None,
    cpa: float | None = None,
    retention_cost_year: float | None = None,
) -> FormulaLTV:
    """LTV, gross-profit LTV, LTV / cost, CPO ceiling and payback; keyword values override inputs.

    curve: the cumulative revenue per customer of all customers (historical.cumulative_ltv with
    by="all") for the observed payback; without it payback uses the formula's monthly rate only.
    """
    aov = inputs.aov if aov is None else aov
    frequency = inputs.frequency if frequency is None else frequency
    rate = inputs.retention_rate if retention_rate is None else retention_rate
    cpa = settings.cpa if cpa is None else cpa
    keep_cost = settings.retention_cost_per_customer_year if retention_cost_year is None else retention_cost_year
    years = retention_years(rate, settings.max_retention_years)
    ltv = aov * frequency * years
    margin = settings.gross_margin
    ltv_gp = None if margin is None else ltv * margin
    lifetime_keep = keep_cost * years
    lifetime_cost = None if cpa is None else cpa + lifetime_keep
    ratio = (ltv if ltv_gp is None else ltv_gp) / lifetime_cost if lifetime_cost else None
    months, estimated = (None, False)
    if cpa is not None and margin is not None:  # payback is in gross profit: no margin, no payback
        months, estimated = payback(cpa, aov * frequency * margin, keep_cost, margin, curve)
    return FormulaLTV(
        aov=aov, frequency=frequency, retention_rate=rate, retention_years=years, ltv=ltv,
        gross_margin=margin, ltv_gross_profit=ltv_gp, cpa=cpa, retention_cost_year=keep_cost,
        lifetime_cost=lifetime_cost, ratio=ratio, cpo_ceiling=None if ltv_gp is None else ltv_gp - lifetime_keep,
        payback_months=months, payback_estimated=estimated,
    )


def payback(
    cpa: float, gross_profit_year: float, keep_cost_year: float, margin: float, curve: pd.DataFrame | None
) -> tuple[float | None, bool]:
    """Months until a new customer's cumulative gross profit, less retention cost, covers the CPA.

    Read from the observed curve (month k counts as k+1 months); beyond its end, extrapolated at
    (gross profit per year - retention cost per year) / 12 a month. (None, False) if never.
    """
    if cpa <= 0:
        return 0.0, False
    last_net, last_months = 0.0, 0.0
    if curve is not None and len(curve):
        ordered = curve.sort_values("months_since")
        months = ordered["months_since"].to_numpy("float64") + 1.0
        net = ordered["revenue_per_customer"].to_numpy("float64") * margin - keep_cost_year * months / 12.0
        reached = np.flatnonzero(net >= cpa)
        if reached.size:
            return float(months[reached[0]]), False
        last_net, last_months = float(net[-1]), float(months[-1])
    monthly = (gross_profit_year - keep_cost_year) / 12.0
    if not math.isfinite(monthly) or monthly <= 0:
        return None, False
    return last_months + (cpa - last_net) / monthly, True


# Every lever moves by the same relative step of its own value (issue #16: +5 points of retention
# beside +5% of order value compared different things).
LEVERS: tuple[tuple[str, str, float], ...] = (
    ("aov", "relative", 0.05), ("aov", "relative", 0.10),
    ("frequency", "relative", 0.05), ("frequency", "relative", 0.10),
    ("retention", "relative", 0.05), ("retention", "relative", 0.10),
    ("cpa", "relative", -0.10), ("retention_cost", "relative", -0.10),
)


def lever_table(
    inputs: FormulaInputs, settings: LTVSettings, base: FormulaLTV | None = None, curve: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Effect of each lever on LTV, LTV / cost and one year's revenue and gross profit.

    Every driver moves by the same relative step of its own value, so the rows compare like with
    like: AOV, frequency and the annual retention rate by +5% / +10% (retention 40% -> 42%, not
    45%; capped at 99.9%), CPA and the retention cost by -10%. One year's effect: AOV and
    frequency scale this year's revenue; a retention gain keeps `(new rate - rate) x customers`
    more customers buying for a year (less their retention cost); cost levers save `10% x CPA x
    new customers` or `10% x retention cost x customers`. Cost levers are left out when the cost
    is not set (or 0). Without a gross margin (ltv.gross_margin) the gross-profit effect is None:
    revenue is not profit.
    """
    base = base or formula_ltv(inputs, settings, curve)
    customers_year = inputs.customers  # customers of one year (of the window when shorter)
    new_year = inputs.new_customers * inputs.year_scale  # new customers per year
    rows = []
    for lever, kind, step in LEVERS:
        changes: dict[str, float] = {}
        margin = settings.gross_margin if settings.gross_margin is not None else math.nan
        revenue_effect = profit_effect = 0.0
        if lever == "aov":
            changes["aov"] = base.aov * (1 + step)
            revenue_effect = inputs.annual_revenue * step
            profit_effect = revenue_effect * margin
        elif lever == "frequency":
            changes["frequency"] = base.frequency * (1 + step)
            revenue_effect = inputs.annual_revenue * step
            profit_effect = revenue_effect * margin
        elif lever == "retention":
            if not math.isfinite(base.retention_rate):
                continue
            changes["retention_rate"] = min(base.retention_rate * (1 + step), 0.999)
            kept = (changes["retention_rate"] - base.retention_rate) * customers_year
            revenue_effect = kept * base.aov * base.frequency
            profit_effect = revenue_effect * margin - kept * base.retention_cost_year
        elif lever == "cpa":
            if not base.cpa:
                continue
            changes["cpa"] = base.cpa * (1 + step)
            profit_effect = -step * base.cpa * new_year
        elif lever == "retention_cost":
            if not base.retention_cost_year:
                continue
            changes["retention_cost_year"] = base.retention_cost_year * (1 + step)
            profit_effect = -step * base.retention_cost_year * customers_year
        after = formula_ltv(inputs, settings, curve, **changes)
        rows.append({
            "lever": lever, "kind": kind, "step": step,
            "ltv": after.ltv, "ltv_change": after.ltv / base.ltv - 1 if base.ltv else math.nan,
            "ltv_gross_profit": after.ltv_gross_profit,
            "ratio": after.ratio, "cpo_ceiling": after.cpo_ceiling,
            "annual_revenue_effect": revenue_effect,
            "annual_profit_effect": profit_effect if math.isfinite(profit_effect) else None,
        })
    return pd.DataFrame(rows)


def as_dict(result: FormulaLTV | FormulaInputs) -> dict:
    """A plain dict of a result (for metrics.json)."""
    return dataclasses.asdict(result)
