"""Ingest: a client's order file -> canonical order lines and orders in Parquet, plus a ledger.

All row work runs in DuckDB over the file, so the same code serves ten thousand and a hundred
million rows. Every input row ends either kept or excluded for exactly one reason (first rule
that applies, in the order of ``crmlib.ledger.REASONS``); rows and amounts reconcile exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from .config import ClientConfig, Rules
from .cores import duckdb_threads
from .errors import ConfigError, DataError, InputFileError
from .ledger import REASONS, Ledger, LedgerLine
from .mapping import (
    Preset,
    check_mapped_columns,
    load_preset,
    merge_mapping,
    missing_important,
    resolve_columns,
)
from .memory import check_memory, estimate_lines
from .readers import QUOTED_NEWLINES, UNREADABLE_LINE_HINT, RawSource, open_raw
from .redact import redact_example
from .repeated_total import refuse_repeated_total
from .returns import (
    RETURN_AGGREGATES,
    net_returns,
    netted_lines,
    refunded_amount,
    returns_summary,
)
from .screen import masked_file_name, screen_lines
from .sql import sql_ident as _ident
from .sql import sql_literal as _quote

DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d",
    "%Y%m%d %H:%M:%S",
]
ORDER_LEVEL_FIELDS = ("customer_id", "email", "phone", "ordered_at", "status", "cancelled_at",
                      "channel", "source", "region", "refunded_amount")
AMOUNT_TYPE = "DECIMAL(18,4)"
MEMORY_LIMIT = os.environ.get("CRM_DUCKDB_MEMORY", "3GB")
# Files of up to this many lines keep their classified lines in a DuckDB table in memory rather
# than in a Parquet file: writing Parquet's pages cost more than the classification itself (Online
# Retail, 541,909 lines: 0.2 CPU-s of 0.55). Larger files stay in Parquet, so that their memory
# stays bounded as crmlib.memory's model says. (The raw CSV copy stays in Parquet at any size: read
# from a table numbered by rowid, the classification cost three times as much.)
IN_MEMORY_LINES = 1_000_000


@dataclass
class IngestResult:
    """What an ingest produced: the ledger and, when written, the canonical Parquet files."""

    ledger: Ledger
    out_dir: Path | None
    as_of: dt.date | None

    @property
    def orders_path(self) -> Path | None:
        return self.out_dir / "orders.parquet" if self.out_dir else None

    @property
    def lines_path(self) -> Path | None:
        return self.out_dir / "order_lines.parquet" if self.out_dir else None


def resolve_rules(preset: Preset, overrides: Rules | dict[str, Any] | None) -> dict[str, Any]:
    """The preset's rules with the client's non-empty overrides applied."""
    rules = dict(Rules().model_dump())  # every key, None by default
    rules.update({k: v for k, v in preset.rules.items()})
    if isinstance(overrides, Rules):
        overrides = overrides.model_dump(exclude_none=True)
    rules.update({k: v for k, v in (overrides or {}).items() if v is not None})
    defaults = {"max_invalid_share": 0.02, "net_returns": True, "max_members_per_contact": 5,
                "gift_card_pattern": ""}
    for key, value in rules.items():
        if value is None:
            rules[key] = defaults.get(key, [] if key.endswith(("statuses", "skus", "names")) else False)
    return rules


def connect(temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a memory cap and a spill folder, so big files go out of core.

    With a folder, the working tables live in a database file there: DuckDB compresses stored
    tables, which keeps wide string columns of large files from filling the memory cap.
    """
    con = duckdb.connect(str(temp_dir / "ingest.duckdb") if temp_dir is not None else ":memory:")
    con.execute(f"SET memory_limit = {_quote(MEMORY_LIMIT)}")
    con.execute("SET enable_progress_bar = false")  # a long query must not draw on the CLI's output
    # no statement needs rows in input order (examples sort by _row, orders by ordered_at):
    # without the guarantee DuckDB writes Parquet in parallel and buffers less
    con.execute("SET preserve_insertion_order = false")
    threads = duckdb_threads()  # a batch worker's share of the cores (crmlib.cores)
    if threads:
        con.execute(f"SET threads = {threads}")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = {_quote(str(temp_dir))}")
    return con


# ---------------------------------------------------------------- SQL expression builders

# The code points DuckDB's trim() removes: Unicode category Zs (space separators, the ideographic
# space U+3000 included; tabs and line breaks are not Zs and stay).
TRIMMED_CODE_POINTS = (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)


def _text(col: str) -> str:
    return f"nullif(trim(CAST({_ident(col)} AS VARCHAR)), '')"


def _long_text(col: str) -> str:
    """The column as text without surrounding spaces, NULL when empty.

    Equal to nullif(trim(x), ''), but trim() is only called when the first or last character is
    one it removes: it decodes every character of every value, which made the e-mail column
    alone cost a third of a second per million lines and pass (tests compare every BMP character).
    """
    x = f"CAST({_ident(col)} AS VARCHAR)"
    edge = ", ".join(str(c) for c in TRIMMED_CODE_POINTS)
    return (f"CASE WHEN unicode({x}) IN ({edge}) OR unicode(right({x}, 1)) IN ({edge}) "
            f"THEN nullif(trim({x}), '') ELSE nullif({x}, '') END")


# Full-width digits (０-９), as Japanese forms and spreadsheets often write phone numbers
FULL_WIDTH_DIGITS = "".join(chr(0xFF10 + i) for i in range(10))
# NFKC of the full-width ASCII block (！ to ～, ＠ and ｔａｒｏ included) and the ideographic space:
# DuckDB has no NFKC, and these are the characters of contacts typed in a Japanese input method
FULL_WIDTH_ASCII = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH_ASCII = "".join(chr(c) for c in range(0x21, 0x7F)) + " "


def _nfkc(expr: str) -> str:
    """expr with full-width ASCII characters as ASCII (NFKC for them); ASCII-only text (the usual
    case: byte length = character length) is not translated."""
    return (f"CASE WHEN strlen({expr}) = length({expr}) THEN {expr} "
            f"ELSE translate({expr}, {_quote(FULL_WIDTH_ASCII)}, {_quote(HALF_WIDTH_ASCII)}) END")


# Contacts that identify nobody: a guest with one is not merged into a member, nor keyed by it.
# E-mail local parts such as noemail, no-mail, noreply, test, test1, dummy, none, null, unknown, xxx;
# phone numbers of one repeated digit (000-0000-0000), an area code followed by zeros
# (090-0000-0000, 03-0000-0000) or the run 0123456789 / 1234567890.
PLACEHOLDER_EMAIL = ("regexp_full_match(split_part({e}, '@', 1), "
                     "'(no[-_.]?e?[-_.]?mail|no[-_.]?reply|test|dummy|none|null|nil|unknown|sample|x+|n/?a)[0-9]*')")
