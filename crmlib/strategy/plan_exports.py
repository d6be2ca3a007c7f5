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

from ..safe_cells import neutralise_frame
from ..store.segments.classify import Segmentation
from ..xlsx import write_xlsx
from .plan import action_plan, list_file, target_list
from .plan_report import workbook_sheet
from .settings import StrategySettings

WORKBOOK = "action_plan.xlsx"


def write_plan_exports(seg: Segmentation, settings: StrategySettings, out_dir: Path | str, lang: str = "ja") -> list[Path]:
    """Write the lists and action_plan.xlsx into out_dir; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame, measures, source = action_plan(seg, settings, lang)
    written: list[Path] = []
    lists = []
    for position, measure in enumerate(measures, start=1):
        table = neutralise_frame(target_list(seg, source, measure, settings.plan.control_share))
        path = out_dir / list_file(position, measure.segment)
        table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        written.append(path)
        lists.append((f"{position:02d} {measure.name}", table))
    sheets = [("plan", workbook_sheet(frame, seg, [p.name for p in written], lang))]
    if sum(len(table) for _, table in lists) <= settings.plan.xlsx_max_customers:
        sheets += lists
    written.append(write_xlsx(out_dir / WORKBOOK, sheets))
    return written


__all__ = ["WORKBOOK", "write_plan_exports"]
