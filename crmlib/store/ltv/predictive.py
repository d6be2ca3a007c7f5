"""The chapter's predictive part in one call: validate on a holdout split, refit, score customers.

1. Split: calibration = orders before calibration_end (the last `holdout_share` of the history
   is the holdout). With fewer than `min_repeat_buyers` repeat buyers in the calibration period
   nothing is fitted and the result says so (status "too_little_data"), so the chapter shows a
   message instead of failing.
2. Validate: BG/NBD and Pareto/NBD fitted on the calibration period predict the holdout.
3. Refit BG/NBD, Pareto/NBD and Gamma-Gamma on everything before as_of and score every customer
   with BG/NBD + Gamma-Gamma: P(alive), expected purchases and discounted CLV over the horizon.
4. Keep the verdict (gate status and BG/NBD's parameters) beside the orders for the other chapters
   (verdict.py).

Above `max_model_customers` customers, steps 1-3 read a random sample of that size (summary.py's
hash sample, the same customers every run). Parameters come from the sample. Each sampled customer
then stands for the customers of its cell (acquisition cohort x first channel or category, the
chapter's two groupings): weight = cell customers / sampled cell customers (post-stratification).
Customers per cohort and per first attribute are then exact, and every table, the headline total
and the means use the same weighted sums, so they agree with each other at 50 million customers
with bounded memory.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .bgnbd import BGNBDFit, fit_bgnbd
from .clv import clv_by_segment, expected_clv
from .fitting import compact_histories, single_threaded_blas
from .gamma_gamma import GammaGammaFit, fit_gamma_gamma, repeat_buyers
from .pareto_nbd import ParetoNBDFit, fit_pareto_nbd
from .historical import choose_period, first_purchase_grouping
from .settings import LTVSettings
from .summary import (
    calibration_end_for, customer_count, first_purchase_counts, rfm_summaries, rfm_summaries_and_days, to_date,
)
from .validation import (
    Check, gate_checks, gate_failures, gate_status, holdout_by_frequency, holdout_error, model_checks,
    predicted_holdout, season_ratio, spend_frequency_correlation, tracking_counts, tracking_from_counts,
)
from .verdict import keep_verdict, verdict_of

MODEL_NAMES = ("bgnbd", "pareto_nbd")


@dataclass
class PredictiveResult:
    """Everything the predictive sections show; fits and frames are None unless status == 'ok'."""

    status: str  # "ok", "too_little_data" or "failed: <keys of the failed gate checks>"
    as_of: dt.date
    calibration_end: dt.date
    repeat_buyers: int  # in the calibration period
    min_repeat_buyers: int
    customers: int = 0
    calibration: dict[str, BGNBDFit | ParetoNBDFit] = field(default_factory=dict)
    fits: dict[str, BGNBDFit | ParetoNBDFit | GammaGammaFit] = field(default_factory=dict)
    by_frequency: pd.DataFrame | None = None
    tracking: pd.DataFrame | None = None
    errors: dict[str, dict[str, float]] = field(default_factory=dict)
    correlation: float = float("nan")
    checks: list[Check] = field(default_factory=list)
    season: dict[str, float] = field(default_factory=dict)  # validation.season_ratio
    # full history to as_of; of the first order's attributes only the chapter's grouping
    # (historical.first_purchase_grouping) is filled, the other column is empty
    summary: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None  # per customer: p_alive, expected_purchases, expected_spend, clv
    sample_share: float | None = None  # None: every customer; else the share in the model sample
    population: pd.DataFrame | None = None  # when sampled: exact customers per first purchase day/attribute
    weights: np.ndarray | None = None  # when sampled: customers each summary row stands for

    @property
    def sampled(self) -> bool:
        return self.sample_share is not None

    @property
    def sample_sizes(self) -> tuple[int, int] | None:
        """(customers in the model sample, all customers) when the models read a sample, else None."""
        return (self.customers, self.all_customers) if self.sampled else None

    @property
    def all_customers(self) -> int:
        """Customers before as_of (exact, also when the models read a sample)."""
        return int(self.population["customers"].sum()) if self.sampled else self.customers

    def weighted_mean(self, column: str) -> float:
        """Mean of a scores column over every customer (weighted when the models read a sample)."""
        values = self.scores[column].to_numpy("float64")
        weights = self.weights if self.weights is not None else np.ones(len(values))
        ok = np.isfinite(values)
        return float((values[ok] * weights[ok]).sum() / weights[ok].sum()) if ok.any() else float("nan")

    @property
    def ok(self) -> bool:
        """The models passed the validity gate: their predictions may be shown and used."""
        return self.status == "ok"

    @property
    def fitted(self) -> bool:
        """The models were fitted (passed the gate or not): validation and parameters can be shown."""
        return bool(self.fits)

    @property
    def gate_failures(self) -> list[Check]:
        """The checks that failed the validity gate (empty when ok)."""
        return gate_failures(self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


def predictive_ltv(orders_path: Path | str, as_of: dt.date | str, settings: LTVSettings) -> PredictiveResult:
    """Validate, refit and score (see the module docstring)."""
    as_of = to_date(as_of)
    unit = settings.time_unit_days
    cal_end = calibration_end_for(orders_path, as_of, settings.holdout_share)
    everyone = customer_count(orders_path, as_of)
    share = settings.max_model_customers / everyone if everyone > settings.max_model_customers else None
    population = first_purchase_counts(orders_path, as_of) if share is not None else None
    by = first_purchase_grouping(orders_path, as_of)  # the one first-order attribute the chapter splits by
    firsts = (by.removeprefix("first_"),) if by else ()
    if share is None:  # one query, which also gives the tracking curve's purchase days
        calibration, summary, day_counts = rfm_summaries_and_days(orders_path, as_of, cal_end, unit, firsts=firsts)
    else:  # the curve counts every customer, not the model sample: its own query (below)
        calibration, summary = rfm_summaries(orders_path, as_of, cal_end, unit, sample_share=share, firsts=firsts)
        day_counts = None
    repeaters = int((calibration["x"] > 0).sum())
    result = PredictiveResult("too_little_data", as_of, cal_end, repeaters, settings.min_repeat_buyers,
                              customers=len(calibration), sample_share=share,
                              population=population)
    if repeaters < settings.min_repeat_buyers:
        keep_verdict(orders_path, as_of, settings, verdict_of(result, unit))
        return result
    # Two cores: each Pareto/NBD fit (the slowest, started from its BG/NBD fit) runs on a thread
    # while the main thread goes on with the work that does not need it (numpy and scipy release
    # the GIL in the likelihoods); from a sample, the tracking curve's DuckDB query runs beside them.
    # BLAS goes single-threaded here, in the calling thread, before the pool starts: OpenBLAS
    # ignores a limit set from a pool thread once one has been set and lifted in the process, and
    # the fits' own limits then only count (fitting.single_threaded_blas).
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=3, thread_name_prefix="ltv") as pool:
        counts = pool.submit(tracking_counts, orders_path, as_of, cal_end) if day_counts is None else None
        cal_rows = compact_histories(calibration)  # the distinct (x, t_x, T) rows, shared below
        bg_cal = fit_bgnbd(calibration, with_se=False, rows=cal_rows)  # only the refitted models' errors are shown
        pn_cal_job = pool.submit(fit_pareto_nbd, calibration, with_se=False,
                                 start=_pareto_start(bg_cal, calibration), rows=cal_rows)
        rows = compact_histories(summary)
        bg = fit_bgnbd(summary, rows=rows)
        pn_job = pool.submit(fit_pareto_nbd, summary, start=_pareto_start(bg, summary), rows=rows)
        result.calibration = {"bgnbd": bg_cal, "pareto_nbd": pn_cal_job.result()}
        result.tracking = tracking_from_counts(day_counts if counts is None else counts.result(), as_of, cal_end,
                                               result.calibration, unit)
        predicted = {name: predicted_holdout(model, calibration, cal_rows) for name, model in result.calibration.items()}
        result.by_frequency = holdout_by_frequency(result.calibration, calibration, predicted=predicted)
        if share is not None:  # customers per bucket, scaled from the sample to everyone
            result.by_frequency["customers"] = (result.by_frequency["customers"] / share).round().astype("int64")
        scale = 1.0 / share if share is not None else 1.0  # sample totals -> every customer
        result.errors = {name: holdout_error(model, calibration, scale, predicted=predicted[name])
                         for name, model in result.calibration.items()}
        del calibration, predicted, cal_rows

        gamma = fit_gamma_gamma(summary) if len(repeat_buyers(summary)) >= 2 else None
        result.correlation = spend_frequency_correlation(summary)
        result.season = season_ratio(orders_path, as_of, cal_end)
        result.scores = expected_clv(
            bg, gamma, summary, horizon_months=settings.horizon_months,
            discount_rate=settings.discount_rate, gross_margin=settings.gross_margin or 1.0, time_unit_days=unit,
            rows=rows,
        )
        fits: dict = {"bgnbd": bg, "pareto_nbd": pn_job.result()}
    if gamma is not None:
        fits["gamma_gamma"] = gamma
    result.fits = fits
    converged = {name: fit.converged and (name not in result.calibration or result.calibration[name].converged)
                 for name, fit in fits.items()}
    at_cap = {"pareto_nbd": bool(fits["pareto_nbd"].extra.get("at_cap", 0.0))}
    result.checks = [
        *model_checks(result.errors, gamma.q if gamma else None, result.correlation, converged, at_cap,
                      settings.max_holdout_error),
        *gate_checks(fits, result.calibration, result.season, settings.max_relative_se, settings.max_season_ratio),
    ]
    result.summary = summary
    result.customers = len(summary)
    if share is not None:
        result.weights = stratum_weights(summary, population, _cohort_period(orders_path, as_of, settings), by)
    result.status = gate_status(result.checks)
    keep_verdict(orders_path, as_of, settings, verdict_of(result, unit))  # for the other chapters (verdict.py)
    return result


def _cohort_period(orders_path: Path | str, as_of: dt.date, settings: LTVSettings) -> str:
    """The chapter's cohort period: with its first-purchase attribute, the cells of the sample weights."""
    return choose_period(orders_path, as_of, settings.cohort_period)