PLACEHOLDER_PHONE = ("(length(replace({d}, {d}[1], '')) = 0 OR regexp_full_match({d}, '0[1-9][0-9]?0{{7,}}') "
                     "OR contains('01234567890', {d}))")


def _digits_sql(col: str) -> str:
    """The digits of a phone number ('' when it has none), full-width digits read as digits. The
    usual "090-1234-5678" is read with a replace and a match instead of a regular-expression
    replace, which cost twice as much; only used where the trimmed value is not NULL, so it need
    not trim itself."""
    raw = f"CAST({_ident(col)} AS VARCHAR)"
    dashless = f"replace({raw}, '-', '')"
    return (f"CASE WHEN regexp_full_match({dashless}, '[0-9]*') THEN {dashless} "
            f"ELSE regexp_replace(translate({raw}, '{FULL_WIDTH_DIGITS}', '0123456789'), '[^0-9]', '', 'g') END")


def _number_sql(col: str, kind: str) -> str:
    """A numeric value: native numbers cast; text stripped of currency signs and separators."""
    if any(t in kind.upper() for t in ("INT", "DECIMAL", "DOUBLE", "FLOAT", "REAL", "NUMERIC")):
        return f"TRY_CAST({_ident(col)} AS {AMOUNT_TYPE})"
    cleaned = f"regexp_replace({_text(col)}, '[¥￥$£€円\\s]', '', 'g')"
    # commas only as thousands separators (1,234,567.8): a decimal comma ("100,5" in a
    # semicolon-separated European file) must not become 1005; it stays unreadable (bad_amount)
    grouped = f"regexp_full_match({cleaned}, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d*)?')"
    number = f"CASE WHEN NOT contains({cleaned}, ',') THEN {cleaned} WHEN {grouped} THEN replace({cleaned}, ',', '') END"
    return f"TRY_CAST({number} AS {AMOUNT_TYPE})"


def _date_sql(col: str, kind: str, date_format: str | None) -> str:
    """A timestamp: native dates cast; text parsed with the given or the usual formats."""
    upper = kind.upper()
    if "TIMESTAMP" in upper or upper == "DATE":
        return f"CAST({_ident(col)} AS TIMESTAMP)"
    raw = _text(col)
    if date_format:
        return f"try_strptime({raw}, {_quote(date_format)})"
    norm = (f"replace(replace(regexp_replace({raw}, '\\s*(Z|[+-]\\d{{2}}:?\\d{{2}})$', ''), 'T', ' '),"
            f" '/', '-')")
    formats = "[" + ", ".join(_quote(f) for f in DATE_FORMATS) + "]"
    return f"try_strptime({norm}, {formats})"


def _in_list(expr: str, values: list[str], *, case: str = "lower", folded: bool = False) -> str:
    """SQL test of expr against a list, ignoring case; folded = expr is lower-cased already.

    list_contains, not IN: DuckDB turns a long IN list into a hash join of every row against
    the list, which costs more than comparing with a handful of constants.
    """
    if not values:
        return "false"
    vals = ", ".join(_quote(v.upper() if case == "upper" else v.lower()) for v in values)
    target = expr if folded else f"{case}({expr})"
    return f"coalesce(list_contains([{vals}], {target}), false)"


def _typed_select(src: RawSource, cols: dict[str, str], date_format: str | None, line_hash: bool = False) -> str:
    """SELECT turning raw columns into typed canonical fields (one row per input row), FROM raw.

    Two layers, so that each raw value is trimmed, parsed or stripped of non-digits once per row:
    the inner one parses, the outer one derives from the parsed values (rather than trusting
    DuckDB to share a sub-expression repeated inside CASE branches: the phone's digits were
    extracted up to five times per row). With an e-mail or phone, a middle layer tests each
    contact for a placeholder once (the contact and the placeholder flag both need the test).
    line_hash adds the hash of the whole raw line (for the duplicate check, so that it needs no
    pass of its own over the file).
    """
    t = src.types
    inner: dict[str, str] = {}  # parsed values and helpers (helpers start with an underscore)
    e: dict[str, str] = {}      # the canonical fields, from inner's columns
    middle: dict[str, str] = {}  # the contacts' tests, from inner's columns
    inner["order_id"] = _text(cols["order_id"]) if "order_id" in cols else "NULL"
    e["order_id"] = "order_id"
    if "customer_id" in cols:
        inner["_cid"] = _text(cols["customer_id"])
        # ids written as floats by spreadsheets ("17850.0") are the integer id
        e["customer_id"] = ("CASE WHEN _cid LIKE '%.0' THEN regexp_replace(_cid, '^(\\d+)\\.0+$', '\\1') "
                            "ELSE _cid END")
    else:
        e["customer_id"] = "NULL"
    placeholders = []
    if "email" in cols:
        inner["_email"] = f"lower({_nfkc(_long_text(cols['email']))})"
        middle["_email_at"] = "contains(_email, '@')"
        middle["_email_fake"] = PLACEHOLDER_EMAIL.format(e="_email")
        e["email"] = "CASE WHEN _email_at AND NOT _email_fake THEN _email END"
        placeholders.append("(_email_at AND _email_fake)")
    else:
        e["email"] = "NULL"
    if "phone" in cols:
        inner["_phone"] = _text(cols["phone"])
        inner["_digits"] = _digits_sql(cols["phone"])
        local = "CASE WHEN _digits LIKE '81%' AND length(_digits) >= 11 THEN '0' || _digits[3:] ELSE _digits END"
        middle["_phone_ok"] = "_phone IS NOT NULL AND length(_digits) >= 9"
        middle["_phone_fake"] = PLACEHOLDER_PHONE.format(d="_digits")
        e["phone"] = f"CASE WHEN _phone_ok AND NOT _phone_fake THEN {local} END"
        placeholders.append("(_phone_ok AND _phone_fake)")
    else:
        e["phone"] = "NULL"
    e["placeholder_contact"] = f"coalesce({' OR '.join(placeholders)}, false)" if placeholders else "false"
    inner["ordered_at"] = _date_sql(cols["ordered_at"], t[cols["ordered_at"]], date_format)
    e["ordered_at"] = "ordered_at"
    inner["quantity"] = _number_sql(cols["quantity"], t[cols["quantity"]]) if "quantity" in cols else "NULL"
    e["quantity"] = "quantity"
    if "amount" in cols:
        inner["amount"] = _number_sql(cols["amount"], t[cols["amount"]])
        inner["unit_price"] = _number_sql(cols["unit_price"], t[cols["unit_price"]]) if "unit_price" in cols else "NULL"
        e["amount"] = "amount"
    else:
        inner["unit_price"] = _number_sql(cols["unit_price"], t[cols["unit_price"]])
        inner["_discount"] = _number_sql(cols["line_discount"], t[cols["line_discount"]]) if "line_discount" in cols else "0"
        qty_or_1 = "coalesce(quantity, 1)" if "quantity" in cols else "1"
        e["amount"] = f"TRY_CAST(unit_price * {qty_or_1} - coalesce(_discount, 0) AS {AMOUNT_TYPE})"
    e["unit_price"] = "unit_price"
    # order-level (Shopify's "Refunded Amount"): netted against its own order (crmlib.returns)
    inner["refunded_amount"] = (_number_sql(cols["refunded_amount"], t[cols["refunded_amount"]])
                                if "refunded_amount" in cols else "NULL")
    e["refunded_amount"] = "refunded_amount"
    for fld in ("sku", "product", "category", "channel", "source", "region"):
        inner[fld] = _text(cols[fld]) if fld in cols else "NULL"
        e[fld] = fld
    inner["status"] = f"lower({_text(cols['status'])})" if "status" in cols else "NULL"
    inner["cancelled_at"] = _text(cols["cancelled_at"]) if "cancelled_at" in cols else "NULL"
    inner["line_type"] = f"lower({_text(cols['line_type'])})" if "line_type" in cols else "NULL"
    for fld in ("status", "cancelled_at", "line_type"):
        e[fld] = fld
    # the raw text of the date and amount only where the value did not parse: examples for
    # messages, nearly free otherwise (the inner layer passes the raw column through uncast)
    inner["_raw_date"] = _ident(cols["ordered_at"])
    inner["_raw_amount"] = _ident(cols.get("amount") or cols["unit_price"])
    e["raw_date"] = "CASE WHEN ordered_at IS NULL THEN CAST(_raw_date AS VARCHAR) END"
    e["raw_amount"] = f"CASE WHEN ({e['amount']}) IS NULL THEN CAST(_raw_amount AS VARCHAR) END"
    if line_hash:
        inner["_line_hash"] = f"hash({', '.join(_ident(c) for c in src.columns)})"
        e["line_hash"] = "_line_hash"
    parsed = ", ".join(f"{expr} AS {name}" for name, expr in inner.items())
    source = f"(SELECT _row, {parsed} FROM raw)"
    if middle:
        source = f"(SELECT *, {', '.join(f'{expr} AS {name}' for name, expr in middle.items())} FROM {source})"
    return f"SELECT _row, {', '.join(f'{expr} AS {name}' for name, expr in e.items())} FROM {source}"


