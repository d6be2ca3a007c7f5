"""Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987), the second purchase model.

While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); the lifetime is
exponential with rate mu ~ Gamma(s, beta), so drop-out can happen at any time (in BG/NBD only
right after a purchase). Formulas follow Fader & Hardie, "A Note on Deriving the Pareto/NBD
Model and Related Expressions" (2005):

    ln L = ln G(r+x) - ln G(r) + r ln alpha + s ln beta
           + logaddexp( -(r+x) ln(alpha+T) - s ln(beta+T),  ln s - ln(r+s+x) + ln A0 )
    A0 = F(t_x) / (m+t_x)^(r+s+x) - F(T) / (m+T)^(r+s+x),   m = max(alpha, beta)

with F(t) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) when alpha >= beta, and
2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+t)) otherwise (the note's eq. 19-20: taking the
larger of alpha and beta keeps the argument in [0, 1)). In the second case the function is
evaluated through Euler's transformation, 2F1(r+s+x, r+x; c; z) = (1-z)^(1-r-x) 2F1(1, s+1; c; z),
whose arguments do not grow with x (the direct series overflows for frequent buyers). A0 is
a difference of two positive terms and is taken in log space (log of 1 - exp(v - u)).

The fit uses the gradient of ln L (see _nll_and_gradient): in closed form except for the
derivatives of ln 2F1 with respect to its parameters, which have none; those are central
differences of scipy's hyp2f1 in one parameter, on the distinct (x, t) pairs only (the
derivative in z is the contiguous function ab/c 2F1(a+1, b+1; c+1; z)). At a million customers the
likelihood with its gradient costs about 1.5 likelihood evaluations (20 against 13 ms), where
forward differences of the likelihood cost five; on small data the six hypergeometric evaluations
per pair dominate and it costs as much as finite differences (see fit_pareto_nbd).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, hyp2f1

from .fitting import CompactRows, ModelFit, as_array, compact_histories, compact_rows, maximise, standard_errors

PARAMS = ("r", "alpha", "s", "beta")
BETA_CAP = 10.0  # alpha, beta <= BETA_CAP x max(T)
# the likelihood is nearly flat along (s, beta): with L-BFGS-B's usual relative-reduction stop
# (1e-12) beta stops up to 1e-5 (relative) short of the maximum; the gradient ends the search here
FLAT_FTOL = 1e-14
PARAM_STEP = 1e-5  # relative step of the central differences of ln 2F1 in its parameters
HESSIAN_STEP = 1e-4  # relative step of the Hessian from gradients (the gradient is good to ~1e-10)
GRADIENT_MIN_ROWS_PER_PAIR = 4  # the gradient pays where rows outnumber (x, t) pairs (see fit_pareto_nbd)


def _log_f_over_power(r: float, alpha: float, s: float, beta: float, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """ln[ F(t) / (max(alpha, beta) + t)^(r+s+x) ], the building block of A0."""
    rsx = r + s + x
    if alpha >= beta:
        m = alpha + t
        z = (alpha - beta) / m
        log_f = np.log(hyp2f1(rsx, s + 1.0, rsx + 1.0, z))
    else:
        m = beta + t
        z = (beta - alpha) / m
        # Euler: (1 - z)^(1 - r - x) * 2F1(1, s+1; r+s+x+1; z), with 1 - z = (alpha + t) / (beta + t)
        log_f = (1.0 - r - x) * (np.log(alpha + t) - np.log(m)) + np.log(hyp2f1(1.0, s + 1.0, rsx + 1.0, z))
    return log_f - rsx * np.log(m)


def log_a0(params, x, t_x, T) -> np.ndarray:
    """ln A0 of the note (eq. 19-20); -inf when t_x = T (the integral over (t_x, T] is empty)."""
    r, alpha, s, beta = params
    x, t_x, T = as_array(x), as_array(t_x), as_array(T)
    u = _log_f_over_power(r, alpha, s, beta, x, t_x)
    v = _log_f_over_power(r, alpha, s, beta, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.log(-np.expm1(np.minimum(v - u, 0.0)))
    return np.where(T > t_x, u + diff, -np.inf)


def log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood for arrays x, t_x, T."""
    r, alpha, s, beta = params
    x, t_x, T = as_array(x), as_array(t_x), as_array(T)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    with np.errstate(divide="ignore"):
        dropped = np.log(s) - np.log(r + s + x) + log_a0(params, x, t_x, T)
    return head + np.logaddexp(alive, dropped)