def stratum_weights(summary: pd.DataFrame, population: pd.DataFrame, period: str, by: str | None) -> np.ndarray:
    """Per sampled customer, the customers of its cell (cohort x first attribute) / the sampled
    customers of that cell. A population cell without a sampled customer (a handful of customers
    at most) gives its customers to the sampled cells of its cohort, so the weights add up to
    every customer."""
    def cells(frame: pd.DataFrame) -> pd.MultiIndex:
        cohort = segment_labels(frame, "cohort", period).to_numpy()
        group = frame[by].to_numpy(dtype=object) if by else np.zeros(len(frame), dtype=object)
        return pd.MultiIndex.from_arrays([cohort, pd.Series(group).fillna("\0").to_numpy()])

    sampled = pd.Series(1, index=cells(summary)).groupby(level=[0, 1]).sum()
    everyone = pd.Series(population["customers"].to_numpy(), index=cells(population)).groupby(level=[0, 1]).sum()
    missing = everyone[~everyone.index.isin(sampled.index)]
    weights = (everyone.reindex(sampled.index).fillna(0) / sampled).astype("float64")
    if len(missing):  # spread over the cohort's sampled cells, in proportion to their size
        extra = missing.groupby(level=0).sum()
        cohort_size = everyone.reindex(sampled.index).fillna(0).groupby(level=0).transform("sum")
        share = (extra.reindex(sampled.index.get_level_values(0)).fillna(0).to_numpy() / cohort_size.to_numpy())
        weights = weights * (1 + share)
    return weights.reindex(cells(summary)).to_numpy("float64")


