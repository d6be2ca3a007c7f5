"""Calibration / holdout validation of the purchase models, and the checks behind the warnings.

The models are fitted on the calibration period (orders before calibration_end) and asked to
predict the repeat purchases of the same customers in the holdout (calibration_end to as_of):

- per frequency bucket: customers grouped by their calibration x (0, 1, ..., 6, 7+), mean actual
  holdout purchases beside the mean conditional expectation E[Y(holdout) | x, t_x, T];
- over time: cumulative repeat purchases (purchase days after the first) per time unit from
  the first customer's first purchase to as_of, actual beside the model's expectation for the
  same customers, sum_i E[X(age_i(t))] (FHL 2005, fig. 2 style; the calibration part shows the
  fit, the holdout part the forecast);
- holdout error: (predicted - actual) / actual of all holdout purchases, and the mean absolute
  error per customer.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ...orders import orders_sql, query
from .fitting import CompactRows, compact_rows
from .summary import date_sql, to_date

MAX_BUCKET = 7
MAX_HOLDOUT_ERROR = 0.20  # beyond this share the purchase model's forecast is flagged
MAX_SPEND_CORRELATION = 0.30  # |corr(x, mean spend)| beyond this breaks the Gamma-Gamma assumption


class PurchaseModel(Protocol):
    def expected_purchases(self, t, x, t_x, T) -> np.ndarray: ...

    def expected_purchases_new(self, t) -> np.ndarray: ...


def frequency_bucket(x: pd.Series, max_bucket: int = MAX_BUCKET) -> pd.Series:
    """Calibration repeat purchases as a bucket label: '0', '1', ..., '7+'."""
    return x.clip(upper=max_bucket).astype("int64").astype(str).where(x < max_bucket, f"{max_bucket}+")


def predicted_holdout(model: PurchaseModel, summary: pd.DataFrame, rows: CompactRows | None = None) -> np.ndarray:
    """Per customer, E[Y(holdout_length) | x, t_x, T]; computed once per distinct (x, t_x, T,
    holdout_length) row (a few hundred thousand among millions of customers) and spread back.
    rows: the summary's compact (x, t_x, T) rows (fitting.compact_histories), used when every
    customer has the same holdout_length (a calibration summary)."""
    length = summary["holdout_length"].to_numpy("float64")
    if rows is not None and len(length) and (length == length[0]).all():
        predicted = model.expected_purchases(np.full(rows.n_rows, length[0]),
                                             *(rows[c].full for c in ("x", "t_x", "T")))
        return np.asarray(predicted, dtype="float64")[rows.inverse]
    rows = compact_rows(holdout_length=length, **{c: summary[c].to_numpy("float64") for c in ("x", "t_x", "T")})
    predicted = model.expected_purchases(*(rows[c].full for c in ("holdout_length", "x", "t_x", "T")))
    return np.asarray(predicted, dtype="float64")[rows.inverse]


def holdout_by_frequency(models: dict[str, PurchaseModel], summary: pd.DataFrame, *,
                         predicted: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Per calibration frequency bucket: customers, mean actual holdout purchases, mean predicted per model.
    predicted: per model, predicted_holdout(model, summary) when the caller has it already."""
    frame = pd.DataFrame({"bucket": frequency_bucket(summary["x"]), "actual": summary["x_holdout"].astype("float64")})
    for name, model in models.items():
        frame[name] = predicted[name] if predicted is not None else predicted_holdout(model, summary)
    grouped = frame.groupby("bucket", sort=False)
    table = grouped.mean()
    table.insert(0, "customers", grouped.size())
    order = [str(k) for k in range(MAX_BUCKET)] + [f"{MAX_BUCKET}+"]
    return table.reindex([b for b in order if b in table.index]).rename_axis("bucket").reset_index()


def holdout_error(model: PurchaseModel, summary: pd.DataFrame, scale: float = 1.0, *,
                  predicted: np.ndarray | None = None) -> dict[str, float]:
    """Total predicted vs actual holdout purchases, their relative error and the per-customer MAE.
    scale multiplies the totals (1 / the sample share when summary is a model sample); predicted:
    predicted_holdout(model, summary) when the caller has it already."""
    if predicted is None:
        predicted = predicted_holdout(model, summary)
    actual = summary["x_holdout"].to_numpy("float64")
    total_actual, total_predicted = float(actual.sum()) * scale, float(predicted.sum()) * scale
    return {
        "actual": total_actual,
        "predicted": total_predicted,
        "error": (total_predicted - total_actual) / total_actual if total_actual else math.nan,
        "mae": float(np.abs(predicted - actual).mean()) if len(actual) else math.nan,
    }


TRACKING_SQL = """
WITH days AS (
    SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) AS day
    FROM ({src}) WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
),
firsts AS (
    SELECT customer_id, min(day) AS first_day FROM days GROUP BY customer_id
    HAVING min(day) < {cal_end}
)
SELECT d.day, d.day = f.first_day AS is_first, count(*) AS n
FROM days d JOIN firsts f USING (customer_id)
GROUP BY ALL
ORDER BY d.day
"""


