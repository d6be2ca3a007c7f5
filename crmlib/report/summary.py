"""The executive summary of the index page: the findings that matter most, from metrics.json.

A finding rule reads a few dotted keys of metrics.json (``diagnosis.f2_conversion.365.rate``) and
returns an Assessment (is it an alert, the values for its sentence) or None. Rules are kept in a
registry; a rule whose keys are missing (chapter not run, too little data) is skipped, so the
summary degrades to what the report holds.

Chapters add findings without editing this module: for every section of metrics.json the summary
imports ``crmlib.<section>.findings`` when it exists, and that module registers its rules with
``@finding_rule(...)``; the sentences are ``summary.<rule name>[_<variant>]`` in the catalogs.
Ranking: alerts (a threshold crossed) before observations, then the rule's priority.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..i18n import t
from ..style import fmt_int, fmt_money, fmt_num, fmt_pct
from .settings import ReportSettings


# Typed values: the rule says what a number is, the summary formats it with the report's
# single set of formatters (crmlib.style), in the report's currency.
class Money(float):
    """An amount in the report currency."""


class Pct(float):
    """A share (0.25 = 25.0%)."""


class Count(float):
    """A count of customers, orders, days ..."""


def format_value(value: Any, currency: str, lang: str) -> str:
    """One value of a finding, formatted like the chapters format it."""
    if isinstance(value, Money):
        return fmt_money(float(value), currency)
    if isinstance(value, Pct):
        return fmt_pct(float(value))
    if isinstance(value, Count):
        return fmt_int(float(value))
    return str(value)


class Metrics:
    """Read access to metrics.json by dotted key; missing, null or non-finite values are None."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def get(self, key: str) -> Any:
        """The value at 'a.b.c', or None when any part is missing or the number is NaN/inf."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        if isinstance(node, float) and not math.isfinite(node):
            return None
        return node

    def has(self, *keys: str) -> bool:
        """True when every key holds a value."""
        return all(self.get(key) is not None for key in keys)


@dataclass(frozen=True)
class Assessment:
    """A rule's verdict: whether it is an alert, the sentence variant and its named values."""

    alert: bool
    values: dict[str, Any]
    variant: str = ""


@dataclass(frozen=True)
class FindingRule:
    """A registered rule: where its section is in the report and how it reads metrics."""

    name: str
    chapter: str  # page stem, e.g. "01_diagnosis"
    anchor: str  # the section id on that page
    priority: int  # higher = more important among findings of the same kind
    needs: tuple[str, ...]  # dotted metrics keys; the rule is skipped when one is missing
    assess: Callable[[Metrics, ReportSettings], Assessment | None]
    message: str = ""  # catalog key of the sentence; default summary.<name>
    headline: str = ""  # the value shown big beside the sentence; default the first value

    def message_key(self, variant: str) -> str:
        """The catalog key of the sentence for one variant (key_variant, or key when none)."""
        base = self.message or f"summary.{self.name}"
        return f"{base}_{variant}" if variant else base


@dataclass(frozen=True)
class Finding:
    """One line of the executive summary, ready to show."""

    rule: str
    chapter: str
    anchor: str
    alert: bool
    priority: int
    text: str
    headline: str  # the finding's main number, formatted
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def href(self) -> str:
        """Link to the section in its chapter page."""
        return f"{self.chapter}.html#{self.anchor}"


FINDING_RULES: dict[str, FindingRule] = {}


def finding_rule(
    name: str, *, chapter: str, anchor: str, priority: int, needs: tuple[str, ...], message: str = "",
    headline: str = "",
) -> Callable[[Callable[[Metrics, ReportSettings], Assessment | None]], Callable]:
    """Register a finding rule (a decorator); its sentence is the catalog message `message`
    (default summary.<name>), with _<variant> appended when the assessment names a variant."""

    def register(function: Callable[[Metrics, ReportSettings], Assessment | None]) -> Callable:
        FINDING_RULES[name] = FindingRule(
            name, chapter, anchor, priority, tuple(needs), function, message, headline
        )
        return function

    return register


def load_chapter_rules(sections: list[str]) -> None:
    """Import crmlib.<section>.findings for each metrics section that has one (registers rules)."""
    for section in sections:
        if not section.isidentifier():
            continue
        module = f"crmlib.{section}.findings"
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:  # no crmlib.<section> package
            continue
        importlib.import_module(module)


# ---- rules for the chapters that exist (diagnosis, segments, ltv) -------------------------

