"""Chapter-level text of the diagnosis: the lead paragraph and the notes on how far the data reaches."""

from __future__ import annotations

import datetime as dt

from ..i18n import t
from ..style import fmt_date, fmt_int
from ..store.purchases import Purchases, analysis_periods


def chapter_lead(lang: str) -> str:
    """What the chapter shows, in one paragraph."""
    return t("diagnosis.lead", lang)


def history_note(purchases: Purchases, lang: str, months: int = 12, lapse_days: int = 365) -> str | None:
    # with the coverage model (purchases.observed_from) the note says who is left out instead
    """A caution when the data starts less than a year before the analysis period (or less than
    lapse_days before the last year): customers from before the data count as new and early
    lapses cannot be seen. None when the history is long enough."""
    if purchases.data_start is None:
        return None
    current, _ = analysis_periods(purchases.as_of, months)
    short_before_period = purchases.data_start > current.start - dt.timedelta(days=365)
    short_for_lapses = purchases.data_start + dt.timedelta(days=int(lapse_days)) > current.start
    if not (short_before_period or short_for_lapses):
        return None
    if purchases.observed_from is not None and purchases.observed_from >= purchases.as_of:
        return t("diagnosis.note_history_short", lang, data_start=fmt_date(purchases.data_start, lang),
                 days=fmt_int((purchases.as_of - purchases.data_start).days), lapse_days=fmt_int(lapse_days))
    if purchases.observed_from is not None:
        return t("diagnosis.note_history_censored", lang, data_start=fmt_date(purchases.data_start, lang),
                 observed_from=fmt_date(purchases.observed_from, lang), lapse_days=fmt_int(lapse_days))
    return t("diagnosis.note_history", lang, data_start=fmt_date(purchases.data_start, lang),
             lapse_days=fmt_int(lapse_days))


def f2_definition(purchases: Purchases, lang: str) -> str:
    """How F2 conversion is counted (and that same-day orders are one purchase, when they are)."""
    text = t("diagnosis.f2.definition", lang)
    if purchases.merge_same_day:
        text += (" " if lang == "en" else "") + t("diagnosis.f2.same_day", lang)
    return text


def bucket_definition(lang: str, lapse_days: int = 365) -> str:
    """How the leaky-bucket flows are defined, with the lapse threshold."""
    return t("diagnosis.bucket.definition", lang, lapse_days=fmt_int(lapse_days))
