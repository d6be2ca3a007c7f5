"""The diagnosis figures recorded in metrics.json (section 'diagnosis')."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .kpis import KPI_COLUMNS
from .bucket import bucket_metrics

KPI_KEYS = ["start", "end", "covered", "split_observable", *KPI_COLUMNS, "purchases", "repeat_customers"]
VALUE_KEYS = ["covered", "previous_customers", "retained", "retention_rate", "revenue_per_retained",
              "uplift_points", "extra_customers", "gain_next_period", "gain_share", "horizon", "gain_horizon"]


def headline_metrics(kpis: pd.DataFrame, f2: pd.DataFrame, bucket: pd.DataFrame,
                     value: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Headline KPIs of both periods, F2 conversion per window, the last full period's
    leaky-bucket flows and (when given) the 5:25 check and extra figures."""
    rows = {row["period"]: {key: row[key] for key in KPI_KEYS} for row in kpis.to_dict("records")}
    out: dict[str, Any] = {
        "period_months": kpis.attrs.get("months"),
        "kpis": rows,
        "f2_conversion": {
            str(int(w)): {"eligible": e, "converted": c, "rate": r}
            for w, e, c, r in zip(f2["window_days"], f2["eligible"], f2["converted"], f2["rate"])
        },
        "leaky_bucket": {"period": bucket.attrs.get("period"), "lapse_days": bucket.attrs.get("lapse_days"),
                         **bucket_metrics(bucket)},
    }
    if value is not None:
        out["retention_value"] = {key: value[key] for key in VALUE_KEYS}
    if extra:
        out.update(extra)
    return out