def _f2_window(m: Metrics) -> str | None:
    """The F2 window to report: 365 days when measured, else the longest one with eligible customers."""
    windows = m.get("diagnosis.f2_conversion")
    if not isinstance(windows, Mapping):
        return None
    usable = [w for w, v in windows.items()
              if isinstance(v, Mapping) and v.get("eligible") and v.get("rate") is not None]
    if not usable:
        return None
    return "365" if "365" in usable else max(usable, key=int)


@finding_rule("f2_conversion", chapter="01_diagnosis", anchor="f2", priority=90,
              needs=("diagnosis.f2_conversion",), headline="rate")
def _f2_conversion(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """F2 conversion against the benchmark; the share who never come back is the other side."""
    window = _f2_window(m)
    if window is None:
        return None
    rate = m.get(f"diagnosis.f2_conversion.{window}.rate")
    low = rate < settings.f2_benchmark
    return Assessment(low, {
        "days": window, "rate": Pct(rate), "never": Pct(1 - rate),
        "eligible": Count(m.get(f"diagnosis.f2_conversion.{window}.eligible")),
        "converted": Count(m.get(f"diagnosis.f2_conversion.{window}.converted")),
        "benchmark": Pct(settings.f2_benchmark),
    }, "low" if low else "ok")


@finding_rule("leaky_bucket", chapter="01_diagnosis", anchor="bucket", priority=85,
              needs=("diagnosis.leaky_bucket.lost", "diagnosis.leaky_bucket.lost_revenue",
                     "diagnosis.leaky_bucket.new", "diagnosis.leaky_bucket.new_revenue"), headline="lost_revenue")
def _leaky_bucket(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """The revenue that left with lapsed customers in the last period, against what new ones brought."""
    b = "diagnosis.leaky_bucket."
    if m.get(b + "warmup") or not m.get(b + "lost"):
        return None
    lost, new = m.get(b + "lost_revenue"), m.get(b + "new_revenue")
    leaking = lost > new
    return Assessment(leaking, {
        "lost": Count(m.get(b + "lost")), "lost_revenue": Money(lost), "new": Count(m.get(b + "new")),
        "new_revenue": Money(new), "lapse_days": m.get(b + "lapse_days") or 365,
        "period": m.get(b + "period") or "quarter",
    }, "leaking" if leaking else "covered")


@finding_rule("repeat_revenue", chapter="01_diagnosis", anchor="kpis", priority=80,
              needs=("diagnosis.kpis.current.existing_revenue_share",), headline="share")
def _repeat_revenue(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """Share of the period's revenue from existing (repeat) customers; under half means the shop
    still lives on acquisition."""
    share = m.get("diagnosis.kpis.current.existing_revenue_share")
    values: dict[str, Any] = {"share": Pct(share), "months": m.get("diagnosis.period_months") or 12}
    previous = m.get("diagnosis.kpis.previous.existing_revenue_share")
    variant = ""
    if previous is not None and m.get("diagnosis.kpis.previous.covered"):
        values["previous"] = Pct(previous)
        variant = "trend"
    return Assessment(share < 0.5, values, variant)


@finding_rule("revenue_trend", chapter="01_diagnosis", anchor="kpis", priority=75,
              needs=("diagnosis.kpis.current.revenue", "diagnosis.kpis.previous.revenue"), headline="revenue")
def _revenue_trend(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """Revenue of the period against the previous one; a fall is an alert."""
    if not (m.get("diagnosis.kpis.current.covered") and m.get("diagnosis.kpis.previous.covered")):
        return None
    current, previous = m.get("diagnosis.kpis.current.revenue"), m.get("diagnosis.kpis.previous.revenue")
    if not previous:
        return None
    change = current / previous - 1
    return Assessment(change < 0, {
        "revenue": Money(current), "previous": Money(previous), "change": Pct(abs(change)),
        "months": m.get("diagnosis.period_months") or 12,
    }, "down" if change < 0 else "up")


@finding_rule("retention_value", chapter="01_diagnosis", anchor="retention-value", priority=70,
              needs=("diagnosis.retention_value.gain_next_period", "diagnosis.retention_value.uplift_points"),
              headline="gain")
def _retention_value(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """What a few more points of retention are worth in the next period (the 5:25 check)."""
    if not m.get("diagnosis.retention_value.covered"):
        return None
    values = {
        "points": f"{m.get('diagnosis.retention_value.uplift_points'):g}",
        "gain": Money(m.get("diagnosis.retention_value.gain_next_period")),
        "rate": Pct(m.get("diagnosis.retention_value.retention_rate") or 0),
    }
    share = m.get("diagnosis.retention_value.gain_share")
    if share is None:
        return Assessment(False, values)
    values["share"] = Pct(share)
    return Assessment(False, values, "share")


@finding_rule("top_decile", chapter="01_diagnosis", anchor="concentration", priority=60,
              needs=("diagnosis.concentration.top10_share",), headline="share")
def _top_decile(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """Revenue share of the top 10% of customers; over 50% makes the shop fragile."""
    share = m.get("diagnosis.concentration.top10_share")
    values: dict[str, Any] = {"share": Pct(share)}
    top20 = m.get("diagnosis.concentration.top20_share")
    if top20 is not None:
        values["top20"] = Pct(top20)
        return Assessment(share > 0.5, values, "top20")
    return Assessment(share > 0.5, values)


CPM_LAPSED = ("first_lapsed", "early_lapsed", "steady_lapsed", "trend_lapsed", "top_lapsed")
CPM_TOP = ("top", "top_lapsed")


@finding_rule("dormant", chapter="02_segments", anchor="cpm", priority=65, needs=("segments.cpm",), headline="share")
def _dormant(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """休眠顧客: share of customers in the lapsed CPM cells and the share of revenue they once brought."""
    cells = m.get("segments.cpm")
    if not isinstance(cells, Mapping) or not all(c in cells for c in CPM_LAPSED):
        return None
    customers = sum(cells[c]["customers"] for c in CPM_LAPSED)
    share = sum(cells[c]["customer_share"] for c in CPM_LAPSED)
    revenue = sum(cells[c]["revenue_share"] for c in CPM_LAPSED)
    top_lapsed = cells["top_lapsed"]["customers"]
    return Assessment(share > 0.5, {
        "customers": Count(customers), "share": Pct(share), "revenue_share": Pct(revenue),
        "top_lapsed": Count(top_lapsed),
    })


SCORING_MODELS = ("bgnbd", "gamma_gamma")  # the models behind ltv.clv


@finding_rule("predicted_ltv", chapter="03_ltv", anchor="segments-cohort", priority=55,
              needs=("ltv.clv.mean", "ltv.clv.total", "ltv.clv.horizon_months"), headline="mean")
def _predicted_ltv(m: Metrics, settings: ReportSettings) -> Assessment | None:
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


@finding_rule("annual_ltv", chapter="03_ltv", anchor="formula", priority=50,
              needs=("ltv.annual_ltv", "ltv.formula.ltv"), headline="annual")
def _annual_ltv(m: Metrics, settings: ReportSettings) -> Assessment | None:
    """年間LTV and the formula LTV (AOV x frequency x retention years), the ceiling for acquisition cost."""
    return Assessment(False, {
        "annual": Money(m.get("ltv.annual_ltv")), "ltv": Money(m.get("ltv.formula.ltv")),
        "years": fmt_num(m.get("ltv.formula.retention_years") or 0, 1),
        "cpo": Money(m.get("ltv.formula.cpo_ceiling") or m.get("ltv.formula.ltv")),
    })


# ---- the summary ------------------------------------------------------------------------

def executive_summary(
    metrics: Mapping[str, Any], settings: ReportSettings, *, lang: str, currency: str,
    chapters: list[str] | None = None,
) -> list[Finding]:
    """The findings to show, most important first: alerts, then by priority; at most
    settings.max_findings. Rules for chapters not in the report, or without their metrics, are skipped."""
    load_chapter_rules(list(metrics))
    view = Metrics(metrics)
    found: list[Finding] = []
    for rule in FINDING_RULES.values():
        if chapters is not None and rule.chapter not in chapters:
            continue
        if not view.has(*rule.needs):
            continue
        assessment = rule.assess(view, settings)
        if assessment is None:
            continue
        key = rule.message_key(assessment.variant)
        shown = {k: format_value(v, currency, lang) for k, v in assessment.values.items()}
        if "period" in shown:
            shown["period"] = t(f"summary.period_{shown['period']}", lang)
        headline = rule.headline if rule.headline in shown else next(iter(shown), "")
        found.append(Finding(
            rule=rule.name, chapter=rule.chapter, anchor=rule.anchor, alert=assessment.alert,
            priority=rule.priority, text=t(key, lang, **shown), headline=shown.get(headline, ""),
            values=dict(assessment.values),
        ))
    found.sort(key=lambda f: (not f.alert, -f.priority, f.rule))
    return found[: settings.max_findings]
