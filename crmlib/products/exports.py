"""The key-account list for the client: every regular customer slipping away, as CSV and xlsx in exports/.

Written by the report pipeline after the notebooks (registry: Chapter.exports), never by a
notebook. Rows: customer id (never an e-mail or phone: the ingest pseudonymises those), purchases,
last purchase day, own cycle (median days), expected day, days overdue, overdue ratio and the
revenue of the last value_days, and P(alive) where the LTV chapter's model passed its checks (no
such column otherwise), in the page's order. The CSV is UTF-8 with a BOM and CRLF
line ends like the segment lists; text cells that would start a formula get a leading quote
(crmlib.safe_cells), and the workbook is written by the common writer (crmlib.xlsx).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..safe_cells import neutralise_frame
from ..xlsx import write_xlsx
from .analysis import key_accounts
from .data import open_lines
from .model import key_model, lapse_window
from .report import KEY_FILE
from .settings import ProductSettings, load_settings

KEY_WORKBOOK = "key_accounts.xlsx"
COLUMNS = ("customer_id", "purchases", "last_day", "median_gap", "expected_day", "days_since", "overdue_days",
           "overdue_ratio", "value_at_risk", "p_alive")


def key_account_list(frame: pd.DataFrame) -> pd.DataFrame:
    """The list as written: dates as ISO days, numbers rounded, text neutralised against formulas;
    p_alive only where the model passed its checks."""
    model = frame.attrs.get("model")
    with_model = model is not None and model.ok
    out = frame[[c for c in COLUMNS if c != "p_alive" or with_model]].copy()
    out["customer_id"] = out["customer_id"].astype("str")
    for column in ("last_day", "expected_day"):
        out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d")
    out["overdue_ratio"] = out["overdue_ratio"].round(2)
    out["value_at_risk"] = out["value_at_risk"].round(2)
    if with_model:
        out["p_alive"] = out["p_alive"].round(4)
    return neutralise_frame(out)


def write_key_account_exports(processed_dir: Path | str, as_of: dt.date | str, settings: ProductSettings | dict | None,
                              out_dir: Path | str, *, lang: str = "ja") -> list[Path]:
    """Write key_accounts.csv (and key_accounts.xlsx up to exports.xlsx_max_customers); returns the files."""
    config = load_settings(settings)
    if not config.exports.enabled:
        return []
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])
    with open_lines(processed_dir, day) as lines:
        table = key_account_list(key_accounts(lines, config, key_model(processed_dir, day, config),
                                                lapse_window(processed_dir, day, config)))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / KEY_FILE
    table.to_csv(csv, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    written = [csv]
    if len(table) <= config.exports.xlsx_max_customers:
        written.append(write_xlsx(out_dir / KEY_WORKBOOK, [("key_accounts", table)]))
    return written
