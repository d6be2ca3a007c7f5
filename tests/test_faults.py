"""Files and faults (issue 19, items 10, 12-14): user errors get one clear message and exit 2,
never "internal error ... This is a bug"; the ingest's plain-text working copies stay beside the
client's processed folder and a killed run's are removed by the next run; timezone-aware Parquet
keeps the shop's wall clock; too little memory for the ingest is said before it starts."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmlib.cli import main

REPO = Path(__file__).resolve().parents[1]
HEADER = "order_id,customer_id,email,ordered_at,amount\n"
# 40 orders of 8 customers in January-April 2024: 40 orders, 8 customers, revenue 40 * 1000 + 10 * (0+..+39)
ROWS = "".join(f"O{i},C{i % 8},c{i % 8}@example.jp,2024-{1 + i % 4:02d}-{1 + i % 28:02d} 10:00:00,{1000 + 10 * i}\n"
               for i in range(40))


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def client(tmp_path: Path, extra: str = "", data: bytes | None = None, data_name: str = "orders.csv",
           name: str = "acme") -> Path:
    """A client YAML (and its order file) in tmp_path."""
    (tmp_path / data_name).write_bytes((HEADER + ROWS).encode() if data is None else data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ntitle: Acme\ndata: {data_name}\npreset: generic\nlang: en\n{extra}",
                    encoding="utf-8")
    return path


def assert_user_error(code: int, text: str, *words: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text and "internal error" not in text and "This is a bug" not in text, text
    assert "error: " in text and "What to do:" in text, text
    for word in words:
        assert word in text, (word, text)


# ---------------------------------------------------------------- item 12: messages, exit 2

@pytest.mark.parametrize("which", ["reports", "data"])
def test_read_only_reports_or_data_folder(which, tmp_path, capsys, monkeypatch):
    """A reports (or data) folder that cannot be created (read-only file system) is named, with
    --reports-dir (--data-dir) as the way out (the tests run as root, so the folder is made
    unwritable by making os.mkdir fail there as the kernel would)."""
    yaml_path = client(tmp_path)
    reports, data = tmp_path / "reports", tmp_path / "data"
    blocked = reports if which == "reports" else data
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if Path(path).resolve() == blocked.resolve() or blocked.resolve() in Path(path).resolve().parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    code, text = run_cli(capsys, "run", str(yaml_path), "--data-dir", str(data), "--reports-dir", str(reports))
    folder, option = (reports / "acme", "--reports-dir") if which == "reports" else (data / "processed", "--data-dir")
    assert_user_error(code, text, f"cannot write to {folder}", "the file system is read-only", option)


@pytest.mark.slow
def test_disk_full_in_the_reports_folder(tmp_path, capsys, monkeypatch):
    """ENOSPC while the pages are written (a write that names no file): the reports folder is
    blamed, not crm-workbook, and the previous report stays."""
    yaml_path = client(tmp_path)
    reports = tmp_path / "reports"
    real_write_text = pathlib.Path.write_text

    def write_text(self, *args, **kwargs):
        if self.suffix == ".html" and reports.resolve() in self.resolve().parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    code, text = run_cli(capsys, "run", str(yaml_path), "--chapters", "00_data_check",
                         "--data-dir", str(tmp_path / "data"), "--reports-dir", str(reports))
    assert_user_error(code, text, "cannot write to", str(reports / "acme"), "the disk is full", "--reports-dir")
    assert not (reports / "acme" / "2024-04-29").exists()
    assert [p.name for p in (reports / "acme").iterdir() if not p.name.startswith(".lock")] == []


def _even_length_utf8() -> bytes:
    data = (HEADER + ROWS).encode()
    return data if len(data) % 2 == 0 else data + b"\n"  # utf-16 decodes pairs: no odd tail to fail on


@pytest.mark.parametrize("encoding, words", [
    ("utf-16", ["not valid utf-16 text", "reads as utf-8", "encoding:"]),  # was UnicodeError, exit 3
    ("rot13", ["unknown encoding 'rot13'", "utf-8"]),                      # was TypeError, exit 3
    ("base64", ["unknown encoding 'base64'", "utf-8"]),                    # was binascii.Error, exit 3
])
def test_wrong_or_unknown_encoding(encoding, words, tmp_path, capsys):
    yaml_path = client(tmp_path, f"encoding: {encoding}\n", data=_even_length_utf8())
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, str(tmp_path / "orders.csv"), *words)


def test_plain_csv_named_gz_is_read(tmp_path, capsys):
    """A plain CSV called .csv.gz is read by its content (DuckDB went by the name: exit 3); so is
    a gzip file called .csv."""
    import gzip

    for name, data in (("orders.csv.gz", (HEADER + ROWS).encode()),
                       ("packed.csv", gzip.compress((HEADER + ROWS).encode()))):
        yaml_path = client(tmp_path, data=data, data_name=name)
        code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
        assert code == 0, text
        assert "Orders: 40   Customers: 8" in text, text


def test_date_format_that_is_not_a_format_blames_the_setting(tmp_path, capsys):
    yaml_path = client(tmp_path, 'date_format: "%Q"\n')
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, "date_format '%Q' is not a date format", "`date_format:`", "client YAML")
    assert "cannot be read" not in text and "damaged" not in text  # the file is fine


def test_unknown_chapter_is_a_user_error(tmp_path, capsys):
    yaml_path = client(tmp_path)
    code, text = run_cli(capsys, "run", str(yaml_path), "--chapters", "99_nothing",
                         "--data-dir", str(tmp_path / "data"), "--reports-dir", str(tmp_path / "reports"))
    assert_user_error(code, text, "unknown chapter(s): 99_nothing", "00_data_check")


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31", "1989-12-31", "2101-01-01"])
def test_as_of_outside_the_order_date_range(as_of, tmp_path, capsys):
    yaml_path = client(tmp_path)
    code, text = run_cli(capsys, "run", str(yaml_path), "--as-of", as_of,
                         "--data-dir", str(tmp_path / "data"), "--reports-dir", str(tmp_path / "reports"))
    assert_user_error(code, text, f"--as-of {as_of}", "outside 1990-01-01 .. 2100-12-31")
    assert not (tmp_path / "data").exists()  # refused before the ingest


def test_as_of_in_the_yaml_outside_the_range(tmp_path, capsys):
    yaml_path = client(tmp_path, "as_of: 0001-01-01\n")
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, "key 'as_of'", "outside 1990-01-01 .. 2100-12-31")


@pytest.mark.parametrize("field, value, words", [
    ("title", r'"Acme \ud800"', ["key 'title'", "lone surrogate", "U+D800"]),
    ("title", r'"Acme\u0007"', ["key 'title'", "control character", "U+0007"]),
    ("name", r'"acme\n"', ["key 'name'", "letters, digits"]),  # was accepted: a folder "acme\n"
])
def test_unprintable_title_and_name_with_a_line_break(field, value, words, tmp_path, capsys):
    yaml_path = client(tmp_path)
    text = yaml_path.read_text(encoding="utf-8")
    line = "title: Acme" if field == "title" else "name: acme"
    yaml_path.write_text(text.replace(line, f"{field}: {value}"), encoding="utf-8")
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, str(yaml_path), *words)


def test_init_refuses_a_name_with_a_line_break(tmp_path, capsys):
    code, text = run_cli(capsys, "init", "acme\n", "-o", str(tmp_path / "a.yaml"))
    assert_user_error(code, text, "is not a valid client name")


def test_logo_linked_to_a_file_that_is_no_image(tmp_path, capsys):
    """A logo.png that is a symbolic link to the order file would embed the client's data in
    every page as base64: the content is checked, not the name."""
    yaml_path = client(tmp_path, "report:\n  logo: logo.png\n")
    (tmp_path / "logo.png").symlink_to(tmp_path / "orders.csv")
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, "report.logo", "is not a PNG, JPEG, GIF, WebP or SVG image",
                      f"a link to {tmp_path / 'orders.csv'}")


def test_logo_that_is_an_image_is_embedded_by_its_type():
    from crmlib.report.settings import image_type

    assert image_type(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0" + b"\0" * 20) == "image/jpeg"
    assert image_type(b"GIF89a" + b"\0" * 20) == "image/gif"
    assert image_type(b"RIFF\x10\0\0\0WEBPVP8 ") == "image/webp"
    assert image_type(b'<?xml version="1.0"?>\n<!-- logo -->\n<svg xmlns="http://www.w3.org/2000/svg"/>') == "image/svg+xml"
    assert image_type(b"order_id,customer_id\nO1,C1\n") is None
    assert image_type(b"<html><svg></svg></html>") is None


@pytest.mark.parametrize("data, rows", [
    # CRLF header and lines, then LF lines: DuckDB's "state machine reached an invalid state"
    ((b"order_id,customer_id,ordered_at,amount\r\nO1,C1,2024-01-01,100\nO2,C2,2024-01-02,200\r\n"
      b"O3,C1,2024-01-03,300\n"), 3),
    (b"\xef\xbb\xbforder_id,customer_id,ordered_at,amount\nO1,C1,2024-01-01,100\r\nO2,C2,2024-01-02,200\n", 2),
])
def test_mixed_line_ends_are_read(data, rows, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    code, text = run_cli(capsys, "validate", str(path))
    assert code == 0, text
    total = {3: "600.00", 2: "300.00"}[rows]
    assert f"Orders: {rows}" in text and total in text, text
    assert "CR LF (Windows) and in LF" in text


def test_mixed_line_ends_past_the_sample_say_what_to_do(tmp_path):
    """Beyond the first megabyte the reader's failure is said as what it most likely is."""
    import duckdb

    from crmlib.ingest import file_error

    exc = duckdb.InvalidInputException("Invalid Input Error: The CSV Parser state machine reached an invalid state.")
    err = file_error(tmp_path / "orders.csv", exc)
    assert "CR LF and LF mixed" in err.message and "one kind of line end" in err.hint


