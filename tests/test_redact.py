"""Examples quoted in the ledger keep their shape and lose names and contact details."""

from __future__ import annotations

import pytest

from crmlib.redact import redact_example


@pytest.mark.parametrize("raw, shown", [
    ("高橋 三郎 03-5555-0199", "** ** <phone>"),       # a shifted line: name and phone in the date column
    ("taro.yamada@example.co.jp", "<e-mail>"),
    ("+81 90 1234 5678", "<phone>"),
    ("yesterday", "*********"),
    ("May 5th 2024", "May 5** 2024"),               # month names and digits keep the shape
    ("12/31/2024 11:00 PM", "12/31/2024 11:00 PM"),
    ("2024/13/45", "2024/13/45"),
    ("2024-05-01 25:61:00", "2024-05-01 25:61:00"),  # date-like digit runs are not phone numbers
    ("2024年5月1日", "2024年5月1日"),
    ("1,234,567.00", "1,234,567.00"),
    ("n/a", "n/a"),
])
def test_redact_example(raw, shown):
    assert redact_example(raw) == shown
