"""The CPU cores a run may use, and DuckDB's threads per process when several processes share them
(a batch's workers, a report's parallel kernels): one database per process each starting a thread
per core on small data spends CPU on waking and scheduling threads that the other processes needed.
"""

from __future__ import annotations

import os

from .errors import ConfigError

THREADS_ENV = "CRM_DUCKDB_THREADS"


def usable_cores() -> int:
    """The CPU cores this process may use (its affinity mask on Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def duckdb_threads() -> int | None:
    """The threads a new DuckDB database gets: CRM_DUCKDB_THREADS when set (by the user, or by a
    batch or a report for the processes it starts), else None: DuckDB's default, one per core."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{THREADS_ENV}={value!r} is not a number of threads (a whole number, 1 or more). "
                          f"What to do: unset it, or set e.g. {THREADS_ENV}=1")
    return int(value)


def shared_threads(processes: int) -> dict[str, str]:
    """The environment that gives each of `processes` processes running at once an equal share of
    the cores for DuckDB (at least one thread); empty when one process has them all or the user
    set CRM_DUCKDB_THREADS."""
    if processes <= 1 or os.environ.get(THREADS_ENV, "").strip():
        return {}
    return {THREADS_ENV: str(max(1, usable_cores() // processes))}


__all__ = ["THREADS_ENV", "duckdb_threads", "shared_threads", "usable_cores"]