def _pareto_start(bg: BGNBDFit, summary: pd.DataFrame) -> tuple[float, float, float, float]:
    """Pareto/NBD starting values: the purchase-rate parameters of BG/NBD (same meaning), s = 1,
    beta = mean age (a lifetime of the order of the observation)."""
    return bg.r, bg.alpha, 1.0, max(float(summary["T"].mean()), 1e-3)


def segment_labels(summary: pd.DataFrame, by: str, period: str = "quarter") -> pd.Series:
    """Segment of every customer: first_channel, first_category, or acquisition cohort (period start)."""
    if by == "cohort":
        return summary["first_purchase"].dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).dt.start_time
    return summary[by]


def clv_segments(result: PredictiveResult, by: str, period: str = "quarter") -> pd.DataFrame:
    """Expected CLV per acquisition cohort (in time order) or per first channel/category (largest first);
    from a model sample, weighted sums (see stratum_weights)."""
    labels = segment_labels(result.summary, by, period)
    return clv_by_segment(result.scores, labels, order="segment" if by == "cohort" else "total",
                          weights=result.weights)


def headline_params(fits: dict) -> dict[str, dict[str, float]]:
    """Fitted parameters, standard errors and log-likelihoods per model, for metrics.json."""
    return {
        name: {**fit.params, "se": fit.se, "log_likelihood": fit.log_likelihood, "n": fit.n}
        for name, fit in fits.items()
    }


def total_clv(result: PredictiveResult) -> float:
    """Sum of expected CLV over every customer (NaN-safe; weighted when the models read a sample)."""
    clv = result.scores["clv"].to_numpy("float64")
    weights = result.weights if result.weights is not None else np.ones(len(clv))
    return float(np.nansum(clv * weights))


__all__ = [
    "MODEL_NAMES", "PredictiveResult", "clv_by_segment", "clv_segments", "headline_params", "predictive_ltv",
    "segment_labels",
    "total_clv",
]
