"""The data check chapter: counts, monthly coverage and ledger reading of the canonical orders.

Queries run in DuckDB straight on orders.parquet through crmlib.orders (the shared as-of cut:
orders before as_of), so only aggregates reach pandas. The takeaway sentences are computed here,
not in the notebook, so they can be tested.
"""

from __future__ import annotations

from pydantic import Field

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from .findings import Assessment, Metrics, Money, Pct, SummarySettings, finding_rule, observable
from .i18n import t
from .ledger import Ledger
from .metrics import MetricsModel, Num
from .numbers import ratio
from .orders import as_timestamp, orders_sql, query
from .screen import FILE_KEY
from .store.coverage import yaml_lapse_days
from .style import fmt_date, fmt_int, fmt_money, fmt_month, fmt_num, fmt_pct
from .wording import times_text

COUNTS_SQL = """
SELECT count(*)                    AS orders,
       count(DISTINCT customer_id) AS customers,
       coalesce(sum(amount), 0)    AS revenue,
       min(ordered_at)             AS first_order,
       max(ordered_at)             AS last_order
FROM ({src})
"""

# Every calendar month from the first order's month to {last_month}, including empty months.
COVERAGE_SQL = """
WITH agg AS (
    SELECT CAST(date_trunc('month', ordered_at) AS TIMESTAMP) AS month,
           count(*) AS orders,
           count(DISTINCT customer_id) AS customers,
           sum(amount) AS revenue
    FROM ({src})
    WHERE ordered_at IS NOT NULL
    GROUP BY 1
),
months AS (
    SELECT unnest(generate_series(min(month), {last_month}, INTERVAL 1 MONTH)) AS month FROM agg
)
SELECT m.month,
       coalesce(a.orders, 0)    AS orders,
       coalesce(a.customers, 0) AS customers,
       coalesce(a.revenue, 0.0) AS revenue
FROM months m LEFT JOIN agg a USING (month)
ORDER BY m.month
"""


def _as_of(value: dt.date | str | None) -> dt.date | str | None:
    """'' (the notebooks' 'no date' default) means no as-of cut."""
    return value or None


def basic_counts(orders_path: Path | str, as_of: dt.date | str | None = None) -> dict[str, Any]:
    """Orders, customers, revenue, first/last order, AOV and orders per customer before as_of."""
    sql = COUNTS_SQL.format(src=orders_sql(orders_path, _as_of(as_of)))
    orders, customers, revenue, first_order, last_order = query(sql).iloc[0].tolist()
    orders, customers, revenue = int(orders), int(customers), float(revenue)
    return {
        "orders": orders,
        "customers": customers,
        "revenue": revenue,
        "first_order": _datetime(first_order),
        "last_order": _datetime(last_order),
        "aov": revenue / orders if orders else None,
        "orders_per_customer": orders / customers if customers else None,
    }


