"""Shared access to the canonical orders: DuckDB queries that return small pandas frames.

Every analysis reads orders through here, cut at the as-of date (orders on or after it are
ignored), so a report can be reproduced for any past date from the same Parquet file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from .cores import duckdb_threads
from .sql import sql_literal as _quote

if TYPE_CHECKING:
    import pyarrow as pa


def as_timestamp(as_of: dt.date | str) -> str:
    """The as-of date as a SQL timestamp literal (the cut is exclusive: orders before it)."""
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def orders_sql(orders_path: Path | str, as_of: dt.date | str | None = None) -> str:
    """A SQL subquery of the orders before as_of (all orders when as_of is None)."""
    base = f"SELECT * FROM read_parquet({_quote(str(orders_path))})"
    return base if as_of is None else f"{base} WHERE ordered_at < {as_timestamp(as_of)}"


# DuckDB's memory cap for the chapters (as for the ingest); above it, sorts, joins and aggregations
# spill to disk. 2 GB was too little for the 50M-customer base of a 100M-order file.
MEMORY_LIMIT = os.environ.get("CRM_DUCKDB_MEMORY", "3GB")


_DATABASES: dict[tuple, duckdb.DuckDBPyConnection] = {}


def remove_stale_spill(spill: Path) -> int:
    """Delete the spill files DuckDB left in `spill` when its process was killed (duckdb_temp_<pid>_...,
    the pid no longer running): a 100M-order chapter can leave 20 GB there. Returns how many."""
    removed = 0
    try:
        names = os.listdir(spill)
    except OSError:
        return 0
    for name in names:
        match = _SPILL_FILE.match(name)
        if not match or _running(int(match.group(1))):
            continue
        try:
            (spill / name).unlink()
            removed += 1
        except OSError:  # another process removed it first, or it is not ours to remove
            pass
    return removed


_SPILL_FILE = re.compile(r"duckdb_temp_(\d+)_")


def _running(pid: int) -> bool:
    """Whether a process with this id exists (any owner). On Windows always True: there os.kill
    ends the process it names, and DuckDB's open spill files cannot be deleted anyway."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _new_database(threads: int | None, spill: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database with the memory cap, the spill folder and the thread count."""
    remove_stale_spill(spill)
    database = duckdb.connect()
    database.execute(f"SET memory_limit = {_quote(MEMORY_LIMIT)}")
    database.execute("SET preserve_insertion_order = false")  # every query orders its own result
    # give the memory of a finished query back to the system: without it DuckDB's allocator keeps
    # up to its cap (3 GB at 50M customers) resident while pandas works on the result
    database.execute("SET allocator_background_threads = true")
    threads = threads or duckdb_threads()  # a batch's or a report's share of the cores (crmlib.cores)
    if threads:
        database.execute(f"SET threads = {int(threads)}")
    database.execute(f"SET temp_directory = {_quote(str(spill))}")
    return database


def _database(threads: int | None, spill: Path) -> duckdb.DuckDBPyConnection:
    """The process's database for these settings, made once: opening one costs about 30 ms of
    CPU, a session on it (a cursor) next to nothing, and a report opens dozens. Keyed by process
    id too: a database must not be used across fork()."""
    key = (os.getpid(), MEMORY_LIMIT, threads, str(spill))
    if key not in _DATABASES:
        _DATABASES[key] = _new_database(threads, spill)
    return _DATABASES[key]


def connect(threads: int | None = None, temp_dir: Path | str | None = None, *,
            fresh: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB session with a memory cap, spilling to temp_dir (default: the system's temporary
    folder, not the working directory) and no progress bar (notebook output stays clean).

    Sessions share one in-memory database per process and settings (temporary tables and
    registered frames stay private to a session; close it when done). fresh=True opens a
    database of its own: for a caller that changes a database-wide setting, or whose tables
    live long enough to deserve a memory cap of their own."""
    spill = Path(temp_dir) if temp_dir is not None else Path(tempfile.gettempdir()) / "crmlib-duckdb"
    con = _new_database(threads, spill) if fresh else _database(threads, spill).cursor()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:  # in a Jupyter kernel without ipywidgets: already no bar
        pass
    return con


def query(sql: str) -> pd.DataFrame:
    """Run one aggregate query in a fresh capped DuckDB session (see connect) and return pandas."""
    con = connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def query_stream(sql: str, batch_rows: int = 1_000_000) -> pd.DataFrame:
    """Run a query whose result is one row per customer and build pandas from streamed Arrow
    batches: DuckDB sorts and aggregates under its cap (spilling), and the result never has to
    fit in that cap, as it must for query() (50M customers are several GB). Columns must be
    VARCHAR, INTEGER, BIGINT, DOUBLE or TIMESTAMP without nulls (converted as query() would)."""
    import pyarrow as pa

    frame = query_arrow(sql, batch_rows).to_pandas(self_destruct=True)
    pa.default_memory_pool().release_unused()  # the freed Arrow batches: back to the system, not cached
    return frame


def query_arrow(sql: str, batch_rows: int = 1_000_000) -> pa.Table:
    """query_stream's Arrow table, for a caller that takes some columns (e.g. lists) apart first."""
    import pyarrow as pa

    con = connect()
    try:
        reader = con.sql(sql).to_arrow_reader(batch_rows)
        # each batch is copied into Arrow's own memory as it arrives: DuckDB's allocator then reuses
        # one batch's memory for the next, where it kept the whole result resident after it was
        # freed (at 5M customers 260 MB more after the conversion to pandas)
        memory = pa.default_cpu_memory_manager()
        return pa.Table.from_batches([batch.copy_to(memory) for batch in reader], schema=reader.schema)
    finally:
        con.close()


def customer_summary(orders_path: Path | str, as_of: dt.date | str) -> pd.DataFrame:
    """One row per customer: first/second/last order, orders, revenue, recency, tenure, firsts.

    recency_days = days from the last order's date to as_of; tenure_days = days from the first
    to the last order's date; first_* = channel, category, source and region of the first order.
    """
    src = orders_sql(orders_path, as_of)
    asof = as_timestamp(as_of)
    return query(f"""
        SELECT customer_id,
               min(ordered_at) AS first_order,
               min(ordered_at, 2)[2] AS second_order,
               max(ordered_at) AS last_order,
               count(*) AS orders,
               sum(amount) AS revenue,
               date_diff('day', CAST(max(ordered_at) AS DATE), CAST({asof} AS DATE)) AS recency_days,
               date_diff('day', CAST(min(ordered_at) AS DATE), CAST(max(ordered_at) AS DATE)) AS tenure_days,
               arg_min(channel, ordered_at) AS first_channel,
               arg_min(category, ordered_at) AS first_category,
               arg_min(source, ordered_at) AS first_source,
               arg_min(region, ordered_at) AS first_region
        FROM ({src})
        GROUP BY customer_id
        ORDER BY customer_id
    """)
