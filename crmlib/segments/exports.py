"""Customer lists a shop can act on: one CSV per segment and one Excel workbook, for a mail tool.

Written by the report pipeline after the notebooks into reports/<client>/<as-of>/exports/:
- <scheme>_<NN>_<key>.csv per segment (NN = the segment's position, best first), UTF-8 with a
  BOM so Excel opens Japanese text correctly, CRLF line ends; every segment gets a file, empty
  ones a header only;
- segments.xlsx with a sheet per segment (a segment longer than an Excel sheet continues on
  sheets named '... (2)'), customer ids stored as text so leading zeros survive. It is written
  only up to segments.exports.xlsx_max_customers customers: beyond that a workbook is too big
  to open, and the CSVs carry the same rows.
Text cells that would start a formula (= + - @, tab, CR) get a leading single quote (OWASP).
Rows: customer_id, [email], the segment, RFM scores, recency, purchases, orders, revenue, first
and last order day, CPM cell, ladder stage and spend decile; biggest spenders first.

The lists are sorted and written by DuckDB from a compact table (ids, class codes, numbers), so
memory and time grow with the customers, not with the text of the lists: 50 million customers
are written out of core. E-mail addresses are joined from processed_dir/contacts.parquet only
when the client YAML allows it (segments.exports.include_email, default off). Nothing here is
ever called by a notebook, so contact data never reaches the HTML report.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import DataError
from ..orders import connect
from ..safe_cells import BOM, copy_list_csv, neutralise_formulas, neutralise_sql
from ..sql import sql_ident, sql_literal
from ..store.segments.classify import Segmentation, segment_customers
from ..store.segments.migration import SCHEME_COLUMNS
from ..store.segments.names import class_names, display_order
from ..store.segments.settings import SegmentSettings, load_settings
from ..xlsx import write_xlsx

WORKBOOK = "segments.xlsx"
SCHEME_PREFIX = {"rfm": "RFM", "cpm": "CPM", "ladder": "LAD"}

LIST_COLUMNS = ("customer_id", "email", "rfm_segment", "rfm_segment_key", "rfm", "r", "f", "m", "recency_days",
                "purchases", "orders", "revenue", "first_order", "last_order", "cpm_cell", "ladder",
                "ladder_stage", "spend_decile")


def export_file_name(scheme: str, position: int, key: str) -> str:
    """The CSV of one segment: 'rfm_01_champions.csv' (ASCII, sorts in rank order)."""
    return f"{scheme}_{position:02d}_{key}.csv"


def _whole_or_round(values: pd.Series) -> pd.Series:
    """Amounts as whole numbers when they all are (yen), else rounded to 2 decimals."""
    rounded = values.round(2)
    if np.all(np.isfinite(rounded)) and np.all(rounded == np.round(rounded)):
        return rounded.astype("int64")
    return rounded


def _names(column: pd.Series, names: dict[str, str]) -> pd.Categorical:
    """A class column with the display names as categories (neutralised: names come from YAML)."""
    safe = neutralise_formulas(pd.Series([names[c] for c in column.cat.categories], dtype="str"))
    return column.cat.rename_categories(safe.tolist())


def list_table(seg: Segmentation, lang: str) -> pa.Table:
    """The compact table DuckDB writes the lists from: one row per customer, classes as dictionary
    codes (display name and key), numbers as numbers in their own widths; no text is built per
    customer here. Made column by column into Arrow, not through a second pandas frame: at 51M
    customers each extra copy of the customers is gigabytes (the integer columns alone were 2.4 GB
    as int64), and the writer runs beside the next chapter's kernel."""
    c = seg.customers
    columns = {
        "customer_id": lambda: c["customer_id"].astype("str"),
        "rfm_segment": lambda: _names(c["rfm_segment"], class_names(seg, "rfm", lang)),
        "rfm_segment_key": lambda: c["rfm_segment"],
        "rfm": lambda: c["rfm"], "r": lambda: c["r"], "f": lambda: c["f"], "m": lambda: c["m"],
        "recency_days": lambda: c["recency_days"], "purchases": lambda: c["purchases"], "orders": lambda: c["orders"],
        "revenue": lambda: _whole_or_round(c["revenue"]),
        "revenue_sort": lambda: c["revenue"].astype("float64"),  # the unrounded amount orders the list
        "first_order": lambda: c["first_order"], "last_order": lambda: c["last_order"],
        "cpm_cell": lambda: _names(c["cpm_cell"], class_names(seg, "cpm", lang)),
        "cpm_cell_key": lambda: c["cpm_cell"],
        "ladder": lambda: _names(c["ladder"], class_names(seg, "ladder", lang)),
        "ladder_key": lambda: c["ladder"],
        "ladder_stage": lambda: c["ladder_stage"], "spend_decile": lambda: c["spend_decile"],
    }
    return pa.table({name: pa.Array.from_pandas(pd.Series(make(), copy=False)) for name, make in columns.items()})


