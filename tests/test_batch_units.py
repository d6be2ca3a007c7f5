"""Batch building blocks without kernels: config discovery, error lines, fingerprints, the lock
(held by a real second process), leftovers of killed runs, the index page and comparison CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from crmlib.batch import Progress, discover_configs, first_error_line
from crmlib.config import load_config
from crmlib.errors import ConfigError
from crmlib.fingerprint import config_sha256, file_sha256, input_files_sha256, up_to_date_report
from crmlib.locks import ClientBusyError, ClientLock, clean_leftovers
from crmlib.report.overview import ClientEntry, flatten_metrics, metric_at, write_index


def test_discover_configs_takes_folders_and_files(tmp_path):
    (tmp_path / "b.yaml").write_text("x")
    (tmp_path / "a.yml").write_text("x")
    (tmp_path / ".hidden.yaml").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    other = tmp_path / "sub"
    other.mkdir()
    (other / "c.yaml").write_text("x")
    found = discover_configs([tmp_path, other / "c.yaml", tmp_path / "b.yaml"])
    assert [p.name for p in found] == ["a.yml", "b.yaml", "c.yaml"]  # sorted, no duplicates
    with pytest.raises(ConfigError, match="no such file or folder"):
        discover_configs([tmp_path / "missing"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"no client YAML"):
        discover_configs([empty])


def test_first_error_line():
    assert first_error_line("a.csv: missing column 'amount'\n  What to do: map it") == "a.csv: missing column 'amount'"
    assert first_error_line("x.yaml: invalid client configuration:\n- unknown key 'lnag'.\n- other") == \
        "x.yaml: invalid client configuration: - unknown key 'lnag'."
    assert first_error_line("\n\n") == "(no message)"


def test_file_sha256_is_the_standard_digest(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    # the published SHA-256 test vector for "abc" (FIPS 180-2)
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))  # crosses the 1 MiB block boundary
    assert file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()


def test_config_hash_ignores_order_and_comments_but_not_values(tmp_path):
    one = tmp_path / "one.yaml"
    two = tmp_path / "two.yaml"
    three = tmp_path / "three.yaml"
    one.write_text("name: acme\ndata: orders.csv\nlang: en\nltv: {horizon_months: 24}\n")
    two.write_text("# same client, keys reordered\nltv:\n  horizon_months: 24\nlang: en\ndata: orders.csv\nname: acme\n")
    three.write_text("name: acme\ndata: orders.csv\nlang: en\nltv: {horizon_months: 36}\n")
    assert config_sha256(load_config(one)) == config_sha256(load_config(two))
    assert config_sha256(load_config(one)) != config_sha256(load_config(three))


def test_strategy_input_files_are_part_of_the_fingerprint(tmp_path):
    (tmp_path / "log.csv").write_bytes(b"date,measure\n2025-01-10,mail\n")
    config = tmp_path / "acme.yaml"
    config.write_text("name: acme\ndata: orders.csv\nstrategy: {execution_log: log.csv}\n")
    cfg = load_config(config)
    digest = hashlib.sha256(b"date,measure\n2025-01-10,mail\n").hexdigest()
    assert input_files_sha256(cfg, ["00_data_check", "04_strategy"]) == {"execution_log": digest}
    assert input_files_sha256(cfg, ["00_data_check"]) == {}  # the chapter that reads it is not rendered
    (tmp_path / "log.csv").write_bytes(b"date,measure\n2025-01-10,coupon\n")
    assert input_files_sha256(cfg, ["04_strategy"])["execution_log"] != digest


def _fake_report(folder: Path, fingerprint: dict | None, index: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"report": {"fingerprint": fingerprint}}))
    if index:
        (folder / "index.html").write_text("<html></html>")
    return folder


def test_up_to_date_report_needs_a_complete_report_with_the_same_fingerprint(tmp_path):
    same = {"data_sha256": "d1", "config_sha256": "c1", "crmlib_version": "0.1.0"}
    _fake_report(tmp_path / "acme" / "2025-01-01", same)
    _fake_report(tmp_path / "acme" / "2025-02-01", {**same, "data_sha256": "d2"})
    _fake_report(tmp_path / "acme" / "2025-03-01", same, index=False)  # incomplete
    _fake_report(tmp_path / "acme" / ".2025-04-01.tmp-abc", same)  # hidden temporary folder
    assert up_to_date_report(tmp_path, "acme", same) == tmp_path / "acme" / "2025-01-01"
    assert up_to_date_report(tmp_path, "acme", {**same, "crmlib_version": "0.2.0"}) is None
    assert up_to_date_report(tmp_path, "other", same) is None


HOLDER = """
import sys, time
from crmlib.locks import ClientLock
lock = ClientLock(sys.argv[1], "acme").acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_held_by_another_process_names_its_pid_and_dies_with_it(tmp_path):
    path = tmp_path / ".acme.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ClientBusyError) as caught:
            ClientLock(path, "acme").acquire()
        message = str(caught.value)
        assert f"another run on client acme is in progress (pid {holder.pid} on " in message
        assert f"remove {path}" in message
        assert caught.value.exit_code == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel dropped the flock with the killed process: no stale lock
    with ClientLock(path, "acme"):
        assert f"pid {os.getpid()} " in path.read_text()


