"""BG/NBD purchase model (Fader, Hardie & Lee 2005): repeat purchases and drop-out.

While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after every purchase
the customer drops out with probability p ~ Beta(a, b). From (x, t_x, T) per customer this
module fits r, alpha, a, b by maximum likelihood and gives the conditional expectations.

Log-likelihood of one customer (FHL 2005, eq. 6, in log space):
    ln L = ln G(r+x) - ln G(r) + r ln(alpha)
           + logaddexp( ln B(a, b+x) - ln B(a, b) - (r+x) ln(alpha+T),
                        [x>0] ln B(a+1, b+x-1) - ln B(a, b) - (r+x) ln(alpha+t_x) )
Conditional expectation (FHL 2005, eq. 10) with the Gauss hypergeometric function rewritten by
Euler's transformation, so its arguments do not grow with x:
    E[Y(t) | x, t_x, T] = P(alive) * (a+b+x-1)/(a-1)
                          * [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)],  z = t/(alpha+T+t)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from .fitting import CompactRows, ModelFit, as_array, compact_histories, maximise, standard_errors

PARAMS = ("r", "alpha", "a", "b")


def log_likelihood(params: tuple[float, float, float, float], x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood for arrays x, t_x, T (reference form, not compacted)."""
    r, alpha, a, b = params
    x, t_x, T = as_array(x), as_array(t_x), as_array(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        dropped = np.where(
            x > 0, betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - betaln(a, b) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    return head + np.logaddexp(alive, dropped)


@dataclass(frozen=True)
class _Data:
    """Compact rows arranged for the likelihood: totals per distinct x, one-time buyers per
    distinct T, and repeat-buyer rows with codes into the distinct T and t_x values."""

    x_values: np.ndarray  # distinct x
    x_weights: np.ndarray  # customers per distinct x
    T_values: np.ndarray
    tx_values: np.ndarray
    zero_T: np.ndarray  # codes into T_values of the x = 0 rows ...
    zero_w: np.ndarray  # ... and their weights
    x: np.ndarray  # repeat rows (x > 0): x as float
    x_code: np.ndarray
    T_code: np.ndarray
    tx_code: np.ndarray
    w: np.ndarray

    @classmethod
    def from_rows(cls, rows: CompactRows) -> "_Data":
        x_all = rows["x"].full
        repeat = x_all > 0
        x_values = rows["x"].values
        return cls(
            x_values=x_values,
            x_weights=np.bincount(rows["x"].codes, weights=rows.weights, minlength=len(x_values)),
            T_values=rows["T"].values,
            tx_values=rows["t_x"].values,
            zero_T=rows["T"].codes[~repeat],
            zero_w=rows.weights[~repeat],
            x=x_all[repeat],
            x_code=rows["x"].codes[repeat],
            T_code=rows["T"].codes[repeat],
            tx_code=rows["t_x"].codes[repeat],
            w=rows.weights[repeat],
        )


def _nll_and_gradient(params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and its analytic gradient (weights = customers).

    Per customer, ln L = head(x) + alive + softplus(dropped - alive), where
    alive = ln B(a, b+x) - ln B(a, b) - (r+x) ln(alpha+T) and
    dropped - alive = ln(a / (b+x-1)) + (r+x) [ln(alpha+T) - ln(alpha+t_x)] (x > 0; -inf for x = 0),
    since B(a+1, b+x-1) = B(a, b+x) a / (b+x-1). Sums of per-x terms are taken once per distinct x.
    """
    r, alpha, a, b = params
    xv, xw = data.x_values, data.x_weights
    n = xw.sum()
    # terms per distinct x, summed with the customer counts
    head = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xv) - betaln(a, b)
    psi_ab = digamma(a + b) - digamma(a + b + xv)
    ll = xw @ head
    d_r = xw @ (digamma(r + xv) - digamma(r)) + n * np.log(alpha)
    d_alpha = n * r / alpha
    d_a = xw @ psi_ab
    d_b = xw @ (psi_ab - digamma(b) + digamma(b + xv))
    # one-time buyers: alive = ... - r ln(alpha + T)
    log_T = np.log(alpha + data.T_values)
    inv_T = 1.0 / (alpha + data.T_values)
    zl, zi = log_T[data.zero_T], inv_T[data.zero_T]
    ll -= r * (data.zero_w @ zl)
    d_r -= data.zero_w @ zl
    d_alpha -= r * (data.zero_w @ zi)
    # repeat buyers
    w, x = data.w, data.x
    rx = r + x
    lT = log_T[data.T_code]
    ltx = np.log(alpha + data.tx_values)[data.tx_code]
    log_ratio = np.log(a) - np.log(np.where(xv > 0, b + xv - 1.0, 1.0))  # used for x > 0 only
    u = log_ratio[data.x_code] + rx * (lT - ltx)  # dropped - alive
    # softplus(u) = ln(1 + e^u) and the logistic e^u / (1 + e^u) from one exp (two transcendental
    # passes instead of logaddexp + expit's three: this is the inner loop of the fit)
    e_u = np.exp(np.minimum(u, 700.0))
    soft = np.log(1.0 + e_u)  # log1p is 2-3x slower here; the absolute error stays below 1e-16
    if u.size and u.max() > 700.0:
        soft = np.where(u > 700.0, u, soft)
    drop = e_u / (1.0 + e_u)  # share of the likelihood from "dropped out after t_x"
    ll += w @ (soft - rx * lT)
    d_r -= w @ (lT + drop * (ltx - lT))
    itx = (1.0 / (alpha + data.tx_values))[data.tx_code]
    iT = inv_T[data.T_code]
    d_alpha -= (w * rx) @ (iT + drop * (itx - iT))
    wd = w * drop
    d_a += wd.sum() / a
    d_b -= wd @ (1.0 / (b + x - 1.0))
    return -float(ll), -np.array([d_r, d_alpha, d_a, d_b])


@dataclass(frozen=True)
class BGNBDFit(ModelFit):
    """A fitted BG/NBD model; times are in the time unit of the data it was fitted on."""

    @property
    def r(self) -> float:
        return self.params["r"]

    @property
    def alpha(self) -> float:
        return self.params["alpha"]

    @property
    def a(self) -> float:
        return self.params["a"]

    @property
    def b(self) -> float:
        return self.params["b"]

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still active | x, t_x, T): 1 for customers without a repeat purchase."""
        r, alpha, a, b = (self.params[name] for name in PARAMS)
        x, t_x, T = as_array(x), as_array(t_x), as_array(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
                np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(x > 0, expit(-log_odds), 1.0)

    def purchases_if_alive(self, t, x, T) -> np.ndarray:
        """Expected repeat purchases in (T, T+t] for a customer known to be alive at T."""
        r, alpha, a, b = (self.params[name] for name in PARAMS)
        if abs(a - 1.0) < 1e-7:  # the formula's removable singularity at a = 1
            a = 1.0 + 1e-7
        t, x, T = as_array(t), as_array(x), as_array(T)
        z = t / (alpha + T + t)
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
            value = (a + b + x - 1) / (a - 1) * (1.0 - tail)
        return np.where(t > 0, value, 0.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t time units."""
        return self.p_alive(x, t_x, T) * self.purchases_if_alive(t, x, T)

    def expected_purchases_new(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in the first t time units after a first purchase."""
        t = as_array(t)
        return self.purchases_if_alive(t, np.zeros_like(t), np.zeros_like(t))


def _start(rows: CompactRows) -> np.ndarray:
    """Starting values: a purchase rate from the data's mean x / T, moderate drop-out."""
    x, T = rows["x"].full, rows["T"].full
    w = rows.weights
    mean_T = max(float(w @ T / w.sum()), 1e-3)
    rate = max(float(w @ x / w.sum()) / mean_T, 1e-3)
    return np.array([1.0, 1.0 / rate, 1.0, 3.0])


def fit_bgnbd(summary: pd.DataFrame, *, weights: np.ndarray | None = None, with_se: bool = True,
              rows: CompactRows | None = None) -> BGNBDFit:
    """Fit BG/NBD by maximum likelihood to a summary with columns x, t_x, T (one row per customer).
    rows: compact_histories(summary, weights) when the caller has it (shared between models)."""
    if rows is None:
        rows = compact_histories(summary, weights)
    data = _Data.from_rows(rows)
    n = float(rows.weights.sum())
    params, converged = maximise(lambda p: _nll_and_gradient(p, data), _start(rows), gradient=True, scale=n)
    nll = lambda p: _nll_and_gradient(p, data)[0]  # noqa: E731
    grad = lambda p: _nll_and_gradient(p, data)[1]  # noqa: E731
    se = standard_errors(nll, params, PARAMS, grad) if with_se else {name: float("nan") for name in PARAMS}
    return BGNBDFit(
        params=dict(zip(PARAMS, map(float, params))), se=se, log_likelihood=-nll(params),
        n=int(round(n)), converged=converged, distinct_rows=rows.n_rows,
    )