def test_ctrl_c_outside_a_chapter_is_one_line(tmp_path, capsys, monkeypatch):
    import crmlib.ingest

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crmlib.ingest, "ingest_client", interrupted)
    code, text = run_cli(capsys, "run", str(client(tmp_path)), "--data-dir", str(tmp_path / "data"),
                         "--reports-dir", str(tmp_path / "reports"))
    assert code == 130
    assert text.strip().splitlines()[-1].startswith("interrupted (Ctrl-C)")
    assert "Traceback" not in text


def test_ctrl_c_that_a_library_turns_into_its_own_error(tmp_path, capsys, monkeypatch):
    """DuckDB answers the KeyboardInterrupt of a Ctrl-C during a query with RuntimeError('Query
    interrupted'), which ended as 'internal error ... This is a bug' (exit 3)."""
    import crmlib.ingest

    def query_interrupted(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)  # the Ctrl-C, while DuckDB runs a query
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None

    import logging

    monkeypatch.setattr(crmlib.ingest, "ingest_client", query_interrupted)
    try:
        code, text = run_cli(capsys, "run", str(client(tmp_path)), "--data-dir", str(tmp_path / "data"),
                             "--reports-dir", str(tmp_path / "reports"))
    finally:
        logging.disable(logging.NOTSET)  # the handler silences logging for the rest of the process
    assert code == 130, text
    assert text.strip().splitlines()[-1] == "interrupted (Ctrl-C): stopped; the previous report, if any, is unchanged."
    assert "internal error" not in text and "Traceback" not in text
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # main put it back


