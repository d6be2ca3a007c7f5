"""crmlib.xlsx: every kind of column read back by openpyxl, across row blocks and sheets."""

import openpyxl
import pandas as pd
import pyarrow as pa

import crmlib.xlsx as xlsx


def test_columns_of_every_kind_read_back_across_row_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "_CHUNK", 2)  # 5 rows: three blocks of Arrow output per sheet
    frame = pd.DataFrame({
        "id": pd.Series(["C1", None, "=SUM(A1)", "a&b<c>", "日本語"], dtype="str"),
        "small": pd.Series([1, -2, 3, 4, 5], dtype="int8"),
        "big": pd.Series([10**12, 0, -1, 7, 8], dtype="int64"),
        "flag": [True, False, True, False, True],
        "spend": [1.5, float("nan"), float("inf"), 2.0, -0.25],
        "first": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04", "2024-04-05", "2024-05-06"]),
        "other": pd.Series([1, "x", None, 2.5, "y"], dtype=object),
    })
    path = xlsx.write_xlsx(tmp_path / "lists.xlsx", [("one", frame), ("two", frame.iloc[:1])])
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["one", "two"]
    rows = list(book["one"].iter_rows(values_only=True))
    assert rows[0] == ("id", "small", "big", "flag", "spend", "first", "other")
    assert [r[0] for r in rows[1:]] == ["C1", "", "'=SUM(A1)", "a&b<c>", "日本語"]  # a missing text: an empty text cell
    assert [r[1] for r in rows[1:]] == [1, -2, 3, 4, 5]
    assert [r[2] for r in rows[1:]] == [10**12, 0, -1, 7, 8]
    assert [r[3] for r in rows[1:]] == [1, 0, 1, 0, 1]
    assert [r[4] for r in rows[1:]] == [1.5, None, None, 2.0, -0.25]  # NaN and inf: empty cells
    assert [r[5] for r in rows[1:]] == ["2024-01-02", "2024-02-03", "2024-03-04", "2024-04-05", "2024-05-06"]
    assert [r[6] for r in rows[1:]] == ["1", "x", "", "2.5", "y"]
    assert list(book["two"].iter_rows(values_only=True))[1][:3] == ("C1", 1, 10**12)
    book.close()


def test_joined_text_follows_the_arrays_offsets():
    text = pa.array(["ab", "c", "", "déf", "g"])
    assert bytes(xlsx._joined(text.slice(1, 3))) == "cdéf".encode()
    assert bytes(xlsx._joined(pa.array(["x", "yz"], type=pa.large_string()).slice(1))) == b"yz"
    assert bytes(xlsx._joined(text.slice(0, 0))) == b""


def test_a_missing_date_is_an_empty_cell_not_a_lost_row(tmp_path):
    """A NaT made the whole row's XML null, and the row was left out of the sheet without a word;
    dates at midnight read as pandas writes them, other times with the time."""
    frame = pd.DataFrame({
        "day": pd.Series(pd.to_datetime(["2024-01-05", None, "2024-02-01"])).astype("datetime64[us]"),
        "at": pd.Series(pd.to_datetime(["2024-01-05 10:20:30", None, "2024-02-01 00:00:00"], format="ISO8601")),
        "id": ["a", "b", "c"],
    })
    path = xlsx.write_xlsx(tmp_path / "dates.xlsx", [("d", frame)])
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["d"].iter_rows(values_only=True))
    book.close()
    assert [r[2] for r in rows[1:]] == ["a", "b", "c"]  # every row is there
    assert [r[0] for r in rows[1:]] == ["2024-01-05", "", "2024-02-01"]
    assert [r[1] for r in rows[1:]] == ["2024-01-05 10:20:30", "", "2024-02-01 00:00:00"]