def _fill_order_fields(fields: list[str]) -> str:
    """Carry order-level fields given on the first line only to the order's other lines."""
    parts = []
    for f in fields:
        if f in ORDER_LEVEL_FIELDS:
            parts.append(f"coalesce({f}, max({f}) OVER (PARTITION BY order_id)) AS {f}")
        else:
            parts.append(f)
    return ", ".join(parts)


# Orders from kept lines. Order-level text fields take the smallest value among the order's
# lines (they are normally equal; min is deterministic and cheap); the category is the one of
# the largest product line, the first in the file among equally large ones (without the
# tie-break the pick depended on thread scheduling). The order "largest amount, then first line"
# is one integer, amount in ten-thousandths times 2^40 minus the line number (exact for amounts
# of DECIMAL(18,4) and files of under 2^40 lines): a struct as arg_max key cost a tenth more.
# (Widening after the multiplication is cheaper but overflows for amounts of 10^10 and more; the
# fuzzer found it.)
ORDERS_SQL = """
    CREATE OR REPLACE TEMP TABLE orders_t AS
    SELECT order_id,
           min(customer_key) AS customer_id,
           min(ordered_at) AS ordered_at,
           CAST(sum(amount) AS DOUBLE) AS amount,
           CAST(coalesce(sum(quantity) FILTER (WHERE line_kind IN ('product', 'return')), 0) AS DOUBLE) AS quantity,
           count(*) FILTER (WHERE line_kind = 'product') AS n_lines,
           min(channel) AS channel,
           min(status) AS status,
           min(source) AS source,
           min(region) AS region,
           arg_max(category, CAST(CAST(amount AS DECIMAL(38, 4)) * 10000 AS HUGEINT) * 1099511627776 - _row)
               FILTER (WHERE line_kind = 'product' AND amount IS NOT NULL) AS category,
           min(customer_key) <> max(customer_key) AS mixed_customers
    FROM lines WHERE reason IS NULL
    GROUP BY order_id
"""

NEGATIVE_EXAMPLE = ("CAST(CAST(amount AS DOUBLE) AS VARCHAR) || "
                    "coalesce(' (quantity ' || CAST(CAST(quantity AS DOUBLE) AS VARCHAR) || ')', '')")

TYPED_FIELDS = ["order_id", "customer_id", "email", "phone", "placeholder_contact", "ordered_at", "quantity", "amount",
                "unit_price", "refunded_amount", "sku", "product", "category", "channel", "source", "region", "status",
                "cancelled_at", "line_type", "raw_date", "raw_amount"]


def _pseudonym(expr: str, prefix: str) -> str:
    return f"'{prefix}' || substr(sha256('crm-workbook:' || {expr}), 1, 16)"


# A member id that is an e-mail (after NFKC: ｔａｒｏ＠… too) or a phone number written as one: with
# separators (090-1234-5678, 090.1234.5678, (03) 1234 5678, +81 …) and 9+ digits, or bare digits
# in the shape of a Japanese number (0, a non-zero digit, 8-9 more digits). Any other digit string
# (123456789012) is a numeric member id, kept as it is.
ID_IS_CONTACT = ("(contains(customer_id, '@') AND customer_id LIKE '%_@_%' "
                 "OR regexp_full_match(customer_id, '[0-9+()\\-. ]{9,}') AND length(regexp_replace(customer_id, '[^0-9]', '', 'g')) >= 9 "
                 "AND (regexp_matches(customer_id, '[+()\\-. ]') OR regexp_full_match(customer_id, '0[1-9][0-9]{8,9}')))")