@pytest.mark.slow
def test_ctrl_c_during_a_chapter_is_one_line_and_exit_130(tmp_path):
    """Ctrl-C while a chapter's cell runs in the kernel: nbclient used to shut the kernel down
    mid-cell (the kernel's ZMQError traceback) and asyncio printed the dead kernel's task at exit
    (a second traceback), or the run ended as 'internal error: DeadKernelError'."""
    yaml_path = client(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmlib.cli", "run", str(yaml_path), "--data-dir", str(tmp_path / "data"),
         "--reports-dir", str(tmp_path / "reports")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=tmp_path)
    lines = []
    for raw in proc.stdout:  # wait until the chapters run
        lines.append(raw.decode())
        if "rendering report" in lines[-1]:
            break
    # then until the first chapter's executed notebook is saved: the others are in their cells
    # (a fixed wait let a fast machine finish the whole report first, and exit 0)
    deadline = time.monotonic() + 120
    while not any((tmp_path / "reports" / "acme").glob(".*.tmp-*/notebooks/*.ipynb")):
        assert time.monotonic() < deadline and proc.poll() is None, "no chapter finished: " + "".join(lines)
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole process group
    rest, _ = proc.communicate(timeout=120)
    text = "".join(lines) + rest.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "internal error" not in text and "ERROR" not in text, text
    assert rest.decode().strip().splitlines() == [
        "interrupted (Ctrl-C): stopped; the previous report, if any, is unchanged."], text