def tracking(
    orders_path: Path | str,
    as_of: dt.date | str,
    calibration_end: dt.date | str,
    models: dict[str, PurchaseModel],
    time_unit_days: int = 7,
) -> pd.DataFrame:
    """Cumulative repeat purchases per time unit, actual and expected per model, for the customers
    whose first purchase is before calibration_end. Columns: period_end (exclusive day), t,
    holdout (bool), actual, one column per model."""
    counts = tracking_counts(orders_path, as_of, calibration_end)
    return tracking_from_counts(counts, as_of, calibration_end, models, time_unit_days)


def tracking_counts(orders_path: Path | str, as_of: dt.date | str, calibration_end: dt.date | str) -> pd.DataFrame:
    """The query behind tracking: purchase days per day (day, is_first, n) of the customers whose
    first purchase is before calibration_end (apart, so that it can run while models are fitted)."""
    as_of, cal_end = to_date(as_of), to_date(calibration_end)
    return query(TRACKING_SQL.format(src=orders_sql(orders_path, as_of), cal_end=date_sql(cal_end)))


def tracking_from_counts(
    counts: pd.DataFrame,
    as_of: dt.date | str,
    calibration_end: dt.date | str,
    models: dict[str, PurchaseModel],
    time_unit_days: int = 7,
) -> pd.DataFrame:
    """tracking from tracking_counts' frame."""
    as_of, cal_end = to_date(as_of), to_date(calibration_end)
    counts = counts.copy()
    if counts.empty:
        return pd.DataFrame(columns=["period_end", "t", "holdout", "actual", *models])
    counts["day"] = pd.to_datetime(counts["day"])
    start = counts["day"].min()
    offset = ((counts["day"] - start).dt.days).to_numpy("int64")
    total_days = (pd.Timestamp(as_of) - start).days
    ends = np.arange(time_unit_days, total_days, time_unit_days)
    ends = np.append(ends, total_days)  # exclusive day offsets of each period's end
    firsts = counts["is_first"].to_numpy(bool)
    n = counts["n"].to_numpy("float64")
    repeat_days, repeat_n = offset[~firsts], n[~firsts]
    order = np.argsort(repeat_days, kind="stable")
    cum_repeat = np.concatenate([[0.0], np.cumsum(repeat_n[order])])
    actual = cum_repeat[np.searchsorted(repeat_days[order], ends, side="left")]
    first_days, first_n = offset[firsts], n[firsts]
    out = pd.DataFrame({
        "period_end": start + pd.to_timedelta(ends, unit="D"),
        "t": ends / time_unit_days,
        "holdout": (start + pd.to_timedelta(ends, unit="D")) > pd.Timestamp(cal_end),
        "actual": actual,
    })
    # age at each period end of every first-purchase day: (end - 1 - first day) days (as T in rfm_summary);
    # each model's curve is evaluated once per whole day of age (a few hundred values, not one per
    # period and first day: the hypergeometric function was a sixth of the chapter's model time)
    days = ends[:, None] - 1 - first_days[None, :]
    grid = np.arange(max(int(days.max(initial=-1)), 0) + 1) / time_unit_days
    for name, model in models.items():
        curve = model.expected_purchases_new(grid)
        expected = np.where(days >= 0, curve[np.maximum(days, 0)], 0.0)
        out[name] = expected @ first_n
    return out


@dataclass(frozen=True)
class Check:
    """One model check: its key (message name), whether it passed, and the values the text needs."""

    key: str
    ok: bool
    values: dict


def spend_frequency_correlation(summary: pd.DataFrame) -> float:
    """Pearson correlation of repeat purchases x and mean repeat spend among repeat buyers."""
    buyers = summary[(summary["x"] > 0) & (summary["monetary_value"] > 0)]
    if len(buyers) < 3 or buyers["x"].nunique() < 2 or buyers["monetary_value"].nunique() < 2:
        return math.nan
    return float(np.corrcoef(buyers["x"].to_numpy("float64"), buyers["monetary_value"].to_numpy("float64"))[0, 1])


def model_checks(purchase_errors: dict[str, dict[str, float]], spend_q: float | None, correlation: float,
                 converged: dict[str, bool], at_cap: dict[str, bool] | None = None,
                 max_holdout_error: float = MAX_HOLDOUT_ERROR) -> list[Check]:
    """The checks the report states: holdout error per purchase model, q > 1, spend independence,
    convergence, and parameters stopped at their upper bound (at_cap: model -> capped)."""
    checks = [
        Check("holdout", math.isfinite(err["error"]) and abs(err["error"]) <= max_holdout_error,
              {"model": name, "error": err["error"], "limit": max_holdout_error})
        for name, err in purchase_errors.items()
    ]
    if spend_q is not None:
        checks.append(Check("spend_q", spend_q > 1, {"q": spend_q}))
    dependent = math.isfinite(correlation) and abs(correlation) > MAX_SPEND_CORRELATION
    checks.append(Check("spend_correlation", not dependent,
                        {"correlation": correlation, "limit": MAX_SPEND_CORRELATION}))
    checks.extend(Check("converged", ok, {"model": name}) for name, ok in converged.items())
    checks.extend(Check("at_cap", not capped, {"model": name}) for name, capped in (at_cap or {}).items())
    return checks


