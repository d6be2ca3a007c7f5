"""Customer lists a shop can act on: one CSV per segment and one Excel workbook, for a mail tool.

Written by the report pipeline after the notebooks into reports/<client>/<as-of>/exports/:
- <scheme>_<NN>_<key>.csv per segment (NN = the segment's position, best first), UTF-8 with a
  BOM so Excel opens Japanese text correctly; every segment gets a file, empty ones a header only;
- segments.xlsx with a sheet per segment (a segment longer than an Excel sheet continues on
  sheets named '... (2)'), customer ids stored as text so leading zeros survive.
Text cells that would start a formula (= + - @, tab, CR) get a leading single quote (OWASP).
Rows: customer_id, [email], the segment, RFM scores, recency, purchases, orders, revenue, first
and last order day, CPM cell, ladder stage and spend decile; biggest spenders first.

E-mail addresses are read from processed_dir/contacts.parquet only when the client YAML allows
it (segments.exports.include_email, default off). Nothing here is ever called by a notebook, so
contact data never reaches the HTML report.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from ..safe_cells import neutralise_frame
from .classify import Segmentation, segment_customers
from .migration import SCHEME_COLUMNS, match_rows
from .names import class_names, display_order
from .settings import SegmentSettings, load_settings
from .xlsx import write_xlsx

WORKBOOK = "segments.xlsx"
SCHEME_PREFIX = {"rfm": "RFM", "cpm": "CPM", "ladder": "LAD"}


def export_file_name(scheme: str, position: int, key: str) -> str:
    """The CSV of one segment: 'rfm_01_champions.csv' (ASCII, sorts in rank order)."""
    return f"{scheme}_{position:02d}_{key}.csv"


def _whole_or_round(values: pd.Series) -> pd.Series:
    """Amounts as whole numbers when they all are (yen), else rounded to 2 decimals."""
    rounded = values.round(2)
    if np.all(np.isfinite(rounded)) and np.all(rounded == np.round(rounded)):
        return rounded.astype("int64")
    return rounded


def _emails(processed_dir: Path, customer_ids: pd.Series) -> pd.Series:
    """The e-mail address of each customer (empty when unknown), from contacts.parquet."""
    path = processed_dir / "contacts.parquet"
    if not path.is_file():
        raise DataError(
            f"{path}: no contacts file, so e-mail addresses cannot be exported.",
            hint="re-run the ingest (it writes contacts.parquet) or set segments.exports.include_email: false",
        )
    contacts = pd.read_parquet(path, columns=["customer_id", "email"]).drop_duplicates("customer_id")
    rows = match_rows(contacts, customer_ids.to_frame("customer_id"))
    emails = pa.array(contacts["email"].astype("str"), type=pa.large_string())
    found = pc.take(emails, pa.array(rows, mask=rows < 0))  # null where the customer has no contact
    return pd.Series(pd.arrays.ArrowStringArray(found), index=customer_ids.index, name="email").fillna("")


def list_order(customers: pd.DataFrame) -> np.ndarray:
    """Row positions of the customers, biggest spenders first (ties by customer id)."""
    return np.lexsort((customers["customer_id"].to_numpy(dtype=object), -customers["revenue"].to_numpy()))


def export_frame(seg: Segmentation, lang: str, emails: pd.Series | None = None) -> pd.DataFrame:
    """One row per customer with everything a list carries, in list_order."""
    c = seg.customers
    frame = pd.DataFrame({"customer_id": c["customer_id"].astype(str)})
    if emails is not None:
        frame["email"] = emails.fillna("").astype("str")
    frame["rfm_segment"] = c["rfm_segment"].cat.rename_categories(class_names(seg, "rfm", lang)).astype(str)
    frame["rfm_segment_key"] = c["rfm_segment"].astype(str)
    frame["rfm"] = c["rfm"].astype(str)
    frame[["r", "f", "m"]] = c[["r", "f", "m"]].astype("int64")
    frame["recency_days"] = c["recency_days"]
    frame["purchases"] = c["purchases"]
    frame["orders"] = c["orders"]
    frame["revenue"] = _whole_or_round(c["revenue"])
    for column in ("first_order", "last_order"):  # ISO days, converted by numpy (no per-row strftime)
        frame[column] = c[column].to_numpy().astype("datetime64[D]").astype(str)
    frame["cpm_cell"] = c["cpm_cell"].cat.rename_categories(class_names(seg, "cpm", lang)).astype(str)
    frame["ladder"] = c["ladder"].cat.rename_categories(class_names(seg, "ladder", lang)).astype(str)
    frame["ladder_stage"] = c["ladder_stage"].astype("int64")
    frame["spend_decile"] = c["spend_decile"].astype("int64")
    return frame.iloc[list_order(c)].reset_index(drop=True)


def write_segment_exports(
    processed_dir: Path | str,
    as_of: dt.date | str,
    settings: SegmentSettings | dict | None,
    out_dir: Path | str,
    *,
    lang: str = "ja",
) -> list[Path]:
    """Write the per-segment CSVs and segments.xlsx into out_dir; returns the files written
    (none when segments.exports.enabled is false)."""
    settings = load_settings(settings)
    if not settings.exports.enabled:
        return []
    processed_dir, out_dir = Path(processed_dir), Path(out_dir)
    seg = segment_customers(processed_dir / "orders.parquet", as_of, settings)
    emails = _emails(processed_dir, seg.customers["customer_id"]) if settings.exports.include_email else None
    # text cells that Excel would run as formulas (a planted '=HYPERLINK(...)' id) get a quote
    frame = neutralise_frame(export_frame(seg, lang, emails))
    order = list_order(seg.customers)
    out_dir.mkdir(parents=True, exist_ok=True)

    written: list[Path] = []
    sheets: list[tuple[str, pd.DataFrame]] = []
    prefixed = len(settings.exports.schemes) > 1
    for scheme in settings.exports.schemes:
        column = SCHEME_COLUMNS[scheme]
        names = class_names(seg, scheme, lang)
        keys = seg.customers[column].astype(str).to_numpy()[order]  # aligned with frame's rows
        for position, key in enumerate(display_order(seg, scheme), start=1):
            part = frame[keys == key]
            path = out_dir / export_file_name(scheme, position, key)
            part.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
            written.append(path)
            title = f"{position:02d} {names[key]}"
            sheets.append((f"{SCHEME_PREFIX[scheme]} {title}" if prefixed else title, part))
    written.append(write_xlsx(out_dir / WORKBOOK, sheets))
    return written


__all__ = ["WORKBOOK", "export_file_name", "export_frame", "list_order", "write_segment_exports"]
