"""Expected customer lifetime value from a purchase model (BG/NBD or Pareto/NBD) and a spend model.

CLV of a customer over a horizon of H months, with an annual discount rate d:

    CLV = margin * E[M] * sum_{m=1..H} (E[Y(t_m)] - E[Y(t_{m-1})]) / (1 + d)^(m/12)

where E[Y(t)] is the expected number of repeat purchases in the next t (conditional on the
customer's x, t_x, T), t_m = m months in model time units, and E[M] the expected amount per
purchase from the Gamma-Gamma model. Both purchase models factor as
E[Y(t)] = P(alive) * g(t; x, T), so the monthly curve g is computed once per distinct (x, T)
pair, not per customer.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from .fitting import CompactRows, compact_rows
from .gamma_gamma import GammaGammaFit

DAYS_PER_MONTH = 365.25 / 12


class PurchaseModel(Protocol):
    """What CLV needs from a fitted purchase model."""

    def p_alive(self, x, t_x, T) -> np.ndarray: ...

    def purchases_if_alive(self, t, x, T) -> np.ndarray: ...


def months_in_units(months: float | np.ndarray, time_unit_days: int) -> np.ndarray:
    """Calendar months expressed in model time units (e.g. weeks)."""
    return np.asarray(months, dtype="float64") * DAYS_PER_MONTH / time_unit_days


def spend_per_purchase(summary: pd.DataFrame, spend_fit: GammaGammaFit | None) -> np.ndarray:
    """Expected amount per future purchase: Gamma-Gamma when usable (q > 1), else the customer's
    own mean repeat amount, and the mean over all repeat purchases for one-time buyers."""
    x = summary["x"].to_numpy("float64")
    m = summary["monetary_value"].to_numpy("float64")
    if spend_fit is not None and spend_fit.q > 1:
        return spend_fit.expected_spend(x, m)
    repeat = (x > 0) & np.isfinite(m)
    pooled = float((x[repeat] * m[repeat]).sum() / x[repeat].sum()) if repeat.any() else np.nan
    if not np.isfinite(pooled):  # nobody repeated: the first purchase amounts are all there is
        pooled = float(summary["first_amount"].mean()) if "first_amount" in summary else np.nan
    return np.where(repeat, m, pooled)


def expected_clv(
    purchase_fit: PurchaseModel,
    spend_fit: GammaGammaFit | None,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 36,
    discount_rate: float = 0.10,
    gross_margin: float = 1.0,
    time_unit_days: int = 7,
    rows: CompactRows | None = None,
) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases and spend over the horizon, and discounted CLV.
    rows: the summary's compact (x, t_x, T) rows (fitting.compact_histories) when the caller has
    them: P(alive) is then computed once per distinct row."""
    if rows is None:
        rows = compact_rows(**{c: summary[c].to_numpy("float64") for c in ("x", "t_x", "T")})
    x, T = rows["x"].full, rows["T"].full
    p_alive = np.asarray(purchase_fit.p_alive(x, rows["t_x"].full, T), dtype="float64")[rows.inverse]
    pairs = compact_rows(x=x, T=T)
    pair_of = pairs.inverse[rows.inverse]  # every customer's (x, T) pair
    px, pT = pairs["x"].full, pairs["T"].full
    months = np.arange(horizon_months + 1, dtype="float64")
    times = months_in_units(months, time_unit_days)
    curve = np.stack([purchases_if_alive_at(purchase_fit, t, px, pT) for t in times])  # (H+1, pairs)
    discount = (1.0 + discount_rate) ** (-months[1:] / 12.0)
    discounted = discount @ np.diff(curve, axis=0)
    spend = spend_per_purchase(summary, spend_fit)
    purchases = p_alive * curve[-1][pair_of]
    value = gross_margin * spend * p_alive * discounted[pair_of]
    out = pd.DataFrame(
        {"p_alive": p_alive, "expected_purchases": purchases, "expected_spend": spend, "clv": value},
        index=summary.index,
    )
    if "customer_id" in summary:
        out.insert(0, "customer_id", summary["customer_id"])
    return out


def purchases_if_alive_at(model: PurchaseModel, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """g(t; x, T) for one horizon t over arrays of x and T."""
    return model.purchases_if_alive(np.full_like(x, t), x, T)


def clv_by_segment(scores: pd.DataFrame, labels: pd.Series, order: str = "total",
                   weights: np.ndarray | None = None) -> pd.DataFrame:
    """Customers, mean P(alive), expected purchases and CLV per segment.

    labels: the segment of every customer (aligned with scores); a missing label is its own
    segment. order: "total" (largest total CLV first) or "segment" (by label, e.g. cohorts in time).
    weights: when scores are a sample, the customers each row stands for (sums and means weighted).
    """
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype="float64")
    frame = pd.DataFrame({"segment": labels.to_numpy(), "w": w})
    means = ("p_alive", "expected_purchases", "clv")
    for column in means:  # weighted sums over the known values (a missing score is skipped)
        values = scores[column].to_numpy("float64")
        known = np.isfinite(values)
        frame[column] = np.where(known, values * w, 0.0)
        frame[f"{column}_w"] = np.where(known, w, 0.0)
    sums = frame.groupby("segment", sort=True, dropna=False).sum()
    table = pd.DataFrame({"customers": sums["w"].round().astype("int64")})
    for column in means:
        table[column] = sums[column] / sums[f"{column}_w"].where(sums[f"{column}_w"] > 0)
    table["clv_total"] = sums["clv"]
    table = table.reset_index()
    total = table["clv_total"].sum()
    table["clv_share"] = table["clv_total"] / total if total else np.nan
    if order == "segment":
        return table.reset_index(drop=True)  # groupby sorted the labels
    return table.sort_values("clv_total", ascending=False, kind="stable").reset_index(drop=True)
