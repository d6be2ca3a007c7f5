"""The executive summary of the index page: the findings that matter most, from metrics.json.

The rules live with their chapters (each chapter's ``findings`` module, named in crmlib.registry,
registers them through crmlib.findings); this engine loads the rules of the chapters in the
report, asks each for its assessment, words it from the catalogs and ranks the findings: alerts
(a threshold crossed) before observations, then the rule's priority. It knows no chapter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .. import registry
from ..findings import (  # noqa: F401 (re-exported: the plug-in API lives in crmlib.findings)
    FINDING_RULES, Assessment, Count, Finding, FindingRule, Metrics, Money, Pct, Words, finding_rule,
)
from ..i18n import t
from ..style import fmt_date, fmt_int, fmt_money, fmt_pct
from .settings import ReportSettings


def format_value(value: Any, currency: str, lang: str) -> str:
    """One value of a finding, formatted like the chapters format it (money as prose writes it:
    1,707万円, ¥17.1M)."""
    if isinstance(value, Money):
        return fmt_money(float(value), currency, lang, prose=True)
    if isinstance(value, Pct):
        return fmt_pct(float(value))
    if isinstance(value, Count):
        return fmt_int(float(value))
    if isinstance(value, Words):
        return t("common.list_separator", lang).join(
            item if isinstance(item, str) else t(item[0], lang, **item[1]) for item in value)
    return str(value)


def _period(values: dict[str, Any], lang: str) -> str:
    """'the last quarter', with its dates when the rule gives them (period_end is exclusive):
    the last *full* quarter of a report as of 10 December is July to September."""
    kind = values["period"]
    start, end = values.get("period_start"), values.get("period_end")
    if not start or not end:
        return t(f"summary.period_{kind}", lang)
    first = dt.date.fromisoformat(str(start)[:10])
    last = dt.date.fromisoformat(str(end)[:10]) - dt.timedelta(days=1)
    return t(f"summary.period_{kind}_dates", lang, start=fmt_date(first, lang), end=fmt_date(last, lang))


def _substantive(assessment: Assessment, rule: FindingRule) -> bool:
    """False when the finding would rest on nobody: a value the rule names as nonzero, or its
    headline count or amount, is zero or less."""
    names = set(rule.nonzero)
    if rule.headline:
        names.add(rule.headline)
    for name in names:
        value = assessment.values.get(name)
        if isinstance(value, (Count, Money)) and float(value) <= 0:
            return False
    return True


# ---- the summary ------------------------------------------------------------------------

def executive_summary(
    metrics: Mapping[str, Any], settings: ReportSettings, *, lang: str, currency: str,
    chapters: list[str] | None = None,
) -> list[Finding]:
    """The findings to show, most important first: alerts, then by priority; at most
    settings.max_findings. Rules for chapters not in the report, or without their metrics, are skipped."""
    registry.load_findings(chapters)
    view = Metrics(metrics)
    found: list[Finding] = []
    for rule in FINDING_RULES.values():
        if chapters is not None and rule.chapter not in chapters:
            continue
        if not view.has(*rule.needs) or not rule.supported(view):
            continue
        assessment = rule.assess(view, settings)
        if assessment is None or not _substantive(assessment, rule):
            continue
        key = rule.message_key(assessment.variant)
        shown = {k: format_value(v, currency, lang) for k, v in assessment.values.items()}
        if "period" in shown:
            shown["period"] = _period(assessment.values, lang)
        headline = rule.headline if rule.headline in shown else next(iter(shown), "")
        found.append(Finding(
            rule=rule.name, chapter=rule.chapter, anchor=rule.anchor, alert=assessment.alert,
            priority=rule.priority, text=t(key, lang, **shown), headline=shown.get(headline, ""),
            values=dict(assessment.values),
        ))
    found.sort(key=lambda f: (not f.alert, -f.priority, f.rule))
    return found[: settings.max_findings]
