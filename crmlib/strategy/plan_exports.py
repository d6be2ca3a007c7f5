"""The action plan for the consultant to edit: exports/action_plan.xlsx and one CSV list per measure.

Written by the report pipeline after the notebooks (write_strategy_exports), never by a notebook.
Each list (plan_NN_<scheme>_<class>.csv) holds customer ids only (never an e-mail, phone or name),
the group (treated, or control: a reproducible random hold-out of plan.control_share) and the
customer's purchases, orders, revenue, last order day and days since; UTF-8 with a BOM and CRLF
line ends like the segment lists, text cells that would start a formula quoted (crmlib.safe_cells).
action_plan.xlsx holds the plan sheet (figures, owner, start, end and a progress column to fill
in) and, up to plan.xlsx_max_customers customers in all, one sheet per list; the workbook writer
(crmlib.xlsx) applies the same formula guard.
"""

from __future__ import annotations

from pathlib import Path

from ..orders import connect
from ..safe_cells import BOM, copy_list_csv
from ..store.segments.classify import Segmentation
from ..xlsx import write_xlsx
from .plan import action_plan, list_file, list_rows, list_sql
from .plan_report import workbook_sheet
from .settings import StrategySettings

WORKBOOK = "action_plan.xlsx"


def write_plan_exports(seg: Segmentation, settings: StrategySettings, out_dir: Path | str, lang: str = "ja") -> list[Path]:
    """Write the lists and action_plan.xlsx into out_dir; returns the files written. DuckDB sorts
    and writes each list from its compact table (crmlib.strategy.plan.list_rows), out of core."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame, measures, source = action_plan(seg, settings, lang)
    written: list[Path] = []
    sheets: list[tuple[str, object]] = []
    sizes = 0
    con = connect(fresh=True)  # a database of its own: the setting below is database-wide
    con.execute("SET preserve_insertion_order = true")  # COPY keeps the lists' ORDER BY
    try:
        for position, measure in enumerate(measures, start=1):
            table = list_rows(seg, source, measure, settings.plan.control_share)
            path = out_dir / list_file(position, measure.segment)
            con.register("plan_list", table)
            copy_list_csv(con, list_sql("plan_list", BOM + "customer_id"), path)
            sizes += table.num_rows
            if sizes <= settings.plan.xlsx_max_customers:  # the workbook's sheets, while it stays small
                sheets.append((f"{position:02d} {measure.name}", con.execute(list_sql("plan_list")).df()))
            con.unregister("plan_list")
            del table
            written.append(path)
    finally:
        con.close()
    book = [("plan", workbook_sheet(frame, seg, [p.name for p in written], lang))]
    if sizes <= settings.plan.xlsx_max_customers:
        book += sheets
    written.append(write_xlsx(out_dir / WORKBOOK, book))
    return written


__all__ = ["WORKBOOK", "write_plan_exports"]
