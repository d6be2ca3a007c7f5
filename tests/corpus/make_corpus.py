"""Writes the broken input files of tests/corpus/files/ (run once; the files are committed).

    .venv/bin/python tests/corpus/make_corpus.py

Deterministic: the same bytes every time (gzip without a timestamp, fixed workbook metadata).
Each file is named for its defect; tests/corpus/manifest.yaml says what the CLI must answer.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

FILES = Path(__file__).resolve().parent / "files"
HEADER = "order_id,customer_id,ordered_at,amount\n"


def good_rows(n: int, start: int = 0) -> str:
    return "".join(f"O{i},C{i % 7},2024-01-{1 + i % 28:02d},{1000 + i}\n" for i in range(start, start + n))


def write(name: str, data: bytes | str) -> None:
    (FILES / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sheet_xlsx(rows: list[list[str]]) -> bytes:
    """A minimal valid .xlsx with one sheet of inline strings (openpyxl reads it)."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cells = "".join(
        f'<row r="{r + 1}">' + "".join(
            f'<c r="{chr(65 + c)}{r + 1}" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in enumerate(row))
        + "</row>" for r, row in enumerate(rows))
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
                            '<sheet name="orders" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{ns}"><sheetData>{cells}</sheetData></worksheet>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            book.writestr(info, text)
    return out.getvalue()


def main() -> None:
    FILES.mkdir(exist_ok=True)
    write("empty.csv", b"")
    write("blank_lines.csv", b"\n\n  \r\n")
    write("bom_only.csv", b"\xef\xbb\xbf\n")
    write("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    write("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    write("windows_1252.csv", (HEADER + "O1,Café,2024-01-01,100\n").encode("cp1252"))
    write("shift_jis.csv", (HEADER + good_rows(3) + "O9,顧客,2024-01-02,200\n").encode("cp932"))
    # valid UTF-8 for the first megabyte (what the encoding check reads), CP932 bytes after it
    body = HEADER + "O1,C1,2024-01-01,100\n" * 60_000  # one line repeated: a few kB gzipped
    write("utf8_then_cp932.csv.gz", gz(body.encode("utf-8") + "O-x,顧客,2024-01-02,200\n".encode("cp932")))
    # valid CP932 for the first megabyte, then a lead byte without its second byte
    body = HEADER + "O1,顧客1,2024-01-01,1000\n" * 50_000
    write("cp932_then_garbage.csv.gz", gz(body.encode("cp932") + b"O-x,\x81\x39,2024-01-02,200\n"))
    write("header_only.csv", HEADER)
    write("one_column.csv", "order_id\nO1\nO2\n")
    write("misspelled_date_column.csv", "order_id,customer_id,order_dte,amount\nO1,C1,2024-01-01,100\n")
    write("no_customer_column.csv", "order_id,client,ordered_at,amount\nO1,C1,2024-01-01,100\n")
    write("unreadable_dates.csv", HEADER + "".join(f"O{i},C1,yesterday,100\n" for i in range(50)))
    write("day_first_dates.csv", HEADER + "".join(f"O{i},C1,{13 + i % 15}/01/2024,100\n" for i in range(30)))
    write("non_numeric_amounts.csv", HEADER + good_rows(60) + "".join(f"X{i},C1,2024-01-02,n/a\n" for i in range(9)))
    write("decimal_comma_amounts.csv", "order_id;customer_id;ordered_at;amount\n"
          + "".join(f"O{i};C1;2024-01-02;{100 + i},50\n" for i in range(20)))
    write("negative_amounts.csv", HEADER + "".join(f"O{i},C1,2024-01-02,-{100 + i}\n" for i in range(50))
          + good_rows(20))
    write("all_zero_amounts.csv", HEADER + "".join(f"O{i},C1,2024-01-02,0\n" for i in range(10)))
    write("extra_field.csv", HEADER + good_rows(5) + "O99,C1,2024-01-02,100,oops\n")
    write("unclosed_quote.csv", HEADER + good_rows(5) + '"O99,C1,2024-01-02,100\n' + good_rows(3, 10))
    write("line_break_then_unclosed_quote.csv",
          "order_id,customer_id,ordered_at,amount,memo\n" + 'O1,C1,2024-01-01,100,"two\nlines"\n'
          + 'O2,C1,2024-01-02,200,"never closed\n')
    write("truncated.csv.gz", gz((HEADER + good_rows(5000)).encode())[:-200])
    write("not_a_workbook.xlsx", b"PK\x03\x04" + b"this is not a zip archive" * 10)
    write("empty_sheet.xlsx", sheet_xlsx([["order_id", "customer_id", "ordered_at", "amount"]]))
    write("corrupt.parquet", b"PAR1" + b"\x15\x04" * 100 + b"garbage" + b"PAR1")
    (FILES / "a_folder.csv").mkdir(exist_ok=True)
    (FILES / "a_folder.csv" / ".gitkeep").write_bytes(b"")
    write("good.csv", HEADER + good_rows(60))


if __name__ == "__main__":
    main()