# ---- the validity gate: predictive_status is "ok" only when every gate check passes -----------

SHAPE_BOUNDS = (0.01, 1000.0)  # a shape parameter outside: the optimiser ran to the edge of the space
SHAPE_PARAMS = {"bgnbd": ("r", "a", "b"), "gamma_gamma": ("p", "q")}
GATED_MODELS = ("bgnbd", "gamma_gamma")  # the models behind the predicted LTV

SEASON_SQL = """
WITH o AS (
    SELECT CAST(ordered_at AS DATE) AS day FROM ({src})
    WHERE customer_id IS NOT NULL AND ordered_at IS NOT NULL
),
y AS (SELECT greatest(min(day), DATE '{as_of}' - 365) AS start FROM o)
SELECT (SELECT start FROM y) AS start,
       count(*) FILTER (WHERE day >= {cal_end}) AS holdout_orders,
       count(*) FILTER (WHERE day >= (SELECT start FROM y)) AS year_orders
FROM o
"""


def season_ratio(orders_path: Path | str, as_of: dt.date | str, calibration_end: dt.date | str) -> dict[str, float]:
    """The holdout's share of the last year's orders (customers' orders, the year capped at the
    history's start) divided by its share of the year's days: about 1 when the holdout is an
    ordinary stretch of the year, well above 1 in a peak season (a stationary model fitted on
    quieter weeks then under-predicts it), below 1 in a trough. It mixes trend with season, as
    any comparison within one year must."""
    as_of, cal_end = to_date(as_of), to_date(calibration_end)
    row = query(SEASON_SQL.format(src=orders_sql(orders_path, as_of), as_of=as_of.isoformat(),
                                  cal_end=date_sql(cal_end))).iloc[0]
    year_days = (as_of - pd.Timestamp(row["start"]).date()).days
    holdout_days = (as_of - cal_end).days
    orders, year = float(row["holdout_orders"]), float(row["year_orders"])
    order_share = orders / year if year else math.nan
    day_share = holdout_days / year_days if year_days > 0 else math.nan
    ratio = order_share / day_share if day_share and math.isfinite(order_share) else math.nan
    return {"ratio": ratio, "order_share": order_share, "day_share": day_share}


def identifiability(name: str, params: dict[str, float], se: dict[str, float] | None,
                    max_relative_se: float) -> Check:
    """A model's parameters are identified: no shape parameter at the edge of the parameter space
    (SHAPE_BOUNDS) and, when standard errors were computed, every one finite and at most
    max_relative_se times its estimate. values: model, the offending parameters and their
    relative standard errors (NaN: not computable)."""
    low, high = SHAPE_BOUNDS
    at_bound = [p for p in SHAPE_PARAMS.get(name, ()) if p in params and not low <= params[p] <= high]
    loose: dict[str, float] = {}
    if se is not None:
        for p, value in params.items():
            error = se.get(p, math.nan)
            rel = error / abs(value) if value and math.isfinite(error) else math.nan
            if not (math.isfinite(rel) and rel <= max_relative_se):
                loose[p] = rel
    return Check("identified", not at_bound and not loose,
                 {"model": name, "at_bound": at_bound, "relative_se": loose, "limit": max_relative_se,
                  "params": {p: params[p] for p in at_bound}})


def gate_checks(fits: dict, calibration: dict, season: dict[str, float], max_relative_se: float,
                max_season_ratio: float) -> list[Check]:
    """The gate's own checks (beside model_checks' holdout error and convergence): the scoring
    models' parameters identified (refit: bounds and standard errors; calibration fit: bounds),
    and the holdout not in a peak or trough season."""
    checks = [identifiability(name, fits[name].params, fits[name].se, max_relative_se)
              for name in GATED_MODELS if name in fits]
    if "bgnbd" in calibration:
        cal = identifiability("bgnbd", calibration["bgnbd"].params, None, max_relative_se)
        checks.append(Check("identified_calibration", cal.ok, cal.values))
    ratio = season["ratio"]
    checks.append(Check("season", not math.isfinite(ratio) or 1 / max_season_ratio <= ratio <= max_season_ratio,
                        {**season, "limit": max_season_ratio}))
    return checks


GATE_KEYS = ("identified", "identified_calibration", "holdout", "season", "converged")


def gate_failures(checks: list[Check]) -> list[Check]:
    """The failed checks that fail the gate: a gate key, and for per-model checks a scoring model
    (Pareto/NBD is shown for comparison only; spend checks stay warnings)."""
    return [check for check in checks if not check.ok and check.key in GATE_KEYS
            and check.values.get("model", "bgnbd") in GATED_MODELS]


def gate_status(checks: list[Check]) -> str:
    """'ok', or 'failed: ' and the failing checks' keys (the chapter words them from the catalogs)."""
    failed = [check.key for check in gate_failures(checks)]
    return "ok" if not failed else "failed: " + ", ".join(dict.fromkeys(failed))
