"""The LTV figures recorded in metrics.json (section "ltv")."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..store.ltv.predictive import PredictiveResult, headline_params, total_clv
from ..store.ltv.settings import LTVSettings
from .formula import FormulaInputs, FormulaLTV, as_dict


def headline_metrics(
    annual: pd.DataFrame,
    inputs: FormulaInputs,
    formula: FormulaLTV,
    predictive: PredictiveResult,
    settings: LTVSettings,
    annual_complete: bool | None = None,
) -> dict[str, Any]:
    """Annual LTV, formula LTV, fitted parameters (with SE and log-likelihood), holdout errors, CLV.
    annual_complete: whether the data covers the whole 12 months of 年間LTV (historical.annual_window)."""
    total = annual[annual["cohort"].isna()].iloc[0]
    values: dict[str, Any] = {
        "as_of": predictive.as_of,
        "annual_ltv": total["annual_ltv"],
        "annual_customers": total["customers"],
        "annual_revenue": total["revenue"],
        "annual_complete": annual_complete,
        "formula": {**as_dict(formula), "inputs": as_dict(inputs)},
        "predictive_status": predictive.status,
        "calibration_end": predictive.calibration_end,
        "repeat_buyers_calibration": predictive.repeat_buyers,
        "settings": settings.model_dump(),
    }
    if predictive.fitted:  # fitted, gate passed or not: what the gate judged
        values.update({
            "params": headline_params(predictive.fits),
            "calibration_params": headline_params(predictive.calibration),
            "holdout_error": predictive.errors,
            "spend_frequency_correlation": predictive.correlation,
            "failed_checks": [
                {"check": check.key, **{k: v for k, v in check.values.items() if k == "model"}}
                for check in predictive.failed_checks
            ],
            "gate": [_gate_entry(check) for check in predictive.gate_failures],
            "holdout_season": predictive.season,
        })
    if predictive.ok:  # only a model that passed the gate gives predicted figures
        scores = predictive.scores
        values.update({
            "clv": {
                "customers": predictive.all_customers,
                "model_customers": len(scores),
                "sample_share": predictive.sample_share,
                "mean": predictive.weighted_mean("clv"),
                "total": total_clv(predictive),
                "mean_p_alive": predictive.weighted_mean("p_alive"),
                "mean_expected_purchases": predictive.weighted_mean("expected_purchases"),
                "horizon_months": settings.horizon_months,
                "discount_rate": settings.discount_rate,
            },
        })
    return values


def _gate_entry(check) -> dict[str, Any]:
    """One failed gate check for metrics.json: its key and the values it was judged on."""
    return {"check": check.key, **check.values}