def _datetime(value: Any) -> dt.datetime | None:
    """A pandas timestamp (or NaT) from a query result as a plain datetime (or None)."""
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def coverage_by_month(orders_path: Path | str, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """Orders, customers and revenue per calendar month before as_of; months without orders are
    0 rows, up to the month before as_of (so a export that stops early shows as trailing gaps)."""
    cut = _as_of(as_of)
    last_month = (
        "max(month)" if cut is None
        else f"CAST(date_trunc('month', {as_timestamp(cut)} - INTERVAL 1 DAY) AS TIMESTAMP)"
    )
    frame = query(COVERAGE_SQL.format(src=orders_sql(orders_path, cut), last_month=last_month))
    frame["month"] = pd.to_datetime(frame["month"])
    frame["orders"] = frame["orders"].astype("int64")
    frame["customers"] = frame["customers"].astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64")
    return frame.reset_index(drop=True)


def coverage_gaps(frame: pd.DataFrame) -> list[pd.Timestamp]:
    """The months of a coverage frame without a single order (export gaps or closed periods)."""
    return [pd.Timestamp(month) for month in frame.loc[frame["orders"] == 0, "month"]]


# --- tables and sentences shown in the report -------------------------------------------------


def ledger_table(ledger: Ledger, lang: str, currency: str) -> pd.DataFrame:
    """The ingest ledger as a display table: item, rows, amount (formatted, localised headers)."""
    frame = ledger.to_frame(lang)
    own = {"input": t("data_check.ledger.row_input", lang), "kept": t("data_check.ledger.row_kept", lang)}
    return pd.DataFrame(
        {
            t("data_check.ledger.col_item", lang): [own.get(r, l) for r, l in zip(frame["reason"], frame["label"])],
            t("data_check.ledger.col_rows", lang): [fmt_int(v) for v in frame["rows"]],
            t("data_check.ledger.col_amount", lang): [fmt_money(v, currency) for v in frame["amount"]],
        }
    )


def ledger_takeaway(ledger: Ledger, lang: str, currency: str) -> str:
    """One sentence: what was kept and excluded, and whether rows and amounts reconcile."""
    if not ledger.reconciles():
        return t(
            "data_check.ledger.mismatch",
            lang,
            row_diff=fmt_int(ledger.input_rows - ledger.kept_rows - ledger.excluded_rows),
            amount_diff=fmt_money(ledger.input_amount - ledger.kept_amount - ledger.excluded_amount, currency),
        )
    return t(
        "data_check.ledger.ok",
        lang,
        input_rows=fmt_int(ledger.input_rows),
        input_amount=fmt_money(ledger.input_amount, currency, lang, prose=True),
        kept_rows=fmt_int(ledger.kept_rows),
        kept_amount=fmt_money(ledger.kept_amount, currency, lang, prose=True),
        excluded_rows=fmt_int(ledger.excluded_rows),
        excluded_amount=fmt_money(ledger.excluded_amount, currency, lang, prose=True),
        reasons=fmt_int(sum(1 for line in ledger.excluded if line.rows)),
    )


def identity_takeaway(ledger: Ledger, lang: str) -> str:
    """One sentence on "one customer, one ID": guest lines merged into members and the guests
    counted by e-mail or phone; '' when the data has no guest orders."""
    ids = ledger.identity or {}
    by_email = int(ids.get("guest_rows_merged_into_member_by_email", 0))
    by_phone = int(ids.get("guest_rows_merged_into_member_by_phone", 0))
    guests = int(ids.get("guest_ids_from_email", 0)) + int(ids.get("guest_ids_from_phone", 0))
    if not (by_email or by_phone or guests):
        return ""
    return t("data_check.ledger.identity", lang, merged=fmt_int(by_email + by_phone), by_email=fmt_int(by_email),
             by_phone=fmt_int(by_phone), guests=fmt_int(guests))


def missing_field_notes(ledger: Ledger, lang: str) -> list[str]:
    """One warning per important field the file lacks (no status: cancellations stay in ...)."""
    return [t(f"data_check.missing.{name}", lang) for name in ledger.missing_fields]


def masked_takeaway(ledger: Ledger, lang: str) -> str:
    """One sentence on the e-mail and phone shapes the ingest masked in printed text columns and
    in the file name (crmlib/screen.py); '' when there were none."""
    masked = ledger.masked or {}
    if not masked:
        return ""
    sep = t("common.list_separator", lang)
    items = [t("data_check.ledger.masked_item", lang, column=t(f"data_check.ledger.masked_column.{column}", lang),
               rows=fmt_int(rows))
             for column, rows in masked.items() if column != FILE_KEY]
    if FILE_KEY in masked:
        items.append(t("data_check.ledger.masked_file", lang))
    return t("data_check.ledger.masked", lang, columns=sep.join(items))


def placeholder_takeaway(ledger: Ledger, lang: str) -> str:
    """One sentence on contacts never used to merge customers (placeholders such as noemail@ or
    000-0000-0000, and contacts shared by too many members); '' when there are none."""
    ids = ledger.identity or {}
    rows = int(ids.get("rows_with_placeholder_contact", 0))
    shared = int(ids.get("contacts_shared_by_too_many_members", 0))
    if not (rows or shared):
        return ""
    limit = (ledger.source.get("rules") or {}).get("max_members_per_contact", 5)
    return t("data_check.ledger.placeholders", lang, rows=fmt_int(rows), shared=fmt_int(shared), limit=fmt_int(limit))


def returns_figures(ledger: Ledger) -> dict[str, Any]:
    """Returns and refunds from the ledger: the amount returned (credit notes netted, sales of
    reversed orders, orders returned by status, refunds), its share of gross merchandise sales
    (net revenue + returned), and the credit notes reported without an earlier purchase."""
    r = ledger.returns or {}
    amount = (-Decimal(r.get("credit_notes_netted_amount", "0")) + Decimal(r.get("reversed_sales_amount", "0"))
              + Decimal(r.get("returned_status_amount", "0")) + Decimal(r.get("refunded_amount", "0")))
    gross = ledger.kept_amount + amount
    return {
        "returned_amount": float(amount),
        "return_rate": float(amount / gross) if gross > 0 else None,
        "credit_notes_netted": int(r.get("credit_notes_netted", 0)),
        "reversed_orders": int(r.get("reversed_orders", 0)),
        "returned_status_rows": int(r.get("returned_status_rows", 0)),
        "refunded_amount": float(Decimal(r.get("refunded_amount", "0"))),
        "unmatched": int(r.get("credit_notes_unmatched", 0)),
        "unmatched_amount": float(-Decimal(r.get("credit_notes_unmatched_amount", "0"))),
    }


def returns_takeaway(ledger: Ledger, lang: str, currency: str) -> str:
    """One sentence: how much was returned or refunded and netted, and its share of gross sales."""
    fig = returns_figures(ledger)
    if not fig["returned_amount"]:
        return t("data_check.returns.none", lang)
    return t("data_check.returns.netted", lang, amount=fmt_money(fig["returned_amount"], currency, lang, prose=True),
             rate=fmt_num(100 * (fig["return_rate"] or 0), 1), credits=fmt_int(fig["credit_notes_netted"]),
             reversed=fmt_int(fig["reversed_orders"]), returned=fmt_int(fig["returned_status_rows"]),
             refunded=fmt_money(fig["refunded_amount"], currency, lang, prose=True))


def returns_unmatched_note(ledger: Ledger, lang: str, currency: str) -> str:
    """One sentence on the credit notes without an earlier purchase (reported, not netted); ''
    when there are none."""
    fig = returns_figures(ledger)
    if not fig["unmatched"]:
        return ""
    return t("data_check.returns.unmatched", lang, n=fmt_int(fig["unmatched"]),
             amount=fmt_money(fig["unmatched_amount"], currency, lang, prose=True))


def top_returned_products(ledger: Ledger, lang: str, currency: str, n: int = 5) -> pd.DataFrame:
    """The products returned most by amount over the whole file (from the ledger: credit notes
    netted, sales of reversed or returned orders, refund shares) as a display table; empty when
    there are none."""
    top = (ledger.returns or {}).get("top_products", [])[:n]
    return pd.DataFrame(
        {
            t("data_check.returns.col_product", lang): [item for item, _, _ in top],
            t("data_check.returns.col_lines", lang): [fmt_int(k) for _, k, _ in top],
            t("data_check.returns.col_amount", lang): [fmt_money(float(a), currency) for _, _, a in top],
        }
    )


def coverage_takeaway(frame: pd.DataFrame, lang: str) -> str:
    """One sentence: the months covered and which months have no orders at all."""
    if frame.empty:
        return t("data_check.coverage.empty", lang)
    gaps = coverage_gaps(frame)
    values = {
        "first": fmt_month(frame["month"].iloc[0], lang),
        "last": fmt_month(frame["month"].iloc[-1], lang),
        "months": fmt_int(len(frame)),
    }
    if not gaps:
        return t("data_check.coverage.no_gaps", lang, **values)
    sep = t("common.list_separator", lang)
    months = sep.join(fmt_month(month, lang) for month in gaps)
    return t("data_check.coverage.gaps", lang, n=fmt_int(len(gaps)), gap_list=months, **values)


def period_days(counts: dict[str, Any]) -> int:
    """Calendar days from the first to the last order, both included."""
    first, last = counts["first_order"], counts["last_order"]
    if first is None or last is None:
        return 0
    return (_day(last) - _day(first)).days + 1


def _day(value: dt.date | dt.datetime) -> dt.date:
    """The calendar day of a date or datetime."""
    return value.date() if isinstance(value, dt.datetime) else value


def counts_table(counts: dict[str, Any], lang: str, currency: str) -> pd.DataFrame:
    """Headline figures as a two-column display table (metric, value)."""
    period = t(
        "data_check.counts.period_value",
        lang,
        first=fmt_date(counts["first_order"], lang),
        last=fmt_date(counts["last_order"], lang),
        days=fmt_int(period_days(counts)),
    )
    rows = [
        (t("metric.orders", lang), fmt_int(counts["orders"])),
        (t("metric.customers", lang), fmt_int(counts["customers"])),
        (t("metric.revenue", lang), fmt_money(counts["revenue"], currency)),
        (t("metric.aov", lang), fmt_money(counts["aov"], currency)),
        (t("metric.orders_per_customer", lang), times_text(counts["orders_per_customer"], lang)),
        (t("metric.period", lang), period),
    ]
    return pd.DataFrame(rows, columns=[t("common.col_metric", lang), t("common.col_value", lang)])


def counts_takeaway(counts: dict[str, Any], lang: str, currency: str) -> str:
    """One sentence summarising volume, customers, revenue, AOV and repeat frequency."""
    if not counts["orders"]:
        return t("data_check.coverage.empty", lang)
    return t(
        "data_check.counts.takeaway",
        lang,
        first=fmt_date(counts["first_order"], lang),
        last=fmt_date(counts["last_order"], lang),
        days=fmt_int(period_days(counts)),
        orders=fmt_int(counts["orders"]),
        customers=fmt_int(counts["customers"]),
        revenue=fmt_money(counts["revenue"], currency, lang, prose=True),
        aov=fmt_money(counts["aov"], currency, lang, prose=True),
        opc=fmt_num(counts["orders_per_customer"], 2),
    )


class ReturnFigures(MetricsModel):
    """Returns and refunds netted by the ingest (crmlib.returns)."""

    credit_notes_netted: int | None = None
    refunded_amount: Num = None
    return_rate: Num = None
    returned_amount: Num = None
    returned_status_rows: int | None = None
    reversed_orders: int | None = None
    unmatched: int | None = None
    unmatched_amount: Num = None


class DataCheckMetrics(MetricsModel):
    """Counts of the canonical orders, the months covered and the ledger's reconciliation."""

    orders: int | None = None
    customers: int | None = None
    revenue: Num = None
    aov: Num = None
    orders_per_customer: Num = None
    first_order: str | None = None
    last_order: str | None = None
    months: int | None = None
    gap_months: list[str] = Field(default_factory=list)
    ledger_reconciles: bool | None = None
    input_rows: int | None = None
    kept_rows: int | None = None
    excluded_rows: int | None = None
    masked_contacts: dict[str, int] = Field(default_factory=dict)  # column -> values masked as contacts
    returns: ReturnFigures | None = None


def headline_metrics(counts: dict[str, Any], frame: pd.DataFrame, ledger: Ledger) -> dict[str, Any]:
    """The figures the data check records in metrics.json (section 'data_check')."""
    return {
        **counts,
        "months": len(frame),
        "gap_months": [month.strftime("%Y-%m") for month in coverage_gaps(frame)],
        "ledger_reconciles": ledger.reconciles(),
        "input_rows": ledger.input_rows,
        "kept_rows": ledger.kept_rows,
        "excluded_rows": ledger.excluded_rows,
        "masked_contacts": dict(ledger.masked or {}),
        "returns": returns_figures(ledger),
    }


# ---- what the data can show (the coverage model, crmlib.store.coverage) --------------------

def report_settings(config: Any) -> dict[str, Any]:
    """The data check's `settings`: what the coverage model takes from the client YAML (the
    diagnosis section's lapse window, sample floor and same-day rule)."""
    diagnosis = getattr(config, "diagnosis", None) or {}  # the YAML section: a dict (or a settings model)
    read = diagnosis.get if isinstance(diagnosis, Mapping) else lambda key, default: getattr(diagnosis, key, default)
    return {
        "lapse_days": yaml_lapse_days(config),
        "min_customers": read("min_customers", 30),
        "merge_same_day": read("merge_same_day", True),
    }


def scope_table(cov: Any, lang: str, currency: str) -> pd.DataFrame:
    """Display table of the coverage model: history, purchase cycle, lapse, left censoring, revenue
    without a customer, sample floor."""
    source = t(f"data_check.scope.source_{cov.lapse_source}", lang)
    cycle = (t("data_check.scope.cycle_value", lang, median=fmt_int(cov.gap_median), p90=fmt_int(cov.gap_lapse),
               gaps=fmt_int(cov.gaps)) if cov.gap_median is not None else t("data_check.scope.cycle_none", lang))
    rows = [
        ("row_history", t("data_check.counts.period_value", lang, first=fmt_date(cov.data_start, lang),
                          last=fmt_date(cov.data_end, lang), days=fmt_int(cov.history_days))),
        ("row_cycle", cycle),
        ("row_lapse", t("data_check.scope.lapse_value", lang, days=fmt_int(cov.lapse_days), source=source)),
        ("row_observed", t("data_check.scope.observed_value", lang, observed_from=fmt_date(cov.observed_from, lang),
                           lookback=fmt_int(cov.lookback_days), censored=fmt_int(cov.censored_customers),
                           customers=fmt_int(cov.customers),
                           share=fmt_pct(ratio(cov.censored_customers, cov.customers)))),
        ("row_no_customer", t("data_check.scope.no_customer_value", lang,
                              amount=fmt_money(cov.no_customer_revenue, currency),
                              share=fmt_pct(cov.no_customer_share or 0.0))),
        ("row_floor", t("data_check.scope.floor_value", lang, n=fmt_int(cov.min_customers))),
    ]
    return pd.DataFrame({t("data_check.scope.col_item", lang): [t(f"data_check.scope.{k}", lang) for k, _ in rows],
                         t("data_check.scope.col_value", lang): [v for _, v in rows]})


def scope_takeaway(cov: Any, lang: str, currency: str) -> str:
    """One sentence: the lapse window, who counts as observably new, and the revenue without a customer."""
    values = {"lapse": fmt_int(cov.lapse_days), "observed_from": fmt_date(cov.observed_from, lang),
              "observable": fmt_int(cov.observable_customers), "customers": fmt_int(cov.customers),
              "amount": fmt_money(cov.no_customer_revenue, currency, lang, prose=True), "share": fmt_pct(cov.no_customer_share or 0.0)}
    key = "takeaway_no_customer" if cov.no_customer_revenue > 0 else "takeaway"
    return t(f"data_check.scope.{key}", lang, **values)


GLOSSARY_TERMS = ("f2", "repeat_rate", "lapse", "dormant", "new_existing", "annual_ltv", "formula_ltv",
                  "predicted_ltv", "ltv_relation")


def glossary_table(lang: str, lapse_days: int) -> pd.DataFrame:
    """The report's vocabulary: one definition per term (F2 with its window, lapse, the three LTVs)."""
    return pd.DataFrame({
        t("data_check.glossary.col_term", lang): [t(f"data_check.glossary.{k}.term", lang) for k in GLOSSARY_TERMS],
        t("data_check.glossary.col_meaning", lang): [t(f"data_check.glossary.{k}.meaning", lang,
                                                       lapse=fmt_int(lapse_days)) for k in GLOSSARY_TERMS],
    })


# ---- its finding for the executive summary (registered on import; crmlib.registry) ----------

@finding_rule("no_customer_revenue", chapter="00_data_check", anchor="scope", priority=88,
              needs=("coverage.no_customer_revenue", "coverage.no_customer_share"), headline="share",
              requires=(observable("coverage.no_customer_revenue"),))
def _no_customer_revenue(m: Metrics, settings: SummarySettings) -> Assessment | None:
    """Revenue without a customer id: outside every customer analysis, the One customer One ID gap."""
    return Assessment(False, {"share": Pct(m.get("coverage.no_customer_share")),
                              "amount": Money(m.get("coverage.no_customer_revenue"))})
