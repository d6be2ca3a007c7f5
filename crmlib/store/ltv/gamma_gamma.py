"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie's note on the model).

A customer's repeat purchase amounts are Gamma(p, nu) with a customer-specific nu ~ Gamma(q, v);
fitted on repeat buyers only, from x (repeat purchases) and m_x (their mean amount):

    ln f(m_x | x) = ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m_x + px ln x
                    - (px+q) ln(v + x m_x)

The expected mean spend of a customer is a weighted mean of the population mean p v / (q-1)
and the customer's own mean: E[M | x, m_x] = p (v + x m_x) / (px + q - 1). The population mean
exists only when q > 1, and the model assumes that spend does not depend on purchase frequency:
both are checked and reported (see validation.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from .fitting import CompactRows, ModelFit, as_array, compact_rows, maximise, standard_errors

PARAMS = ("p", "q", "v")


def log_likelihood(params: tuple[float, float, float], x, m) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of mean spend m over x repeat purchases (x > 0)."""
    p, q, v = params
    x, m = as_array(x), as_array(m)
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * np.log(m)
            + px * np.log(x) - (px + q) * np.log(v + x * m))


@dataclass(frozen=True)
class _Data:
    """Repeat buyers arranged for the likelihood: totals per distinct x, constant sums, and per
    row only x*m_x (the one term that changes with the parameters is ln(v + x m_x))."""

    x_values: np.ndarray
    x_weights: np.ndarray
    sum_w_log_m: float  # sum of w ln m
    sum_wx_log_xm: float  # sum of w x (ln m + ln x)
    xm: np.ndarray  # per row x * m
    w: np.ndarray
    wx: np.ndarray  # per row w * x

    @classmethod
    def from_rows(cls, rows: CompactRows) -> "_Data":
        x, m, w = rows["x"].full, rows["m"].full, rows.weights
        return cls(
            x_values=rows["x"].values,
            x_weights=np.bincount(rows["x"].codes, weights=w, minlength=len(rows["x"].values)),
            sum_w_log_m=float(w @ np.log(m)),
            sum_wx_log_xm=float((w * x) @ (np.log(m) + np.log(x))),
            xm=x * m,
            w=w,
            wx=w * x,
        )


def _nll_and_gradient(params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and analytic gradient; special functions once per distinct x.

    Summed over customers: sum_x W_x [ln G(px+q) - ln G(px) - ln G(q) + q ln v]
    + p sum w x (ln m + ln x) - sum w ln m - sum w (px + q) ln(v + x m).
    """
    p, q, v = params
    xv, xw = data.x_values, data.x_weights
    n = xw.sum()
    pxv = p * xv
    psi_pq = digamma(pxv + q)
    log_vxm = np.log(v + data.xm)
    inv_vxm = 1.0 / (v + data.xm)
    s_wx_l, s_w_l = data.wx @ log_vxm, data.w @ log_vxm
    s_wx_i, s_w_i = data.wx @ inv_vxm, data.w @ inv_vxm
    ll = (xw @ (gammaln(pxv + q) - gammaln(pxv)) + n * (q * np.log(v) - gammaln(q))
          + p * data.sum_wx_log_xm - data.sum_w_log_m - p * s_wx_l - q * s_w_l)
    d_p = (xw * xv) @ (psi_pq - digamma(pxv)) + data.sum_wx_log_xm - s_wx_l
    d_q = xw @ psi_pq + n * (np.log(v) - digamma(q)) - s_w_l
    d_v = n * q / v - p * s_wx_i - q * s_w_i
    return -float(ll), -np.array([d_p, d_q, d_v])


@dataclass(frozen=True)
class GammaGammaFit(ModelFit):
    """A fitted Gamma-Gamma spend model."""

    @property
    def p(self) -> float:
        return self.params["p"]

    @property
    def q(self) -> float:
        return self.params["q"]

    @property
    def v(self) -> float:
        return self.params["v"]

    @property
    def population_mean_spend(self) -> float:
        """E[M] = p v / (q - 1) of a new or one-time customer (NaN when q <= 1: no finite mean)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("nan")

    def expected_spend(self, x, m) -> np.ndarray:
        """E[M | x, m_x]: expected amount per future purchase; the population mean when x = 0."""
        x, m = as_array(x), as_array(m)
        m = np.where(x > 0, np.nan_to_num(m, nan=0.0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.p * (self.v + x * m) / (self.p * x + self.q - 1)


def repeat_buyers(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows the spend model is fitted on: repeat buyers with a positive mean repeat amount."""
    return summary[(summary["x"] > 0) & (summary["monetary_value"] > 0)]


def fit_gamma_gamma(summary: pd.DataFrame, *, with_se: bool = True) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on the repeat buyers of a summary (x, monetary_value)."""
    buyers = repeat_buyers(summary)
    if buyers.empty:
        raise ValueError("no repeat buyers with a positive mean spend: the spend model cannot be fitted")
    rows = compact_rows(x=buyers["x"].to_numpy("float64"), m=buyers["monetary_value"].to_numpy("float64"))
    data = _Data.from_rows(rows)
    n = float(rows.weights.sum())
    mean = float(rows.weights @ rows["m"].full / n)
    params, converged = maximise(
        lambda p: _nll_and_gradient(p, data), np.array([1.0, 2.0, mean]), gradient=True, scale=n
    )
    nll = lambda p: _nll_and_gradient(p, data)[0]  # noqa: E731
    grad = lambda p: _nll_and_gradient(p, data)[1]  # noqa: E731
    se = standard_errors(nll, params, PARAMS, grad) if with_se else {name: float("nan") for name in PARAMS}
    return GammaGammaFit(
        params=dict(zip(PARAMS, map(float, params))), se=se, log_likelihood=-nll(params),
        n=int(round(n)), converged=converged, distinct_rows=rows.n_rows,
    )
