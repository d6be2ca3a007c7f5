"""Customers simulated from known BG/NBD and Gamma-Gamma parameters (benchmarks, recovery tests).

Histories are made on a day grid, like rfm_summary makes them from real orders: first purchase
days spread over an acquisition window, purchases on the same day merged, T = days from the
first purchase to the last observed day, in units of `time_unit_days`. Purchase times are
continuous (the first one at a random time of its day) and recorded as calendar days, so t_x is
unbiased; the observation window is exactly T long, as the model assumes. The loop runs over the
purchase number (at most a few hundred steps), each step vectorised over the customers still
buying, never over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    observation_days: int = 730,
    acquisition_days: int = 365,
    time_unit_days: int = 7,
    holdout_days: int = 0,
    merge_same_day: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """n customers with x, t_x, T (and x_holdout over holdout_days after the calibration end).

    merge_same_day=False counts every purchase (exactly the model); True merges purchases on one
    day as real data does, which biases alpha up by a few percent for heavy buyers.
    """
    rng = np.random.default_rng(seed)
    unit = float(time_unit_days)
    first_day = rng.integers(0, acquisition_days, size=n)
    age_days = (observation_days - 1 - first_day).astype("int64")  # last observed day - first day
    end_days = age_days + holdout_days
    rate = rng.gamma(r, 1.0 / alpha, size=n) / unit  # purchases per day
    drop = rng.beta(a, b, size=n)
    x = np.zeros(n, dtype="int64")
    last_day = np.zeros(n, dtype="int64")
    x_holdout = np.zeros(n, dtype="int64")
    clock = np.zeros(n)  # days since the first purchase
    time_of_day = rng.random(n)  # of the first purchase: days are floor(time_of_day + clock)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0, size=active.size) / np.maximum(rate[active], 1e-300)
        keep = clock[active] <= end_days[active]  # observed up to T (float test: a zero rate gives inf)
        active = active[keep]
        day = np.floor(time_of_day[active] + clock[active]).astype("int64")
        new_day = (day > last_day[active]) if merge_same_day else np.ones(active.size, dtype=bool)
        in_calibration = clock[active] <= age_days[active]
        x[active] += new_day & in_calibration
        x_holdout[active] += new_day & ~in_calibration
        last_day[active] = np.where(new_day & in_calibration, day, last_day[active])
        survive = rng.random(active.size) >= drop[active]
        active = active[survive | ~new_day]  # drop-out happens after a purchase day only
    return pd.DataFrame({
        "x": x,
        "t_x": last_day / unit,
        "T": age_days / unit,
        "x_holdout": x_holdout,
        "holdout_length": np.full(n, holdout_days / unit),
    })


def simulate_spend(x: np.ndarray, *, p: float, q: float, v: float, seed: int = 0) -> np.ndarray:
    """Mean repeat amount per customer from Gamma-Gamma (p, q, v); NaN where x = 0."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype="float64")
    nu = rng.gamma(q, 1.0 / v, size=x.size)
    shape = np.where(x > 0, p * x, 1.0)
    mean = rng.gamma(shape, 1.0 / (nu * np.where(x > 0, x, 1.0)))
    return np.where(x > 0, mean, np.nan)