# ---------------------------------------------------------------- item 14: timezone-aware Parquet

@pytest.mark.parametrize("zone", ["Asia/Tokyo", "+09:00"])
def test_timezone_aware_parquet_keeps_the_wall_clock(zone, tmp_path):
    """2024-01-01 00:00 in Tokyo is an order of 1 January, as a CSV export would say (DuckDB
    gave 2023-12-31 15:00, the UTC instant)."""
    from crmlib.ingest import ingest_file

    written = [dt.datetime(2024, 1, 1, 0, 0), dt.datetime(2024, 1, 1, 8, 30), dt.datetime(2024, 6, 30, 23, 59)]
    aware = pd.Series(pd.to_datetime(written)).dt.tz_localize("Asia/Tokyo")
    table = pa.table({
        "order_id": ["O1", "O2", "O3"], "customer_id": ["C1", "C2", "C1"],
        "ordered_at": pa.array(aware.dt.tz_convert("UTC").dt.tz_localize(None).to_list(),
                               type=pa.timestamp("us", tz=zone)),
        "amount": [100, 200, 300],
    })
    assert table.column("ordered_at")[0].as_py().isoformat() == "2024-01-01T00:00:00+09:00"
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path)
    result = ingest_file(path, out_dir=tmp_path / "processed" / "acme")
    orders = pd.read_parquet(result.orders_path).set_index("order_id")["ordered_at"]
    assert [orders[o].to_pydatetime() for o in ("O1", "O2", "O3")] == written
    assert result.ledger.first_order == "2024-01-01 00:00:00"
    assert result.as_of == dt.date(2024, 7, 1)


# ---------------------------------------------------------------- item 10: working copies

def test_ingest_working_copies_live_beside_the_client_folder(tmp_path, monkeypatch):
    """The ingest's plain-text working copies (raw and classified Parquet, a CP932 file's UTF-8
    copy) are written under data/processed/.<client>-XXXXXXXX, nothing in the system temp folder,
    and nothing stays behind."""
    import tempfile

    import crmlib.ingest
    import crmlib.readers
    from crmlib.ingest import ingest_file

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    seen: list[Path] = []
    real_connect, real_transcode = crmlib.ingest.connect, crmlib.readers._transcode_to_utf8

    def connect(temp_dir=None):
        seen.append(Path(temp_dir))
        return real_connect(temp_dir)

    def transcode(*args, **kwargs):
        out = real_transcode(*args, **kwargs)
        seen.append(out)
        assert list(system_tmp.iterdir()) == []
        return out

    monkeypatch.setattr(crmlib.ingest, "connect", connect)
    monkeypatch.setattr(crmlib.readers, "_transcode_to_utf8", transcode)
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + ROWS + "O99,顧客,,2024-01-05 10:00:00,500\n").encode("cp932"))
    processed = tmp_path / "data" / "processed"
    result = ingest_file(path, out_dir=processed / "acme")
    assert result.ledger.input_rows == 41
    assert len(seen) == 2
    for place in seen:
        assert place.resolve().is_relative_to(processed.resolve()), place
        work = place if place.parent == processed else place.parent
        assert work.parent == processed and work.name.startswith(".acme-"), place
    assert list(system_tmp.iterdir()) == []
    assert sorted(p.name for p in processed.iterdir()) == ["acme"]


KILLED_RUN = """
import os, signal, sys
import crmlib.ingest
from crmlib.cli import main

def killed(*args, **kwargs):  # the working copies are all written by now: die as kill -9 would
    os.kill(os.getpid(), signal.SIGKILL)

crmlib.ingest._check_usable = killed
main(sys.argv[1:])
"""


