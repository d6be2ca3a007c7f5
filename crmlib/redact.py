"""Mask contact details and names in the few raw values the ledger quotes as examples.

The ledger explains excluded rows with examples ("line 12: '2024/13/45'"); it is copied into the
report folder, which goes to the client. A shifted CSV line can put a name, an e-mail or a phone
number in the date or amount column, so examples keep their shape (digits, separators, date words)
and lose everything that could identify a person.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[^\s@'\"<>]+@[^\s@'\"<>]+")
PHONE = re.compile(r"\+?\d[\d\-\s().]{7,}\d")  # 9+ characters of digits and separators
# words that carry a date's or an amount's shape and nobody's identity
_KEEP_WORDS = re.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|am|pm|utc|gmt|jst|nan|null|none|n/a)\b"
)
_LETTER = re.compile(r"[^\W\d_]")
_DATE_CHARS = set("年月日時分秒午前後T")


def redact_example(value: object) -> str:
    """A raw cell value fit to quote in a report: e-mails, phone-like digit runs and letters masked
    (date words such as 'May', 'PM', 年月日 kept): '高橋 03-5555-0199' -> '** <phone>'."""
    text = EMAIL.sub("<e-mail>", str(value))
    text = PHONE.sub(lambda m: m.group(0) if _looks_like_date_or_amount(m.group(0)) else "<phone>", text)
    kept = {m.span() for m in _KEEP_WORDS.finditer(text)}
    out, i = [], 0
    for start, end in sorted(kept):
        out.append(_mask(text[i:start]))
        out.append(text[start:end])
        i = end
    out.append(_mask(text[i:]))
    return "".join(out)


def _mask(text: str) -> str:
    """Letters -> '*' outside the <e-mail>/<phone> markers, except the characters of Japanese
    dates (2024年5月1日)."""
    parts = re.split(r"(<e-mail>|<phone>)", text)
    return "".join(
        part if part in ("<e-mail>", "<phone>")
        else "".join("*" if _LETTER.match(c) and c not in _DATE_CHARS else c for c in part)
        for part in parts
    )


def _looks_like_date_or_amount(run: str) -> bool:
    """'2024-05-01 10:00', '2024/5/1', '1,234,567.00' are data shapes, not phone numbers."""
    return bool(re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}(?::\d{2}){0,2})?", run)
                or re.fullmatch(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{4}(?: \d{1,2}(?::\d{2}){0,2})?", run)
                or re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", run))


# a raw value an error message quotes as an example: "line 2: '...'", "rows 5: '...'", "(the
# line: '...')" (as repr() writes it: single quotes, or double quotes when it holds one)
_QUOTED_EXAMPLE = re.compile(r"""((?:\b(?:line|row)s? [\d,]+|\bthe line): )('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def redact_message(message: str) -> str:
    """An error message fit to show outside the client's own console (the batch index, its
    summary JSON and table): each quoted example redacted as in ledger.json, and e-mail and phone
    shapes masked anywhere else in it (a file name, a header)."""
    from .contact_shapes import mask_contacts

    def example(match: re.Match[str]) -> str:
        quoted = match.group(2)
        return match.group(1) + quoted[0] + redact_example(quoted[1:-1]) + quoted[-1]

    return mask_contacts(_QUOTED_EXAMPLE.sub(example, message))
