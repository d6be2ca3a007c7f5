"""The diagnosis chapter's findings for the executive summary (registered on import): F2
conversion, the leaky bucket, existing customers' share, the revenue trend, the 5:25 check and
the top decile."""

from __future__ import annotations

from typing import Any

from ..findings import Assessment, Count, Metrics, Money, Pct, SummarySettings, finding_rule, observable, sample

BENCHMARK_DAYS = 365  # the window report.f2_benchmark is stated for
FLOOR = "diagnosis.min_customers"  # the chapter's sample floor (diagnosis.min_customers)


# F2 rests on first-time customers whose first purchase is observable (not left-censored:
# diagnosis.observed_from recorded) and on at least min_customers of them in the quoted window.
@finding_rule("f2_conversion", chapter="01_diagnosis", anchor="f2", priority=90,
              needs=("diagnosis.f2_headline.rate",), headline="rate",
              requires=(observable("diagnosis.observed_from"), sample("diagnosis.f2_headline.eligible", FLOOR)))
def _f2_conversion(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """F2 conversion against the benchmark; the share who never come back is the other side."""
    h = "diagnosis.f2_headline."
    rate = m.get(h + "rate")
    days = m.get(h + "window_days")
    # the benchmark counts 365 days: a shorter window at or above it is above it at 365 days too,
    # but one below it is no finding (the customers may still come back within the year)
    short = days is not None and int(days) < BENCHMARK_DAYS
    reached = rate >= settings.f2_benchmark
    variant = ("ok" if reached else "low") if not short else ("ok_short" if reached else "short")
    return Assessment(variant == "low", {
        "days": days, "rate": Pct(rate), "never": Pct(1 - rate),
        "eligible": Count(m.get(h + "eligible")), "converted": Count(m.get(h + "converted")),
        "benchmark": Pct(settings.f2_benchmark),
    }, variant)


@finding_rule("leaky_bucket", chapter="01_diagnosis", anchor="bucket", priority=85,
              needs=("diagnosis.leaky_bucket.lost", "diagnosis.leaky_bucket.lost_revenue",
                     "diagnosis.leaky_bucket.new", "diagnosis.leaky_bucket.new_revenue",
                     "diagnosis.leaky_bucket.reactivated", "diagnosis.leaky_bucket.active_end"),
              headline="lost_revenue",
              requires=(sample("diagnosis.leaky_bucket.active_start", FLOOR),), nonzero=("lost",))
def _leaky_bucket(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """The customers who lapsed in the last full period against those who came in (new and back):
    an alert when the active base shrank. The lapsed customers' spend of their last year and the
    new customers' spend in the period are stated, not weighed: a year's spend against a quarter's
    said "lapses cancel out acquisition" of Online Retail's quarter in which the base grew 6%."""
    b = "diagnosis.leaky_bucket."
    if m.get(b + "warmup") or not m.get(b + "lost"):
        return None
    lost, came = m.get(b + "lost"), m.get(b + "new") + m.get(b + "reactivated")
    shrinking = lost > came
    # no new customers at all (a closed customer base, or acquisition stopped): the sentence says
    # that instead of comparing with acquisition
    variant = "no_new" if not m.get(b + "new") else ("leaking" if shrinking else "covered")
    return Assessment(shrinking, {
        "lost": Count(lost), "lost_revenue": Money(m.get(b + "lost_revenue")), "new": Count(m.get(b + "new")),
        "new_revenue": Money(m.get(b + "new_revenue")), "reactivated": Count(m.get(b + "reactivated")),
        "active_start": Count(m.get(b + "active_start")), "active_end": Count(m.get(b + "active_end")),
        "lapse_days": m.get(b + "lapse_days"), "period": m.get(b + "period") or "quarter",
        "period_start": m.get(b + "period_start"), "period_end": m.get(b + "period_end"),
    }, variant)


@finding_rule("repeat_revenue", chapter="01_diagnosis", anchor="kpis", priority=80,
              needs=("diagnosis.kpis.current.existing_revenue_share",), headline="share",
              requires=(observable("diagnosis.kpis.current.split_observable"),
                        sample("diagnosis.kpis.current.customers", FLOOR)))
def _repeat_revenue(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """Share of the period's revenue from existing (repeat) customers; under half means the shop
    still lives on acquisition."""
    share = m.get("diagnosis.kpis.current.existing_revenue_share")
    values: dict[str, Any] = {"share": Pct(share), "months": m.get("diagnosis.period_months") or 12}
    previous = m.get("diagnosis.kpis.previous.existing_revenue_share")
    variant = ""
    if previous is not None and m.get("diagnosis.kpis.previous.covered") \
            and m.get("diagnosis.kpis.previous.split_observable"):
        values["previous"] = Pct(previous)
        variant = "trend"
    return Assessment(share < 0.5, values, variant)


@finding_rule("revenue_trend", chapter="01_diagnosis", anchor="kpis", priority=75,
              needs=("diagnosis.kpis.current.revenue", "diagnosis.kpis.previous.revenue"), headline="revenue",
              requires=(observable("diagnosis.kpis.current.covered"), observable("diagnosis.kpis.previous.covered")))
def _revenue_trend(m: Metrics, settings: SummarySettings) -> Assessment | None:
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
              headline="gain", requires=(observable("diagnosis.retention_value.covered"),
                                         sample("diagnosis.retention_value.previous_customers", FLOOR)))
def _retention_value(m: Metrics, settings: SummarySettings) -> Assessment | None:
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
              needs=("diagnosis.concentration.top10_share",), headline="share",
              requires=(sample("diagnosis.kpis.current.customers", FLOOR),))
def _top_decile(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """Revenue share of the top 10% of customers; over 50% makes the shop fragile."""
    share = m.get("diagnosis.concentration.top10_share")
    values: dict[str, Any] = {"share": Pct(share)}
    top20 = m.get("diagnosis.concentration.top20_share")
    if top20 is not None:
        values["top20"] = Pct(top20)
        return Assessment(share > 0.5, values, "top20")
    return Assessment(share > 0.5, values)