def _member_key(column: str = "customer_id") -> str:
    """A member's customer key: its id, or a pseudonym when the id is an e-mail address or phone
    number (used for the member's own lines and for guest lines merged into the member alike)."""
    folded = _nfkc(column)
    contact = ID_IS_CONTACT.replace("customer_id", f"({folded})")
    return f"CASE WHEN {contact} THEN {_pseudonym(f'lower({folded})', 'x-')} ELSE {column} END"


def _classify_sql(src: RawSource, preset: Preset, rules: dict[str, Any], keep_contacts: bool) -> str:
    """SELECT adding line_kind, customer_key and the exclusion reason (NULL = kept)."""
    lt = preset.line_types
    kind = (
        "CASE "
        f"WHEN {_in_list('line_type', lt.get('discount', []), folded=True)} THEN 'discount' "
        f"WHEN {_in_list('line_type', lt.get('non_product', []), folded=True)} THEN 'non_product' "
        f"WHEN {_in_list('sku', rules['non_product_skus'], case='upper')} THEN 'non_product' "
        f"WHEN {_in_list('product', rules['non_product_names'])} THEN 'non_product' "
        "ELSE 'product' END"
    )
    cancelled_parts = [_in_list("status", rules["cancelled_statuses"], folded=True), "cancelled_at IS NOT NULL"]
    if rules.get("cancelled_order_prefix"):
        cancelled_parts.append(f"coalesce(starts_with(order_id, {_quote(rules['cancelled_order_prefix'])}), false)")
    cancelled = " OR ".join(cancelled_parts)
    # a guest's key here is its own pseudonym; merging into a member sharing the e-mail or phone
    # happens afterwards (the `lines` view), and never changes whether a row has a key
    key = (
        "CASE "
        f"WHEN customer_id IS NOT NULL THEN {_member_key()} "
    )
    if rules["identity_from_contact"]:
        key += (
            f"WHEN email IS NOT NULL THEN {_pseudonym('email', 'g-')} "
            f"WHEN phone IS NOT NULL THEN {_pseudonym('phone', 'p-')} "
        )
    key += "END"
    pattern = rules.get("gift_card_pattern") or ""
    gift_card = (f"line_kind = 'product' AND coalesce(regexp_matches(product, {_quote(pattern)}, 'i'), false)"
                 if pattern else "false")
    reason = (
        "CASE "
        "WHEN ordered_at IS NULL OR year(ordered_at) NOT BETWEEN 1990 AND 2100 THEN 'bad_date' "
        "WHEN amount IS NULL THEN 'bad_amount' "
        f"WHEN {str(rules['exclude_cancelled']).lower()} AND ({cancelled}) THEN 'cancelled' "
        f"WHEN {str(rules['exclude_not_completed']).lower()} AND {_in_list('status', rules['not_completed_statuses'], folded=True)} THEN 'not_completed' "
        f"WHEN {str(rules['exclude_returns']).lower()} AND {_in_list('status', rules['returned_statuses'], folded=True)} THEN 'returned' "
        f"WHEN {str(rules['exclude_non_product']).lower()} AND line_kind = 'non_product' THEN 'non_product' "
        f"WHEN {gift_card} THEN 'gift_card' "
        # a negative product line of a known customer is a credit note: crmlib.returns nets it
        # against the purchase it reverses, or leaves it excluded under this reason
        f"WHEN {str(rules['net_returns']).lower()} AND line_kind = 'product' AND amount < 0 "
        "AND customer_key IS NOT NULL THEN 'credit_note_unmatched' "
        f"WHEN {str(rules['exclude_negative']).lower()} AND line_kind <> 'discount' AND (amount < 0 OR coalesce(quantity, 0) < 0) THEN 'negative_amount' "
        f"WHEN {str(rules['exclude_zero_amount']).lower()} AND line_kind = 'product' AND amount = 0 THEN 'zero_amount' "
        "WHEN customer_key IS NULL THEN 'no_customer' "
        "END"
    )
    # the contacts for merging guests (and contacts.parquet), the line hash for the duplicate check
    extra_cols = "email, phone," if keep_contacts or rules["identity_from_contact"] else ""
    if rules["drop_duplicate_lines"]:
        extra_cols += " line_hash,"
    return f"""
        WITH k AS (SELECT t.*, {kind} AS line_kind, {key} AS customer_key FROM typed1 t)
        SELECT _row, order_id, customer_key, ordered_at, quantity, amount, unit_price, refunded_amount, sku, product,
               category, channel, source, region, status, raw_date, raw_amount, line_kind,
               customer_id IS NOT NULL AS has_member_id, placeholder_contact,
               {extra_cols}
               {reason} AS reason
        FROM k
    """


DUPLICATE_FIRST = ("bad_date", "bad_amount")  # reasons that win over duplicate_line


