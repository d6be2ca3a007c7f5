"""Labels, takeaway sentences and warnings of the LTV chapter, computed from the results.

Every sentence comes from the message catalog (crmlib/messages/<lang>/ltv.yaml); this module
only picks the message and fills in the numbers, so the text can be tested.
"""

from __future__ import annotations

import math

import pandas as pd

from ..display import display_value
from ..i18n import t
from ..style import fmt_date, fmt_int, fmt_money, fmt_month, fmt_num, fmt_pct
from ..store.ltv.historical import MIN_CURVE_CUSTOMERS
from ..store.ltv.validation import Check
from .formula import FormulaLTV

COMPARE_MONTHS = (12, 6, 3, 1, 0)  # months since first purchase compared across groups, first reached wins
SIMILAR = 0.05  # relative difference read as "about the same"


def _join(lang: str, *sentences: str) -> str:
    """Sentences as one paragraph: no gap in Japanese, one space in English."""
    return t("ltv.label.sentence_gap", lang).join(sentences)


def signed_pct(value: float) -> str:
    """A change as a signed percentage: +3.2%, -24.9% (a dash when unknown)."""
    if not math.isfinite(value):
        return "—"
    return ("+" if value > 0 else "") + fmt_pct(value)


def model_label(name: str, lang: str) -> str:
    """Display name of a model: BG/NBD, Pareto/NBD, Gamma-Gamma."""
    return t(f"ltv.model.{name}", lang)


def cohort_label(start, period: str, lang: str) -> str:
    """An acquisition cohort as text: a month, a quarter ('2024年1〜3月', 'Jan–Mar 2024') or a year."""
    start = pd.Timestamp(start)
    if period == "month":
        return fmt_month(start, lang)
    if period == "quarter":
        first, last = start.month, start.month + 2
        if lang != "ja":  # 'Jan–Mar 2024'; Japanese writes the month numbers: '2024年1〜3月'
            first, last = (pd.Timestamp(start.year, m, 1).strftime("%b") for m in (first, last))
        return t("ltv.cohort.quarter", lang, year=start.year, first=first, last=last)
    return t("ltv.cohort.year", lang, year=start.year)


GROUP_DIMENSIONS = {"first_channel": "channel", "first_category": "category"}  # by -> order attribute


def group_label(group, by: str, period: str, lang: str) -> str:
    """A curve's or segment's label: cohort text, the channel/category value, or '(unknown)'."""
    if by == "cohort":
        return cohort_label(group, period, lang)
    if by == "all":
        return t("ltv.label.all_customers", lang)
    if pd.isna(group) or group == "":
        return t("ltv.label.none", lang)
    return display_value(GROUP_DIMENSIONS.get(by, by), group, lang)  # web -> ウェブ


def _month_k(months: int, lang: str) -> str:
    return t("ltv.label.month_k", lang, k=months)


def comparable_month(curve: pd.DataFrame, min_groups: int = 2) -> int | None:
    """The first of 12, 6, 3, 1, 0 months since first purchase that at least min_groups groups reach."""
    for months in COMPARE_MONTHS:
        if curve.loc[curve["months_since"] == months, "group"].nunique(dropna=False) >= min_groups:
            return months
    return None


def cohort_takeaway(curve: pd.DataFrame, period: str, lang: str, currency: str,
                    min_customers: int = MIN_CURVE_CUSTOMERS) -> str:
    """Oldest vs newest cohort at a month both have reached; or the single cohort's value."""
    if curve.empty:
        return t("ltv.cohorts.empty", lang, min=fmt_int(min_customers))
    months = comparable_month(curve)
    if months is None:
        last = curve.iloc[-1]
        return t("ltv.cohorts.single", lang, cohort=cohort_label(last["group"], period, lang),
                 month=_month_k(int(last["months_since"]), lang),
                 value=fmt_money(last["revenue_per_customer"], currency, lang, prose=True))
    at = curve[curve["months_since"] == months].sort_values("group")
    old, new = at.iloc[0], at.iloc[-1]
    base = old["revenue_per_customer"]
    change = new["revenue_per_customer"] / base - 1 if base else math.nan
    trend = "similar" if not math.isfinite(change) or abs(change) < SIMILAR else "higher" if change > 0 else "lower"
    return t("ltv.cohorts.takeaway", lang, month=_month_k(months, lang),
             old=cohort_label(old["group"], period, lang), old_value=fmt_money(base, currency, lang, prose=True),
             new=cohort_label(new["group"], period, lang),
             new_value=fmt_money(new["revenue_per_customer"], currency, lang, prose=True),
             trend=t(f"ltv.cohorts.trend_{trend}", lang))


