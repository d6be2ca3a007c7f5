"""DuckDB's threads when processes share the cores (crmlib.cores): a batch's workers and a report's
parallel kernels each get their share; the user's CRM_DUCKDB_THREADS wins; a bad value is an
actionable error, not a traceback from DuckDB."""

from __future__ import annotations

import pytest

from crmlib import cores
from crmlib.errors import ConfigError


def _threads(con) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


def test_the_threads_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(cores.THREADS_ENV, raising=False)
    assert cores.duckdb_threads() is None
    monkeypatch.setenv(cores.THREADS_ENV, " 3 ")
    assert cores.duckdb_threads() == 3
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv(cores.THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=r"CRM_DUCKDB_THREADS=.* is not a number of threads.*What to do"):
            cores.duckdb_threads()


def test_each_process_gets_an_equal_share_of_at_least_one(monkeypatch):
    monkeypatch.delenv(cores.THREADS_ENV, raising=False)
    monkeypatch.setattr(cores, "usable_cores", lambda: 4)
    assert cores.shared_threads(1) == {}  # one process: DuckDB's default, a thread per core
    assert cores.shared_threads(2) == {"CRM_DUCKDB_THREADS": "2"}
    assert cores.shared_threads(3) == {"CRM_DUCKDB_THREADS": "1"}
    assert cores.shared_threads(8) == {"CRM_DUCKDB_THREADS": "1"}
    monkeypatch.setenv(cores.THREADS_ENV, "4")  # the user's setting is left alone
    assert cores.shared_threads(2) == {}


def test_the_chapters_and_the_ingest_databases_take_the_setting(monkeypatch, tmp_path):
    from crmlib import ingest, orders

    monkeypatch.setenv(cores.THREADS_ENV, "1")
    assert _threads(orders.connect(fresh=True, temp_dir=tmp_path)) == 1
    assert _threads(ingest.connect()) == 1
    monkeypatch.setenv(cores.THREADS_ENV, "3")
    assert _threads(orders.connect(fresh=True, temp_dir=tmp_path)) == 3
    assert _threads(orders.connect(2, fresh=True, temp_dir=tmp_path)) == 2  # a caller's own count wins


def test_batch_workers_share_the_cores(monkeypatch, tmp_path):
    from _worker_stub import duckdb_threads_seen

    from crmlib.batch import BatchTask, _local_results

    monkeypatch.delenv(cores.THREADS_ENV, raising=False)
    tasks = [BatchTask(i, f"{name}.yaml", name, str(tmp_path), str(tmp_path), str(tmp_path / f"{name}.log"))
             for i, name in enumerate("abc")]
    seen = {o["client"]: o["error"] for o in _local_results(tasks, 2, fn=duckdb_threads_seen)}
    assert seen == {name: str(max(1, cores.usable_cores() // 2)) for name in "abc"}