def _flag_duplicates(con: duckdb.DuckDBPyConnection, working: str, raw_cols: str, enabled: bool) -> None:
    """View `classified`: the working rows (a table, or read_parquet of a file), each line that
    exactly repeats an earlier line excluded as duplicate_line (unless its date or amount is
    unreadable, which is said first).

    The classification wrote each raw line's hash, so the check costs one aggregation of that
    column; only lines whose hash repeats are compared column by column, in a second pass over
    the file that is skipped when no hash repeats (the usual case).
    """
    plain = f"CREATE OR REPLACE TEMP VIEW classified AS SELECT * FROM {working}"
    if not enabled:
        con.execute(plain)
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dup_hashes AS
        SELECT line_hash AS h FROM {working} GROUP BY line_hash HAVING count(*) > 1""")
    if not con.execute("SELECT count(*) FROM dup_hashes").fetchone()[0]:
        con.execute(plain)
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dup_rows AS
        SELECT _row FROM (
            SELECT _row, row_number() OVER (PARTITION BY {raw_cols} ORDER BY _row) AS rn
            FROM raw WHERE hash({raw_cols}) IN (SELECT h FROM dup_hashes))
        WHERE rn > 1""")
    first = ", ".join(_quote(r) for r in DUPLICATE_FIRST)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW classified AS
        SELECT w.* REPLACE (CASE WHEN d._row IS NOT NULL AND coalesce(w.reason NOT IN ({first}), true)
                                 THEN 'duplicate_line' ELSE w.reason END AS reason)
        FROM {working} w LEFT JOIN dup_rows d USING (_row)""")


def _guest_maps(con: duckdb.DuckDBPyConnection, enabled: bool, max_members: int = 5) -> bool:
    """Tables guest_emails and guest_phones: a guest's e-mail or phone that a member also used,
    with that member's (smallest) customer key (small tables): the pseudonym when the member's id
    is itself an e-mail or phone, so merged guest lines never carry the raw contact.

    Read from the classified lines, whose contacts are normalised already: the guests' e-mails
    and phones first, then the member lines sharing one of them (skipped without guests).
    A contact shared by more than max_members members (a shop's own phone at the till, a
    company address) identifies nobody: it is left out (table shared_contacts counts them).
    Returns whether any guest contact matched a member (else there is nothing to merge).
    """
    empty = "SELECT NULL::VARCHAR AS key, NULL::VARCHAR AS member WHERE false"
    if enabled:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE guest_contacts AS
            SELECT DISTINCT email, phone FROM classified
            WHERE NOT has_member_id AND (email IS NOT NULL OR phone IS NOT NULL)""")
    if not enabled or not con.execute("SELECT count(*) > 0 FROM guest_contacts").fetchone()[0]:
        for name in ("guest_emails", "guest_phones", "shared_contacts"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {empty}")
        return False
    con.execute("""
        CREATE OR REPLACE TEMP TABLE member_contacts AS
        SELECT customer_key AS member, email, phone FROM classified
        WHERE has_member_id
          AND (email IN (SELECT email FROM guest_contacts WHERE email IS NOT NULL)
               OR phone IN (SELECT phone FROM guest_contacts WHERE phone IS NOT NULL))""")
    for name, fld in (("guest_emails", "email"), ("guest_phones", "phone")):
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {name}_all AS
            SELECT {fld} AS key, min(member) AS member, count(DISTINCT member) AS members FROM member_contacts
            WHERE {fld} IN (SELECT {fld} FROM guest_contacts WHERE {fld} IS NOT NULL)
            GROUP BY {fld}""")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT key, member FROM {name}_all "
                    f"WHERE members <= {int(max_members)}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE shared_contacts AS
        SELECT key, NULL::VARCHAR AS member FROM guest_emails_all WHERE members > {int(max_members)}
        UNION ALL SELECT key, NULL FROM guest_phones_all WHERE members > {int(max_members)}""")
    matched, = con.execute("SELECT (SELECT count(*) FROM guest_emails) + (SELECT count(*) FROM guest_phones)").fetchone()
    return matched > 0


def _merged_lines(con: duckdb.DuckDBPyConnection, merge: bool) -> None:
    """View `merged`: the classified lines with each guest line's key replaced by the member's
    that shares its e-mail (else its phone), and flags saying which rule merged it."""
    if not merge:
        con.execute("CREATE OR REPLACE TEMP VIEW merged AS SELECT *, false AS merged_by_email, "
                    "false AS merged_by_phone FROM classified")
        return
    con.execute("""
        CREATE OR REPLACE TEMP VIEW merged AS
        SELECT c.* REPLACE (coalesce(em.member, pm.member, c.customer_key) AS customer_key),
               em.member IS NOT NULL AS merged_by_email,
               em.member IS NULL AND pm.member IS NOT NULL AS merged_by_phone
        FROM classified c
        LEFT JOIN guest_emails em ON em.key = CASE WHEN NOT c.has_member_id THEN c.email END
        LEFT JOIN guest_phones pm ON pm.key = CASE WHEN NOT c.has_member_id THEN c.phone END""")


# ---------------------------------------------------------------- main entry points

def ingest_file(
    path: Path | str,
    *,
    preset: str | None = "generic",
    mapping: dict[str, str | None] | None = None,
    rules: Rules | dict[str, Any] | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    out_dir: Path | str | None = None,
    keep_contacts: bool = False,
) -> IngestResult:
    """Read an order export, classify every row, and (if out_dir) write canonical Parquet + ledger.

    keep_contacts also writes contacts.parquet (customer id, e-mail, phone) for mail-tool exports.
    Raises InputFileError / MappingError / DataError with an actionable message when the file
    cannot be used.
    """
    path = Path(path)
    preset_obj = load_preset(preset or "generic")
    rule_set = resolve_rules(preset_obj, rules)
    candidates = merge_mapping(preset_obj, mapping)
    lines = estimate_lines(path)
    check_memory(path, MEMORY_LIMIT, lines)  # before DuckDB starts: the OOM killer says nothing
    in_memory = lines is not None and lines <= IN_MEMORY_LINES
    # the working copies hold the client's e-mails and phones in plain text: with out_dir they
    # live beside it (.<client>-XXXXXXXX, removed by the next run when a kill leaves them)
    work_root = Path(out_dir).parent if out_dir is not None else None
    if work_root is not None:
        work_root.mkdir(parents=True, exist_ok=True)
    prefix = f".{Path(out_dir).name}-" if out_dir is not None else "crm-ingest-"
    for parallel in (True, False):  # single-threaded only when a quoted field spans lines
        with tempfile.TemporaryDirectory(prefix=prefix, dir=work_root) as spill:
            con: duckdb.DuckDBPyConnection | None = None
            src: RawSource | None = None
            try:
                con = connect(Path(spill))  # inside: under `ulimit -v` DuckDB may not even start
                check_date_format(con, date_format or preset_obj.date_format)
                src = open_raw(con, path, encoding=encoding, read_options=preset_obj.read, parallel=parallel,
                               work_dir=Path(spill))
                check_mapped_columns(src.columns, mapping, source=str(path))
                return _ingest(con, src, preset_obj, rule_set, candidates,
                               date_format or preset_obj.date_format, out_dir, Path(spill), keep_contacts,
                               in_memory)
            except duckdb.Error as exc:
                if parallel and QUOTED_NEWLINES in str(exc):
                    continue
                raise file_error(path, exc, Path(spill).parent) from None
            finally:
                if src is not None:
                    src.cleanup()
                if con is not None:
                    con.close()
    raise AssertionError("unreachable")


def check_date_format(con: duckdb.DuckDBPyConnection, date_format: str | None) -> None:
    """Raise ConfigError naming `date_format:` when DuckDB cannot parse with it (before the file
    is read: a wrong setting is not a damaged file)."""
    if not date_format:
        return
    try:
        con.execute(f"SELECT try_strptime('2024-01-31', {_quote(date_format)})")
    except duckdb.InvalidInputException as exc:
        reason = str(exc).splitlines()[0].split("Error: ", 1)[-1]
        raise ConfigError(f"date_format {date_format!r} is not a date format ({reason}).",
                          hint="fix `date_format:` in the client YAML with the codes %Y %m %d %H %M %S "
                               "(e.g. \"%d/%m/%Y %H:%M\"), or remove it to read the usual formats") from None