@dataclass(frozen=True)
class _Data:
    """Compact rows for the likelihood: A0's two hypergeometric terms depend on (x, t_x) and on
    (x, T) only, so they are evaluated once per distinct pair (one set for both: many a t_x is
    another customer's T) and gathered per row."""

    x_values: np.ndarray
    x_code: np.ndarray
    x: np.ndarray
    T: np.ndarray
    t_x: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray]  # distinct (x, t) over t in t_x and T ...
    tx_code: np.ndarray  # ... each row's (x, t_x) pair ...
    T_code: np.ndarray  # ... and (x, T) pair
    w: np.ndarray
    pair_T_weights: np.ndarray  # per pair, the customers whose (x, T) it is

    @classmethod
    def from_rows(cls, rows: CompactRows) -> "_Data":
        x, t_x, T = rows["x"].full, rows["t_x"].full, rows["T"].full
        n = len(x)
        pairs = compact_rows(x=np.concatenate([x, x]), t=np.concatenate([t_x, T]))
        T_code = pairs.inverse[n:]
        return cls(
            x_values=rows["x"].values, x_code=rows["x"].codes, x=x, T=T, t_x=t_x,
            pairs=(pairs["x"].full, pairs["t"].full), tx_code=pairs.inverse[:n], T_code=T_code,
            w=rows.weights, pair_T_weights=np.bincount(T_code, weights=rows.weights, minlength=pairs.n_rows),
        )


def _nll(params: np.ndarray, data: _Data) -> float:
    """Negative log-likelihood over compact rows (weights = customers)."""
    r, alpha, s, beta = params
    with np.errstate(all="ignore"):
        head = (gammaln(r + data.x_values) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))[data.x_code]
        log_f = _log_f_over_power(r, alpha, s, beta, *data.pairs)
        u, v = log_f[data.tx_code], log_f[data.T_code]
        log_a0 = np.where(data.T > data.t_x, u + np.log(-np.expm1(np.minimum(v - u, 0.0))), -np.inf)
        alive = -(r + data.x) * np.log(alpha + data.T) - s * np.log(beta + data.T)
        dropped = np.log(s) - np.log(r + s + data.x) + log_a0
        value = -float(data.w @ (head + np.logaddexp(alive, dropped)))
    return value if np.isfinite(value) else np.inf


