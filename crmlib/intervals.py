"""Intervals for shares: Wilson's score interval and Newcombe's interval of a difference.

Both are the textbook forms (Wilson 1927; Newcombe 1998, method 10), written over numpy arrays
because the products' tables hold hundreds of shares (scipy's binomtest works one share at a
time, and importing scipy.stats costs a chapter's kernel 0.6 CPU-s; tests/test_intervals.py
checks these against it and against Newcombe's published intervals). The normal quantile is the
standard library's (statistics.NormalDist, Wichura's AS 241, as exact as scipy's ndtri).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

STANDARD_NORMAL = NormalDist()


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (0.95 -> 1.96)."""
    return STANDARD_NORMAL.inv_cdf(0.5 + confidence / 2)


def wilson(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (low, high) of successes / trials; NaN where trials is 0."""
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = z_value(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = centre - half, centre + half
    bad = ~(n > 0)
    return np.where(bad, np.nan, np.clip(low, 0, 1)), np.where(bad, np.nan, np.clip(high, 0, 1))


def difference_interval(k1, n1, k2, n2, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval (low, high) of k1/n1 - k2/n2 from the two Wilson intervals."""
    p1 = np.asarray(k1, dtype="float64") / np.asarray(n1, dtype="float64")
    p2 = np.asarray(k2, dtype="float64") / np.asarray(n2, dtype="float64")
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of one share, successes / n (n > 0)."""
    low, high = wilson([int(successes)], [int(n)], confidence)
    return float(low[0]), float(high[0])


__all__ = ["STANDARD_NORMAL", "difference_interval", "wilson", "wilson_interval", "z_value"]
