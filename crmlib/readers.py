"""Readers: open a client's order file as a DuckDB relation of raw text columns.

Handles CSV/TSV (delimiter sniffed), UTF-8, UTF-8 with BOM and CP932/Shift_JIS (detected),
gzip, Excel (.xlsx), Parquet and whitespace-separated files (CDNOW). Problems with the file
itself (missing, empty, binary, undecodable) raise InputFileError with what to do.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import gzip
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb

from .errors import InputFileError
from .sql import sql_ident as _ident
from .sql import sql_literal as _quote

SAMPLE_BYTES = 1 << 20
ENCODINGS = ("utf-8", "cp932")
ENCODING_ALIASES = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf_8_sig": "utf-8-sig",
    "cp932": "cp932", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
    "ms932": "cp932", "windows-31j": "cp932",
}


@dataclass
class RawSource:
    """A client file opened as a DuckDB view named ``raw`` with a ``_row`` line number."""

    path: Path
    format: str
    encoding: str | None
    columns: list[str]
    types: dict[str, str]
    notes: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    # (first record, extra lines before it) wherever records stop being one line each (quoted
    # line breaks, blank lines): counted while checking a file read single-threaded (see
    # _check_record_count), or from empty_lines_in for a CSV read in parallel, as far as the
    # records asked for (scan_to)
    line_shifts: list[tuple[int, int]] = field(default_factory=list)
    header_lines: int = 1  # lines before the first record in a text file
    empty_lines_in: Path | None = None  # the text file to scan for empty lines, when asked
    shifts_known_to: int = 0  # with empty_lines_in: line_shifts are complete up to this record

    def scan_to(self, row: int) -> None:
        """Make line_shifts complete up to record `row`: for a CSV read in parallel, scan the file
        for empty lines as far as that record only (examples are usually early in the file)."""
        if self.empty_lines_in is not None and row > self.shifts_known_to:
            self.line_shifts, self.shifts_known_to = empty_line_shifts(
                self.empty_lines_in, self.header_lines, upto=row)

    def line_of(self, row: int) -> int:
        """Where row number `row` (_row) starts in the file: the line for a text file (the header is
        line 1, if there is one), the row itself for Parquet and Excel."""
        if self.format in ("parquet", "excel"):
            return row
        self.scan_to(row)  # only reports with examples pay for the scan, up to their last example
        at = bisect.bisect_right(self.line_shifts, (row, float("inf"))) - 1
        return row + self.header_lines + (self.line_shifts[at][1] if at >= 0 else 0)

    def cleanup(self) -> None:
        for tmp in self.temp_files:
            tmp.unlink(missing_ok=True)


def is_gzip(path: Path) -> bool:
    """Whether the file is gzip-compressed, by its first bytes (not its name: a plain CSV may be
    called .csv.gz, a gzip file .csv)."""
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_bytes(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping .gz files."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def _compression(path: Path) -> str:
    """read_csv's compression option for the file (DuckDB would go by the name)."""
    return "gzip" if is_gzip(path) else "none"


_EMPTY_LINE = re.compile(rb"\n\r?(?=\n)")  # a line break, then a line with nothing (or only \r) on it
SCAN_BLOCK = 1 << 24


def empty_line_shifts(path: Path, header_lines: int = 1,
                      upto: int | None = None) -> tuple[list[tuple[int, int]], float]:
    """RawSource.line_shifts of a text file whose records are one line each apart from empty lines,
    which DuckDB skips: (first record after empty lines, empty lines before it in all); and the
    last record they are complete for (infinity when the whole file was read).

    For files DuckDB read in parallel, which refuses quoted line breaks: there every line break
    ends a record or an empty line, so a byte scan in blocks finds them (about a second per GB).
    upto: stop once record `upto` and every empty line before it are seen. The blocks start small
    and double, so the examples at the top of a large file cost a few small reads, not the file.
    """
    shifts: list[tuple[int, int]] = []
    empty = 0
    breaks_before = 0  # line breaks in the file before buf[0]
    carry = b""  # the end of the previous block: an empty line may start there
    size = min(SCAN_BLOCK, 1 << 16)
    with _open_bytes(path) as fh:
        while block := fh.read(size):
            size = min(SCAN_BLOCK, size * 2)
            buf = carry + block
            counted, breaks = 0, breaks_before
            for m in _EMPTY_LINE.finditer(buf):
                if m.end() < len(carry):  # its closing line break was in the previous block: seen
                    continue
                breaks += buf.count(b"\n", counted, m.start() + 1)
                counted = m.start() + 1
                records_before = breaks - header_lines - empty  # the empty line is line breaks + 1
                empty += 1
                if shifts and shifts[-1][0] == records_before + 1:
                    shifts[-1] = (records_before + 1, empty)
                else:
                    shifts.append((records_before + 1, empty))
            carry = buf[-2:]
            breaks_before += buf.count(b"\n", 0, len(buf) - len(carry))
            # every empty line closed before the carry is counted: the records ended before it
            # are at least the line breaks there less the header and all empty lines seen
            done = breaks_before - header_lines - empty
            if upto is not None and done > upto:
                return shifts, done
    return shifts, float("inf")


