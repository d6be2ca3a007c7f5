"""Display tables of the LTV chapter: formatted text cells with localised headers."""

from __future__ import annotations

import math

import pandas as pd

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from .formula import FormulaInputs, FormulaLTV
from .text import basis_label, cohort_label, group_label, lever_name, model_label, signed_pct


def _h(key: str, lang: str) -> str:
    return t(f"ltv.col.{key}", lang)


def annual_table(annual: pd.DataFrame, period: str, lang: str, currency: str, observed_from=None) -> pd.DataFrame:
    """年間LTV per acquisition cohort with the total last: customers, orders, revenue, annual LTV; a
    cohort acquired before observed_from (it holds accounts older than the data) is marked ※."""
    start = pd.Timestamp(observed_from) if observed_from is not None else None
    labels = [t("ltv.label.total", lang) if pd.isna(c)
              else cohort_label(c, period, lang) + ("※" if start is not None and c < start else "")
              for c in annual["cohort"]]
    return pd.DataFrame({
        _h("cohort", lang): labels,
        _h("customers_12m", lang): [fmt_int(v) for v in annual["customers"]],
        _h("orders_12m", lang): [fmt_int(v) for v in annual["orders"]],
        _h("revenue_12m", lang): [fmt_money(v, currency) for v in annual["revenue"]],
        _h("annual_ltv", lang): [fmt_money(v, currency) for v in annual["annual_ltv"]],
    })


def formula_table(inputs: FormulaInputs, result: FormulaLTV, lang: str, currency: str) -> pd.DataFrame:
    """Each factor and result of the formula with its value and how it was computed."""
    window = "window_year" if inputs.window_days >= 365 else "window_short"
    halves = "retention_year" if inputs.retention_period_days >= 365 else "retention_halves"
    rows = [
        ("aov", fmt_money(result.aov, currency), t(f"ltv.formula.how_aov_{window}", lang)),
        ("frequency", t("ltv.label.times", lang, n=fmt_num(result.frequency, 2)),
         t(f"ltv.formula.how_frequency_{window}", lang)),
        ("retention_rate", fmt_pct(result.retention_rate),
         t(f"ltv.formula.how_{halves}", lang, kept=fmt_int(inputs.retention_kept), base=fmt_int(inputs.retention_base),
           days=fmt_int(inputs.retention_period_days))),
        ("retention_years", t("ltv.label.years", lang, n=fmt_num(result.retention_years, 1)),
         t("ltv.formula.how_years", lang)),
        ("ltv", fmt_money(result.ltv, currency), t("ltv.formula.how_ltv", lang)),
    ]
    if result.has_margin:
        rows.append(("ltv_gross_profit", fmt_money(result.ltv_gross_profit, currency),
                     t("ltv.formula.how_gross_profit", lang, margin=fmt_pct(result.gross_margin))))
    if result.cpa is not None:
        rows += [
            ("cpa", fmt_money(result.cpa, currency), t("ltv.formula.how_setting", lang, setting="ltv.cpa")),
            ("retention_cost", fmt_money(result.retention_cost_year, currency),
             t("ltv.formula.how_setting", lang, setting="ltv.retention_cost_per_customer_year")),
            ("lifetime_cost", fmt_money(result.lifetime_cost, currency), t("ltv.formula.how_lifetime_cost", lang)),
            ("ratio", fmt_num(result.ratio, 2),
             t("ltv.formula.how_ratio", lang, basis=basis_label(result.gross_margin, lang))),
        ]
        if result.has_margin:
            rows += [
                ("cpo_ceiling", fmt_money(result.cpo_ceiling, currency),
                 t("ltv.formula.how_cpo_ceiling", lang, basis=basis_label(result.gross_margin, lang))),
                ("payback", _payback_cell(result, lang), t("ltv.formula.how_payback", lang)),
            ]
        else:  # revenue is not profit: neither is shown as a figure
            rows += [(key, "—", t("ltv.formula.how_needs_margin", lang)) for key in ("cpo_ceiling", "payback")]
    return pd.DataFrame(
        [(t(f"ltv.formula.row_{key}", lang), value, how) for key, value, how in rows],
        columns=[t("common.col_metric", lang), t("common.col_value", lang), _h("how", lang)],
    )


def _payback_cell(result: FormulaLTV, lang: str) -> str:
    if not math.isfinite(result.ltv):
        return "—"
    if result.payback_months is None:
        return t("ltv.label.never", lang)
    text = t("ltv.label.months", lang, n=fmt_num(result.payback_months, 1))
    return text + (t("ltv.label.estimated", lang) if result.payback_estimated else "")


def lever_table(levers: pd.DataFrame, base: FormulaLTV, lang: str, currency: str) -> pd.DataFrame:
    """One row per lever: LTV after, its change, LTV / cost (when a CPA is set), one year's effects."""
    frame = pd.DataFrame({
        _h("lever", lang): [
            lever_name(lever, kind, step, lang)
            for lever, kind, step in zip(levers["lever"], levers["kind"], levers["step"])
        ],
        _h("ltv_after", lang): [fmt_money(v, currency) for v in levers["ltv"]],
        _h("ltv_change", lang): [signed_pct(v) for v in levers["ltv_change"]],
    })
    if base.cpa is not None:
        frame[_h("ratio_after", lang)] = [fmt_num(v, 2) for v in levers["ratio"]]
    frame[_h("revenue_effect", lang)] = [fmt_money(v, currency) for v in levers["annual_revenue_effect"]]
    if base.has_margin:  # without a gross margin there is no profit effect to show
        frame[_h("profit_effect", lang)] = [fmt_money(v, currency) for v in levers["annual_profit_effect"]]
    return frame


def param_text(value: float) -> str:
    """A parameter or standard error: 4 decimals, or 3 significant digits when tiny or huge."""
    if not math.isfinite(value):
        return "—"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return fmt_num(value, 4)


def params_table(fits: dict, lang: str) -> pd.DataFrame:
    """Parameter estimates with standard errors and each model's log-likelihood and customer count."""
    rows = []
    for name, fit in fits.items():
        for param, value in fit.params.items():
            se = fit.se.get(param, math.nan)
            rows.append((model_label(name, lang), param, param_text(value), param_text(se),
                         fmt_num(fit.log_likelihood, 2), fmt_int(fit.n)))
    return pd.DataFrame(rows, columns=[_h("model", lang), _h("param", lang), _h("estimate", lang), _h("se", lang),
                                       _h("log_likelihood", lang), _h("customers", lang)])


def segments_table(
    table: pd.DataFrame, by: str, period: str, horizon_months: int, lang: str, currency: str
) -> pd.DataFrame:
    """Expected CLV per segment: customers, mean P(alive), purchases and CLV per customer, total and share."""
    return pd.DataFrame({
        t(f"ltv.label.{by}", lang): [group_label(v, by, period, lang) for v in table["segment"]],
        _h("customers", lang): [fmt_int(v) for v in table["customers"]],
        _h("p_alive", lang): [fmt_pct(v) for v in table["p_alive"]],
        t("ltv.col.expected_purchases", lang, months=horizon_months):
            [fmt_num(v, 2) for v in table["expected_purchases"]],
        _h("clv", lang): [fmt_money(v, currency) for v in table["clv"]],
        _h("clv_total", lang): [fmt_money(v, currency) for v in table["clv_total"]],
        _h("clv_share", lang): [fmt_pct(v) for v in table["clv_share"]],
    })