def _kernel_connection_file(path: Path) -> bool:
    """A Jupyter kernel's connection file (jupyter_client writes one per kernel into the temp folder)."""
    try:
        return path.suffix == ".json" and {"shell_port", "key"} <= set(json.loads(path.read_text()))
    except (OSError, ValueError):
        return False


def test_next_run_removes_a_killed_ingests_working_copies(tmp_path, capsys, monkeypatch):
    """An ingest killed with SIGKILL (kill -9, the OOM killer) leaves its working copies, which
    hold the client's e-mails in plain text: beside the client's processed folder, not in the
    system temp folder, and the next run on the client removes them before it starts."""
    import crmlib.report.pipeline

    yaml_path = client(tmp_path)
    data, system_tmp = tmp_path / "data", tmp_path / "system-tmp"
    system_tmp.mkdir()
    processed = data / "processed"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, "run", str(yaml_path), "--data-dir", str(data),
         "--reports-dir", str(tmp_path / "reports")],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(system_tmp)}, capture_output=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # nothing of the client's there; the report's kernels, started while the ingest runs, keep
    # their connection files (ports and a key, no client data) in the system temp folder
    assert [p for p in system_tmp.iterdir() if not _kernel_connection_file(p)] == []
    stale = [p for p in processed.iterdir() if p.name.startswith(".acme-")]
    assert len(stale) == 1 and (stale[0] / "raw.parquet").exists()
    assert b"c1@example.jp" in (stale[0] / "raw.parquet").read_bytes()  # why it must not stay
    other = processed / ".acme-b-k9x2ab_q"  # client acme-b's (as mkdtemp names them): not acme's
    other.mkdir()

    def render(config, processed_dir, as_of, reports_root, *args, **kwargs):
        folder = Path(reports_root) / config.name / str(as_of)
        folder.mkdir(parents=True)
        return folder

    monkeypatch.setattr(crmlib.report.pipeline, "render_report", render)
    code, text = run_cli(capsys, "run", str(yaml_path), "--data-dir", str(data),
                         "--reports-dir", str(tmp_path / "reports"))
    assert code == 0, text
    assert not stale[0].exists() and other.exists()
    assert f"cleaned up after an interrupted run: {stale[0].name}" in text
    assert sorted(p.name for p in processed.iterdir() if not p.name.endswith(".lock")) == [".acme-b-k9x2ab_q", "acme"]


# ---------------------------------------------------------------- item 13: memory before the ingest

MIB = 1 << 20


def test_required_memory_from_the_measured_figures():
    """160 MB loaded, 350 MB per million lines (bench/ingest.py, 1M sample orders: 706 MB peak
    for 1,577,675 lines), the variable part at most DuckDB's cap and a tenth."""
    from crmlib.memory import parse_size, required_memory

    assert required_memory(1_000_000, 3 << 30) == 510 * MIB
    assert required_memory(1_577_675, 3 << 30) == int(160 * MIB + 350 * MIB * 1.577675)  # ~712 MB
    assert required_memory(20_000_000, 3 << 30) == int(160 * MIB + 3072 * MIB * 1.1)
    assert required_memory(20_000_000, parse_size("300MB")) == 490 * MIB  # measured: 480 MB at 1M orders
    assert parse_size("3GB") == 3 << 30 and parse_size("512MiB") == 512 * MIB and parse_size("lots") is None


def test_estimated_lines_of_text_gzip_and_parquet(tmp_path):
    from crmlib.memory import estimate_lines

    line = b"O1234567,C123456,2024-01-01 10:00:00,1000\n"  # 42 bytes
    plain = tmp_path / "orders.csv"
    plain.write_bytes(line * 100_000)  # 4.2 MB: estimated from its first megabyte
    assert estimate_lines(plain) == 100_000
    small = tmp_path / "small.csv"
    small.write_bytes(line * 10 + b"O9,C9,2024-01-01,5")  # no final line break: still a line
    assert estimate_lines(small) == 11
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(__import__("gzip").compress(b"".join(
        f"O{i:07d},C{i % 9999:06d},2024-01-01 10:00:00,{i % 10_000:04d}\n".encode() for i in range(300_000))))
    assert abs(estimate_lines(packed) - 300_000) < 300_000 * 0.1
    table = pa.table({"order_id": [f"O{i}" for i in range(1234)]})
    pq.write_table(table, tmp_path / "orders.parquet")
    assert estimate_lines(tmp_path / "orders.parquet") == 1234


