"""Maximum-likelihood machinery shared by the CLV models: compact data, optimiser, standard errors.

Customers with the same history (e.g. the same x, t_x, T) have the same likelihood, so the data
is compacted to its distinct rows with a weight (how many customers share the row), and each
column is further reduced to its distinct values: the special functions of x are evaluated once
per distinct x, the logarithms of T once per distinct T. A log-likelihood evaluation therefore
costs a few array operations over the distinct rows, not the customers.

Parameters are optimised on the log scale (they are all positive) with L-BFGS-B; standard errors
come from the inverse of the Hessian of the negative log-likelihood at the optimum, computed by
central finite differences on the natural scale.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import pandas as pd

try:  # optional: without it BLAS keeps its default thread count
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

NegLogLik = Callable[[np.ndarray], float]
NegLogLikGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Column:
    """One column of the compact rows: its distinct values and, per row, the index into them."""

    values: np.ndarray
    codes: np.ndarray

    @property
    def full(self) -> np.ndarray:
        """The column value of every compact row."""
        return self.values[self.codes]


@dataclass(frozen=True)
class CompactRows:
    """Distinct rows of several columns with a weight (customers per row), and per-column codes."""

    columns: dict[str, Column]
    weights: np.ndarray
    inverse: np.ndarray  # for every input row, its compact row

    @property
    def n_rows(self) -> int:
        """Number of distinct rows."""
        return len(self.weights)

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of a column. Small non-negative whole numbers (purchase counts,
    combined codes) take a dense lookup table, 5-10x faster than hashing; the rest is hashed."""
    n = values.size
    if n and values.dtype.kind in "if":
        low, high = values.min(), values.max()
        if np.isfinite(high) and low >= 0 and high < max(1 << 22, 4 * n):
            whole = values.astype("int64")
            if np.array_equal(whole, values):
                present = np.zeros(int(high) + 1, dtype=bool)
                present[whole] = True
                lookup = np.cumsum(present) - 1
                return lookup[whole], np.flatnonzero(present).astype("float64")
    codes, distinct = pd.factorize(values, sort=False, use_na_sentinel=False)
    return codes.astype("int64"), np.asarray(distinct, dtype="float64")


def compact_rows(weights: np.ndarray | None = None, **columns: np.ndarray) -> CompactRows:
    """Group identical rows of the given columns (O(n): lookup tables or hashing), summing weights."""
    arrays = {name: np.asarray(values, dtype="float64") for name, values in columns.items()}
    n = len(next(iter(arrays.values())))
    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, np.ndarray] = {}
    key = np.zeros(n, dtype="int64")
    combinations = 1
    for name, values in arrays.items():
        codes[name], uniques[name] = _factorize(values)
        combinations *= max(len(uniques[name]), 1)
        if combinations > np.iinfo("int64").max:
            raise OverflowError("too many distinct combinations to compact")
        key = key * len(uniques[name]) + codes[name]
    row_code, first = _factorize(key)
    representative = np.zeros(len(first), dtype="int64")
    representative[row_code] = np.arange(n)  # any input row of a compact row: all share its values
    w = np.ones(n) if weights is None else np.asarray(weights, dtype="float64")
    row_weights = np.bincount(row_code, weights=w, minlength=len(first))
    compact = {name: Column(uniques[name], codes[name][representative]) for name in arrays}
    return CompactRows(compact, row_weights, row_code)


def compact_histories(summary: pd.DataFrame, weights: np.ndarray | None = None) -> CompactRows:
    """The distinct (x, t_x, T) rows of a summary, checked (check_histories): made once per
    summary and shared by the purchase models, the holdout prediction and the scores."""
    x, t_x, T = (summary[c].to_numpy("float64") for c in ("x", "t_x", "T"))
    check_histories(x, t_x, T)
    return compact_rows(weights, x=x, t_x=t_x, T=T)


_BLAS_LOCK = threading.Lock()
_blas_users = 0
_blas_limit = None  # threadpoolctl's limit while any fit runs


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread: the optimiser makes many tiny BLAS calls (4x4 matrices), and a
    multi-threaded OpenBLAS waking its threads for each one is 5-15x slower on a busy machine.

    The limit is process-wide and the LTV chapter fits its models on several threads at once: the
    first fit to enter sets it, the last to leave lifts it. A fit that lifted it on leaving gave the
    others multi-threaded BLAS part way through, whose sums differ from run to run (the Pareto/NBD
    parameters of the same data changed in the fourth digit). Enter it in the thread that starts
    the pool: OpenBLAS (0.3.30) ignores a limit set from another thread once a limit has been set
    and lifted in the process."""
    global _blas_users, _blas_limit
    if threadpool_limits is None:
        yield
        return
    with _BLAS_LOCK:
        if _blas_users == 0:
            _blas_limit = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limit is not None:
                _blas_limit.restore_original_limits()
                _blas_limit = None


@dataclass(frozen=True)
class ModelFit:
    """A fitted model: parameter estimates, standard errors and fit statistics."""

    params: dict[str, float]
    se: dict[str, float]
    log_likelihood: float
    n: int  # customers the model was fitted on
    converged: bool = True
    distinct_rows: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Parameters as a frame: name, estimate, standard error."""
        return pd.DataFrame(
            {"param": list(self.params), "estimate": list(self.params.values()),
             "se": [self.se.get(name, np.nan) for name in self.params]}
        )