def file_error(path: Path, exc: duckdb.Error, spill_root: Path | None = None) -> Exception:
    """A DuckDB error while reading a file, as the user's problem it is (bugs pass through)."""
    text = str(exc)
    spill_root = spill_root or Path(tempfile.gettempdir())
    if isinstance(exc, duckdb.OutOfMemoryException):
        return DataError(f"{path}: the ingest ran out of memory ({text.splitlines()[0]}).",
                         hint="raise CRM_DUCKDB_MEMORY (e.g. CRM_DUCKDB_MEMORY=6GB), free memory, or raise "
                              "the process's limit (ulimit -v, the container's memory limit)")
    if isinstance(exc, duckdb.IOException) and "space" in text.lower():
        return DataError(f"{path}: the disk is full while spilling to {spill_root} ({text.splitlines()[0]}).",
                         hint="free disk space there, or use a --data-dir (run) or TMPDIR (validate) on a larger disk")
    if not (isinstance(exc, (duckdb.InvalidInputException, duckdb.ConversionException))
            or text.startswith("CSV Error")):
        return exc
    found = re.search(r"CSV Error on Line: (\d+)", text)
    line = re.search(r"Original Line: (.*)", text)
    what = next((x for x in (r"Expected Number of Columns: \d+ Found: \d+", "unterminated quote",
                             "Invalid unicode", "state machine") if re.search(x, text)), None)
    detail = {None: text.splitlines()[0], "unterminated quote": "a quote (\") is not closed",
              "Invalid unicode": "the text is not valid UTF-8 there (the file mixes encodings)",
              # mixed line ends within the first megabyte are read; later ones end up here
              "state machine": "its lines end in different ways (Windows CR LF and LF mixed) or a line is damaged"}
    if what and what.startswith("Expected"):
        expected, got = re.search(what, text).group(0).split(": ")[1:]
        message = f"it has {got} fields where the header has {expected.split()[0]}"
    else:
        message = detail.get(what, detail[None])
    where = f"line {found.group(1)}" if found else "the file"
    shown = f" (the line: {line.group(1)[:80]!r})" if line else ""
    hint = ("re-export the whole file in one encoding (CSV UTF-8), or set `encoding:` in the client YAML"
            if what == "Invalid unicode" else
            "save the file again with one kind of line end (in a text editor: line endings LF or CRLF), "
            "or re-export it as CSV UTF-8" if what == "state machine" else UNREADABLE_LINE_HINT)
    return InputFileError(f"{path}: {where} cannot be read: {message}{shown}.", hint=hint)


