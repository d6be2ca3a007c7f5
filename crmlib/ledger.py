"""The ingest ledger: every input row is either kept or excluded for one named reason.

Rows and amounts reconcile exactly: input = kept + sum(excluded by reason). Amounts are
kept as ``Decimal`` so the check is exact, not within a float tolerance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Exclusion reasons in the order they are tested: a row gets the first reason that applies.
REASONS: dict[str, dict[str, str]] = {
    "bad_date": {"en": "Order date missing or unreadable", "ja": "注文日が空欄または読めない"},
    "bad_amount": {"en": "Amount missing or not a number", "ja": "金額が空欄または数値でない"},
    "duplicate_line": {"en": "Exact duplicate of an earlier line", "ja": "前の行と完全に重複"},
    "cancelled": {"en": "Cancelled order", "ja": "キャンセル注文"},
    "not_completed": {"en": "Order not completed (pending payment etc.)", "ja": "未完了の注文（決済待ちなど）"},
    "returned": {"en": "Returned order", "ja": "返品"},
    "non_product": {"en": "Shipping, fee, tax or other non-product line", "ja": "送料・手数料・税などの商品以外の行"},
    "gift_card": {"en": "Gift card sold (not merchandise revenue)", "ja": "ギフトカードの販売（商品売上ではない）"},
    "credit_note_unmatched": {"en": "Credit note without an earlier purchase in the data (reported, not netted)",
                              "ja": "データ内に元の購入がない返品・返金（報告のみ、相殺せず）"},
    "negative_amount": {"en": "Negative amount or quantity (refund, correction)", "ja": "マイナス金額・数量（返金・訂正）"},
    "zero_amount": {"en": "Zero amount", "ja": "金額ゼロ"},
    "no_customer": {"en": "No customer ID, e-mail or phone", "ja": "顧客ID・メール・電話番号なし"},
    # decided after the netting of returns (crmlib.returns), for kept lines only
    "reversed": {"en": "Order fully reversed by credit notes or refunds (not a purchase)",
                 "ja": "返品・返金で全額取り消された注文（購入に数えない）"},
    "refunded": {"en": "Refunded part of partially refunded orders (amount only)",
                 "ja": "一部返金された注文の返金額（金額のみ）"},
}

# Credit notes kept as negative lines of the purchase they reverse: a breakdown of the kept rows.
NETTED: dict[str, dict[str, str]] = {
    "returned_item": {"en": "of which credit notes, same item",
                      "ja": "うち返品（同じ商品の購入と相殺）"},
    "returned_customer": {"en": "of which credit notes, earlier order",
                          "ja": "うち返品（同じ顧客の直前の注文と相殺）"},
}


@dataclass
class LedgerLine:
    """One exclusion reason with its row count and amount."""

    reason: str
    rows: int
    amount: Decimal


@dataclass
class Ledger:
    """Row and amount accounting of one ingest run, saved as ``ledger.json``."""

    source: dict[str, Any]
    input_rows: int
    input_amount: Decimal
    kept_rows: int
    kept_amount: Decimal
    excluded: list[LedgerLine] = field(default_factory=list)
    orders: int = 0
    customers: int = 0
    first_order: str | None = None
    last_order: str | None = None
    identity: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # important optional fields the file lacks (status, line_type ...): said in validate and the data check
    missing_fields: list[str] = field(default_factory=list)
    # kept lines per text column (and file_name: 1) whose e-mail or phone shapes were masked
    masked: dict[str, int] = field(default_factory=dict)
    netted: list[LedgerLine] = field(default_factory=list)  # part of kept: credit notes netted
    returns: dict[str, Any] = field(default_factory=dict)

    @property
    def excluded_rows(self) -> int:
        return sum(line.rows for line in self.excluded)

    @property
    def excluded_amount(self) -> Decimal:
        return sum((line.amount for line in self.excluded), Decimal(0))

    def reconciles(self) -> bool:
        """True when rows and amounts add up exactly."""
        return (
            self.input_rows == self.kept_rows + self.excluded_rows
            and self.input_amount == self.kept_amount + self.excluded_amount
        )

    def to_frame(self, lang: str = "en") -> pd.DataFrame:
        """The ledger as a small table: input, kept, each exclusion reason; rows and amount."""
        import pandas as pd  # here: a run's process imports pandas beside DuckDB's first read

        label = {"en": ("Input (all rows)", "Kept for analysis"), "ja": ("元データ（全行）", "分析対象")}[lang]
        records = [("input", label[0], self.input_rows, self.input_amount)]
        records.append(("kept", label[1], self.kept_rows, self.kept_amount))
        for line in self.netted:  # rows and amounts inside the kept ones, not added again
            records.append((line.reason, NETTED.get(line.reason, {}).get(lang, line.reason), line.rows, line.amount))
        for line in self.excluded:
            text = REASONS.get(line.reason, {}).get(lang, line.reason)
            records.append((line.reason, text, line.rows, line.amount))
        frame = pd.DataFrame.from_records(records, columns=["reason", "label", "rows", "amount"])
        frame["amount"] = frame["amount"].astype(float)
        return frame

    def to_json(self) -> str:
        data = asdict(self)
        data["input_amount"] = str(self.input_amount)
        data["kept_amount"] = str(self.kept_amount)
        data["excluded"] = [
            {"reason": e.reason, "rows": e.rows, "amount": str(e.amount)} for e in self.excluded
        ]
        data["netted"] = [{"reason": e.reason, "rows": e.rows, "amount": str(e.amount)} for e in self.netted]
        data["reconciles"] = self.reconciles()
        return json.dumps(data, ensure_ascii=False, indent=2)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> "Ledger":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data.pop("reconciles", None)
        data["input_amount"] = Decimal(data["input_amount"])
        data["kept_amount"] = Decimal(data["kept_amount"])
        data["excluded"] = [
            LedgerLine(e["reason"], int(e["rows"]), Decimal(e["amount"])) for e in data["excluded"]
        ]
        data["netted"] = [
            LedgerLine(e["reason"], int(e["rows"]), Decimal(e["amount"])) for e in data.get("netted", [])
        ]
        return cls(**data)
