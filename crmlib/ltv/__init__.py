"""The LTV chapter: historical, formula and predictive (BG/NBD, Pareto/NBD, Gamma-Gamma) lifetime value.

Public API (parameter names as in the literature):

    summary = rfm_summary(orders_path, as_of, calibration_end=None, time_unit_days=7)
    calibration, whole = rfm_summaries(orders_path, as_of, calibration_end)  # both from one query
    bg = fit_bgnbd(summary)            # BGNBDFit: r, alpha, a, b (+ se, log_likelihood, n)
    pn = fit_pareto_nbd(summary)       # ParetoNBDFit: r, alpha, s, beta
    gg = fit_gamma_gamma(summary)      # GammaGammaFit: p, q, v (repeat buyers only)
    bg.expected_purchases(t, x, t_x, T); bg.p_alive(x, t_x, T)
    scores = expected_clv(bg, gg, summary, horizon_months=36, discount_rate=0.10)

The models, the customer summaries, the validity gate and the historical LTV live in the store
(crmlib.store.ltv), so another chapter can read the gate's verdict; this package shows them.
Only the settings model is imported eagerly (crmlib.config can validate the `ltv:` section
without loading scipy); the rest is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..store.ltv.settings import LTVSettings

_LAZY = {
    "BGNBDFit": "bgnbd", "fit_bgnbd": "bgnbd",
    "ParetoNBDFit": "pareto_nbd", "fit_pareto_nbd": "pareto_nbd",
    "GammaGammaFit": "gamma_gamma", "fit_gamma_gamma": "gamma_gamma",
    "expected_clv": "clv", "clv_by_segment": "clv",
    "rfm_summary": "summary", "rfm_summaries": "summary", "resolve_as_of": "summary", "calibration_end_for": "summary",
    "predictive_ltv": "predictive",
}

# the store's modules, also reachable from here (from crmlib.ltv import predictive, validation ...)
_MODULES = ("bgnbd", "clv", "fitting", "gamma_gamma", "historical", "pareto_nbd", "predictive", "settings", "summary",
            "validation")

__all__ = ["LTVSettings", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    """Import the public functions and classes from their modules on first access (PEP 562)."""
    if name in _LAZY:
        value = getattr(import_module(f"..store.ltv.{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return import_module(f"..store.ltv.{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