def ingest_client(config: ClientConfig, processed_root: Path | str) -> IngestResult:
    """Ingest the file a client YAML names into processed_root/<client name>/."""
    out = Path(processed_root) / config.name
    preset = config.preset
    if preset is None:  # as `validate`: the cart detected from the header
        from .detect import detect_preset, read_header

        preset = detect_preset(read_header(config.data_path(), config.encoding), str(config.data_path())).preset
    return ingest_file(
        config.data_path(), preset=preset, mapping=config.mapping,
        rules=config.rules, encoding=config.encoding, date_format=config.date_format, out_dir=out,
        keep_contacts=bool((config.segments.get("exports") or {}).get("include_email", False)),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ingest(con: duckdb.DuckDBPyConnection, src: RawSource, preset: Preset, rules: dict[str, Any],
            candidates: dict[str, list[str]], date_format: str | None,
            out_dir: Path | str | None, work_dir: Path, keep_contacts: bool,
            in_memory: bool = False) -> IngestResult:
    cols = resolve_columns(src.columns, candidates, source=str(src.path), preset=preset.name,
                           required=preset.required)
    typed = _typed_select(src, cols, date_format, line_hash=rules["drop_duplicate_lines"])
    raw_cols = ", ".join(_ident(c) for c in src.columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW typed0 AS {typed}")
    if "order_id" not in cols:
        con.execute("CREATE OR REPLACE TEMP VIEW typed1 AS SELECT * REPLACE ('R' || _row AS order_id) FROM typed0")
    elif preset.order_fields_first_line_only:
        fields = TYPED_FIELDS + (["line_hash"] if rules["drop_duplicate_lines"] else [])
        con.execute(f"CREATE OR REPLACE TEMP VIEW typed1 AS SELECT _row, {_fill_order_fields(fields)} FROM typed0")
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW typed1 AS SELECT * REPLACE (coalesce(order_id, 'R' || _row) AS order_id) FROM typed0")
    # every row classified in one streaming pass, written to Parquet rather than held in memory
    # (a small file's rows: a table in memory, see IN_MEMORY_LINES)
    if in_memory:
        con.execute(f"CREATE OR REPLACE TEMP TABLE classified_rows AS {_classify_sql(src, preset, rules, keep_contacts)}")
        working = "classified_rows"
    else:
        classified = work_dir / "classified.parquet"
        # uncompressed: the file lives for this run only, is read back several times and the disk is
        # cheaper than compressing and decompressing sixteen million rows
        con.execute(f"COPY ({_classify_sql(src, preset, rules, keep_contacts)}) TO {_quote(str(classified))} "
                    "(FORMAT parquet, COMPRESSION uncompressed)")
        working = f"read_parquet({_quote(str(classified))})"
    _flag_duplicates(con, working, raw_cols, rules["drop_duplicate_lines"])
    total_note = refuse_repeated_total(con, src.path, cols)
    merged = _guest_maps(con, rules["identity_from_contact"], rules["max_members_per_contact"])
    _merged_lines(con, merged)
    netted = net_returns(con, "merged", rules["net_returns"])
    masked = screen_lines(con, working)  # before anything is written or counted
    con.execute(ORDERS_SQL)

    ledger = _ledger(con, src, preset, cols, rules, netted, merged)
    ledger.missing_fields = missing_important(preset, cols)
    if total_note:
        ledger.problems.append(total_note)
    ledger.source["file"], file_masked = masked_file_name(ledger.source["file"])
    ledger.masked = {**masked, **file_masked}
    _check_usable(con, ledger, src, cols, rules)

    as_of = None
    if out_dir is not None:
        as_of = _write_outputs(con, Path(out_dir), ledger, keep_contacts)
    return IngestResult(ledger=ledger, out_dir=Path(out_dir) if out_dir else None, as_of=as_of)


def _ledger(con: duckdb.DuckDBPyConnection, src: RawSource, preset: Preset, cols: dict[str, str],
            rules: dict[str, Any], netted: bool = False, merged: bool = False) -> Ledger:
    # one grouping of the lines by reason gives the ledger lines, the identity counts of the kept
    # lines, the returns' figures and the problems' counts (each had a pass of its own); the
    # distinct members are counted over the merged kept rows only, so the key column of the other
    # (nearly all) rows is never read, and only when guests were merged (a DISTINCT aggregate
    # doubles the cost of the grouping)
    aggregates = {
        "rows": "count(*)", "amount": "coalesce(sum(amount), 0)",
        "member_rows": "count(*) FILTER (WHERE has_member_id)",
        "by_email": "count(*) FILTER (WHERE merged_by_email)",
        "by_phone": "count(*) FILTER (WHERE merged_by_phone)",
        "members_matched": ("count(DISTINCT customer_key) FILTER (WHERE reason IS NULL AND (merged_by_email OR merged_by_phone))"
                            if merged else "0"),
        **RETURN_AGGREGATES,
    }
    rows = con.execute(f"SELECT reason, {', '.join(aggregates.values())} FROM lines GROUP BY reason").fetchall()
    totals = {r[0]: dict(zip(aggregates, r[1:])) for r in rows}
    by_reason = {r: (int(t["rows"]), Decimal(t["amount"])) for r, t in totals.items()}
    kept = totals.get(None, {})
    refunded = refunded_amount(totals) if netted else Decimal(0)
    if refunded:  # no rows of its own: the part of the kept lines' amounts refunded
        by_reason["refunded"] = (0, refunded)
    kept_rows, kept_amount = by_reason.pop(None, (0, Decimal(0)))
    excluded = [LedgerLine(r, *by_reason[r]) for r in REASONS if r in by_reason]
    # input counted on its own: rows are numbered 1..N in file order, so a lost or doubled row
    # (a join fanning out, say: the guests' merge joins keys that are unique) shows as
    # count != max(_row) or != the lines' count before any ledger is written
    input_rows, last_row, input_amount, placeholders, shared = con.execute(
        "SELECT count(*), coalesce(max(_row), 0), coalesce(sum(amount), 0), count(*) FILTER (WHERE placeholder_contact), "
        "(SELECT count(*) FROM shared_contacts) FROM classified").fetchone()
    if input_rows != last_row or input_rows != kept_rows + sum(n for n, _ in by_reason.values()):
        raise RuntimeError(f"ingest lost or doubled rows: {input_rows:,} classified, {last_row:,} read")
    # customers counted from one grouping of the orders (one hash table, not one per DISTINCT)
    stats = con.execute("""
        SELECT coalesce(sum(orders), 0), count(customer_id), min(first_order), max(last_order),
               count(*) FILTER (WHERE customer_id LIKE 'g-%'),
               count(*) FILTER (WHERE customer_id LIKE 'p-%'),
               count(*) FILTER (WHERE customer_id LIKE 'x-%')
        FROM (SELECT customer_id, count(*) AS orders, min(ordered_at) AS first_order,
                     max(ordered_at) AS last_order
              FROM orders_t GROUP BY customer_id)
    """).fetchone()
    identity = {
        "rows_with_customer_id": int(kept.get("member_rows", 0)),
        "guest_rows_merged_into_member_by_email": int(kept.get("by_email", 0)),
        "guest_rows_merged_into_member_by_phone": int(kept.get("by_phone", 0)),
        "members_matched_by_guest_orders": int(kept.get("members_matched", 0)),
        "guest_ids_from_email": int(stats[4]),
        "guest_ids_from_phone": int(stats[5]),
        "contact_ids_pseudonymised": int(stats[6]),
        "rows_with_placeholder_contact": int(placeholders),
        "contacts_shared_by_too_many_members": int(shared),
    }
    source = {
        "file": src.path.name,
        "sha256": _sha256(src.path),
        "bytes": src.path.stat().st_size,
        "format": src.format,
        "encoding": src.encoding,
        "preset": preset.name,
        "columns": {k: v for k, v in cols.items()},
        "rules": {k: v for k, v in rules.items() if not isinstance(v, list) or len(v) <= 20},
    }
    ledger = Ledger(
        source=source, input_rows=input_rows, input_amount=Decimal(input_amount),
        kept_rows=kept_rows, kept_amount=kept_amount, excluded=excluded,
        orders=int(stats[0]), customers=int(stats[1]),
        first_order=stats[2].isoformat(sep=" ") if stats[2] else None,
        last_order=stats[3].isoformat(sep=" ") if stats[3] else None,
        identity=identity, problems=list(src.notes),
        netted=netted_lines(totals) if netted else [],
        returns=returns_summary(con, netted, totals),
    )
    ledger.problems.extend(_problems(con, src, cols, {r: n for r, (n, _) in by_reason.items() if r != "refunded"}))
    return ledger


def _examples(con: duckdb.DuckDBPyConnection, columns: dict[str, str], src: RawSource,
              redact: set[str] = frozenset()) -> dict[str, str]:
    """The first three lines of each reason, as "line N: 'value'" with the reason's column: one
    pass over the lines for all reasons, and the file scanned for line numbers as far as the last
    example only. redact: the reasons whose values are redacted (for ledger.json, which travels
    with the report: no names or contact details)."""
    if not columns:
        return {}
    value = "CASE reason " + " ".join(f"WHEN {_quote(r)} THEN {c}" for r, c in columns.items()) + " END"
    found = dict(con.execute(
        f"SELECT reason, min_by({{'r': _row, 'v': {value}}}, _row, 3) FROM lines "
        f"WHERE reason IN ({', '.join(_quote(r) for r in columns)}) GROUP BY reason").fetchall())
    src.scan_to(max((e["r"] for rows in found.values() for e in rows), default=0))
    out = {}
    for reason, rows in found.items():
        shown = redact_example if reason in redact else str
        out[reason] = ", ".join(f"line {src.line_of(e['r'])}: {'(empty)' if e['v'] is None else repr(shown(e['v'])[:40])}"
                                for e in rows)
    return out


def _problems(con: duckdb.DuckDBPyConnection, src: RawSource, cols: dict[str, str],
              counts: dict[str, int]) -> list[str]:
    """Readable lines about the rows a user would want to look at, with examples; counts: the
    excluded rows by reason."""
    unit = "row" if src.format in ("parquet", "excel") else "line"
    out = []
    checks = [
        ("bad_date", "raw_date", f"unreadable order date in column '{cols['ordered_at']}'"),
        ("bad_amount", "raw_amount", f"missing or non-numeric amount in column '{cols.get('amount') or cols.get('unit_price')}'"),
        ("negative_amount", NEGATIVE_EXAMPLE, "negative amount or quantity"),
        ("credit_note_unmatched", NEGATIVE_EXAMPLE,
         ("credit note of a customer without an earlier purchase in the data (a sale before the export "
          "starts?): reported, not netted")),
        ("no_customer", "order_id", "no customer id, e-mail or phone (order id shown)"),
    ]
    wanted = {reason: column for reason, column, _ in checks if counts.get(reason, 0)}
    # the negative examples are numbers the ingest formats itself ("-1500.0 (quantity -1.0)"):
    # masking them would turn the word quantity into asterisks
    examples = _examples(con, wanted, src, redact={r for r, c in wanted.items() if c != NEGATIVE_EXAMPLE})
    for reason, column, text in checks:
        n = counts.get(reason, 0)
        if n:
            ex = examples[reason].replace("line ", f"{unit} ")
            out.append(f"{n:,} {unit}{'s' if n != 1 else ''} excluded: {text}; e.g. {ex}")
    conflicts, = con.execute("SELECT count(*) FROM orders_t WHERE mixed_customers").fetchone()
    if conflicts:
        out.append(f"{conflicts:,} orders have lines of more than one customer; the order is "
                   "attributed to the smallest customer id")
    return out


def _check_usable(con: duckdb.DuckDBPyConnection, ledger: Ledger, src: RawSource,
                  cols: dict[str, str], rules: dict[str, Any]) -> None:
    """Raise DataError when the data cannot give a trustworthy report."""
    share = rules["max_invalid_share"]
    limits = {
        "bad_date": ("order dates cannot be read", f"column '{cols['ordered_at']}'",
                     "set `date_format:` in the client YAML (e.g. \"%d/%m/%Y %H:%M\") or map the right "
                     "column as ordered_at"),
        "bad_amount": ("amounts are missing or not numbers",
                       f"column '{cols.get('amount') or cols.get('unit_price')}'",
                       "map the right column as amount (or unit_price and quantity) in the client YAML"),
        "negative_amount": ("amounts or quantities are negative",
                            f"column '{cols.get('amount') or cols.get('unit_price')}'",
                            "check that the amount column is sales, not refunds; if negative lines "
                            "are real refunds, raise rules.max_invalid_share"),
    }
    for line in ledger.excluded:
        if line.reason in limits and ledger.input_rows and line.rows / ledger.input_rows > share:
            what, where, fix = limits[line.reason]
            column = {"bad_date": "raw_date", "bad_amount": "raw_amount"}.get(line.reason, NEGATIVE_EXAMPLE)
            raise DataError(
                f"{src.path}: {line.rows:,} of {ledger.input_rows:,} rows "
                f"({line.rows / ledger.input_rows:.1%}) {what} ({where}); the limit is {share:.0%}. "
                f"Examples: {_examples(con, {line.reason: column}, src)[line.reason]}",
                hint=fix,
            )
    # credit notes are netted, not limited by max_invalid_share (a fashion shop returns a fifth of
    # its sales); but more credit notes than other rows is no sales export: refunds, or flipped signs
    credits = int((ledger.returns or {}).get("credit_notes", 0))
    if ledger.input_rows and credits > ledger.input_rows / 2:
        examples = con.execute(
            f"SELECT _row, {NEGATIVE_EXAMPLE} FROM lines WHERE net_kind IS NOT NULL OR reason = 'credit_note_unmatched' "
            "ORDER BY _row LIMIT 3").fetchall()
        shown = ", ".join(f"line {src.line_of(r)}: {v!r}" for r, v in examples)
        raise DataError(
            f"{src.path}: {credits:,} of {ledger.input_rows:,} rows ({credits / ledger.input_rows:.1%}) amounts or "
            f"quantities are negative (column '{cols.get('amount') or cols.get('unit_price')}'): more credit notes "
            f"than sales. Examples: {shown}",
            hint="check that the amount column is sales, not refunds, and the sign of the amounts; to use the "
                 "file as it is, set rules.net_returns: false and raise rules.max_invalid_share",
        )
    if ledger.input_rows == 0:
        raise DataError(f"{src.path}: the file has a header but no order rows.",
                        hint="export the orders again with a date range that contains orders")
    if ledger.kept_rows == 0:
        reasons = ", ".join(f"{REASONS[e.reason]['en'].lower()}: {e.rows:,}" for e in ledger.excluded)
        raise DataError(
            f"{src.path}: no usable order rows: all {ledger.input_rows:,} rows were excluded ({reasons}).",
            hint="check the preset or mapping and the rules in the client YAML",
        )


def _write_outputs(con: duckdb.DuckDBPyConnection, out_dir: Path, ledger: Ledger,
                   keep_contacts: bool) -> dt.date:
    """Write order_lines, orders (and contacts) Parquet and ledger.json/csv atomically into out_dir."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        con.execute(f"""
            COPY (
                SELECT order_id, customer_key AS customer_id, ordered_at, sku, product, category,
                       CAST(quantity AS DOUBLE) AS quantity, CAST(unit_price AS DOUBLE) AS unit_price,
                       CAST(amount AS DOUBLE) AS amount, line_kind AS line_type
                FROM lines WHERE reason IS NULL  -- in no particular order: no reader needs one
            ) TO {_quote(str(tmp / 'order_lines.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)""")
        # a total order (time, then id): the same file gives the same orders.parquet on every run,
        # so ties in the chapters' first/last-order picks cannot change between runs
        con.execute(f"COPY (SELECT * EXCLUDE (mixed_customers) FROM orders_t ORDER BY ordered_at, order_id) "
                    f"TO {_quote(str(tmp / 'orders.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")
        if keep_contacts:  # only when the client allows e-mail exports; reports never read it
            con.execute(f"""
                COPY (
                    SELECT customer_key AS customer_id, min(email) AS email, min(phone) AS phone
                    FROM lines WHERE reason IS NULL AND (email IS NOT NULL OR phone IS NOT NULL)
                    GROUP BY customer_key ORDER BY customer_key
                ) TO {_quote(str(tmp / 'contacts.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)""")
        ledger.save(tmp / "ledger.json")
        ledger.to_frame("en").to_csv(tmp / "ledger.csv", index=False)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    last = dt.datetime.fromisoformat(ledger.last_order) if ledger.last_order else None
    return (last.date() + dt.timedelta(days=1)) if last else None


__all__ = ["IngestResult", "ingest_file", "ingest_client", "resolve_rules"]
