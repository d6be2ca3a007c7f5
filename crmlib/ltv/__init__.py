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
Public names are imported from their modules on first use (crmlib.lazy): crmlib.config can
validate the `ltv:` section without loading scipy.
"""

from __future__ import annotations

from ..lazy import exports as _exports
from ..lazy import lazy_dir as _lazy_dir
from ..lazy import lazy_getattr as _lazy_getattr

_EXPORTS = _exports(__name__, {
    "..store.ltv.settings": ("LTVSettings",),
    "..store.ltv.bgnbd": ("BGNBDFit", "fit_bgnbd"),
    "..store.ltv.pareto_nbd": ("ParetoNBDFit", "fit_pareto_nbd"),
    "..store.ltv.gamma_gamma": ("GammaGammaFit", "fit_gamma_gamma"),
    "..store.ltv.clv": ("clv_by_segment", "expected_clv"),
    "..store.ltv.summary": ("calibration_end_for", "resolve_as_of", "rfm_summaries", "rfm_summary"),
    "..store.ltv.predictive": ("predictive_ltv",),
})

# the store's modules, also reachable from here (from crmlib.ltv import predictive, validation ...)
_MODULES = {name: f"..store.ltv.{name}" for name in (
    "bgnbd", "clv", "fitting", "gamma_gamma", "historical", "pareto_nbd", "predictive", "settings", "summary",
    "validation")}

__getattr__ = _lazy_getattr(__name__, _EXPORTS, _MODULES)
__dir__ = _lazy_dir(__name__, _EXPORTS, _MODULES)
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the lazy table is the one list)