def observable_note(observed_from, observable: int, censored: int, lang: str) -> str:
    """Who the comparisons by first purchase rest on (customers first seen from observed_from, with
    n) and who they leave out; empty when nobody is left-censored."""
    if not censored:
        return ""
    key = "ltv.observable.note" if observable else "ltv.observable.none"
    return t(key, lang, observed_from=fmt_date(observed_from, lang), observable=fmt_int(observable),
             censored=fmt_int(censored))


def groups_takeaway(curve: pd.DataFrame | None, by: str | None, lang: str, currency: str,
                    min_customers: int = MIN_CURVE_CUSTOMERS) -> str:
    """Highest vs lowest first channel/category at a month both have reached; or why there is none."""
    if by is None or curve is None:
        return t("ltv.groups.none", lang)
    if curve["group"].nunique(dropna=False) < 2:
        return t("ltv.groups.too_few", lang, min=fmt_int(min_customers))
    months = comparable_month(curve)
    if months is None:
        return t("ltv.groups.too_new", lang)
    at = curve[curve["months_since"] == months].sort_values("revenue_per_customer", ascending=False)
    best, worst = at.iloc[0], at.iloc[-1]
    low = worst["revenue_per_customer"]
    return t("ltv.groups.takeaway", lang, month=_month_k(months, lang), by=t(f"ltv.label.{by}", lang),
             best=group_label(best["group"], by, "month", lang),
             best_value=fmt_money(best["revenue_per_customer"], currency, lang, prose=True),
             worst=group_label(worst["group"], by, "month", lang), worst_value=fmt_money(low, currency, lang, prose=True),
             ratio=fmt_num(best["revenue_per_customer"] / low if low else math.nan, 1))


def annual_takeaway(annual: pd.DataFrame, period: str, start, end, complete: bool, lang: str, currency: str,
                    observed_from=None) -> str:
    """年間LTV overall, the cohort with the highest value among those whose first purchases are
    observable (acquired on or after observed_from: earlier "cohorts" hold accounts older than the
    data), and a note when the data is shorter than a year."""
    total = annual[annual["cohort"].isna()].iloc[0]
    if not total["customers"]:
        return t("ltv.annual.empty", lang)
    sentences = [t("ltv.annual.takeaway", lang, start=fmt_date(start, lang),
                   end=fmt_date(pd.Timestamp(end) - pd.Timedelta(days=1), lang),
                   value=fmt_money(total["annual_ltv"], currency, lang, prose=True), revenue=fmt_money(total["revenue"], currency, lang, prose=True),
                   customers=fmt_int(total["customers"]))]
    cohorts = annual[annual["cohort"].notna()]
    censored = cohorts["cohort"] < pd.Timestamp(observed_from) if observed_from is not None else cohorts["cohort"].isna()
    observable = cohorts[~censored]
    if len(observable) >= 2:
        best = observable.sort_values("annual_ltv", ascending=False, kind="stable").iloc[0]
        sentences.append(t("ltv.annual.best_cohort", lang, cohort=cohort_label(best["cohort"], period, lang),
                           value=fmt_money(best["annual_ltv"], currency, lang, prose=True)))
    if censored.any():
        sentences.append(t("ltv.annual.censored_cohorts", lang, observed_from=fmt_date(observed_from, lang)))
    if not complete:
        sentences.append(t("ltv.annual.short_history", lang))
    return _join(lang, *sentences)