def sniff_format(path: Path, declared: str | None = None) -> str:
    """csv, excel, parquet or whitespace, from the preset, the magic bytes and the suffix."""
    if declared:
        return declared
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"PK":
        return "excel"
    if head[:4] == b"\xd0\xcf\x11\xe0":
        raise InputFileError(
            f"{path}: this is an old Excel .xls (or other OLE) file, which is not supported.",
            hint="open it in Excel and save as .xlsx or CSV (UTF-8)",
        )
    return "csv"


def _read_sample(path: Path) -> bytes:
    try:
        with _open_bytes(path) as fh:
            return fh.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"{path}: the file cannot be read ({exc}).",
                             hint="check that the file is complete (re-download or re-export it)") from None


def _decodes(sample: bytes, encoding: str, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(sample, final=complete)
        return True
    except UnicodeError:  # UnicodeDecodeError, and utf-16's "stream does not start with BOM"
        return False


def detect_encoding(path: Path, sample: bytes, declared: str | None = None) -> str:
    """The text encoding: the declared one, utf-8-sig for a BOM, else utf-8 or cp932 that decodes."""
    if declared:
        enc = ENCODING_ALIASES.get(declared.lower().replace(" ", ""), declared)
        try:
            if not codecs.lookup(enc)._is_text_encoding:  # base64, rot13 ...: not a text encoding
                raise LookupError(enc)
        except LookupError:
            raise InputFileError(f"{path}: unknown encoding '{declared}'.",
                                 hint="use utf-8, utf-8-sig or cp932 (Shift_JIS)") from None
        if not _decodes(sample, enc, len(sample) < SAMPLE_BYTES):
            other = [e for e in ENCODINGS if e != enc and _decodes(sample, e, len(sample) < SAMPLE_BYTES)]
            guess = f"it reads as {other[0]}: " if other else ""
            raise InputFileError(
                f"{path}: the file is not valid {enc} text, but {enc} was asked for.",
                hint=f"{guess}set the right `encoding:` (or --encoding), or omit it to detect it",
            )
        return enc
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    complete = len(sample) < SAMPLE_BYTES
    for enc in ENCODINGS:
        if _decodes(sample, enc, complete):
            return enc
    raise InputFileError(
        f"{path}: the text is neither UTF-8 nor CP932 (Shift_JIS).",
        hint="re-export the file as CSV UTF-8, or set `encoding:` in the client YAML",
    )


def _check_text(path: Path, sample: bytes) -> None:
    if not sample.removeprefix(codecs.BOM_UTF8).strip():  # a BOM alone is an empty file too
        raise InputFileError(f"{path}: the file is empty.",
                             hint="export the orders again; the file has no rows")
    if b"\x00" in sample[:65536] and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFileError(
            f"{path}: this looks like a binary file, not a CSV text export.",
            hint="export the orders as CSV, TSV, Excel .xlsx or Parquet",
        )


def _transcode_to_utf8(path: Path, encoding: str, work_dir: Path | None = None) -> Path:
    """Stream a non-UTF-8 text file into a temporary UTF-8 file that DuckDB can read (in the
    ingest's working folder when given: the copy is client data)."""
    fd, name = tempfile.mkstemp(prefix="crm-utf8-", suffix=".csv", dir=work_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        with _open_bytes(path) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as src, \
                tmp.open("w", encoding="utf-8", newline="") as dst:
            for line in src:
                dst.write(line)
    except UnicodeError:
        tmp.unlink(missing_ok=True)
        raise InputFileError(
            f"{path}: line {_first_undecodable_line(path, encoding)} cannot be decoded as {encoding}; "
            "the file mixes encodings or is damaged.",
            hint="re-export the file as CSV UTF-8, or set `encoding:` in the client YAML",
        ) from None
    return tmp


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """The number of the first line that does not decode (the text decoder reads ahead in blocks,
    so its position is not the line's). Only on the error path: a second pass over the bytes."""
    number = 0
    with _open_bytes(path) as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode(encoding)
            except UnicodeError:
                return number
    return number


_BARE_LF = re.compile(rb"(?<!\r)\n")


def mixed_line_ends(sample: bytes) -> bool:
    """Whether lines end both in CR LF and in a bare LF (a file edited on two systems), which
    DuckDB's CSV reader refuses ("the state machine reached an invalid state")."""
    return b"\r\n" in sample and _BARE_LF.search(sample) is not None


def _normalise_line_ends(path: Path, work_dir: Path | None = None) -> Path:
    """Stream a text file into a temporary copy whose CR LF line ends are LF (in the ingest's
    working folder when given: the copy is client data)."""
    fd, name = tempfile.mkstemp(prefix="crm-lf-", suffix=".csv", dir=work_dir)
    os.close(fd)
    with _open_bytes(path) as src, open(name, "wb") as dst:
        carry = b""  # a CR at the end of a block may be followed by the LF of the next one
        while block := src.read(1 << 24):
            block = carry + block
            carry = b"\r" if block.endswith(b"\r") else b""
            dst.write(block[:len(block) - len(carry)].replace(b"\r\n", b"\n"))
        dst.write(carry)
    return Path(name)


def dedupe_headers(names: list[str]) -> tuple[list[str], list[str]]:
    """Make header names unique (送料, 送料_2 ...) and blank ones named; returns names and notes."""
    seen: dict[str, int] = {}
    out: list[str] = []
    notes: list[str] = []
    for i, raw in enumerate(names):
        name = raw.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            new = f"{name}_{seen[name]}"
            notes.append(f"header '{name}' appears more than once; column {i + 1} is read as '{new}'")
            name = new
        else:
            seen[name] = 1
        out.append(name)
    return out, notes


def _sniff_delimiter(first_lines: str, path: Path) -> str:
    if path.name.lower().endswith((".tsv", ".tsv.gz", ".tab")):
        return "\t"
    header = first_lines.splitlines()[0] if first_lines else ""
    counts = {d: header.count(d) for d in ",\t;|"}
    try:
        sniffed = csv.Sniffer().sniff(first_lines, delimiters=",\t;|").delimiter
        if counts.get(sniffed):  # quoted line breaks in the sample can mislead the sniffer: the
            return sniffed       # header (one line, names without delimiters) has the last word
    except csv.Error:
        pass
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def check_file(path: Path) -> None:
    """Raise InputFileError when the path is missing, a folder or an empty file."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file.", hint="check the path (relative paths in a client "
                             "YAML are read from the YAML file's folder)")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not an order file.", hint="give the export file itself")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty (0 bytes).",
                             hint="export the orders again; the file has no rows")


def open_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    read_options: dict | None = None,
    parallel: bool = True,
    work_dir: Path | None = None,
) -> RawSource:
    """Create the view ``raw`` (all source columns plus ``_row``) in ``con`` for the file.

    parallel=False reads a CSV single-threaded, which DuckDB needs when a quoted field spans
    lines (see QUOTED_NEWLINES); short lines are then an error instead of padded with nulls.
    work_dir: where a CSV read in parallel is copied to Parquet once (see _open_csv).
    """
    path = Path(path)
    read_options = read_options or {}
    check_file(path)
    fmt = sniff_format(path, fmt or read_options.get("format"))
    if fmt == "parquet":
        return _open_parquet(con, path)
    if fmt == "excel":
        return _open_excel(con, path)
    sample = _read_sample(path)
    _check_text(path, sample)
    enc = detect_encoding(path, sample, encoding)
    source = RawSource(path=path, format=fmt, encoding=enc, columns=[], types={})
    text_path = path
    if enc not in ("utf-8", "utf-8-sig"):
        text_path = _transcode_to_utf8(path, enc, work_dir)
        source.temp_files.append(text_path)
        source.notes.append(f"read as {enc} (converted to UTF-8)")
        sample = _read_sample(text_path)
    if fmt != "whitespace" and mixed_line_ends(sample):
        text_path = _normalise_line_ends(text_path, work_dir)
        source.temp_files.append(text_path)
        source.notes.append("lines end both in CR LF (Windows) and in LF; read with LF throughout")
        sample = _read_sample(text_path)
    text = sample.decode("utf-8-sig", errors="ignore")
    if fmt == "whitespace":
        _open_whitespace(con, text_path, text, read_options, source)
    else:
        _open_csv(con, text_path, text, source, parallel, work_dir)
    return source


def _open_csv(con: duckdb.DuckDBPyConnection, path: Path, text: str, source: RawSource,
              parallel: bool = True, work_dir: Path | None = None) -> None:
    lines = text.splitlines()
    first = "\n".join(lines[:50])
    delim = _sniff_delimiter(first, path)
    header_row = next(csv.reader([lines[0]], delimiter=delim)) if lines else []
    names, notes = dedupe_headers(header_row)
    source.notes.extend(notes)
    if len(names) < 2:
        raise InputFileError(
            f"{source.path}: only one column found (header: {lines[0][:80]!r}); the delimiter could "
            "not be recognised.",
            hint="use a comma-, tab-, semicolon- or pipe-separated file with a header row",
        )
    cols = "{" + ", ".join(f"{_quote(n)}: 'VARCHAR'" for n in names) + "}"
    # the dialect is given in full, so DuckDB's sniffer is off: it refused files whose last line
    # was cut short ("Error when sniffing file"). strict_mode turns an unclosed quote or a line
    # with more fields than the header into an error naming the line; short lines are padded
    # with nulls (their rows stay in the ledger, as bad dates or amounts)
    padding = "null_padding=true, parallel=true" if parallel else "null_padding=false, parallel=false"
    read = (f"read_csv({_quote(str(path))}, header=true, delim={_quote(delim)}, quote='\"', escape='\"', "
            f"columns={cols}, auto_detect=false, strict_mode=true, {padding}, "
            f"compression={_quote(_compression(path))})")
    if parallel and work_dir is not None:
        _copy_to_parquet(con, read, work_dir / "raw.parquet")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT row_number() OVER () AS _row, * FROM {read}")
    if not parallel:
        source.line_shifts = _check_record_count(con, path, delim, source.path)
    else:
        source.empty_lines_in = path
    source.columns = names
    source.types = {n: "VARCHAR" for n in names}
    source.format = "tsv" if delim == "\t" else "csv"


def _copy_to_parquet(con: duckdb.DuckDBPyConnection, read: str, target: Path) -> None:
    """View ``raw`` over a Parquet copy of the CSV, numbered by Parquet row (file order).

    Line numbers straight from the CSV need row_number() OVER (), which makes every query over
    ``raw`` run on one thread: the classification of a million CSV lines took 10 s on one core.
    The copy is written in parallel with the input order kept (uncompressed: it is read once or
    twice and then deleted), and later passes read it in parallel with Parquet's row numbers.
    Reading errors (an unclosed quote, too many fields) surface here, as they would later.
    """
    keep, = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = true")  # row i of the copy = record i of the CSV
    try:
        con.execute(f"COPY (SELECT * FROM {read}) TO {_quote(str(target))} (FORMAT parquet, COMPRESSION uncompressed)")
    finally:
        con.execute(f"SET preserve_insertion_order = {str(bool(keep)).lower()}")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
        f"FROM read_parquet({_quote(str(target))}, file_row_number = true)")


QUOTED_NEWLINES = "quoted new lines"  # DuckDB's parallel reader refuses these with null padding


def _check_record_count(con: duckdb.DuckDBPyConnection, path: Path, delim: str,
                        shown: Path) -> list[tuple[int, int]]:
    """Compare DuckDB's single-threaded row count with Python's csv module's record count, and
    return where records start on later lines than their number says (RawSource.line_shifts).

    DuckDB's single-threaded reader silently drops the rest of a file after a quote that is never
    closed; Python's csv (strict) reports it. Only used for files with quoted line breaks.
    """
    shifts: list[tuple[int, int]] = []
    records = 0
    with _open_bytes(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delim, quotechar='"', doublequote=True, strict=True)
        next(reader, None)
        end = reader.line_num  # the line the previous record ended on
        try:
            for row in reader:
                if row:  # blank lines are no records (DuckDB skips them too)
                    records += 1
                    extra = end + 1 - (records + 1)
                    if extra != (shifts[-1][1] if shifts else 0):
                        shifts.append((records, extra))
                end = reader.line_num
        except csv.Error as exc:
            raise InputFileError(
                f"{shown}: line {reader.line_num} cannot be read ({exc}); a quote (\") is probably "
                "not closed.", hint=UNREADABLE_LINE_HINT) from None
    rows, = con.execute("SELECT count(*) FROM raw").fetchone()
    if rows != records:
        raise InputFileError(
            f"{shown}: {records:,} records found but only {rows:,} could be read; a quote (\") is "
            "probably not closed.", hint=UNREADABLE_LINE_HINT)
    return shifts


UNREADABLE_LINE_HINT = ("the file may be cut short or damaged: re-export it as CSV UTF-8; quotes (\") "
                        "must come in pairs and every line needs as many fields as the header")


def _open_whitespace(con: duckdb.DuckDBPyConnection, path: Path, text: str, options: dict,
                     source: RawSource) -> None:
    """Whitespace-separated text (e.g. CDNOW): split each line on runs of spaces/tabs."""
    first = text.splitlines()[0].split() if text.strip() else []
    starts = options.get("header_starts_with")
    has_header = bool(starts) and bool(first) and first[0] == starts
    if has_header:
        names = first
    else:
        names = list(options.get("names_if_no_header", []))[: len(first)]
        names += [f"column_{i + 1}" for i in range(len(names), len(first))]
    parts = ", ".join(f"nullif(p[{i + 1}], '') AS {_ident(n)}" for i, n in enumerate(names))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW raw AS SELECT _row, {parts} FROM ("
        f"SELECT row_number() OVER () AS _row, string_split_regex(trim(line), '\\s+') AS p "
        f"FROM read_csv({_quote(str(path))}, header={'true' if has_header else 'false'}, "
        f"delim='\\x01', quote='', escape='', columns={{'line': 'VARCHAR'}}, "
        f"compression={_quote(_compression(path))}) WHERE trim(line) <> '')"
    )
    source.columns = names
    source.types = {n: "VARCHAR" for n in names}
    source.header_lines = 1 if has_header else 0


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> RawSource:
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw_tz AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number + 1 AS _row FROM read_parquet({_quote(str(path))}, file_row_number = true)"
        )
        con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_tz")
        described = con.execute("DESCRIBE SELECT * FROM raw").fetchall()
    except duckdb.Error as exc:
        raise InputFileError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}).",
                             hint="re-export the file") from None
    types = {name: str(kind) for name, kind, *_ in described if name != "_row"}
    aware = [name for name, kind in types.items() if kind == "TIMESTAMP WITH TIME ZONE"]
    if aware:  # shop-local wall clock, as a CSV export writes it (DuckDB would give UTC)
        zones = _parquet_time_zones(path)
        local = ", ".join(f"{_wall_clock(_ident(name), zones.get(name))} AS {_ident(name)}" for name in aware)
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * REPLACE ({local}) FROM raw_tz")
        types.update(dict.fromkeys(aware, "TIMESTAMP"))
    return RawSource(path=path, format="parquet", encoding=None, columns=list(types), types=types)


def _parquet_time_zones(path: Path) -> dict[str, str]:
    """The time zone each timezone-aware column of a Parquet file was written in (the Arrow
    schema Parquet writers such as pandas and pyarrow store); {} when the file does not say."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError):  # DuckDB read the file: a schema pyarrow cannot read lacks the zones
        return {}
    return {f.name: f.type.tz for f in schema if pa.types.is_timestamp(f.type) and f.type.tz}


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def _wall_clock(column: str, zone: str | None) -> str:
    """SQL turning a timezone-aware timestamp into the wall clock in its zone (a named zone such
    as Asia/Tokyo, or a fixed offset such as +09:00); UTC when the zone is unknown."""
    utc = f"timezone('UTC', {column})"
    offset = _OFFSET.match(zone or "")
    if offset:
        sign, hours, minutes = offset.groups()
        return f"{utc} {sign} INTERVAL {int(hours) * 60 + int(minutes)} MINUTE"
    return f"timezone({_quote(zone)}, {column})" if zone and zone.upper() != "UTC" else utc


def _open_excel(con: duckdb.DuckDBPyConnection, path: Path) -> RawSource:
    import pandas as pd

    try:
        frame = pd.read_excel(path, dtype=str, sheet_name=0, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise InputFileError(f"{path}: the Excel file cannot be read ({type(exc).__name__}: {exc}).",
                             hint="open it in Excel and save it again as .xlsx, or export CSV") from None
    names, notes = dedupe_headers([str(c) for c in frame.columns])
    frame.columns = names
    frame.insert(0, "_row", range(1, len(frame) + 1))
    con.register("raw_excel", frame)
    con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_excel")
    src = RawSource(path=path, format="excel", encoding=None, columns=names,
                    types={n: "VARCHAR" for n in names}, notes=notes)
    if len(frame) == 0:
        raise InputFileError(f"{path}: the first sheet has no rows.", hint="put the orders on the first sheet")
    return src
