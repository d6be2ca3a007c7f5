"""Refuse an order total repeated on every line of an order as the line amount.

Many carts write one row per order line and repeat the order's totals (小計, 合計, Subtotal ...)
on each of them. Mapped as the line amount, such a column counts every order once per line
(44x the revenue on a real EC-CUBE file), and nothing else in the ledger looks wrong. The rule,
over the orders with more than one line (exact duplicate lines left out):

- with a unit price and a quantity: among the orders whose lines' unit price x quantity differ,
  at least half have the same amount on every line (a real line amount is then equal across
  the lines only by coincidence): refused;
- without them: among the orders whose lines name different products (SKU, else name), at least
  80% have the same amount on every line (without SKU or name: of all multi-line orders, 90%).
  A shop that sells everything at one price looks the same, so this is refused only when the
  column's name says it is a total (小計, 合計, total ...); otherwise the ledger gets a note.

At least MIN_ORDERS orders must qualify, so that a few look-alike orders cannot trigger it.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from .errors import DataError

MIN_ORDERS = 2
SHARE_WITH_PRICE = 0.5
SHARE_WITH_PRODUCTS = 0.8
SHARE_LINES_ONLY = 0.9
TOTAL_NAME = re.compile(r"小計|合計|総計|総額|請求|支払|total|grand", re.IGNORECASE)

# Per order: are the amounts all equal, do the extended prices or the items differ. "All equal"
# is min = max and "differ" is min <> max (NULLs left out, as count(DISTINCT) leaves them out):
# plain aggregates DuckDB spills to disk, where three count(DISTINCT ...) per order held 5.5 GB
# at 100M orders and ran the ingest out of its 3 GB cap (and cost four times the CPU).
PER_ORDER_SQL = """
SELECT count(*) FILTER (WHERE ext_lo <> ext_hi),
       count(*) FILTER (WHERE ext_lo <> ext_hi AND amount_lo = amount_hi),
       count(*) FILTER (WHERE item_lo <> item_hi),
       count(*) FILTER (WHERE item_lo <> item_hi AND amount_lo = amount_hi),
       count(*),
       count(*) FILTER (WHERE amount_lo = amount_hi)
FROM (
    SELECT order_id,
           min(amount) AS amount_lo, max(amount) AS amount_hi,
           min(unit_price * coalesce(quantity, 1)) AS ext_lo, max(unit_price * coalesce(quantity, 1)) AS ext_hi,
           min(coalesce(sku, product)) AS item_lo, max(coalesce(sku, product)) AS item_hi
    FROM classified
    WHERE amount IS NOT NULL AND reason IS DISTINCT FROM 'duplicate_line'
    GROUP BY order_id
    HAVING count(*) > 1
)
"""


def refuse_repeated_total(con: duckdb.DuckDBPyConnection, path: Path, cols: dict[str, str]) -> str | None:
    """Raise DataError when the mapped amount column repeats an order total on every line; a
    note for the ledger when it only may (no unit price, a name that does not say total).

    Reads the view `classified` (order_id, amount, unit_price, quantity, sku, product, reason);
    does nothing when the amount is computed from unit price x quantity.
    """
    if "amount" not in cols:
        return None
    ext_orders, ext_same, item_orders, item_same, multi, multi_same = con.execute(PER_ORDER_SQL).fetchone()
    column = cols["amount"]
    priced = "unit_price" in cols and "quantity" in cols
    if priced:
        basis, same = ext_orders, ext_same
        evidence = (f"'{column}' is the same on every line while {cols['unit_price']} x "
                    f"{cols['quantity']} differ")
        share = SHARE_WITH_PRICE
    elif "sku" in cols or "product" in cols:
        basis, same = item_orders, item_same
        evidence = f"'{column}' is the same on every line of different products"
        share = SHARE_WITH_PRODUCTS
    else:
        basis, same = multi, multi_same
        evidence = f"'{column}' is the same on every line"
        share = SHARE_LINES_ONLY
    if basis < MIN_ORDERS or same < share * basis:
        return None
    if not priced and not TOTAL_NAME.search(column):
        return (f"in {same:,} of {basis:,} orders with several lines, {evidence}: if '{column}' is an "
                "order total rather than the line's amount, map the line amount (or unit price and quantity)")
    fix = ("map the line amount instead, or leave amount out so that unit_price x quantity is used:\n"
           "  mapping:\n    amount: null")
    if "unit_price" not in cols:
        fix = ("map the line amount, or unit_price and quantity, instead, e.g.\n"
               "  mapping:\n    amount: null\n    unit_price: <unit price column>\n    quantity: <quantity column>")
    raise DataError(
        f"{path}: column '{column}' looks like an order total repeated on every line of the order, "
        f"not a line amount: in {same:,} of {basis:,} orders with several lines {evidence}. "
        f"Summed per line it would count each order's total once per line.",
        hint=f"{fix}\n(or pick the cart's preset with --preset / `preset:`; `crm-workbook validate FILE` "
        "without --preset detects it)",
    )
