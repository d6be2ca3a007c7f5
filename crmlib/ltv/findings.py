"""The LTV chapter's findings for the executive summary (registered on import): predicted LTV
(only when its models passed their checks) and 年間LTV with the formula LTV."""

from __future__ import annotations

from collections.abc import Mapping

from ..findings import Assessment, Count, Metrics, Money, SummarySettings, finding_rule, observable, sample
from ..style import fmt_num


SCORING_MODELS = ("bgnbd", "gamma_gamma")  # the models behind ltv.clv


@finding_rule("predicted_ltv", chapter="03_ltv", anchor="segments-cohort", priority=55,
              needs=("ltv.clv.mean", "ltv.clv.total", "ltv.clv.horizon_months"), headline="mean")
def _predicted_ltv(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """Expected value of today's customers over the horizon (BG/NBD x Gamma-Gamma), unless a check
    of those two models failed (a failed Pareto/NBD check, shown only for comparison, does not count)."""
    if m.get("ltv.predictive_status") not in (None, "ok"):
        return None
    failed = m.get("ltv.failed_checks") or []
    if any(not isinstance(c, Mapping) or c.get("model") in (None, *SCORING_MODELS) for c in failed):
        return None
    return Assessment(False, {
        "months": Count(m.get("ltv.clv.horizon_months")), "mean": Money(m.get("ltv.clv.mean")),
        "total": Money(m.get("ltv.clv.total")), "customers": Count(m.get("ltv.clv.customers") or 0),
    })


# 年間LTV is a value per customer over 12 months: the data must cover them, and the sample floor
# of customers must have bought in them
@finding_rule("annual_ltv", chapter="03_ltv", anchor="formula", priority=50,
              needs=("ltv.annual_ltv", "ltv.formula.ltv"), headline="annual",
              requires=(observable("ltv.annual_complete"), sample("ltv.annual_customers")))
def _annual_ltv(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """年間LTV and the formula LTV (AOV x frequency x retention years); the ceiling for acquisition
    cost only from gross profit (ltv.gross_margin set): revenue LTV is no affordable cost."""
    values = {
        "annual": Money(m.get("ltv.annual_ltv")), "ltv": Money(m.get("ltv.formula.ltv")),
        "years": fmt_num(m.get("ltv.formula.retention_years") or 0, 1),
    }
    ceiling = m.get("ltv.formula.cpo_ceiling")
    if m.get("ltv.formula.gross_margin") is None or ceiling is None:
        return Assessment(False, values, "no_margin")
    return Assessment(False, {**values, "cpo": Money(ceiling)})