def basis_label(margin: float | None, lang: str) -> str:
    """'粗利' or '売上' (revenue-based when no gross margin is set)."""
    return t("ltv.label.basis_revenue" if margin is None else "ltv.label.basis_gross_profit", lang)


def formula_takeaway(result: FormulaLTV, lang: str, currency: str) -> str:
    """LTV from its three factors, then the cost view (ratio, CPO ceiling, payback) when a CPA is set."""
    if not math.isfinite(result.ltv):
        return t("ltv.formula.not_enough", lang)
    sentences = [t("ltv.formula.takeaway", lang, aov=fmt_money(result.aov, currency, lang, prose=True),
                   frequency=fmt_num(result.frequency, 2), years=fmt_num(result.retention_years, 1),
                   ltv=fmt_money(result.ltv, currency, lang, prose=True))]
    margin_note = [] if result.has_margin else [t("ltv.formula.no_margin", lang)]
    if result.cpa is None:
        return _join(lang, *sentences, t("ltv.formula.no_cpa", lang), *margin_note)
    if not result.has_margin:  # revenue is not profit: no pay-back verdict, no CPO ceiling
        return _join(lang, *sentences, t("ltv.formula.cost_revenue", lang, cost=fmt_money(result.lifetime_cost, currency, lang, prose=True),
                                         ratio=fmt_num(result.ratio, 2)))
    key = "ltv.formula.cost_ok" if result.ratio is not None and result.ratio >= 1 else "ltv.formula.cost_short"
    sentences.append(t(key, lang, basis=basis_label(result.gross_margin, lang),
                       cost=fmt_money(result.lifetime_cost, currency, lang, prose=True), ratio=fmt_num(result.ratio, 2),
                       ceiling=fmt_money(result.cpo_ceiling, currency, lang, prose=True)))
    return _join(lang, *sentences, payback_text(result, lang))


def payback_text(result: FormulaLTV, lang: str) -> str:
    """Payback sentence: observed, estimated, or never at the current margin."""
    if result.payback_months is None:
        return t("ltv.formula.payback_never", lang)
    key = "ltv.formula.payback_estimated" if result.payback_estimated else "ltv.formula.payback"
    return t(key, lang, months=fmt_num(result.payback_months, 1))


def lever_name(lever: str, kind: str, step: float, lang: str) -> str:
    """'客単価 +5%', '継続率 +5pt', 'CPA -10%' ..."""
    unit = t("ltv.levers.points", lang) if kind == "points" else "%"
    return f"{t(f'ltv.levers.{lever}', lang)} {step * 100:+.0f}{unit}"


def levers_takeaway(levers: pd.DataFrame, lang: str) -> str:
    """The lever that moves LTV most, retention +5% beside AOV +5% (the same relative step), and
    that every lever moves by the same relative step."""
    moving = levers[levers["ltv_change"].abs() > 0]
    if moving.empty:
        return t("ltv.levers.none", lang)
    best = moving.sort_values("ltv_change", ascending=False, kind="stable").iloc[0]
    sentences = [t("ltv.levers.takeaway", lang, lever=lever_name(best["lever"], best["kind"], best["step"], lang),
                   change=fmt_pct(best["ltv_change"]))]
    change = levers.set_index(["lever", "step"])["ltv_change"]
    if ("retention", 0.05) in change.index and ("aov", 0.05) in change.index:
        retention, aov = change[("retention", 0.05)], change[("aov", 0.05)]
        key = ("ltv.levers.retention_vs_aov" if retention >= aov else
               "ltv.levers.retention_vs_aov_less" if retention > 1e-12 else "ltv.levers.retention_vs_aov_cap")
        sentences.append(t(key, lang, retention=fmt_pct(retention), aov=fmt_pct(aov)))
    return _join(lang, *sentences, t("ltv.levers.same_step", lang))


def too_little_data(repeat_buyers: int, minimum: int, lang: str) -> str:
    """Why the predictive sections are empty."""
    return t("ltv.predictive.too_little_data", lang, n=fmt_int(repeat_buyers), min=fmt_int(minimum))


