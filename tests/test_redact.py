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


# Error messages shown outside the client's own console (issue #19 item 8): quoted examples
# redacted as in ledger.json, e-mail and phone shapes masked anywhere; the rest unchanged.
@pytest.mark.parametrize("message, shown", [
    ("/d/a.csv: 40 of 40 rows (100.0%) order dates cannot be read (column 'ordered_at'); the limit is 2%. "
     "Examples: line 2: 'sato.jiro@example.jp', line 3: '高橋 三郎 03-5555-0199', row 9: 'yesterday'",
     "/d/a.csv: 40 of 40 rows (100.0%) order dates cannot be read (column 'ordered_at'); the limit is 2%. "
     "Examples: line 2: '<e-mail>', line 3: '** ** <phone>', row 9: '*********'"),
    ("/d/a.csv: line 5 cannot be read: it has 5 fields where the header has 4 "
     "(the line: 'O1,山田 花子,090-1234-5678,2024-01-01').",
     "/d/a.csv: line 5 cannot be read: it has 5 fields where the header has 4 "
     "(the line: '*1,** **,<phone>,2024-01-01')."),
    ("line 4: \"O'Brien\"", "line 4: \"*'*****\""),                        # repr's double quotes
    ("/d/sato.jiro@example.jp.csv: the file is empty.", "/d/<e-mail>: the file is empty."),  # path kept
    ("a.csv: missing column 'amount'", "a.csv: missing column 'amount'"),  # no example: unchanged
    ("x.yaml: unknown key 'lnag'.", "x.yaml: unknown key 'lnag'."),
])
def test_redact_message(message, shown):
    from crmlib.redact import redact_message

    assert redact_message(message) == shown
