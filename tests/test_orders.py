"""customer_summary on a hand-made order file; expected values worked out by hand."""

from __future__ import annotations

import os

import pandas as pd

from crmlib.orders import customer_summary


def test_customer_summary_by_hand(tmp_path):
    orders = pd.DataFrame({
        "order_id": ["1", "2", "3", "4", "5"],
        "customer_id": ["A", "A", "A", "B", "B"],
        "ordered_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-31 09:00", "2024-03-01 12:00",
                                      "2024-02-15 08:00", "2024-04-02 00:00"]),
        "amount": [1000.0, 2000.0, 500.0, 3000.0, 9999.0],
        "channel": ["web", "app", "web", "store", "web"],
        "category": ["食品", "雑貨", "食品", "雑貨", "食品"],
        "source": ["ads", None, None, "store", None],
        "region": ["東京都", "東京都", "東京都", "大阪府", "大阪府"],
    })
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path)
    s = customer_summary(path, "2024-04-01").set_index("customer_id")  # order 5 is after as-of
    assert s.loc["A", "orders"] == 3 and s.loc["A", "revenue"] == 3500
    assert s.loc["A", "recency_days"] == 31  # 2024-03-01 -> 2024-04-01
    assert s.loc["A", "tenure_days"] == 60  # 2024-01-01 -> 2024-03-01 (leap year)
    assert str(s.loc["A", "second_order"]) == "2024-01-31 09:00:00"
    assert s.loc["A", "first_channel"] == "web" and s.loc["A", "first_source"] == "ads"
    assert s.loc["B", "orders"] == 1 and s.loc["B", "revenue"] == 3000
    assert pd.isna(s.loc["B", "second_order"])
    assert s.loc["B", "recency_days"] == 46 and s.loc["B", "first_category"] == "雑貨"


def test_sessions_share_a_capped_database_but_not_their_tables():
    import duckdb
    import pytest

    from crmlib.orders import MEMORY_LIMIT, connect

    first, second = connect(), connect()
    try:
        first.execute("CREATE TEMP TABLE mine AS SELECT 1 AS x")
        with pytest.raises(duckdb.CatalogException):
            second.execute("SELECT * FROM mine")
        limit = second.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # DuckDB shows the cap in its own units (3GB -> "2.7 GiB"): compare bytes within 5%
        expected = {"GB": 1e9, "MB": 1e6}[MEMORY_LIMIT[-2:].upper()] * float(MEMORY_LIMIT[:-2])
        shown, unit = limit.split()
        assert abs(float(shown) * {"GiB": 2**30, "MiB": 2**20}[unit] - expected) < 0.05 * expected
        # a fresh database's own settings do not reach the shared one
        own = connect(fresh=True)
        own.execute("SET preserve_insertion_order = true")
        assert second.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is False
        own.close()
    finally:
        first.close()
        second.close()
    again = connect()  # closing sessions leaves the database usable
    assert again.execute("SELECT 41 + 1").fetchone()[0] == 42
    again.close()


def test_spill_files_of_dead_processes_are_removed(tmp_path) -> None:
    # a kernel killed mid-query leaves duckdb_temp_<pid>_... behind (20 GB after a 100M-order
    # chapter failed); a new database removes those of processes that no longer run, and only those
    import subprocess
    import sys

    from crmlib.orders import connect

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)  # exited: no process has this id now (unless reused within this test)
    spill = tmp_path / "spill"
    spill.mkdir()
    stale = spill / f"duckdb_temp_{dead_pid}_0_storage_S64K-0.tmp"
    alive = spill / f"duckdb_temp_{os.getpid()}_0_storage_S64K-0.tmp"
    other = spill / "notes.txt"
    for path in (stale, alive, other):
        path.write_bytes(b"x")
    con = connect(temp_dir=spill, fresh=True)
    con.close()
    assert not stale.exists() and alive.exists() and other.exists()
