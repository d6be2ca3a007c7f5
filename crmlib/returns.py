"""Returns and refunds netted against the purchases they reverse, in DuckDB (no per-row work in Python).

The return model (README, "Returns and refunds"):

- A credit note is a product line with a negative amount of a known customer (an Online Retail
  C-invoice line, a 返品 line with a minus quantity, any negative line). The classification marks it
  ``credit_note_unmatched``; here it is matched, in this order:
  1. the same customer's latest purchase of the same sku at or before the credit note whose
     quantity (amount, without quantities) is at least the credited one: netted against that
     purchase (``returned_item``);
  2. else the customer's latest order at or before the credit note: netted against the
     customer's revenue (``returned_customer``);
  3. else (the sale was before the data starts) it stays excluded as ``credit_note_unmatched``:
     reported, never netted into negative revenue.
  A netted credit note is kept as a negative line (line type ``return``) of the order it nets, so
  orders.parquet amounts are net. Quantities are not consumed: two credit notes may net one sale.
- An order-level refunded amount (Shopify's "Refunded Amount") is netted against its own order,
  at most the order's kept merchandise amount (the rest refunded shipping or tax), spread over the
  product lines in proportion to their amounts (to the ten-thousandth, the last line taking the
  rounding); the ledger line ``refunded`` (no rows) carries the amount.
- An order whose net amount is zero or less after netting is no purchase: all its lines (the sale
  and the credit notes) are excluded as ``reversed``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from .ledger import LedgerLine

AMOUNT_TYPE = "DECIMAL(18,4)"


def net_returns(con: duckdb.DuckDBPyConnection, source: str, enabled: bool) -> bool:
    """View `lines`: the lines of view `source` (the classified lines, guests merged) with credit notes attached to the order they net,
    refunds spread over their order's lines, and reversed orders excluded (the original amount is
    kept as gross_amount, the match as net_kind: 'item', 'customer' or NULL). Returns whether
    anything was netted (else `lines` is `source` as it is, and the summaries need no pass)."""
    plain = (f"CREATE OR REPLACE TEMP VIEW lines AS SELECT *, amount AS gross_amount, "
             f"NULL::VARCHAR AS net_kind FROM {source}")
    if not enabled:
        con.execute(plain)
        return False
    # one pass over the classified lines (no merge joins) says whether there is anything to net
    n_credits, n_refunds = con.execute("""
        SELECT count(*) FILTER (WHERE reason = 'credit_note_unmatched'),
               count(*) FILTER (WHERE reason IS NULL AND refunded_amount > 0)
        FROM classified""").fetchone()
    if not n_credits and not n_refunds:
        con.execute(plain)
        return False
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE credits AS
        SELECT _row, customer_key, sku, ordered_at, quantity, amount FROM {source}
        WHERE reason = 'credit_note_unmatched'""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE refunds AS
        SELECT order_id, max(refunded_amount) AS refund FROM {source}
        WHERE reason IS NULL AND refunded_amount > 0 GROUP BY order_id""")
    # 1. the latest earlier purchase of the same item with enough quantity (ties: the later line)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE credit_item AS
        SELECT c._row, arg_max(s.order_id, (s.ordered_at, s._row)) AS target
        FROM credits c JOIN {source} s
          ON s.customer_key = c.customer_key AND s.sku = c.sku AND s.ordered_at <= c.ordered_at
        WHERE s.reason IS NULL AND s.line_kind = 'product'
          AND CASE WHEN c.quantity < 0 AND s.quantity IS NOT NULL THEN s.quantity >= -c.quantity
                   ELSE s.amount >= -c.amount END
        GROUP BY c._row""")
    # 2. else the customer's latest order at or before the credit note
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE credit_customer AS
        WITH open_credits AS (SELECT * FROM credits WHERE _row NOT IN (SELECT _row FROM credit_item)),
             earlier AS (
                SELECT order_id, min(customer_key) AS customer_key, min(ordered_at) AS ordered_at
                FROM {source}
                WHERE reason IS NULL AND customer_key IN (SELECT customer_key FROM open_credits)
                GROUP BY order_id)
        SELECT c._row, arg_max(o.order_id, (o.ordered_at, o.order_id)) AS target
        FROM open_credits c JOIN earlier o ON o.customer_key = c.customer_key AND o.ordered_at <= c.ordered_at
        GROUP BY c._row""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE credit_target AS
        SELECT _row, target, 'item' AS net_kind FROM credit_item
        UNION ALL SELECT _row, target, 'customer' FROM credit_customer""")
    # the orders touched: kept merchandise, credit notes attached, order-level refund
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE touched AS
        WITH targets AS (SELECT target AS order_id FROM credit_target UNION SELECT order_id FROM refunds),
             sales AS (
                SELECT order_id, sum(amount) AS kept,
                       sum(amount) FILTER (WHERE line_kind = 'product') AS product
                FROM {source} WHERE reason IS NULL AND order_id IN (SELECT order_id FROM targets)
                GROUP BY order_id),
             credited AS (
                SELECT t.target AS order_id, sum(c.amount) AS credit
                FROM credit_target t JOIN credits c USING (_row) GROUP BY t.target)
        SELECT s.order_id, s.kept + coalesce(cr.credit, 0) AS net, s.product,
               CAST(least(coalesce(r.refund, 0), greatest(s.kept + coalesce(cr.credit, 0), 0)) AS {AMOUNT_TYPE}) AS refund
        FROM sales s LEFT JOIN credited cr USING (order_id) LEFT JOIN refunds r USING (order_id)""")
    # each product line's share of its order's refund: differences of the rounded running share,
    # so the shares add up to the refund exactly
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE refund_shares AS
        SELECT _row, CAST(round(refund * running / product, 4) AS {AMOUNT_TYPE})
                     - CAST(round(refund * (running - amount) / product, 4) AS {AMOUNT_TYPE}) AS share
        FROM (SELECT l._row, l.amount, t.refund, t.product,
                     sum(l.amount) OVER (PARTITION BY l.order_id ORDER BY l._row) AS running
              FROM {source} l JOIN touched t USING (order_id)
              WHERE l.reason IS NULL AND l.line_kind = 'product' AND t.refund > 0 AND t.net - t.refund > 0
                AND t.product > 0)""")
    # every change to a line in one small table keyed by line (the credit note's target order,
    # the refund share, whether the line's order is reversed), so that `lines`, read by every
    # summary and output, joins one table rather than three. A line is reversed when it is kept
    # after the credit notes are attached (a credit note attached, or a kept line) and the order
    # it then belongs to nets to zero or less.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE line_changes AS
        WITH rv AS (SELECT order_id FROM touched WHERE net - refund <= 0),
             reversed AS (
                SELECT l._row FROM {source} l LEFT JOIN credit_target ct USING (_row)
                WHERE (ct._row IS NOT NULL OR l.reason IS NULL)
                  AND coalesce(ct.target, l.order_id) IN (SELECT order_id FROM rv)),
             keys AS (SELECT _row FROM credit_target UNION SELECT _row FROM refund_shares
                      UNION SELECT _row FROM reversed)
        SELECT k._row, ct._row IS NOT NULL AS credited, ct.target, ct.net_kind, rs.share,
               k._row IN (SELECT _row FROM reversed) AS reversed
        FROM keys k LEFT JOIN credit_target ct USING (_row) LEFT JOIN refund_shares rs USING (_row)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW lines AS
        SELECT l.* REPLACE (coalesce(c.target, l.order_id) AS order_id,
                            CASE WHEN c.reversed THEN 'reversed' WHEN c.credited THEN NULL ELSE l.reason END AS reason,
                            CASE WHEN c.credited THEN 'return' ELSE l.line_kind END AS line_kind,
                            CASE WHEN c.reversed THEN l.amount
                                 ELSE CAST(l.amount - coalesce(c.share, 0) AS {AMOUNT_TYPE}) END AS amount),
               l.amount AS gross_amount, c.net_kind
        FROM {source} l LEFT JOIN line_changes c USING (_row)""")
    return True


# The returns' share of the ledger's one grouping of `lines` by reason (crmlib.ingest._ledger):
# aggregates per reason, added up or picked by reason in Python, so that the ledger, the netted
# lines and the returns summary need no pass of their own. Each is the old query's expression with
# its reason condition left to the grouping (coalesce(..., 0) keeps the DECIMAL(38,4) scale).
RETURN_AGGREGATES = {
    "refunded": "coalesce(sum(gross_amount - amount) FILTER (WHERE line_kind = 'product'), 0)",
    "item_rows": "count(*) FILTER (WHERE net_kind = 'item')",
    "item_amount": "coalesce(sum(amount) FILTER (WHERE net_kind = 'item'), 0)",
    "customer_rows": "count(*) FILTER (WHERE net_kind = 'customer')",
    "customer_amount": "coalesce(sum(amount) FILTER (WHERE net_kind = 'customer'), 0)",
    "credit_notes": "count(*) FILTER (WHERE net_kind IS NOT NULL OR reason = 'credit_note_unmatched')",
    "netted_rows": "count(*) FILTER (WHERE net_kind IS NOT NULL)",
    "netted_amount": "coalesce(sum(amount) FILTER (WHERE net_kind IS NOT NULL), 0)",
    "sales_amount": "coalesce(sum(amount) FILTER (WHERE line_kind <> 'return'), 0)",
}
ZERO = Decimal("0.0000")  # what coalesce(sum(DECIMAL(18,4)), 0) gives over no rows


def _of(totals: dict[str | None, dict[str, Any]], reason: str | None, name: str, empty: Any = 0) -> Any:
    """One aggregate of one reason (None: the kept lines); `empty` when no line has the reason."""
    return totals.get(reason, {}).get(name, empty)


def netted_lines(totals: dict[str | None, dict[str, Any]]) -> list[LedgerLine]:
    """The kept credit notes by match (rows and amounts inside the kept ones); totals: the
    ledger's aggregates by reason (RETURN_AGGREGATES)."""
    return [LedgerLine(f"returned_{k}", int(_of(totals, None, f"{k}_rows")), Decimal(_of(totals, None, f"{k}_amount")))
            for k in ("item", "customer") if _of(totals, None, f"{k}_rows")]