def maximise(
    nll: NegLogLik | NegLogLikGrad,
    start: np.ndarray,
    *,
    gradient: bool,
    scale: float,
    upper: np.ndarray | None = None,
    ftol: float = 1e-12,
) -> tuple[np.ndarray, bool]:
    """Minimise nll over log-parameters from start (natural scale); returns (params, converged).

    nll takes natural-scale parameters and returns the negative log-likelihood (and, when
    gradient is True, its gradient); it is divided by `scale` (the customer count) so the
    optimiser's tolerances do not depend on the data size. `upper` bounds the parameters
    (natural scale) where a model degenerates. A Nelder-Mead polish follows when L-BFGS-B stops
    without convergence. ftol: L-BFGS-B's relative-reduction stop; a model whose likelihood is
    flat in one direction (Pareto/NBD's s and beta) passes a smaller one, so the exact gradient
    rather than a tiny reduction ends the search. scipy.optimize (0.3 CPU-s to import) is imported
    here, by the kernel that fits, not by every kernel that imports the LTV modules.
    """
    from scipy.optimize import minimize

    def objective(theta: np.ndarray):
        params = np.exp(theta)
        if gradient:
            value, grad = nll(params)  # type: ignore[misc]
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return value / scale, grad * params / scale  # chain rule: d/dtheta = p * d/dp
        value = nll(params)  # type: ignore[assignment]
        return value / scale if np.isfinite(value) else np.inf

    theta0 = np.log(np.asarray(start, dtype="float64"))
    bounds = None if upper is None else [(None, float(np.log(u)) if np.isfinite(u) else None) for u in upper]
    if bounds is not None:
        theta0 = np.minimum(theta0, np.log(upper) - 1e-3)
    options = {"maxiter": 2000, "ftol": ftol, "gtol": 1e-9, "maxcor": 20}
    with np.errstate(all="ignore"), single_threaded_blas():
        result = minimize(objective, theta0, jac=gradient, method="L-BFGS-B", bounds=bounds, options=options)
        # L-BFGS-B can stop with "ABNORMAL" in the line search when it is already at the optimum
        # (the objective is flat to rounding): a tiny gradient counts as converged
        flat = gradient and np.all(np.isfinite(result.jac)) and float(np.max(np.abs(result.jac))) < 1e-6
        converged = bool(result.success or flat)
        if not converged or not np.all(np.isfinite(result.x)):
            fun = (lambda th: objective(th)[0]) if gradient else objective
            polish = minimize(fun, result.x if np.all(np.isfinite(result.x)) else theta0,
                              method="Nelder-Mead", bounds=bounds,
                              options={"maxiter": 4000, "xatol": 1e-10, "fatol": 1e-14})
            if polish.fun <= result.fun:
                result = polish
            converged = bool(polish.success)
    return np.exp(result.x), converged


def hessian(f: NegLogLik, params: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """Hessian of f at params by central differences of function values (natural scale)."""
    params = np.asarray(params, dtype="float64")
    k = len(params)
    steps = rel_step * np.maximum(np.abs(params), 1e-8)
    hess = np.empty((k, k))
    f0 = f(params)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = steps[i]
        hess[i, i] = (f(params + ei) - 2 * f0 + f(params - ei)) / steps[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = steps[j]
            value = (f(params + ei + ej) - f(params + ei - ej) - f(params - ei + ej) + f(params - ei - ej))
            hess[i, j] = hess[j, i] = value / (4 * steps[i] * steps[j])
    return hess


def hessian_from_gradient(
    g: Callable[[np.ndarray], np.ndarray], params: np.ndarray, rel_step: float = 1e-5
) -> np.ndarray:
    """Hessian by central differences of an analytic gradient g (2k gradient calls), symmetrised."""
    params = np.asarray(params, dtype="float64")
    k = len(params)
    steps = rel_step * np.maximum(np.abs(params), 1e-8)
    columns = []
    for i in range(k):
        e = np.zeros(k)
        e[i] = steps[i]
        columns.append((g(params + e) - g(params - e)) / (2 * steps[i]))
    hess = np.column_stack(columns)
    return (hess + hess.T) / 2


def standard_errors(
    f: NegLogLik,
    params: np.ndarray,
    names: tuple[str, ...],
    gradient: Callable[[np.ndarray], np.ndarray] | None = None,
    rel_step: float = 1e-5,
) -> dict[str, float]:
    """Standard errors sqrt(diag(H^-1)) of the negative log-likelihood f at params (NaN if singular).

    H comes from central differences (relative step rel_step) of the gradient when given, else of
    f's values. A gradient that is itself accurate to about 1e-10 only (Pareto/NBD's) takes a
    larger step, or its rounding noise reaches the standard errors of a flat likelihood.
    """
    with np.errstate(all="ignore"), single_threaded_blas():
        hess = (hessian_from_gradient(gradient, params, rel_step) if gradient is not None
                else hessian(f, params))
        try:
            diag = np.diag(np.linalg.inv(hess))
        except np.linalg.LinAlgError:
            diag = np.full(len(names), np.nan)
    return {name: float(np.sqrt(v)) if np.isfinite(v) and v > 0 else float("nan") for name, v in zip(names, diag)}


def check_histories(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    """Raise ValueError for histories the purchase models cannot describe."""
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T + 1e-9) or np.any((x == 0) & (t_x > 0)):
        raise ValueError("inconsistent histories: need x >= 0, 0 <= t_x <= T and t_x = 0 when x = 0")


def as_array(value: float | np.ndarray | pd.Series) -> np.ndarray:
    """A float64 numpy array (or 0-d array) from a scalar, list, array or Series."""
    return np.asarray(value, dtype="float64")