def test_cgroup_limits_v1_and_v2(tmp_path):
    """Headroom under a cgroup limit: limit - (usage - inactive file cache), the tightest level."""
    from crmlib.memory import cgroup_available

    v2 = tmp_path / "v2"
    (v2 / "job" / "run").mkdir(parents=True)
    (v2 / "job" / "memory.max").write_text(f"{1000 * MIB}\n")
    (v2 / "job" / "memory.current").write_text(f"{300 * MIB}\n")
    (v2 / "job" / "memory.stat").write_text(f"anon 1\ninactive_file {100 * MIB}\n")
    (v2 / "job" / "run" / "memory.max").write_text("max\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job/run\n")
    found = cgroup_available(proc, v2)
    assert found.bytes == 800 * MIB and "memory.max" in found.source  # 1000 - (300 - 100)
    v1 = tmp_path / "v1"
    (v1 / "memory" / "box").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # unlimited
    (v1 / "memory" / "box" / "memory.limit_in_bytes").write_text(f"{600 * MIB}\n")
    (v1 / "memory" / "box" / "memory.usage_in_bytes").write_text(f"{50 * MIB}\n")
    proc.write_text("5:cpu:/\n4:memory:/box\n0::/\n")
    found = cgroup_available(proc, v1)
    assert found.bytes == 550 * MIB and "600 MB in" in found.source
    proc.write_text("4:memory:/\n")
    assert cgroup_available(proc, v1) is None


def _big_sparse_csv(path: Path) -> Path:
    """A CSV of about 1.6 million lines by its size (a real first megabyte, then a sparse tail:
    the check reads only the first megabyte)."""
    head = (HEADER + ROWS * 700).encode()[: 1 << 20]
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(64 * (1 << 20))
    return path


@pytest.mark.parametrize("available_mb, skip, refused", [(600, "", True), (8000, "", False), (600, "1", False)])
def test_too_little_memory_is_said_before_the_ingest(available_mb, skip, refused, tmp_path, capsys, monkeypatch):
    import crmlib.memory
    from crmlib.memory import Available

    monkeypatch.setattr(crmlib.memory, "available_memory",
                        lambda: Available(available_mb * MIB, "under the memory limit of this container or cgroup, test"))
    monkeypatch.setenv("CRM_SKIP_MEMORY_CHECK", skip)
    yaml_path = client(tmp_path)
    _big_sparse_csv(tmp_path / "orders.csv")
    if refused:
        code, text = run_cli(capsys, "run", str(yaml_path), "--data-dir", str(tmp_path / "data"),
                             "--reports-dir", str(tmp_path / "reports"))
        assert_user_error(code, text, str(tmp_path / "orders.csv"), "needs about", "600 MB are available",
                          "container or cgroup", "CRM_SKIP_MEMORY_CHECK=1", "CRM_DUCKDB_MEMORY=")
        assert not any((tmp_path / "data" / "processed").glob(".acme-*"))  # DuckDB never started
    else:  # the check let it through: the ingest reads the file (its NUL tail as one more line)
        code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
        assert "needs about" not in text and "Input" in text and "Reconciles" in text, text


def test_duckdb_that_cannot_start_for_memory_is_said(tmp_path, capsys, monkeypatch):
    """Under `ulimit -v` DuckDB may fail to allocate as the connection opens, before the file is
    read (that was outside the ingest's error handling: 'internal error', exit 3)."""
    import duckdb

    import crmlib.ingest

    def connect(temp_dir=None):
        raise duckdb.OutOfMemoryException("Out of Memory Error: Allocation failure")

    monkeypatch.setattr(crmlib.ingest, "connect", connect)
    yaml_path = client(tmp_path)
    code, text = run_cli(capsys, "validate", "--config", str(yaml_path))
    assert_user_error(code, text, str(tmp_path / "orders.csv"), "ran out of memory", "ulimit -v")