def list_sql(scheme: str, key: str, with_email: bool, first_name: str = "customer_id") -> str:
    """The rows of one segment's list, biggest spenders first (ties by customer id)."""
    selected = []
    for name in LIST_COLUMNS:
        if name == "email" and not with_email:
            continue
        if name == "customer_id":
            expr = neutralise_sql("l.customer_id")
        elif name == "email":
            expr = neutralise_sql("coalesce(c.email, '')")
        elif name == "rfm":
            expr = "CAST(l.rfm AS VARCHAR)"  # a code such as 545, text as before
        elif name in ("first_order", "last_order"):
            expr = f"CAST(l.{name} AS DATE)"
        else:
            expr = f"l.{name}"
        selected.append(f"{expr} AS {sql_ident(first_name if name == 'customer_id' else name)}")
    contacts = "LEFT JOIN contacts c USING (customer_id)" if with_email else ""
    key_column = SCHEME_COLUMNS[scheme] + "_key"  # rfm_segment_key, cpm_cell_key, ladder_key
    return (f"SELECT {', '.join(selected)} FROM lists l {contacts} "
            f"WHERE CAST(l.{key_column} AS VARCHAR) = {sql_literal(key)} "
            f"ORDER BY l.revenue_sort DESC, l.customer_id")


def _contacts_view(con, processed_dir: Path) -> None:
    """A view of one e-mail per customer from contacts.parquet (a clear error when it is missing)."""
    path = processed_dir / "contacts.parquet"
    if not path.is_file():
        raise DataError(
            f"{path}: no contacts file, so e-mail addresses cannot be exported.",
            hint="re-run the ingest (it writes contacts.parquet) or set segments.exports.include_email: false",
        )
    con.execute(f"CREATE VIEW contacts AS SELECT customer_id, min(email) AS email "
                f"FROM read_parquet({sql_literal(str(path))}) GROUP BY customer_id")


def write_segment_exports(
    processed_dir: Path | str,
    as_of: dt.date | str,
    settings: SegmentSettings | dict | None,
    out_dir: Path | str,
    *,
    lang: str = "ja",
) -> list[Path]:
    """Write the per-segment CSVs (and segments.xlsx up to xlsx_max_customers) into out_dir;
    returns the files written (none when segments.exports.enabled is false)."""
    settings = load_settings(settings)
    if not settings.exports.enabled:
        return []
    processed_dir, out_dir = Path(processed_dir), Path(out_dir)
    seg = segment_customers(processed_dir / "orders.parquet", as_of, settings)
    lists: list[tuple[str, str, str]] = []  # (scheme, key, sheet title), in file order
    prefixed = len(settings.exports.schemes) > 1
    for scheme in settings.exports.schemes:
        names = class_names(seg, scheme, lang)
        for position, key in enumerate(display_order(seg, scheme), start=1):
            title = f"{position:02d} {names[key]}"
            lists.append((scheme, key, f"{SCHEME_PREFIX[scheme]} {title}" if prefixed else title))
    table = list_table(seg, lang)
    del seg  # the compact table holds what the lists need
    with_email = settings.exports.include_email
    out_dir.mkdir(parents=True, exist_ok=True)
    con = connect(fresh=True)  # a database of its own: the setting below is database-wide
    # connect() lets DuckDB write in parallel without keeping row order; the lists promise their
    # ORDER BY (biggest spenders first), so COPY must keep it
    con.execute("SET preserve_insertion_order = true")
    try:
        if with_email:
            _contacts_view(con, processed_dir)
        con.register("lists", table)
        written: list[Path] = []
        positions: dict[str, int] = {}
        for scheme, key, _ in lists:
            positions[scheme] = positions.get(scheme, 0) + 1
            path = out_dir / export_file_name(scheme, positions[scheme], key)
            copy_list_csv(con, list_sql(scheme, key, with_email, BOM + "customer_id"), path)
            written.append(path)
        if table.num_rows <= settings.exports.xlsx_max_customers:
            sheets = [(title, con.execute(list_sql(scheme, key, with_email)).df()) for scheme, key, title in lists]
            written.append(write_xlsx(out_dir / WORKBOOK, sheets))
        return written
    finally:
        con.close()

__all__ = ["WORKBOOK", "export_file_name", "list_sql", "list_table", "write_segment_exports"]
