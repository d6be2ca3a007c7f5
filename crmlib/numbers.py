"""Safe arithmetic on figures that may be missing."""

from __future__ import annotations

import math
from typing import Any


def ratio(numerator: Any, denominator: Any) -> float | None:
    """numerator / denominator, or None when the denominator is 0 or missing."""
    if denominator is None or numerator is None:
        return None
    try:
        if math.isnan(float(denominator)) or math.isnan(float(numerator)) or float(denominator) == 0:
            return None
    except (TypeError, ValueError):
        return None
    return float(numerator) / float(denominator)


__all__ = ["ratio"]
