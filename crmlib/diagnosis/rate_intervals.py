"""Confidence intervals of rates on small samples (scipy's Wilson score interval)."""

from __future__ import annotations

SMALL_SAMPLE = 400  # below this many customers a rate is shown with its 95% interval


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of successes / n (n > 0); scipy.stats is imported here, on first
    use, not by every kernel that imports the diagnosis package."""
    from scipy.stats import binomtest

    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


__all__ = ["SMALL_SAMPLE", "wilson_interval"]