def _log_f_and_gradient(r: float, alpha: float, s: float, beta: float, x: np.ndarray,
                        t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_log_f_over_power and its derivatives in (r, alpha, s, beta), shape (4, len(x)).

    With H = ln 2F1(A, B; C; z) of the branch in use, the chain rule needs H's derivatives in its
    parameters (central differences of hyp2f1, step PARAM_STEP) and in z (closed form)."""
    rsx = r + s + x
    b = s + 1.0
    if alpha >= beta:  # L = ln 2F1(rsx, b; rsx+1; z) - rsx ln m, z = (alpha - beta) / m, m = alpha + t
        m = alpha + t
        z = (alpha - beta) / m
        f = hyp2f1(rsx, b, rsx + 1.0, z)
        h_a = _central(lambda d: hyp2f1(rsx + d, b, rsx + 1.0 + d, z), rsx)  # A and C move together
        h_b = _central(lambda d: hyp2f1(rsx, b + d, rsx + 1.0, z), b)
        h_z = rsx * b / (rsx + 1.0) * hyp2f1(rsx + 1.0, b + 1.0, rsx + 2.0, z) / f
        log_m = np.log(m)
        value = np.log(f) - rsx * log_m
        grad = np.stack([h_a - log_m, h_z * (beta + t) / m ** 2 - rsx / m, h_a + h_b - log_m, -h_z / m])
        return value, grad
    # Euler's form: L = (1-r-x) ln((alpha+t)/m) + ln 2F1(1, b; rsx+1; z) - rsx ln m, m = beta + t
    m = beta + t
    z = (beta - alpha) / m
    c = rsx + 1.0
    g = hyp2f1(1.0, b, c, z)
    h_b = _central(lambda d: hyp2f1(1.0, b + d, c, z), b)
    h_c = _central(lambda d: hyp2f1(1.0, b, c + d, z), c)
    h_z = b / c * hyp2f1(2.0, b + 1.0, c + 1.0, z) / g
    log_m, log_a = np.log(m), np.log(alpha + t)
    value = (1.0 - r - x) * (log_a - log_m) + np.log(g) - rsx * log_m
    grad = np.stack([-log_a + h_c, (1.0 - r - x) / (alpha + t) - h_z / m, h_b + h_c - log_m,
                     -(1.0 - r - x) / m + h_z * (alpha + t) / m ** 2 - rsx / m])
    return value, grad


def _central(f: Callable[[np.ndarray], np.ndarray], at: np.ndarray | float) -> np.ndarray:
    """d ln f / d(parameter) by central differences: f(delta) is the function with the parameter
    moved by delta; `at` is the parameter's value (it sets the step)."""
    step = PARAM_STEP * np.maximum(np.abs(at), 1.0)
    return (np.log(f(step)) - np.log(f(-step))) / (2.0 * step)


def _nll_and_gradient(params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
    """Negative log-likelihood (as _nll, up to rounding) and its gradient in (r, alpha, s, beta).

    Per customer ln L = head + alive + softplus(d), d = dropped - alive, with head and alive
    functions of (x, T) and dropped = ln s - ln(r+s+x) + ln(e^u - e^v), u = L(x, t_x), v = L(x, T)
    (see _log_f_and_gradient). So d ln L = d head + d alive + p (d dropped - d alive), p = expit(d),
    and d ln(e^u - e^v) = (du - w dv) / (1 - w), w = e^(v-u). Per customer only u, v, d and p are
    computed; the weighted factors are summed per distinct (x, t_x) or (x, T) pair (bincount) and
    meet the derivatives there."""
    r, alpha, s, beta = params
    xp, tp = data.pairs
    with np.errstate(all="ignore"):
        log_f, d_log_f = _log_f_and_gradient(r, alpha, s, beta, xp, tp)
        # per pair, as an (x, T): head + alive, and k = ln s - ln(r+s+x) - alive (d = k + ln(e^u - e^v))
        log_a, log_b = np.log(alpha + tp), np.log(beta + tp)
        head = gammaln(r + xp) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + xp) * log_a - s * log_b
        k = np.log(s) - np.log(r + s + xp) - alive
        # per customer row
        u = log_f[data.tx_code]
        gap = np.minimum(log_f[data.T_code] - u, 0.0)  # v - u <= 0; 0 when t_x = T (no drop-out term)
        one_minus_w = -np.expm1(gap)
        d = k[data.T_code] + u + np.log(one_minus_w)  # -inf when t_x = T
        # softplus(d) and expit(d) from one exp; d is clipped to +-700 so that e^d is neither
        # inf nor subnormal (subnormals make exp and log1p 2-4x slower; e^-700 is 1e-304)
        e_d = np.exp(np.clip(d, -700.0, 700.0))
        soft = np.log1p(e_d)
        if d.size and d.max() > 700.0:
            soft = np.where(d > 700.0, d, soft)
        weights = data.pair_T_weights
        value = -float(weights @ (head + alive) + data.w @ soft)
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        w_drop = data.w * (e_d / (1.0 + e_d))  # weight x p
        coef = np.where(one_minus_w > 0, w_drop / one_minus_w, 0.0)
        n_pairs = len(xp)
        d_log_a0 = d_log_f @ (np.bincount(data.tx_code, coef, minlength=n_pairs)
                              - np.bincount(data.T_code, coef * (1.0 - one_minus_w), minlength=n_pairs))
        drop = np.bincount(data.T_code, w_drop, minlength=n_pairs)  # sum of w p per (x, T) pair
        alive_w = weights - drop
        inv_rsx = drop @ (1.0 / (r + s + xp))
        n = float(weights.sum())
        d_r = (weights @ (digamma(r + xp) - digamma(r)) + n * np.log(alpha) - alive_w @ log_a
               - inv_rsx + d_log_a0[0])
        d_alpha = n * r / alpha - alive_w @ ((r + xp) / (alpha + tp)) + d_log_a0[1]
        d_s = n * np.log(beta) - alive_w @ log_b + drop.sum() / s - inv_rsx + d_log_a0[2]
        d_beta = n * s / beta - s * (alive_w @ (1.0 / (beta + tp))) + d_log_a0[3]
    return value, -np.array([d_r, d_alpha, d_s, d_beta])


def _pow_term(k: float, log_ratio: np.ndarray) -> np.ndarray:
    """[1 - exp(k * log_ratio)] / k, with its limit -log_ratio at k = 0 (i.e. s = 1)."""
    if abs(k) < 1e-10:
        return -log_ratio
    return -np.expm1(k * log_ratio) / k


@dataclass(frozen=True)
class ParetoNBDFit(ModelFit):
    """A fitted Pareto/NBD model; times are in the time unit of the data it was fitted on."""

    @property
    def r(self) -> float:
        return self.params["r"]

    @property
    def alpha(self) -> float:
        return self.params["alpha"]

    @property
    def s(self) -> float:
        return self.params["s"]

    @property
    def beta(self) -> float:
        return self.params["beta"]

    def _values(self) -> tuple[float, float, float, float]:
        return tuple(self.params[name] for name in PARAMS)  # type: ignore[return-value]

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still active | x, t_x, T) (note, eq. 36)."""
        r, alpha, s, beta = self._values()
        x, t_x, T = as_array(x), as_array(t_x), as_array(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
                        + log_a0(self._values(), x, t_x, T))
        return expit(-log_odds)

    def purchases_if_alive(self, t, x, T) -> np.ndarray:
        """Expected repeat purchases in (T, T+t] for a customer known to be alive at T."""
        r, alpha, s, beta = self._values()
        t, x, T = as_array(t), as_array(x), as_array(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (r + x) * (beta + T) / (alpha + T) * _pow_term(s - 1.0, np.log(beta + T) - np.log(beta + T + t))
        return np.where(t > 0, value, 0.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T] (note, eq. 41): expected repeat purchases in the next t time units."""
        return self.p_alive(x, t_x, T) * self.purchases_if_alive(t, x, T)

    def expected_purchases_new(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in the first t time units after a first purchase."""
        t = as_array(t)
        return self.purchases_if_alive(t, np.zeros_like(t), np.zeros_like(t))


def fit_pareto_nbd(
    summary: pd.DataFrame,
    *,
    weights: np.ndarray | None = None,
    with_se: bool = True,
    start: tuple[float, float, float, float] | None = None,
    gradient: bool | None = None,
    rows: CompactRows | None = None,
) -> ParetoNBDFit:
    """Fit Pareto/NBD by maximum likelihood to a summary with columns x, t_x, T.

    start: initial (r, alpha, s, beta), e.g. r and alpha of a BG/NBD fit (shorter search).
    alpha and beta are capped at 10 x the longest T: beyond it the hypergeometric series
    converges very slowly, and a fit that runs there ("nobody drops out": s -> 0, beta -> inf)
    has the same likelihood at the cap to many digits (the fit records at_cap in `extra`).

    gradient: search with the gradient (True) or with finite differences of the likelihood
    (False). By default the gradient is used when there are at least GRADIENT_MIN_ROWS_PER_PAIR
    distinct customer rows per distinct (x, t) pair, i.e. where the per-row work dominates (a
    million customers: 262k rows, 17k pairs, 2.3x faster and the exact maximum). With fewer rows
    the hypergeometric function dominates, a gradient costs as much as the five likelihoods of a
    finite-difference step, and the search stays as it was (CDNOW, Online Retail, the demo).

    rows: compact_histories(summary, weights) when the caller has it (shared between models).
    """
    if rows is None:
        rows = compact_histories(summary, weights)
    data = _Data.from_rows(rows)
    n = float(rows.weights.sum())
    w = rows.weights
    mean_T = max(float(w @ data.T / w.sum()), 1e-3)
    rate = max(float(w @ data.x / w.sum()) / mean_T, 1e-3)
    cap = BETA_CAP * max(float(rows["T"].values.max()), 1.0)
    first = np.array(start if start is not None else (1.0, 1.0 / rate, 1.0, mean_T), dtype="float64")
    upper = np.array([np.inf, cap, np.inf, cap])
    if gradient is None:
        gradient = rows.n_rows >= GRADIENT_MIN_ROWS_PER_PAIR * len(data.pairs[0])
    nll = lambda p: _nll(p, data)
    if gradient:
        params, converged = maximise(lambda p: _nll_and_gradient(p, data), np.minimum(first, upper / 2),
                                     gradient=True, scale=n, upper=upper, ftol=FLAT_FTOL)
        se = (standard_errors(nll, params, PARAMS, lambda p: _nll_and_gradient(p, data)[1], rel_step=HESSIAN_STEP)
              if with_se else {name: float("nan") for name in PARAMS})
    else:
        params, converged = maximise(nll, np.minimum(first, upper / 2), gradient=False, scale=n, upper=upper)
        se = standard_errors(nll, params, PARAMS) if with_se else {name: float("nan") for name in PARAMS}
    at_cap = bool(params[1] >= cap * 0.999 or params[3] >= cap * 0.999)
    return ParetoNBDFit(
        params=dict(zip(PARAMS, map(float, params))), se=se, log_likelihood=-nll(params),
        n=int(round(n)), converged=converged, distinct_rows=rows.n_rows,
        extra={"at_cap": float(at_cap), "gradient": float(gradient)},
    )
