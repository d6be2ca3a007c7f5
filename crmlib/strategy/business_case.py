"""The business case of one plan measure: expected return, ROI, break-even uplift and sample size.

For a list of n customers, a control group of control = round(n x control_share) held out, and
treated = n - control contacted:
- cost = treated x cost_per_contact + fixed_cost;
- extra buyers = treated x uplift (uplift: the rise in the share buying within the horizon);
- expected revenue = extra buyers x value (value: the list's own revenue per order);
- expected gross profit = expected revenue x gross margin (no margin: revenue only, no profit);
- ROI = (gross profit - cost) / cost;
- break-even uplift = cost / (treated x value x margin): the uplift at which gross profit pays
  the cost (ROI = 0).
Sample size: the customers a two-sided test of two shares (baseline p0 against p0 + uplift,
Cohen's arcsine effect size h) needs at the given significance and power, with the plan's
control share: the power of that z test (statsmodels' NormalIndPower) solved in closed form plus
Newton steps, so that no run imports statsmodels and scipy.stats for it (0.6 CPU-s in the
report process and again in the strategy chapter's kernel; tests/test_business_case.py checks it
against statsmodels and Cohen's tables). The detectable uplift is the smallest rise the list as
it is can verify.
"""

from __future__ import annotations

import math

from ..intervals import STANDARD_NORMAL


def effect_size(p1: float, p0: float) -> float:
    """Cohen's h of two shares: 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))


def power_distance(alpha: float = 0.05, power: float = 0.80) -> float:
    """The distance x = h sqrt(n_eff) at which a two-sided z test at alpha has the given power:
    the root of Phi(x - c) + Phi(-x - c) = power (c the two-sided critical value), from the
    one-sided start c + z_power; Newton steps add the far tail's tiny share."""
    critical = STANDARD_NORMAL.inv_cdf(1 - alpha / 2)
    x = critical + STANDARD_NORMAL.inv_cdf(power)
    for _ in range(50):
        gap = STANDARD_NORMAL.cdf(x - critical) + STANDARD_NORMAL.cdf(-x - critical) - power
        slope = STANDARD_NORMAL.pdf(x - critical) - STANDARD_NORMAL.pdf(x + critical)
        if slope <= 0:
            break
        step = gap / slope
        x -= step
        if abs(step) < 1e-13 * max(1.0, abs(x)):
            break
    return x


def split(n: int, control_share: float) -> tuple[int, int]:
    """(treated, control) of a list of n customers: control = n x control_share, rounded."""
    control = round(n * control_share)
    return n - control, control


def campaign_cost(treated: int, cost_per_contact: float | None, fixed_cost: float | None) -> float | None:
    """treated x cost per contact + fixed cost; None when neither cost is set."""
    if cost_per_contact is None and fixed_cost is None:
        return None
    return treated * (cost_per_contact or 0.0) + (fixed_cost or 0.0)


def expected_revenue(treated: int, uplift: float | None, value: float | None) -> float | None:
    """The extra buyers (treated x uplift) times the revenue of one order."""
    if uplift is None or value is None:
        return None
    return treated * uplift * value


def gross_profit(revenue: float | None, margin: float | None) -> float | None:
    """Revenue x gross margin; None without a margin (revenue is not profit)."""
    return None if revenue is None or margin is None else revenue * margin


def roi(profit: float | None, cost: float | None) -> float | None:
    """(gross profit - cost) / cost; None without a profit or a positive cost."""
    if profit is None or cost is None or cost <= 0:
        return None
    return (profit - cost) / cost


def break_even_uplift(treated: int, value: float | None, margin: float | None, cost: float | None) -> float | None:
    """The uplift at which gross profit equals the cost: cost / (treated x value x margin)."""
    if cost is None or margin is None or value is None or treated <= 0 or value <= 0 or margin <= 0:
        return None
    return cost / (treated * value * margin)


def sample_size(p0: float | None, uplift: float | None, control_share: float, alpha: float = 0.05,
                power: float = 0.80) -> int | None:
    """The list size (treated + control) that detects p0 -> p0 + uplift with a two-sided test of
    two shares; None when the uplift is not positive or the shares leave 0-1."""
    if p0 is None or uplift is None or uplift <= 0 or not 0 <= p0 < 1 or p0 + uplift > 1:
        return None
    h = abs(effect_size(p0 + uplift, p0))
    ratio = control_share / (1 - control_share)  # control per treated customer
    return math.ceil(treated_needed(h, control_share, alpha, power) * (1 + ratio))


def treated_needed(h: float, control_share: float, alpha: float = 0.05, power: float = 0.80) -> float:
    """Treated customers a two-sided test needs to detect Cohen's effect size h, with
    control_share of the list as control: n_eff = (x / h)^2 and n_eff = treated x ratio / (1 + ratio),
    ratio = control / treated (statsmodels' NormalIndPower.solve_power for nobs1)."""
    ratio = control_share / (1 - control_share)
    n_eff = (power_distance(alpha, power) / h) ** 2
    return n_eff * (1 + ratio) / ratio


def detectable_uplift(p0: float | None, n: int, control_share: float, alpha: float = 0.05,
                      power: float = 0.80) -> float | None:
    """The smallest rise from p0 a list of n customers can verify (the inverse of sample_size)."""
    treated, control = split(n, control_share)
    if p0 is None or not 0 <= p0 < 1 or treated < 2 or control < 2:
        return None
    n_eff = treated * control / (treated + control)  # 1 / (1 / treated + 1 / control)
    h = power_distance(alpha, power) / math.sqrt(n_eff)
    # h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)) solved for p1
    angle = h / 2 + math.asin(math.sqrt(p0))
    return None if angle >= math.pi / 2 else math.sin(angle) ** 2 - p0


__all__ = ["break_even_uplift", "campaign_cost", "detectable_uplift", "effect_size", "expected_revenue", "gross_profit",
           "power_distance", "roi", "sample_size", "split", "treated_needed"]