def refunded_amount(totals: dict[str | None, dict[str, Any]]) -> Decimal:
    """The refunds netted from kept lines (their gross minus their net amount)."""
    return Decimal(_of(totals, None, "refunded", ZERO))


def returns_summary(con: duckdb.DuckDBPyConnection, netted: bool, totals: dict[str | None, dict[str, Any]]) -> dict[str, Any]:
    """Counts and amounts of returns for the ledger and the data check (amounts as strings);
    netted: whether net_returns changed anything; totals: the ledger's aggregates by reason, with
    rows and amount (without netting or lines returned by status, nothing was returned and the
    top products need no pass over the lines)."""
    returned_rows = int(_of(totals, "returned", "rows"))
    if not netted and not returned_rows:
        return {"credit_notes": 0, "credit_notes_netted": 0, "credit_notes_netted_amount": "0",
                "credit_notes_unmatched": 0, "credit_notes_unmatched_amount": "0", "reversed_orders": 0,
                "reversed_sales_amount": "0", "returned_status_rows": 0, "returned_status_amount": "0",
                "refunded_amount": "0", "top_products": []}
    return {
        "credit_notes": sum(int(t["credit_notes"]) for t in totals.values()),
        "credit_notes_netted": int(_of(totals, None, "netted_rows")),
        "credit_notes_netted_amount": str(Decimal(_of(totals, None, "netted_amount", ZERO))),
        "credit_notes_unmatched": int(_of(totals, "credit_note_unmatched", "rows")),
        "credit_notes_unmatched_amount": str(Decimal(_of(totals, "credit_note_unmatched", "amount", ZERO))),
        # the orders net_returns found reversed (each has kept lines, all marked reversed): the
        # distinct orders of the reversed lines, without a DISTINCT aggregate over all lines
        "reversed_orders": int(con.execute("SELECT count(*) FROM touched WHERE net - refund <= 0").fetchone()[0])
                           if netted else 0,
        "reversed_sales_amount": str(Decimal(_of(totals, "reversed", "sales_amount", ZERO))),
        "returned_status_rows": returned_rows,
        "returned_status_amount": str(Decimal(_of(totals, "returned", "amount", ZERO))),
        "refunded_amount": str(refunded_amount(totals)),
        "top_products": top_products(con),
    }


# The amount each line returned: a netted credit note its own amount (negated), a sale of a
# reversed order or of an order returned by status its amount, a refunded line its refund share.
RETURNED_VALUE = """
    CASE WHEN reason IS NULL AND net_kind IS NOT NULL THEN -amount
         WHEN reason = 'reversed' AND line_kind <> 'return' THEN amount
         WHEN reason = 'returned' THEN amount
         WHEN reason IS NULL AND line_kind = 'product' THEN gross_amount - amount END"""


def top_products(con: duckdb.DuckDBPyConnection, n: int = 10) -> list[list[Any]]:
    """The n products returned most by amount: [product (or sku), lines, amount as text]."""
    rows = con.execute(f"""
        SELECT coalesce(product, sku, '-') AS item, count(*) AS lines, sum(value) AS returned
        FROM (SELECT product, sku, {RETURNED_VALUE} AS value FROM lines)
        WHERE value > 0
        GROUP BY 1 ORDER BY returned DESC, item LIMIT {int(n)}""").fetchall()
    return [[item, int(k), str(Decimal(a))] for item, k, a in rows]