GATE_ONLY = frozenset({"identified", "identified_calibration", "season"})


def gate_text(failures: list[Check], lang: str) -> list[str]:
    """Why the models failed the validity gate, in plain words: a lead, then one sentence per
    failed check (empty when the gate passed)."""
    if not failures:
        return []
    out = [t("ltv.predictive.gate_failed", lang)]
    for check in failures:
        v = check.values
        model = model_label(v.get("model", "bgnbd"), lang)
        key = f"ltv.predictive.gate_{check.key}"
        if check.key in ("identified", "identified_calibration"):
            params = [t("ltv.predictive.gate_param", lang, param=p, estimate=_significant(_estimate(v, p)))
                      for p in v.get("at_bound", [])]
            params += [t("ltv.predictive.gate_param_se", lang, param=p,
                         rel=fmt_pct(rel, 0) if math.isfinite(rel) else "—")
                       for p, rel in v.get("relative_se", {}).items() if p not in v.get("at_bound", [])]
            out.append(t(key, lang, model=model, params=t("ltv.label.list_sep", lang).join(params)))
        elif check.key == "holdout":
            out.append(t(key, lang, model=model, error=signed_pct(v["error"]), limit=fmt_pct(v["limit"], 0)))
        elif check.key == "season":
            out.append(t(key, lang, order_share=fmt_pct(v["order_share"]), day_share=fmt_pct(v["day_share"]),
                         ratio=fmt_num(v["ratio"], 2), low=fmt_num(1 / v["limit"], 2), limit=fmt_num(v["limit"], 2)))
        else:
            out.append(t(key, lang, model=model))
    return out


def _significant(value: float) -> str:
    """A parameter estimate to three significant digits (0.0031, 4.5e-06, 16,118)."""
    if not math.isfinite(value):
        return "—"
    return fmt_num(value, 0) if abs(value) >= 100 else f"{value:.2g}" if abs(value) < 0.01 else f"{value:.3g}"


def _estimate(values: dict, param: str) -> float:
    """The estimate of a parameter named in a check's values (kept under 'params')."""
    return float(values.get("params", {}).get(param, math.nan))


def validation_lead(calibration_end, as_of, lang: str, sample: tuple[int, int] | None = None) -> str:
    """What the validation does, the calibration and holdout periods (last days inclusive) and,
    when the models read a sample (sample = (sampled, all customers)), how its figures are scaled."""
    def day_before(day) -> str:
        return fmt_date(pd.Timestamp(day) - pd.Timedelta(days=1), lang)

    sentences = [t("ltv.tracking.lead", lang),
                 t("ltv.tracking.split", lang, calibration_end=day_before(calibration_end),
                   holdout_start=fmt_date(calibration_end, lang), as_of=day_before(as_of))]
    if sample is not None:
        sentences.append(t("ltv.tracking.sample", lang, sample=fmt_int(sample[0]), customers=fmt_int(sample[1])))
    return _join(lang, *sentences)


def tracking_takeaway(errors: dict[str, dict[str, float]], calibration_end, as_of, lang: str) -> str:
    """Holdout purchases: actual vs BG/NBD (and Pareto/NBD) prediction, with the error."""
    bg = errors["bgnbd"]
    sentences = [t("ltv.tracking.takeaway", lang, start=fmt_date(calibration_end, lang),
                   end=fmt_date(pd.Timestamp(as_of) - pd.Timedelta(days=1), lang), actual=fmt_int(bg["actual"]),
                   predicted=fmt_num(bg["predicted"], 0), error=signed_pct(bg["error"]))]
    if "pareto_nbd" in errors:
        second = errors["pareto_nbd"]
        # the same whole number of purchases (Online Retail: both 3,407, both fitted as if no
        # customer dropped out): two lines on one another check nothing
        same = round(second["predicted"]) == round(bg["predicted"])
        sentences.append(t(f"ltv.tracking.second_model{'_same' if same else ''}", lang,
                           predicted=fmt_num(second["predicted"], 0), error=signed_pct(second["error"])))
    return _join(lang, *sentences)


