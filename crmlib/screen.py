"""Mask e-mail and phone shapes in the text columns the chapters print, once, at the ingest.

Channel, category, product, SKU, source, region and status values are printed as they are in
tables, figures and takeaway sentences of every chapter, and in the executed notebooks. The ingest
screens them before orders.parquet and order_lines.parquet are written, so no chapter and no
notebook ever sees the raw value (the rule: crmlib/contact_shapes.py). The ledger records how many
kept lines of each column were masked (``masked``), and the data check says so.

DuckDB gathers each column's distinct values from the classified lines in one scan and keeps
the few that could hold a contact (an '@' or eight digits close together, RE2): about 0.1 s per
million lines. Python applies the exact rule to those few. Only when something is to be masked, the view ``lines`` (read by everything the
ingest writes) is replaced by one that joins the masks in; otherwise nothing changes.
"""

from __future__ import annotations

import re

import duckdb

from .contact_shapes import CANDIDATE_SQL_PATTERN, mask_contacts
from .sql import sql_literal

SCREENED = ("sku", "product", "category", "channel", "source", "region", "status")
FILE_KEY = "file_name"  # the count key of the data file's name in Ledger.masked


def screen_lines(con: duckdb.DuckDBPyConnection, classified: str) -> dict[str, int]:
    """Mask contact shapes in the text columns of view ``lines``; returns the kept lines masked
    per column (only columns with any). classified: the classified lines (a table, or
    read_parquet of their file)."""
    pattern = sql_literal(CANDIDATE_SQL_PATTERN)
    # one scan; the pattern runs on each column's distinct values, not on every row (a filter
    # over SELECT DISTINCT is pushed below it, into the scan: 20 times slower)
    candidates = con.execute(
        "SELECT " + ", ".join(f"[x FOR x IN list(DISTINCT {c}) IF regexp_matches(x, {pattern})]" for c in SCREENED)
        + f" FROM {classified}").fetchone()
    import pandas as pd  # here: imported beside DuckDB's first read of the file (runs.run_client)

    masks: dict[str, pd.DataFrame] = {}
    for column, found in zip(SCREENED, candidates):
        pairs = [(v, mask_contacts(v)) for v in found or []]  # the few candidates (None: no rows)
        pairs = [(v, m) for v, m in pairs if m != v]
        if pairs:
            masks[column] = pd.DataFrame(pairs, columns=["v", "m"], dtype="str")
    if not masks:
        return {}
    con.execute("ALTER VIEW lines RENAME TO lines_unscreened")
    joins, replaced = [], []
    for column, frame in masks.items():
        table = f"screen_{column}"
        con.register(f"{table}_frame", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT v, m FROM {table}_frame")
        con.unregister(f"{table}_frame")
        joins.append(f"LEFT JOIN {table} ON {table}.v = l.{column}")
        replaced.append(f"coalesce({table}.m, l.{column}) AS {column}")
    con.execute(f"CREATE TEMP VIEW lines AS SELECT l.* REPLACE ({', '.join(replaced)}) "
                f"FROM lines_unscreened l {' '.join(joins)}")
    counts = ", ".join(f"count(*) FILTER (WHERE l.{c} IN (SELECT v FROM screen_{c}))" for c in masks)
    rows = con.execute(f"SELECT {counts} FROM lines_unscreened l WHERE l.reason IS NULL").fetchone()
    return {column: int(n) for column, n in zip(masks, rows) if n}


def masked_file_name(name: str) -> tuple[str, dict[str, int]]:
    """The data file's name as the ledger may quote it (its extension kept: 'sato@example.jp.csv'
    -> '<e-mail>.csv'), and its count for Ledger.masked."""
    ext = re.search(r"(?i)(\.(?:csv|tsv|txt|xlsx|parquet)(?:\.gz)?)$", name)
    stem, suffix = (name[:ext.start()], ext.group(1)) if ext else (name, "")
    shown = mask_contacts(stem) + suffix
    return shown, ({FILE_KEY: 1} if shown != name else {})


__all__ = ["FILE_KEY", "SCREENED", "masked_file_name", "screen_lines"]