def test_clean_leftovers_removes_hidden_temporaries_and_restores_a_report_set_aside(tmp_path):
    processed, reports = tmp_path / "processed", tmp_path / "reports"
    for name in (".acme-ab12cd34", ".acme-old-4242", ".acme-b-ab12cd34", "acme"):
        (processed / name).mkdir(parents=True)
    (reports / "acme" / "2025-01-01").mkdir(parents=True)
    (reports / "acme" / ".2025-01-01.tmp-0123456789ab").mkdir()
    aside = reports / "acme" / ".2025-02-01.old-0123456789ab"  # killed between the swap's renames
    aside.mkdir()
    (aside / "index.html").write_text("previous report")
    touched = clean_leftovers(processed, reports, "acme")
    assert len(touched) == 4
    assert sorted(p.name for p in processed.iterdir()) == [".acme-b-ab12cd34", "acme"]  # client acme-b untouched
    assert sorted(p.name for p in (reports / "acme").iterdir()) == ["2025-01-01", "2025-02-01"]
    assert (reports / "acme" / "2025-02-01" / "index.html").read_text() == "previous report"


def test_metric_paths_and_flattening():
    metrics = {"a": {"b": {"c": 1.5}, "list": ["x", "y"], "rows": [{"k": 1}]}, "r": {"s": "t"}}
    assert metric_at(metrics, "a.b.c") == 1.5
    assert metric_at(metrics, "a.b.missing") is None and metric_at(metrics, "a.list.0") is None
    assert flatten_metrics(metrics) == {"a.b.c": 1.5, "a.list": "x;y", "r.s": "t"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        if data.strip():
            self.cells.append(data.strip())


def test_index_and_comparison_from_hand_made_metrics(tmp_path):
    reports = tmp_path / "reports"
    acme = reports / "acme" / "2025-04-01"
    acme.mkdir(parents=True)
    (acme / "index.html").write_text("x")
    (acme / "metrics.json").write_text(json.dumps({
        "report": {"as_of": "2025-04-01", "currency": "JPY"},
        "data_check": {"orders": 1234, "customers": 1000, "revenue": 9876543.0, "aov": 8003.68},
        "diagnosis": {"f2_conversion": {"90": {"rate": 0.3125}}},
    }))
    entries = [ClientEntry("acme", "ok", 12.34, acme),
               ClientEntry("broken", "failed", 0.5, None, "broken.csv: missing column ordered_at")]
    index, csv_path = write_index(entries, tmp_path / "out" / "index.html", lang="en")
    page = index.read_text(encoding="utf-8")
    parsed = _Links()
    parsed.feed(page)
    assert "../reports/acme/2025-04-01/index.html" in parsed.links  # relative: the folder can move
    assert (index.parent / "../reports/acme/2025-04-01/index.html").resolve() == (acme / "index.html").resolve()
    assert "index-comparison.csv" in parsed.links
    assert not [link for link in parsed.links if link.startswith(("http:", "https:", "//"))]
    # hand-formatted: 1,234 orders, ¥9,876,543 revenue, ¥8,004 AOV, 31.2% or 31.3% (half to even)
    for text in ("1,234", "1,000", "¥9,876,543", "¥8,004", "broken.csv: missing column ordered_at", "12.3 s"):
        assert text in parsed.cells, text
    assert "31.2%" in parsed.cells or "31.3%" in parsed.cells
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 and rows[0]["client"] == "acme"
    assert rows[0]["data_check.orders"] == "1234" and rows[0]["diagnosis.f2_conversion.90.rate"] == "0.3125"
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8


def test_progress_prints_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress(2, out, tty=False)
    progress.start()
    progress.update({"client": "a", "status": "ok", "seconds": 1.25, "error": None})
    progress.update({"client": "b", "status": "failed", "seconds": 0.5, "error": "b.csv: bad"})
    progress.close()
    assert out.getvalue().splitlines() == ["[1/2] a: ok in 1.2s", "[2/2] b: failed in 0.5s - b.csv: bad"]
    tty = io.StringIO()
    bar = Progress(2, tty, tty=True)
    bar.start()
    bar.update({"client": "a", "status": "ok", "seconds": 1.0, "error": None})
    assert "\r\033[K[1/2] a: ok in 1.0s\n[############------------] 1/2" in tty.getvalue()


def test_lock_is_quick_to_refuse(tmp_path):
    with ClientLock(tmp_path / ".x.lock", "x"):
        started = time.perf_counter()
        with pytest.raises(ClientBusyError):
            ClientLock(tmp_path / ".x.lock", "x").acquire()  # flock is per open file: refused in-process too
        assert time.perf_counter() - started < 1.0



def test_a_worker_killed_by_one_client_fails_only_that_client(tmp_path):
    from _worker_stub import die_or_finish

    from crmlib.batch import BatchTask, _local_results

    tasks = [BatchTask(i, f"{name}.yaml", name, str(tmp_path), str(tmp_path), str(tmp_path / f"{name}.log"))
             for i, name in enumerate(("a", "killer", "b", "c", "d"))]
    outcomes = {o["client"]: o for o in _local_results(tasks, 2, fn=die_or_finish)}
    assert sorted(outcomes) == ["a", "b", "c", "d", "killer"]
    assert outcomes["killer"]["status"] == "failed" and "worker process died" in outcomes["killer"]["error"]
    assert all(outcomes[name]["status"] == "ok" for name in "abcd")


def test_only_the_client_taken_when_none_waits_counts_as_the_last(tmp_path):
    from _worker_stub import took_last_client

    from crmlib.batch import BatchTask, _local_results

    tasks = [BatchTask(i, f"{name}.yaml", name, str(tmp_path), str(tmp_path), str(tmp_path / f"{name}.log"))
             for i, name in enumerate("abcde")]
    outcomes = {o["client"]: o["error"] for o in _local_results(tasks, 2, fn=took_last_client)}
    # exactly one, whichever worker got there last ('d' and 'e' may start in either order)
    assert sorted(outcomes.values()) == ["False"] * 4 + ["True"]


def test_outside_a_local_batch_no_client_is_the_last(monkeypatch):
    import crmlib.batch as batch

    monkeypatch.setattr(batch, "_unstarted", None)  # a Dask worker, or run_task called directly
    assert batch._took_last_client() is False


# ---- the lock never follows a link (issue #19 item 9) and works without fcntl (issue #18)

@pytest.mark.parametrize("where", ["reports/acme/.lock", "processed/.acme.lock"])
def test_a_symlinked_lock_is_refused_and_its_target_untouched(tmp_path, where):
    from crmlib.locks import LockPathError

    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.raises(LockPathError) as caught:
        ClientLock(path, "acme").acquire()
    assert target.read_text() == "precious\n"
    assert caught.value.exit_code == 2
    assert str(path) in str(caught.value) and "is a symbolic link" in str(caught.value)
    assert f"remove {path}" in str(caught.value)


def test_a_dangling_symlinked_lock_creates_nothing(tmp_path):
    from crmlib.locks import LockPathError

    path, target = tmp_path / ".acme.lock", tmp_path / "would-be-created"
    path.symlink_to(target)
    with pytest.raises(LockPathError):
        ClientLock(path, "acme").acquire()
    assert not target.exists()


def test_a_hard_linked_lock_is_refused(tmp_path):
    from crmlib.locks import LockPathError

    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    os.link(target, tmp_path / ".acme.lock")
    with pytest.raises(LockPathError, match="hard link"):
        ClientLock(tmp_path / ".acme.lock", "acme").acquire()
    assert target.read_text() == "precious\n"


def test_a_symlinked_lock_stops_run_with_exit_2(tmp_path, capsys):
    """Through the CLI: a clear message and exit 2 before anything is read or written."""
    from crmlib.cli import main

    (tmp_path / "orders.csv").write_text("order_id,customer_id,ordered_at,amount\nO1,C1,2024-01-01,100\n")
    (tmp_path / "acme.yaml").write_text("name: acme\ndata: orders.csv\n")
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    (tmp_path / "data" / "processed").mkdir(parents=True)
    (tmp_path / "data" / "processed" / ".acme.lock").symlink_to(target)
    code = main(["run", str(tmp_path / "acme.yaml"), "--data-dir", str(tmp_path / "data"),
                 "--reports-dir", str(tmp_path / "reports")])
    out = capsys.readouterr()
    assert code == 2, out
    assert "is a symbolic link" in out.err and "Traceback" not in out.err
    assert target.read_text() == "precious\n"
    assert not (tmp_path / "reports").exists()


def test_lock_does_not_need_fcntl(tmp_path, monkeypatch):
    """Windows has no fcntl: the lock module must not import it (filelock picks the primitive)."""
    import builtins
    import importlib

    import crmlib.locks

    real_import = builtins.__import__

    def no_fcntl(name, *args, **kwargs):
        if name == "fcntl":
            raise ImportError("no fcntl here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fcntl)
    monkeypatch.delitem(sys.modules, "fcntl", raising=False)
    try:
        module = importlib.reload(crmlib.locks)
        assert "fcntl" not in vars(module)
    finally:
        monkeypatch.undo()
        importlib.reload(crmlib.locks)


def test_first_error_line_redacts_examples():
    """The summary line leaves the client's log (index page, summary JSON): examples redacted."""
    message = "a.csv: 3 of 3 rows order dates cannot be read. Examples: line 2: 'taro@example.jp'\n  What to do: x"
    assert first_error_line(message) == "a.csv: 3 of 3 rows order dates cannot be read. Examples: line 2: '<e-mail>'"


def test_a_link_swapped_in_after_the_check_is_still_not_followed(tmp_path, monkeypatch):
    """The open itself refuses a link (O_NOFOLLOW), not only the is_symlink check before it."""
    from crmlib.locks import LockPathError

    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    path = tmp_path / ".acme.lock"
    path.symlink_to(target)
    monkeypatch.setattr(Path, "is_symlink", lambda self: False)  # the race: checked before the link appeared
    with pytest.raises(LockPathError, match="is a symbolic link"):
        ClientLock(path, "acme").acquire()
    assert target.read_text() == "precious\n"


def test_a_client_with_a_failed_chapter_links_its_new_report(tmp_path, monkeypatch):
    # the report was written with one chapter marked failed (exit 4): the batch counts the client
    # as failed but links the new report, not the previous one
    import crmlib.runs
    from crmlib.batch import BatchTask, run_task
    from crmlib.errors import ChapterFailed

    written = tmp_path / "reports" / "acme" / "2025-04-01"

    def partial(*args, **kwargs):
        raise ChapterFailed("chapter 03_ltv failed; the other chapters are in the report.", report=written,
                            chapters=("03_ltv",))

    monkeypatch.setattr(crmlib.runs, "run_client", partial)
    task = BatchTask(0, "acme.yaml", "acme", str(tmp_path), str(tmp_path / "reports"), str(tmp_path / "acme.log"),
                     warm=False)
    outcome = run_task(task)
    assert outcome["status"] == "failed" and outcome["report"] == str(written)
    assert "03_ltv" in outcome["error"]


def test_the_code_hash_covers_the_chapter_notebooks_not_the_workshop_one(tmp_path):
    from crmlib import fingerprint, registry

    for name in [*registry.chapter_names(), "workshop_simulator"]:
        (tmp_path / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    before = fingerprint.code_sha256(tmp_path)
    (tmp_path / "workshop_simulator.ipynb").write_text('{"cells": []}', encoding="utf-8")
    fingerprint.code_sha256.cache_clear()
    assert fingerprint.code_sha256(tmp_path) == before  # editing the workshop re-renders nothing
    (tmp_path / "03_ltv.ipynb").write_text('{"cells": []}', encoding="utf-8")
    fingerprint.code_sha256.cache_clear()
    assert fingerprint.code_sha256(tmp_path) != before