def frequency_takeaway(table: pd.DataFrame, lang: str) -> str:
    """The frequency bucket where BG/NBD's holdout prediction is furthest from the actual mean."""
    row = table.loc[(table["bgnbd"] - table["actual"]).abs().idxmax()]
    bucket = str(row["bucket"])  # "3", or "7+" for the last, open bucket
    plus = bucket.endswith("+")
    bucket = t(f"ltv.frequency.bucket{'_plus' if plus else ''}", lang, n=bucket.removesuffix("+"))
    return t("ltv.frequency.takeaway", lang, bucket=bucket, customers=fmt_int(row["customers"]),
             actual=fmt_num(row["actual"], 2), predicted=fmt_num(row["bgnbd"], 2))


def params_takeaway(fits: dict, correlation: float, lang: str, currency: str, time_unit_days: int = 7) -> str:
    """What the parameters mean in plain words (mean purchase rate r/alpha per year, mean drop-out
    probability a/(a+b)) and the expected spend per purchase; the checks are params_checks."""
    bg = fits["bgnbd"]
    per_year = bg.r / bg.alpha * 365.25 / time_unit_days
    sentences = [t("ltv.params.takeaway", lang, rate=fmt_num(per_year, 1), drop=fmt_pct(bg.a / (bg.a + bg.b)))]
    gg = fits.get("gamma_gamma")
    if gg is not None:
        sentences.append(t("ltv.params.spend", lang, spend=fmt_money(gg.population_mean_spend, currency, lang,
                                                                     prose=True)))
    return _join(lang, *sentences)


def params_checks(fits: dict, correlation: float, lang: str) -> str:
    """The Gamma-Gamma assumptions stated with their values, for the consultant ('' without the model)."""
    gg = fits.get("gamma_gamma")
    if gg is None:
        return ""
    corr = round(correlation, 2) + 0.0  # no "-0.00"
    return t("ltv.params.checks", lang, q=fmt_num(gg.q, 2), corr=fmt_num(corr, 2))


def warnings(checks: list[Check], lang: str, *, only: set[str] | None = None,
             skip: set[str] | None = None) -> list[str]:
    """One warning sentence per failed check (the model should not be trusted as it stands);
    only / skip select checks by key (holdout, spend_q, spend_correlation, converged)."""
    out = []
    for check in checks:
        if check.ok or (only is not None and check.key not in only) or (skip and check.key in skip):
            continue
        if check.key in GATE_ONLY:  # worded by gate_text, not as a warning
            continue
        values = dict(check.values)
        if "model" in values:
            values["model"] = model_label(values["model"], lang)
        if "error" in values:
            values["error"] = signed_pct(values["error"])
            values["limit"] = fmt_pct(values["limit"], 0)
        if "correlation" in values:
            values["correlation"] = fmt_num(values["correlation"], 2)
            values["limit"] = fmt_num(values["limit"], 1)
        if "q" in values:
            values["q"] = fmt_num(values["q"], 2)
        out.append(t(f"ltv.warning.{check.key}", lang, **values))
    return out


def segments_takeaway(table: pd.DataFrame, by: str, horizon_months: int, discount_rate: float, lang: str,
                      currency: str, period: str = "quarter") -> str:
    """Total expected CLV over the horizon, the segment with the largest share and the highest per customer."""
    if table.empty:
        return t("ltv.segments.empty", lang)
    top = table.sort_values("clv_total", ascending=False, kind="stable").iloc[0]
    best = table.sort_values("clv", ascending=False, kind="stable").iloc[0]
    return t("ltv.segments.takeaway", lang, months=fmt_int(horizon_months), rate=fmt_pct(discount_rate, 0),
             total=fmt_money(table["clv_total"].sum(), currency, lang, prose=True), top=group_label(top["segment"], by, period, lang),
             share=fmt_pct(top["clv_share"]), best=group_label(best["segment"], by, period, lang),
             best_value=fmt_money(best["clv"], currency, lang, prose=True))
